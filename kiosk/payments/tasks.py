"""Celery tasks of the payments domain: processing and the sweeper.

Retry policy, in one place:
- ``acks_late`` + ``reject_on_worker_lost``: a worker killed mid-payment does
  not lose the message; the payment's DB transaction rolled back with it.
- transient errors (database, broker) retry with exponential backoff and
  jitter, at most ``retry_backoff_max`` = 300 s apart, below the broker's
  visibility timeout (3,600 s, kiosk/config.py), so an unacked message is
  never redelivered while it is legitimately waiting for its retry;
- validation failures are not errors: they end as FAILED, never retried;
- after ``max_retries`` the row simply stays PENDING and the sweeper
  re-enqueues it: giving up on a message never gives up on a payment.
"""
from __future__ import annotations

import redis
from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from kiosk.payments import processing, sweeper
from kiosk.payments.ingest import PROCESS_TASK

TRANSIENT_ERRORS = (OperationalError, InterfaceError, processing.TransientError,
                    redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@shared_task(name=PROCESS_TASK, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=TRANSIENT_ERRORS, retry_backoff=1, retry_backoff_max=300, retry_jitter=True,
             max_retries=8, ignore_result=True)
def process_transaction(transaction_id: str) -> str:
    return processing.process_transaction(transaction_id)


@shared_task(name="payments.sweep_pending", ignore_result=True, acks_late=True)
def sweep_pending() -> dict:
    return sweeper.sweep_pending()
