// Injected randomness: esp_random() on the device (a hardware RNG, true random
// while Wi-Fi or Bluetooth is on), a seeded generator in host tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiosk {

class RandomSource {
public:
    virtual ~RandomSource() = default;
    virtual uint32_t next_u32() = 0;

    void fill(uint8_t* out, size_t len);
    // Uniform integer in [lo, hi] (inclusive), without modulo bias.
    uint64_t uniform(uint64_t lo, uint64_t hi);
};

// Lowercase hex of `len` random bytes (2*len characters).
std::string random_hex(RandomSource& rng, size_t len);

// RFC 4122 version 4 UUID, lowercase, 36 characters.
std::string uuid_v4(RandomSource& rng);
bool is_uuid(const std::string& text);

}  // namespace kiosk
