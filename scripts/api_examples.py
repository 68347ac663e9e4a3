"""Generate docs/api.md: one real request/response for every JSON endpoint.

    .venv/bin/python scripts/api_examples.py            # rewrites docs/api.md
    .venv/bin/python scripts/api_examples.py --stdout   # prints instead

Runs the real app in-process on a throwaway embedded setup (SQLite file in
a temp dir, in-process Redis stand-in, Celery tasks eager), drives it the
way a manager, an agent, a kiosk (signed requests) and a TV would, and
writes what it actually answered. Nothing in the examples is typed by hand;
only long secrets are shortened (``…``). An endpoint of the contract that
this build does not have yet is listed as such, so re-running the script
after a merge picks it up.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

OUTPUT = os.path.join(ROOT, "docs", "api.md")
SECRET_FIELDS = {"access_token", "secret_key", "token", "claim_code"}


class Recorder:
    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.sections: list[tuple[str, list[str]]] = []
        self.missing: list[str] = []
        self.adapter = app.url_map.bind("localhost")

    def section(self, title: str, intro: str = "") -> None:
        self.sections.append((title, [intro.strip() + "\n"] if intro else []))

    def exists(self, method: str, path: str) -> bool:
        from werkzeug.exceptions import MethodNotAllowed, NotFound

        try:
            self.adapter.match(path.split("?")[0], method)
            return True
        except (NotFound, MethodNotAllowed):
            return False

    def call(self, note: str, method: str, path: str, *, json_body=None, bearer: str | None = None,
             device: tuple[str, str] | None = None, show_auth: str | None = None):
        if not self.exists(method, path):
            self.missing.append(f"{method} {path.split('?')[0]}")
            self.sections[-1][1].append(f"#### {method} `{path}`\n\n_{note}_ — not in this build yet.\n")
            return None
        body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        headers = {}
        shown = []
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
            shown.append(show_auth or "Authorization: Bearer <manager JWT>")
        if device:
            from kiosk.devices.signing import signed_headers

            headers.update(signed_headers(device[0], device[1], method, path, body))
            shown.append("X-Device-Id, X-Timestamp, X-Nonce, X-Signature: v1=… (scheme v1)")
        if body:
            headers["Content-Type"] = "application/json"
        response = self.client.open(path, method=method, data=body, headers=headers)
        data = response.get_json(silent=True)
        lines = [f"#### {method} `{path}`\n", f"{note}\n", "```http", f"{method} {path}"]
        lines += shown
        if json_body is not None:
            lines += ["Content-Type: application/json", "", json.dumps(json_body, indent=2, ensure_ascii=False)]
        lines += ["```", "", f"→ **{response.status_code}**", ""]
        if data is not None:
            lines += ["```json", _pretty(_shorten(data)), "```", ""]
        elif response.status_code == 204:
            lines += ["(no body)", ""]
        self.sections[-1][1].append("\n".join(lines))
        return response

    def render(self) -> str:
        out = [HEADER.strip(), ""]
        for title, blocks in self.sections:
            out += [f"## {title}", ""] + blocks
        if self.missing:
            out += ["## Not in this build yet", "", "Endpoints of the contract the last run could not reach:", ""]
            out += [f"- `{m}`" for m in sorted(set(self.missing))] + [""]
        return "\n".join(out).rstrip() + "\n"


def _pretty(data, indent: str = "") -> str:
    """Indented JSON, but a flat object or list (a day of stats, an ETA) stays on one line."""
    flat = json.dumps(data, ensure_ascii=False, separators=(", ", ": "))
    if not isinstance(data, (dict, list)) or len(flat) <= 72 and not any(
            isinstance(v, (dict, list)) and v for v in (data.values() if isinstance(data, dict) else data)):
        return flat
    inner = indent + "  "
    if isinstance(data, dict):
        items = [f"{inner}{json.dumps(k)}: {_pretty(v, inner)}" for k, v in data.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    items = [inner + _pretty(v, inner) for v in data]
    return "[\n" + ",\n".join(items) + "\n" + indent + "]"


def _shorten(data):
    if isinstance(data, dict):
        return {k: (v[:12] + "…" if k in SECRET_FIELDS and isinstance(v, str) and len(v) > 16 else _shorten(v))
                for k, v in data.items()}
    if isinstance(data, list):
        return [_shorten(v) for v in data]
    return data


HEADER = """
# Kiosk HTTP API — examples

