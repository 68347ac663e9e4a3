#include "kiosk/screen_display.h"

#include "kiosk/escpos.h"
#include "kiosk/inhibit.h"
#include "kiosk/money.h"
#include "kiosk/qr.h"
#include "kiosk/screens.h"
#include "kiosk/texts.h"

namespace kiosk {

ScreenDisplay::ScreenDisplay(Canvas& canvas, Clock& clock, PrinterPort* printer, const ScreenOptions& options)
    : canvas_(canvas), clock_(clock), printer_(printer), options_(options) {}

void ScreenDisplay::configure(const Theme& theme, int64_t price, const std::string& currency) {
    theme_ = theme;
    price_ = price;
    currency_ = currency;
    if (!holding()) draw_state();
}

void ScreenDisplay::hold() {
    hold_until_ = clock_.monotonic_ms() + options_.hold_ms;
    if (hold_until_ == 0) hold_until_ = 1;
}

void ScreenDisplay::tick() {
    if (holding() && clock_.monotonic_ms() >= hold_until_) {
        hold_until_ = 0;
        draw_state();
    }
}

// The screen for "no ticket to show": why coins are refused, else the credit.
void ScreenDisplay::draw_state() {
    const Texts& t = texts(theme_.lang);
    const uint16_t red = rgb565(0xC0, 0x39, 0x2B), amber = rgb565(0xB9, 0x77, 0x0E);
    if (reasons_ & kInhibitDeviceDisabled) {
        draw_notice_screen(canvas_, theme_, t.disabled_title, t.disabled_body, red);
    } else if (reasons_ & (kInhibitNotProvisioned | kInhibitStorageFault)) {
        draw_notice_screen(canvas_, theme_, t.unavailable_title, t.unavailable_body, red);
    } else if (reasons_ & (kInhibitUnreachable | kInhibitAuthFailure | kInhibitNoTimeSync)) {
        draw_notice_screen(canvas_, theme_, t.offline_title, t.offline_body, amber);
    } else if (reasons_ != kInhibitNone) {
        draw_notice_screen(canvas_, theme_, t.unavailable_title, t.unavailable_body, amber);
    } else if (processing_amount_ > 0) {
        draw_processing_screen(canvas_, theme_, processing_amount_, currency_);
    } else {
        draw_credit_screen(canvas_, theme_, credit_, price_, currency_);
    }
}

void ScreenDisplay::show_ticket(const TicketInfo& ticket) {
    processing_amount_ = 0;
    // Paper first: the screen tells the customer whether a receipt is coming.
    paper_ = printer_ ? query_paper(*printer_) : PaperState::Ok;
    QrMatrix qr;
    encode_qr(ticket.tracking_url, qr);  // an over-long URL shows the ticket without a QR
    draw_ticket_screen(canvas_, theme_, ticket, qr, paper_);
    hold();
    if (printer_ && (paper_ == PaperState::Ok || paper_ == PaperState::NearEnd)) print_receipt(ticket);
}

void ScreenDisplay::print_receipt(const TicketInfo& ticket) {
    const Texts& t = texts(theme_.lang);
    ReceiptData r;
    r.establishment = theme_.name;
    r.kind_line = ticket.kind == "VIP" ? t.vip_ticket : t.your_ticket;
    r.code = ticket.code;
    r.queue_line = label_value(theme_.lang, t.queue, queue_label(theme_, ticket.code));
    r.when = clock_.wall_synced() ? format_local_time(clock_.unix_now(), theme_.utc_offset_min, t.date_format) : "";
    r.amount_line = label_value(theme_.lang, t.amount, format_money(ticket.amount, ticket.currency, theme_.lang));
    r.reference_line = label_value(theme_.lang, t.reference, short_reference(ticket.transaction_id));
    r.tracking_url = ticket.tracking_url;
    r.follow_line = t.receipt_follow;
    std::vector<uint8_t> bytes = build_receipt(r);
    printer_->write(bytes.data(), bytes.size());
}

void ScreenDisplay::show_failure(const std::string& transaction_id, int64_t amount, const std::string& currency,
                                 const std::string&) {
    processing_amount_ = 0;
    draw_refused_screen(canvas_, theme_, transaction_id, amount, currency);
    hold();
}

void ScreenDisplay::show_credit(int64_t credit, int64_t price, const std::string& currency) {
    credit_ = credit;
    price_ = price;
    currency_ = currency;
    hold_until_ = 0;  // a new customer is inserting coins: their progress wins
    draw_state();
}

void ScreenDisplay::show_processing(int64_t amount, const std::string& currency) {
    credit_ = 0;
    processing_amount_ = amount;
    currency_ = currency;
    hold_until_ = 0;
    draw_state();
}

void ScreenDisplay::show_acceptor(uint32_t reasons) {
    reasons_ = reasons;
    if (!holding()) draw_state();
}

}  // namespace kiosk
