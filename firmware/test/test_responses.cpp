// How each class of server answer is handled, through KioskApp with a
// scripted transport (the exact status and error codes of the contract).
#include <set>

#include "rig.h"
#include "testing.h"

namespace {

// KioskApp wired to a ScriptedTransport instead of the fake server.
struct ScriptRig {
    fakes::MemoryStorage storage;
    fakes::FakeClock clock;
    fakes::SeqRandom rng{77};
    fakes::ScriptedTransport http;
    fakes::RecordingDisplay display;
    fakes::FakeAcceptor acceptor;
    std::unique_ptr<kiosk::KioskApp> app;

    ScriptRig() {
        storage.write("identity", kiosk::identity_blob(Rig::kDevice, Rig::kSecret, "e", "q"));
        storage.write("wifi", kiosk::wifi_blob("net", "pass"));
        storage.write("server_url", "https://kiosk.example");
        storage.write("ca_pem", "-----BEGIN CERTIFICATE-----\nMIIBfake0000000000000000000000000000000000000\n-----END CERTIFICATE-----\n");
        storage.commit();
        app.reset(new kiosk::KioskApp(storage, http, clock, rng, display, acceptor));
        app->begin();
        http.push(404, fakes::error_body("not_found"));  // boot probe: reachable, signature fine
        step();
    }
    void step(uint64_t ms = 0) {
        clock.advance_ms(ms);
        app->service(clock.mono_ms * 1000);
    }
    void coin(int pulses) {
        for (int i = 0; i < pulses; i++) {
            app->on_pulse(clock.mono_ms * 1000);
            clock.advance_ms(100);
        }
        clock.advance_ms(250);
    }
    size_t requests() const { return http.requests.size(); }
    const fakes::Recorded& last() const { return http.requests.back(); }
    std::vector<kiosk::PendingPayment> committed() {
        std::vector<kiosk::PendingPayment> items;
        uint32_t credit = 0;
        auto found = storage.committed.find("outbox");
        if (found != storage.committed.end()) kiosk::Outbox::decode(found->second, items, credit);
        return items;
    }
};

std::string accepted(const std::string& status = "PENDING") {
    return "{\"transaction_id\":\"x\",\"status\":\"" + status + "\",\"status_url\":\"/iot/payments/x\"}";
}

}  // namespace

TEST("final failures clear the payment and show it: 400 validation_error, 422 idempotency_mismatch") {
    const char* codes[] = {"validation_error", "idempotency_mismatch"};
    int statuses[] = {400, 422};
    for (int i = 0; i < 2; i++) {
        ScriptRig r;
        r.coin(5);
        r.http.push(statuses[i], fakes::error_body(codes[i]));
        r.step();
        REQUIRE(r.requests() == 2);
        CHECK_EQ(r.last().method, std::string("POST"));
        CHECK(r.app->outbox().empty());
        CHECK(r.committed().empty());
        REQUIRE(r.display.failures.size() == 1);
        CHECK(r.display.failures[0].find(std::string("|500|") + codes[i]) != std::string::npos);
        CHECK(!r.acceptor.inhibited);
        r.step(600000);  // nothing left to send
        CHECK_EQ(r.requests(), size_t(2));
    }
}

TEST("403 device_disabled: payment kept, coins refused, asked again every 3 minutes, paid once re-enabled") {
    ScriptRig r;
    r.coin(5);
    r.http.push(403, fakes::error_body("device_disabled"));
    r.step();
    REQUIRE(r.committed().size() == 1);  // the coins are in the box: never dropped
    CHECK(r.display.failures.empty());
    CHECK_EQ(r.display.alerts.size(), size_t(1));
    CHECK(r.acceptor.inhibited);
    CHECK(r.app->inhibit_reasons_now() & kiosk::kInhibitDeviceDisabled);
    std::string body = r.last().body;
    r.step(179000);
    CHECK_EQ(r.requests(), size_t(2));  // quiet while disabled
    r.http.push(403, fakes::error_body("device_disabled"));
    r.step(1000);
    CHECK_EQ(r.requests(), size_t(3));
    CHECK(r.acceptor.inhibited);
    CHECK_EQ(r.display.alerts.size(), size_t(1));  // alert once, not every retry
    r.http.push(202, accepted());  // a manager re-enabled it
    r.step(180000);
    CHECK_EQ(r.requests(), size_t(4));
    CHECK_EQ(r.last().body, body);
    CHECK(!r.acceptor.inhibited);
    CHECK(r.app->outbox().at(0).state == kiosk::PaymentState::Accepted);
}

