// End to end: the firmware core (KioskApp, unchanged) against the real Flask
// server running locally (firmware/test/e2e.sh starts it). Proves the claim
// flow, the signatures, the response shapes and the idempotent retries with
// the server's own code rather than with a fake.
//
//   kiosk_e2e <port> <claim code>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <thread>

#include "fakes.h"
#include "kiosk/app.h"
#include "posix_http.h"

namespace {

int failures = 0;
#define EXPECT(cond, what)                                              \
    do {                                                                \
        if (cond) {                                                     \
            std::printf("ok   %s\n", what);                             \
        } else {                                                        \
            failures++;                                                 \
            std::printf("FAIL %s (%s:%d)\n", what, __FILE__, __LINE__); \
        }                                                               \
    } while (0)

class SystemClock : public kiosk::Clock {
public:
    int64_t offset_s = 0;  // to make the device clock wrong on purpose
    int resyncs = 0;
    uint64_t monotonic_ms() override {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now().time_since_epoch())
                                         .count());
    }
    bool wall_synced() override { return true; }
    int64_t unix_now() override { return static_cast<int64_t>(std::time(nullptr)) + offset_s; }
    void request_resync() override {
        resyncs++;
        offset_s = 0;  // "NTP" fixes the clock
    }
};

class Urandom : public kiosk::RandomSource {
public:
    uint32_t next_u32() override {
        uint32_t v = 0;
        in_.read(reinterpret_cast<char*>(&v), sizeof v);
        return v;
    }

private:
    std::ifstream in_{"/dev/urandom", std::ios::binary};
};

// Forwards to the real server; lets a test see requests and tamper with answers.
class Tap : public kiosk::HttpTransport {
public:
    explicit Tap(kiosk::HttpTransport& inner) : inner_(inner) {}
    std::vector<fakes::Recorded> requests;
    std::vector<int> statuses;
    std::function<void(const fakes::Recorded&, kiosk::HttpResponse&)> after;
    kiosk::HttpResponse request(const std::string& m, const std::string& p, const std::vector<kiosk::Header>& h,
                                const std::string& b) override {
        fakes::Recorded r{m, p, {}, b};
        for (const auto& x : h) r.headers[x.name] = x.value;
        kiosk::HttpResponse resp = inner_.request(m, p, h, b);
        requests.push_back(r);
        statuses.push_back(resp.status);
        if (after) after(r, resp);
        return resp;
    }

private:
    kiosk::HttpTransport& inner_;
};

class PrintDisplay : public fakes::RecordingDisplay {
public:
    void show_ticket(const kiosk::TicketInfo& t) override {
        std::printf("     ticket %s (%s) position %lld eta %lld-%lld min %s\n", t.code.c_str(), t.kind.c_str(),
                    static_cast<long long>(t.position), static_cast<long long>(t.eta_min),
                    static_cast<long long>(t.eta_max), t.tracking_url.c_str());
        RecordingDisplay::show_ticket(t);
    }
    void show_alert(const std::string& m) override {
        std::printf("     alert: %s\n", m.c_str());
        RecordingDisplay::show_alert(m);
    }
};

struct Kiosk {
    fakes::MemoryStorage storage;
    SystemClock clock;
    Urandom rng;
    PrintDisplay display;
    fakes::FakeAcceptor acceptor;
    std::unique_ptr<Tap> tap;
    std::unique_ptr<kiosk::KioskApp> app;
    PosixHttp http;

    explicit Kiosk(uint16_t port) : http(port) { tap.reset(new Tap(http)); }
    void boot() {
        app.reset(new kiosk::KioskApp(storage, *tap, clock, rng, display, acceptor));
        app->begin();
    }
    uint64_t now_us() { return clock.monotonic_ms() * 1000; }
    // Runs the loop until pred() or the deadline; true if pred() became true.
    bool run_until(const std::function<bool()>& pred, int timeout_ms = 20000) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (std::chrono::steady_clock::now() < deadline) {
            app->service(now_us());
            if (pred()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return pred();
    }
    void insert_coin(int pulses) {
        for (int i = 0; i < pulses; i++) {
            app->on_pulse(now_us());
            std::this_thread::sleep_for(std::chrono::milliseconds(60));
        }
    }
    std::string console(const std::string& line) {
        kiosk::ConsoleAction action;
        return app->console(line, action);
    }
};

std::string txid(const std::string& body) {
    kiosk::Json j;
    kiosk::Json::parse(body, j);
    return j["transaction_id"].str();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s <port> <claim code>\n", argv[0]);
        return 2;
    }
    uint16_t port = static_cast<uint16_t>(std::atoi(argv[1]));
    Kiosk k(port);
    k.boot();

