"""Talisman's three hooks per response, its own code vs the once-per-kind subclass, in one run.

    .venv/bin/python benchmarks/talisman_headers.py

CPU time (``time.process_time``) of ``_force_https`` + ``_make_nonce`` +
``_set_response_headers`` per response, for a few kinds of response,
alternating flask-talisman's own methods (the instance's class swapped to
``Talisman``) and kiosk/security.py's cached subclass, 3 x 20,000 each.
Not a test: run it by hand; figures go to docs/performance.md.
"""
from __future__ import annotations

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

N = 20_000


def main() -> None:
    from flask import Response
    from flask_talisman import Talisman

    from kiosk import create_app

    os.environ.setdefault("SECRET_KEY", "bench-secret-" + "x" * 32)
    app = create_app()
    ext = app.extensions["talisman"]

    def per_response(plain: bool, path: str, headers: dict) -> float:
        with app.test_request_context(path, headers=headers):
            cached_class, response = type(ext), Response("x")
            if plain:
                ext.__class__ = Talisman
            try:
                started = time.process_time()
                for _ in range(N):
                    ext._force_https()
                    ext._make_nonce()
                    ext._set_response_headers(response)
                return (time.process_time() - started) / N * 1e6
            finally:
                ext.__class__ = cached_class

    print("| response | Talisman's own µs | computed once µs | ratio |")
    print("|---|---:|---:|---:|")
    for name, path, headers in (("health (@talisman override)", "/health", {}),
                                ("JSON API", "/api/queues", {}),
                                ("HTML page", "/login", {}),
                                ("HTML page over HTTPS (HSTS)", "/login", {"X-Forwarded-Proto": "https"})):
        plain, cached = [], []
        for _ in range(3):
            plain.append(per_response(True, path, headers))
            cached.append(per_response(False, path, headers))
        p, c = min(plain), min(cached)
        print(f"| {name} | {p:.1f} | {c:.1f} | x{c / p:.2f} |")


if __name__ == "__main__":
    main()
