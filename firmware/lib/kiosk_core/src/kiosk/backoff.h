// Exponential backoff with "full jitter" (delay drawn uniformly between a
// small floor and the exponential ceiling), so a fleet of kiosks that lost the
// server together does not come back in lock step.
#pragma once

#include <cstdint>

#include "kiosk/random.h"

namespace kiosk {

struct BackoffPolicy {
    uint32_t floor_ms = 500;     // never retry in a tight loop
    uint32_t base_ms = 2000;     // ceiling of the first retry
    uint32_t cap_ms = 300000;    // ceiling never exceeds 5 minutes
};

// Ceiling for the n-th consecutive failure (n >= 1): min(cap, base * 2^(n-1)),
// and never below the floor.
inline uint64_t backoff_ceiling(const BackoffPolicy& p, uint32_t failures) {
    uint32_t shift = failures == 0 ? 0 : failures - 1;
    if (shift > 30) shift = 30;
    uint64_t ceiling = static_cast<uint64_t>(p.base_ms) << shift;
    if (ceiling > p.cap_ms) ceiling = p.cap_ms;
    if (ceiling < p.floor_ms) ceiling = p.floor_ms;
    return ceiling;
}

// Delay in [floor, ceiling(failures)], uniform.
inline uint64_t backoff_delay(const BackoffPolicy& p, uint32_t failures, RandomSource& rng) {
    return rng.uniform(p.floor_ms, backoff_ceiling(p, failures));
}

}  // namespace kiosk