TEST("403 device_disabled with an empty ring: the probe keeps coins refused until re-enabled") {
    ScriptRig r;
    r.coin(5);
    r.http.push(202, accepted("CONFIRMED"));
    r.step();
    r.http.push(200, "{\"status\":\"CONFIRMED\",\"ticket\":{\"code\":\"V-001\",\"tracking_url\":\"https://h/t/x\"}}");
    r.step();
    REQUIRE(r.app->outbox().empty());
    CHECK(!r.acceptor.inhibited);
    // Disabled while idle: noticed by the next request only (coins meanwhile are
    // queued and kept); here we make the ring's next request see it.
    r.coin(5);
    r.http.push(403, fakes::error_body("device_disabled"));
    r.step();
    CHECK(r.acceptor.inhibited);
    r.http.push(403, fakes::error_body("device_disabled"));
    r.step(180000);
    CHECK(r.acceptor.inhibited);
    r.http.push(202, accepted());
    r.step(180000);
    CHECK(!r.acceptor.inhibited);
}

TEST("503 with Retry-After: not retried earlier than asked") {
    ScriptRig r;
    r.coin(5);
    r.http.push(503, fakes::error_body("service_unavailable"), 20);
    r.step();
    size_t n = r.requests();
    r.step(19900);
    CHECK_EQ(r.requests(), n);
    r.http.push(202, accepted());
    r.step(100);
    CHECK_EQ(r.requests(), n + 1);
}

TEST("CONFIRMED and FAILED statuses clear the payment; PENDING keeps polling without flash writes") {
    ScriptRig r;
    r.coin(5);
    r.http.push(202, accepted());
    r.step();
    REQUIRE(r.app->outbox().size() == 1);
    CHECK(r.app->outbox().at(0).state == kiosk::PaymentState::Accepted);
    CHECK(r.committed()[0].state == kiosk::PaymentState::Accepted);
    std::string id = r.app->outbox().at(0).transaction_id;
    int commits = r.storage.commits;
    for (int i = 0; i < 5; i++) {
        r.http.push(200, "{\"transaction_id\":\"" + id + "\",\"status\":\"PENDING\",\"ticket\":null}");
        r.step(1500);
        CHECK_EQ(r.last().path, "/iot/payments/" + id);
        CHECK_EQ(r.last().method, std::string("GET"));
        CHECK(r.last().body.empty());
    }
    CHECK_EQ(r.storage.commits, commits);  // polls live in RAM
    r.http.push(200, "{\"transaction_id\":\"" + id +
                         "\",\"status\":\"FAILED\",\"amount\":500,\"currency\":\"XOF\",\"failure_reason\":"
                         "\"amount_below_price\",\"ticket\":null}");
    r.step(1500);
    CHECK(r.app->outbox().empty());
    CHECK(r.committed().empty());
    REQUIRE(r.display.failures.size() == 1);
    CHECK_EQ(r.display.failures[0], id + "|500|amount_below_price");
    CHECK(r.display.tickets.empty());
}

