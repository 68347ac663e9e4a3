"""Small request helpers shared by every blueprint."""
from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l

from kiosk.errors import ApiError


def json_body() -> dict:
    """The request's JSON object, or the contract's error.

    :raise ApiError 415: the body is not declared as JSON.
    :raise ApiError 400: the body is not valid JSON, or not an object.
    """
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", _l("The request body must be JSON."))
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # absurdly nested JSON
        data = None
    if data is None:
        raise ApiError(400, "invalid_json", _l("The request body is not valid JSON."))
    if not isinstance(data, dict):
        raise ApiError(400, "validation_error", _l("Some fields are invalid."),
                       {"_schema": ["Expected a JSON object."]})
    return data


def optional_json_body() -> dict:
    if not request.get_data(cache=True):
        return {}
    return json_body()
