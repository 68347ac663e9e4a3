// Claim-code registration, the serial console, settings in NVS.
#include "kiosk/config.h"
#include "kiosk/provisioning.h"
#include "rig.h"
#include "testing.h"

static std::string run(kiosk::KioskApp& app, const std::string& line, kiosk::ConsoleAction* out = nullptr) {
    kiosk::ConsoleAction action;
    std::string reply = app.console(line, action);
    if (out) *out = action;
    return reply;
}

TEST("claim: POST /iot/register {claim_code}, unsigned; identity committed in one go; secret never printed") {
    fakes::MemoryStorage storage;
    fakes::ScriptedTransport http;
    kiosk::DeviceConfig config;
    http.push(201, std::string("{\"device_id\":\"dev_new\",\"secret_key\":\"") + Rig::kSecret +
                       "\",\"establishment_id\":\"est-1\",\"queue_id\":\"q-1\"}");
    kiosk::ClaimResult r = kiosk::claim_device(http, storage, config, "K7P-29QX");
    CHECK(r.ok);
    REQUIRE(http.requests.size() == 1);
    CHECK_EQ(http.requests[0].method, std::string("POST"));
    CHECK_EQ(http.requests[0].path, std::string("/iot/register"));
    CHECK_EQ(http.requests[0].body, std::string("{\"claim_code\":\"K7P-29QX\"}"));
    CHECK(http.requests[0].headers.count("X-Signature") == 0);
    CHECK_EQ(storage.committed["identity"], kiosk::identity_blob("dev_new", Rig::kSecret, "est-1", "q-1"));
    kiosk::DeviceConfig reloaded;
    reloaded.load(storage);
    CHECK_EQ(reloaded.device_id, std::string("dev_new"));
    CHECK_EQ(reloaded.secret_key, std::string(Rig::kSecret));
    CHECK_EQ(reloaded.queue_id, std::string("q-1"));
    CHECK_EQ(config.device_id, std::string("dev_new"));
    CHECK(storage.staged.empty());
}

TEST("claim: refused or expired code, network error, bad body, power cut: nothing half-written") {
    struct Case {
        int status;
        std::string body;
        std::string error;
    };
    Case cases[] = {
        {401, fakes::error_body("invalid_claim_code"), "invalid_claim_code"},
        {400, fakes::error_body("validation_error"), "validation_error"},
        {404, fakes::error_body("not_found"), "not_found"},
        {0, "", "network"},
        {201, "{\"device_id\":\"d\"}", "bad_response"},
        {201, "not json", "bad_response"},
        {500, "<html>", "http_500"},
    };
    for (const Case& c : cases) {
        fakes::MemoryStorage storage;
        fakes::ScriptedTransport http;
        kiosk::DeviceConfig config;
        http.push(c.status, c.body);
        kiosk::ClaimResult r = kiosk::claim_device(http, storage, config, "CODE-1");
        CHECK(!r.ok);
        CHECK_EQ(r.error, c.error);
        CHECK(storage.committed.empty());
        CHECK(config.device_id.empty());
    }
    fakes::MemoryStorage storage;
    fakes::ScriptedTransport http;
    kiosk::DeviceConfig config;
    http.push(201, "{\"device_id\":\"dev_x\",\"secret_key\":\"abc\"}");
    storage.die_next_commit = true;
    CHECK(!kiosk::claim_device(http, storage, config, "CODE-2").ok);
    storage.power_cycle();
    std::string v;
    CHECK(!storage.read("identity", v));
    CHECK(!kiosk::claim_device(http, storage, config, "bad code").ok);  // spaces: never sent
    CHECK_EQ(http.requests.size(), size_t(1));
}

