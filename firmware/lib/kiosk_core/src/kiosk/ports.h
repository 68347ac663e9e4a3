// Interfaces the board glue implements (src/main.cpp) and the host tests fake.
// Nothing here includes Arduino or ESP-IDF headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiosk/signing.h"

namespace kiosk {

// Key/value persistence with an explicit commit, shaped like ESP-IDF NVS
// (nvs_set_blob + nvs_commit; keys at most 15 characters). Values are bytes.
class Storage {
public:
    virtual ~Storage() = default;
    virtual bool read(const std::string& key, std::string& out) = 0;  // false when absent
    virtual bool write(const std::string& key, const std::string& value) = 0;
    virtual bool erase(const std::string& key) = 0;
    virtual bool commit() = 0;
};

// Monotonic time for scheduling, wall time for signing.
class Clock {
public:
    virtual ~Clock() = default;
    virtual uint64_t monotonic_ms() = 0;
    // True once NTP has set the wall clock (and not invalidated since).
    virtual bool wall_synced() = 0;
    virtual int64_t unix_now() = 0;
    // Ask for a fresh NTP sync (after a 401 stale_timestamp); wall_synced()
    // may report false until it completes.
    virtual void request_resync() = 0;
};

struct HttpResponse {
    int status = 0;  // 0: no HTTP answer (connect/TLS failure, timeout)
    bool timed_out = false;
    std::string body;
    int64_t retry_after_s = -1;  // parsed Retry-After (delta seconds), -1 when absent
};

// One HTTPS request to the configured server (pinned CA on the device).
class HttpTransport {
public:
    virtual ~HttpTransport() = default;
    virtual HttpResponse request(const std::string& method, const std::string& path,
                                 const std::vector<Header>& headers, const std::string& body) = 0;
};

struct TicketInfo {
    std::string transaction_id;
    std::string code;          // "V-007"
    std::string kind;          // "VIP" | "STANDARD"
    std::string tracking_url;  // for the QR / printed line
    int64_t position = -1;
    int64_t eta_min = -1;
    int64_t eta_max = -1;
    int64_t amount = 0;
    std::string currency;
};

// What the customer sees: kiosk::ScreenDisplay (TFT + receipt printer,
// screen_display.h) and the serial log on the device, fakes in the tests.
class TicketDisplay {
public:
    virtual ~TicketDisplay() = default;
    virtual void show_ticket(const TicketInfo& ticket) = 0;
    // A payment the server refused for good: show it so staff can refund.
    virtual void show_failure(const std::string& transaction_id, int64_t amount, const std::string& currency,
                              const std::string& reason) = 0;
    virtual void show_credit(int64_t credit, int64_t price, const std::string& currency) = 0;
    // The credit became a payment (saved, about to be sent): the ticket is on its way.
    virtual void show_processing(int64_t amount, const std::string& currency) { (void)amount, (void)currency; }
    // Acceptor state: reasons is an InhibitReason bitmask (0 = accepting coins).
    virtual void show_acceptor(uint32_t reasons) = 0;
    // Operator-facing alert (auth failures, storage faults, rejected coins).
    virtual void show_alert(const std::string& message) = 0;
};

// Coin acceptor inhibit line.
class Acceptor {
public:
    virtual ~Acceptor() = default;
    virtual void set_inhibited(bool inhibited) = 0;
};

}  // namespace kiosk
