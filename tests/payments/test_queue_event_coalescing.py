"""A payment's queue event, coalesced per queue (kiosk/queues/services.py, ``publish_waiting_list_soon``).

The worker path is exercised with the broker replaced by a recorder: what
would have been enqueued is listed, and a test runs it when the countdown
would have fired. Events are read where TVs get them: the establishment's
Redis channel.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import redis

from kiosk.events import QueueChanged, subscribe
from kiosk.queues import services
from kiosk.queues.tasks import publish_waiting_list as publish_task
from tests.payments.test_services import make_pending, process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Broker:
    """The queue-event task's apply_async, recorded instead of sent."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def apply_async(self, args=None, kwargs=None, **options):
        self.sent.append({"args": list(args or ()), **options})

    def run_next(self, app) -> str:
        """Run the oldest recorded task, as the worker would once its countdown is over."""
        message = self.sent.pop(0)
        with app.app_context():
            return publish_task.run(*message["args"])


@pytest.fixture
def broker(app, monkeypatch):
    celery = app.extensions["celery"]
    monkeypatch.setitem(celery.conf, "task_always_eager", False)
    recorder = Broker()
    monkeypatch.setattr(celery.tasks[services.PUBLISH_TASK], "apply_async", recorder.apply_async)
    return recorder


@pytest.fixture
def screen(world, redis_url):
    """What a TV of establishment A receives: the "queue" messages on its channel."""
    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.subscribe(f"est:{world.a.id}:events")
    listener.get_message(timeout=1)

    def queue_events() -> list[dict]:
        events = []
        while (message := listener.get_message(timeout=0.3)) is not None:
            if message["type"] == "message":
                events.append(json.loads(message["data"]))
        return [e for e in events if e["type"] == "queue"]

    yield queue_events
    listener.close()


def ticket_codes(owner_engine, tids) -> list[str]:
    import sqlalchemy as sa

    with owner_engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT t.code FROM tickets t JOIN transactions x ON x.ticket_id = t.id "
            "WHERE x.transaction_id = ANY(CAST(:ids AS uuid[])) ORDER BY t.number"), {"ids": list(tids)}).scalars())


def test_many_payments_in_a_window_make_one_recomputation_and_one_event_with_every_ticket(
        app, world, broker, screen, owner_engine):
    tids = [make_pending(app, world.a) for _ in range(4)]
    for tid in tids:
        assert process(app, tid) == "CONFIRMED"
    assert screen() == []  # committed, CONFIRMED, and nothing computed yet
    assert len(broker.sent) == 1
    message = broker.sent[0]
    assert message["args"] == [world.a.id, world.a.queue_id]
    assert message["countdown"] == services.COALESCE_SECONDS

    assert broker.run_next(app) == "published"
    events = screen()
    assert len(events) == 1
    # The world's queue had one STANDARD ticket: five waiting, and the TV gets the new ones from the event.
    assert events[0]["waiting"] == 5 and events[0]["queue_id"] == world.a.queue_id
    codes = ticket_codes(owner_engine, tids)
    assert len(codes) == 4 and set(codes) <= {t["code"] for t in events[0]["next"]}


def test_a_change_after_the_run_started_schedules_another_run(app, world, broker, screen):
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    assert broker.run_next(app) == "published"
    assert len(screen()) == 1
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    assert len(broker.sent) == 1
    assert broker.run_next(app) == "published"
    assert [e["waiting"] for e in screen()] == [3]


def test_the_mark_is_cleared_before_the_list_is_read_so_a_payment_meanwhile_is_not_lost(
        app, world, broker, screen, owner_engine, monkeypatch):
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    late = make_pending(app, world.a)
    real = services.compute_estimates
    seen = {}

    def compute_then_a_payment_lands(queue, *args, **kwargs):
        if not seen:
            seen["mark"] = redis.Redis.from_url(app.config["REDIS_URL"]).exists(services._scheduled_key(queue.id))
            # Another worker process confirms a payment while this run computes.
            thread = threading.Thread(target=lambda: seen.setdefault("late", process(app, late)))
            thread.start()
            thread.join(30)
        return real(queue, *args, **kwargs)

    monkeypatch.setattr(services, "compute_estimates", compute_then_a_payment_lands)
    assert broker.run_next(app) == "published"
    assert seen["mark"] == 0 and seen["late"] == "CONFIRMED"
    assert len(broker.sent) == 1  # the late payment scheduled a run of its own
    assert broker.run_next(app) == "published"
    last = screen()[-1]
    assert last["waiting"] == 3 and ticket_codes(owner_engine, [late])[0] in [t["code"] for t in last["next"]]


def test_a_lost_run_does_not_stick_the_queue_its_mark_expires(app, world, broker, screen, redis_url):
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    broker.sent.clear()  # the worker died with it
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    assert broker.sent == []  # within the mark's life: taken as scheduled
    mark = services._scheduled_key(world.a.queue_id)
    assert 0 < redis.Redis.from_url(redis_url).pttl(mark) <= services.SCHEDULED_TTL_MS
    redis.Redis.from_url(redis_url).pexpire(mark, 1)  # its life ends, as it would SCHEDULED_TTL_MS later
    time.sleep(0.05)
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    assert len(broker.sent) == 1
    assert broker.run_next(app) == "published"
    assert [e["waiting"] for e in screen()] == [4]


