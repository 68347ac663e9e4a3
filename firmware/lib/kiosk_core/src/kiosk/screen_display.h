// kiosk::TicketDisplay on a TFT and a receipt printer: decides which screen
// the customer sees (screens.h) and prints the receipt (escpos.h).
//
// A ticket or a refusal stays on screen for hold_ms even if the acceptor
// state changes meanwhile (the customer is still reading it or scanning the
// QR); coins going in replace it at once (the next customer). With no paper
// the ticket screen says so, nothing is printed, and coins keep being
// accepted: the QR on the screen is the receipt.
#pragma once

#include <cstdint>
#include <string>

#include "kiosk/canvas.h"
#include "kiosk/ports.h"
#include "kiosk/printer.h"
#include "kiosk/theme.h"

namespace kiosk {

struct ScreenOptions {
    uint64_t hold_ms = 60000;
};

class ScreenDisplay : public TicketDisplay {
public:
    // printer may be null: no printer fitted, no receipt and no paper notice.
    ScreenDisplay(Canvas& canvas, Clock& clock, PrinterPort* printer, const ScreenOptions& options = ScreenOptions());

    // Theme, VIP price and currency from the device config; redraws.
    void configure(const Theme& theme, int64_t price, const std::string& currency);
    // From the loop: ends a hold that has run out.
    void tick();
    PaperState last_paper() const { return paper_; }

    void show_ticket(const TicketInfo& ticket) override;
    void show_failure(const std::string& transaction_id, int64_t amount, const std::string& currency,
                      const std::string& reason) override;
    void show_credit(int64_t credit, int64_t price, const std::string& currency) override;
    void show_processing(int64_t amount, const std::string& currency) override;
    void show_acceptor(uint32_t reasons) override;
    void show_alert(const std::string&) override {}  // operator messages go to the console, not the customer

private:
    void draw_state();
    void hold();
    bool holding() const { return hold_until_ != 0; }
    void print_receipt(const TicketInfo& ticket);

    Canvas& canvas_;
    Clock& clock_;
    PrinterPort* printer_;
    ScreenOptions options_;
    Theme theme_;
    int64_t price_ = 0;
    std::string currency_ = "XOF";
    int64_t credit_ = 0;
    int64_t processing_amount_ = 0;  // > 0 while a payment waits for its ticket
    uint32_t reasons_ = 0;
    uint64_t hold_until_ = 0;
    PaperState paper_ = PaperState::Ok;
};

// Sends every call to two displays (the serial log and the screen).
class DisplayTee : public TicketDisplay {
public:
    DisplayTee(TicketDisplay& a, TicketDisplay& b) : a_(a), b_(b) {}
    void show_ticket(const TicketInfo& t) override { a_.show_ticket(t), b_.show_ticket(t); }
    void show_failure(const std::string& id, int64_t amount, const std::string& cur, const std::string& why) override {
        a_.show_failure(id, amount, cur, why), b_.show_failure(id, amount, cur, why);
    }
    void show_credit(int64_t credit, int64_t price, const std::string& cur) override {
        a_.show_credit(credit, price, cur), b_.show_credit(credit, price, cur);
    }
    void show_processing(int64_t amount, const std::string& cur) override {
        a_.show_processing(amount, cur), b_.show_processing(amount, cur);
    }
    void show_acceptor(uint32_t reasons) override { a_.show_acceptor(reasons), b_.show_acceptor(reasons); }
    void show_alert(const std::string& m) override { a_.show_alert(m), b_.show_alert(m); }

private:
    TicketDisplay& a_;
    TicketDisplay& b_;
};

}  // namespace kiosk
