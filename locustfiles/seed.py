"""Seed establishments, staff, devices and displays for a load test.

Usage: python locustfiles/seed.py --establishments 50 --devices 10 --agents 6 --displays 20 > reports/seed.json
Uses the same services as the app (DATABASE_URL / REDIS_URL from the environment).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PASSWORD = "load-test-password"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--establishments", type=int, default=50)
    parser.add_argument("--devices", type=int, default=10, help="per establishment")
    parser.add_argument("--agents", type=int, default=6, help="per establishment (plus one manager)")
    parser.add_argument("--displays", type=int, default=20, help="per establishment")
    args = parser.parse_args()
    logging.disable(logging.INFO)

    from kiosk import create_app
    from kiosk.auth import services as auth_services
    from kiosk.establishments.services import create_establishment
    from kiosk.devices.services import register_device
    from kiosk.display.services import create_display
    from kiosk.queues.services import create_queue
    from kiosk.tenancy import tenant_scope

    from kiosk.auth import hashing

    app = create_app()
    seed = {"password": PASSWORD, "establishments": []}
    # Every seeded user has the same password: hash it once (scrypt costs
    # ~60 ms, which made seeding 450 users take half a minute).
    one_hash = hashing.hash_password(PASSWORD)
    with app.app_context(), mock.patch.object(hashing, "hash_password", lambda _password, **_kw: one_hash):
        for n in range(args.establishments):
            est = create_establishment(f"Load {n:03d}", "Africa/Abidjan", "XOF", 500, "fr")
            entry = {"id": str(est.id), "vip_price": 500, "currency": "XOF", "managers": [], "agents": [],
                     "queues": [], "devices": [], "displays": []}
            entry["managers"].append(auth_services.create_user(est.id, f"manager{n}@load.test", PASSWORD,
                                                               "manager").email)
            for a in range(args.agents):
                entry["agents"].append(auth_services.create_user(est.id, f"agent{n}-{a}@load.test", PASSWORD,
                                                                 "agent").email)
            with tenant_scope(est.id):
                queues = [create_queue("Consultations", "A"), create_queue("Caisse", "C")]
                entry["queues"] = [str(q.id) for q in queues]
                for d in range(args.devices):
                    device, secret = register_device(f"Kiosk {d}", queues[d % 2].id)
                    entry["devices"].append({"device_id": device.device_id, "secret_key": secret})
                for s in range(args.displays):
                    entry["displays"].append(create_display(f"TV {s}").token)
            seed["establishments"].append(entry)
    json.dump(seed, sys.stdout)


if __name__ == "__main__":
    main()
