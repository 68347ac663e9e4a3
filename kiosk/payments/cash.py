"""Cash boxes: what a kiosk's coin box should hold, and its collections. Every cash rule lives here.

The box holds the coins of every payment the kiosk reported and no
collection has counted yet: ``PENDING``, ``CONFIRMED`` and ``FAILED`` alike.
A refused payment (price too low, queue closed...) still dropped its coins
into the box, and so did one still being processed; a manager counting the
box expects to find them all, so ``expected`` includes them all.

The cut-off is not a timestamp. A collection *claims* the payments still
unclaimed (``UPDATE transactions SET collection_id = <new> WHERE device_id =
... AND collection_id IS NULL``), so:

- a payment is counted by exactly one collection, whatever the order in which
  payments and collections commit (a ``created_at`` cut-off would lose a
  payment inserted before the cut-off and committed after it);
- a payment the kiosk reports after the box was emptied (it was offline, its
  outbox kept the payment) is counted by the next collection: that one shows
  a surplus and the previous one the matching shortfall.

Two collections of the same box are serialised by a row lock on the device
(``SELECT ... FOR NO KEY UPDATE``), and a collection's ``number`` is unique
per device as a second line of defence. A client that sends the
``last_collection_id`` it saw gets 409 ``collection_conflict`` when another
collection happened in between (two managers counting the same coins); a
client that does not is counted after the other one, against the payments
that arrived since.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from kiosk.audit.services import record as audit
from kiosk.auth.models import User
from kiosk.base import aware, utcnow
from kiosk.devices.models import Device
from kiosk.errors import ApiError, NotFound
from kiosk.establishments.services import current_establishment
from kiosk.extensions import db
from kiosk.payments.models import CashCollection, Transaction
from kiosk.tenancy import get_or_404

log = logging.getLogger(__name__)

# "Not sent" for the optimistic check, distinct from "sent as null" (never collected yet).
NOT_GIVEN = object()
HISTORY_LIMIT = 100
HISTORY_MAX = 1000


class CollectionConflict(ApiError):
    def __init__(self, last_collection_id: uuid.UUID | None) -> None:
        super().__init__(409, "collection_conflict",
                         _l("This cash box was collected meanwhile. Reload it and count again."),
                         {"last_collection_id": str(last_collection_id) if last_collection_id else None})


def box_device(device_id: str) -> Device:
    """:raise NotFound: unknown, or another establishment's device."""
    return get_or_404(Device, device_id)


def _locked_device(device_id: str) -> Device:
    # FOR NO KEY UPDATE: serialises collections of this box, yet lets payments
    # and tickets that reference the device (FOR KEY SHARE) go on.
    device = db.session.execute(
        sa.select(Device).where(Device.device_id == device_id).with_for_update(key_share=True)
    ).scalar_one_or_none()
    if device is None:
        raise NotFound()
    return device


def last_collection(device_id: str) -> CashCollection | None:
    return db.session.execute(
        sa.select(CashCollection).where(CashCollection.device_id == device_id)
        .order_by(CashCollection.number.desc()).limit(1)
    ).scalar_one_or_none()


def _open_payments(device_id: str) -> list:
    # Columns, not entities: a box left a week holds a few thousand payments.
    return db.session.execute(
        sa.select(Transaction.transaction_id, Transaction.amount, Transaction.currency, Transaction.status,
                  Transaction.created_at)
        .where(Transaction.device_id == device_id, Transaction.collection_id.is_(None))
        .order_by(Transaction.created_at, Transaction.transaction_id)
    ).all()


def _totals(rows, currency: str) -> tuple[int, dict[str, int]]:
    """The sum in the box's currency, and the sums of any other currency a misconfigured kiosk reported.

    Amounts in another currency are never added to ``expected``: 500 XOF plus
    300 EUR cents is no amount at all. They are shown apart.
    """
    expected, others = 0, {}
    for amount, row_currency in rows:
        if row_currency == currency:
            expected += int(amount)
        else:
            others[row_currency] = others.get(row_currency, 0) + int(amount)
    return expected, others


def cash_box(device_id: str) -> dict:
    """What the device's box should hold since its last collection.

    :raise NotFound: unknown, or another establishment's device.
    """
    device = box_device(device_id)
    currency = current_establishment().currency
    last = last_collection(device_id)
    payments = _open_payments(device_id)
    expected, others = _totals(((p.amount, p.currency) for p in payments), currency)
    return {
        "device_id": device.device_id,
        "label": device.label,
        "currency": currency,
        "since": aware(last.collected_at) if last else aware(device.created_at),
        "expected": expected,
        "other_currencies": others,
        "payments": [{"transaction_id": p.transaction_id, "amount": p.amount, "currency": p.currency,
                      "status": p.status, "created_at": aware(p.created_at)} for p in payments],
        "last_collection_id": last.id if last else None,
    }


