#include "kiosk/signing.h"

#include <mbedtls/md.h>

namespace kiosk {

std::string to_hex(const uint8_t* data, size_t len) {
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (size_t i = 0; i < len; i++) {
        out += kDigits[data[i] >> 4];
        out += kDigits[data[i] & 0x0F];
    }
    return out;
}

std::string sha256_hex(const std::string& data) {
    const mbedtls_md_info_t* info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    unsigned char digest[32];
    if (info == nullptr ||
        mbedtls_md(info, reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest) != 0) {
        return std::string();
    }
    return to_hex(digest, sizeof digest);
}

bool hmac_sha256_hex(const std::string& key, const std::string& message, std::string& out_hex) {
    const mbedtls_md_info_t* info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (info == nullptr) return false;
    mbedtls_md_context_t ctx;
    mbedtls_md_init(&ctx);
    unsigned char digest[32];
    bool ok = mbedtls_md_setup(&ctx, info, 1 /* hmac */) == 0 &&
              mbedtls_md_hmac_starts(&ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size()) == 0 &&
              mbedtls_md_hmac_update(&ctx, reinterpret_cast<const unsigned char*>(message.data()), message.size()) ==
                  0 &&
              mbedtls_md_hmac_finish(&ctx, digest) == 0;
    mbedtls_md_free(&ctx);  // also wipes the key material held in the context
    if (ok) out_hex = to_hex(digest, sizeof digest);
    return ok;
}

static std::string upper(const std::string& text) {
    std::string out = text;
    for (char& c : out) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return out;
}

std::string string_to_sign(const std::string& method, const std::string& path, const std::string& device_id,
                           int64_t timestamp, const std::string& nonce, const std::string& body) {
    std::string out;
    out.reserve(160 + path.size());
    out += kScheme;
    out += '\n';
    out += upper(method);
    out += '\n';
    out += path;
    out += '\n';
    out += device_id;
    out += '\n';
    out += std::to_string(timestamp);
    out += '\n';
    out += nonce;
    out += '\n';
    out += sha256_hex(body);
    return out;
}

std::string sign(const std::string& secret_key, const std::string& method, const std::string& path,
                 const std::string& device_id, int64_t timestamp, const std::string& nonce, const std::string& body) {
    std::string hex;
    if (!hmac_sha256_hex(secret_key, string_to_sign(method, path, device_id, timestamp, nonce, body), hex)) {
        return std::string();
    }
    return std::string(kScheme) + "=" + hex;
}

std::string new_nonce(RandomSource& rng) { return random_hex(rng, 16); }

bool nonce_is_valid(const std::string& nonce) {
    if (nonce.size() < 16 || nonce.size() > 64) return false;
    for (char c : nonce) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::vector<Header> signed_headers(const std::string& device_id, const std::string& secret_key,
                                   const std::string& method, const std::string& path, const std::string& body,
                                   int64_t timestamp, const std::string& nonce) {
    return {
        {"X-Device-Id", device_id},
        {"X-Timestamp", std::to_string(timestamp)},
        {"X-Nonce", nonce},
        {"X-Signature", sign(secret_key, method, path, device_id, timestamp, nonce, body)},
    };
}

bool constant_time_equals(const std::string& a, const std::string& b) {
    unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
    size_t n = a.size() < b.size() ? a.size() : b.size();
    for (size_t i = 0; i < n; i++) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace kiosk
