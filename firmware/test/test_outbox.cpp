// The outbox ring and the retry engine, end to end through KioskApp.
#include <set>

#include "kiosk/outbox.h"
#include "kiosk/payment_sync.h"
#include "rig.h"
#include "testing.h"

using kiosk::Outcome;
using kiosk::RequestKind;

static std::string body_txid(const std::string& body) {
    kiosk::Json j;
    kiosk::Json::parse(body, j);
    return j["transaction_id"].str();
}

TEST("outbox: blob round trip keeps order and fields; a corrupt blob is quarantined, not reused") {
    std::vector<kiosk::PendingPayment> items(3);
    for (size_t i = 0; i < items.size(); i++) {
        items[i].transaction_id = "0b6f4b43-6f2e-4c7b-9a53-1f9d2c8e7a1" + std::to_string(i);
        items[i].amount = 100u * static_cast<uint32_t>(i + 1);
        items[i].currency = "XOF";
        items[i].attempts = static_cast<uint16_t>(i + 7);
        items[i].failures = 2;
        items[i].auth_failures = 1;
        items[i].state = i == 1 ? kiosk::PaymentState::Accepted : kiosk::PaymentState::Queued;
        items[i].created_at = 1764000000 + static_cast<int64_t>(i);
        items[i].next_attempt_at = 999999;
    }
    std::string blob = kiosk::Outbox::encode(items, 75);
    std::vector<kiosk::PendingPayment> back;
    uint32_t credit = 0;
    REQUIRE(kiosk::Outbox::decode(blob, back, credit));
    CHECK_EQ(credit, uint32_t(75));
    REQUIRE(back.size() == 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ(back[i].transaction_id, items[i].transaction_id);
        CHECK_EQ(back[i].amount, items[i].amount);
        CHECK_EQ(back[i].currency, std::string("XOF"));
        CHECK_EQ(back[i].attempts, items[i].attempts);
        CHECK(back[i].state == items[i].state);
        CHECK_EQ(back[i].created_at, items[i].created_at);
        CHECK_EQ(back[i].next_attempt_at, uint64_t(0));  // due at once after a boot
    }
    for (size_t i = 0; i < blob.size(); i += 7) {  // any flipped byte is detected
        std::string bad = blob;
        bad[i] = static_cast<char>(bad[i] ^ 0x20);
        CHECK(!kiosk::Outbox::decode(bad, back, credit));
    }
    CHECK(!kiosk::Outbox::decode(blob.substr(0, blob.size() - 1), back, credit));

    fakes::MemoryStorage storage;
    std::string bad = blob;
    bad[10] ^= 1;
    storage.write("outbox", bad);
    storage.commit();
    kiosk::Outbox outbox(storage, 16);
    CHECK(outbox.load() == kiosk::OutboxLoad::Corrupt);
    CHECK(outbox.empty());
    CHECK_EQ(storage.committed["outbox_bad"], bad);
}

TEST("classify: each response class maps to the contract's retry rule") {
    CHECK(kiosk::classify(RequestKind::Post, 202, "") == Outcome::Accepted);
    CHECK(kiosk::classify(RequestKind::Post, 200, "") == Outcome::Accepted);
    CHECK(kiosk::classify(RequestKind::Poll, 200, "") == Outcome::Status);
    CHECK(kiosk::classify(RequestKind::Post, 400, "validation_error") == Outcome::Final);
    CHECK(kiosk::classify(RequestKind::Post, 422, "idempotency_mismatch") == Outcome::Final);
    CHECK(kiosk::classify(RequestKind::Post, 403, "device_disabled") == Outcome::Disabled);
    CHECK(kiosk::classify(RequestKind::Post, 403, "forbidden") == Outcome::Final);
    CHECK(kiosk::classify(RequestKind::Post, 401, "stale_timestamp") == Outcome::Resync);
    CHECK(kiosk::classify(RequestKind::Post, 401, "replayed_request") == Outcome::AuthRetry);
    CHECK(kiosk::classify(RequestKind::Post, 401, "invalid_signature") == Outcome::AuthRetry);
    CHECK(kiosk::classify(RequestKind::Post, 429, "rate_limited") == Outcome::RateLimited);
    CHECK(kiosk::classify(RequestKind::Post, 500, "") == Outcome::Retry);
    CHECK(kiosk::classify(RequestKind::Post, 503, "") == Outcome::Retry);
    CHECK(kiosk::classify(RequestKind::Post, 0, "") == Outcome::Retry);
    CHECK(kiosk::classify(RequestKind::Post, 408, "") == Outcome::Retry);
    CHECK(kiosk::classify(RequestKind::Post, 404, "") == Outcome::Retry);
    CHECK(kiosk::classify(RequestKind::Post, 302, "") == Outcome::Retry);
    CHECK(kiosk::classify(RequestKind::Poll, 404, "not_found") == Outcome::Unknown);
    CHECK(kiosk::classify(RequestKind::Probe, 404, "not_found") == Outcome::Status);
}

