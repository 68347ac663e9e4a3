"""Kiosk: paid priority queueing. ``create_app`` is the only entry point."""
from __future__ import annotations

import logging

from flask import Flask

from kiosk.config import build_config

log = logging.getLogger(__name__)


def create_app(config: dict | None = None) -> Flask:
    # Front-end sources live in frontend/ and are served as /static/.
    app = Flask(__name__, instance_relative_config=True, static_folder="../frontend", static_url_path="/static")
    app.config.update(build_config(app.instance_path, config))
    from kiosk.observability.logging import configure_logging

    configure_logging(app)
    from kiosk.single_process import claim_single_process

    claim_single_process(app)
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
    from kiosk.database import init_database
    from kiosk.i18n import init_i18n
    from kiosk.observability import init_observability
    from kiosk.security import init_security
    from kiosk.tasks import celery_init_app
    from kiosk.tenancy import init_tenancy

    import kiosk.models  # noqa: F401 - registers every table on the metadata

    ext.db.init_app(app)
    init_database(app)
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
    """Each domain's routes module lists its blueprints in ``blueprints``."""
    import importlib

    for domain in ("auth", "devices", "payments", "queues", "display", "stats", "dashboard", "observability"):
        module = importlib.import_module(f"kiosk.{domain}.routes")
        for blueprint in getattr(module, "blueprints", [module.bp] if hasattr(module, "bp") else []):
            app.register_blueprint(blueprint)


def announce_mode(app: Flask) -> None:
    db_mode = "embedded SQLite" if app.config["EMBEDDED_DATABASE"] else "DATABASE_URL"
    redis_mode = ("in-process Redis stand-in, Celery tasks run in-process"
                  if app.config["EMBEDDED_REDIS"] else "REDIS_URL, Celery worker")
    log.info("kiosk starting: database=%s; redis=%s; env=%s", db_mode, redis_mode, app.config["KIOSK_ENV"])
