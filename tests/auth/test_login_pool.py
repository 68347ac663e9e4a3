"""The bounded password-hashing pool: a login burst waits its turn, a flood is refused without counting as failures."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from kiosk.auth import hashing
from tests.factories import PASSWORD


def _blocker(pool: hashing._Pool, release: threading.Event, started: threading.Semaphore) -> threading.Thread:
    def hold():
        pool.run(lambda: (started.release(), release.wait(10)), (), refuse_when_busy=False)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread


def test_at_most_threads_plus_queue_are_admitted_then_busy():
    pool = hashing._Pool(threads=1, queue_limit=1, nice=0)
    release, started = threading.Event(), threading.Semaphore(0)
    running = _blocker(pool, release, started)
    assert started.acquire(timeout=5)  # one hashing
    waiting = _blocker(pool, release, started)  # one waiting for the thread
    deadline = threading.Event()
    while pool._admitted < 2 and not deadline.wait(0.01):
        pass
    with pytest.raises(hashing.Busy) as busy:
        pool.run(lambda: True, (), refuse_when_busy=True)
    assert busy.value.retry_after >= 1
    release.set()
    running.join(5), waiting.join(5)
    assert pool.run(lambda: "free again", (), refuse_when_busy=True) == "free again"
    assert pool._admitted == 0


def test_the_hashing_thread_runs_at_a_lower_priority():
    pool = hashing._Pool(threads=1, queue_limit=1, nice=7)
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert pool.run(lambda: os.getpriority(os.PRIO_PROCESS, 0), (), refuse_when_busy=False) == max(mine, 7)
    assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # this thread untouched


@pytest.fixture
def full_pool(monkeypatch):
    """This process's pool with no room: one hash running, none may wait."""
    pool = hashing._Pool(threads=1, queue_limit=0, nice=0)
    monkeypatch.setattr(hashing, "_pool", pool)
    monkeypatch.setattr(hashing, "_pool_pid", os.getpid())
    release, started = threading.Event(), threading.Semaphore(0)
    holder = _blocker(pool, release, started)
    assert started.acquire(timeout=5)
    yield release
    release.set()
    holder.join(5)


def test_a_full_pool_answers_429_and_counts_no_failure(client, world, full_pool):
    """Verify, then count: a refusal that checked no password must not lock the account out."""
    for password in ["wrong"] * 6 + [PASSWORD]:
        for email in (world.a.manager_email, "nobody@example.com"):  # the same answer for an unknown email
            response = client.post("/auth/login", json={"email": email, "password": password})
            assert response.status_code == 429, response.get_json()
            assert response.get_json()["error"]["code"] == "rate_limited"
            assert int(response.headers["Retry-After"]) >= 1
    full_pool.set()
    # Seven refusals, no lockout (5 failures would have locked this IP + email for 15 minutes).
    response = client.post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()


def test_failures_still_lock_out_after_the_check(client, world):
    for _ in range(5):
        assert client.post("/auth/login", json={"email": world.a.agent_email, "password": "no"}).status_code == 401
    assert client.post("/auth/login", json={"email": world.a.agent_email, "password": PASSWORD}).status_code == 429


def test_under_gevent_a_burst_runs_one_hash_at_a_time_and_the_loop_stays_free():
    script = textwrap.dedent("""
        from gevent import monkey; monkey.patch_all()
        import threading, time, gevent
        from werkzeug.security import generate_password_hash
        from kiosk.auth import hashing

        stored = generate_password_hash("secret")
        pool = hashing._Pool(threads=1, queue_limit=2, nice=10)
        hashing._pool, hashing._pool_pid = pool, __import__("os").getpid()
        at_once, peak = [0], [0]
        real = hashing.check_password_hash
        lock = threading.Lock()
        def counted(*args):
            with lock:
                at_once[0] += 1; peak[0] = max(peak[0], at_once[0])
            try:
                return real(*args)
            finally:
                with lock:
                    at_once[0] -= 1
        hashing.check_password_hash = counted
        ticks = []
        def heartbeat():
            while True:
                ticks.append(time.perf_counter()); gevent.sleep(0.005)
        beat = gevent.spawn(heartbeat)
        gevent.sleep(0.05)
        def login():
            try:
                return hashing.verify(stored, "secret", refuse_when_busy=True)
            except hashing.Busy:
                return "busy"
        started = time.perf_counter()
        results = [g.get() for g in [gevent.spawn(login) for _ in range(5)]]
        took = time.perf_counter() - started
        gaps = [b - a for a, b in zip(ticks, ticks[1:]) if a >= started]
        beat.kill()
        print(results, peak[0], took, max(gaps))
        assert results.count(True) == 3 and results.count("busy") == 2, results
        assert peak[0] == 1
        assert max(gaps) < took / 2
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_login_holds_no_database_connection_while_it_waits_for_the_hash(client, world, monkeypatch):
    """40 logins queued for the hash must not hold 40 pooled connections (pool timeouts for every route)."""
    from kiosk.extensions import db

    real, seen = hashing.verify, []

    def verify(*args, **kwargs):
        seen.append(db.session().in_transaction())
        return real(*args, **kwargs)

    monkeypatch.setattr(hashing, "verify", verify)
    assert client.post("/auth/login", json={"email": world.a.agent_email, "password": PASSWORD}).status_code == 200
    assert client.post("/auth/login", json={"email": "nobody@example.com", "password": "x"}).status_code == 401
    assert seen == [False, False]
