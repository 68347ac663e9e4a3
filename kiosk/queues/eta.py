"""Wait estimates as a range: pure functions, no database, no clock.

How (see docs/queues.md for the reasoning and the measured coverage):

1. Simulate the calling rule over the waiting list (``calling.simulate``),
   with the simulated clock advancing one *call interval* per call: the
   learned mean service time divided by the counters open now. The index a
   ticket gets is the number of calls before its own.
2. Run the simulation twice: as the list stands (the optimistic order), and
   with the VIP tickets expected to arrive meanwhile at today's observed VIP
   rate (they can pass a STANDARD ticket; the pessimistic order).
3. The expected time of each coming call follows from when each open
   counter will be free: at once for a free counter; for a busy one, the
   expected rest of the service it started ``elapsed`` seconds ago (the
   longer a service has lasted, the less of it is left when services vary
   little); then one mean service after each call it takes. Around that mean,
   a Gamma law with the observed spread of service times; take a low
   quantile of the optimistic index and a high quantile of the pessimistic one.

The app (``queues.services.eta_inputs``) and the calibration harness
(``tests/queues/simulated_day.py``) both build the model with
``model_from_history`` and estimate with ``estimate_all``.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from statistics import NormalDist
from typing import Any, Sequence

from kiosk.queues.calling import Fairness, Waiting, simulate
from kiosk.queues.models import DEFAULT_SERVICE_SECONDS

# A counter with a call in the last half hour counts as open.
OPEN_COUNTER_WINDOW = timedelta(minutes=30)
LOW_QUANTILE = 0.10
HIGH_QUANTILE = 0.90
# How early the pessimistic order lets expected VIPs arrive (quantile of arrival times).
VIP_ARRIVAL_QUANTILE = 0.25
# Exponentially weighted mean: recent tickets count more; the first real
# durations quickly replace the default (weight 1/(n+2) until it falls to ALPHA).
EWMA_ALPHA = 0.15
# Ignore absurd durations (a counter forgotten open over lunch) when learning.
MIN_LEARN_SECONDS = 5.0
MAX_LEARN_SECONDS = 2 * 3600.0
# Spread of service times: assumed exponential-like until enough tickets were served.
DEFAULT_SERVICE_CV = 1.0
MIN_SERVICE_CV = 0.3
MAX_SERVICE_CV = 1.5
MIN_CV_SAMPLES = 5
RECENT_SERVICE_SAMPLES = 50
# A service is never expected to end sooner than this (the agent still has to wave the next one in).
MIN_REMAINING_SECONDS = 15.0


@dataclass(frozen=True)
class EtaModel:
    mean_service_seconds: float = DEFAULT_SERVICE_SECONDS
    counters: int = 1
    # Coefficient of variation of service times (stddev / mean); 1.0 = exponential.
    service_cv: float = 1.0
    vip_per_minute: float = 0.0
    # Served tickets behind the mean: few samples, less trust in it.
    samples: int = 0
    # Open counters with nobody at them right now: the next tickets go at once.
    free_counters: int = 0
    # Seconds already spent on the ticket at each busy counter, when known
    # (busy counters beyond these are assumed part-way through on average).
    busy_elapsed: tuple[float, ...] = ()

    @property
    def call_interval_seconds(self) -> float:
        return max(1.0, self.mean_service_seconds) / max(1, self.counters)

    @property
    def interval_cv(self) -> float:
        # Calls from several counters interleave: their intervals get closer to
        # a Poisson stream (cv 1) as counters are added, whatever the service law.
        cv2 = self.service_cv ** 2
        return math.sqrt(max(0.05, 1 - (1 - cv2) / max(1, self.counters)))

    @property
    def mean_relative_error(self) -> float:
        """Standard error of the learned mean, relative to it.

        An exponentially weighted mean remembers about (2 - alpha) / alpha
        tickets; before any, the default is a guess (one pseudo-sample).
        """
        effective = min(self.samples + 1, (2 - EWMA_ALPHA) / EWMA_ALPHA)
        return self.service_cv / math.sqrt(effective)


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


def model_from_history(mean_service_seconds: float | None, open_counters: int, recent_durations: Sequence[float],
                       vip_tickets_last_hour: int, busy_elapsed: Sequence[float] = ()) -> EtaModel:
    """Build the model from what the queue's history shows (shared by the app and the calibration).

    ``busy_elapsed``: for each counter serving someone now, the seconds since
    it called that ticket. A busy counter is open even if its call is older
    than the open-counter window.
    """
    busy = tuple(sorted(max(0.0, float(e)) for e in busy_elapsed))
    open_counters = max(open_counters, len(busy))
    durations = [d for d in recent_durations if MIN_LEARN_SECONDS <= d <= MAX_LEARN_SECONDS]
    cv = DEFAULT_SERVICE_CV
    if len(durations) >= MIN_CV_SAMPLES:
        mean = sum(durations) / len(durations)
        variance = sum((d - mean) ** 2 for d in durations) / (len(durations) - 1)
        cv = min(MAX_SERVICE_CV, max(MIN_SERVICE_CV, math.sqrt(variance) / mean))
    return EtaModel(mean_service_seconds=mean_service_seconds or DEFAULT_SERVICE_SECONDS,
                    counters=max(1, open_counters), service_cv=cv,
                    vip_per_minute=vip_tickets_last_hour / 60.0, samples=len(durations),
                    free_counters=max(0, open_counters - len(busy)), busy_elapsed=busy)


@lru_cache(maxsize=64)
def _normal_quantile(probability: float) -> float:
    # Only a handful of probabilities are ever asked for, a few hundred times per estimate.
    return NormalDist().inv_cdf(probability)


def gamma_quantile(probability: float, shape: float, scale: float) -> float:
    """Quantile of a Gamma law (Wilson-Hilferty approximation, good for shape >= ~0.5)."""
    z = _normal_quantile(probability)
    cube = 1 - 1 / (9 * shape) + z / (3 * math.sqrt(shape))
    return max(0.0, shape * scale * max(0.0, cube) ** 3)


def remaining_service(elapsed: float, model: EtaModel) -> float:
    """Expected rest of a service that has lasted ``elapsed`` seconds (its mean residual life).

    A fresh service has the whole mean ahead of it. Past that, with services
    that vary little (cv < 1) the rest shrinks; with very variable ones
    (cv > 1) a long service tends to go on. Both tend to ``mean x cv^2``, the
    residual life of a Gamma law with that mean and spread.
    """
    mean = max(1.0, model.mean_service_seconds)
    floor = mean * model.service_cv ** 2
    return max(MIN_REMAINING_SECONDS, floor + (mean - floor) * math.exp(-max(0.0, elapsed) / mean))


def call_schedule(model: EtaModel, calls: int) -> list[float]:
    """Expected seconds until each of the next ``calls`` calls.

    Each open counter takes the next ticket when it is free: a free counter
    at once, a busy one after the rest of its service (``remaining_service``
    when its elapsed time is known; busy counters with no known start are
    spread evenly over one service), then one mean service after each call.
    """
    mean = max(1.0, model.mean_service_seconds)
    busy = max(0, model.counters - model.free_counters)
    known = list(model.busy_elapsed[:busy])
    unknown = busy - len(known)
    residual = min(1.0, (1 + model.service_cv ** 2) / 2)
    free_at = ([0.0] * model.free_counters + [remaining_service(e, model) for e in known]
               + [mean * (j + residual) / unknown for j in range(unknown)])
    heapq.heapify(free_at)
    times = []
    for _ in range(calls):
        moment = heapq.heappop(free_at)
        times.append(moment)
        heapq.heappush(free_at, moment + mean)
    return times


def time_until_call(calls_before: int, model: EtaModel, probability: float,
                    schedule: Sequence[float] | None = None) -> float:
    """Seconds until the (calls_before + 1)-th call, at the given quantile.

    The mean is the expected moment of that call (``call_schedule``); the
    variance adds one call interval's spread per interval until then, and the
    uncertainty of the learned mean itself (it scales the whole wait, so it
    grows with k, not sqrt(k)). A ticket that goes to a free counter waits
    nothing at the low quantile, and at most a fraction of an interval (the
    agent finishing a gesture) at the high one.
    """
    schedule = schedule if schedule is not None and len(schedule) > calls_before \
        else call_schedule(model, calls_before + 1)
    step = model.call_interval_seconds
    mean = schedule[calls_before]
    if mean <= 0:
        if probability < 0.5:
            return 0.0
        mean = step * min(1.0, (1 + model.service_cv ** 2) / 2) / 2
    calls = mean / step
    variance = calls * (step * model.interval_cv) ** 2 + (mean * model.mean_relative_error) ** 2
    return gamma_quantile(probability, mean * mean / variance, variance / mean)


def expected_vip_arrivals(now: datetime, model: EtaModel, horizon: timedelta,
                          quantile: float = VIP_ARRIVAL_QUANTILE) -> list[Waiting]:
    """VIP tickets that may arrive, for the pessimistic order.

    VIPs arrive as a Poisson stream at the observed rate; the n-th one is
    placed at the ``quantile`` of its arrival time (a Gamma(n) law), i.e.
    earlier than on average: with a low quantile, a few VIPs arriving
    sooner than expected stay inside the range.
    """
    if model.vip_per_minute <= 0:
        return []
    mean_gap = 60.0 / model.vip_per_minute
    arrivals = []
    for n in range(1, 500):
        moment = now + timedelta(seconds=gamma_quantile(quantile, n, mean_gap))
        if moment > now + horizon:
            break
        arrivals.append(Waiting(id=("expected-vip", n), kind="VIP", created_at=moment, number=10**9 + n))
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
    schedule = call_schedule(model, len(pessimistic.order) + 1)
    estimates = {}
    for index, ticket in enumerate(optimistic.order):
        worst = pessimistic.index_of(ticket.id)
        worst = index if worst is None else max(index, worst)
        low = time_until_call(index, model, LOW_QUANTILE, schedule)
        high = time_until_call(worst, model, HIGH_QUANTILE, schedule)
        low_min = int(low // 60)
        high_min = max(low_min + 1, math.ceil(high / 60))
        estimates[ticket.id] = Estimate(position=index + 1, min_minutes=low_min, max_minutes=high_min)
    return estimates
