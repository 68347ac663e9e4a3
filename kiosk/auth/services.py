"""Users and login. Every rule about staff accounts lives here."""
from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import create_access_token

from kiosk.auth.models import User
from kiosk.base import related_class
from kiosk.errors import ApiError
from kiosk.extensions import db
from kiosk.tenancy import system_scope, tenant_scope

# Checked against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = None


def create_user(establishment_id, email: str, password: str, role: str) -> User:
    email = email.strip().lower()
    with system_scope():
        if db.session.scalar(sa.select(User.id).where(User.email == email)):
            raise ApiError(409, "email_taken", _l("This email is already in use."))
        if db.session.get(related_class(User.establishment), uuid.UUID(str(establishment_id))) is None:
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
        establishment = user.establishment if user else None
    if user is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = User(email="", role="agent")
            _DUMMY_HASH.set_password(uuid.uuid4().hex)
        _DUMMY_HASH.check_password(password)
        raise ApiError(401, "invalid_credentials", _l("Wrong email or password."))
    if not user.check_password(password):
        raise ApiError(401, "invalid_credentials", _l("Wrong email or password."))
    return issue_token(user, establishment)


def issue_token(user: User, establishment) -> dict:
    expires = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"])

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
