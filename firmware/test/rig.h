// A whole kiosk on the host: KioskApp wired to fakes, with a "reboot" that
// keeps only what was committed to the fake NVS.
#pragma once

#include <memory>

#include "kiosk/app.h"
#include "fakes.h"

struct Rig {
    fakes::MemoryStorage storage;
    fakes::FakeClock clock;
    fakes::SeqRandom rng{0xC0FFEEu};
    fakes::FakeServer server;
    fakes::RecordingDisplay display;
    fakes::FakeAcceptor acceptor;
    kiosk::AppOptions options;
    kiosk::TicketDisplay* screen = nullptr;  // when set, the app draws on it instead of `display`
    std::unique_ptr<kiosk::KioskApp> app;

    static constexpr const char* kDevice = "dev_7Kq2xM9pLw3R";
    static constexpr const char* kSecret = "3f1c9a5e7b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e";

    explicit Rig(uint32_t price = 0, bool provisioned = true) {
        server.device_id = kDevice;
        server.secret = kSecret;
        server.now = [this] { return clock.unix_now(); };
        if (provisioned) {
            storage.write("identity", kiosk::identity_blob(kDevice, kSecret, "est-1", "queue-1"));
            storage.write("wifi", kiosk::wifi_blob("kiosk-net", "hunter2hunter2"));
            storage.write("server_url", "https://kiosk.example");
            storage.write("ca_pem", "-----BEGIN CERTIFICATE-----\nMIIBfake0000000000000000000000000000000000000\n-----END CERTIFICATE-----\n");
        }
        storage.write("price", std::to_string(price));
        storage.commit();
        boot();
    }

    void boot() {
        app.reset(new kiosk::KioskApp(storage, server, clock, rng, screen ? *screen : display, acceptor, options));
        app->begin();
    }
    // Power cut: RAM and uncommitted writes are gone; boot again from flash.
    void power_cycle() {
        app.reset();
        storage.power_cycle();
        boot();
    }

    uint64_t now_us() const { return clock.mono_ms * 1000; }
    void service() { app->service(now_us()); }
    void run_ms(uint64_t ms, uint64_t step = 50) {
        for (uint64_t t = 0; t < ms; t += step) {
            clock.advance_ms(step);
            service();
        }
    }
    // One coin: n pulses 100 ms apart, then the closing gap.
    void coin(int pulses) {
        for (int i = 0; i < pulses; i++) {
            app->on_pulse(now_us());
            clock.advance_ms(100);
        }
        clock.advance_ms(250);
        service();
    }
    // Committed outbox (what survives a power cut).
    std::vector<kiosk::PendingPayment> committed_outbox(uint32_t* credit = nullptr) {
        std::vector<kiosk::PendingPayment> items;
        uint32_t c = 0;
        auto found = storage.committed.find("outbox");
        if (found != storage.committed.end()) kiosk::Outbox::decode(found->second, items, c);
        if (credit) *credit = c;
        return items;
    }
    size_t count(const std::string& method) const {
        size_t n = 0;
        for (const auto& r : server.requests) n += r.method == method && r.path.find("0000-4000-8000") == std::string::npos;
        return n;
    }
};
