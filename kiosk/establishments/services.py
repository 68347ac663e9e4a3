"""The establishment and its settings: creation, the calling rule's knobs, the theme.

Every change a screen must see is emitted as an event after commit; the
writer never calls the TV fan-out or the cache itself.
"""
from __future__ import annotations

import re
import unicodedata
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from babel.numbers import get_currency_precision, list_currencies
from marshmallow import ValidationError
from sqlalchemy.exc import NoResultFound

from kiosk.establishments import theme as theme_rules
from kiosk.establishments.models import Establishment
from kiosk.events import CallingRuleChanged, ThemeChanged, emit
from kiosk.extensions import db
from kiosk.tenancy import require_establishment_id, system_scope

CALLING_KNOBS = ("vip_streak_max", "max_standard_wait_min")


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


def current_establishment() -> Establishment:
    """The current tenant's establishment (the tenant filter applies).

    From the session's identity map when this request already read it (call-next
    and issuing asked for it two or three times per request).
    """
    establishment = db.session.get(Establishment, require_establishment_id())
    if establishment is None:
        raise NoResultFound("the current establishment does not exist")
    return establishment


# --- the calling rule's settings -----------------------------------------------------------

def calling_settings() -> dict:
    establishment = current_establishment()
    return {name: getattr(establishment, name) for name in CALLING_KNOBS}


def update_calling_settings(changes: dict) -> dict:
    establishment = current_establishment()
    for name in CALLING_KNOBS:
        if name in changes:
            setattr(establishment, name, changes[name])
    # The calling order and every ETA depend on these: the event drops cached estimates.
    settings = {name: getattr(establishment, name) for name in CALLING_KNOBS}
    emit(CallingRuleChanged(establishment_id=establishment.id, calling=settings))
    db.session.commit()
    return settings


# --- theme -------------------------------------------------------------------------------------

def get_theme() -> dict:
    return theme_rules.public_theme(current_establishment().theme)


def update_theme(values: dict) -> dict:
    """Store a validated theme (see ThemeSchema) and tell every screen."""
    establishment = current_establishment()
    stored = {key: values[key] for key in ("primary", "accent", "vip", "logo_url", "sound") if key in values}
    for key in theme_rules.COLOUR_KEYS:
        if key in stored:
            stored[key] = theme_rules.normalise_hex(stored[key])
    # A new dict: SQLAlchemy does not see in-place changes to a JSON column.
    establishment.theme = {**(establishment.theme or {}), **stored}
    public = theme_rules.public_theme(establishment.theme)
    emit(ThemeChanged(establishment_id=establishment.id, theme=public))
    db.session.commit()
    return public


def screen_theme(establishment: Establishment) -> dict:
    """The theme as TVs and ticket pages use it: colours, text colours, version and sound files."""
    return {**theme_rules.public_theme(establishment.theme), "sounds": theme_rules.sound_urls(establishment.theme)}
