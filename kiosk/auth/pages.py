"""Guards for the staff pages: signed-in staff see the page, others are sent to sign in.

Pages authenticate with the JWT in the HttpOnly cookie (``authenticate_staff``
reads the bearer header or the cookie). Someone not signed in is sent to
``/login?next=<this page>``; a signed-in user without the role gets a 403 page.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable
from urllib.parse import quote

from flask import g, redirect, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from kiosk.auth.access import authenticate_staff
from kiosk.errors import ApiError
from kiosk.security import identity_guarded


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

        return identity_guarded(wrapper)

    return decorator


def error_page(status: int, message, headers: dict | None = None):
    """An HTML error page (the JSON error shape is for the API)."""
    body = render_template("dashboard/error.html", status=status, message=message, locale=str(get_locale()))
    return body, status, headers or {}
