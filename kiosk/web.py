"""Small request helpers shared by every blueprint."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import request
from flask_babel import lazy_gettext as _l

from kiosk.errors import ApiError

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"


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


@lru_cache(maxsize=None)
def asset_version(relative: str) -> str:
    """A content hash of a front-end file, so browsers, TVs and service workers never mix old and new files."""
    try:
        return hashlib.sha256((FRONTEND / relative).read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def asset_url(relative: str) -> str:
    """``/static/<relative>?v=<content hash>``."""
    return f"/static/{relative}?v={asset_version(relative)}"
