#include "kiosk/screens.h"

#include <algorithm>

#include "kiosk/draw.h"
#include "kiosk/font.h"
#include "kiosk/money.h"
#include "kiosk/texts.h"

namespace kiosk {

namespace {

constexpr int kHeaderH = 34;
constexpr int kMargin = 8;
constexpr uint16_t kInk = rgb565(0x22, 0x22, 0x22);
constexpr uint16_t kMuted = rgb565(0x66, 0x66, 0x66);
constexpr uint16_t kAlert = rgb565(0xC0, 0x39, 0x2B);

// Background, header bar in the primary colour, the name ellipsized in it.
void frame(Canvas& c, const Theme& theme) {
    c.fill_rect(0, 0, kScreenW, kScreenH, kWhite);
    c.fill_rect(0, 0, kScreenW, kHeaderH, theme.primary);
    draw_text_in(c, kMargin, (kHeaderH - 2 * kGlyphH) / 2, kScreenW - 2 * kMargin, theme.name, 2,
                 text_color_on(theme.primary), Align::Center);
    c.fill_rect(0, kHeaderH, kScreenW, 3, theme.accent);
}

// The largest scale (up to max_scale) at which the text fits the width.
int fit_scale(const std::string& text, int width, int max_scale) {
    int scale = max_scale;
    while (scale > 1 && text_width(text, scale) > width) scale--;
    return scale;
}

void centered(Canvas& c, int y, const std::string& text, int max_scale, uint16_t color) {
    int scale = fit_scale(text, kScreenW - 2 * kMargin, max_scale);
    draw_text_in(c, kMargin, y, kScreenW - 2 * kMargin, text, scale, color, Align::Center);
}

// Wrapped paragraph, centred; returns the y below it.
int paragraph(Canvas& c, int y, const std::string& text, int scale, uint16_t color) {
    for (const std::string& line : wrap_text(text, kScreenW - 2 * kMargin, scale)) {
        draw_text_in(c, kMargin, y, kScreenW - 2 * kMargin, line, scale, color, Align::Center);
        y += kGlyphH * scale + 4;
    }
    return y;
}

// A small label over a larger value in the ticket's left column.
int field(Canvas& c, int x, int y, int w, const char* label, const std::string& value) {
    draw_text_in(c, x, y, w, label, 1, kMuted, Align::Left);
    draw_text_in(c, x, y + kGlyphH + 1, w, value, 2, kInk, Align::Left);
    return y + 3 * kGlyphH + 3;
}

}  // namespace

std::string short_reference(const std::string& transaction_id) {
    std::string hex;
    for (char ch : transaction_id) {
        if (hex.size() == 8) break;
        if (ch == '-') continue;
        hex += (ch >= 'a' && ch <= 'f') ? static_cast<char>(ch - 'a' + 'A') : ch;
    }
    return hex.size() == 8 ? hex.substr(0, 4) + "-" + hex.substr(4) : hex;
}

std::string format_wait(int64_t eta_min, int64_t eta_max, const char* unit) {
    if (eta_min < 0) return std::string();
    if (eta_max <= eta_min) return std::to_string(eta_min) + " " + unit;
    return std::to_string(eta_min) + "\xE2\x80\x93" + std::to_string(eta_max) + " " + unit;  // en dash
}

void draw_credit_screen(Canvas& c, const Theme& theme, int64_t credit, int64_t price, const std::string& currency) {
    const Texts& t = texts(theme.lang);
    frame(c, theme);
    centered(c, 50, credit > 0 ? t.insert_coins : t.vip_ticket, 2, kInk);
    centered(c, 88, credit > 0 ? format_credit(credit, price, currency, theme.lang)
                               : format_money(price, currency, theme.lang), 3, theme.vip);
    int bar_w = kScreenW - 4 * kMargin;
    c.fill_rect(2 * kMargin, 140, bar_w, 22, rgb565(0xE6, 0xE6, 0xE6));
    if (price > 0 && credit > 0) {
        int64_t filled = credit >= price ? bar_w : credit * bar_w / price;
        c.fill_rect(2 * kMargin, 140, static_cast<int>(filled), 22, theme.accent);
    }
    if (credit > 0 && credit < price) {
        centered(c, 182, std::string(t.remaining) + " " + format_money(price - credit, currency, theme.lang), 2, kInk);
    } else if (credit == 0) {
        centered(c, 182, t.insert_coins, 2, kMuted);
    }
}

void draw_processing_screen(Canvas& c, const Theme& theme, int64_t amount, const std::string& currency) {
    const Texts& t = texts(theme.lang);
    frame(c, theme);
    centered(c, 80, t.processing, 2, kInk);
    centered(c, 130, format_money(amount, currency, theme.lang), 3, theme.vip);
}

void draw_ticket_screen(Canvas& c, const Theme& theme, const TicketInfo& ticket, const QrMatrix& qr,
                        PaperState paper) {
    const Texts& t = texts(theme.lang);
    frame(c, theme);
    // 4 px per module up to version 5; a longer URL (bigger version) gets
    // smaller modules rather than overflowing the screen.
    const int module_px = qr.size > 0 ? std::max(1, std::min(kQrModulePx, (kScreenH - kHeaderH - 44) / qr.size)) : 0;
    const int qr_px = qr.size * module_px;
    const int qr_x = kScreenW - kMargin - qr_px;
    const int col_w = qr_x - 3 * std::max(module_px, 3) - kMargin;  // >= 3 modules of white left of the QR
    int y = kHeaderH + 6;
    draw_text_in(c, kMargin, y, col_w, t.your_ticket, 1, kMuted, Align::Left);
    y += kGlyphH + 1;
    int code_scale = fit_scale(ticket.code, col_w, 4);
    draw_text_in(c, kMargin, y, col_w, ticket.code, code_scale, theme.vip, Align::Left);
    y += kGlyphH * code_scale + 4;
    y = field(c, kMargin, y, col_w, t.queue, queue_label(theme, ticket.code));
    if (ticket.position >= 0) y = field(c, kMargin, y, col_w, t.position, std::to_string(ticket.position));
    std::string wait = format_wait(ticket.eta_min, ticket.eta_max, t.minutes);
    if (!wait.empty()) field(c, kMargin, y, col_w, t.wait, wait);
    if (qr.size > 0) {
        // Quiet zone 0: the white background around gives >= 3 modules on every side.
        draw_qr(c, qr, qr_x, kHeaderH + 10, module_px, 0);
        int below = kHeaderH + 10 + qr_px + 4;
        draw_text_in(c, qr_x - 6, below, qr_px + 12, t.scan_to_follow, 1, kInk, Align::Center);
        if (paper != PaperState::Ok && paper != PaperState::NearEnd) {
            const char* notice = paper == PaperState::Out ? t.paper_out : t.printer_missing;
            int ny = below + kGlyphH + 3;
            c.fill_rect(qr_x - 8, ny - 2, kScreenW - qr_x + 8, kScreenH - ny + 2, kAlert);
            for (const std::string& line : wrap_text(notice, kScreenW - qr_x + 4, 1)) {
                draw_text_in(c, qr_x - 6, ny, kScreenW - qr_x + 4, line, 1, kWhite, Align::Center);
                ny += kGlyphH;
            }
        }
    }
}

void draw_refused_screen(Canvas& c, const Theme& theme, const std::string& transaction_id, int64_t amount,
                         const std::string& currency) {
    const Texts& t = texts(theme.lang);
    frame(c, theme);
    centered(c, 44, t.refused_title, 3, kAlert);
    int y = paragraph(c, 92, t.refused_body, 2, kInk);
    centered(c, y + 6, label_value(theme.lang, t.amount, format_money(amount, currency, theme.lang)), 2, kInk);
    centered(c, y + 44, std::string(t.reference) + " " + short_reference(transaction_id), 3, kInk);
}

void draw_notice_screen(Canvas& c, const Theme& theme, const char* title, const char* body, uint16_t title_color) {
    frame(c, theme);
    centered(c, 64, title, 3, title_color);
    paragraph(c, 128, body, 2, kInk);
}

}  // namespace kiosk
