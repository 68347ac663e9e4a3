"""JSON logs from one configuration, for web, worker and beat."""
from __future__ import annotations

import logging
import os
import re
import sys

import orjson
from flask import Flask
from pythonjsonlogger.json import JsonFormatter

from kiosk.observability.context import elapsed_ms_for_logs, request_id_for_logs

# Values that must never reach a log line, whatever a caller passes.
_SECRET_KEYS = re.compile(
    r"(secret|passw|pwd|signature|token|authorization|cookie|claim_code|api_?key|dsn|credential|fernet|jwt)",
    re.I,
)
_SIGNATURE_VALUE = re.compile(r"v1=[0-9a-f]{16,}")
_BEARER_VALUE = re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.I)
_JWT_VALUE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_FERNET_VALUE = re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}")
# key=value / "key": "value" pairs inside free text (messages, exception texts, URLs).
_SECRET_PAIR = re.compile(
    r"""((?:secret[_-]?key|secret|password|passwd|token|access_token|signature|claim_code|api_?key)"""
    r"""["']?\s*[:=]\s*["']?)([^"'\s,;&}]+)""",
    re.I,
)
_DSN_VALUE = re.compile(r"(://[^:/@\s]*:)[^@\s]+@|(://)[^:/@\s]{16,}@")
# Tracking and display tokens are bearer secrets inside URLs: /t/<token>,
# /display/<token>, /ws/display/<token>. At most the first four characters
# survive (enough to tell two screens apart in a log, useless to an attacker).
CAPABILITY_URL = re.compile(r"(/(?:t|display|ws/display)/)([A-Za-z0-9_-]{4})[A-Za-z0-9_-]{4,}")
REDACTED = "[redacted]"


def mask_capability_urls(value: str) -> str:
    return CAPABILITY_URL.sub(lambda m: m.group(1) + m.group(2) + "...", value)


def is_secret_key(key) -> bool:
    return bool(_SECRET_KEYS.search(str(key)))


# Every pattern above needs one of these to match; a string with none of them
# (request ids, uuids, routes: most of a request line) skips the seven
# substitutions, which were most of the line's cost (docs/performance.md).
_MAY_HOLD_A_SECRET = re.compile(
    r"v1=|bearer|basic|eyj|gaaaaa|secret|passw|token|signature|claim_code|api_?key|://|/t/|/display/", re.I)


def scrub_text(value: str) -> str:
    if not _MAY_HOLD_A_SECRET.search(value):
        return value
    value = _SIGNATURE_VALUE.sub("v1=" + REDACTED, value)
    value = _BEARER_VALUE.sub(lambda m: m.group(1) + " " + REDACTED, value)
    value = _JWT_VALUE.sub(REDACTED, value)
    value = _FERNET_VALUE.sub(REDACTED, value)
    value = _SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, value)
    value = mask_capability_urls(value)
    return _DSN_VALUE.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED + "@", value)


def scrub(value):
    if isinstance(value, dict):
        return {k: (REDACTED if _SECRET_KEYS.search(str(k)) and v else scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


class ScrubbingJsonFormatter(JsonFormatter):
    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        scrubbed = scrub(dict(log_record))
        log_record.clear()
        log_record.update(scrubbed)
        if "request_id" not in log_record:
            rid = request_id_for_logs()
            if rid:
                log_record["request_id"] = rid
        if "duration_ms" not in log_record:
            elapsed = elapsed_ms_for_logs()
            if elapsed is not None:
                log_record["elapsed_ms"] = elapsed


def configure_logging(app: Flask | None = None, level: str | int | None = None) -> None:
    """The one logging configuration: JSON lines on stderr, for web, worker and beat."""
    root = logging.getLogger()
    if level is not None:
        root.setLevel(level)
    if any(getattr(h, "_kiosk", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler._kiosk = True  # noqa: SLF001 - marks ours, so configuring twice is a no-op
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))
    logging.captureWarnings(True)  # warnings become JSON lines too
    for noisy in ("werkzeug", "urllib3", "celery.redirected", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _orjson_dumps(obj, **kwargs) -> str:
    # orjson encodes the line several times faster than json; ``default`` is
    # python-json-logger's fallback for values it cannot encode (str()).
    return orjson.dumps(obj, default=kwargs.get("default"), option=orjson.OPT_NON_STR_KEYS).decode()


def json_formatter() -> ScrubbingJsonFormatter:
    return ScrubbingJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_serializer=_orjson_dumps,
    )
