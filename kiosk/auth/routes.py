from flask import Blueprint

from kiosk.auth import services
from kiosk.auth.schemas import LoginSchema, TokenSchema
from kiosk.errors import ApiError
from kiosk.observability.openapi import document
from kiosk.security import check_auth_failures, check_login_lockout, record_auth_failure, record_login_failure
from kiosk.web import json_body

bp = Blueprint("auth", __name__, url_prefix="/auth")

login_schema = LoginSchema()
token_schema = TokenSchema()


@bp.post("/login")
@document(body=login_schema, responses={200: token_schema}, summary="Staff login: a Bearer JWT")
def login() -> dict:
    check_auth_failures()
    data = login_schema.load(json_body())
    check_login_lockout(data["email"])
    try:
        return token_schema.dump(services.authenticate(data["email"], data["password"]))
    except ApiError:
        record_login_failure(data["email"])
        record_auth_failure()
        raise
