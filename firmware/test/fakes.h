// Host fakes for the ports in kiosk/ports.h.
#pragma once

#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kiosk/json.h"
#include "kiosk/ports.h"
#include "kiosk/random.h"
#include "kiosk/signing.h"

namespace fakes {

// NVS stand-in: writes are staged until commit(). power_loss() drops what was
// not committed, like pulling the plug; die_at_next_commit() makes the next
// commit never happen (the device lost power just before it).
class MemoryStorage : public kiosk::Storage {
public:
    std::map<std::string, std::string> committed;
    std::map<std::string, std::string> staged;  // value "\x00ERASED" marks an erase
    bool dead = false;
    bool die_next_commit = false;
    int commits = 0;
    int fail_writes = 0;  // >0: the next n writes fail (flash error)

    bool read(const std::string& key, std::string& out) override {
        auto s = staged.find(key);
        if (s != staged.end()) {
            if (s->second == kErased) return false;
            out = s->second;
            return true;
        }
        auto c = committed.find(key);
        if (c == committed.end()) return false;
        out = c->second;
        return true;
    }
    bool write(const std::string& key, const std::string& value) override {
        if (dead) return false;
        if (fail_writes > 0) {
            fail_writes--;
            return false;
        }
        if (key.size() > 15) return false;  // NVS key limit
        staged[key] = value;
        return true;
    }
    bool erase(const std::string& key) override {
        if (dead) return false;
        staged[key] = kErased;
        return true;
    }
    bool commit() override {
        if (dead) return false;
        if (die_next_commit) {
            dead = true;  // power is gone: nothing more reaches flash
            return false;
        }
        for (auto& kv : staged) {
            if (kv.second == kErased) committed.erase(kv.first);
            else committed[kv.first] = kv.second;
        }
        staged.clear();
        commits++;
        return true;
    }
    // Reboot after a power cut: RAM (staged) is gone, flash (committed) stays.
    void power_cycle() {
        staged.clear();
        dead = false;
        die_next_commit = false;
    }
    bool committed_has(const std::string& key) const { return committed.count(key) > 0; }

private:
    static constexpr const char* kErased = "\x01ERASED\x01";
};

class FakeClock : public kiosk::Clock {
public:
    uint64_t mono_ms = 1000;
    int64_t unix_s = 1764000000;
    bool synced = true;
    int resyncs = 0;
    bool resync_clears_sync = false;

    uint64_t monotonic_ms() override { return mono_ms; }
    bool wall_synced() override { return synced; }
    int64_t unix_now() override { return unix_s; }
    void request_resync() override {
        resyncs++;
        if (resync_clears_sync) synced = false;
    }
    void advance_ms(uint64_t ms) {
        mono_ms += ms;
        unix_s = 1764000000 + static_cast<int64_t>(mono_ms / 1000);
    }
};

// xorshift32: deterministic, good enough for tests.
class SeqRandom : public kiosk::RandomSource {
public:
    explicit SeqRandom(uint32_t seed = 0x12345678u) : state_(seed ? seed : 1) {}
    uint32_t next_u32() override {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        return state_;
    }

private:
    uint32_t state_;
};

struct Recorded {
    std::string method;
    std::string path;
    std::map<std::string, std::string> headers;
    std::string body;
};

// Replays scripted responses in order (or a default), recording requests.
class ScriptedTransport : public kiosk::HttpTransport {
public:
    std::vector<Recorded> requests;
    std::deque<kiosk::HttpResponse> script;
    kiosk::HttpResponse fallback;  // status 0: network down
    std::function<void(const Recorded&)> on_request;

    kiosk::HttpResponse request(const std::string& method, const std::string& path,
                                const std::vector<kiosk::Header>& headers, const std::string& body) override {
        Recorded r{method, path, {}, body};
        for (const auto& h : headers) r.headers[h.name] = h.value;
        requests.push_back(r);
        if (on_request) on_request(r);
        if (script.empty()) return fallback;
        kiosk::HttpResponse out = script.front();
        script.pop_front();
        return out;
    }
    void push(int status, const std::string& body = "", int64_t retry_after = -1) {
        kiosk::HttpResponse r;
        r.status = status;
        r.body = body;
        r.retry_after_s = retry_after;
        script.push_back(r);
    }
    void push_timeout() {
        kiosk::HttpResponse r;
        r.timed_out = true;
        script.push_back(r);
    }
};

inline std::string error_body(const std::string& code) {
    return "{\"error\":{\"code\":\"" + code + "\",\"message\":\"m\",\"details\":{}}}";
}

// A small model of the server side of the contract: verifies v1 signatures,
// the 300 s window, nonce replay; idempotent POST /iot/payments; status GET
// that turns CONFIRMED after `confirm_after_polls` polls.
class FakeServer : public kiosk::HttpTransport {
public:
    struct Tx {
        std::string body;
        std::string status = "PENDING";
        int polls = 0;
        int ticket_number = 0;
    };
    enum class Mode { Up, Down5xx, Timeout, Unreachable };

    std::string device_id;
    std::string secret;
    int64_t server_now = 1764000000;
    std::function<int64_t()> now;  // server time source
    Mode mode = Mode::Up;
    bool disabled = false;
    int confirm_after_polls = 1;
    std::map<std::string, Tx> txs;
    std::vector<std::string> tx_order;  // first-seen order
    std::set<std::string> nonces;
    std::vector<Recorded> requests;
    int tickets_issued = 0;
    std::function<void(const Recorded&)> on_request;
    std::function<void(const Recorded&, const kiosk::HttpResponse&)> after_response;

