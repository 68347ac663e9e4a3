// Single-producer single-consumer ring of pulse timestamps. The producer is
// the IRAM_ATTR GPIO interrupt (src/main.cpp); the consumer is the main loop.
// push() is always inlined and touches only this object (which lives in
// DRAM), so the ISR stays safe while flash is busy with an NVS commit.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace kiosk {

template <size_t N>
class PulseRing {
    static_assert(N >= 2 && (N & (N - 1)) == 0, "capacity must be a power of two");

public:
    __attribute__((always_inline)) inline bool push(uint64_t timestamp_us) {
        uint32_t head = head_.load(std::memory_order_relaxed);
        uint32_t tail = tail_.load(std::memory_order_acquire);
        if (head - tail >= N) {
            dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            return false;
        }
        slots_[head & (N - 1)] = timestamp_us;
        head_.store(head + 1, std::memory_order_release);
        return true;
    }

    bool pop(uint64_t& timestamp_us) {
        uint32_t tail = tail_.load(std::memory_order_relaxed);
        uint32_t head = head_.load(std::memory_order_acquire);
        if (tail == head) return false;
        timestamp_us = slots_[tail & (N - 1)];
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Pulses lost because the ring was full (the consumer stalled).
    uint32_t take_dropped() {
        uint32_t n = dropped_.load(std::memory_order_relaxed);
        if (n) dropped_.store(0, std::memory_order_relaxed);  // producer only increments: a lost increment only under-reports
        return n;
    }

    size_t size() const { return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire); }

private:
    uint64_t slots_[N] = {};
    std::atomic<uint32_t> head_{0};
    std::atomic<uint32_t> tail_{0};
    std::atomic<uint32_t> dropped_{0};
};

}  // namespace kiosk
