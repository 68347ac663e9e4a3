"""A real Celery worker process (the Procfile's ``worker``), pointed at the test database and a Redis."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


class CeleryWorker:
    def __init__(self, database_url: str, redis_url: str, device_keys: str, *, concurrency: int = 1) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.device_keys = device_keys
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkstemp(prefix="kiosk-worker-", suffix=".log")[1])

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "KIOSK_", "CELERY_"))}
        env.update({
            "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "KIOSK_ENV": "test",
            "SECRET_KEY": "test-secret-key-" + "x" * 32, "DEVICE_SECRET_KEYS": self.device_keys,
            "KIOSK_CELERY_EAGER": "0", "PUBLIC_BASE_URL": "http://localhost",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def start(self, timeout: float = 30) -> "CeleryWorker":
        self.log_path.write_text("")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [CELERY, "-A", "celery_worker.celery_app", "worker", "--loglevel=INFO",
             f"--concurrency={self.concurrency}", "--pool=prefork", "-O", "fair", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-n", f"payments-test-{uuid.uuid4().hex[:8]}@%h"],
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        self.wait_for(r"ready\.", timeout)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log())
            if match:
                return match
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"worker exited ({self.process.returncode}):\n{self.log()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"worker log never showed {pattern!r}:\n{self.log()[-3000:]}")

    def pool_children(self) -> list[int]:
        """The pids of the worker's pool processes (the ones that run tasks)."""
        assert self.process is not None
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def kill_all(self) -> None:
        """SIGKILL the worker and its pool children (its own process group), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill_all()

    def cleanup(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)
