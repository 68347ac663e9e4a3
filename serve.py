"""The Procfile's ``web`` process: the app under granian (WSGI, threads).

    python serve.py [module:app]        # default wsgi:app

Measured against gunicorn's gevent, gthread and sync workers on the load
test's HTTP mix (benchmarks/http_tier.py, docs/performance.md), granian
served the most requests at the lowest p95 and CPU per request. The
``display`` process (the TVs' WebSockets) stays gunicorn + gevent
(gunicorn.conf.py): granian's WSGI interface has no WebSockets.

Settings from the environment (docs/operations.md):
``BIND`` (or ``PORT``), ``WEB_CONCURRENCY`` worker processes (default 2, one
per core), ``WEB_THREADS`` Python threads per worker (default 8),
``WEB_BACKPRESSURE`` requests in flight per worker (granian's default:
backlog / workers), ``WEB_WORKERS_LIFETIME`` seconds before a worker is
replaced (off by default), ``WEB_GRACEFUL_TIMEOUT`` (default 20 s),
``GC_YOUNG_THRESHOLD``, ``PROMETHEUS_MULTIPROC_DIR``.

This file does what gunicorn.conf.py does for gunicorn: JSON log lines for
the server's own messages and no access log, the Prometheus multi-process
directory, the garbage collector's freeze, worker respawn and a bounded
graceful stop. No request timeout: granian has none for WSGI (see
docs/operations.md).
"""
from __future__ import annotations

import glob
import os
import sys
import tempfile

def _bind() -> tuple[str, int]:
    bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '5000')}")
    host, port = bind.rsplit(":", 1)
    return host.strip("[]"), int(port)


HOST, PORT = _bind()

# Prometheus: every worker writes its samples to this directory and /metrics
# sums them (kiosk.observability.metrics). Set before anything imports
# prometheus_client (it picks its storage at import); an operator may point
# it elsewhere.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"kiosk-prometheus-{PORT}"))

GC_YOUNG_THRESHOLD = int(os.environ.get("GC_YOUNG_THRESHOLD", "20000"))


def _json_formatter():
    from kiosk.observability.logging import json_formatter

    return json_formatter()


# granian's own lines (start, workers spawned, respawned, stopped) in the
# app's JSON format; the Rust side logs through the same "_granian" logger.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": _json_formatter}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": []},  # the app adds its own JSON handler (configure_logging)
    "loggers": {
        "_granian": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        # The app's own request line replaces the access log.
        "granian.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
}


def load_app(target: str):
    """Runs once in each worker process, before it serves."""
    import gc
    import importlib
    import logging
    import signal

    # The worker inherited the master's handlers, which only set the
    # master's flags: a stop sent while the app loads would wait for the
    # kill timeout. granian installs the worker's own once it serves.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    module_name, _, attribute = target.partition(":")
    try:
        app = getattr(importlib.import_module(module_name), attribute or "app")
    except Exception:
        # In JSON, then a quiet exit: an uncaught exception here would be
        # printed by multiprocessing as a raw traceback.
        logging.getLogger("_granian").exception("the web worker could not load %s", target)
        sys.exit(1)
    # Everything loaded so far (Flask, SQLAlchemy's mappers, the app) lives
    # as long as the worker: freeze it out of the collector. Measured under
    # the baseline load, full collections otherwise paused a worker for
    # 90-220 ms several times a minute (docs/load-test.md).
    gc.collect()
    gc.freeze()
    # Fewer young collections: a request allocates thousands of short-lived
    # objects, and each collection of 700 used to run mid-request.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
    return without_process_environment(app)


def without_process_environment(app):
    """granian starts every WSGI environ from a copy of ``os.environ``
    (granian/wsgi.py): secrets (SECRET_KEY, DATABASE_URL...) would sit in
    each request's environ, and a variable named HTTP_* would read as a
    request header the client never sent. Give the app what gunicorn gave
    it: the request's keys only (a few microseconds a request)."""
    # granian's copy decodes the values anew, so identity cannot tell a
    # request's header from the process's variable: equality does.
    headers = tuple((k, v) for k, v in os.environ.items() if k.startswith("HTTP_") or k in _REQUEST_KEYS)
    others = tuple(k for k in os.environ if not (k.startswith("HTTP_") or k in _REQUEST_KEYS or k in _SERVER_KEYS))

    def app_without_process_environment(environ, start_response):
        for key in others:
            environ.pop(key, None)
        for key, value in headers:
            if environ.get(key) == value:
                del environ[key]
        return app(environ, start_response)

    return app_without_process_environment


# Set by the request when it has them; set by the server on every request.
_REQUEST_KEYS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})
_SERVER_KEYS = frozenset({"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
                          "SERVER_PROTOCOL", "REMOTE_ADDR", "RAW_URI", "REQUEST_URI", "GATEWAY_INTERFACE",
                          "SERVER_SOFTWARE"})


def clean_metrics_directory() -> None:
    # Samples of a previous run would be summed with this one's. Dead
    # workers' counters stay summed, as they should; mark_process_dead
    # (gunicorn's child_exit) only removes "live" gauges, and the web
    # process has none (the display connections gauge is per process, "all").
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)


def _optional_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def main(argv: list[str]) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    target = argv[0] if argv else "wsgi:app"
    clean_metrics_directory()
    server = Granian(
        target,
        address=HOST,
        port=PORT,
        interface=Interfaces.WSGI,
        workers=int(os.environ.get("WEB_CONCURRENCY", "2")),
        # psycopg2 and the Redis client release the GIL while they wait.
        blocking_threads=int(os.environ.get("WEB_THREADS", "8")),
        backpressure=_optional_int("WEB_BACKPRESSURE"),
        websockets=False,
        log_dictconfig=LOG_CONFIG,
        log_access=False,
        respawn_failed_workers=True,
        workers_lifetime=_optional_int("WEB_WORKERS_LIFETIME"),
        # SIGTERM: stop accepting, finish what is in flight, then kill what
        # still runs after this long.
        workers_kill_timeout=int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "20")),
    )
    server.serve(target_loader=load_app)


if __name__ == "__main__":
    main(sys.argv[1:])