    // 1. Provisioning over the console, then the claim code against /iot/register.
    k.console("wifi e2e-net e2e-pass");
    k.console("server https://127.0.0.1:" + std::to_string(port));  // the e2e transport is plain HTTP
    k.console("ca");
    k.console("-----BEGIN CERTIFICATE-----");
    k.console("MIIBe2e0000000000000000000000000000000000000000");
    k.console("-----END CERTIFICATE-----");
    k.console("price 500");
    std::string reply = k.console(std::string("claim ") + argv[2]);
    EXPECT(reply.rfind("ok", 0) == 0, "claim accepted by the console");
    bool registered = k.run_until([&] { return k.app->config().has_credentials(); }, 10000);
    EXPECT(registered, "POST /iot/register with the claim code -> 201, identity stored");
    EXPECT(k.tap->requests.size() >= 1 && k.tap->statuses[0] == 201, "register answered 201");
    EXPECT(k.storage.committed_has("identity"), "identity committed to NVS");
    bool accepting = k.run_until([&] { return !k.acceptor.inhibited; }, 10000);
    EXPECT(accepting, "signed probe answered (404), coins accepted");

    // 2. A 500 coin: POST 202, polls, CONFIRMED, VIP ticket shown.
    size_t base = k.tap->requests.size();
    k.insert_coin(5);
    bool got = k.run_until([&] { return k.display.tickets.size() == 1; });
    EXPECT(got, "coin -> payment -> CONFIRMED -> ticket");
    if (got) {
        const auto& t = k.display.tickets[0];
        EXPECT(t.kind == "VIP" && t.code.rfind("V", 0) == 0 && t.code.find("-") != std::string::npos, "VIP ticket code V<queue>-...");
        EXPECT(t.tracking_url.find("/t/") != std::string::npos, "tracking URL present");
    }
    int status_post = 0;
    for (size_t i = base; i < k.tap->requests.size(); i++)
        if (k.tap->requests[i].method == "POST") status_post = k.tap->statuses[i];
    EXPECT(status_post == 202, "first POST answered 202");
    EXPECT(k.app->outbox().empty() && k.storage.committed.count("outbox") == 1, "outbox cleared");

    // 3. The answer to a POST is lost (network): the retry carries the same id with a
    //    new nonce, the server answers 200 (same payload) and there is one ticket.
    base = k.tap->requests.size();
    bool dropped = false;
    k.tap->after = [&](const fakes::Recorded& r, kiosk::HttpResponse& resp) {
        if (!dropped && r.method == "POST") {
            dropped = true;
            resp = kiosk::HttpResponse();  // as if the connection died after the server committed
        }
    };
    k.insert_coin(5);
    got = k.run_until([&] { return k.display.tickets.size() == 2; });
    k.tap->after = nullptr;
    std::vector<size_t> posts;
    for (size_t i = base; i < k.tap->requests.size(); i++)
        if (k.tap->requests[i].method == "POST") posts.push_back(i);
    EXPECT(got, "lost answer -> retried -> ticket");
    EXPECT(posts.size() == 2, "exactly two POSTs");
    if (posts.size() == 2) {
        const auto& a = k.tap->requests[posts[0]];
        const auto& b = k.tap->requests[posts[1]];
        EXPECT(txid(a.body) == txid(b.body) && a.body == b.body, "same transaction_id and body");
        EXPECT(a.headers.at("X-Nonce") != b.headers.at("X-Nonce"), "fresh nonce");
        EXPECT(k.tap->statuses[posts[1]] == 200, "server answered the retry 200 (idempotent)");
    }

    // 4. Power cut after the server accepted, before the commit: reboot, resend, one ticket.
    base = k.tap->requests.size();
    k.tap->after = [&](const fakes::Recorded& r, kiosk::HttpResponse& resp) {
        if (r.method == "POST" && resp.status == 202) k.storage.die_next_commit = true;
    };
    k.insert_coin(5);
    k.run_until([&] { return k.storage.dead; }, 10000);
    k.tap->after = nullptr;
    k.storage.power_cycle();
    k.boot();
    EXPECT(k.app->outbox().size() == 1, "payment still in the outbox after the power cut");
    got = k.run_until([&] { return k.display.tickets.size() == 3; });
    EXPECT(got, "resent after reboot -> ticket");
    std::set<std::string> ids;
    int retry_status = 0;
    for (size_t i = base; i < k.tap->requests.size(); i++) {
        if (k.tap->requests[i].method == "POST") {
            ids.insert(txid(k.tap->requests[i].body));
            retry_status = k.tap->statuses[i];
        }
    }
    EXPECT(ids.size() == 1 && retry_status == 200, "same transaction_id, server answered 200");

    // 5. Device clock 20 minutes slow: 401 stale_timestamp, resync, accepted.
    k.clock.offset_s = -1200;
    base = k.tap->requests.size();
    k.insert_coin(5);
    got = k.run_until([&] { return k.display.tickets.size() == 4; });
    bool saw_stale = false;
    for (size_t i = base; i < k.tap->requests.size(); i++) saw_stale |= k.tap->statuses[i] == 401;
    EXPECT(saw_stale && k.clock.resyncs == 1, "401 stale_timestamp -> NTP resync");
    EXPECT(got, "then accepted -> ticket");

    // 6. Coins below the price stay credit; no request.
    base = k.tap->requests.size();
    k.insert_coin(4);  // 200 < 500
    k.run_until([] { return false; }, 1000);
    EXPECT(k.app->outbox().credit() == 200 && k.tap->requests.size() == base, "200 stays credit, nothing sent");

    std::printf("\n%s: %d failure(s), %zu requests to the real server\n", failures ? "FAILED" : "PASSED", failures,
                k.tap->requests.size());
    return failures ? 1 : 0;
}
