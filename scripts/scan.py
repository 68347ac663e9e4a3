"""Outside scan of a running Kiosk: headers, error shapes, limits, no 5xx.

    .venv/bin/python scripts/scan.py https://kiosk.example.com [--limits]

Uses only what a stranger sees (no credentials). Every documented operation
of /openapi.json is called without credentials and with a garbage body; any
5xx, a missing security header or an error outside the contract's shape is a
finding. ``--limits`` also checks that repeated failed logins end in 429 with
Retry-After (this locks the scanning IP out of logins for a while).
Exit 0 when clean, 1 with findings (printed one per line).
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid

REQUIRED_HEADERS = {
    "Content-Security-Policy": lambda v: "script-src 'self'" in v and "'unsafe-inline'" not in v
    and "frame-ancestors 'none'" in v,
    "X-Content-Type-Options": lambda v: v == "nosniff",
    "Referrer-Policy": lambda v: bool(v),
    "X-Request-ID": lambda v: bool(v),
}


class Scanner:
    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.findings: list[str] = []
        self.requests = 0

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        self.requests += 1
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=15) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def finding(self, message: str) -> None:
        self.findings.append(message)

    def check_headers(self, label: str, headers) -> None:
        for name, ok in REQUIRED_HEADERS.items():
            if not ok(headers.get(name, "")):
                self.finding(f"{label}: header {name} missing or weak: {headers.get(name)!r}")
        if self.base.startswith("https://") and "max-age=" not in headers.get("Strict-Transport-Security", ""):
            self.finding(f"{label}: no HSTS over HTTPS")

    def check_error(self, label: str, status: int, headers, raw: bytes, expected: tuple[int, ...] = ()) -> None:
        if status >= 500 and status != 503:
            self.finding(f"{label}: server error {status}")
        if expected and status not in expected:
            self.finding(f"{label}: status {status}, expected {expected}")
        if status >= 400 and "json" in headers.get("Content-Type", ""):
            try:
                error = json.loads(raw)["error"]
                assert {"code", "message", "details"} <= set(error)
            except (ValueError, KeyError, TypeError, AssertionError):
                self.finding(f"{label}: error body not in the contract's shape: {raw[:120]!r}")
        if status in (429, 503) and not headers.get("Retry-After"):
            self.finding(f"{label}: {status} without Retry-After")
        if status not in (429, 503) and headers.get("Retry-After"):
            self.finding(f"{label}: Retry-After on a {status}")

    def run(self, limits: bool) -> None:
        status, headers, raw = self.call("GET", "/health")
        self.check_error("GET /health", status, headers, raw, (200,))
        self.check_headers("GET /health", headers)
        status, headers, raw = self.call("GET", "/health/ready")
        self.check_error("GET /health/ready", status, headers, raw, (200, 503))
        for method, path, expected in [("GET", "/api/does-not-exist", (404,)), ("GET", "/auth/login", (405,)),
                                       ("GET", "/api/queues", (401,)), ("GET", "/metrics", (404,))]:
            status, headers, raw = self.call(method, path, headers={"Accept": "application/json"})
            self.check_error(f"{method} {path}", status, headers, raw, expected)
            self.check_headers(f"{method} {path}", headers)
        status, headers, raw = self.call("POST", "/auth/login", b"email=a", {"Content-Type": "text/plain"})
        self.check_error("POST /auth/login text/plain", status, headers, raw, (415,))
        status, headers, raw = self.call("POST", "/auth/login", b'{"email": "' + b"a" * 200_000 + b'"}',
                                         {"Content-Type": "application/json"})
        self.check_error("POST /auth/login oversize", status, headers, raw, (413,))
        status, headers, raw = self.call("POST", "/auth/login", b'{"a":' * 50 + b"1" + b"}" * 50,
                                         {"Content-Type": "application/json"})
        self.check_error("POST /auth/login nested", status, headers, raw, (400,))
        status, headers, raw = self.call("GET", "/openapi.json")
        self.check_error("GET /openapi.json", status, headers, raw, (200,))
        document = json.loads(raw) if status == 200 else {"paths": {}}
        self.scan_operations(document)
        if limits:
            self.scan_login_limit()

    def scan_operations(self, document: dict) -> None:
        for path, operations in document.get("paths", {}).items():
            concrete = path
            for part in [p for p in path.split("/") if p.startswith("{")]:
                concrete = concrete.replace(part, str(uuid.uuid4()))
            for method in operations:
                if method == "parameters":
                    continue
                body = b'{"unexpected": [1, {"x": null}]}' if method in ("post", "put", "patch") else None
                headers = {"Content-Type": "application/json"} if body else {}
                status, response_headers, raw = self.call(method.upper(), concrete, body, headers)
                self.check_error(f"{method.upper()} {path}", status, response_headers, raw)

    def scan_login_limit(self) -> None:
        email = f"scan-{uuid.uuid4().hex[:8]}@example.invalid"
        body = json.dumps({"email": email, "password": "wrong-password"}).encode()
        for _ in range(40):
            status, headers, raw = self.call("POST", "/auth/login", body, {"Content-Type": "application/json"})
            self.check_error("POST /auth/login (repeated)", status, headers, raw, (401, 429))
            if status == 429:
                return
        self.finding("40 failed logins from one IP were never rate limited")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--limits", action="store_true", help="also check the failed-login limit")
    args = parser.parse_args(argv)
    scanner = Scanner(args.base_url)
    scanner.run(args.limits)
    for finding in scanner.findings:
        print("FINDING", finding)
    print(f"scan: {scanner.requests} requests, {len(scanner.findings)} findings")
    return 1 if scanner.findings else 0


if __name__ == "__main__":
    sys.exit(main())