TEST("boot: coins refused until provisioned, time-synced and the server answered once") {
    Rig rig;
    CHECK(rig.acceptor.inhibited);
    rig.clock.synced = false;
    rig.run_ms(500);
    CHECK(rig.acceptor.inhibited);
    CHECK(rig.server.requests.empty());  // nothing is signed before NTP
    CHECK(rig.app->inhibit_reasons_now() & kiosk::kInhibitNoTimeSync);
    rig.clock.synced = true;
    rig.run_ms(100);
    REQUIRE(rig.server.requests.size() == 1);  // the probe
    CHECK_EQ(rig.server.requests[0].path, std::string(kiosk::kProbePath));
    CHECK(!rig.acceptor.inhibited);

    Rig blank(0, false);
    blank.run_ms(1000);
    CHECK(blank.acceptor.inhibited);
    CHECK(blank.app->inhibit_reasons_now() & kiosk::kInhibitNotProvisioned);
    CHECK(blank.server.requests.empty());
}

TEST("payment: committed to NVS before the first send, confirmed, ticket shown, then cleared") {
    Rig rig;
    rig.run_ms(100);
    REQUIRE(!rig.acceptor.inhibited);
    bool checked = false;
    rig.server.on_request = [&](const fakes::Recorded& r) {
        if (r.method != "POST") return;
        auto committed = rig.committed_outbox();
        CHECK_EQ(committed.size(), size_t(1));
        if (!committed.empty()) {
            CHECK_EQ(committed[0].transaction_id, body_txid(r.body));
            CHECK_EQ(committed[0].amount, uint32_t(500));
        }
        checked = true;
    };
    int commits = rig.storage.commits;
    rig.coin(5);  // 500
    rig.run_ms(5000);
    CHECK(checked);
    CHECK_EQ(rig.storage.commits - commits, 4);  // credit, payment, accepted, cleared
    CHECK_EQ(rig.server.txs.size(), size_t(1));
    REQUIRE(rig.display.tickets.size() == 1);
    CHECK_EQ(rig.display.tickets[0].code, std::string("V-001"));
    CHECK_EQ(rig.display.tickets[0].tracking_url, std::string("https://kiosk.example/t/tok1"));
    CHECK_EQ(rig.display.tickets[0].position, int64_t(2));
    CHECK_EQ(rig.display.tickets[0].eta_min, int64_t(3));
    CHECK_EQ(rig.display.tickets[0].eta_max, int64_t(9));
    CHECK(rig.app->outbox().empty());
    CHECK(rig.committed_outbox().empty());
    const auto& post = rig.server.requests[1];
    CHECK_EQ(post.path, std::string("/iot/payments"));
    CHECK_EQ(post.body, "{\"transaction_id\":\"" + body_txid(post.body) + "\",\"amount\":500,\"currency\":\"XOF\"}");
    CHECK(kiosk::is_uuid(body_txid(post.body)));
    CHECK_EQ(post.headers.at("Content-Type"), std::string("application/json"));
    CHECK(!rig.acceptor.inhibited);
}

TEST("payment: coins add up to the price before one payment is made") {
    Rig rig(500);
    rig.run_ms(100);
    rig.coin(4);  // 200
    rig.coin(4);  // 200
    rig.run_ms(2000);
    CHECK_EQ(rig.count("POST"), size_t(0));
    uint32_t credit = 0;
    rig.committed_outbox(&credit);
    CHECK_EQ(credit, uint32_t(400));  // credit survives a power cut
    CHECK_EQ(rig.display.last_credit, int64_t(400));
    rig.power_cycle();
    rig.run_ms(100);
    rig.coin(3);  // 100
    rig.run_ms(3000);
    REQUIRE(rig.server.tx_order.size() == 1);
    CHECK(rig.server.txs[rig.server.tx_order[0]].body.find("\"amount\":500") != std::string::npos);
    CHECK_EQ(rig.display.tickets.size(), size_t(1));
    rig.committed_outbox(&credit);
    CHECK_EQ(credit, uint32_t(0));
}

