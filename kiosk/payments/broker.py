"""A Celery task message pushed straight onto a Redis broker: the ingest's hot publish.

Celery's ``apply_async`` costs ~1 ms of CPU per message on this machine
(docs/performance.md, "Ingest pipeline"), most of it kombu's generic
machinery: a producer from the pool, entity declaration, the retry wrapper,
and a new Redis client object for every publish. Half the CPU of a payment
post went there. The message itself is one ``LPUSH`` of a JSON envelope.

So this builds the same message (Celery's own ``as_task_v2``, kombu's
serializer, the envelope kombu's Redis transport writes and its consumer
reads: ``tests/payments/test_broker.py`` compares the two field by field
and a real worker consumes it) and pushes it with one reused client. Celery's
publish signals still fire (the request id rides in the headers).

Only for the simple case: a ``redis://`` broker, protocol 2, no key prefix, no
compression, the task routed to the default queue. Anything else (the
embedded ``memory://`` broker, eager tasks) returns False and the caller
uses ``apply_async``. Delete this module and call ``apply_async`` to go back.
"""
from __future__ import annotations

import base64
import uuid

import redis
from celery import signals
from kombu.serialization import dumps
from redis.backoff import ConstantBackoff
from redis.retry import Retry

_clients: dict[str, redis.Redis] = {}
_queues: dict[tuple, str | None] = {}


def _client(url: str) -> redis.Redis:
    client = _clients.get(url)
    if client is None:
        # One quick retry for a blip, as apply_async's retry policy had; a real
        # outage is the sweeper's job, not a reason to keep the device waiting.
        client = _clients[url] = redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=30,
            retry=Retry(ConstantBackoff(0.1), 1))
    return client


def _default_queue(celery, name: str) -> str | None:
    """The Redis list a task goes to, or None if its routing is not the plain default queue."""
    conf = celery.conf
    key = (id(celery), name, conf.broker_url)
    if key not in _queues:
        queue = celery.amqp.router.route({}, name, (), {}, celery.tasks.get(name)).get("queue")
        plain = (queue is not None and queue.exchange.type == "direct" and not queue.queue_arguments
                 and not queue.max_priority)
        options = conf.broker_transport_options or {}
        simple = (str(conf.broker_url).startswith(("redis://", "rediss://")) and conf.task_protocol == 2
                  and not conf.task_compression and not options.get("global_keyprefix")
                  and "priority_steps" not in options)
        _queues[key] = queue.name if plain and simple else None
    return _queues[key]


def push_task(celery, name: str, args: list) -> bool:
    """Publish task ``name(*args)`` with one LPUSH; False if this broker or route needs ``apply_async``.

    :raise redis.RedisError: the broker could not be reached (after one quick retry).
    """
    conf = celery.conf
    if conf.task_always_eager:
        return False
    queue = _default_queue(celery, name)
    if queue is None:
        return False
    task_id = str(uuid.uuid4())
    headers, properties, body, _sent = celery.amqp.as_task_v2(
        task_id, name, args=args, argsrepr=repr(args), kwargsrepr="{}", reply_to=celery.thread_oid,
        ignore_result=None)  # None: the task's own setting, as send_task leaves it
    routing = {"exchange": "", "routing_key": queue}
    signals.before_task_publish.send(sender=name, body=body, headers=headers, properties=properties,
                                     declare=[], retry_policy=None, **routing)
    content_type, content_encoding, data = dumps(body, serializer=conf.task_serializer)
    if isinstance(data, str):
        data = data.encode(content_encoding or "utf-8")
    envelope = {
        "body": base64.b64encode(data).decode(),
        "content-encoding": content_encoding,
        "content-type": content_type,
        "headers": headers,
        "properties": {**properties, "delivery_mode": 2, "delivery_info": routing, "priority": 0,
                       "body_encoding": "base64", "delivery_tag": str(uuid.uuid4())},
    }
    _client(conf.broker_url).lpush(queue, dumps(envelope, serializer="json")[2])
    signals.after_task_publish.send(sender=name, body=body, headers=headers, **routing)
    return True
