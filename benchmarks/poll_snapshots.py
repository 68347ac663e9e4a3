"""/t/<token>.json's own work, the snapshot (this branch) against the path it replaced, in one run.

    .venv/bin/python benchmarks/poll_snapshots.py --calls 400

The two paths alternate call by call in one process, against the same
throwaway database and leased Redis (warm: nothing changes between calls),
inside a request context, so only the changed code differs:

- before: the token's pair from Redis (GET), the state from the
  establishment's read-through cache (MGET), decoded, re-encoded with sorted
  keys and hashed for the ETag;
- after: the pair from the process, the response's bytes and ETag from one
  MGET (``tracking.public_state_json``).

Both build the same Response (ETag, Cache-Control, conditional). Figures are
µs of process CPU (``time.process_time``) per call. Not a test.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.route_cpu import seed  # noqa: E402
from benchmarks.support import lease_redis, throwaway_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args()

    from flask import Response, request

    from kiosk import create_app
    from kiosk.cache import cached
    from kiosk.queues import tracking
    from kiosk.queues.estimates import ESTIMATES_TTL_SECONDS
    from kiosk.tenancy import tenant_scope
    from tests.conftest import make_config

    def respond(body, etag: str) -> Response:
        response = Response(body, mimetype="application/json")
        response.set_etag(etag)
        response.headers["Cache-Control"] = "no-cache"
        return response.make_conditional(request)

    def before(token: str) -> Response:
        establishment_id, ticket_id = tracking._locate_shared(token)
        with tenant_scope(establishment_id):
            state = cached(establishment_id, f"track:{ticket_id}", lambda: tracking._compute(ticket_id),
                           ttl=ESTIMATES_TTL_SECONDS)
        encoded = json.dumps(state, separators=(",", ":"), sort_keys=True)
        return respond(encoded, hashlib.sha256(encoded.encode()).hexdigest()[:20])

    def after(token: str) -> Response:
        return respond(*tracking.public_state_json(token))

    database_url, drop_database = throwaway_database("kiosk_bench_polls")
    redis_url, release_redis = lease_redis()
    try:
        app = create_app(make_config(database_url, redis_url, KIOSK_ENV="production", TESTING=False))
        token = seed(app)["tracked"]
        spent = {"before": [], "after": []}
        bodies = {}
        with app.test_request_context(f"/t/{token}.json", base_url="https://localhost"):
            for name, fn in (("before", before), ("after", after)):  # warm both caches
                bodies[name] = fn(token).get_data()
            assert bodies["before"] == bodies["after"], "the two paths must answer the same bytes"
            for _ in range(args.calls):
                for name, fn in (("before", before), ("after", after)):
                    started = time.process_time()
                    fn(token)
                    spent[name].append(time.process_time() - started)
        print(f"load average: {os.getloadavg()[0]:.1f}", file=sys.stderr)
        print("| path | mean µs | p50 µs |\n|---|---:|---:|")
        for name, values in spent.items():
            print(f"| {name} | {statistics.fmean(values) * 1e6:,.0f} | {statistics.median(values) * 1e6:,.0f} |")
        ratio = statistics.fmean(spent["after"]) / statistics.fmean(spent["before"])
        print(f"\nafter/before (mean): {ratio:.2f}")
    finally:
        release_redis()
        drop_database()


if __name__ == "__main__":
    main()
