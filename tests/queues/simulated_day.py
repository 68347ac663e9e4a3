"""A simulated working day, to calibrate the ETA range against what really happens.

Customers arrive (a morning rush, VIPs among them), counters open and close
(one takes a lunch break), service times are log-normal, some customers do
not show up. Calls use the real calling rule (``pick_next``); every estimate
uses the real ETA code (``model_from_history`` + ``estimate_all``) fed only
with what the app itself would know at that moment: the learned mean, the
counters that called in the last 30 minutes, recent service durations and
the VIP tickets of the last hour. Then each estimate is compared with the
wait that followed.
"""
from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from kiosk.queues import eta
from kiosk.queues.calling import Fairness, Waiting, next_streak, pick_next

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@dataclass
class Day:
    seed: int
    minutes: int = 8 * 60
    # (counter, opens at minute, closes at minute, [(break start, break end)])
    counters: tuple = (("1", 0, 480, ()), ("2", 0, 480, ()), ("3", 30, 480, ((240, 300),)))
    # Arrivals per hour: a rush from 9:00 to 11:00, then calmer.
    standard_per_hour: tuple = ((0, 30), (60, 48), (180, 30), (360, 20))
    vip_per_hour: tuple = ((0, 5), (60, 8), (180, 5))
    service_mean_seconds: float = 240.0
    service_cv: float = 0.6
    no_show_rate: float = 0.05
    no_show_seconds: float = 60.0
    rules: Fairness = field(default_factory=Fairness)
    # Re-estimate every waiting ticket this often, as the ticket page would show it.
    reestimate_every_minutes: int = 5


@dataclass
class Observation:
    ticket_id: int
    kind: str
    at_issue: bool
    position: int
    min_minutes: int
    max_minutes: int
    waited_minutes: float
    # Every open counter was serving someone when the estimate was made (a busy time).
    busy: bool = False

    @property
    def inside(self) -> bool:
        return self.min_minutes <= self.waited_minutes <= self.max_minutes


def _rate(profile: tuple, minute: float) -> float:
    current = 0.0
    for start, rate in profile:
        if minute >= start:
            current = rate
    return current


def _arrivals(rng: random.Random, profile: tuple, minutes: int) -> list[float]:
    """Non-homogeneous Poisson arrivals (thinning), in minutes from the start."""
    peak = max(rate for _, rate in profile) / 60.0
    t, times = 0.0, []
    while True:
        t += rng.expovariate(peak)
        if t >= minutes:
            return times
        if rng.random() < _rate(profile, t) / 60.0 / peak:
            times.append(t)


def _service(rng: random.Random, day: Day) -> float:
    sigma2 = math.log(1 + day.service_cv ** 2)
    mu = math.log(day.service_mean_seconds) - sigma2 / 2
    return rng.lognormvariate(mu, math.sqrt(sigma2))


def _open(day: Day, counter: str, minute: float) -> bool:
    for name, opens, closes, breaks in day.counters:
        if name == counter:
            # After closing time, counters stay until everyone waiting is served.
            return (opens <= minute < closes or minute >= day.minutes) and not any(a <= minute < b for a, b in breaks)
    return False


def run(day: Day) -> list[Observation]:
    rng = random.Random(day.seed)
    events: list = []  # (minute, order, kind, payload)
    order = 0

    def push(minute: float, kind: str, payload) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (minute, order, kind, payload))

    for kind, profile in (("STANDARD", day.standard_per_hour), ("VIP", day.vip_per_hour)):
        for minute in _arrivals(rng, profile, day.minutes):
            push(minute, "arrive", kind)
    for name, opens, _closes, breaks in day.counters:
        push(opens, "wake", name)
        for _start, end in breaks:
            push(end, "wake", name)
    for minute in range(0, day.minutes, day.reestimate_every_minutes):
        push(minute + 0.5, "reestimate", None)

    waiting: list[Waiting] = []
    idle: set[str] = set()
    busy_since: dict[str, float] = {}
    streak = 0
    mean, served_count = eta.DEFAULT_SERVICE_SECONDS, 0
    durations: list[float] = []
    calls: list[tuple[float, str]] = []
    vip_arrivals: list[float] = []
    issued: dict[int, float] = {}
    called: dict[int, float] = {}
    estimates: list[tuple[int, str, bool, float, eta.Estimate, bool]] = []
    next_id = 0

    def at(minute: float) -> datetime:
        return START + timedelta(minutes=minute)

    def model(minute: float) -> eta.EtaModel:
        window = eta.OPEN_COUNTER_WINDOW.total_seconds() / 60
        counters = {c for t, c in calls if t >= minute - window}
        vip_last_hour = sum(1 for t in vip_arrivals if minute - 60 <= t <= minute)
        busy = [(minute - since) * 60 for c, since in busy_since.items() if c not in idle]
        return eta.model_from_history(mean, len(counters), durations[-eta.RECENT_SERVICE_SAMPLES:], vip_last_hour,
                                      busy)

    def estimate(minute: float, only: int | None = None) -> None:
        current = model(minute)
        result = eta.estimate_all(waiting, streak, at(minute), day.rules, current)
        for ticket in waiting:
            if only is None or ticket.id == only:
                estimates.append((ticket.id, ticket.kind, only is not None, minute, result[ticket.id],
                                  current.free_counters == 0))

    def dispatch(minute: float) -> None:
        nonlocal streak
        for counter in sorted(idle):
            if not waiting:
                return
            if not _open(day, counter, minute):
                continue
            chosen = pick_next(waiting, streak, at(minute), day.rules)
            waiting.remove(chosen)
            streak = next_streak(streak, chosen.kind, any(t.kind != "VIP" for t in waiting)
                                 if chosen.kind == "VIP" else True)
            idle.discard(counter)
            busy_since[counter] = minute
            called[chosen.id] = minute
            calls.append((minute, counter))
            if rng.random() < day.no_show_rate:
                push(minute + day.no_show_seconds / 60, "free", (counter, None))
            else:
                seconds = _service(rng, day)
                push(minute + seconds / 60, "free", (counter, seconds))

    while events:
        minute, _order, kind, payload = heapq.heappop(events)
        if kind == "arrive":
            if minute >= day.minutes:
                continue
            waiting.append(Waiting(id=next_id, kind=payload, created_at=at(minute), number=next_id))
            issued[next_id] = minute
            if payload == "VIP":
                vip_arrivals.append(minute)
            estimate(minute, only=next_id)
            next_id += 1
        elif kind == "free":
            counter, seconds = payload
            if seconds is not None:
                durations.append(seconds)
                mean = eta.learn_mean(mean, served_count, seconds)
                served_count += 1
            idle.add(counter)
        elif kind == "wake":
            idle.add(payload)
        elif kind == "reestimate" and waiting:
            estimate(minute)
        dispatch(minute)
        if not events and waiting:
            # Past closing, the counters still open serve everyone left.
            push(minute + 1, "wake", "1")

    observations = []
    for ticket_id, kind, at_issue, minute, est, busy in estimates:
        if ticket_id in called:
            observations.append(Observation(ticket_id, kind, at_issue, est.position, est.min_minutes,
                                            est.max_minutes, called[ticket_id] - minute, busy))
    return observations


def coverage(observations: list[Observation]) -> float:
    return sum(o.inside for o in observations) / len(observations) if observations else float("nan")
