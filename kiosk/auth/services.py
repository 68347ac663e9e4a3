"""Establishments, users and login. Every rule about accounts lives here."""
from __future__ import annotations

import re
import unicodedata
import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from babel.numbers import get_currency_precision, list_currencies
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import create_access_token
from marshmallow import ValidationError

from kiosk.auth.models import Establishment, User
from kiosk.errors import ApiError
from kiosk.extensions import db
from kiosk.tenancy import system_scope, tenant_scope

# Checked against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = None


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "establishment"


def create_establishment(name: str, timezone: str, currency: str, vip_price: int,
                         locale: str = "fr") -> Establishment:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError({"timezone": ["Unknown IANA time zone."]}) from None
    if currency not in list_currencies():
        raise ValidationError({"currency": ["Unknown ISO 4217 currency."]})
    with system_scope():
        base = slugify(name)
        slug, n = base, 1
        while db.session.scalar(sa.select(Establishment.id).where(Establishment.slug == slug)):
            n += 1
            slug = f"{base}-{n}"
        establishment = Establishment(name=name, slug=slug, timezone=timezone, currency=currency,
                                      vip_price=vip_price, locale=locale, theme={}, opening_hours={})
        db.session.add(establishment)
        db.session.commit()
    return establishment


def currency_minor_digits(currency: str) -> int:
    return get_currency_precision(currency)


def create_user(establishment_id, email: str, password: str, role: str) -> User:
    email = email.strip().lower()
    with system_scope():
        if db.session.scalar(sa.select(User.id).where(User.email == email)):
            raise ApiError(409, "email_taken", _l("This email is already in use."))
        if db.session.get(Establishment, uuid.UUID(str(establishment_id))) is None:
            raise ApiError(404, "not_found", _l("Not found."))
    with tenant_scope(establishment_id):
        user = User(email=email, role=role)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
    return user


def authenticate(email: str, password: str) -> dict:
    """Return the token body for good credentials.

    :raise ApiError 401 invalid_credentials: wrong password or unknown email,
        answered the same way and in about the same time.
    """
    global _DUMMY_HASH
    email = email.strip().lower()
    with system_scope():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
        establishment = db.session.get(Establishment, user.establishment_id) if user else None
    if user is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = User(email="", role="agent")
            _DUMMY_HASH.set_password(uuid.uuid4().hex)
        _DUMMY_HASH.check_password(password)
        raise ApiError(401, "invalid_credentials", _l("Wrong email or password."))
    if not user.check_password(password):
        raise ApiError(401, "invalid_credentials", _l("Wrong email or password."))
    return issue_token(user, establishment)


def issue_token(user: User, establishment: Establishment) -> dict:
    expires = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"])
    from datetime import timedelta

    token = create_access_token(
        identity=str(user.id),
        additional_claims={
            "establishment_id": str(user.establishment_id),
            "role": user.role,
            "locale": user.locale or establishment.locale,
        },
        expires_delta=timedelta(seconds=expires),
    )
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires}


def get_establishment() -> Establishment:
    """The current tenant's establishment (tenant filter applies)."""
    from kiosk.tenancy import require_establishment_id

    return db.session.execute(
        sa.select(Establishment).where(Establishment.id == require_establishment_id())
    ).scalar_one()
