"""Operations surface: Flower only behind basic auth; the Procfile starts every process; the web
process behind a proxy, after a crash and on SIGTERM."""
from __future__ import annotations

import base64
import json
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
    assert set(entries) >= {"web", "display", "worker", "beat", "flower"}
    # HTTP under granian through the launcher that sets logs, metrics and the GC up
    # (serve.py); the TVs' WebSockets under gunicorn's gevent worker (gunicorn.conf.py).
    assert entries["web"].split() == ["python", "serve.py"]
    assert "gunicorn.conf.py" in entries["display"] and "GUNICORN_WORKER_CLASS=gevent" in entries["display"]
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


def _call(url: str, headers: dict | None = None, timeout: float = 5):
    """(status, headers: case-insensitive), redirects not followed."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


@pytest.mark.slow
def test_the_web_process_behind_a_proxy_survives_a_crash_and_stops_on_sigterm(database_url, redis_url, tmp_path):
    """serve.py (granian) as the Procfile runs it: scheme and client address from the proxy's
    headers (the app's ProxyFix; no server setting), a killed worker replaced, a clean stop."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "test",
           "SECRET_KEY": "test-secret-key-" + "x" * 32, "DEVICE_SECRET_KEYS": DEVICE_KEY,
           "WEB_CONCURRENCY": "1", "WEB_THREADS": "2", "BIND": f"127.0.0.1:{port}", "RATELIMIT_ENABLED": "0",
           "FORCE_HTTPS": "1", "TRUSTED_PROXY_COUNT": "1", "METRICS_ALLOWED_NETWORKS": "192.0.2.7/32",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    log_path = tmp_path / "web.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen([str(ROOT / ".venv/bin/python"), "serve.py"], cwd=ROOT, env=env, stdout=log,
                                   stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def wait_up(what: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _call(base + "/health", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            assert process.poll() is None, f"the web process exited; see {log_path.read_text()[-2000:]}"
            assert time.monotonic() < deadline, what
            time.sleep(0.1)

    def workers() -> set[int]:
        out = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout
        return {int(pid) for pid in out.split()}

    try:
        wait_up("the web process did not start")
        # Plain HTTP from the proxy: redirected to HTTPS; HTTPS at the proxy: served, with HSTS.
        status, headers = _call(base + "/login", {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "kiosk.example"})
        assert status in (301, 302) and headers["Location"].startswith("https://kiosk.example/login"), dict(headers)
        status, headers = _call(base + "/login", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "kiosk.example"})
        assert status == 200 and "max-age" in headers.get("Strict-Transport-Security", ""), (status, dict(headers))
        # The client's address is the proxy's X-Forwarded-For, not the socket's (127.0.0.1).
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.7"}
        assert _call(base + "/metrics", forwarded)[0] == 200
        assert _call(base + "/metrics", {"X-Forwarded-Proto": "https"})[0] == 404

        (first,) = workers()
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not (workers() - {first}):
            assert time.monotonic() < deadline, "no worker replaced the killed one"
            time.sleep(0.1)
        wait_up("the replacement worker did not serve")

        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    text = log_path.read_text()
    assert "Unexpected exit from worker-1" in text and "Granian shutdown completed" in text
    for line in text.splitlines():
        json.loads(line)  # the server's lines, the crash and the stop included, are JSON


def test_the_web_process_hands_the_app_the_request_keys_only(monkeypatch, tmp_path):
    """granian copies os.environ into every request's environ; serve.py takes it back out."""
    import importlib.util

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # serve.py sets it when unset
    monkeypatch.setenv("SECRET_KEY", "process-secret-" + "x" * 32)
    monkeypatch.setenv("HTTP_X_FROM_THE_PROCESS", "not-a-header")
    monkeypatch.setenv("HTTP_X_BOTH", "process-value")
    spec = importlib.util.spec_from_file_location("kiosk_serve", ROOT / "serve.py")
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    seen: dict = {}
    app = serve.without_process_environment(lambda environ, start_response: seen.update(environ) or [])
    request = {"REQUEST_METHOD": "GET", "PATH_INFO": "/health", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "5000", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
               "HTTP_HOST": "kiosk.example", "HTTP_X_BOTH": "client-value"}
    app(dict(os.environ) | request, None)  # as granian builds it (granian/wsgi.py)
    assert seen == request


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
