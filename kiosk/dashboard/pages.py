"""The layout shared by every dashboard page: navigation, establishment, assets.

The guards that decide who may see a page live with accounts, in
kiosk/auth/pages.py.
"""
from __future__ import annotations

from flask import g, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import get_jwt

from kiosk.establishments.services import current_establishment, get_theme


# (endpoint path, label, roles allowed); the layout shows what the user may open.
NAV = (
    ("/dashboard", _l("Overview"), ("manager",)),
    ("/dashboard/counter", _l("Counter"), ("manager", "agent")),
    ("/dashboard/queues", _l("Queues"), ("manager", "agent")),
    ("/dashboard/refunds", _l("Refunds"), ("manager",)),
    ("/dashboard/devices", _l("Kiosks"), ("manager",)),
    ("/dashboard/displays", _l("Displays"), ("manager",)),
    ("/dashboard/theme", _l("Theme"), ("manager",)),
    ("/dashboard/staff", _l("Staff"), ("manager",)),
    ("/dashboard/audit", _l("Activity log"), ("manager",)),
)


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
    role = claims["role"]
    nav = [{"href": href, "label": label, "active": request.path == href}
           for href, label, allowed in NAV if role in allowed]
    return {
        "signed_in": True,
        "theme_version": get_theme()["version"],
        "establishment": current_establishment(),
        "role": role,
        "nav": nav,
        "form_csrf": claims.get("csrf"),
        "here": here,
    }


def render_page(template: str, status: int = 200, **context):
    # Private pages carrying the sign-out form's CSRF value: never kept by a cache.
    return render_template(template, locale=str(get_locale()), **context), status, {"Cache-Control": "no-store"}