TEST("a status poll that fails (5xx, timeout) backs off, then polling resumes; no re-POST") {
    ScriptRig r;
    r.coin(5);
    r.http.push(202, accepted());
    r.step();
    std::string id = r.app->outbox().at(0).transaction_id;
    r.http.push(502, "<html>bad gateway</html>");
    r.step(700);
    r.http.push_timeout();
    r.step(2000);  // inside the first backoff ceiling
    size_t n = r.requests();
    CHECK_EQ(r.committed()[0].failures, uint16_t(2));
    CHECK(r.committed()[0].state == kiosk::PaymentState::Accepted);
    r.http.push(200, "{\"status\":\"CONFIRMED\",\"ticket\":{\"code\":\"V-003\",\"tracking_url\":\"https://h/t/y\"}}");
    r.step(4000);
    CHECK_EQ(r.requests(), n + 1);
    for (size_t i = 1; i < r.http.requests.size(); i++) {
        if (i > 1) CHECK_EQ(r.http.requests[i].method, std::string("GET"));
    }
    REQUIRE(r.display.tickets.size() == 1);
    CHECK_EQ(r.display.tickets[0].transaction_id, id);
    CHECK(r.committed().empty());
}

TEST("POST answered with a final status still fetches the ticket at once") {
    ScriptRig r;
    r.coin(5);
    r.http.push(200, accepted("CONFIRMED"));  // a retry of a payment the server already processed
    r.step();
    r.http.push(200, "{\"status\":\"CONFIRMED\",\"currency\":\"XOF\",\"ticket\":{\"code\":\"V-042\",\"kind\":\"VIP\","
                     "\"position\":1,\"eta_minutes\":{\"min\":0,\"max\":4},\"tracking_url\":\"https://h/t/abc\"}}");
    r.step();
    REQUIRE(r.display.tickets.size() == 1);
    CHECK_EQ(r.display.tickets[0].code, std::string("V-042"));
    CHECK_EQ(r.display.tickets[0].tracking_url, std::string("https://h/t/abc"));
    CHECK(r.app->outbox().empty());
}

TEST("401 stale_timestamp: NTP resync requested, nothing signed until time is back, then retried") {
    ScriptRig r;
    r.clock.resync_clears_sync = true;
    r.coin(5);
    r.http.push(401, fakes::error_body("stale_timestamp"));
    r.step();
    CHECK_EQ(r.clock.resyncs, 1);
    CHECK_EQ(r.app->outbox().size(), size_t(1));
    size_t n = r.requests();
    r.step(5000);
    CHECK_EQ(r.requests(), n);  // waiting for time
    CHECK(r.acceptor.inhibited);
    r.clock.synced = true;
    r.http.push(202, accepted());
    r.step(100);
    CHECK_EQ(r.requests(), n + 1);
    CHECK_EQ(r.last().method, std::string("POST"));
    CHECK(r.app->outbox().at(0).state == kiosk::PaymentState::Accepted);
    CHECK(!r.acceptor.inhibited);
}

TEST("401 replayed_request / invalid_signature: new nonce each time, bounded, then alert and refuse coins; payment kept") {
    ScriptRig r;
    r.coin(5);
    for (int i = 0; i < 4; i++) r.http.push(401, fakes::error_body(i % 2 ? "replayed_request" : "invalid_signature"));
    for (int i = 0; i < 10; i++) r.step(600);
    CHECK_EQ(r.requests(), size_t(5));  // probe + 1 try + 3 bounded retries
    std::set<std::string> nonces;
    for (size_t i = 1; i < r.http.requests.size(); i++) nonces.insert(r.http.requests[i].headers.at("X-Nonce"));
    CHECK_EQ(nonces.size(), size_t(4));
    CHECK(r.acceptor.inhibited);
    CHECK(r.app->inhibit_reasons_now() & kiosk::kInhibitAuthFailure);
    CHECK_EQ(r.display.alerts.size(), size_t(1));
    REQUIRE(r.committed().size() == 1);  // money is never dropped on an auth problem
    CHECK_EQ(r.committed()[0].auth_failures, uint16_t(4));
    // Slow retry at the backoff cap; success clears the alert.
    r.step(290000);
    CHECK_EQ(r.requests(), size_t(5));
    r.http.push(202, accepted());
    r.step(10000);
    CHECK_EQ(r.requests(), size_t(6));
    CHECK(!r.acceptor.inhibited);
}

