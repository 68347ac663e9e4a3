#include "kiosk/payment_sync.h"

#include "kiosk/json.h"

namespace kiosk {

std::string error_code_of(const std::string& body) {
    Json doc;
    if (body.empty() || !Json::parse(body, doc)) return std::string();
    return doc["error"]["code"].str();
}

Outcome classify(RequestKind kind, int status, const std::string& error_code) {
    if (status <= 0 || status >= 500 || status == 408) return Outcome::Retry;
    if (status == 429) return Outcome::RateLimited;
    if (status == 401) return error_code == "stale_timestamp" ? Outcome::Resync : Outcome::AuthRetry;
    if (status >= 200 && status < 300) return kind == RequestKind::Post ? Outcome::Accepted : Outcome::Status;
    if (status == 404) {
        if (kind == RequestKind::Post) return Outcome::Retry;  // a misrouted POST: never drop money on it
        if (kind == RequestKind::Poll) return Outcome::Unknown;
        return Outcome::Status;  // probe: signature accepted, id unknown, as designed
    }
    if (status < 400) return Outcome::Retry;  // 1xx/3xx: a proxy in the way; keep the payment
    if (status == 403 && error_code == "device_disabled") return Outcome::Disabled;
    return Outcome::Final;                    // 400 validation_error, 403, 409, 422 idempotency_mismatch, ...
}

std::string PaymentSync::payment_body(const PendingPayment& payment) {
    // Byte-identical on every retry (the server compares the payload hash).
    std::string body = "{\"transaction_id\":";
    json_append_string(body, payment.transaction_id);
    body += ",\"amount\":";
    body += std::to_string(payment.amount);
    if (!payment.currency.empty()) {
        body += ",\"currency\":";
        json_append_string(body, payment.currency);
    }
    body += "}";
    return body;
}

std::string PaymentSync::status_path(const std::string& transaction_id) {
    return "/iot/payments/" + transaction_id;
}

HttpResponse PaymentSync::send_signed(const std::string& method, const std::string& path, const std::string& body) {
    // Fresh timestamp and nonce for every request, retries included.
    int64_t timestamp = clock_.unix_now();
    std::string nonce = new_nonce(rng_);
    std::vector<Header> headers =
        signed_headers(credentials_.device_id, credentials_.secret_key, method, path, body, timestamp, nonce);
    if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
    requests_sent_++;
    return http_.request(method, path, headers, body);
}

PaymentSync::Step PaymentSync::step() {
    if (!credentials_.valid()) return Step::NoCredentials;
    if (!clock_.wall_synced()) return Step::WaitingForTime;  // never sign with a wrong clock
    uint64_t now = clock_.monotonic_ms();
    if (now < link_retry_at_) return Step::Waiting;

    const std::vector<PendingPayment>& items = outbox_.items();
    for (size_t i = 0; i < items.size(); i++) {  // oldest due payment first
        if (items[i].next_attempt_at > now) continue;
        PendingPayment payment = items[i];
        RequestKind kind = payment.state == PaymentState::Queued ? RequestKind::Post : RequestKind::Poll;
        HttpResponse response = kind == RequestKind::Post
                                    ? send_signed("POST", "/iot/payments", payment_body(payment))
                                    : send_signed("GET", status_path(payment.transaction_id), "");
        handle_payment(i, kind, response, clock_.monotonic_ms());
        return storage_fault_ ? Step::StorageFault : Step::Sent;
    }

    bool need_probe = outbox_.empty() &&
                      (!link_verified_ || consecutive_failures_ > 0 || device_disabled_ || auth_alert_);
    if (need_probe && now >= probe_at_) {
        handle_probe(send_signed("GET", kProbePath, ""), clock_.monotonic_ms());
        return Step::Probed;
    }
    return items.empty() ? Step::Idle : Step::Waiting;
}

void PaymentSync::on_reachable() {
    link_verified_ = true;
    consecutive_failures_ = 0;
    probe_failures_ = 0;
    link_retry_at_ = 0;
}

void PaymentSync::on_unreachable(uint64_t now, uint64_t retry_at) {
    (void)now;
    consecutive_failures_++;
    link_retry_at_ = retry_at;
}

bool PaymentSync::save(const PendingPayment& payment) {
    if (outbox_.update(payment)) return true;
    outbox_.replace_unpersisted(payment);  // keep the schedule: no tight retry loop
    storage_fault_ = true;
    display_.show_alert("storage fault: could not save payment " + payment.transaction_id);
    return false;
}

uint64_t PaymentSync::poll_delay(const PendingPayment& payment) const {
    return payment.polls < policy_.poll_slow_after ? policy_.poll_ms : policy_.poll_slow_ms;
}

bool PaymentSync::settle(const PendingPayment& payment, const std::string& status, const std::string& body) {
    Json doc;
    Json::parse(body, doc);
    if (status == "CONFIRMED") {
        const Json& t = doc["ticket"];
        TicketInfo ticket;
        ticket.transaction_id = payment.transaction_id;
        ticket.code = t["code"].str();
        ticket.kind = t["kind"].str();
        ticket.tracking_url = t["tracking_url"].str();
        t["position"].as_int64(ticket.position);
        t["eta_minutes"]["min"].as_int64(ticket.eta_min);
        t["eta_minutes"]["max"].as_int64(ticket.eta_max);
        ticket.amount = payment.amount;
        ticket.currency = doc["currency"].is_string() ? doc["currency"].str() : payment.currency;
        display_.show_ticket(ticket);
    } else {
        std::string reason = doc["failure_reason"].str();
        display_.show_failure(payment.transaction_id, payment.amount, payment.currency,
                              reason.empty() ? std::string("failed") : reason);
    }
    if (!outbox_.remove(payment.transaction_id)) {
        // Settled on the server; flash still lists it, so after a reboot it is
        // polled (or posted) again and the server answers with the same result.
        outbox_.drop_unpersisted(payment.transaction_id);
        storage_fault_ = true;
        display_.show_alert("storage fault: could not clear payment " + payment.transaction_id);
        return false;
    }
    return true;
}

void PaymentSync::handle_payment(size_t index, RequestKind kind, const HttpResponse& response, uint64_t now) {
    PendingPayment p = outbox_.at(index);
    p.attempts++;
    std::string code = error_code_of(response.body);
    switch (classify(kind, response.status, code)) {
        case Outcome::Accepted: {
            on_reachable();
            device_disabled_ = false;
            auth_alert_ = false;
            Json doc;
            Json::parse(response.body, doc);
            std::string status = doc["status"].str();
            p.state = PaymentState::Accepted;
            p.failures = 0;
            p.auth_failures = 0;
            p.polls = 0;
            // Final already (in-process tasks) or not: the ticket comes from the status GET.
            p.next_attempt_at = (status == "CONFIRMED" || status == "FAILED") ? now : now + policy_.poll_first_ms;
            save(p);
            return;
        }
        case Outcome::Status: {
            on_reachable();
            device_disabled_ = false;
            auth_alert_ = false;
            Json doc;
            Json::parse(response.body, doc);
            std::string status = doc["status"].str();
            if (status == "CONFIRMED" || status == "FAILED") {
                settle(p, status, response.body);
                return;
            }
            // Still PENDING: poll again; kept in RAM only (no flash write per poll).
            bool persist = p.failures != 0 || p.auth_failures != 0;
            p.failures = 0;
            p.auth_failures = 0;
            if (p.polls < 0xFFFF) p.polls++;
            p.next_attempt_at = now + poll_delay(p);
            if (persist) {
                save(p);
            } else {
                outbox_.set_next_attempt(index, p.next_attempt_at);
            }
            return;
        }
        case Outcome::Unknown:
            // The server has no such payment (say, a database restored from backup): POST it again.
            on_reachable();
            p.state = PaymentState::Queued;
            p.next_attempt_at = now;
            save(p);
            return;
        case Outcome::Disabled:
            // A manager disabled this kiosk. The coins are already in the box:
            // keep the payment (it goes through if the kiosk is re-enabled),
            // refuse new coins, and ask again every few minutes.
            on_reachable();
            if (!device_disabled_) display_.show_alert("device disabled by a manager: coins refused, payments kept");
            device_disabled_ = true;
            p.next_attempt_at = now + policy_.disabled_retry_ms;
            link_retry_at_ = p.next_attempt_at;
            save(p);
            return;
        case Outcome::Final: {
            on_reachable();
            std::string reason = code.empty() ? "http " + std::to_string(response.status) : code;
            display_.show_failure(p.transaction_id, p.amount, p.currency, reason);
            if (!outbox_.remove(p.transaction_id)) {
                outbox_.drop_unpersisted(p.transaction_id);
                storage_fault_ = true;
                display_.show_alert("storage fault: could not clear payment " + p.transaction_id);
            }
            return;
        }
        case Outcome::Resync:
        case Outcome::AuthRetry: {
            on_reachable();
            bool stale = code == "stale_timestamp";
            if (stale) clock_.request_resync();
            if (p.auth_failures < 0xFFFF) p.auth_failures++;
            if (p.auth_failures > policy_.max_auth_retries) {
                // Keep the payment (it is money), stop taking coins, retry slowly.
                if (!auth_alert_) {
                    display_.show_alert("server refuses this device's requests (" + code +
                                        "): check the clock and the device secret");
                }
                auth_alert_ = true;
                p.next_attempt_at = now + policy_.backoff.cap_ms;
                link_retry_at_ = p.next_attempt_at;  // same credentials for every payment: all wait
            } else {
                p.next_attempt_at = now + (stale ? policy_.resync_retry_ms : policy_.backoff.floor_ms);
            }
            save(p);
            return;
        }
        case Outcome::RateLimited: {
            on_reachable();
            uint64_t delay;
            if (response.retry_after_s >= 0) {
                int64_t s = response.retry_after_s;
                if (s > static_cast<int64_t>(policy_.retry_after_max_s)) s = policy_.retry_after_max_s;
                delay = static_cast<uint64_t>(s) * 1000;
            } else {
                delay = backoff_delay(policy_.backoff, static_cast<uint32_t>(p.failures) + 1, rng_);
            }
            if (delay < policy_.backoff.floor_ms) delay = policy_.backoff.floor_ms;
            p.next_attempt_at = now + delay;
            link_retry_at_ = p.next_attempt_at;  // the limit is per device: everything waits
            outbox_.set_next_attempt(index, p.next_attempt_at);
            return;
        }
        case Outcome::Retry: {
            if (p.failures < 0xFFFF) p.failures++;
            uint64_t delay = backoff_delay(policy_.backoff, p.failures, rng_);
            if (response.retry_after_s > 0) {  // 503 + Retry-After: not earlier than asked
                int64_t s = response.retry_after_s;
                if (s > static_cast<int64_t>(policy_.retry_after_max_s)) s = policy_.retry_after_max_s;
                if (static_cast<uint64_t>(s) * 1000 > delay) delay = static_cast<uint64_t>(s) * 1000;
            }
            p.next_attempt_at = now + delay;
            on_unreachable(now, p.next_attempt_at);
            save(p);
            return;
        }
    }
}

void PaymentSync::handle_probe(const HttpResponse& response, uint64_t now) {
    std::string code = error_code_of(response.body);
    probe_at_ = now + policy_.probe_ms;
    switch (classify(RequestKind::Probe, response.status, code)) {
        case Outcome::Accepted:
        case Outcome::Status:
        case Outcome::Unknown:
            on_reachable();
            device_disabled_ = false;
            auth_alert_ = false;
            probe_auth_failures_ = 0;
            return;
        case Outcome::Disabled:
            on_reachable();
            device_disabled_ = true;
            probe_at_ = now + policy_.disabled_retry_ms;
            return;
        case Outcome::Final:
            on_reachable();
            return;
        case Outcome::Resync:
        case Outcome::AuthRetry:
            on_reachable();
            if (code == "stale_timestamp") clock_.request_resync();
            probe_auth_failures_++;
            if (probe_auth_failures_ > policy_.max_auth_retries) {
                if (!auth_alert_) display_.show_alert("server refuses this device's requests (" + code + ")");
                auth_alert_ = true;
                probe_at_ = now + policy_.backoff.cap_ms;  // failed auths count against the server's per-IP limit
            } else {
                probe_at_ = now + policy_.resync_retry_ms;
            }
            return;
        case Outcome::RateLimited:
            on_reachable();
            if (response.retry_after_s >= 0) probe_at_ = now + static_cast<uint64_t>(response.retry_after_s) * 1000;
            return;
        case Outcome::Retry:
            probe_failures_++;
            probe_at_ = now + backoff_delay(policy_.backoff, probe_failures_, rng_);
            on_unreachable(now, 0);
            return;
    }
}

}  // namespace kiosk
