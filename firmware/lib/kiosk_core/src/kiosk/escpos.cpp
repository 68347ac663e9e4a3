#include "kiosk/escpos.h"

#include <algorithm>
#include <cstdio>

#include "kiosk/font.h"

namespace kiosk {

namespace {

// Text as the printer's code page (Windows-1252, selected with ESC t 16),
// cut to the paper's width so it never wraps in the middle of a word.
void text_line(std::vector<uint8_t>& out, const std::string& utf8, int columns) {
    std::string bytes = to_cp1252(ellipsize(utf8, columns * kGlyphW, 1));
    out.insert(out.end(), bytes.begin(), bytes.end());
    out.push_back('\n');
}

void cmd(std::vector<uint8_t>& out, std::initializer_list<uint8_t> bytes) { out.insert(out.end(), bytes); }

}  // namespace

std::vector<uint8_t> escpos_qr_raster(const QrMatrix& qr, int module_dots, int quiet_modules) {
    int dots = (qr.size + 2 * quiet_modules) * module_dots;
    if (qr.size == 0 || dots > kPrinterDots) return {};
    int row_bytes = (dots + 7) / 8;
    std::vector<uint8_t> out = {0x1D, 0x76, 0x30, 0x00, static_cast<uint8_t>(row_bytes & 0xFF),
                                static_cast<uint8_t>(row_bytes >> 8), static_cast<uint8_t>(dots & 0xFF),
                                static_cast<uint8_t>(dots >> 8)};
    for (int y = 0; y < dots; y++) {
        std::vector<uint8_t> row(static_cast<size_t>(row_bytes), 0);
        int my = y / module_dots - quiet_modules;
        for (int x = 0; x < dots; x++) {
            int mx = x / module_dots - quiet_modules;
            bool dark = mx >= 0 && my >= 0 && mx < qr.size && my < qr.size && qr.dark(mx, my);
            if (dark) row[static_cast<size_t>(x / 8)] |= static_cast<uint8_t>(0x80 >> (x % 8));
        }
        out.insert(out.end(), row.begin(), row.end());
    }
    return out;
}

std::vector<uint8_t> build_receipt(const ReceiptData& r) {
    std::vector<uint8_t> out;
    cmd(out, {0x1B, 0x40});        // ESC @: reset whatever the last job left
    cmd(out, {0x1B, 0x74, 16});    // ESC t 16: WPC1252 (accents, €)
    cmd(out, {0x1B, 0x61, 1});     // ESC a 1: centred
    cmd(out, {0x1B, 0x45, 1});     // ESC E 1: bold
    text_line(out, r.establishment, kPrinterColumns);
    cmd(out, {0x1B, 0x45, 0});
    text_line(out, r.kind_line, kPrinterColumns);
    cmd(out, {0x1D, 0x21, 0x11});  // GS ! 0x11: double width and height
    text_line(out, r.code, kPrinterColumns / 2);
    cmd(out, {0x1D, 0x21, 0x00});
    text_line(out, r.queue_line, kPrinterColumns);
    text_line(out, r.when, kPrinterColumns);
    text_line(out, r.amount_line, kPrinterColumns);
    text_line(out, r.reference_line, kPrinterColumns);
    QrMatrix qr;
    if (encode_qr(r.tracking_url, qr)) {
        // 6 dots per module up to version 7; bigger codes shrink to fit the head.
        int dots = std::min(kQrDotsPerModule, kPrinterDots / (qr.size + 2 * kQrQuietModules));
        std::vector<uint8_t> raster = escpos_qr_raster(qr, dots, kQrQuietModules);
        out.insert(out.end(), raster.begin(), raster.end());
    }
    cmd(out, {0x1B, 0x4D, 1});     // ESC M 1: font B (42 columns) so the sentence fits one line
    text_line(out, r.follow_line, 42);
    cmd(out, {0x1B, 0x4D, 0});
    cmd(out, {0x1B, 0x64, 4});     // ESC d 4: feed past the tear bar
    return out;
}

std::string format_local_time(int64_t unix_s, int utc_offset_min, const char* order) {
    int64_t t = unix_s + static_cast<int64_t>(utc_offset_min) * 60;
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    char buf[32];
    int hh = static_cast<int>(secs / 3600), mm = static_cast<int>(secs / 60 % 60);
    if (std::string(order) == "ymd") {
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", static_cast<int>(y), static_cast<int>(m),
                      static_cast<int>(d), hh, mm);
    } else {
        std::snprintf(buf, sizeof buf, "%02d/%02d/%04d %02d:%02d", static_cast<int>(d), static_cast<int>(m),
                      static_cast<int>(y), hh, mm);
    }
    return buf;
}

}  // namespace kiosk
