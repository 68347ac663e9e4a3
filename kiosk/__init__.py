"""Kiosk: paid priority queueing. ``create_app`` is the only entry point."""
from __future__ import annotations

import logging

from flask import Flask

from kiosk.config import build_config

log = logging.getLogger(__name__)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(build_config(app.instance_path, config))
    from kiosk.observability.logging import configure_logging

    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    from kiosk.errors import register_errorhandlers

    register_errorhandlers(app)
    from kiosk.commands import register_commands

    register_commands(app)
    announce_mode(app)
    return app


def register_extensions(app: Flask) -> None:
    from kiosk import extensions as ext
    from kiosk.auth.access import init_auth
    from kiosk.i18n import init_i18n
    from kiosk.observability import init_observability
    from kiosk.security import init_security
    from kiosk.tasks import celery_init_app
    from kiosk.tenancy import init_tenancy

    import kiosk.models  # noqa: F401 - registers every table on the metadata

    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=str(app.config.get("MIGRATIONS_DIR", "migrations")))
    ext.redis_client.init_app(app)
    ext.sock.init_app(app)
    init_i18n(app)
    init_auth(app)
    init_security(app)
    init_tenancy(app)
    init_observability(app)
    celery_init_app(app)


def register_blueprints(app: Flask) -> None:
    from kiosk.auth.routes import bp as auth_bp
    from kiosk.dashboard.routes import bp as dashboard_bp
    from kiosk.devices.routes import api_bp as devices_api_bp
    from kiosk.devices.routes import iot_bp
    from kiosk.display.routes import bp as display_bp
    from kiosk.observability.routes import bp as observability_bp
    from kiosk.payments.routes import bp as payments_bp
    from kiosk.queues.routes import bp as queues_bp
    from kiosk.stats.routes import bp as stats_bp

    for blueprint in (auth_bp, iot_bp, devices_api_bp, payments_bp, queues_bp,
                      display_bp, stats_bp, dashboard_bp, observability_bp):
        app.register_blueprint(blueprint)


def announce_mode(app: Flask) -> None:
    db_mode = "embedded SQLite" if app.config["EMBEDDED_DATABASE"] else "DATABASE_URL"
    redis_mode = ("in-process Redis stand-in, Celery tasks run in-process"
                  if app.config["EMBEDDED_REDIS"] else "REDIS_URL, Celery worker")
    log.info("kiosk starting: database=%s; redis=%s; env=%s", db_mode, redis_mode, app.config["KIOSK_ENV"])
