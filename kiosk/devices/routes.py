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
from kiosk.devices.schemas import (ClaimCodeSchema, ClaimCreatedSchema, DeviceSchema, DeviceSetupSchema,
                                   RegisteredSchema, RotatedSchema)
from kiosk.errors import ApiError
from kiosk.security import check_auth_failures, record_auth_failure
from kiosk.web import json_body

iot_bp = Blueprint("iot", __name__, url_prefix="/iot")
api_bp = Blueprint("devices_api", __name__, url_prefix="/api")

blueprints = [iot_bp, api_bp]

NO_STORE = {"Cache-Control": "no-store"}


def _registered(device, secret_key: str):
    payload = {"device_id": device.device_id, "secret_key": secret_key,
               "establishment_id": device.establishment_id, "queue_id": device.queue_id}
    return RegisteredSchema().dump(payload), 201, NO_STORE


def _has_claim_code() -> bool:
    try:
        data = request.get_json(silent=True) if request.is_json else None
    except RecursionError:  # absurdly nested JSON: not a claim; the staff path answers
        data = None
    return isinstance(data, dict) and "claim_code" in data


@iot_bp.post("/register")
def register():
    """Register a kiosk.

    With ``{"claim_code"}``: the claim names the establishment, label and queue.
    Otherwise a manager's JWT is required and the body is ``{"label", "queue_id"}``.

    :raise 401 invalid_claim_code: unknown, expired or used code (counts as an auth failure).
    :raise 401 unauthorized / 403 forbidden: no JWT / not a manager.
    :raise 404 not_found: the queue is not one of the establishment's.
    """
    if _has_claim_code():
        check_auth_failures()
        data = ClaimCodeSchema().load(json_body())
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
    data = DeviceSetupSchema().load(json_body())
    device, secret_key = services.register_for_manager(data["label"], data["queue_id"], actor_id=g.user_id)
    g.device_id = device.device_id
    return _registered(device, secret_key)


@api_bp.post("/devices/claims")
@manager_required
def create_claim():
    data = DeviceSetupSchema().load(json_body())
    claim, code = services.create_claim(data["label"], data["queue_id"], actor_id=g.user_id)
    return ClaimCreatedSchema().dump({"claim_code": code, "expires_at": claim.expires_at}), 201, NO_STORE


# Agents may look (is the kiosk online?); only managers change anything.
@api_bp.get("/devices")
@staff_required()
def list_devices() -> dict:
    return {"devices": DeviceSchema(many=True).dump(services.describe_all())}


@api_bp.get("/devices/<device_id>")
@staff_required()
def get_device(device_id: str) -> dict:
    return DeviceSchema().dump(services.describe(services.get_device(device_id)))


@api_bp.post("/devices/<device_id>/disable")
@manager_required
def disable_device(device_id: str) -> dict:
    return DeviceSchema().dump(services.describe(services.set_status(device_id, "DISABLED", actor_id=g.user_id)))


@api_bp.post("/devices/<device_id>/enable")
@manager_required
def enable_device(device_id: str) -> dict:
    return DeviceSchema().dump(services.describe(services.set_status(device_id, "ACTIVE", actor_id=g.user_id)))


@api_bp.post("/devices/<device_id>/rotate-secret")
@manager_required
def rotate_secret(device_id: str):
    device, secret_key = services.rotate_secret(device_id, actor_id=g.user_id)
    return RotatedSchema().dump({"device_id": device.device_id, "secret_key": secret_key}), 200, NO_STORE
