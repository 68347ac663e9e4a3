// The drawing port: the only thing the screen code needs from a display.
// The board implements it with TFT_eSPI (src/main.cpp); the host tests with a
// framebuffer they write out as PNG. Text and QR codes are drawn by the core
// (draw.h) as runs of filled rectangles, so the port stays one call wide and
// every pixel on the board is the pixel the test looked at.
#pragma once

#include <cstdint>
#include <string>

namespace kiosk {

class Canvas {
public:
    virtual ~Canvas() = default;
    virtual int width() const = 0;
    virtual int height() const = 0;
    // Colour is RGB565, the TFT's native format. Clipped by the implementation.
    virtual void fill_rect(int x, int y, int w, int h, uint16_t color) = 0;
};

constexpr uint16_t rgb565(uint8_t r, uint8_t g, uint8_t b) {
    return static_cast<uint16_t>(((r & 0xF8) << 8) | ((g & 0xFC) << 3) | (b >> 3));
}
constexpr uint16_t kBlack = 0x0000;
constexpr uint16_t kWhite = 0xFFFF;

// "#RRGGBB" (or "RRGGBB") -> RGB565; false on anything else.
bool parse_hex_color(const std::string& text, uint16_t& out);
std::string format_hex_color(uint16_t color);

}  // namespace kiosk
