// Text for the screen and the receipt: a built-in 6x13 bitmap font (X11
// misc-fixed bold, public domain) indexed by ISO-8859-15, so French accents
// and the euro sign draw without a font file; and the UTF-8 -> single-byte
// conversions both need.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiosk {

constexpr int kGlyphW = 6;
constexpr int kGlyphH = 13;
extern const uint8_t kFont6x13[256][13];  // font6x13.cpp (generated)

// Decodes UTF-8 into code points; a malformed byte becomes U+FFFD.
std::vector<uint32_t> utf8_decode(const std::string& text);
std::string utf8_encode(const std::vector<uint32_t>& cps);

// One byte per character in the font's encoding (ISO-8859-15, plus "…" at
// 0x85 and "–" at 0x96). Characters it lacks fall back to a look-alike
// (typographic quotes, thin spaces) or '?', never to a wrong letter.
std::string to_font_bytes(const std::string& utf8);

// Windows-1252 for the printer (ESC t 16). Same fallbacks.
std::string to_cp1252(const std::string& utf8);

// Width in pixels of a UTF-8 string in the built-in font at this scale.
int text_width(const std::string& utf8, int scale);

// The longest prefix that fits max_px, ending in "…" when something was cut.
std::string ellipsize(const std::string& utf8, int max_px, int scale);

// Greedy word wrap into lines of at most max_px (a word longer than a line is
// ellipsized rather than split mid-word).
std::vector<std::string> wrap_text(const std::string& utf8, int max_px, int scale);

}  // namespace kiosk
