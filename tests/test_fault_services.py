"""The private servers used by fault tests really start and stop."""
import redis
import sqlalchemy as sa

from tests.fault_services import PrivatePostgres, PrivateRedis


def test_private_redis_stops_and_restarts():
    server = PrivateRedis().start()
    try:
        client = redis.Redis.from_url(server.url, socket_timeout=0.5)
        assert client.ping()
        server.stop()
        try:
            client.ping()
            raised = False
        except redis.exceptions.ConnectionError:
            raised = True
        assert raised
        server.start()
        assert client.ping()
    finally:
        server.stop()


def test_private_postgres_stops_and_restarts():
    server = PrivatePostgres().init().start()
    try:
        engine = sa.create_engine(server.url, pool_pre_ping=True)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        server.stop()
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            raised = False
        except sa.exc.OperationalError:
            raised = True
        assert raised
        server.start()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        engine.dispose()
    finally:
        server.destroy()