TEST("retry after 5xx: same transaction_id and body, fresh nonce and timestamp, backoff; inhibit after 3 failures") {
    Rig rig;
    rig.run_ms(100);
    rig.server.mode = fakes::FakeServer::Mode::Down5xx;
    std::vector<uint64_t> sent_at;
    rig.server.on_request = [&](const fakes::Recorded&) { sent_at.push_back(rig.clock.mono_ms); };
    rig.coin(3);
    rig.run_ms(60000);
    size_t posts = rig.count("POST");
    CHECK(posts >= 4 && posts <= 12);
    std::set<std::string> nonces, bodies, timestamps;
    for (const auto& r : rig.server.requests) {
        if (r.method != "POST") continue;
        nonces.insert(r.headers.at("X-Nonce"));
        bodies.insert(r.body);
        timestamps.insert(r.headers.at("X-Timestamp"));
    }
    CHECK_EQ(nonces.size(), posts);
    CHECK_EQ(bodies.size(), size_t(1));
    CHECK(timestamps.size() >= posts - 1);  // follows the clock (two tries may share a second)
    // Gaps obey the full-jitter bounds: [floor, min(cap, base*2^(n-1))] (+ one loop step).
    for (size_t i = 1; i < sent_at.size(); i++) {
        uint64_t gap = sent_at[i] - sent_at[i - 1];
        CHECK(gap >= 500);
        CHECK(gap <= kiosk::backoff_ceiling(kiosk::BackoffPolicy(), static_cast<uint32_t>(i)) + 50);
    }
    CHECK(rig.acceptor.inhibited);
    CHECK(rig.app->inhibit_reasons_now() & kiosk::kInhibitUnreachable);
    CHECK_EQ(rig.committed_outbox().size(), size_t(1));
    CHECK(rig.committed_outbox()[0].failures >= 3);

    rig.server.mode = fakes::FakeServer::Mode::Up;
    rig.run_ms(300000, 250);
    CHECK_EQ(rig.server.txs.size(), size_t(1));
    CHECK_EQ(rig.display.tickets.size(), size_t(1));
    CHECK(rig.app->outbox().empty());
    CHECK(!rig.acceptor.inhibited);  // re-enabled on success
}

TEST("retry after a timeout: resent with a fresh nonce and the same transaction_id") {
    Rig rig;
    rig.run_ms(100);
    rig.server.mode = fakes::FakeServer::Mode::Timeout;
    rig.coin(2);
    rig.run_ms(3000);
    CHECK(rig.count("POST") >= 2);
    rig.server.mode = fakes::FakeServer::Mode::Up;
    rig.run_ms(60000, 250);
    std::set<std::string> ids, nonces;
    for (const auto& r : rig.server.requests) {
        if (r.method == "POST") {
            ids.insert(body_txid(r.body));
            nonces.insert(r.headers.at("X-Nonce"));
        }
    }
    CHECK_EQ(ids.size(), size_t(1));
    CHECK_EQ(nonces.size(), rig.count("POST"));
    CHECK_EQ(rig.server.txs.size(), size_t(1));
    CHECK_EQ(rig.display.tickets.size(), size_t(1));
    CHECK(rig.app->outbox().empty());
}

TEST("power loss after the server accepted but before the commit: resent after reboot with the same id, one ticket") {
    Rig rig;
    rig.run_ms(100);
    rig.server.after_response = [&](const fakes::Recorded& r, const kiosk::HttpResponse& resp) {
        if (r.method == "POST" && resp.status == 202) rig.storage.die_next_commit = true;
    };
    rig.coin(5);
    rig.run_ms(200);
    REQUIRE(rig.server.tx_order.size() == 1);
    std::string id = rig.server.tx_order[0];
    rig.server.after_response = nullptr;
    rig.power_cycle();
    CHECK(rig.acceptor.inhibited);  // until the server answers again
    REQUIRE(rig.app->outbox().size() == 1);
    CHECK_EQ(rig.app->outbox().at(0).transaction_id, id);
    CHECK(rig.app->outbox().at(0).state == kiosk::PaymentState::Queued);
    size_t posts_before = rig.count("POST");
    rig.run_ms(5000);
    CHECK_EQ(rig.count("POST"), posts_before + 1);
    for (const auto& r : rig.server.requests) {
        if (r.method == "POST") CHECK_EQ(body_txid(r.body), id);
    }
    CHECK_EQ(rig.server.txs.size(), size_t(1));  // the retry was the idempotent "same id, same payload"
    CHECK_EQ(rig.display.tickets.size(), size_t(1));
    CHECK(rig.committed_outbox().empty());
    CHECK(!rig.acceptor.inhibited);
}

TEST("power loss between the payment write and its commit: the coins are still credit, paid once after reboot") {
    Rig rig(100);  // price 100: a 50 coin stays credit
    rig.run_ms(100);
    rig.coin(2);  // 50, committed as credit
    uint32_t credit = 0;
    CHECK(rig.committed_outbox(&credit).empty());
    CHECK_EQ(credit, uint32_t(50));
    kiosk::ConsoleAction action;
    rig.app->console("price 0", action);  // now the credit becomes a payment on the next service()
    rig.storage.die_next_commit = true;   // ...whose commit never reaches flash
    rig.service();
    CHECK_EQ(rig.count("POST"), size_t(0));  // nothing is sent that is not committed
    rig.power_cycle();
    CHECK(rig.app->outbox().empty());
    CHECK_EQ(rig.app->outbox().credit(), uint32_t(50));
    rig.run_ms(5000);
    REQUIRE(rig.server.tx_order.size() == 1);
    CHECK(rig.server.txs[rig.server.tx_order[0]].body.find("\"amount\":50,") != std::string::npos);
    CHECK_EQ(rig.display.tickets.size(), size_t(1));
    CHECK(rig.committed_outbox(&credit).empty());
    CHECK_EQ(credit, uint32_t(0));
}
