"""Operations surface: Flower only behind basic auth; the Procfile starts every process."""
from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DEVICE_KEY
from tests.fault_services import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_procfile_runs_web_worker_beat_and_flower_behind_auth():
    entries = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line)
    assert set(entries) >= {"web", "worker", "beat", "flower"}
    assert "gunicorn.conf.py" in entries["web"]
    assert entries["flower"].strip() == "scripts/flower"
    assert "--basic-auth" not in entries["flower"]  # never on a command line


def test_flower_refuses_to_start_without_auth_in_production():
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    out = subprocess.run([str(ROOT / "scripts/flower")], cwd=ROOT, env={**env, "KIOSK_ENV": "production"},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "FLOWER_BASIC_AUTH" in out.stderr


def _get(url: str, auth: str | None = None) -> int:
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_flower_answers_only_with_its_basic_auth(database_url, redis_url):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "test",
           "SECRET_KEY": "test-secret-key-" + "x" * 32, "DEVICE_SECRET_KEYS": DEVICE_KEY,
           "FLOWER_BASIC_AUTH": "ops:flower-test-password", "FLOWER_PORT": str(port)}
    process = subprocess.Popen([str(ROOT / "scripts/flower")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                status = _get(url)
                break
            except OSError:
                assert process.poll() is None, "flower exited"
                assert time.monotonic() < deadline, "flower did not start"
                time.sleep(0.2)
        assert status == 401
        assert _get(url, "ops:wrong") == 401
        assert _get(url, "ops:flower-test-password") == 200
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert b"flower-test-password" not in cmdline
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def test_rotate_device_keys_reencrypts_every_secret_with_the_newest_key(app, runner, world, device_client,
                                                                          owner_engine):
    import json
    import uuid

    import sqlalchemy as sa
    from cryptography.fernet import Fernet, InvalidToken

    new_key = Fernet.generate_key().decode()
    old_keys = app.config["DEVICE_SECRET_KEYS"]
    try:
        app.config["DEVICE_SECRET_KEYS"] = [new_key, *old_keys]
        result = runner.invoke(args=["rotate-device-keys"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["rotated"] >= 2
        with owner_engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT secret_encrypted FROM devices")).scalars().all()
        for token in stored:
            Fernet(new_key).decrypt(token.encode())  # the new key alone opens every secret
            with pytest.raises(InvalidToken):
                Fernet(old_keys[0]).decrypt(token.encode())
        # Old keys removed: devices still sign in with the secrets they hold.
        app.config["DEVICE_SECRET_KEYS"] = [new_key]
        device = device_client(world.a.device_id, world.a.device_secret)
        assert device.get(f"/iot/payments/{uuid.uuid4()}").status_code == 404
    finally:
        app.config["DEVICE_SECRET_KEYS"] = old_keys


def test_outside_scan_of_a_running_server_finds_nothing(app, world):
    """scripts/scan.py against the app behind a real HTTP server: headers, shapes, limits, no 5xx."""
    import importlib.util
    import threading

    from werkzeug.serving import make_server

    spec = importlib.util.spec_from_file_location("kiosk_scan", ROOT / "scripts" / "scan.py")
    scan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scan)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scanner = scan.Scanner(f"http://127.0.0.1:{server.server_port}")
        scanner.run(limits=True)
    finally:
        server.shutdown()
    assert scanner.requests > 40
    assert not scanner.findings, scanner.findings
