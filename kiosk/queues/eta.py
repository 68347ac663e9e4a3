"""Wait estimates as a range: pure functions, no database, no clock.

How (see docs/queues.md for the reasoning and the measured coverage):

1. Simulate the calling rule over the waiting list (``calling.simulate``),
   with the simulated clock advancing one *call interval* per call: the
   learned mean service time divided by the counters open now. The index a
   ticket gets is the number of calls before its own.
2. Run the simulation twice: as the list stands (the optimistic order), and
   with the VIP tickets expected to arrive meanwhile at today's observed VIP
   rate (they can pass a STANDARD ticket; the pessimistic order).
3. The time until the (k+1)-th call is a sum of k+1 call intervals; model it
   as a Gamma law with that mean and the observed spread of service times,
   and take a low quantile of the optimistic index and a high quantile of
   the pessimistic one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import Any, Sequence

from kiosk.queues.calling import Fairness, Waiting, simulate
from kiosk.queues.models import DEFAULT_SERVICE_SECONDS

# A counter with a call in the last half hour counts as open.
OPEN_COUNTER_WINDOW = timedelta(minutes=30)
LOW_QUANTILE = 0.10
HIGH_QUANTILE = 0.90
# Exponentially weighted mean: recent tickets count more; the first real
# durations quickly replace the default (weight 1/(n+2) until it falls to ALPHA).
EWMA_ALPHA = 0.15
# Ignore absurd durations (a counter forgotten open over lunch) when learning.
MIN_LEARN_SECONDS = 5.0
MAX_LEARN_SECONDS = 2 * 3600.0


@dataclass(frozen=True)
class EtaModel:
    mean_service_seconds: float = DEFAULT_SERVICE_SECONDS
    counters: int = 1
    # Coefficient of variation of service times (stddev / mean); 1.0 = exponential.
    service_cv: float = 1.0
    vip_per_minute: float = 0.0

    @property
    def call_interval_seconds(self) -> float:
        return max(1.0, self.mean_service_seconds) / max(1, self.counters)

    @property
    def interval_cv(self) -> float:
        # Calls from several counters interleave: their intervals get closer to
        # a Poisson stream (cv 1) as counters are added, whatever the service law.
        cv2 = self.service_cv ** 2
        return math.sqrt(max(0.05, 1 - (1 - cv2) / max(1, self.counters)))


@dataclass(frozen=True)
class Estimate:
    position: int  # 1 = called next
    min_minutes: int
    max_minutes: int


def learn_mean(previous_mean: float, served_count: int, duration_seconds: float) -> float:
    """The new exponentially weighted mean service time after one served ticket."""
    if not MIN_LEARN_SECONDS <= duration_seconds <= MAX_LEARN_SECONDS:
        return previous_mean
    alpha = max(EWMA_ALPHA, 1.0 / (served_count + 2))
    return (1 - alpha) * previous_mean + alpha * duration_seconds


def gamma_quantile(probability: float, shape: float, scale: float) -> float:
    """Quantile of a Gamma law (Wilson-Hilferty approximation, good for shape >= ~0.5)."""
    z = NormalDist().inv_cdf(probability)
    cube = 1 - 1 / (9 * shape) + z / (3 * math.sqrt(shape))
    return max(0.0, shape * scale * max(0.0, cube) ** 3)


def time_until_call(calls_before: int, model: EtaModel, probability: float) -> float:
    """Seconds until the (calls_before + 1)-th call, at the given quantile."""
    cv2 = model.interval_cv ** 2
    shape = (calls_before + 1) / cv2
    return gamma_quantile(probability, shape, model.call_interval_seconds * cv2)


def expected_vip_arrivals(now: datetime, model: EtaModel, horizon: timedelta) -> list[Waiting]:
    if model.vip_per_minute <= 0:
        return []
    gap = timedelta(minutes=1 / model.vip_per_minute)
    arrivals, moment, n = [], now + gap, 0
    while moment <= now + horizon and n < 500:
        arrivals.append(Waiting(id=("expected-vip", n), kind="VIP", created_at=moment, number=10**9 + n))
        moment += gap
        n += 1
    return arrivals


def estimate_all(waiting: Sequence[Waiting], vip_streak: int, now: datetime, rules: Fairness,
                 model: EtaModel) -> dict[Any, Estimate]:
    """Position and ETA range of every waiting ticket, keyed by ticket id."""
    if not waiting:
        return {}
    step = timedelta(seconds=model.call_interval_seconds)
    optimistic = simulate(waiting, vip_streak, now, rules, step)
    horizon = step * (len(waiting) + 1) * 2
    pessimistic = simulate(waiting, vip_streak, now, rules, step,
                           expected_vip_arrivals(now, model, horizon))
    estimates = {}
    for index, ticket in enumerate(optimistic.order):
        worst = pessimistic.index_of(ticket.id)
        worst = index if worst is None else max(index, worst)
        low = time_until_call(index, model, LOW_QUANTILE)
        high = time_until_call(worst, model, HIGH_QUANTILE)
        low_min = int(low // 60)
        high_min = max(low_min + 1, math.ceil(high / 60))
        estimates[ticket.id] = Estimate(position=index + 1, min_minutes=low_min, max_minutes=high_min)
    return estimates