def test_a_second_run_waits_for_the_one_computing_then_publishes(app, world, broker, screen, redis_url):
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    running = services._running_key(world.a.queue_id)
    redis.Redis.from_url(redis_url).set(running, b"another-run", px=5000)
    assert broker.run_next(app) == "deferred"
    assert screen() == []
    assert len(broker.sent) == 1 and broker.sent[0]["countdown"] == services.COALESCE_SECONDS
    # Meanwhile the mark stays up: payments need no run of their own.
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    assert len(broker.sent) == 1
    redis.Redis.from_url(redis_url).delete(running)
    assert broker.run_next(app) == "published"
    assert [e["waiting"] for e in screen()] == [3]
    assert not redis.Redis.from_url(redis_url).exists(running)


def test_the_estimates_cache_is_warmed_by_the_coalesced_event(app, world, broker):
    warmed = []

    def record(event):
        if isinstance(event, QueueChanged):
            warmed.append(event)

    subscribe(record, QueueChanged)
    try:
        assert process(app, make_pending(app, world.a)) == "CONFIRMED"
        broker.run_next(app)
    finally:
        from kiosk import events

        events._subscribers.remove((QueueChanged, record))
    assert len(warmed) == 1
    (name, (estimates, _ttl)), = warmed[0].warm.items()
    assert name == f"queue-estimates:{world.a.queue_id}" and len(estimates["order"]) == 2
    from kiosk.queues.estimates import queue_estimates
    from kiosk.queues.models import Queue
    from kiosk.tenancy import tenant_scope
    from kiosk.extensions import db

    with app.app_context(), tenant_scope(world.a.id):
        queue = db.session.get(Queue, world.a.queue_id)
        assert queue_estimates(queue)["order"] == estimates["order"]


def test_a_broker_failure_publishes_at_once(app, world, broker, screen, monkeypatch):
    def broken(*_args, **_kwargs):
        raise ConnectionError("broker gone")

    monkeypatch.setattr(broker, "apply_async", broken)
    monkeypatch.setattr(app.extensions["celery"].tasks[services.PUBLISH_TASK], "apply_async", broken)
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    assert [e["waiting"] for e in screen()] == [2]
    # The mark went with the failed schedule: the next payment tries again.
    assert not redis.Redis.from_url(app.config["REDIS_URL"]).exists(services._scheduled_key(world.a.queue_id))


def test_a_redis_failure_publishes_at_once(app, world, broker, screen, monkeypatch):
    real_set = services.redis_client.set

    def set_failing_for_marks(key, *args, **kwargs):
        if str(key).startswith("queues:publish-"):
            raise redis.exceptions.ConnectionError("redis gone")
        return real_set(key, *args, **kwargs)

    monkeypatch.setattr(services.redis_client.client, "set", set_failing_for_marks)
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    assert broker.sent == []
    assert [e["waiting"] for e in screen()] == [2]


def test_in_process_tasks_publish_with_the_payment(app, world, screen):
    # The test config runs tasks in-process, as the embedded default does.
    assert app.extensions["celery"].conf.task_always_eager
    assert process(app, make_pending(app, world.a)) == "CONFIRMED"
    assert [e["waiting"] for e in screen()] == [2]


EMBEDDED = textwrap.dedent("""
    import json, uuid
    from flask_migrate import upgrade
    from kiosk import create_app
    from kiosk.extensions import redis_client
    from tests import factories
    from tests.helpers import DeviceClient

    app = create_app()
    assert app.config["EMBEDDED_REDIS"] and app.config["CELERY"]["task_always_eager"]
    with app.app_context():
        upgrade(revision="heads")
        a = factories.make_tenant("A")
    screen = redis_client.pubsub()
    screen.subscribe(f"est:{a.id}:events")
    screen.get_message(timeout=1)
    kiosk = DeviceClient(app.test_client(), a.device_id, a.device_secret)
    paid = kiosk.post("/iot/payments", {"transaction_id": str(uuid.uuid4()), "amount": 500})
    assert paid.get_json()["status"] == "CONFIRMED", paid.get_json()
    queue = []
    while (message := screen.get_message(timeout=0.5)) is not None:
        if message["type"] == "message" and json.loads(message["data"])["type"] == "queue":
            queue.append(json.loads(message["data"]))
    assert len(queue) == 1 and "VA-001" in [t["code"] for t in queue[0]["next"]], queue
    print("ok")
""")


@pytest.mark.slow
def test_the_embedded_default_publishes_the_payments_queue_event(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEVICE_SECRET_KEYS", "KIOSK_CELERY_EAGER")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'kiosk.sqlite3'}"
    env["RATELIMIT_ENABLED"] = "0"
    result = subprocess.run([sys.executable, "-c", EMBEDDED], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
