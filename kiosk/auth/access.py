"""Who is calling: staff JWT guards and the identity they set for the request."""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import Flask, g
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import (CSRFError, JWTExtendedException, NoAuthorizationError,
                                           RevokedTokenError)
from jwt.exceptions import ExpiredSignatureError, PyJWTError

from kiosk.auth.revocation import is_revoked
from kiosk.errors import ApiError
from kiosk.extensions import jwt
from kiosk.security import auth_failure, hit_identity_limit, identity_guarded
from kiosk.tenancy import set_current_establishment


def init_auth(app: Flask) -> None:
    jwt.init_app(app)
    # flask-jwt-extended calls it for every verified token, the dashboard's too.
    jwt.token_in_blocklist_loader(lambda _header, claims: is_revoked(claims))


def _refuse(code: str, message) -> ApiError:
    return auth_failure(ApiError(401, code, message))


def authenticate_staff() -> dict:
    """Verify the JWT (bearer header or dashboard cookie) and set the tenant.

    Verification comes first: only a request that fails it counts against
    the per-IP failure limit, so a valid token always passes.

    :raise ApiError 401: missing, malformed, forged, expired or revoked token, or CSRF.
    :raise ApiError 429: a failing request from an IP past the failure limit.
    """
    try:
        verify_jwt_in_request()
    except NoAuthorizationError:
        raise _refuse("unauthorized", _l("Authentication is required.")) from None
    except CSRFError:
        raise _refuse("csrf_failed", _l("The form has expired; reload the page.")) from None
    except RevokedTokenError:
        raise _refuse("token_revoked", _l("Your session has ended; sign in again.")) from None
    except ExpiredSignatureError:
        raise _refuse("token_expired", _l("Your session has expired; sign in again.")) from None
    except (JWTExtendedException, PyJWTError):
        raise _refuse("invalid_token", _l("Authentication is required.")) from None
    claims = get_jwt()
    try:
        set_current_establishment(claims["establishment_id"])
        role = claims["role"]
    except (KeyError, ValueError, TypeError):
        raise _refuse("invalid_token", _l("Authentication is required.")) from None
    g.user_id = claims["sub"]
    g.role = role
    g.user_locale = claims.get("locale")
    g.establishment_id = claims["establishment_id"]
    g.rate_limit_identity = f"user:{claims['sub']}"
    hit_identity_limit(g.rate_limit_identity)
    return claims


def staff_required(*roles: str) -> Callable:
    """Require a staff JWT; with roles, also one of those roles (else 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            claims = authenticate_staff()
            if roles and claims["role"] not in roles:
                raise ApiError(403, "forbidden", _l("You are not allowed to do this."))
            return view(*args, **kwargs)

        return identity_guarded(wrapper)

    return decorator


manager_required = staff_required("manager")
