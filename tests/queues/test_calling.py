"""The calling rule as a pure function: tables of cases, no database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kiosk.queues.calling import Fairness, Waiting, calling_order, next_streak, pick_next, simulate, \
    streak_from_history

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
RULES = Fairness(vip_streak_max=3, max_standard_wait_min=45)


def tickets(spec: str) -> list[Waiting]:
    """'S10 V5 S2' -> a STANDARD waiting 10 min, a VIP waiting 5 min, a STANDARD waiting 2 min.

    Ids are the spec tokens themselves, so expectations read like the input.
    """
    result = []
    for n, token in enumerate(spec.split()):
        kind = "VIP" if token[0] == "V" else "STANDARD"
        result.append(Waiting(id=token, kind=kind, created_at=NOW - timedelta(minutes=int(token[1:])), number=n))
    return result


@pytest.mark.parametrize(("waiting", "streak", "rules", "expected"), [
    # nobody waits
    ("", 0, RULES, None),
    # one kind only: oldest first
    ("S3 S10 S5", 0, RULES, "S10"),
    ("V1 V4", 0, RULES, "V4"),
    # VIP first, even if younger
    ("S30 V1", 0, RULES, "V1"),
    ("S30 V1 V2", 2, RULES, "V2"),
    # after vip_streak_max VIP calls while a STANDARD waited, the STANDARD goes
    ("S30 V1", 3, RULES, "S30"),
    ("S30 S40 V1", 3, RULES, "S40"),
    # the streak does not matter when no STANDARD waits
    ("V1 V2", 7, RULES, "V2"),
    # a STANDARD past max_standard_wait_min goes before any VIP, streak or not
    ("S46 V10", 0, RULES, "S46"),
    ("S46 S50 V10", 0, RULES, "S50"),
    # ...but not before a VIP that has waited even longer (overload: nobody starves)
    ("S46 V50", 0, RULES, "V50"),
    ("S46 V50", 3, RULES, "V50"),
    ("S60 V50", 0, RULES, "S60"),
    # exactly at the limit is not past it
    ("S45 V10", 0, RULES, "V10"),
    # other settings
    ("S5 V1", 0, Fairness(vip_streak_max=0, max_standard_wait_min=45), "S5"),
    ("S11 V1", 0, Fairness(vip_streak_max=5, max_standard_wait_min=10), "S11"),
    ("S9 V1", 4, Fairness(vip_streak_max=5, max_standard_wait_min=10), "V1"),
])
def test_pick_next_follows_the_rule(waiting, streak, rules, expected):
    chosen = pick_next(tickets(waiting), streak, NOW, rules)
    assert (chosen.id if chosen else None) == expected


def test_same_timestamp_is_broken_by_number():
    same = [Waiting(id="b", kind="STANDARD", created_at=NOW, number=2),
            Waiting(id="a", kind="STANDARD", created_at=NOW, number=1)]
    assert pick_next(same, 0, NOW, RULES).id == "a"


@pytest.mark.parametrize(("streak", "kind", "standard_waiting", "expected"), [
    (0, "VIP", True, 1),
    (2, "VIP", True, 3),
    (2, "VIP", False, 0),  # nobody was passed over: the run is broken
    (3, "STANDARD", True, 0),
    (0, "STANDARD", False, 0),
])
def test_next_streak(streak, kind, standard_waiting, expected):
    assert next_streak(streak, kind, standard_waiting) == expected


@pytest.mark.parametrize(("history", "expected"), [
    ([], 0),
    ([("VIP", True), ("VIP", True)], 2),
    ([("VIP", True), ("STANDARD", True), ("VIP", True)], 1),
    ([("VIP", True), ("VIP", False), ("VIP", True)], 1),
    ([("VIP", False), ("VIP", False)], 0),
])
def test_streak_from_history(history, expected):
    assert streak_from_history(history) == expected


@pytest.mark.parametrize(("waiting", "streak", "expected"), [
    # VIPs first, but never more than 3 in a row while a STANDARD waits
    ("S20 S10 V5 V4 V3 V2 V1", 0, "V5 V4 V3 S20 V2 V1 S10"),
    # the streak carries over from calls already made
    ("S20 S10 V5 V4", 2, "V5 S20 V4 S10"),
    ("S20 V5 V4", 3, "S20 V5 V4"),
    # an overdue STANDARD first, then the rule as usual
    ("S50 S20 V5 V4", 0, "S50 V5 V4 S20"),
    ("S10 S5", 0, "S10 S5"),
])
def test_calling_order_applies_the_rule_call_after_call(waiting, streak, expected):
    order = calling_order(tickets(waiting), streak, NOW, RULES)
    assert " ".join(t.id for t in order) == expected


def test_simulated_clock_promotes_a_standard_that_will_be_overdue():
    # S40 is 5 minutes from the limit; with 4 minutes per call, it passes it
    # after two VIP calls (simulated clock at +8 min) and then goes next.
    order = calling_order(tickets("S40 V3 V2 V1"), 0, NOW, RULES, step=timedelta(minutes=4))
    assert " ".join(t.id for t in order) == "V3 V2 S40 V1"
    # Without time passing, VIPs keep priority up to the streak limit.
    order = calling_order(tickets("S40 V3 V2 V1"), 0, NOW, RULES)
    assert " ".join(t.id for t in order) == "V3 V2 V1 S40"


def test_expected_arrivals_join_when_the_clock_reaches_them():
    later = Waiting(id="V-later", kind="VIP", created_at=NOW + timedelta(minutes=5), number=99)
    result = simulate(tickets("S1 S2"), 0, NOW, RULES, step=timedelta(minutes=6), arrivals=[later])
    # S2 is called at 0, then the VIP (arrived at +5) passes S1 at +6.
    assert [t.id for t in result.order] == ["S2", "V-later", "S1"]
    assert result.times == [NOW, NOW + timedelta(minutes=6), NOW + timedelta(minutes=12)]


def test_every_ticket_is_called_exactly_once():
    waiting = tickets("S60 S44 S30 V20 V9 S8 V7 V6 V5 S4 V3 V2 V1")
    order = calling_order(waiting, 1, NOW, RULES, step=timedelta(minutes=3))
    assert sorted(t.id for t in order) == sorted(t.id for t in waiting)


def reference_simulation(waiting, vip_streak, now, rules, step, arrivals):
    """The rule applied literally: ``pick_next`` on what remains, after every call."""
    pending = sorted(arrivals, key=lambda t: (t.created_at, t.number))
    remaining, clock, order = list(waiting), now, []
    while remaining or pending:
        while pending and pending[0].created_at <= clock:
            remaining.append(pending.pop(0))
        if not remaining:
            clock = max(clock, pending[0].created_at)
            continue
        chosen = pick_next(remaining, vip_streak, clock, rules)
        remaining.remove(chosen)
        standard_waiting = any(t.kind != "VIP" for t in remaining) if chosen.kind == "VIP" else True
        vip_streak = next_streak(vip_streak, chosen.kind, standard_waiting)
        order.append((chosen.id, clock))
        clock += step
    return order


@pytest.mark.parametrize("seed", range(300))
def test_simulation_makes_the_same_calls_as_the_rule_applied_call_by_call(seed):
    import random

    rng = random.Random(seed)
    rules = Fairness(vip_streak_max=rng.randint(0, 4), max_standard_wait_min=rng.choice([5, 20, 45]))
    size = rng.randint(0, 60)
    # Coarse minutes make equal timestamps (ties broken by number) common.
    waiting = [Waiting(id=f"w{n}", kind=rng.choice(["VIP", "STANDARD", "STANDARD"]),
                       created_at=NOW - timedelta(minutes=rng.randint(0, 90)), number=rng.randint(0, 5))
               for n in range(size)]
    arrivals = [Waiting(id=f"a{n}", kind=rng.choice(["VIP", "STANDARD"]),
                        created_at=NOW + timedelta(minutes=rng.randint(0, 120)), number=10**9 + n)
                for n in range(rng.randint(0, 15))]
    step = timedelta(minutes=rng.choice([0, 1, 3, 7]))
    streak = rng.randint(0, 5)

    result = simulate(waiting, streak, NOW, rules, step, arrivals)

    expected = reference_simulation(waiting, streak, NOW, rules, step, arrivals)
    assert [(t.id, at) for t, at in zip(result.order, result.times)] == expected
    assert all(result.index_of(ticket_id) == index for index, (ticket_id, _) in enumerate(expected))
    assert result.index_of("nobody") is None