Generated by `scripts/api_examples.py` from a real run of the app (embedded
SQLite, in-process Redis stand-in, Celery tasks run in-process); do not edit
by hand, re-run the script. The contract (paths, fields, statuses, error
codes) is `ARCHITECTURE.md` section 5; these are what the server really
answered. Secrets are shortened with `…`.

Conventions:

- Staff endpoints take `Authorization: Bearer <JWT>` from `POST /auth/login`
  (the dashboard sends the same JWT in an HttpOnly cookie, with CSRF).
- Device endpoints (`/iot/*` except `/iot/register`) are signed (scheme v1,
  `X-Device-Id`, `X-Timestamp`, `X-Nonce`, `X-Signature`).
- Every error is `{"error": {"code", "message", "details"}}`; `message` is
  translated (French by default), `code` is stable English. Validation
  failures are 400 `validation_error` with per-field `details`.
- Money is an integer in the currency's minor unit (XOF has none: 500 is
  500 F CFA). Stats days and months are the establishment's local calendar.

Declaring a route in `/openapi.json`: the document is built from the URL map
and from what each JSON route declares next to itself with
`kiosk.observability.openapi.document`, never from the view's code. Declare
the module-level schema instances the view itself loads and dumps, and every
success status:
`@document(body=queue_create_schema, responses={201: queue_schema})` under
`@bp.post(...)`; also `query=`, a list for `body=` (any one of them),
`body_required=False`, `{204: "description"}` for an answer without a body,
`summary=`, `security=`. Path parameters, security by path prefix and the
common error answers come from the rule. A JSON route without a declaration
fails `tests/observability/test_openapi.py::test_every_json_route_declares_its_schemas`.
"""


CASH_NOTES = """
Rules (see also `kiosk/payments/cash.py` and [devices.md](devices.md), "Cash handling"):

- The box holds every payment the kiosk reported and no collection has
  counted yet: `CONFIRMED`, `FAILED` and `PENDING` alike (a refused or
  still-processing payment dropped its coins too). `expected` sums them in
  the establishment's currency; amounts a misconfigured kiosk reported in
  another currency are listed in `other_currencies`, never added.
- `POST .../collections` `{"counted"}` claims those payments: each payment is
  counted by exactly one collection, whatever the timing. `difference` is
  `counted - expected` (negative: a shortfall).
- Optional `last_collection_id` (what `GET .../cash` showed; `null` for a
  box never collected): if another collection was recorded since, the answer
  is **409 `collection_conflict`** with the current `last_collection_id` in
  `details`, and nothing is recorded. Without it, concurrent collections are
  serialised: the second one counts only what arrived after the first.
- Manager only (agents 403); another establishment's kiosk is 404.
"""

STATS_NOTES = """
Rules (see also `kiosk/stats/services.py`):

- `from` and `to` are both inclusive, on the establishment's local calendar
  (`timezone` in the answer): a payment at 23:30 local time counts for that
  local day, whatever the UTC date; DST days have 23 or 25 hours.
- Daily and VIP ranges: `YYYY-MM-DD`, at most 366 days; monthly: `YYYY-MM`,
  at most 12 months (13 months is always over 366 days). Dates from
  2000-01-01 to 2099-12-31. A malformed, missing, reversed or too long range,
  or any other query parameter, is 400 `validation_error` with the field in
  `details`.
