#include "kiosk/theme.h"

#include <cstdlib>

#include "kiosk/font.h"
#include "kiosk/json.h"

namespace kiosk {

std::string Theme::to_blob() const {
    return "{\"name\":" + json_quote(name) + ",\"queue\":" + json_quote(queue) + ",\"primary\":" +
           json_quote(format_hex_color(primary)) + ",\"accent\":" + json_quote(format_hex_color(accent)) +
           ",\"vip\":" + json_quote(format_hex_color(vip)) + ",\"locale\":" + json_quote(lang_code(lang)) +
           ",\"utc_offset_min\":" + std::to_string(utc_offset_min) + "}";
}

Theme Theme::from_blob(const std::string& blob) {
    Theme t;
    Json doc;
    if (!Json::parse(blob, doc)) return t;
    if (doc["name"].is_string() && !doc["name"].str().empty()) t.name = doc["name"].str();
    if (doc["queue"].is_string()) t.queue = doc["queue"].str();
    parse_hex_color(doc["primary"].str(), t.primary);
    parse_hex_color(doc["accent"].str(), t.accent);
    parse_hex_color(doc["vip"].str(), t.vip);
    parse_lang(doc["locale"].str(), t.lang);
    int64_t offset = 0;
    if (doc["utc_offset_min"].as_int64(offset) && offset >= -720 && offset <= 840) {
        t.utc_offset_min = static_cast<int>(offset);
    }
    return t;
}

namespace {

std::string join_from(const std::vector<std::string>& args, size_t first) {
    std::string out;
    for (size_t i = first; i < args.size(); i++) out += (i > first ? " " : "") + args[i];
    return out;
}

bool parse_offset(const std::string& text, int& out) {
    if (text.empty() || text.size() > 4) return false;
    size_t start = (text[0] == '+' || text[0] == '-') ? 1 : 0;
    if (start == text.size() || text.find_first_not_of("0123456789", start) != std::string::npos) return false;
    long value = std::strtol(text.c_str(), nullptr, 10);
    if (value < -720 || value > 840) return false;
    out = static_cast<int>(value);
    return true;
}

}  // namespace

std::string apply_theme_command(const std::vector<std::string>& args, Theme& theme) {
    const std::string usage =
        "usage: theme name <text> | theme colors #primary #accent #vip | theme locale fr|en | "
        "theme queue <text> | theme tz <minutes east of UTC>";
    if (args.size() < 2) return usage;
    const std::string& field = args[1];
    std::string value = join_from(args, 2);
    if (field == "name" && !value.empty() && utf8_decode(value).size() <= 64) {
        theme.name = value;
    } else if (field == "queue" && utf8_decode(value).size() <= 32) {
        theme.queue = value;
    } else if (field == "colors" && args.size() == 5) {
        Theme t = theme;
        if (!parse_hex_color(args[2], t.primary) || !parse_hex_color(args[3], t.accent) ||
            !parse_hex_color(args[4], t.vip)) {
            return usage;
        }
        theme = t;
    } else if (field == "locale" && args.size() == 3 && parse_lang(args[2], theme.lang)) {
    } else if (field == "tz" && args.size() == 3 && parse_offset(args[2], theme.utc_offset_min)) {
    } else {
        return usage;
    }
    return "ok: theme " + field;
}

uint16_t text_color_on(uint16_t background) {
    unsigned r = ((background >> 11) & 0x1F) * 255 / 31;
    unsigned g = ((background >> 5) & 0x3F) * 255 / 63;
    unsigned b = (background & 0x1F) * 255 / 31;
    // Rec. 601 luma: light backgrounds get black text.
    return (299 * r + 587 * g + 114 * b) / 1000 > 150 ? kBlack : kWhite;
}

std::string queue_label(const Theme& theme, const std::string& code) {
    if (!theme.queue.empty()) return theme.queue;
    std::string prefix = code.substr(0, code.find('-'));
    if (prefix.size() > 1 && prefix[0] == 'V') prefix = prefix.substr(1);  // "VA" names queue "A"
    return prefix;
}

}  // namespace kiosk