    kiosk::HttpResponse request(const std::string& method, const std::string& path,
                                const std::vector<kiosk::Header>& headers, const std::string& body) override {
        Recorded r{method, path, {}, body};
        for (const auto& h : headers) r.headers[h.name] = h.value;
        requests.push_back(r);
        if (on_request) on_request(r);
        kiosk::HttpResponse out = handle(r);
        if (after_response) after_response(r, out);
        return out;
    }

private:
    kiosk::HttpResponse reply(int status, const std::string& body) {
        kiosk::HttpResponse out;
        out.status = status;
        out.body = body;
        return out;
    }
    kiosk::HttpResponse handle(const Recorded& r) {
        if (mode == Mode::Unreachable) return kiosk::HttpResponse();
        if (mode == Mode::Timeout) {
            kiosk::HttpResponse t;
            t.timed_out = true;
            return t;
        }
        if (mode == Mode::Down5xx) return reply(503, error_body("unavailable"));
        auto h = [&](const char* name) {
            auto f = r.headers.find(name);
            return f == r.headers.end() ? std::string() : f->second;
        };
        std::string ts = h("X-Timestamp"), nonce = h("X-Nonce"), sig = h("X-Signature"), dev = h("X-Device-Id");
        if (ts.empty() || nonce.empty() || sig.empty() || dev.empty() || !kiosk::nonce_is_valid(nonce))
            return reply(401, error_body("missing_signature"));
        int64_t t = std::stoll(ts);
        int64_t server = now ? now() : server_now;
        if (t > server + 300 || t < server - 300) return reply(401, error_body("stale_timestamp"));
        std::string expected = kiosk::sign(secret, r.method, r.path, dev, t, nonce, r.body);
        if (dev != device_id || !kiosk::constant_time_equals(expected, sig))
            return reply(401, error_body("invalid_signature"));
        if (disabled) return reply(403, error_body("device_disabled"));
        if (!nonces.insert(nonce).second) return reply(401, error_body("replayed_request"));

        if (r.method == "POST" && r.path == "/iot/payments") {
            kiosk::Json doc;
            if (!kiosk::Json::parse(r.body, doc) || !doc["transaction_id"].is_string())
                return reply(400, error_body("validation_error"));
            int64_t amount = 0;
            if (!doc["amount"].as_int64(amount) || amount <= 0) return reply(400, error_body("validation_error"));
            std::string id = doc["transaction_id"].str();
            auto found = txs.find(id);
            if (found != txs.end()) {
                if (found->second.body != r.body) return reply(422, error_body("idempotency_mismatch"));
                return reply(200, "{\"transaction_id\":\"" + id + "\",\"status\":\"" + found->second.status + "\"}");
            }
            txs[id].body = r.body;
            tx_order.push_back(id);
            return reply(202, "{\"transaction_id\":\"" + id + "\",\"status\":\"PENDING\",\"status_url\":\"/iot/payments/" +
                                  id + "\"}");
        }
        const std::string prefix = "/iot/payments/";
        if (r.method == "GET" && r.path.compare(0, prefix.size(), prefix) == 0) {
            std::string id = r.path.substr(prefix.size());
            auto found = txs.find(id);
            if (found == txs.end()) return reply(404, error_body("not_found"));
            Tx& tx = found->second;
            if (tx.status == "PENDING" && ++tx.polls >= confirm_after_polls) {
                tx.status = "CONFIRMED";
                tx.ticket_number = ++tickets_issued;
            }
            std::string ticket = "null";
            if (tx.status == "CONFIRMED") {
                char code[16];
                std::snprintf(code, sizeof code, "V-%03d", tx.ticket_number);
                ticket = std::string("{\"ticket_id\":\"t") + std::to_string(tx.ticket_number) + "\",\"code\":\"" + code +
                         "\",\"kind\":\"VIP\",\"status\":\"WAITING\",\"position\":2,\"eta_minutes\":{\"min\":3,\"max\":9},"
                         "\"tracking_url\":\"https://kiosk.example/t/tok" + std::to_string(tx.ticket_number) + "\"}";
            }
            kiosk::Json doc;
            kiosk::Json::parse(tx.body, doc);
            int64_t amount = 0;
            doc["amount"].as_int64(amount);
            return reply(200, "{\"transaction_id\":\"" + id + "\",\"status\":\"" + tx.status + "\",\"amount\":" +
                                  std::to_string(amount) + ",\"currency\":\"XOF\",\"failure_reason\":null,\"ticket\":" +
                                  ticket + "}");
        }
        return reply(404, error_body("not_found"));
    }
};

class RecordingDisplay : public kiosk::TicketDisplay {
public:
    std::vector<kiosk::TicketInfo> tickets;
    std::vector<std::string> failures;  // "txid|amount|reason"
    std::vector<std::string> alerts;
    std::vector<uint32_t> acceptor_states;
    int64_t last_credit = -1;

    void show_ticket(const kiosk::TicketInfo& t) override { tickets.push_back(t); }
    void show_failure(const std::string& id, int64_t amount, const std::string&, const std::string& reason) override {
        failures.push_back(id + "|" + std::to_string(amount) + "|" + reason);
    }
    void show_credit(int64_t credit, int64_t, const std::string&) override { last_credit = credit; }
    void show_acceptor(uint32_t reasons) override { acceptor_states.push_back(reasons); }
    void show_alert(const std::string& message) override { alerts.push_back(message); }
};

class FakeAcceptor : public kiosk::Acceptor {
public:
    bool inhibited = false;
    int changes = 0;
    void set_inhibited(bool value) override {
        if (value != inhibited) changes++;
        inhibited = value;
    }
};

}  // namespace fakes
