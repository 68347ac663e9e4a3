"""Celery tasks of the queues domain: the end of the service day, and payments' coalesced queue events."""
from __future__ import annotations

from celery import shared_task

from kiosk.queues import closing, services


@shared_task(name="queues.expire_closed_days", ignore_result=True)
def expire_closed_days() -> dict:
    # Idempotent: a missed or failed run is made up by the next tick a minute later.
    return closing.expire_closed_days()


# Routed to its own broker queue (kiosk/config.py): the payments' backlog gauge
# (`LLEN celery`) counts payments only, and a deployment may give these a worker of their own.
@shared_task(name=services.PUBLISH_TASK, ignore_result=True, acks_late=False)
def publish_waiting_list(establishment_id: str, queue_id: str) -> str:
    # Not retried: a failed run is made up by the next change of the queue (its
    # mark expires), the estimates' 15 s TTL and the TVs' periodic refresh.
    return services.publish_scheduled_waiting_list(establishment_id, queue_id)