TEST("console: provisioning end to end, then the kiosk takes coins with the new identity") {
    Rig rig(0, false);
    kiosk::ConsoleAction action;
    CHECK_EQ(run(*rig.app, "claim ABC"), std::string("error: set wifi, server and ca first"));
    CHECK_EQ(run(*rig.app, "wifi \"Shop Wifi\" s3cret-pass", &action), std::string("ok: wifi saved"));
    CHECK(action == kiosk::ConsoleAction::WifiChanged);
    CHECK_EQ(rig.storage.committed["wifi"], kiosk::wifi_blob("Shop Wifi", "s3cret-pass"));
    CHECK(run(*rig.app, "server http://kiosk.example").find("usage") == 0);
    CHECK(run(*rig.app, "server https://kiosk.example/path").find("usage") == 0);
    CHECK_EQ(run(*rig.app, "server https://kiosk.example:8443/"), std::string("ok: server https://kiosk.example:8443"));
    CHECK(run(*rig.app, "ca").find("paste") != std::string::npos);
    CHECK(rig.app->console_in_paste());
    CHECK_EQ(run(*rig.app, "-----BEGIN CERTIFICATE-----"), std::string());
    CHECK_EQ(run(*rig.app, "MIIBfake0000000000000000000000000000000000000"), std::string());
    CHECK(run(*rig.app, "-----END CERTIFICATE-----", &action).find("ok: CA certificate saved") == 0);
    CHECK(action == kiosk::ConsoleAction::NetworkChanged);
    CHECK(!rig.app->console_in_paste());
    CHECK(rig.storage.committed["ca_pem"].find("BEGIN CERTIFICATE") != std::string::npos);
    CHECK(run(*rig.app, "price 12.5").find("usage") == 0);
    CHECK_EQ(run(*rig.app, "price 500"), std::string("ok: price 500"));
    CHECK(run(*rig.app, "currency xof").find("usage") == 0);
    CHECK(run(*rig.app, "coins 1:25,1:50").find("usage") == 0);
    CHECK_EQ(run(*rig.app, "coins 1:100,2:200,5:500"), std::string("ok: coins 1:100,2:200,5:500"));
    CHECK(rig.acceptor.inhibited);

    // The claim runs from service() once time is synced.
    CHECK_EQ(run(*rig.app, "claim K7P-29QX"), std::string("ok: registering once Wi-Fi and time are up"));
    rig.server.on_request = nullptr;
    // Swap in a transport that answers the register call, then the normal server.
    struct RegisterThenServer : kiosk::HttpTransport {
        fakes::FakeServer& server;
        bool registered = false;
        std::string seen_body;
        explicit RegisterThenServer(fakes::FakeServer& s) : server(s) {}
        kiosk::HttpResponse request(const std::string& m, const std::string& p, const std::vector<kiosk::Header>& h,
                                    const std::string& b) override {
            if (p == "/iot/register") {
                registered = true;
                seen_body = b;
                kiosk::HttpResponse r;
                r.status = 201;
                r.body = std::string("{\"device_id\":\"") + Rig::kDevice + "\",\"secret_key\":\"" + Rig::kSecret +
                         "\",\"establishment_id\":\"e\",\"queue_id\":\"q\"}";
                return r;
            }
            return server.request(m, p, h, b);
        }
    } transport(rig.server);
    kiosk::KioskApp app(rig.storage, transport, rig.clock, rig.rng, rig.display, rig.acceptor);
    app.begin();
    CHECK(app.config().wifi_ssid == "Shop Wifi" && app.config().price == 500);
    CHECK_EQ(run(app, "claim K7P 29QX"), std::string("ok: registering once Wi-Fi and time are up"));
    rig.clock.synced = false;
    app.service(rig.now_us());
    CHECK(!transport.registered);  // TLS and signing need the clock first
    rig.clock.synced = true;
    app.service(rig.now_us());
    CHECK(transport.registered);
    CHECK_EQ(transport.seen_body, std::string("{\"claim_code\":\"K7P-29QX\"}"));
    CHECK(rig.display.alerts.back().find("registered as dev_7Kq2xM9pLw3R") == 0);
    for (int i = 0; i < 4; i++) {
        rig.clock.advance_ms(50);
        app.service(rig.now_us());
    }
    CHECK(!rig.acceptor.inhibited);
    std::string status = run(app, "status");
    CHECK(status.find("device_id: dev_7Kq2xM9pLw3R") != std::string::npos);
    CHECK(status.find("secret: (set)") != std::string::npos);
    CHECK(status.find(Rig::kSecret) == std::string::npos);
    CHECK(status.find("s3cret-pass") == std::string::npos);
    for (const auto& alert : rig.display.alerts) CHECK(alert.find(Rig::kSecret) == std::string::npos);
    // A 500 coin (5 pulses in the new table) makes one payment.
    for (int i = 0; i < 5; i++) {
        app.on_pulse(rig.now_us());
        rig.clock.advance_ms(100);
    }
    for (int i = 0; i < 100; i++) {
        rig.clock.advance_ms(50);
        app.service(rig.now_us());
    }
    CHECK_EQ(rig.server.txs.size(), size_t(1));
    CHECK_EQ(rig.display.tickets.size(), size_t(1));
}

TEST("console: claim and forget refused while money is pending; forget force erases the identity") {
    Rig rig;
    rig.run_ms(100);
    rig.server.mode = fakes::FakeServer::Mode::Unreachable;
    rig.coin(5);
    CHECK(run(*rig.app, "claim NEW-CODE").find("error: payments or credit pending") == 0);
    CHECK(run(*rig.app, "forget").find("error: payments or credit pending") == 0);
    CHECK(rig.storage.committed_has("identity"));
    CHECK_EQ(run(*rig.app, "forget force"), std::string("ok: device identity erased"));
    CHECK(!rig.storage.committed_has("identity"));
    rig.run_ms(100);
    CHECK(rig.acceptor.inhibited);
    CHECK(rig.app->inhibit_reasons_now() & kiosk::kInhibitNotProvisioned);
    CHECK(run(*rig.app, "bogus").find("unknown command") == 0);
    kiosk::ConsoleAction action;
    CHECK_EQ(run(*rig.app, "reboot", &action), std::string("rebooting"));
    CHECK(action == kiosk::ConsoleAction::Reboot);
}

TEST("config: server URL parsing and command splitting") {
    kiosk::ServerUrl u;
    CHECK(kiosk::parse_server_url("https://kiosk.example", u));
    CHECK_EQ(u.host, std::string("kiosk.example"));
    CHECK_EQ(u.port, uint16_t(443));
    CHECK(kiosk::parse_server_url("https://10.0.0.5:8443", u));
    CHECK_EQ(u.port, uint16_t(8443));
    const char* bad[] = {"http://x", "https://", "https://x:0", "https://x:99999", "https://u@x", "https://x/api",
                         "https://x?y", "ftp://x", "https://x:"};
    for (const char* b : bad) CHECK(!kiosk::parse_server_url(b, u));
    auto args = kiosk::split_command("wifi \"My Shop\"  \"p a s s\"\r");
    REQUIRE(args.size() == 3);
    CHECK_EQ(args[1], std::string("My Shop"));
    CHECK_EQ(args[2], std::string("p a s s"));
    CHECK_EQ(kiosk::split_command("wifi \"\" x").size(), size_t(3));  // empty quoted arg kept
}
