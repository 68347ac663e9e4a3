#!/usr/bin/env bash
# End-to-end check of the firmware core against the real server, on the
# embedded default (a throwaway SQLite file, in-process Redis stand-in and
# tasks): seed-demo, a manager's claim code, then test/e2e/e2e_main.cpp
# registers with it, pays, loses an answer, loses power, drifts its clock.
# Not part of run.sh (it starts a server); run it by hand:
#   bash firmware/test/e2e.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fw="$(dirname "$here")"
repo="$(dirname "$fw")"
py="$repo/.venv/bin/python"
[ -x "$py" ] || { echo "e2e: run scripts/setup first (.venv missing)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/kiosk-fw-e2e.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

g++ -std=c++17 -O0 -Wall -Wextra -Werror -I"$fw/lib/kiosk_core/src" -I"$here" -I"$here/e2e" \
  "$fw"/lib/kiosk_core/src/kiosk/*.cpp "$here/e2e/e2e_main.cpp" -lmbedcrypto -o "$work/kiosk_e2e" &
build_pid=$!

cd "$repo"
export FLASK_APP=wsgi
export DATABASE_URL="sqlite:///$work/e2e.db"
unset REDIS_URL KIOSK_ENV || true
export SECRET_KEY="e2e-$(date +%s%N)"
DEVICE_SECRET_KEYS="$("$py" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
export DEVICE_SECRET_KEYS
port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

.venv/bin/flask db upgrade heads >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; exit 1; }
.venv/bin/flask seed-demo --base-url "http://127.0.0.1:$port" 2>/dev/null >"$work/demo.json"
.venv/bin/flask run --host 127.0.0.1 --port "$port" --with-threads >"$work/server.log" 2>&1 &
server_pid=$!

claim="$("$py" - "$port" "$work/demo.json" <<'PY'
import json, sys, time, urllib.request
port, demo = sys.argv[1], json.load(open(sys.argv[2]))
base = f"http://127.0.0.1:{port}"
deadline = time.time() + 30
while True:
    try:
        urllib.request.urlopen(base + "/health", timeout=2)
        break
    except Exception:
        if time.time() > deadline:
            raise SystemExit("server did not start")
        time.sleep(0.2)
def post(path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": "Bearer " + token} if token else {})})
    return json.load(urllib.request.urlopen(req, timeout=10))
login = demo["logins"]["manager"]
token = post("/auth/login", {"email": login["email"], "password": login["password"]})["access_token"]
queue = demo["device"]["queue_id"]
print(post("/api/devices/claims", {"label": "E2E kiosk", "queue_id": queue}, token)["claim_code"])
PY
)"
wait "$build_pid"
start=$(date +%s)
"$work/kiosk_e2e" "$port" "$claim" || { echo "--- server log (tail) ---" >&2; tail -40 "$work/server.log" >&2; exit 1; }
echo "e2e: $(( $(date +%s) - start )) s against the real server"