def collect(device_id: str, counted: int, *, last_collection_id=NOT_GIVEN, user_id=None,
            now: datetime | None = None) -> CashCollection:
    """Record that the box was emptied and ``counted`` (minor units) was found in it.

    ``expected`` is the sum of the payments this collection claims;
    ``difference`` is ``counted - expected`` (negative: a shortfall).

    :raise NotFound: unknown, or another establishment's device.
    :raise CollectionConflict: ``last_collection_id`` was given and is no longer the last one,
        or a concurrent collection of this box committed first.
    """
    try:
        return _collect(device_id, counted, last_collection_id, user_id, now or utcnow())
    except IntegrityError as exc:
        db.session.rollback()
        if "uq_cash_collections_device_number" not in str(exc.orig) and "cash_collections.number" not in str(exc.orig):
            raise
        # Another collection of this box took this number (the lock makes it rare: a second line of defence).
        raise CollectionConflict(_last_collection_id(device_id)) from None
    except Exception:
        db.session.rollback()
        raise


def _collect(device_id: str, counted: int, seen, user_id, now: datetime) -> CashCollection:
    device = _locked_device(device_id)
    last = last_collection(device_id)
    if seen is not NOT_GIVEN and seen != (last.id if last else None):
        raise CollectionConflict(last.id if last else None)
    currency = current_establishment().currency
    since = aware(last.collected_at) if last else aware(device.created_at)
    collection = CashCollection(id=uuid.uuid4(), device_id=device_id, number=(last.number + 1) if last else 1,
                                collected_at=max(now, since), since=since, currency=currency, expected=0,
                                counted=counted, difference=0, payments=0, collected_by=user_id)
    db.session.add(collection)
    db.session.flush()
    claimed = db.session.execute(
        sa.update(Transaction)
        .where(Transaction.device_id == device_id, Transaction.collection_id.is_(None))
        .values(collection_id=collection.id)
        .returning(Transaction.amount, Transaction.currency)
        .execution_options(synchronize_session=False)
    ).all()
    expected, others = _totals(claimed, currency)
    collection.expected = expected
    collection.difference = counted - expected
    collection.payments = len(claimed)
    audit("cash.collected", actor_id=user_id, target_type="device", target_id=device_id,
          details={"collection_id": str(collection.id), "number": collection.number, "expected": expected,
                   "counted": counted, "difference": collection.difference, "currency": currency})
    db.session.commit()
    log.info("cash collected", extra={"device_id": device_id, "collection_id": str(collection.id),
                                      "number": collection.number, "expected": expected, "counted": counted,
                                      "difference": collection.difference, "payments": len(claimed),
                                      "other_currencies": others or None})
    return collection


def _last_collection_id(device_id: str) -> uuid.UUID | None:
    last = last_collection(device_id)
    return last.id if last else None


def collections(device_id: str, limit: int = HISTORY_LIMIT) -> list[CashCollection]:
    """The device's collections, newest first.

    :raise NotFound: unknown, or another establishment's device.
    """
    box_device(device_id)
    return list(db.session.scalars(
        sa.select(CashCollection).where(CashCollection.device_id == device_id)
        .order_by(CashCollection.number.desc()).limit(min(limit, HISTORY_MAX))
    ))


def collections_between(start: datetime, end: datetime, device_id: str | None = None) -> list[CashCollection]:
    """Every collection of the establishment collected in [start, end), newest first (the CSV export)."""
    if db.session.get_bind().dialect.name != "postgresql":
        # SQLite (embedded) stores naive UTC text: compare like with like.
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    where = [CashCollection.collected_at >= start, CashCollection.collected_at < end]
    if device_id is not None:
        box_device(device_id)
        where.append(CashCollection.device_id == device_id)
    return list(db.session.scalars(
        sa.select(CashCollection).where(*where)
        .order_by(CashCollection.collected_at.desc(), CashCollection.number.desc())
    ))


# --- the highlight threshold ---------------------------------------------------------------

def threshold() -> int:
    return int(current_establishment().cash_difference_threshold or 0)


def beyond_threshold(collection: CashCollection, limit: int) -> bool:
    """A difference is highlighted when it is larger than the threshold, either way."""
    return abs(collection.difference) > limit


def cash_settings() -> dict:
    establishment = current_establishment()
    return {"difference_threshold": int(establishment.cash_difference_threshold or 0),
            "currency": establishment.currency}


def update_cash_settings(difference_threshold: int) -> dict:
    establishment = current_establishment()
    establishment.cash_difference_threshold = difference_threshold
    db.session.commit()
    log.info("cash threshold changed", extra={"difference_threshold": difference_threshold})
    return cash_settings()


def describe_collection(collection: CashCollection, limit: int, emails: dict | None = None) -> dict:
    if emails is None:
        emails = _emails([collection.collected_by])
    return {
        "id": collection.id,
        "number": collection.number,
        "device_id": collection.device_id,
        "collected_at": aware(collection.collected_at),
        "since": aware(collection.since),
        "currency": collection.currency,
        "expected": collection.expected,
        "counted": collection.counted,
        "difference": collection.difference,
        "payments": collection.payments,
        "collected_by": emails.get(collection.collected_by),
        "beyond_threshold": beyond_threshold(collection, limit),
    }


def describe_collections(rows: list[CashCollection]) -> list[dict]:
    limit = threshold()
    emails = _emails([row.collected_by for row in rows])
    return [describe_collection(row, limit, emails) for row in rows]


def _emails(user_ids) -> dict:
    wanted = {u for u in user_ids if u is not None}
    if not wanted:
        return {}
    return {row.id: row.email for row in db.session.execute(sa.select(User.id, User.email).where(User.id.in_(wanted)))}
