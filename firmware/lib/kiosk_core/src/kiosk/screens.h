// The customer's screens on a 320x240 canvas. Each function paints the whole
// screen (header with the establishment's name in its colours, then a body),
// so the picture never depends on what was there before.
#pragma once

#include <cstdint>
#include <string>

#include "kiosk/canvas.h"
#include "kiosk/ports.h"
#include "kiosk/printer.h"
#include "kiosk/qr.h"
#include "kiosk/theme.h"

namespace kiosk {

constexpr int kScreenW = 320;
constexpr int kScreenH = 240;
constexpr int kQrModulePx = 4;  // 37 modules (version 5) -> 148 px, ~27 mm on a 2.8" panel

// Idle (credit 0) and while coins go in: "300 / 500 F CFA" and a bar.
void draw_credit_screen(Canvas& c, const Theme& theme, int64_t credit, int64_t price, const std::string& currency);
void draw_processing_screen(Canvas& c, const Theme& theme, int64_t amount, const std::string& currency);
// The ticket: code large, queue, position, wait range, QR of the tracking
// URL; a notice when the receipt could not be printed.
void draw_ticket_screen(Canvas& c, const Theme& theme, const TicketInfo& ticket, const QrMatrix& qr,
                        PaperState paper);
void draw_refused_screen(Canvas& c, const Theme& theme, const std::string& transaction_id, int64_t amount,
                         const std::string& currency);
// Disabled, offline and unavailable: a title and a sentence.
void draw_notice_screen(Canvas& c, const Theme& theme, const char* title, const char* body, uint16_t title_color);

// "3F2A-9C1B": the first 8 hex digits of the transaction id, what staff type
// to find the payment (the refund list shows the full id).
std::string short_reference(const std::string& transaction_id);

// "5–12 min", "5 min" when min == max, "" when unknown.
std::string format_wait(int64_t eta_min, int64_t eta_max, const char* unit);

}  // namespace kiosk
