"""The app factory: every part of the package, wired together.

The package reads in layers (docs/architecture.md): a core that knows no
domain (base, config, extensions, errors, tenancy, cache, events, security,
observability), the domains in one order (auth -> establishments -> queues,
devices -> payments -> display, stats -> dashboard), and this module on top.
"""
from __future__ import annotations

import logging

from flask import Flask

from kiosk import cache, events
from kiosk import extensions as ext
from kiosk import models  # noqa: F401 - registers every table on the metadata
from kiosk.auth import routes as auth_routes
from kiosk.auth.access import init_auth
from kiosk.commands import register_commands
from kiosk.config import build_config
from kiosk.dashboard import routes as dashboard_routes
from kiosk.database import init_database
from kiosk.devices import cache as device_cache
from kiosk.devices import routes as devices_routes
from kiosk.display import bus as display_bus
from kiosk.display import metrics as display_metrics
from kiosk.display import routes as display_routes
from kiosk.display import services as display_services
from kiosk.display import tokens as display_tokens
from kiosk.errors import register_errorhandlers
from kiosk.establishments import routes as establishments_routes
from kiosk.i18n import init_i18n
from kiosk.observability.request_log import init_observability
from kiosk.observability import metrics as observability_metrics
from kiosk.observability import routes as observability_routes
from kiosk.observability.logging import configure_logging
from kiosk.payments import metrics as payments_metrics
from kiosk.payments import polls as payment_polls
from kiosk.payments import routes as payments_routes
from kiosk.queues import metrics as queues_metrics
from kiosk.queues import routes as queues_routes
from kiosk.security import init_security
from kiosk.single_process import claim_single_process
from kiosk.stats import routes as stats_routes
from kiosk.tasks import celery_init_app
from kiosk.tenancy import init_tenancy

log = logging.getLogger(__name__)

BLUEPRINT_MODULES = (auth_routes, establishments_routes, devices_routes, payments_routes, queues_routes,
                     display_routes, stats_routes, dashboard_routes, observability_routes)


def create_app(config: dict | None = None) -> Flask:
    # Front-end sources live in frontend/ and are served as /static/.
    app = Flask(__name__, instance_relative_config=True, static_folder="../frontend", static_url_path="/static")
    app.config.update(build_config(app.instance_path, config))
    configure_logging(app)
    claim_single_process(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_subscribers()
    announce_mode(app)
    return app


def register_extensions(app: Flask) -> None:
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
    """Each domain's routes module lists its blueprints in ``blueprints`` (or has one ``bp``)."""
    for module in BLUEPRINT_MODULES:
        for blueprint in getattr(module, "blueprints", [module.bp] if hasattr(module, "bp") else []):
            app.register_blueprint(blueprint)


def register_subscribers() -> None:
    """Side effects follow the domain events; the order is the order they run after a commit."""
    events.subscribe(cache.drop_stale_entries)
    # Tokens forgotten before the open sockets are dropped, so a dropped TV cannot reconnect from a cache.
    events.subscribe(display_tokens.forget, events.DisplayRevoked)
    events.subscribe(display_bus.broadcast)
    events.subscribe(observability_metrics.count_payment, events.PaymentReceived, events.PaymentSettled)
    events.subscribe(device_cache.forget, events.DeviceChanged)
    events.subscribe(payment_polls.drop_settled, events.PaymentSettled)
    events.subscribe(display_services.forget_poll_token, events.DisplayRevoked)
    for gauges in (payments_metrics.gauges, queues_metrics.gauges, display_metrics.gauges):
        observability_metrics.register_state_gauges(gauges)


def announce_mode(app: Flask) -> None:
    db_mode = "embedded SQLite" if app.config["EMBEDDED_DATABASE"] else "DATABASE_URL"
    redis_mode = ("in-process Redis stand-in, Celery tasks run in-process"
                  if app.config["EMBEDDED_REDIS"] else "REDIS_URL, Celery worker")
    log.info("kiosk starting: database=%s; redis=%s; env=%s", db_mode, redis_mode, app.config["KIOSK_ENV"])
