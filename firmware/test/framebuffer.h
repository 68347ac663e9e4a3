// Host side of the drawing port: an RGB565 framebuffer, a PNG writer (zlib),
// a text finder that reads the screen back, and zbarimg to decode QR codes.
#pragma once

#include <zlib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "kiosk/canvas.h"
#include "kiosk/draw.h"
#include "kiosk/font.h"

namespace fb {

class Framebuffer : public kiosk::Canvas {
public:
    Framebuffer(int w, int h, uint16_t fill = kiosk::kBlack) : w_(w), h_(h), px_(static_cast<size_t>(w * h), fill) {}
    int width() const override { return w_; }
    int height() const override { return h_; }
    void fill_rect(int x, int y, int w, int h, uint16_t color) override {
        fills++;
        for (int yy = std::max(0, y); yy < std::min(h_, y + h); yy++) {
            for (int xx = std::max(0, x); xx < std::min(w_, x + w); xx++) px_[static_cast<size_t>(yy * w_ + xx)] = color;
        }
    }
    uint16_t at(int x, int y) const { return px_[static_cast<size_t>(y * w_ + x)]; }
    int fills = 0;

private:
    int w_, h_;
    std::vector<uint16_t> px_;
};

// PNG (8-bit RGB, no filter) from the framebuffer: just enough of the format
// for zbarimg and an image viewer.
inline void put_u32(std::string& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xFF);
}
inline void png_chunk(std::string& out, const char* type, const std::string& data) {
    put_u32(out, static_cast<uint32_t>(data.size()));
    std::string body = std::string(type, 4) + data;
    out += body;
    put_u32(out, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}
inline bool write_png(const std::string& path, const Framebuffer& f) {
    std::string raw;
    for (int y = 0; y < f.height(); y++) {
        raw += '\0';  // filter: none
        for (int x = 0; x < f.width(); x++) {
            uint16_t c = f.at(x, y);
            unsigned r = (c >> 11) & 0x1F, g = (c >> 5) & 0x3F, b = c & 0x1F;
            raw += static_cast<char>((r << 3) | (r >> 2));
            raw += static_cast<char>((g << 2) | (g >> 4));
            raw += static_cast<char>((b << 3) | (b >> 2));
        }
    }
    uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
    std::string z(zlen, '\0');
    if (compress2(reinterpret_cast<Bytef*>(&z[0]), &zlen, reinterpret_cast<const Bytef*>(raw.data()),
                  static_cast<uLong>(raw.size()), 9) != Z_OK) {
        return false;
    }
    z.resize(zlen);
    std::string ihdr;
    put_u32(ihdr, static_cast<uint32_t>(f.width()));
    put_u32(ihdr, static_cast<uint32_t>(f.height()));
    ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, RGB, deflate, no filter, no interlace
    std::string png = "\x89PNG\r\n\x1a\n";
    png_chunk(png, "IHDR", ihdr);
    png_chunk(png, "IDAT", z);
    png_chunk(png, "IEND", "");
    FILE* out = std::fopen(path.c_str(), "wb");
    if (!out) return false;
    bool ok = std::fwrite(png.data(), 1, png.size(), out) == png.size();
    return std::fclose(out) == 0 && ok;
}

// What zbarimg reads in the image ("" when it finds no code). The first
// symbol only, without the "QR-Code:" prefix.
inline std::string zbar_decode(const std::string& png_path) {
    std::string cmd = "zbarimg --raw -q '" + png_path + "' 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return "";
    std::string out;
    char buf[512];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    size_t nl = out.find('\n');
    return nl == std::string::npos ? out : out.substr(0, nl);
}

// Reads the screen back: true when `text`, drawn with the built-in font at
// `scale` in `color`, appears anywhere in the framebuffer pixel for pixel
// (lit pixels in that colour, unlit ones not). Glyph cells are independent,
// so a substring of a longer line matches too.
inline bool contains_text(const Framebuffer& f, const std::string& text, int scale, uint16_t color) {
    Framebuffer tpl(kiosk::text_width(text, scale), kiosk::kGlyphH * scale, 0x0001);
    kiosk::draw_text(tpl, 0, 0, text, scale, 0xFFFE);
    std::vector<std::pair<int, int>> lit, dark;
    for (int y = 0; y < tpl.height(); y++) {
        for (int x = 0; x < tpl.width(); x++) (tpl.at(x, y) == 0xFFFE ? lit : dark).push_back({x, y});
    }
    if (lit.empty()) return false;
    for (int oy = 0; oy + tpl.height() <= f.height(); oy++) {
        for (int ox = 0; ox + tpl.width() <= f.width(); ox++) {
            bool match = true;
            for (const auto& p : lit) {
                if (f.at(ox + p.first, oy + p.second) != color) { match = false; break; }
            }
            for (size_t i = 0; match && i < dark.size(); i++) {
                if (f.at(ox + dark[i].first, oy + dark[i].second) == color) match = false;
            }
            if (match) return true;
        }
    }
    return false;
}

}  // namespace fb