TEST("429 honours Retry-After for every payment") {
    ScriptRig r;
    r.coin(5);
    r.http.push(429, fakes::error_body("rate_limited"), 7);
    r.step();
    size_t n = r.requests();
    r.step(6900);
    CHECK_EQ(r.requests(), n);
    r.http.push(202, accepted());
    r.step(100);
    CHECK_EQ(r.requests(), n + 1);
    CHECK(!r.acceptor.inhibited);  // rate limited is not unreachable
}

TEST("404 to a status poll: the payment is posted again (idempotent), same id and body") {
    ScriptRig r;
    r.coin(5);
    r.http.push(202, accepted());
    r.step();
    std::string body = r.last().body;
    r.http.push(404, fakes::error_body("not_found"));
    r.step(1000);
    r.http.push(202, accepted());
    r.step(0);
    CHECK_EQ(r.last().method, std::string("POST"));
    CHECK_EQ(r.last().body, body);
}

TEST("ordering: payments queued while offline are sent oldest first once the server is back") {
    Rig rig;
    rig.run_ms(100);
    rig.server.mode = fakes::FakeServer::Mode::Unreachable;
    rig.coin(1);
    rig.run_ms(400);
    rig.coin(2);
    rig.run_ms(400);
    rig.coin(3);  // by now the acceptor may be inhibited; a coin in the chute is still credited
    rig.run_ms(400);
    REQUIRE(rig.app->outbox().size() == 3);
    std::vector<std::string> ids;
    for (const auto& p : rig.app->outbox().items()) ids.push_back(p.transaction_id);
    rig.server.mode = fakes::FakeServer::Mode::Up;
    rig.run_ms(400000, 250);
    CHECK_EQ(rig.server.tx_order, ids);
    REQUIRE(rig.display.tickets.size() == 3);
    for (size_t i = 0; i < 3; i++) CHECK_EQ(rig.display.tickets[i].transaction_id, ids[i]);
    CHECK(rig.app->outbox().empty());
}

TEST("full ring: coins refused with a slot in reserve; late coins kept as credit, drained when back") {
    Rig rig;
    rig.options.outbox_capacity = 4;
    rig.boot();
    rig.run_ms(100);
    REQUIRE(!rig.acceptor.inhibited);
    rig.server.mode = fakes::FakeServer::Mode::Down5xx;
    rig.app->counter();
    // Make the link failures irrelevant: only the ring decides here.
    for (int i = 0; i < 3; i++) rig.coin(1);
    CHECK_EQ(rig.app->outbox().size(), size_t(3));
    CHECK(rig.acceptor.inhibited);
    CHECK(rig.app->inhibit_reasons_now() & kiosk::kInhibitOutboxFull);
    rig.coin(1);  // already in the chute: uses the reserve slot
    CHECK_EQ(rig.app->outbox().size(), size_t(4));
    rig.coin(2);  // acceptor ignored the line: no slot, kept as committed credit
    CHECK_EQ(rig.app->outbox().size(), size_t(4));
    CHECK_EQ(rig.app->outbox().credit(), uint32_t(50));
    uint32_t credit = 0;
    CHECK_EQ(rig.committed_outbox(&credit).size(), size_t(4));
    CHECK_EQ(credit, uint32_t(50));
    rig.server.mode = fakes::FakeServer::Mode::Up;
    rig.run_ms(600000, 250);
    CHECK(rig.app->outbox().empty());
    CHECK_EQ(rig.app->outbox().credit(), uint32_t(0));
    CHECK_EQ(rig.server.txs.size(), size_t(5));
    CHECK_EQ(rig.display.tickets.size(), size_t(5));
    CHECK(!rig.acceptor.inhibited);
}

TEST("unknown coin is not credited and raises an alert") {
    Rig rig;
    rig.run_ms(100);
    rig.coin(9);
    CHECK_EQ(rig.app->outbox().credit(), uint32_t(0));
    CHECK(rig.app->outbox().empty());
    REQUIRE(!rig.display.alerts.empty());
    CHECK(rig.display.alerts.back().find("9 pulses") != std::string::npos);
}

