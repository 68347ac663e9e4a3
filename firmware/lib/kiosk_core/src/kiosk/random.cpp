#include "kiosk/random.h"

#include "kiosk/signing.h"

namespace kiosk {

void RandomSource::fill(uint8_t* out, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint32_t word = next_u32();
        for (int b = 0; b < 4 && i < len; b++, i++) {
            out[i] = static_cast<uint8_t>(word >> (8 * b));
        }
    }
}

uint64_t RandomSource::uniform(uint64_t lo, uint64_t hi) {
    if (hi <= lo) return lo;
    uint64_t span = hi - lo;
    if (span == UINT64_MAX) {
        return (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
    }
    uint64_t range = span + 1;
    // Rejection sampling on 64-bit draws.
    uint64_t limit = UINT64_MAX - (UINT64_MAX % range);
    while (true) {
        uint64_t draw = (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
        if (draw < limit) return lo + draw % range;
    }
}

std::string random_hex(RandomSource& rng, size_t len) {
    std::string out;
    uint8_t buf[64];
    while (len > 0) {
        size_t n = len < sizeof buf ? len : sizeof buf;
        rng.fill(buf, n);
        out += to_hex(buf, n);
        len -= n;
    }
    return out;
}

std::string uuid_v4(RandomSource& rng) {
    uint8_t b[16];
    rng.fill(b, sizeof b);
    b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
    b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
    std::string hex = to_hex(b, sizeof b);
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
           hex.substr(20, 12);
}

bool is_uuid(const std::string& text) {
    if (text.size() != 36) return false;
    for (size_t i = 0; i < text.size(); i++) {
        char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

}  // namespace kiosk
