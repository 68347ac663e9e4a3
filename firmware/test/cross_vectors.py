"""Random signing cases computed by the server's reference signer.

Loads kiosk/devices/signing.py by path (stdlib only, no Flask) and prints a
JSON document shaped like shared/test-vectors/device-signing.json, so the
firmware's C++ signer is checked against the Python one on inputs nobody
hand-picked: query strings, empty and non-ASCII bodies, newlines, long paths.

    python3 cross_vectors.py <path to signing.py> [count] [seed]
"""
import hashlib
import importlib.util
import json
import random
import sys


def main() -> None:
    spec = importlib.util.spec_from_file_location("reference_signing", sys.argv[1])
    signing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(signing)
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 20261125)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    nonce_chars = alphabet + "_-"
    body_pieces = ["", "{}", '{"amount":500}', "café", "ünïcødé ✓ 🎟", "line\nbreak", "\t tab", '"quoted"',
                   "\\", "0" * 300]
    vectors = []
    for i in range(count):
        secret = "".join(rng.choice("0123456789abcdef") for _ in range(64))
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH"])
        path = "/iot/" + "/".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
                                  for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.3:
            path += "?a=" + str(rng.randint(0, 10**6)) + "&b=x%20y"
        device_id = "dev_" + "".join(rng.choice(alphabet) for _ in range(12))
        timestamp = rng.randint(1_600_000_000, 2_000_000_000)
        nonce = "".join(rng.choice(nonce_chars) for _ in range(rng.randint(16, 64)))
        body = "".join(rng.choice(body_pieces) for _ in range(rng.randint(0, 4)))
        raw = body.encode("utf-8")
        vectors.append({
            "name": f"cross {i}",
            "secret_key": secret,
            "method": method,
            "path": path,
            "device_id": device_id,
            "timestamp": timestamp,
            "nonce": nonce,
            "body": body,
            "body_sha256": hashlib.sha256(raw).hexdigest(),
            "string_to_sign": signing.string_to_sign(method, path, device_id, timestamp, nonce, raw),
            "signature": signing.sign(secret, method, path, device_id, timestamp, nonce, raw),
        })
    json.dump({"scheme": "v1", "vectors": vectors}, sys.stdout, ensure_ascii=True)  # exercises \u escapes and surrogate pairs


if __name__ == "__main__":
    main()
