"""Language choice: the user's choice, else the establishment's locale, else French."""
from __future__ import annotations

from flask import Flask, g, has_request_context, request

from kiosk.extensions import babel

SUPPORTED = ("fr", "en")


def select_locale() -> str:
    if not has_request_context():
        return "fr"
    chosen = request.args.get("lang") or request.cookies.get("lang") or getattr(g, "user_locale", None)
    if chosen in SUPPORTED:
        return chosen
    establishment_locale = getattr(g, "establishment_locale", None)
    if establishment_locale in SUPPORTED:
        return establishment_locale
    return "fr"


def select_timezone() -> str:
    return getattr(g, "establishment_timezone", None) or "UTC"


def init_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories="translations")
