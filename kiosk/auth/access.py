"""Who is calling: staff JWT guards and the identity they set for the request."""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import Flask, g
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import CSRFError, JWTExtendedException, NoAuthorizationError
from jwt.exceptions import ExpiredSignatureError, PyJWTError

from kiosk.errors import ApiError
from kiosk.extensions import jwt
from kiosk.security import check_auth_failures, hit_identity_limit, record_auth_failure
from kiosk.tenancy import set_current_establishment


def init_auth(app: Flask) -> None:
    jwt.init_app(app)


def _refuse(code: str, message) -> ApiError:
    record_auth_failure()
    return ApiError(401, code, message)


def authenticate_staff() -> dict:
    """Verify the JWT (bearer header or dashboard cookie) and set the tenant.

    :raise ApiError 401: missing, malformed, forged or expired token, or CSRF.
    """
    check_auth_failures()
    try:
        verify_jwt_in_request()
    except NoAuthorizationError:
        raise _refuse("unauthorized", _l("Authentication is required.")) from None
    except CSRFError:
        raise _refuse("csrf_failed", _l("The form has expired; reload the page.")) from None
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

        return wrapper

    return decorator


manager_required = staff_required("manager")
