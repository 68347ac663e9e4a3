from flask import Blueprint, request

from kiosk.auth import services
from kiosk.auth.schemas import LoginSchema
from kiosk.errors import ApiError
from kiosk.security import check_auth_failures, check_login_lockout, record_auth_failure, record_login_failure
from kiosk.web import json_body

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.post("/login")
def login():
    check_auth_failures()
    data = LoginSchema().load(json_body())
    check_login_lockout(data["email"])
    try:
        return services.authenticate(data["email"], data["password"])
    except ApiError:
        record_login_failure(data["email"])
        record_auth_failure()
        raise
