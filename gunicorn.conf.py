"""gunicorn settings for the display process (the TVs' WebSockets and pages).

gevent holds many idle WebSockets cheaply; psycogreen makes psycopg2 yield
during queries. worker_connections is a hard cap per worker: keep it above
the number of TVs plus concurrent HTTP requests (see docs/performance.md).
The web process (HTTP) runs under granian instead: serve.py, which does
what this file does for its server.
"""
import glob
import multiprocessing
import os
import tempfile

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '5000')}")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "4000"))
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs one JSON line per request itself
errorlog = "-"


def _json_formatter():
    from kiosk.observability.logging import json_formatter

    return json_formatter()


# gunicorn's own lines (boot, worker timeouts) in the app's JSON format too.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": _json_formatter}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": []},  # the app adds its own JSON handler (configure_logging)
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        # The app's own request line replaces the access log.
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
}
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


# Prometheus: every worker writes its samples to this directory and /metrics
# sums them (kiosk.observability.metrics). Must be set before the workers
# import prometheus_client, hence here; an operator may point it elsewhere.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), f"kiosk-prometheus-{bind.rsplit(':', 1)[-1]}"),
)


def on_starting(server):
    # Samples of a previous run would be summed with this one's.
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # Everything loaded so far (Flask, SQLAlchemy's mappers, gevent, the app)
    # lives as long as the worker: freeze it out of the collector. Measured
    # under the baseline load, full collections otherwise paused a worker,
    # and every request and screen on it, for 90-220 ms several times a
    # minute (docs/load-test.md).
    import gc

    gc.collect()
    gc.freeze()
    # Fewer young collections: a request allocates thousands of short-lived
    # objects, and each collection of 700 used to run mid-request.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


GC_YOUNG_THRESHOLD = int(os.environ.get("GC_YOUNG_THRESHOLD", "20000"))


def post_fork(server, worker):
    if worker_class == "gevent":
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
