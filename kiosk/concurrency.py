"""Running CPU-heavy C code without stalling a gevent worker.

The web process serves HTTP and every TV's WebSocket from one gevent loop
per worker. A 300 ms password hash on that loop freezes every request and
screen of the worker for 300 ms (seen in the load test). ``hashlib.scrypt``
releases the GIL, so a real OS thread runs it while the loop goes on.
"""
from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T")


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


def off_loop(function: Callable[..., T], *args) -> T:
    """``function(*args)`` in gevent's native thread pool under gevent, else inline."""
    if not _gevent_patched():
        return function(*args)
    import gevent

    return gevent.get_hub().threadpool.apply(function, args)
