"""The calling rule, as pure functions over a waiting list (no database, no clock).

Rule (ARCHITECTURE.md §5), applied at every call:

1. A STANDARD ticket waiting longer than ``max_standard_wait_min`` goes next
   (the oldest such ticket first), before every VIP ticket that arrived
   after it. A VIP ticket that has waited even longer still goes first: in an
   overload where every STANDARD ticket is overdue, paying customers must not
   starve behind people who came after them.
2. Otherwise a VIP ticket goes first (oldest VIP first), unless
   ``vip_streak_max`` VIP tickets have already been called in a row while a
   STANDARD ticket was waiting: then the oldest STANDARD ticket goes next.
3. Otherwise the oldest ticket of the only kind that waits.

The *streak* counts consecutive VIP calls made while at least one STANDARD
ticket was waiting. A STANDARD call resets it, and so does a VIP call made
while no STANDARD ticket waited (nobody was being passed over).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence


@dataclass(frozen=True)
class Waiting:
    """One waiting ticket as the rule sees it."""

    id: Any
    kind: str  # "STANDARD" | "VIP"
    created_at: datetime
    number: int = 0  # tie-break within a kind when two tickets share a timestamp


@dataclass(frozen=True)
class Fairness:
    vip_streak_max: int = 3
    max_standard_wait_min: int = 45


def _age_order(ticket: Waiting) -> tuple:
    return (ticket.created_at, ticket.number)


def pick_next(waiting: Sequence[Waiting], vip_streak: int, now: datetime, rules: Fairness) -> Waiting | None:
    """The ticket the rule calls next, or None when nobody waits."""
    standards = sorted((t for t in waiting if t.kind != "VIP"), key=_age_order)
    vips = sorted((t for t in waiting if t.kind == "VIP"), key=_age_order)
    oldest_standard = standards[0] if standards else None
    if oldest_standard is not None:
        if now - oldest_standard.created_at > timedelta(minutes=rules.max_standard_wait_min):
            if vips and _age_order(vips[0]) < _age_order(oldest_standard):
                return vips[0]
            return oldest_standard
        if not vips or vip_streak >= rules.vip_streak_max:
            return oldest_standard
    return vips[0] if vips else None


def next_streak(vip_streak: int, called_kind: str, standard_was_waiting: bool) -> int:
    """The VIP streak after one call."""
    if called_kind == "VIP" and standard_was_waiting:
        return vip_streak + 1
    return 0


def streak_from_history(calls: Iterable[tuple[str, bool]]) -> int:
    """Fold ``(kind, standard_was_waiting)`` call records, oldest first, into the current streak."""
    streak = 0
    for kind, standard_was_waiting in calls:
        streak = next_streak(streak, kind, standard_was_waiting)
    return streak


@dataclass
class Simulation:
    """The order in which the rule would call everyone, and when (simulated)."""

    order: list[Waiting] = field(default_factory=list)
    # Simulated call time of each ticket in ``order``, same index.
    times: list[datetime] = field(default_factory=list)

    def index_of(self, ticket_id: Any) -> int | None:
        for index, ticket in enumerate(self.order):
            if ticket.id == ticket_id:
                return index
        return None


def simulate(waiting: Sequence[Waiting], vip_streak: int, now: datetime, rules: Fairness,
             step: timedelta = timedelta(0), arrivals: Sequence[Waiting] = ()) -> Simulation:
    """Apply the rule call after call until the list (plus arrivals) is empty.

    ``step`` is the expected time between two calls: the simulated clock
    advances by it after each call, so a STANDARD ticket that will pass
    ``max_standard_wait_min`` before its turn is promoted where it would be.
    ``arrivals`` are tickets expected later (their ``created_at`` in the
    future); each joins the list once the simulated clock reaches it.
    """
    pending = sorted(arrivals, key=_age_order)
    remaining = list(waiting)
    clock = now
    result = Simulation()
    while remaining or pending:
        while pending and pending[0].created_at <= clock:
            remaining.append(pending.pop(0))
        if not remaining:
            # Nobody waits until the next arrival; jump the clock to it.
            clock = max(clock, pending[0].created_at)
            continue
        chosen = pick_next(remaining, vip_streak, clock, rules)
        assert chosen is not None
        remaining.remove(chosen)
        standard_waiting = any(t.kind != "VIP" for t in remaining) if chosen.kind == "VIP" else True
        vip_streak = next_streak(vip_streak, chosen.kind, standard_waiting)
        result.order.append(chosen)
        result.times.append(clock)
        clock = clock + step
    return result


def calling_order(waiting: Sequence[Waiting], vip_streak: int, now: datetime, rules: Fairness,
                  step: timedelta = timedelta(0)) -> list[Waiting]:
    """The waiting list in the order the rule will call it (no future arrivals)."""
    return simulate(waiting, vip_streak, now, rules, step).order
