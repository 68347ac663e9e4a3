"""JSON logs from one configuration, for web, worker and beat."""
from __future__ import annotations

import logging
import re
import sys

from flask import Flask
from pythonjsonlogger.json import JsonFormatter

# Values that must never reach a log line, whatever a caller passes.
_SECRET_KEYS = re.compile(r"(secret|password|signature|token|authorization|cookie|claim_code)", re.I)
_SIGNATURE_VALUE = re.compile(r"v1=[0-9a-f]{16,}")
_BEARER_VALUE = re.compile(r"Bearer\s+[A-Za-z0-9._-]+")
REDACTED = "[redacted]"


def scrub(value):
    if isinstance(value, dict):
        return {k: (REDACTED if _SECRET_KEYS.search(str(k)) and v else scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _BEARER_VALUE.sub("Bearer " + REDACTED, _SIGNATURE_VALUE.sub("v1=" + REDACTED, value))
    return value


class ScrubbingJsonFormatter(JsonFormatter):
    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        scrubbed = scrub(dict(log_record))
        log_record.clear()
        log_record.update(scrubbed)
        if "request_id" not in log_record:
            from kiosk.observability.context import request_id_for_logs

            rid = request_id_for_logs()
            if rid:
                log_record["request_id"] = rid


def configure_logging(app: Flask | None = None, level: str | None = None) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_kiosk", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    ))
    handler._kiosk = True  # noqa: SLF001 - marks ours, so configuring twice is a no-op
    root.addHandler(handler)
    root.setLevel(level or "INFO")
    for noisy in ("werkzeug", "urllib3", "celery.redirected", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
