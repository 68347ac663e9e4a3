#include "kiosk/config.h"

#include <cstdlib>

#include "kiosk/json.h"

namespace kiosk {

bool parse_server_url(const std::string& url, ServerUrl& out) {
    const std::string scheme = "https://";
    if (url.compare(0, scheme.size(), scheme) != 0) return false;
    std::string rest = url.substr(scheme.size());
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (rest.empty() || rest.find_first_of("/?#@ ") != std::string::npos) return false;
    ServerUrl parsed;
    size_t colon = rest.rfind(':');
    if (colon != std::string::npos) {
        std::string port = rest.substr(colon + 1);
        if (port.empty() || port.size() > 5) return false;
        for (char c : port) {
            if (c < '0' || c > '9') return false;
        }
        unsigned long value = std::strtoul(port.c_str(), nullptr, 10);
        if (value == 0 || value > 65535) return false;
        parsed.port = static_cast<uint16_t>(value);
        rest = rest.substr(0, colon);
    }
    if (rest.empty()) return false;
    for (char c : rest) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!ok) return false;
    }
    parsed.host = rest;
    out = parsed;
    return true;
}

void DeviceConfig::load(Storage& storage) {
    std::string value;
    auto get = [&](const char* key, std::string& field) {
        if (storage.read(key, value)) field = value;
    };
    Json doc;
    if (storage.read(keys::kIdentity, value) && Json::parse(value, doc)) {
        device_id = doc["device_id"].str();
        secret_key = doc["secret_key"].str();
        establishment_id = doc["establishment_id"].str();
        queue_id = doc["queue_id"].str();
    }
    if (storage.read(keys::kWifi, value) && Json::parse(value, doc)) {
        wifi_ssid = doc["ssid"].str();
        wifi_pass = doc["pass"].str();
    }
    get(keys::kServerUrl, server_url);
    get(keys::kCaPem, ca_pem);
    get(keys::kNtp, ntp_server);
    get(keys::kCurrency, currency);
    if (storage.read(keys::kPrice, value)) price = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    if (storage.read(keys::kTheme, value)) theme = Theme::from_blob(value);
    std::vector<CoinType> table;
    if (storage.read(keys::kCoins, value) && parse_coin_table(value, table)) coins = table;
}

std::string identity_blob(const std::string& device_id, const std::string& secret_key,
                          const std::string& establishment_id, const std::string& queue_id) {
    return "{\"device_id\":" + json_quote(device_id) + ",\"secret_key\":" + json_quote(secret_key) +
           ",\"establishment_id\":" + json_quote(establishment_id) + ",\"queue_id\":" + json_quote(queue_id) + "}";
}

std::string wifi_blob(const std::string& ssid, const std::string& pass) {
    return "{\"ssid\":" + json_quote(ssid) + ",\"pass\":" + json_quote(pass) + "}";
}

bool valid_currency(const std::string& code) {
    if (code.size() != 3) return false;
    for (char c : code) {
        if (c < 'A' || c > 'Z') return false;
    }
    return true;
}

bool looks_like_pem_certificate(const std::string& pem) {
    size_t begin = pem.find("-----BEGIN CERTIFICATE-----");
    size_t end = pem.find("-----END CERTIFICATE-----");
    return begin != std::string::npos && end != std::string::npos && end > begin + 40;
}

}  // namespace kiosk
