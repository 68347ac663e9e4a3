// Drives the outbox against the server, one request per step():
//   Queued   -> POST /iot/payments {"transaction_id","amount","currency"}
//   Accepted -> GET  /iot/payments/<transaction_id> until CONFIRMED or FAILED
// Every request is signed with a fresh timestamp and nonce; the body and the
// transaction_id never change, so a retry is the contract's idempotent
// "same id, same payload -> 200".
#pragma once

#include <cstdint>
#include <string>

#include "kiosk/backoff.h"
#include "kiosk/inhibit.h"
#include "kiosk/outbox.h"
#include "kiosk/ports.h"

namespace kiosk {

struct Credentials {
    std::string device_id;
    std::string secret_key;
    bool valid() const { return !device_id.empty() && !secret_key.empty(); }
};

// What a response means for the payment it answered.
enum class Outcome {
    Accepted,     // 200/202 to the POST: poll the status
    Status,       // 200 to the GET: read "status"
    Final,        // refused for good (400, 409, 422 idempotency_mismatch, other 4xx): clear + show
    Disabled,     // 403 device_disabled: keep the payment, refuse coins, retry every few minutes
    Resync,       // 401 stale_timestamp: NTP again, then retry
    AuthRetry,    // 401 invalid_signature / replayed_request / missing_signature: new nonce, bounded
    RateLimited,  // 429: wait Retry-After
    Unknown,      // 404 to the GET: the server does not know it, POST again (idempotent)
    Retry,        // 5xx, 408, timeout, no answer, 404 to the POST (misrouted): backoff
};

enum class RequestKind { Post, Poll, Probe };

// Error code from a contract error body {"error": {"code": ...}}, or "".
std::string error_code_of(const std::string& body);
Outcome classify(RequestKind kind, int status, const std::string& error_code);

struct SyncPolicy {
    BackoffPolicy backoff;
    uint32_t poll_first_ms = 700;     // first status poll after the 202
    uint32_t poll_ms = 1500;          // then every...
    uint32_t poll_slow_after = 20;    // ...and after this many polls
    uint32_t poll_slow_ms = 10000;    // every 10 s (server sweeper re-enqueues after 2 min)
    uint32_t max_auth_retries = 3;    // 401s with a fresh nonce before the alert
    uint32_t resync_retry_ms = 1000;  // retry after a stale_timestamp, once time is back
    uint32_t retry_after_max_s = 900; // clamp an absurd Retry-After
    uint32_t probe_ms = 30000;        // reachability probe while idle and inhibited
    uint32_t disabled_retry_ms = 180000;  // while disabled: one request every 3 minutes
};

// The probe: a signed GET of a status that never exists. 404 proves the
// server is reachable and accepts this device's signature; 403 means disabled.
constexpr const char* kProbePath = "/iot/payments/00000000-0000-4000-8000-000000000000";

class PaymentSync {
public:
    PaymentSync(Outbox& outbox, HttpTransport& http, Clock& clock, RandomSource& rng, TicketDisplay& display,
                const SyncPolicy& policy = SyncPolicy())
        : outbox_(outbox), http_(http), clock_(clock), rng_(rng), display_(display), policy_(policy) {}

    void set_credentials(const Credentials& credentials) { credentials_ = credentials; }
    const Credentials& credentials() const { return credentials_; }

    enum class Step { Idle, NoCredentials, WaitingForTime, Waiting, Sent, Probed, StorageFault };
    // At most one HTTP request. Call from the main loop.
    Step step();

    // Signed request helper (also used for the probe).
    HttpResponse send_signed(const std::string& method, const std::string& path, const std::string& body);

    static std::string payment_body(const PendingPayment& payment);
    static std::string status_path(const std::string& transaction_id);

    // State for the inhibit policy.
    uint32_t consecutive_failures() const { return consecutive_failures_; }
    bool link_verified() const { return link_verified_; }
    bool device_disabled() const { return device_disabled_; }
    bool auth_alert() const { return auth_alert_; }
    bool storage_fault() const { return storage_fault_; }
    uint64_t link_retry_at() const { return link_retry_at_; }

    uint32_t requests_sent() const { return requests_sent_; }

private:
    void handle_payment(size_t index, RequestKind kind, const HttpResponse& response, uint64_t now);
    void handle_probe(const HttpResponse& response, uint64_t now);
    void on_reachable();
    void on_unreachable(uint64_t now, uint64_t retry_at);
    bool settle(const PendingPayment& payment, const std::string& status, const std::string& body);
    uint64_t poll_delay(const PendingPayment& payment) const;
    bool save(const PendingPayment& payment);

    Outbox& outbox_;
    HttpTransport& http_;
    Clock& clock_;
    RandomSource& rng_;
    TicketDisplay& display_;
    SyncPolicy policy_;
    Credentials credentials_;

    uint32_t consecutive_failures_ = 0;
    uint32_t probe_failures_ = 0;
    uint32_t probe_auth_failures_ = 0;
    bool link_verified_ = false;
    bool device_disabled_ = false;
    bool auth_alert_ = false;
    bool storage_fault_ = false;
    uint64_t link_retry_at_ = 0;
    uint64_t probe_at_ = 0;
    uint32_t requests_sent_ = 0;
};

}  // namespace kiosk
