"""The shared test vectors, reproduced by the one signer, the simulator and the guard."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from kiosk.devices import signing
from kiosk.devices.simulator import DeviceSession, Reply

ROOT = Path(__file__).resolve().parents[2]
# Same lookup as firmware/test/run.sh: the env var, then ../shared, then shared/.
CANDIDATES = [os.environ.get("KIOSK_SIGNING_VECTORS", ""), ROOT.parent / "shared/test-vectors/device-signing.json",
              ROOT / "shared/test-vectors/device-signing.json"]


def _load_vectors() -> list[dict]:
    found = [Path(c) for c in CANDIDATES if c and Path(c).is_file()]
    assert found, "device-signing.json not found (set KIOSK_SIGNING_VECTORS): the vectors are required"
    path = found[0]
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["scheme"] == "v1"
    assert len(data["vectors"]) >= 3
    return data["vectors"]


VECTORS = _load_vectors()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_the_signer_reproduces_each_shared_vector(vector):
    body = vector["body"].encode("utf-8")
    assert hashlib.sha256(body).hexdigest() == vector["body_sha256"]
    assert signing.string_to_sign(vector["method"], vector["path"], vector["device_id"], vector["timestamp"],
                                  vector["nonce"], body) == vector["string_to_sign"]
    assert signing.sign(vector["secret_key"], vector["method"], vector["path"], vector["device_id"],
                        vector["timestamp"], vector["nonce"], body) == vector["signature"]
    headers = signing.signed_headers(vector["device_id"], vector["secret_key"], vector["method"], vector["path"],
                                     body, timestamp=vector["timestamp"], nonce=vector["nonce"])
    assert headers == {"X-Device-Id": vector["device_id"], "X-Timestamp": str(vector["timestamp"]),
                       "X-Nonce": vector["nonce"], "X-Signature": vector["signature"]}


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_the_simulator_sends_each_shared_vector_byte_for_byte(vector):
    sent = []

    def transport(method, path, body, headers):
        sent.append((method, path, body, headers))
        return Reply(200, {}, b"{}")

    session = DeviceSession(vector["device_id"], vector["secret_key"], transport,
                            clock=lambda: vector["timestamp"] + 0.7, new_nonce=lambda: vector["nonce"])
    body = vector["body"].encode("utf-8")
    session.send(vector["method"], vector["path"], body)
    method, path, sent_body, headers = sent[0]
    assert (method, path, sent_body) == (vector["method"], vector["path"], body)
    assert headers["X-Signature"] == vector["signature"]
    assert headers["X-Timestamp"] == str(vector["timestamp"])


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_the_server_accepts_each_shared_vector(app, world, guard, frozen_guard_clock, vector):
    """A device registered with the vectors' id and secret, at the vectors' time, is let in."""
    from kiosk.devices.models import Device
    from kiosk.devices.services import encrypt_secret
    from kiosk.extensions import db
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        db.session.add(Device(device_id=vector["device_id"], label="vectors", queue_id=world.a.queue_id,
                              secret_encrypted=encrypt_secret(vector["secret_key"]), status="ACTIVE"))
        db.session.commit()
    frozen_guard_clock(vector["timestamp"] + 10)
    headers = {"X-Device-Id": vector["device_id"], "X-Timestamp": str(vector["timestamp"]),
               "X-Nonce": vector["nonce"], "X-Signature": vector["signature"]}
    answer = guard(vector["method"], vector["path"], headers, vector["body"].encode("utf-8"))
    assert answer.status == 200, answer.json
    assert answer.establishment_id == world.a.id


def test_signatures_are_lowercase_hex_and_keyed_by_the_secret_string_bytes():
    vector = VECTORS[0]
    upper_key = signing.sign(vector["secret_key"].upper(), "POST", vector["path"], vector["device_id"],
                             vector["timestamp"], vector["nonce"], vector["body"].encode())
    assert upper_key != vector["signature"]  # the key is the string, not the bytes it spells in hex
    assert vector["signature"] == vector["signature"].lower()


def test_fresh_nonces_match_the_contract_format():
    import re

    nonces = {signing.new_nonce() for _ in range(200)}
    assert len(nonces) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16,64}", n) for n in nonces)


def test_the_repository_copy_of_the_vectors_matches_the_contract():
    # shared/ in the repo lets a clean clone (CI) run the vectors; the contract's
    # copy next to the checkout stays the source of truth when it is there.
    contract = ROOT.parent / "shared/test-vectors/device-signing.json"
    copy = ROOT / "shared/test-vectors/device-signing.json"
    assert copy.is_file()
    if contract.is_file():
        assert copy.read_bytes() == contract.read_bytes()
