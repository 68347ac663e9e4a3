"""The Procfile's worker, with a stopwatch: ``celery -A benchmarks.latency_probe.celery_app worker``.

For benchmarks/payments_ingest.py's latency breakdown. Celery's own signals
stamp (``time.time()``, the clock the app stamps rows with) when the worker
received each task and when a pool process started and finished it, into the
worker's Redis db: ``bench:task:<task_id>`` = {name, arg, received, start, end, result}.
Nothing else of the app changes.
"""
from __future__ import annotations

import os
import time

import redis
from celery.signals import task_postrun, task_prerun, task_received

from celery_worker import celery_app  # noqa: F401 - the app the worker runs

_redis = None


def _client() -> redis.Redis:
    # One per process (pool processes are forked after import).
    global _redis
    if _redis is None or _redis.pid != os.getpid():
        _redis = redis.Redis.from_url(os.environ["REDIS_URL"])
        _redis.pid = os.getpid()
    return _redis


def _stamp(task_id: str, **fields) -> None:
    key = f"bench:task:{task_id}"
    pipe = _client().pipeline(transaction=False)
    pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
    pipe.expire(key, 3600)
    pipe.execute()


@task_received.connect
def _received(sender=None, request=None, **_kwargs) -> None:
    _stamp(request.id, received=time.time(), name=request.name)


@task_prerun.connect
def _start(sender=None, task_id=None, task=None, args=None, **_kwargs) -> None:
    _stamp(task_id, start=time.time(), name=task.name, arg=(args or [""])[-1])


@task_postrun.connect
def _end(sender=None, task_id=None, retval=None, **_kwargs) -> None:
    _stamp(task_id, end=time.time(), result=retval)
