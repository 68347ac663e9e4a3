"""Admin CLI. Each command prints JSON on stdout, for operators and tests."""
from __future__ import annotations

import json
from pathlib import Path

import click
import sqlalchemy as sa
from cryptography.fernet import Fernet, MultiFernet
from flask import Flask, current_app
from flask.cli import with_appcontext

from kiosk.auth import services as auth_services
from kiosk.devices.models import Device
from kiosk.devices.services import register_device
from kiosk.devices.simulator import simulate_device_command
from kiosk.display.services import create_display
from kiosk.establishments.services import create_establishment
from kiosk.extensions import db
from kiosk.queues.services import create_queue
from kiosk.single_process import instance_in_use
from kiosk.sitedata import SiteDataError, backup, export, import_, restore
from kiosk.tenancy import system_scope, tenant_scope


def _echo(data: dict) -> None:
    click.echo(json.dumps(data, default=str, indent=2))


@click.command("create-establishment")
@click.option("--name", required=True)
@click.option("--timezone", "tz", required=True)
@click.option("--currency", required=True)
@click.option("--vip-price", required=True, type=int)
@click.option("--locale", default="fr", type=click.Choice(["fr", "en"]))
def create_establishment_command(name, tz, currency, vip_price, locale):
    establishment = create_establishment(name, tz, currency.upper(), vip_price, locale)
    _echo({"id": establishment.id, "name": establishment.name, "slug": establishment.slug,
           "timezone": establishment.timezone, "currency": establishment.currency,
           "vip_price": establishment.vip_price})


@click.command("create-user")
@click.option("--establishment", "establishment_id", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(["manager", "agent"]))
def create_user_command(establishment_id, email, password, role):
    user = auth_services.create_user(establishment_id, email, password, role)
    _echo({"id": user.id, "establishment_id": user.establishment_id, "email": user.email, "role": user.role})


DEMO_PASSWORD = "demo-password"


@click.command("seed-demo")
@click.option("--base-url", default="http://127.0.0.1:5000")
def seed_demo_command(base_url):
    """Create a demo establishment with staff, two queues, a kiosk and a TV."""
    _echo(seed_demo(base_url))


def seed_demo(base_url: str) -> dict:
    establishment = create_establishment(
        "Clinique du Plateau", "Africa/Abidjan", "XOF", 500, "fr")
    suffix = establishment.slug
    manager = auth_services.create_user(establishment.id, f"manager@{suffix}.demo", DEMO_PASSWORD, "manager")
    agent = auth_services.create_user(establishment.id, f"agent@{suffix}.demo", DEMO_PASSWORD, "agent")
    with tenant_scope(establishment.id):
        general = create_queue("Consultations", "A")
        pharmacy = create_queue("Pharmacie", "P")
        device, secret_key = register_device("Borne de l'entrée", general.id)
        display = create_display("Salle d'attente")
        return {
            "establishment": {"id": establishment.id, "name": establishment.name},
            "logins": {
                "manager": {"email": manager.email, "password": DEMO_PASSWORD},
                "agent": {"email": agent.email, "password": DEMO_PASSWORD},
            },
            "queues": [{"id": q.id, "name": q.name, "prefix": q.prefix} for q in (general, pharmacy)],
            "device": {"device_id": device.device_id, "secret_key": secret_key, "queue_id": general.id},
            "display": {"id": display.id, "url": f"{base_url}/display/{display.token}"},
            "urls": {"dashboard": f"{base_url}/dashboard", "login": f"{base_url}/login",
                     "health": f"{base_url}/health"},
        }


@click.command("rotate-device-keys")
@with_appcontext
def rotate_device_keys_command():
    """Re-encrypt every device secret with the newest DEVICE_SECRET_KEYS key.

    Run after putting a new key first in DEVICE_SECRET_KEYS (old keys kept);
    once it reports done, the old keys can be removed. Idempotent.
    """
    fernet = MultiFernet([Fernet(k) for k in current_app.config["DEVICE_SECRET_KEYS"]])
    rotated = 0
    with system_scope():
        for device in db.session.execute(sa.select(Device)).scalars():
            device.secret_encrypted = fernet.rotate(device.secret_encrypted.encode()).decode()
            if device.previous_secret_encrypted:
                device.previous_secret_encrypted = fernet.rotate(device.previous_secret_encrypted.encode()).decode()
            rotated += 1
        db.session.commit()
    _echo({"rotated": rotated, "keys": len(current_app.config["DEVICE_SECRET_KEYS"])})


def _site_data(action):
    try:
        return action()
    except SiteDataError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(path):
    """Copy the embedded SQLite database to PATH, consistently, while the site runs.

    On Postgres it refuses and points to pg_dump.
    """
    _echo(_site_data(lambda: backup(current_app, path)))


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def restore_command(path):
    """Replace the embedded SQLite database with the backup at PATH (site stopped).

    Refuses, changing nothing, a file of another schema version or a running site.
    """
    app = current_app._get_current_object()
    _echo(_site_data(lambda: restore(app, path, site_running=lambda: instance_in_use(app))))


@click.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def export_command(path):
    """Write every row of every establishment to PATH (versioned JSON Lines)."""
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            summary = _site_data(lambda: export(current_app, out))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    _echo({"export": str(target), **summary})


@click.command("import")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@with_appcontext
def import_command(path):
    """Load an export into this empty, migrated database, keeping every id (one transaction)."""
    _echo(_site_data(lambda: import_(current_app, path)))


def register_commands(app: Flask) -> None:
    for command in (create_establishment_command, create_user_command, seed_demo_command,
                    rotate_device_keys_command, backup_command, restore_command, export_command,
                    import_command):
        app.cli.add_command(command)
    app.cli.add_command(simulate_device_command)
