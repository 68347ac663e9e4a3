"""Device request signing, scheme v1: the one signer.

The server, the simulator, the tests and the load test all use this module;
the firmware reimplements it in C++ against the same shared test vectors.

String to sign (joined by "\\n", no trailing newline):
    v1, METHOD, path (with ?query), device_id, timestamp, nonce, sha256_hex(body)
Key: the UTF-8 bytes of the secret_key string exactly as issued.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SCHEME = "v1"


def string_to_sign(method: str, path: str, device_id: str, timestamp: int | str, nonce: str,
                   body: bytes = b"") -> str:
    body_hash = hashlib.sha256(body or b"").hexdigest()
    return "\n".join([SCHEME, method.upper(), path, device_id, str(timestamp), nonce, body_hash])


def sign(secret_key: str, method: str, path: str, device_id: str, timestamp: int | str, nonce: str,
         body: bytes = b"") -> str:
    message = string_to_sign(method, path, device_id, timestamp, nonce, body).encode()
    digest = hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def signature_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def new_nonce() -> str:
    return secrets.token_urlsafe(18)  # 24 chars of [A-Za-z0-9_-]


def signed_headers(device_id: str, secret_key: str, method: str, path: str, body: bytes = b"",
                   timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """Headers for one request; a fresh nonce and timestamp unless given."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or new_nonce()
    return {
        "X-Device-Id": device_id,
        "X-Timestamp": str(timestamp),
        "X-Nonce": nonce,
        "X-Signature": sign(secret_key, method, path, device_id, timestamp, nonce, body),
    }
