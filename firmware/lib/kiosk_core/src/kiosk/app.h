// The kiosk, board-independent: coins -> credit -> outbox -> server -> ticket,
// plus the inhibit line and the serial console. src/main.cpp feeds it pulses,
// console lines and loop() calls; everything else is decided here.
#pragma once

#include <cstdint>
#include <string>

#include "kiosk/coin_counter.h"
#include "kiosk/config.h"
#include "kiosk/inhibit.h"
#include "kiosk/outbox.h"
#include "kiosk/payment_sync.h"
#include "kiosk/ports.h"

namespace kiosk {

struct AppOptions {
    size_t outbox_capacity = 16;
    InhibitPolicy inhibit;
    SyncPolicy sync;
    CoinCounterConfig coins;  // table replaced by the NVS config at begin()
};

// ThemeChanged: name, colours, locale, price or currency changed: redraw the screen.
enum class ConsoleAction { None, Reboot, WifiChanged, NetworkChanged, ThemeChanged };

class KioskApp {
public:
    KioskApp(Storage& storage, HttpTransport& http, Clock& clock, RandomSource& rng, TicketDisplay& display,
             Acceptor& acceptor, const AppOptions& options = AppOptions());

    // After boot: load settings and the outbox, set the inhibit line.
    void begin();

    // Pulse edges from the ISR ring (in order), then service() once per loop.
    void on_pulse(uint64_t t_us) { counter_.on_pulse(t_us); }
    void on_lost_pulses() { counter_.on_lost_pulses(); }
    // Closes coins (now_us: same clock as the pulse timestamps), handles a
    // pending claim, sends at most one request, updates the inhibit line.
    void service(uint64_t now_us);

    // One console line; the reply is safe to print (never a secret).
    std::string console(const std::string& line, ConsoleAction& action);
    bool console_in_paste() const { return pasting_ca_; }

    uint32_t inhibit_reasons_now();
    const DeviceConfig& config() const { return config_; }
    const Outbox& outbox() const { return outbox_; }
    const PaymentSync& sync() const { return sync_; }
    CoinCounter& counter() { return counter_; }
    bool storage_fault() const { return storage_fault_ || sync_.storage_fault(); }
    std::string status_text();

private:
    void handle_coin(const CoinEvent& coin);
    void convert_credit();
    void update_inhibit(bool force);
    std::string console_command(const std::string& line, ConsoleAction& action);

    Storage& storage_;
    HttpTransport& http_;
    Clock& clock_;
    RandomSource& rng_;
    TicketDisplay& display_;
    Acceptor& acceptor_;
    AppOptions options_;
    DeviceConfig config_;
    Outbox outbox_;
    PaymentSync sync_;
    CoinCounter counter_;
    bool storage_fault_ = false;
    bool began_ = false;
    uint32_t last_reasons_ = 0xFFFFFFFFu;
    std::string pending_claim_;
    bool pasting_ca_ = false;
    std::string ca_buffer_;
};

// Splits a console line on spaces; "double quotes" group words.
std::vector<std::string> split_command(const std::string& line);

}  // namespace kiosk
