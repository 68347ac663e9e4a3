"""Users and login. Every rule about staff accounts lives here."""
from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import create_access_token
from sqlalchemy.exc import IntegrityError

from kiosk.audit.services import record as audit
from kiosk.auth import hashing, revocation
from kiosk.auth.models import User
from kiosk.base import related_class
from kiosk.errors import ApiError
from kiosk.extensions import db
from kiosk.tenancy import get_or_404, system_scope, tenant_scope

# Checked against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = None


def _email_taken() -> ApiError:
    return ApiError(409, "email_taken", _l("This email is already in use."))


def create_user(establishment_id, email: str, password: str, role: str, *, actor_id=None) -> User:
    """A new staff account (CLI: no actor; API: the manager who adds it). Audited.

    :raise ApiError 409 email_taken: emails are unique across establishments
        (one sign-in form for everyone).
    """
    email = email.strip().lower()
    with system_scope():
        if db.session.scalar(sa.select(User.id).where(User.email == email)):
            raise _email_taken()
        if db.session.get(related_class(User.establishment), uuid.UUID(str(establishment_id))) is None:
            raise ApiError(404, "not_found", _l("Not found."))
    with tenant_scope(establishment_id):
        user = User(id=uuid.uuid4(), email=email, role=role, active=True, token_version=0)
        user.set_password(password)
        db.session.add(user)
        audit("user.created", actor_id=actor_id, target_type="user", target_id=str(user.id),
              details={"email": email, "role": role})
        try:
            db.session.commit()
        except IntegrityError:  # the same email added at the same moment
            db.session.rollback()
            raise _email_taken() from None
    return user


def list_users() -> list[User]:
    """The current establishment's staff, active first, then by email."""
    return list(db.session.scalars(sa.select(User).order_by(User.active.desc(), User.email)))


def get_user(user_id) -> User:
    """:raise NotFound: unknown id, or another establishment's user."""
    return get_or_404(User, user_id)


def update_user(user_id, changes: dict, *, actor_id) -> User:
    """Change a user's role, active flag and/or password (a manager's action). Audited.

    Deactivating, or changing the role or the password, revokes every token
    issued to that user before (``token_version`` bumped in the same commit).

    :raise NotFound: unknown id, or another establishment's user.
    :raise ApiError 409 last_manager: it would leave no active manager.
    """
    get_user(user_id)  # another tenant's id is a 404 before anything is locked
    # Every active manager row is locked, in id order, before counting: two
    # managers demoting each other at once cannot both succeed.
    managers = list(db.session.scalars(
        sa.select(User).where(User.role == "manager", User.active.is_(True)).order_by(User.id)
        .with_for_update().execution_options(populate_existing=True)))
    user = db.session.scalars(sa.select(User).where(User.id == uuid.UUID(str(user_id))).with_for_update()
                              .execution_options(populate_existing=True)).one()
    role, active = changes.get("role", user.role), changes.get("active", user.active)
    stays_manager = role == "manager" and active
    if user.role == "manager" and user.active and not stays_manager and len(managers) <= 1:
        db.session.rollback()
        raise ApiError(409, "last_manager",
                       _l("An establishment needs at least one active manager: appoint another one first."))
    events = []
    if active != user.active:
        events.append(("user.deactivated" if not active else "user.reactivated", {"email": user.email}))
    if role != user.role:
        events.append(("user.role_changed", {"email": user.email, "from": user.role, "to": role}))
    if changes.get("password") is not None:
        user.set_password(changes["password"])
        events.append(("user.password_reset", {"email": user.email}))
    revoke = (user.active and not active) or role != user.role or changes.get("password") is not None
    reactivated = active and not user.active
    user.role, user.active = role, active
    for action, details in events:
        audit(action, actor_id=actor_id, target_type="user", target_id=str(user.id), details=details)
    if revoke or reactivated:
        _commit_version(user, bump=revoke)
    else:
        db.session.commit()
    return user


def logout(user_id) -> None:
    """Revoke every token issued to this user so far (all their sessions)."""
    user = db.session.scalars(sa.select(User).where(User.id == uuid.UUID(str(user_id))).with_for_update()
                              .execution_options(populate_existing=True)).one()
    _commit_version(user, bump=True)


def _commit_version(user: User, *, bump: bool) -> None:
    """Commit, keeping the revocation cache in step (see kiosk.auth.revocation)."""
    if bump:
        user.token_version = (user.token_version or 0) + 1
    new_version = user.token_version if user.active else revocation.NO_VERSION
    # Published before the commit too: from this moment no cache serves the old version.
    published = revocation.publish_version(user.id, new_version)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        revocation.forget_version(user.id)
        raise
    if not revocation.publish_version(user.id, new_version) and not published:
        revocation.log.error("revocation cache unreachable; a stale entry expires in %s s",
                             revocation.CACHE_SECONDS, extra={"user_id": str(user.id)})


class LoginBusy(ApiError):
    """No password was checked: this process already has a full queue of them (not a failed login)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "rate_limited", _l("Too many requests; slow down."),
                         headers={"Retry-After": str(retry_after)})


def authenticate(email: str, password: str, *, refuse_when_busy: bool = False) -> dict:
    """Return the token body for good credentials.

    :raise ApiError 401 invalid_credentials: wrong password or unknown email,
        answered the same way and in about the same time.
    :raise LoginBusy: with ``refuse_when_busy``, too many logins already
        waiting for their password check in this process (kiosk.auth.hashing).
    """
    global _DUMMY_HASH
    email = email.strip().lower()
    with system_scope():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
        establishment = user.establishment if user else None
    # Give the connection back before the hash: a burst of logins waiting for
    # the hashing pool would otherwise hold the whole connection pool (seen in
    # benchmarks/login_burst.py: QueuePool timeouts, 500s). Nothing was written;
    # the rows stay loaded (expire_on_commit=False).
    db.session.commit()
    if user is None:
        try:
            if _DUMMY_HASH is None:
                _DUMMY_HASH = hashing.hash_password(uuid.uuid4().hex, refuse_when_busy=refuse_when_busy)
            hashing.verify(_DUMMY_HASH, password, refuse_when_busy=refuse_when_busy)
        except hashing.Busy as busy:
            raise LoginBusy(busy.retry_after) from None
        raise ApiError(401, "invalid_credentials", _l("Wrong email or password."))
    # A deactivated account answers exactly like a wrong password: no oracle.
    if not _check(user, password, refuse_when_busy) or not user.active:
        raise ApiError(401, "invalid_credentials", _l("Wrong email or password."))
    return issue_token(user, establishment)


def _check(user: User, password: str, refuse_when_busy: bool) -> bool:
    try:
        return user.check_password(password, refuse_when_busy=refuse_when_busy)
    except hashing.Busy as busy:
        raise LoginBusy(busy.retry_after) from None


def issue_token(user: User, establishment) -> dict:
    expires = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"])

    token = create_access_token(
        identity=str(user.id),
        additional_claims={
            "establishment_id": str(user.establishment_id),
            "role": user.role,
            "locale": user.locale or establishment.locale,
            "ver": user.token_version or 0,
        },
        expires_delta=timedelta(seconds=expires),
    )
    # The first request with this token then finds its version in Redis, not in the database.
    revocation.remember_version(user.id, user.token_version or 0)
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires}
