// Device settings, all in NVS (namespace "kiosk" on the device). Nothing
// secret is compiled in: Wi-Fi credentials, the server URL and its CA come
// from the serial console; device_id and secret_key from the claim-code
// registration (POST /iot/register {"claim_code"}).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiosk/coin_counter.h"
#include "kiosk/ports.h"
#include "kiosk/theme.h"

namespace kiosk {

namespace keys {
// One NVS item each, because only a single nvs_set_blob is atomic on power
// loss: device_id and secret_key must never come from two different claims.
constexpr const char* kIdentity = "identity";  // {"device_id","secret_key","establishment_id","queue_id"}
constexpr const char* kWifi = "wifi";          // {"ssid","pass"}
constexpr const char* kServerUrl = "server_url";
constexpr const char* kCaPem = "ca_pem";
constexpr const char* kNtp = "ntp";
constexpr const char* kCurrency = "currency";
constexpr const char* kPrice = "price";
constexpr const char* kCoins = "coins";
constexpr const char* kTheme = "theme";  // Theme::to_blob(): name, colours, locale, queue, UTC offset
}  // namespace keys

struct ServerUrl {
    std::string host;
    uint16_t port = 443;
};
// Only "https://host[:port]" (no path, no user info): the signed path is the
// request path exactly as the server sees it.
bool parse_server_url(const std::string& url, ServerUrl& out);

struct DeviceConfig {
    std::string device_id;
    std::string secret_key;
    std::string establishment_id;
    std::string queue_id;
    std::string wifi_ssid;
    std::string wifi_pass;
    std::string server_url;
    std::string ca_pem;
    std::string ntp_server = "pool.ntp.org";
    std::string currency = "XOF";
    uint32_t price = 0;  // credit needed before a payment is sent (the VIP price); 0 = every coin
    std::vector<CoinType> coins = default_coin_table();
    Theme theme;

    void load(Storage& storage);
    bool has_credentials() const { return !device_id.empty() && !secret_key.empty(); }
    bool network_configured() const { return !wifi_ssid.empty() && !server_url.empty() && !ca_pem.empty(); }
    bool provisioned() const { return has_credentials() && network_configured(); }
};

std::string identity_blob(const std::string& device_id, const std::string& secret_key,
                          const std::string& establishment_id, const std::string& queue_id);
std::string wifi_blob(const std::string& ssid, const std::string& pass);

bool valid_currency(const std::string& code);
bool looks_like_pem_certificate(const std::string& pem);

}  // namespace kiosk
