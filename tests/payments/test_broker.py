"""The ingest's direct publish (kiosk/payments/broker.py) writes what Celery would, and a worker reads it."""
from __future__ import annotations

import base64
import json

import pytest
import redis as redis_lib
from celery import Celery

from kiosk.payments import broker, ingest


@pytest.fixture
def celery_on_redis(app, redis_url):
    celery = Celery("broker-test", set_as_current=False)
    celery.config_from_object({**app.config["CELERY"], "broker_url": redis_url, "task_always_eager": False})
    celery.finalize()
    yield celery
    celery.close()


def _pop(redis_url) -> dict:
    raw = redis_lib.Redis.from_url(redis_url).rpop("celery")
    assert raw is not None, "nothing was published"
    return json.loads(raw)


# Sentry's Celery integration adds its trace headers to apply_async's messages
# once Sentry is initialised (by an earlier test, or in production); the direct
# publish does not, by design (docs/performance.md, "Ingest pipeline").
# ("headers" inside the headers is Sentry's copy of its own, for older workers.)
def _without_sentry(message: dict) -> dict:
    headers = {key: value for key, value in message["headers"].items()
               if not key.startswith("sentry-") and key not in ("baggage", "headers")}
    return {**message, "headers": headers}


def _shape(value):
    """Keys at every level, and the type of every leaf."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


def test_the_message_is_the_one_celery_publishes(celery_on_redis, redis_url, app):
    with app.test_request_context():
        celery_on_redis.send_task(ingest.PROCESS_TASK, args=["tid-1"])
        by_celery = _pop(redis_url)
        assert broker.push_task(celery_on_redis, ingest.PROCESS_TASK, ["tid-1"]) is True
        ours = _pop(redis_url)
    by_celery = _without_sentry(by_celery)

    assert _shape(ours) == _shape(by_celery)
    assert base64.b64decode(ours["body"]) == base64.b64decode(by_celery["body"])
    ids = {"id", "root_id", "origin"}
    assert {k: v for k, v in ours["headers"].items() if k not in ids} == \
        {k: v for k, v in by_celery["headers"].items() if k not in ids}
    assert ours["headers"]["root_id"] == ours["headers"]["id"] == ours["properties"]["correlation_id"]
    same = {"delivery_mode", "delivery_info", "priority", "body_encoding", "reply_to"}
    assert {k: ours["properties"][k] for k in same} == {k: by_celery["properties"][k] for k in same}
    assert ours["properties"]["delivery_tag"] != ours["headers"]["id"]


def test_a_kombu_consumer_reads_it_as_the_task(celery_on_redis, redis_url, app):
    with app.test_request_context():
        from flask import g

        g.request_id = "req-for-the-worker-logs"
        assert broker.push_task(celery_on_redis, ingest.PROCESS_TASK, ["tid-2"]) is True
    with celery_on_redis.connection_for_read() as conn, conn.SimpleQueue("celery", no_ack=True) as queue:
        message = queue.get(timeout=5)
        assert message.headers["task"] == ingest.PROCESS_TASK
        assert message.decode()[0] == ["tid-2"]
        # The publish signal still runs: the worker's log lines carry the request's id.
        assert message.headers["kiosk_request_id"] == "req-for-the-worker-logs"


def test_other_brokers_and_eager_tasks_are_left_to_apply_async(app, redis_url):
    memory = Celery("broker-test-memory", set_as_current=False)
    memory.config_from_object({**app.config["CELERY"], "broker_url": "memory://", "task_always_eager": False})
    assert broker.push_task(memory, ingest.PROCESS_TASK, ["tid"]) is False
    eager = Celery("broker-test-eager", set_as_current=False)
    eager.config_from_object({**app.config["CELERY"], "broker_url": redis_url, "task_always_eager": True})
    assert broker.push_task(eager, ingest.PROCESS_TASK, ["tid"]) is False
    prefixed = Celery("broker-test-prefix", set_as_current=False)
    prefixed.config_from_object({**app.config["CELERY"], "broker_url": redis_url, "task_always_eager": False,
                                 "broker_transport_options": {"global_keyprefix": "x:"}})
    assert broker.push_task(prefixed, ingest.PROCESS_TASK, ["tid"]) is False
    assert redis_lib.Redis.from_url(redis_url).llen("celery") == 0


def test_an_unreachable_broker_fails_the_enqueue_quietly(app, monkeypatch):
    dead = Celery("broker-test-dead", set_as_current=False)
    dead.config_from_object({**app.config["CELERY"], "broker_url": "redis://127.0.0.1:1/0",
                             "task_always_eager": False})
    monkeypatch.setitem(app.extensions, "celery", dead)
    with app.app_context():
        assert ingest.enqueue_processing("a-payment") is False  # the sweeper picks the row up later
