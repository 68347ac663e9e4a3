"""Devices: kiosk registration (``/iot/register``) and the managers' API (``/api/devices``).

Other ``/iot`` routes (payments, tickets) are signed and guarded by
``kiosk.devices.guard.verify_device_signature``; ``/iot/register`` is the one
unsigned device route, because a kiosk being installed has no secret yet:
it proves itself with a manager's JWT or a one-use claim code instead.
"""
from __future__ import annotations

from flask import Blueprint, g, request

from kiosk.auth.access import authenticate_staff, manager_required, staff_required
from kiosk.devices import services
from kiosk.devices.schemas import (ClaimCodeSchema, ClaimCreatedSchema, DeviceListSchema, DeviceSchema,
                                   DeviceSetupSchema, RegisteredSchema, RotatedSchema)
from kiosk.errors import ApiError
from kiosk.observability.openapi import BEARER_AUTH, document
from kiosk.security import check_auth_failures, record_auth_failure
from kiosk.web import json_body

iot_bp = Blueprint("iot", __name__, url_prefix="/iot")
api_bp = Blueprint("devices_api", __name__, url_prefix="/api")

blueprints = [iot_bp, api_bp]

NO_STORE = {"Cache-Control": "no-store"}

claim_code_schema = ClaimCodeSchema()
claim_created_schema = ClaimCreatedSchema()
device_setup_schema = DeviceSetupSchema()
registered_schema = RegisteredSchema()
rotated_schema = RotatedSchema()
device_schema = DeviceSchema()
device_list_schema = DeviceListSchema()


def _registered(device, secret_key: str):
    payload = {"device_id": device.device_id, "secret_key": secret_key,
               "establishment_id": device.establishment_id, "queue_id": device.queue_id}
    return registered_schema.dump(payload), 201, NO_STORE


def _has_claim_code() -> bool:
    try:
        data = request.get_json(silent=True) if request.is_json else None
    except RecursionError:  # absurdly nested JSON: not a claim; the staff path answers
        data = None
    return isinstance(data, dict) and "claim_code" in data


@iot_bp.post("/register")
# Unsigned: a manager's JWT with a DeviceSetup body, or no credentials and a ClaimCode body.
@document(body=[claim_code_schema, device_setup_schema], responses={201: registered_schema},
          security=[BEARER_AUTH, {}])
def register() -> tuple[dict, int, dict]:
    """Register a kiosk.

    With ``{"claim_code"}``: the claim names the establishment, label and queue.
    Otherwise a manager's JWT is required and the body is ``{"label", "queue_id"}``.

    :raise 401 invalid_claim_code: unknown, expired or used code (counts as an auth failure).
    :raise 401 unauthorized / 403 forbidden: no JWT / not a manager.
    :raise 404 not_found: the queue is not one of the establishment's.
    """
    if _has_claim_code():
        # A claim code is typed by a person (12 characters): guessable enough that an IP
        # past the failure limit is refused before the code is even looked at.
        check_auth_failures()
        data = claim_code_schema.load(json_body())
        try:
            device, secret_key = services.register_with_claim(data["claim_code"])
        except services.InvalidClaimCode:
            record_auth_failure()
            raise
        g.establishment_id = device.establishment_id
        g.device_id = device.device_id
        return _registered(device, secret_key)
    claims = authenticate_staff()
    if claims["role"] != "manager":
        raise ApiError(403, "forbidden")
    data = device_setup_schema.load(json_body())
    device, secret_key = services.register_for_manager(data["label"], data["queue_id"], actor_id=g.user_id)
    g.device_id = device.device_id
    return _registered(device, secret_key)


@api_bp.post("/devices/claims")
@document(body=device_setup_schema, responses={201: claim_created_schema},
          summary="A one-use claim code (15 min) to register a kiosk")
@manager_required
def create_claim() -> tuple[dict, int, dict]:
    data = device_setup_schema.load(json_body())
    claim, code = services.create_claim(data["label"], data["queue_id"], actor_id=g.user_id)
    return claim_created_schema.dump({"claim_code": code, "expires_at": claim.expires_at}), 201, NO_STORE


# Agents may look (is the kiosk online?); only managers change anything.
@api_bp.get("/devices")
@document(responses={200: device_list_schema})
@staff_required()
def list_devices() -> dict:
    return device_list_schema.dump({"devices": services.describe_all()})


@api_bp.get("/devices/<device_id>")
@document(responses={200: device_schema})
@staff_required()
def get_device(device_id: str) -> dict:
    return device_schema.dump(services.describe(services.get_device(device_id)))


@api_bp.post("/devices/<device_id>/disable")
@document(responses={200: device_schema})
@manager_required
def disable_device(device_id: str) -> dict:
    return device_schema.dump(services.describe(services.set_status(device_id, "DISABLED", actor_id=g.user_id)))


@api_bp.post("/devices/<device_id>/enable")
@document(responses={200: device_schema})
@manager_required
def enable_device(device_id: str) -> dict:
    return device_schema.dump(services.describe(services.set_status(device_id, "ACTIVE", actor_id=g.user_id)))


@api_bp.post("/devices/<device_id>/rotate-secret")
@document(responses={200: rotated_schema}, summary="A new secret, shown once; the old one works 24 h more")
@manager_required
def rotate_secret(device_id: str) -> tuple[dict, int, dict]:
    device, secret_key = services.rotate_secret(device_id, actor_id=g.user_id)
    return rotated_schema.dump({"device_id": device.device_id, "secret_key": secret_key}), 200, NO_STORE
