"""The guard and layout context shared by every dashboard page (ours, the
queue pages' and the displays page).

Pages authenticate with the JWT in the HttpOnly cookie (``authenticate_staff``
reads the bearer header or the cookie). Someone not signed in is sent to
``/login?next=<this page>``; a signed-in user without the role gets a 403 page.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache, wraps
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from flask import g, redirect, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import get_jwt

from kiosk.auth.access import authenticate_staff
from kiosk.errors import ApiError

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"

# (endpoint path, label, roles allowed); the layout shows what the user may open.
NAV = (
    ("/dashboard", _l("Overview"), ("manager",)),
    ("/dashboard/counter", _l("Counter"), ("manager", "agent")),
    ("/dashboard/queues", _l("Queues"), ("manager", "agent")),
    ("/dashboard/devices", _l("Kiosks"), ("manager",)),
    ("/dashboard/displays", _l("Displays"), ("manager",)),
    ("/dashboard/theme", _l("Theme"), ("manager",)),
    ("/dashboard/staff", _l("Staff"), ("manager",)),
    ("/dashboard/audit", _l("Activity log"), ("manager",)),
)


def _login_redirect():
    target = request.full_path if request.query_string else request.path
    return redirect("/login?next=" + quote(target, safe="/"))


def sign_in_or_refuse(*roles: str):
    """None when the request may see the page, else the response to send.

    Sets ``g.role`` and ``g.page_claims`` for the layout.
    """
    try:
        claims = authenticate_staff()
    except ApiError as exc:
        if exc.status == 401:
            return _login_redirect()
        if exc.status == 429:
            return error_page(429, _l("Too many requests; slow down."), headers=exc.headers)
        raise
    g.page_claims = claims
    if roles and claims["role"] not in roles:
        return error_page(403, _l("You are not allowed to do this."))
    return None


def dashboard_page(*roles: str) -> Callable:
    """Decorator for a page view: signed-in staff (with one of ``roles`` if given)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            refused = sign_in_or_refuse(*roles)
            if refused is not None:
                return refused
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _current_claims() -> dict | None:
    claims = getattr(g, "page_claims", None)
    if claims:
        return claims
    try:
        return get_jwt() or None  # the page's guard verified the JWT in this request
    except RuntimeError:
        return None


def layout_context() -> dict:
    """What ``dashboard/base.html`` needs: user, establishment, nav, CSRF for the logout form.

    The layout calls it itself (``dashboard_layout()``), so any page that
    authenticated the request (ours, the queue pages, the displays page) gets the
    full navigation; the sign-in and error pages for strangers get the bare bar.
    """
    here = request.full_path if request.query_string else request.path
    claims = _current_claims()
    if not claims or "role" not in claims:
        return {"signed_in": False, "here": here, "nav": [], "form_csrf": None, "establishment": None,
                "theme_version": None}
    from kiosk.auth.services import get_establishment
    from kiosk.queues import services as queue_services

    role = claims["role"]
    nav = [{"href": href, "label": label, "active": request.path == href}
           for href, label, allowed in NAV if role in allowed]
    return {
        "signed_in": True,
        "theme_version": queue_services.get_theme()["version"],
        "establishment": get_establishment(),
        "role": role,
        "nav": nav,
        "form_csrf": claims.get("csrf"),
        "here": here,
    }


def render_page(template: str, status: int = 200, **context):
    # Private pages carrying the sign-out form's CSRF value: never kept by a cache.
    return render_template(template, locale=str(get_locale()), **context), status, {"Cache-Control": "no-store"}


def error_page(status: int, message, headers: dict | None = None):
    """An HTML error page (the JSON error shape is for the API)."""
    body = render_template("dashboard/error.html", status=status, message=message, locale=str(get_locale()))
    return body, status, headers or {}


@lru_cache(maxsize=None)
def _asset_version(relative: str) -> str:
    try:
        return hashlib.sha256((FRONTEND / relative).read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def dashboard_asset(relative: str) -> str:
    """``/static/<relative>?v=<content hash>``: browsers never mix old and new files."""
    return f"/static/{relative}?v={_asset_version(relative)}"
