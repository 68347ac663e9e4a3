// Text and QR drawing on a Canvas with the built-in font.
#pragma once

#include <cstdint>
#include <string>

#include "kiosk/canvas.h"
#include "kiosk/qr.h"

namespace kiosk {

enum class Align { Left, Center, Right };

// Draws UTF-8 text with its top-left at (x, y), transparent background;
// returns the width drawn. Each lit run of a glyph row is one fill_rect.
int draw_text(Canvas& canvas, int x, int y, const std::string& utf8, int scale, uint16_t color);

// Aligned inside [x, x + w): ellipsized first so it never spills out.
void draw_text_in(Canvas& canvas, int x, int y, int w, const std::string& utf8, int scale, uint16_t color,
                  Align align);

// The QR's modules at module_px each, with a light quiet zone of quiet
// modules around them; (x, y) is the top-left of the quiet zone.
void draw_qr(Canvas& canvas, const QrMatrix& qr, int x, int y, int module_px, int quiet);

}  // namespace kiosk
