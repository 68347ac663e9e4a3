"""Unbound extension instances, each init_app'd by the factory."""
from __future__ import annotations

from typing import Any

import redis
from flask import Flask, g, request
from flask_babel import Babel
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class RedisClient:
    """The app's Redis: a real client when REDIS_URL is set, else fakeredis.

    Short timeouts so a Redis outage degrades a request quickly instead of
    hanging it; callers decide whether an outage is fatal (nonces) or not
    (cache, pub/sub).
    """

    def __init__(self) -> None:
        self._client: redis.Redis | None = None
        self.embedded = False

    def init_app(self, app: Flask) -> None:
        url = app.config.get("REDIS_URL")
        if url:
            self._client = redis.Redis.from_url(
                url, socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=30,
            )
            self.embedded = False
        else:
            import fakeredis

            self._client = fakeredis.FakeRedis()
            self.embedded = True
        app.extensions["redis"] = self

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            raise RuntimeError("redis extension is not initialised")
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def rate_limit_key() -> str:
    """Per verified identity (device or user); falls back to the client IP."""
    identity = getattr(g, "rate_limit_identity", None)
    return identity or f"ip:{get_remote_address()}"


# Rows stay readable after commit: a refresh outside the tenant scope that
# loaded them would be (rightly) refused by RLS.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
jwt = JWTManager()
babel = Babel()
limiter = Limiter(key_func=rate_limit_key, default_limits=[])
talisman = Talisman()
sock = Sock()
redis_client = RedisClient()