TEST("flash write failure: storage fault refuses coins") {
    Rig rig;
    rig.run_ms(100);
    rig.storage.fail_writes = 1;
    rig.coin(5);
    CHECK(rig.app->storage_fault());
    CHECK(rig.acceptor.inhibited);
    CHECK(rig.app->inhibit_reasons_now() & kiosk::kInhibitStorageFault);
    CHECK(!rig.display.alerts.empty());
}

TEST("flash failing while the server answers: no request storm, coins refused") {
    Rig rig;
    rig.run_ms(100);
    rig.server.mode = fakes::FakeServer::Mode::Down5xx;
    rig.coin(5);  // committed fine
    REQUIRE(rig.committed_outbox().size() == 1);
    rig.storage.fail_writes = 1000000;  // flash now refuses every write
    size_t before = rig.server.requests.size();
    rig.run_ms(10000);
    size_t sent = rig.server.requests.size() - before;
    CHECK(sent >= 1 && sent <= 6);  // backoff still applies (0.5-2 s, 0.5-4 s, ...)
    CHECK(rig.app->storage_fault());
    CHECK(rig.acceptor.inhibited);
    // The server confirms; clearing fails in flash, but RAM moves on: no polling loop.
    rig.server.mode = fakes::FakeServer::Mode::Up;
    rig.run_ms(120000, 250);
    CHECK_EQ(rig.display.tickets.size(), size_t(1));
    CHECK(rig.app->outbox().empty());
    size_t settled = rig.server.requests.size();
    rig.run_ms(60000, 250);
    CHECK(rig.server.requests.size() - settled <= 2);  // at most a probe or two, no storm
    // After a reboot with working flash, the payment flash still lists is polled
    // again and the server gives the same ticket: no second ticket is made.
    rig.storage.fail_writes = 0;
    rig.power_cycle();
    rig.run_ms(10000);
    CHECK_EQ(rig.server.txs.size(), size_t(1));
    CHECK_EQ(rig.server.tickets_issued, 1);
    CHECK(rig.committed_outbox().empty());
}

TEST("server unreachable at boot: probes back off with jitter, coins refused until a probe passes") {
    Rig rig;
    rig.server.mode = fakes::FakeServer::Mode::Unreachable;
    std::vector<uint64_t> probes;
    rig.server.on_request = [&](const fakes::Recorded& r) {
        CHECK_EQ(r.path, std::string(kiosk::kProbePath));
        probes.push_back(rig.clock.mono_ms);
    };
    rig.run_ms(120000);
    CHECK(rig.acceptor.inhibited);
    CHECK(rig.app->inhibit_reasons_now() & kiosk::kInhibitUnreachable);
    REQUIRE(probes.size() >= 4);
    for (size_t i = 1; i < probes.size(); i++) {
        uint64_t gap = probes[i] - probes[i - 1];
        CHECK(gap >= 500);
        CHECK(gap <= kiosk::backoff_ceiling(kiosk::BackoffPolicy(), static_cast<uint32_t>(i)) + 50);
    }
    CHECK(probes.size() < 20);  // not a tight loop
    rig.server.mode = fakes::FakeServer::Mode::Up;
    rig.run_ms(300000, 250);
    CHECK(!rig.acceptor.inhibited);
    size_t n = rig.server.requests.size();
    rig.run_ms(120000, 250);
    CHECK_EQ(rig.server.requests.size(), n);  // healthy and idle: no probe traffic
}

TEST("server lost while idle: the next payment's failures refuse further coins; the payment is kept") {
    Rig rig;
    rig.run_ms(100);
    REQUIRE(!rig.acceptor.inhibited);
    rig.server.mode = fakes::FakeServer::Mode::Unreachable;
    rig.coin(5);
    rig.run_ms(30000);
    CHECK(rig.acceptor.inhibited);
    CHECK_EQ(rig.committed_outbox().size(), size_t(1));
    rig.server.mode = fakes::FakeServer::Mode::Up;
    rig.run_ms(400000, 250);
    CHECK(rig.app->outbox().empty());
    CHECK_EQ(rig.display.tickets.size(), size_t(1));
    CHECK(!rig.acceptor.inhibited);
}
