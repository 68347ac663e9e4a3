// Device request signing, scheme v1 (ARCHITECTURE.md section 4).
//
// String to sign, lines joined by "\n", no trailing newline:
//   v1, METHOD, path (with ?query), device_id, timestamp, nonce, sha256_hex(body)
// Signature header: "v1=" + lowercase hex HMAC-SHA256, keyed with the UTF-8
// bytes of the secret_key string exactly as issued (the hex text itself, not
// its decoded bytes). Mirrors kiosk/devices/signing.py; both pass
// shared/test-vectors/device-signing.json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kiosk/random.h"

namespace kiosk {

constexpr const char* kScheme = "v1";

struct Header {
    std::string name;
    std::string value;
};

std::string to_hex(const uint8_t* data, size_t len);

// Lowercase hex SHA-256 (64 chars). Empty string on an mbedtls failure.
std::string sha256_hex(const std::string& data);

// Lowercase hex HMAC-SHA256 via mbedtls_md_hmac_starts/update/finish.
bool hmac_sha256_hex(const std::string& key, const std::string& message, std::string& out_hex);

std::string string_to_sign(const std::string& method, const std::string& path, const std::string& device_id,
                           int64_t timestamp, const std::string& nonce, const std::string& body);

// "v1=<hex>", or "" if the HMAC could not be computed.
std::string sign(const std::string& secret_key, const std::string& method, const std::string& path,
                 const std::string& device_id, int64_t timestamp, const std::string& nonce, const std::string& body);

// 32 lowercase hex chars from 16 random bytes: inside the contract's
// 16-64 chars of [A-Za-z0-9_-].
std::string new_nonce(RandomSource& rng);
bool nonce_is_valid(const std::string& nonce);

// X-Device-Id, X-Timestamp, X-Nonce, X-Signature for one request.
std::vector<Header> signed_headers(const std::string& device_id, const std::string& secret_key,
                                   const std::string& method, const std::string& path, const std::string& body,
                                   int64_t timestamp, const std::string& nonce);

// Constant-time comparison (for completeness; the device never verifies).
bool constant_time_equals(const std::string& a, const std::string& b);

}  // namespace kiosk
