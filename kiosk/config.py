"""Settings from the environment, in one place.

Each backing service falls back on its own embedded default: no DATABASE_URL
means a SQLite file in the instance folder, no REDIS_URL means an in-process
Redis stand-in and eager Celery tasks. Only KIOSK_ENV=production turns a
missing secret into a start-up failure.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from kombu import Queue as KombuQueue

log = logging.getLogger(__name__)


# The Celery broker queue of the payments' queue events (the default one, "celery", has the payments).
QUEUE_EVENTS = "queue-events"


class ConfigError(RuntimeError):
    pass


def normalise_database_url(url: str) -> str:
    # SQLAlchemy maps bare postgresql:// to psycopg 3 in 2.1; we ship psycopg2.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def _dev_secrets(instance_path: str) -> dict:
    """Development secrets, generated once and kept in the instance folder."""
    path = Path(instance_path) / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "SECRET_KEY": secrets.token_hex(32),
        "DEVICE_SECRET_KEYS": Fernet.generate_key().decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    log.warning("generated development secrets in %s (never use them in production)", path)
    return values


def _engine_options(database_url: str) -> dict:
    options: dict = {"pool_pre_ping": True}
    if database_url.startswith("postgresql"):
        # A database that hangs (host gone, not refusing) fails a request in
        # seconds (503) instead of holding a worker for the OS TCP timeout.
        options["connect_args"] = {"connect_timeout": int(os.environ.get("DB_CONNECT_TIMEOUT", "3"))}
        # A gevent worker runs many requests at once. With SQLAlchemy's
        # default of 5 kept connections, a burst opened and closed overflow
        # connections (a Postgres backend each, plus SET ROLE): checkouts
        # took 100-480 ms in the load test. Keep more; Postgres' default
        # max_connections (100) must cover web workers x (size + overflow)
        # plus the Celery worker (docs/operations.md).
        options["pool_size"] = int(os.environ.get("DB_POOL_SIZE", "20"))
        options["max_overflow"] = int(os.environ.get("DB_MAX_OVERFLOW", "10"))
    return options


def build_config(instance_path: str, overrides: dict | None = None) -> dict:
    env = os.environ
    overrides = overrides or {}
    kiosk_env = overrides.get("KIOSK_ENV", env.get("KIOSK_ENV", "development"))
    production = kiosk_env == "production"

    def secret(name: str) -> str:
        value = overrides.get(name) or env.get(name)
        if value:
            return value
        if production:
            raise ConfigError(f"{name} must be set when KIOSK_ENV=production")
        return _dev_secrets(instance_path)[name]

    database_url = overrides.get("DATABASE_URL") or env.get("DATABASE_URL")
    embedded_db = not database_url
    if embedded_db:
        database_url = "sqlite:///" + str(Path(instance_path) / "kiosk.sqlite3")
    database_url = normalise_database_url(database_url)
    redis_url = overrides.get("REDIS_URL", env.get("REDIS_URL")) or None
    # Tasks run in-process without Redis; tests may also ask for it explicitly.
    eager = overrides.get("CELERY_TASK_ALWAYS_EAGER",
                          env.get("KIOSK_CELERY_EAGER", "1" if redis_url is None else "0") == "1")

    config = {
        "KIOSK_ENV": kiosk_env,
        "SECRET_KEY": secret("SECRET_KEY"),
        "DEVICE_SECRET_KEYS": [k.strip() for k in secret("DEVICE_SECRET_KEYS").split(",") if k.strip()],
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_url),
        "EMBEDDED_DATABASE": embedded_db,
        "REDIS_URL": redis_url,
        "EMBEDDED_REDIS": redis_url is None,
        # Postgres role the app runs as, so row-level security applies to it.
        "DB_APP_ROLE": env.get("DB_APP_ROLE", "kiosk_app"),
        "SENTRY_DSN": env.get("SENTRY_DSN"),
        "RELEASE": env.get("KIOSK_RELEASE", "dev"),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", ""),
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "JSON_SORT_KEYS": False,
        # JWT: bearer for the API, HttpOnly cookie with CSRF for the dashboard.
        "JWT_SECRET_KEY": overrides.get("JWT_SECRET_KEY") or secret("SECRET_KEY"),
        "JWT_TOKEN_LOCATION": ["headers", "cookies"],
        "JWT_ACCESS_TOKEN_EXPIRES": int(env.get("JWT_EXPIRES_SECONDS", 8 * 3600)),
        "JWT_COOKIE_SECURE": production,
        "JWT_COOKIE_SAMESITE": "Lax",
        "JWT_COOKIE_CSRF_PROTECT": True,
        "JWT_SESSION_COOKIE": False,
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_SUPPORTED_LOCALES": ["fr", "en"],
        "RATELIMIT_ENABLED": env.get("RATELIMIT_ENABLED", "1") != "0",
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_STRATEGY": "moving-window",
        # Loose per-IP ceiling before authentication (a whole NAT'd fleet shares an IP).
        "RATELIMIT_DEFAULT": env.get("RATELIMIT_IP_DEFAULT", "3000/minute"),
        # Off: flask-limiter would put Retry-After on every response (and its
        # X-RateLimit-* would describe only the loose per-IP ceiling). Only 429
        # and 503 carry Retry-After (kiosk.security strips it elsewhere).
        "RATELIMIT_HEADERS_ENABLED": env.get("RATELIMIT_HEADERS_ENABLED", "0") == "1",
        "RATELIMIT_SWALLOW_ERRORS": True,
        "METRICS_TOKEN": env.get("METRICS_TOKEN", ""),
        # Password hashes per web process at once, how many may wait, and their
        # threads' nice value (kiosk/auth/hashing.py; 0 threads: unbounded, as before).
        "PASSWORD_HASH_THREADS": int(env.get("PASSWORD_HASH_THREADS", "1")),
        "PASSWORD_HASH_QUEUE": int(env.get("PASSWORD_HASH_QUEUE", "32")),
        "PASSWORD_HASH_NICE": int(env.get("PASSWORD_HASH_NICE", "0")),
        # Fault-test hook, never honoured in production: hold each payment's
        # processing transaction open this long (the SIGKILL-mid-payment test).
        # Comma-separated networks allowed to scrape /metrics without the token.
        "METRICS_ALLOWED_NETWORKS": env.get("METRICS_ALLOWED_NETWORKS", ""),
        # Reverse proxies in front of the app (X-Forwarded-For/-Proto/-Host trusted
        # from that many hops); 0 = none, headers ignored.
        "TRUSTED_PROXY_COUNT": int(env.get("TRUSTED_PROXY_COUNT", "0")),
        "FORCE_HTTPS": env.get("FORCE_HTTPS", "1" if production else "0") == "1",
        # 1: the payment worker publishes each payment's queue event itself, one
        # recomputation per payment (before issue 18); the benchmark's "before".
        "QUEUE_EVENTS_INLINE": env.get("QUEUE_EVENTS_INLINE", "0") == "1",
        "CELERY": {
            "broker_url": redis_url or "memory://",
            "result_backend": None,
            "task_ignore_result": True,
            "task_always_eager": bool(eager),
            "task_eager_propagates": False,
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            # Payments' coalesced queue events (kiosk/queues/services.py) have a
            # broker queue of their own. A worker started without -Q consumes every
            # queue listed here; one started with -Q must name both.
            "task_queues": (KombuQueue("celery", routing_key="celery"),
                            KombuQueue(QUEUE_EVENTS, routing_key=QUEUE_EVENTS)),
            "task_routes": {"queues.publish_waiting_list": {"queue": QUEUE_EVENTS}},
            # Longer than the longest retry countdown, so a reserved but
            # unacked task is not redelivered while it is legitimately waiting.
            "broker_transport_options": {"visibility_timeout": 3600},
            "broker_connection_retry_on_startup": True,
            "beat_schedule": {
                "sweep-pending-payments": {"task": "payments.sweep_pending", "schedule": 30.0},
                # Shorter than the stats TTL (300 s): quiet establishments' dashboards stay warm.
                "warm-stats": {"task": "stats.warm_up", "schedule": 240.0},
                # Each establishment's day closes in its own time zone; a minute late at most.
                "close-service-days": {"task": "queues.expire_closed_days", "schedule": 60.0},
            },
        },
    }
    # Environment-style keys were read above; the rest override settings as-is.
    env_style = {"DATABASE_URL", "REDIS_URL", "DEVICE_SECRET_KEYS", "CELERY_TASK_ALWAYS_EAGER"}
    config.update({k: v for k, v in overrides.items() if k not in env_style})
    return config
