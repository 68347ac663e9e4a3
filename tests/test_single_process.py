"""The embedded default refuses a second serving process on the same instance.

Real processes on a fresh copy of the project (its own instance folder):
a first one holds the app, the next ones try to start beside it.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow

HOLD = "from wsgi import app\nimport sys, time\nprint('serving', flush=True)\ntime.sleep(120)\n"
START = "from wsgi import app\nprint('started')\n"


@pytest.fixture
def site(tmp_path, redis_url):
    for item in ("kiosk", "migrations", "wsgi.py", "celery_worker.py"):
        src = os.path.join(ROOT, item)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(
            src, tmp_path / item, **({"ignore": shutil.ignore_patterns("__pycache__")} if os.path.isdir(src) else {}))
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEVICE_SECRET_KEYS", "FLASK_RUN_FROM_CLI")}
    processes: list[subprocess.Popen] = []

    class Site:
        path = tmp_path
        environ = env
        real_redis = redis_url

        def run(self, *args, extra_env=None, timeout=120):
            return subprocess.run([sys.executable, *args], cwd=tmp_path, env={**env, **(extra_env or {})},
                                  capture_output=True, text=True, timeout=timeout)

        def hold(self):
            """A first process serving the embedded instance; returns once it holds the app."""
            process = subprocess.Popen([sys.executable, "-c", HOLD], cwd=tmp_path, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            processes.append(process)
            assert process.stdout.readline().strip() == "serving", process.stderr.read()[-2000:]
            return process

    assert Site().run("-m", "flask", "--app", "wsgi", "db", "upgrade").returncode == 0
    yield Site()
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(10)


def test_a_second_process_on_the_same_embedded_instance_refuses_to_start(site):
    first = site.hold()
    second = site.run("-c", START)
    assert second.returncode != 0 and "started" not in second.stdout
    message = second.stderr
    assert "SecondProcessError" in message
    assert f"in process {first.pid}" in message
    assert "REDIS_URL" in message and "single process" in message


def test_flask_run_refuses_beside_a_running_instance(site):
    site.hold()
    served = site.run("-m", "flask", "--app", "wsgi", "run", "--port", "0", "--with-threads", timeout=60)
    assert served.returncode != 0
    assert "already runs on this embedded instance" in served.stderr


def test_admin_commands_still_run_beside_the_live_instance(site):
    site.hold()
    seeded = site.run("-m", "flask", "--app", "wsgi", "seed-demo")
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    assert '"establishment"' in seeded.stdout


def test_the_lock_goes_with_the_process_that_held_it(site):
    first = site.hold()
    first.send_signal(signal.SIGKILL)  # no clean-up at all
    first.wait(10)
    again = site.run("-c", START)
    assert again.returncode == 0 and again.stdout.strip() == "started", again.stderr[-2000:]


def test_with_redis_url_several_processes_may_run(site):
    site.hold()
    shared = site.run("-c", START, extra_env={"REDIS_URL": site.real_redis})
    assert shared.returncode == 0 and shared.stdout.strip() == "started", shared.stderr[-2000:]


def test_another_database_in_the_same_folder_is_another_site(site, tmp_path):
    site.hold()
    other = site.run("-c", START, extra_env={"DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}"})
    assert other.returncode == 0, other.stderr[-2000:]
