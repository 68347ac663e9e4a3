#include "kiosk/draw.h"

#include "kiosk/font.h"

namespace kiosk {

bool parse_hex_color(const std::string& text, uint16_t& out) {
    std::string hex = !text.empty() && text[0] == '#' ? text.substr(1) : text;
    if (hex.size() != 6) return false;
    uint32_t value = 0;
    for (char c : hex) {
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) return false;
        value = (value << 4) | static_cast<uint32_t>(d);
    }
    out = rgb565(static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value));
    return true;
}

std::string format_hex_color(uint16_t color) {
    // Expand 5/6-bit channels back to 8 bits by repeating their high bits.
    unsigned r = (color >> 11) & 0x1F, g = (color >> 5) & 0x3F, b = color & 0x1F;
    unsigned r8 = (r << 3) | (r >> 2), g8 = (g << 2) | (g >> 4), b8 = (b << 3) | (b >> 2);
    static const char* digits = "0123456789ABCDEF";
    std::string out = "#";
    for (unsigned v : {r8, g8, b8}) {
        out += digits[v >> 4];
        out += digits[v & 15];
    }
    return out;
}

int draw_text(Canvas& canvas, int x, int y, const std::string& utf8, int scale, uint16_t color) {
    std::string bytes = to_font_bytes(utf8);
    int pen = x;
    for (char ch : bytes) {
        const uint8_t* rows = kFont6x13[static_cast<uint8_t>(ch)];
        for (int row = 0; row < kGlyphH; row++) {
            int col = 0;
            while (col < kGlyphW) {
                if (!(rows[row] & (0x80 >> col))) {
                    col++;
                    continue;
                }
                int run = col;
                while (run < kGlyphW && (rows[row] & (0x80 >> run))) run++;
                canvas.fill_rect(pen + col * scale, y + row * scale, (run - col) * scale, scale, color);
                col = run;
            }
        }
        pen += kGlyphW * scale;
    }
    return pen - x;
}

void draw_text_in(Canvas& canvas, int x, int y, int w, const std::string& utf8, int scale, uint16_t color,
                  Align align) {
    std::string fitted = ellipsize(utf8, w, scale);
    int tw = text_width(fitted, scale);
    int left = align == Align::Left ? x : align == Align::Center ? x + (w - tw) / 2 : x + w - tw;
    draw_text(canvas, left, y, fitted, scale, color);
}

void draw_qr(Canvas& canvas, const QrMatrix& qr, int x, int y, int module_px, int quiet) {
    int full = (qr.size + 2 * quiet) * module_px;
    canvas.fill_rect(x, y, full, full, kWhite);
    int ox = x + quiet * module_px, oy = y + quiet * module_px;
    for (int row = 0; row < qr.size; row++) {
        int col = 0;
        while (col < qr.size) {
            if (!qr.dark(col, row)) {
                col++;
                continue;
            }
            int run = col;
            while (run < qr.size && qr.dark(run, row)) run++;
            canvas.fill_rect(ox + col * module_px, oy + row * module_px, (run - col) * module_px, module_px, kBlack);
            col = run;
        }
    }
}

}  // namespace kiosk
