// A strict ESC/POS reader for the commands the receipt uses: text lines with
// their size/bold/font, GS v 0 raster images, feeds. Anything else is an
// error, so a stray byte in the receipt fails the test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace escpos {

struct Line {
    std::string text;  // UTF-8 (decoded from WPC1252)
    uint8_t size = 0;  // GS ! value in force
    bool bold = false;
    int font = 0;
    int align = 0;
};

struct Image {
    int width = 0, height = 0;  // dots
    std::vector<uint8_t> dark;  // row-major, 1 = burnt
    size_t after_line = 0;      // index of the next text line
};

struct Job {
    std::vector<Line> lines;
    std::vector<Image> images;
    std::vector<std::string> errors;
    int codepage = -1;
    int feed = 0;
    bool reset = false;
};

inline std::string cp1252_to_utf8(uint8_t b) {
    static const uint16_t high[32] = {0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
                                      0x2039, 0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
                                      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178};
    uint32_t cp = b < 0x80 ? b : b < 0xA0 ? high[b - 0x80] : b;
    std::string out;
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) out += {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    else out += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
    return out;
}

inline Job decode(const std::vector<uint8_t>& b) {
    Job job;
    Line cur;
    std::string text;
    size_t i = 0;
    auto need = [&](size_t n) {
        if (i + n > b.size()) {
            job.errors.push_back("truncated command at " + std::to_string(i));
            i = b.size();
            return false;
        }
        return true;
    };
    while (i < b.size()) {
        uint8_t c = b[i];
        if (c == '\n') {
            cur.text = text;
            job.lines.push_back(cur);
            text.clear();
            i++;
        } else if (c == 0x1B && need(2)) {
            uint8_t op = b[i + 1];
            if (op == '@') { job.reset = true; cur = Line(); i += 2; continue; }
            if (!need(3)) break;
            uint8_t n = b[i + 2];
            if (op == 't') job.codepage = n;
            else if (op == 'a') cur.align = n;
            else if (op == 'E') cur.bold = n != 0;
            else if (op == 'M') cur.font = n;
            else if (op == 'd') job.feed += n;
            else job.errors.push_back("unknown ESC " + std::to_string(op));
            i += 3;
        } else if (c == 0x1D && need(2)) {
            uint8_t op = b[i + 1];
            if (op == '!' && need(3)) {
                cur.size = b[i + 2];
                i += 3;
            } else if (op == 'v' && need(8) && b[i + 2] == '0') {
                Image img;
                int row_bytes = b[i + 4] | (b[i + 5] << 8);
                img.height = b[i + 6] | (b[i + 7] << 8);
                img.width = row_bytes * 8;
                i += 8;
                if (!need(static_cast<size_t>(row_bytes * img.height))) break;
                for (int y = 0; y < img.height; y++) {
                    for (int x = 0; x < img.width; x++) {
                        img.dark.push_back((b[i + static_cast<size_t>(y * row_bytes + x / 8)] >> (7 - x % 8)) & 1);
                    }
                }
                i += static_cast<size_t>(row_bytes * img.height);
                img.after_line = job.lines.size();
                job.images.push_back(img);
            } else {
                job.errors.push_back("unknown GS " + std::to_string(op));
                i += 2;
            }
        } else if (c < 0x20) {
            job.errors.push_back("control byte " + std::to_string(c));
            i++;
        } else {
            text += cp1252_to_utf8(c);
            i++;
        }
    }
    if (!text.empty()) job.errors.push_back("text without a line feed: " + text);
    return job;
}

}  // namespace escpos