- Revenue counts CONFIRMED payments only, in minor units of `currency`.
  Every day (month) of the range is present, with zeros when nothing sold.
- The VIP count is the number of VIP tickets issued per local day. A VIP
  ticket exists only for a CONFIRMED payment, so it equals the VIP sales;
  a VIP ticket later cancelled or marked no-show was still paid and counts.
- Answers are cached 300 s in Redis per establishment and range; any ticket
  change or confirmed payment of that establishment invalidates them at
  once. If Redis is down, answers are computed from the database.
"""


def build_app(workdir: str):
    from cryptography.fernet import Fernet

    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    from kiosk import create_app

    return create_app({"DATABASE_URL": f"sqlite:///{workdir}/examples.sqlite3", "SECRET_KEY": "e" * 48,
                       "DEVICE_SECRET_KEYS": Fernet.generate_key().decode(), "KIOSK_ENV": "development",
                       "PUBLIC_BASE_URL": "https://kiosk.example", "RATELIMIT_ENABLED": False})


def seed(app) -> dict:
    from flask_migrate import upgrade

    from kiosk.auth import services as auth
    from kiosk.establishments.services import create_establishment

    with app.app_context():
        upgrade(revision="heads")
        est = create_establishment("Clinique du Plateau", "Africa/Abidjan", "XOF", 500, "fr")
        manager = auth.create_user(est.id, "manager@clinique.example", "demo password 1", "manager")
        agent = auth.create_user(est.id, "agent@clinique.example", "demo password 2", "agent")
        return {"id": str(est.id), "manager": manager.email, "agent": agent.email}


def backdate_payments(app, establishment_id: str, device_id: str) -> None:
    """A few CONFIRMED payments on earlier days, so the stats show more than today."""
    from kiosk.extensions import db
    from kiosk.payments.models import Transaction
    from kiosk.tenancy import tenant_scope

    now = datetime.now(timezone.utc)
    with app.app_context(), tenant_scope(establishment_id):
        for days_ago, amount in ((1, 500), (1, 1000), (3, 500), (5, 500)):
            when = now - timedelta(days=days_ago)
            db.session.add(Transaction(transaction_id=uuid.uuid4(), device_id=device_id, amount=amount,
                                       currency="XOF", status="CONFIRMED", payload_hash="0" * 64, created_at=when,
                                       updated_at=when))
        db.session.commit()


STAFF_NOTES = """
Staff accounts belong to the manager's establishment only (another
establishment's user is 404). Deactivating a user, or changing their role or
password, revokes every token issued to them before: their next request is
401 `token_revoked`. `POST /auth/logout` does the same for the caller.
"""

AUDIT_NOTES = """
Append-only and per establishment. Each event: `id`, `occurred_at` (UTC),
`actor_id` (the staff user; `null` for the system: a kiosk using its claim
code, a command-line action), `action`, `target_type`, `target_id` and
`details` (a summary of the change; never a password, secret or claim code).
Actions: `user.created`, `user.deactivated`, `user.reactivated`,
`user.role_changed` (`from`, `to`), `user.password_reset`,
`device.registered`, `device.claim_issued`, `device.claimed`,
`device.disabled`, `device.enabled`, `device.secret_rotated`. `from` and `to`
are required, at most 366 days apart; `limit` (default 500, at most 1000)
caps the answer and `truncated` says when more matched.
"""


def run() -> str:
    workdir = tempfile.mkdtemp(prefix="kiosk-api-examples-")
    app = build_app(workdir)
    demo = seed(app)
    r = Recorder(app)

    r.section("Authentication")
    login = r.call("Staff login; the token carries `sub`, `establishment_id`, `role`, `exp`.", "POST",
                   "/auth/login", json_body={"email": demo["manager"], "password": "demo password 1"})
    token = login.get_json()["access_token"]
    agent_token = r.client.post("/auth/login", json={"email": demo["agent"], "password": "demo password 2"}
                                ).get_json()["access_token"]
    r.call("Wrong password.", "POST", "/auth/login", json_body={"email": demo["manager"], "password": "nope"})

    r.section("Queues")
    queue = r.call("Create a queue (manager).", "POST", "/api/queues", bearer=token,
                   json_body={"name": "Consultations", "prefix": "C"})
    queue_id = queue.get_json()["id"] if queue is not None and queue.status_code == 201 else None
    r.call("List the queues.", "GET", "/api/queues", bearer=token)
    if queue_id:
        r.call("Rename a queue, or close it with `active: false` (manager).", "PATCH", f"/api/queues/{queue_id}",
               bearer=token, json_body={"name": "Consultations générales"})

    r.section("Devices and displays")
    claim = r.call("A one-use claim code for a kiosk being installed (15 min).", "POST", "/api/devices/claims",
                   bearer=token, json_body={"label": "Kiosk by the door", "queue_id": queue_id})
    device_id = secret = None
    registered = r.call("Register a kiosk with a manager's JWT; the secret is shown this once.", "POST",
                        "/iot/register", bearer=token, json_body={"label": "Entrance kiosk", "queue_id": queue_id})
    if registered is not None and registered.status_code == 201:
        device_id, secret = registered.get_json()["device_id"], registered.get_json()["secret_key"]
    if claim is not None and claim.status_code == 201:
        r.call("Register a kiosk with a claim code (no JWT on the device).", "POST", "/iot/register",
               json_body={"claim_code": claim.get_json()["claim_code"]})
    if device_id:
        r.call("List devices.", "GET", "/api/devices", bearer=token)
        r.call("One device.", "GET", f"/api/devices/{device_id}", bearer=token)
        r.call("Disable a device (its requests get 403 device_disabled).", "POST",
               f"/api/devices/{device_id}/disable", bearer=token)
        r.call("Enable it again.", "POST", f"/api/devices/{device_id}/enable", bearer=token)
        rotated = r.call("Rotate the secret; the old one keeps working 24 h.", "POST",
                         f"/api/devices/{device_id}/rotate-secret", bearer=token)
        if rotated is not None and rotated.status_code == 200:
            secret = rotated.get_json().get("secret_key", secret)
    display = r.call("Add a TV display; `url` is the page to open on the TV.", "POST", "/api/displays",
                     bearer=token, json_body={"label": "Waiting room TV"})
    r.call("List displays with their last heartbeat.", "GET", "/api/displays", bearer=token)
    display_id = display.get_json()["id"] if display is not None and display.status_code == 201 else None
    if display_id:
        r.call("One display.", "GET", f"/api/displays/{display_id}", bearer=token)
        r.call("Rename it.", "PATCH", f"/api/displays/{display_id}", bearer=token,
               json_body={"label": "TV, waiting room 1"})

    r.section("Payments (signed, from the kiosk)")
    vip_ticket_token = None
    if device_id:
        txid = str(uuid.uuid4())
        r.call("A coin payment. Tasks run in-process here, so it is already final.", "POST", "/iot/payments",
               device=(device_id, secret), json_body={"transaction_id": txid, "amount": 500})
        r.call("The same payment again (a device retry): the current state, never a second ticket.", "POST",
               "/iot/payments", device=(device_id, secret), json_body={"transaction_id": txid, "amount": 500})
        r.call("Same id, different payload.", "POST", "/iot/payments", device=(device_id, secret),
               json_body={"transaction_id": txid, "amount": 1000})
        status = r.call("Payment status, with the VIP ticket.", "GET", f"/iot/payments/{txid}",
                        device=(device_id, secret))
        if status is not None and status.status_code == 200 and status.get_json().get("ticket"):
            vip_ticket_token = status.get_json()["ticket"]["tracking_url"].rstrip("/").split("/")[-1]
        r.call("Below the VIP price: FAILED with a reason.", "POST", "/iot/payments", device=(device_id, secret),
               json_body={"transaction_id": str(uuid.uuid4()), "amount": 100})
        r.call("Amount as a string is a validation error (types are strict).", "POST", "/iot/payments",
               device=(device_id, secret), json_body={"transaction_id": str(uuid.uuid4()), "amount": "500"})
        r.call("A free STANDARD ticket printed by the kiosk (idempotent on request_id).", "POST", "/iot/tickets",
               device=(device_id, secret), json_body={"request_id": str(uuid.uuid4())})
        r.call("Unsigned request.", "POST", "/iot/payments",
               json_body={"transaction_id": str(uuid.uuid4()), "amount": 500})
        backdate_payments(app, demo["id"], device_id)

    r.section("Cash boxes (manager)", CASH_NOTES)
    if device_id:
        box = r.call("What the kiosk's coin box should hold: every payment it reported since the last collection, "
                     "CONFIRMED, FAILED or still PENDING (the coins are in the box).", "GET",
                     f"/api/devices/{device_id}/cash", bearer=token)
        seen = box.get_json().get("last_collection_id") if box is not None and box.status_code == 200 else None
        expected = box.get_json().get("expected", 0) if box is not None and box.status_code == 200 else 0
        r.call("Empty the box and record what was counted (here 500 short). The count starts again from 0.",
               "POST", f"/api/devices/{device_id}/collections", bearer=token,
               json_body={"counted": max(expected - 500, 0), "last_collection_id": seen})
        r.call("A second manager recording the same box with what they saw before: refused.", "POST",
               f"/api/devices/{device_id}/collections", bearer=token,
               json_body={"counted": expected, "last_collection_id": seen})
        r.call("`counted` must be a whole number >= 0 (types are strict).", "POST",
               f"/api/devices/{device_id}/collections", bearer=token, json_body={"counted": "500"})
        r.call("The box right after the collection.", "GET", f"/api/devices/{device_id}/cash", bearer=token)
        r.call("The kiosk's collections, newest first.", "GET", f"/api/devices/{device_id}/collections",
               bearer=token)
        r.call("An agent.", "GET", f"/api/devices/{device_id}/cash", bearer=agent_token,
               show_auth="Authorization: Bearer <agent JWT>")
    r.call("Another establishment's (or an unknown) kiosk.", "GET", "/api/devices/dev_unknown/cash", bearer=token)
    r.call("The threshold beyond which a difference is highlighted.", "GET", "/api/settings/cash", bearer=token)
    r.call("Change it (minor units; 0 highlights any difference).", "PUT", "/api/settings/cash", bearer=token,
           json_body={"difference_threshold": 200})

    r.section("Tickets (staff)")
    ticket_id = tracking = None
    if queue_id:
        created = r.call("Issue a STANDARD ticket at the desk.", "POST", f"/api/queues/{queue_id}/tickets",
                         bearer=agent_token, show_auth="Authorization: Bearer <agent JWT>",
                         json_body={"kind": "STANDARD"})
        r.client.post(f"/api/queues/{queue_id}/tickets", json={"kind": "STANDARD"},
                      headers={"Authorization": f"Bearer {agent_token}"})
        if created is not None and created.status_code == 201:
            tracking = created.get_json()["tracking_url"].rstrip("/").split("/")[-1]
        r.call("The queue with its waiting list in calling order.", "GET", f"/api/queues/{queue_id}",
               bearer=agent_token, show_auth="Authorization: Bearer <agent JWT>")
        called = r.call("Call the next ticket to counter 2 (VIP first, within the fairness rule).", "POST",
                        f"/api/queues/{queue_id}/call-next", bearer=agent_token,
                        show_auth="Authorization: Bearer <agent JWT>", json_body={"counter": "2"})
        if called is not None and called.status_code == 200:
            ticket_id = called.get_json()["ticket_id"]
    if ticket_id:
        agent = {"bearer": agent_token, "show_auth": "Authorization: Bearer <agent JWT>"}
        r.call("One ticket.", "GET", f"/api/tickets/{ticket_id}", **agent)
        r.call("Call it again (the TV announces it again).", "POST", f"/api/tickets/{ticket_id}/recall", **agent)
        r.call("Served.", "POST", f"/api/tickets/{ticket_id}/serve", **agent)
        r.call("A transition the state does not allow.", "POST", f"/api/tickets/{ticket_id}/cancel", **agent)
        nxt = r.client.post(f"/api/queues/{queue_id}/call-next", json={"counter": "2"},
                            headers={"Authorization": f"Bearer {agent_token}"})
        if nxt.status_code == 200:
            r.call("The customer did not come.", "POST", f"/api/tickets/{nxt.get_json()['ticket_id']}/no-show",
                   **agent)
        waiting = r.client.get(f"/api/queues/{queue_id}", headers={"Authorization": f"Bearer {agent_token}"})
        rest = (waiting.get_json() or {}).get("waiting") or []
        if rest:
            r.call("Cancel a waiting ticket.", "POST", f"/api/tickets/{rest[0]['ticket_id']}/cancel", **agent)
        r.call("Another establishment's (or an unknown) id.", "GET", f"/api/tickets/{uuid.uuid4()}", **agent)
    r.call("Calling settings.", "GET", "/api/settings/calling", bearer=token)
    r.call("Change them (manager).", "PATCH", "/api/settings/calling", bearer=token,
           json_body={"vip_streak_max": 2, "max_standard_wait_min": 40})
    theme = r.call("The establishment's theme.", "GET", "/api/theme", bearer=token)
    if theme is not None and theme.status_code == 200:
        current = theme.get_json()
        r.call("Change it (manager; colours are checked for contrast).", "PUT", "/api/theme", bearer=token,
               json_body={"primary": "#004d40", "accent": current["accent"], "vip": current["vip"],
                          "logo_url": current.get("logo_url"), "sound": current.get("sound", "chime")})

    r.section("Public pages (the token is the secret)")
    for label, token_value in (("VIP", vip_ticket_token), ("STANDARD", tracking)):
        if token_value:
            r.call(f"A {label} ticket's live state (the page polls it; ETag supported).", "GET",
                   f"/t/{token_value}.json")
    if display is not None and display.status_code == 201:
        r.call("The TV's state (poll fallback of the WebSocket snapshot).", "GET",
               f"/display/{display.get_json()['token']}/state.json")
        r.call("Revoke a display (manager): its token stops working.", "POST",
               f"/api/displays/{display.get_json()['id']}/revoke", bearer=token)

    r.section("Stats (manager)", STATS_NOTES)
    with app.app_context():
        from kiosk.stats import services as stats
        from kiosk.tenancy import tenant_scope

        with tenant_scope(demo["id"]):
            today = stats.local_today()
    week = (today - timedelta(days=6)).isoformat()
    r.call("Revenue per local day, every day present (zeros included), CONFIRMED only, minor units.", "GET",
           f"/stats/revenue/daily?from={week}&to={today.isoformat()}", bearer=token)
    first_month = f"{today.year}-01" if today.month > 1 else f"{today.year - 1}-12"
    r.call("Revenue per local month.", "GET", f"/stats/revenue/monthly?from={first_month}&to={today:%Y-%m}",
           bearer=token)
    r.call("VIP tickets issued per local day.", "GET", f"/stats/vip/count?from={week}&to={today.isoformat()}",
           bearer=token)
    r.call("Revenue per kiosk over local days (every kiosk listed, zeros included; CONFIRMED only).", "GET",
           f"/stats/revenue/devices?from={week}&to={today.isoformat()}", bearer=token)
    r.call("Reversed range.", "GET", f"/stats/revenue/daily?from={today.isoformat()}&to={week}", bearer=token)
    r.call("Range over 366 days, and an unknown parameter.", "GET",
           f"/stats/revenue/daily?from=2024-01-01&to=2025-06-30&tz=UTC", bearer=token)
    r.call("An agent.", "GET", f"/stats/vip/count?from={week}&to={today.isoformat()}", bearer=agent_token,
           show_auth="Authorization: Bearer <agent JWT>")
    r.call("No token.", "GET", f"/stats/revenue/daily?from={week}&to={today.isoformat()}")

    r.section("Staff accounts and sessions (manager)", STAFF_NOTES)
    r.call("The establishment's staff.", "GET", "/api/users", bearer=token)
    added = r.call("Add an agent.", "POST", "/api/users", bearer=token,
                   json_body={"email": "new.agent@example.test", "password": "a long password", "role": "agent"})
    r.call("An email already used (in any establishment).", "POST", "/api/users", bearer=token,
           json_body={"email": "new.agent@example.test", "password": "a long password", "role": "agent"})
    if added is not None and added.status_code == 201:
        user_id = added.get_json()["id"]
        new_token = r.client.post("/auth/login", json={"email": "new.agent@example.test",
                                                       "password": "a long password"}).get_json()["access_token"]
        r.call("Make them a manager (their tokens are revoked).", "PATCH", f"/api/users/{user_id}", bearer=token,
               json_body={"role": "manager"})
        r.call("A token issued before the change.", "GET", "/api/queues", bearer=new_token,
               show_auth="Authorization: Bearer <the new agent's earlier JWT>")
        r.call("Set a new password.", "PATCH", f"/api/users/{user_id}", bearer=token,
               json_body={"password": "another long password"})
        r.call("Deactivate them: they can no longer sign in.", "PATCH", f"/api/users/{user_id}", bearer=token,
               json_body={"active": False})
    with app.app_context():
        from kiosk.auth.models import User
        import sqlalchemy

        from kiosk.extensions import db as _db
        from kiosk.tenancy import system_scope

        with system_scope():
            me = str(_db.session.scalar(sqlalchemy.select(User.id).where(User.email == demo["manager"])))
    r.call("The last active manager cannot deactivate or demote themself.", "PATCH", f"/api/users/{me}",
           bearer=token, json_body={"role": "agent"})

    r.section("Audit trail (manager)", AUDIT_NOTES)
    r.call("Who did what and when, newest first (`from`/`to`: UTC days, or date-times with an offset).", "GET",
           f"/api/audit?from={today.isoformat()}&to={today.isoformat()}&limit=5", bearer=token)
    r.call("A reversed range.", "GET", f"/api/audit?from={today.isoformat()}&to={week}", bearer=token)

    r.section("Signing out")
    r.call("Revoke every token of the caller (all their sessions).", "POST", "/auth/logout", bearer=token)
    r.call("The same token afterwards.", "GET", "/api/queues", bearer=token)

    r.section("Operations")
    r.call("Liveness (no I/O).", "GET", "/health")
    r.call("Readiness: database, Redis, broker, with timings (503 when one is down).", "GET", "/health/ready")
    if r.exists("GET", "/openapi.json"):
        doc = r.client.get("/openapi.json").get_json() or {}
        r.sections[-1][1].append(
            "#### GET `/openapi.json`\n\nOpenAPI 3 document generated from the marshmallow schemas → **200**, "
            f"`openapi` {doc.get('openapi')!r}, {len(doc.get('paths', {}))} paths (too long to reproduce).\n")
    else:
        r.missing.append("GET /openapi.json")
    return r.render()


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate docs/api.md from a real run.")
    parser.add_argument("--stdout", action="store_true")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)  # the app's JSON request lines would drown the output
    text = run()
    if args.stdout:
        sys.stdout.write(text)
    else:
        with open(OUTPUT, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
