#include "kiosk/font.h"
#include "kiosk/utf8.h"

namespace kiosk {

std::vector<uint32_t> utf8_decode(const std::string& text) {
    std::vector<uint32_t> out;
    size_t i = 0;
    while (i < text.size()) {
        uint8_t c = static_cast<uint8_t>(text[i]);
        int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        if (extra < 0 || i + static_cast<size_t>(extra) >= text.size()) {
            out.push_back(0xFFFD);
            i++;
            continue;
        }
        uint32_t cp = extra == 0 ? c : c & (0x3Fu >> extra);
        bool ok = true;
        for (int k = 1; k <= extra; k++) {
            uint8_t cc = static_cast<uint8_t>(text[i + static_cast<size_t>(k)]);
            if ((cc & 0xC0) != 0x80) ok = false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        out.push_back(ok ? cp : 0xFFFD);
        i += ok ? static_cast<size_t>(extra) + 1 : 1;
    }
    return out;
}

std::string utf8_encode(const std::vector<uint32_t>& cps) {
    std::string out;
    for (uint32_t cp : cps) append_utf8(out, cp);
    return out;
}

namespace {

// Characters both encodings lack, mapped to what a reader expects to see.
int common_fallback(uint32_t cp) {
    switch (cp) {
        case 0x2009: case 0x202F: case 0x2007: return 0xA0;  // thin/figure spaces -> no-break space
        case 0x2018: case 0x2019: case 0x02BC: return '\'';
        case 0x201C: case 0x201D: return '"';
        case 0x2010: case 0x2011: case 0x2212: return '-';
        default: return -1;
    }
}

char latin9_byte(uint32_t cp) {
    switch (cp) {  // the eight code points ISO-8859-15 moved relative to Latin-1
        case 0x20AC: return static_cast<char>(0xA4);
        case 0x0160: return static_cast<char>(0xA6);
        case 0x0161: return static_cast<char>(0xA8);
        case 0x017D: return static_cast<char>(0xB4);
        case 0x017E: return static_cast<char>(0xB8);
        case 0x0152: return static_cast<char>(0xBC);
        case 0x0153: return static_cast<char>(0xBD);
        case 0x0178: return static_cast<char>(0xBE);
        case 0x2026: return static_cast<char>(0x85);  // font-only slots (see font.h)
        case 0x2013: case 0x2014: return static_cast<char>(0x96);
        case 0xA4: case 0xA6: case 0xA8: case 0xB4: case 0xB8: case 0xBC: case 0xBD: case 0xBE: return '?';
        default: break;
    }
    if (cp >= 0x20 && cp < 0x7F) return static_cast<char>(cp);
    if (cp >= 0xA0 && cp <= 0xFF) return static_cast<char>(cp);
    int f = common_fallback(cp);
    return f >= 0 ? static_cast<char>(f) : '?';
}

char cp1252_byte(uint32_t cp) {
    switch (cp) {
        case 0x20AC: return static_cast<char>(0x80);
        case 0x2026: return static_cast<char>(0x85);
        case 0x2013: return static_cast<char>(0x96);
        case 0x2014: return static_cast<char>(0x97);
        case 0x0152: return static_cast<char>(0x8C);
        case 0x0153: return static_cast<char>(0x9C);
        case 0x0160: return static_cast<char>(0x8A);
        case 0x0161: return static_cast<char>(0x9A);
        case 0x0178: return static_cast<char>(0x9F);
        case 0x017D: return static_cast<char>(0x8E);
        case 0x017E: return static_cast<char>(0x9E);
        case 0x2018: return static_cast<char>(0x91);
        case 0x2019: return static_cast<char>(0x92);
        default: break;
    }
    if (cp >= 0x20 && cp < 0x7F) return static_cast<char>(cp);
    if (cp >= 0xA0 && cp <= 0xFF) return static_cast<char>(cp);
    int f = common_fallback(cp);
    return f >= 0 ? static_cast<char>(f) : '?';
}

}  // namespace

std::string to_font_bytes(const std::string& utf8) {
    std::string out;
    for (uint32_t cp : utf8_decode(utf8)) out += latin9_byte(cp);
    return out;
}

std::string to_cp1252(const std::string& utf8) {
    std::string out;
    for (uint32_t cp : utf8_decode(utf8)) {
        if (cp == '\n') out += '\n';
        else out += cp1252_byte(cp);
    }
    return out;
}

int text_width(const std::string& utf8, int scale) {
    return static_cast<int>(utf8_decode(utf8).size()) * kGlyphW * scale;
}

std::string ellipsize(const std::string& utf8, int max_px, int scale) {
    std::vector<uint32_t> cps = utf8_decode(utf8);
    size_t fit = static_cast<size_t>(max_px / (kGlyphW * scale));
    if (cps.size() <= fit) return utf8;
    if (fit == 0) return std::string();
    cps.resize(fit - 1);
    while (!cps.empty() && cps.back() == ' ') cps.pop_back();  // "Clinique …" reads worse than "Clinique…"
    cps.push_back(0x2026);
    return utf8_encode(cps);
}

std::vector<std::string> wrap_text(const std::string& utf8, int max_px, int scale) {
    std::vector<std::string> lines;
    std::string line;
    size_t start = 0;
    while (start <= utf8.size()) {
        size_t end = utf8.find(' ', start);
        if (end == std::string::npos) end = utf8.size();
        std::string word = utf8.substr(start, end - start);
        std::string candidate = line.empty() ? word : line + " " + word;
        if (!line.empty() && text_width(candidate, scale) > max_px) {
            lines.push_back(line);
            line = ellipsize(word, max_px, scale);
        } else {
            line = text_width(candidate, scale) > max_px ? ellipsize(candidate, max_px, scale) : candidate;
        }
        start = end + 1;
    }
    if (!line.empty()) lines.push_back(line);
    return lines;
}

}  // namespace kiosk
