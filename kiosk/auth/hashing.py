"""Password hashes in a small bounded pool of OS threads, one pool per process.

A hash (werkzeug's scrypt) costs ~115 ms of CPU. ``hashlib.scrypt`` releases
the GIL, so a real thread runs it while the worker's event loop serves the
other requests (kiosk.concurrency explains why it must leave the loop). But
gevent's own pool runs up to 10 at once per worker: a burst of staff signing
in at opening then gives the loop thread a tenth of a core, and every other
request and screen of the worker crawls (docs/performance.md, "Login burst").

So at most ``PASSWORD_HASH_THREADS`` hashes run at once per process (default
1: with one worker per core, the loop then shares its core with one hash,
not ten), and the others wait their turn. ``PASSWORD_HASH_NICE`` can lower
those threads' scheduling priority so the loop wins the core outright; it is
0 by default because on a busy host the hashes then lose to every other
process too (measured: logins starved past 2 minutes). Past ``PASSWORD_HASH_QUEUE`` waiting, ``verify(..., refuse_when_busy=True)``
raises ``Busy`` at once (the API login answers 429 ``rate_limited`` with
Retry-After) instead of making the caller wait many seconds. Nothing was
checked then, so it is not a failed login. ``PASSWORD_HASH_THREADS=0``
turns the bound off (gevent's shared pool, as before; benchmarks compare).
"""
from __future__ import annotations

import math
import os
import threading
import time
from typing import Callable, TypeVar

from werkzeug.security import check_password_hash, generate_password_hash

from kiosk.concurrency import _gevent_patched, off_loop

T = TypeVar("T")

DEFAULTS = {"PASSWORD_HASH_THREADS": 1, "PASSWORD_HASH_QUEUE": 32, "PASSWORD_HASH_NICE": 0}


class Busy(Exception):
    """Too many hashes already waiting in this process."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("password hashing busy")
        self.retry_after = retry_after


class _Pool:
    def __init__(self, threads: int, queue_limit: int, nice: int) -> None:
        self.threads, self.queue_limit, self.nice = threads, queue_limit, nice
        self._admitted = 0  # running + waiting
        self._lock = threading.Lock()
        self._seconds = 0.12  # a hash's wall time, smoothed: the Retry-After estimate
        if _gevent_patched():
            from gevent.threadpool import ThreadPool

            pool = ThreadPool(maxsize=threads)
            self._submit = lambda function, args: pool.apply(function, args)
        else:
            from concurrent.futures import ThreadPoolExecutor

            executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="password-hash")
            self._submit = lambda function, args: executor.submit(function, *args).result()

    def run(self, function: Callable[..., T], args: tuple, refuse_when_busy: bool) -> T:
        with self._lock:
            if refuse_when_busy and self._admitted >= self.threads + self.queue_limit:
                raise Busy(max(1, math.ceil(self._admitted * self._seconds / self.threads)))
            self._admitted += 1
        try:
            return self._submit(self._timed, (function, args))
        finally:
            with self._lock:
                self._admitted -= 1

    def _timed(self, function: Callable[..., T], args: tuple) -> T:
        if self.nice:
            # Linux: the nice value is per thread, and who=0 is this one. Lowering
            # a thread's priority needs no privilege.
            try:
                os.setpriority(os.PRIO_PROCESS, 0, self.nice)
            except OSError:
                pass
        started = time.monotonic()
        try:
            return function(*args)
        finally:
            self._seconds = 0.8 * self._seconds + 0.2 * (time.monotonic() - started)


_pool: _Pool | None = None
_pool_pid: int | None = None


def _settings() -> dict:
    from flask import current_app, has_app_context

    config = current_app.config if has_app_context() else {}
    return {name: int(config.get(name, default)) for name, default in DEFAULTS.items()}


def _run(function: Callable[..., T], *args, refuse_when_busy: bool = False) -> T:
    global _pool, _pool_pid
    if _pool_pid != os.getpid():  # threads do not survive a fork: one pool per worker
        settings = _settings()
        if settings["PASSWORD_HASH_THREADS"] <= 0:
            return off_loop(function, *args)
        _pool = _Pool(settings["PASSWORD_HASH_THREADS"], settings["PASSWORD_HASH_QUEUE"],
                      settings["PASSWORD_HASH_NICE"])
        _pool_pid = os.getpid()
    return _pool.run(function, args, refuse_when_busy)


def hash_password(password: str, *, refuse_when_busy: bool = False) -> str:
    return _run(generate_password_hash, password, refuse_when_busy=refuse_when_busy)


def verify(password_hash: str, password: str, *, refuse_when_busy: bool = False) -> bool:
    """Whether ``password`` matches; with ``refuse_when_busy``, ``Busy`` rather than a long wait."""
    return _run(check_password_hash, password_hash, password, refuse_when_busy=refuse_when_busy)
