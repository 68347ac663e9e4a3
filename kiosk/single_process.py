"""The embedded default runs in ONE process: a guard that makes it so.

Without ``REDIS_URL`` the nonce store (replay protection of signed device
requests), the rate limits and the pub/sub bus that carries events to TVs
live in the memory of one process (kiosk.extensions.RedisClient). Two
processes on the same data would each accept a replayed payment request the
other one saw, and a TV on one would miss calls made on the other. So the
first process that serves (``flask run``, a gunicorn worker, a Celery worker)
takes an exclusive lock on a file in the instance folder, for as long as it
lives, and a second one refuses to start with a message saying why and what
to do. The operating system drops the lock when the process dies, however it
dies: there is no stale lock to clean up.

The lock is per instance folder *and* database, so two sites with different
database files (a test beside a demo) do not stop each other. Administration
commands (``flask --app wsgi backup``, ``seed-demo``, ``db upgrade``...) serve
nothing and do not take the lock: they must run beside the live site.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup
from flask.helpers import get_debug_flag
from werkzeug.serving import is_running_from_reloader

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no guard, said once at start
    fcntl = None

log = logging.getLogger(__name__)

# path -> open file: held (never closed) for the life of the process.
_held: dict[str, object] = {}


class SecondProcessError(RuntimeError):
    """Another process already serves this embedded instance."""


def lock_path(app: Flask) -> Path:
    digest = hashlib.sha256(app.config["SQLALCHEMY_DATABASE_URI"].encode()).hexdigest()[:12]
    return Path(app.instance_path) / f"single-process-{digest}.lock"


def _serves(ctx: click.Context | None) -> bool:
    """Whether this process will serve requests or run tasks (False for admin CLI commands)."""
    if ctx is None or not isinstance(ctx.find_root().command, FlaskGroup):
        return True  # gunicorn, a Celery worker, a script importing wsgi
    if ctx.command.name != "run":
        return False  # the app is loaded to run another flask command
    reload = ctx.params.get("reload")
    if reload is None:
        reload = get_debug_flag()
    # With the reloader, the parent only watches files; its child serves.
    return not reload or is_running_from_reloader()


def claim_single_process(app: Flask) -> None:
    """Take the instance's lock when the in-process Redis stand-in is in use.

    :raise SecondProcessError: another live process holds it.
    """
    if not app.config["EMBEDDED_REDIS"] or not _serves(click.get_current_context(silent=True)):
        return
    if fcntl is None:
        log.warning("cannot check that only one process serves the embedded default on this system")
        return
    path = lock_path(app)
    if str(path) in _held:
        return  # this process already holds it (an app created twice)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise SecondProcessError(
            f"Kiosk already runs on this embedded instance in process {holder} (lock file {path}). "
            "Without REDIS_URL, replay protection, rate limits and TV events live in that one process's "
            "memory, so a second process would break them. Run a single process, which serves HTTP and "
            "WebSockets with threads (scripts/demo, or flask --app wsgi run --with-threads), and no "
            "separate Celery worker (tasks run in-process); or set REDIS_URL (and DATABASE_URL) to run "
            "several processes."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    _held[str(path)] = handle


def instance_in_use(app: Flask) -> bool:
    """Whether a live process serves this embedded instance (holds its lock)."""
    path = lock_path(app)
    if fcntl is None or not path.exists() or str(path) in _held:
        return str(path) in _held
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False
