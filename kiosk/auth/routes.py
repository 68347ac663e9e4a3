"""Sign-in and sessions (``/auth``), staff accounts (``/api/users``) and the audit trail (``/api/audit``).

The audit API is served here rather than by ``kiosk.audit``: the audit
package sits below auth (every domain, auth included, records events into
it), so it cannot use auth's guards itself.
"""
from __future__ import annotations

from flask import Blueprint, Response, g, request

from kiosk.audit import services as audit_services
from kiosk.audit.schemas import AuditPageSchema, AuditQuerySchema
from kiosk.auth import services
from kiosk.auth.access import authenticate_staff, manager_required
from kiosk.auth.schemas import (LoginSchema, TokenSchema, UserCreateSchema, UserListSchema, UserSchema,
                                UserUpdateSchema)
from kiosk.errors import ApiError
from kiosk.observability.openapi import document
from kiosk.security import check_auth_failures, check_login_lockout, record_auth_failure, record_login_failure
from kiosk.tenancy import require_establishment_id
from kiosk.web import json_body

bp = Blueprint("auth", __name__, url_prefix="/auth")
users_bp = Blueprint("users", __name__, url_prefix="/api/users")
audit_bp = Blueprint("audit", __name__, url_prefix="/api/audit")
blueprints = [bp, users_bp, audit_bp]

login_schema = LoginSchema()
token_schema = TokenSchema()
user_create_schema = UserCreateSchema()
user_update_schema = UserUpdateSchema()
user_schema = UserSchema()
user_list_schema = UserListSchema()
audit_query_schema = AuditQuerySchema()
audit_page_schema = AuditPageSchema()


@bp.post("/login")
@document(body=login_schema, responses={200: token_schema}, summary="Staff login: a Bearer JWT")
def login() -> dict:
    # Passwords can be guessed: the per-IP failure limit applies *before* checking one.
    check_auth_failures()
    data = login_schema.load(json_body())
    check_login_lockout(data["email"])
    try:
        return token_schema.dump(services.authenticate(data["email"], data["password"], refuse_when_busy=True))
    except services.LoginBusy:
        raise  # no password was checked: not a failure
    except ApiError:
        record_login_failure(data["email"])
        record_auth_failure()
        raise


@bp.post("/logout")
@document(responses={204: "Every token issued to this user so far is revoked"},
          summary="Sign out everywhere: revoke this user's tokens")
def logout() -> Response:
    authenticate_staff()
    services.logout(g.user_id)
    return Response(status=204)


# --- staff accounts (managers, own establishment) ------------------------------------------

@users_bp.get("")
@document(responses={200: user_list_schema}, summary="The establishment's staff accounts")
@manager_required
def list_users() -> dict:
    return user_list_schema.dump({"users": services.list_users()})


@users_bp.post("")
@document(body=user_create_schema, responses={201: user_schema}, summary="Add a staff account (409 email_taken)")
@manager_required
def create_user() -> tuple[dict, int]:
    data = user_create_schema.load(json_body())
    user = services.create_user(require_establishment_id(), data["email"], data["password"], data["role"],
                                actor_id=g.user_id)
    return user_schema.dump(user), 201


@users_bp.patch("/<user_id>")
@document(body=user_update_schema, responses={200: user_schema},
          summary="Change a role, deactivate or reactivate, set a password (409 last_manager); revokes tokens")
@manager_required
def update_user(user_id: str) -> dict:
    services.get_user(user_id)  # another tenant's id is a 404 before any 400
    data = user_update_schema.load(json_body())
    return user_schema.dump(services.update_user(user_id, data, actor_id=g.user_id))


# --- audit trail (managers) ----------------------------------------------------------------

@audit_bp.get("")
@document(query=audit_query_schema, responses={200: audit_page_schema},
          summary="Audit trail: who did what and when (newest first)")
@manager_required
def list_audit() -> dict:
    query = audit_query_schema.load(request.args)
    events, truncated = audit_services.list_events(query["start"], query["end"], query["limit"])
    return audit_page_schema.dump({"start": query["start"], "end": query["end"], "truncated": truncated,
                                   "events": events})
