#include "kiosk/json.h"
#include "kiosk/utf8.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace kiosk {

namespace {
const Json& null_json() {
    static const Json kNull;
    return kNull;
}
}  // namespace

class JsonParser {
public:
    JsonParser(const std::string& text) : s_(text) {}

    bool run(Json& out, std::string* error) {
        skip_ws();
        if (!value(out, 0)) return fail(error);
        skip_ws();
        if (pos_ != s_.size()) {
            err_ = "trailing characters";
            return fail(error);
        }
        return true;
    }

private:
    static constexpr int kMaxDepth = 32;
    const std::string& s_;
    size_t pos_ = 0;
    std::string err_;

    bool fail(std::string* error) {
        if (error) *error = err_.empty() ? "invalid json" : err_ + " at " + std::to_string(pos_);
        return false;
    }
    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) pos_++;
    }
    bool literal(const char* word) {
        size_t n = 0;
        while (word[n]) n++;
        if (s_.compare(pos_, n, word) != 0) return false;
        pos_ += n;
        return true;
    }
    bool value(Json& out, int depth) {
        if (depth > kMaxDepth) { err_ = "too deep"; return false; }
        if (pos_ >= s_.size()) { err_ = "unexpected end"; return false; }
        char c = s_[pos_];
        if (c == '{') return object(out, depth);
        if (c == '[') return array(out, depth);
        if (c == '"') { out.type_ = Json::Type::String; return string(out.string_); }
        if (c == 't') { out.type_ = Json::Type::Bool; out.bool_ = true; return literal("true") || (err_ = "bad literal", false); }
        if (c == 'f') { out.type_ = Json::Type::Bool; out.bool_ = false; return literal("false") || (err_ = "bad literal", false); }
        if (c == 'n') { out.type_ = Json::Type::Null; return literal("null") || (err_ = "bad literal", false); }
        if (c == '-' || (c >= '0' && c <= '9')) return number(out);
        err_ = "unexpected character";
        return false;
    }
    bool object(Json& out, int depth) {
        out.type_ = Json::Type::Object;
        pos_++;  // {
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == '}') { pos_++; return true; }
        while (true) {
            skip_ws();
            if (pos_ >= s_.size() || s_[pos_] != '"') { err_ = "expected key"; return false; }
            std::string key;
            if (!string(key)) return false;
            skip_ws();
            if (pos_ >= s_.size() || s_[pos_] != ':') { err_ = "expected ':'"; return false; }
            pos_++;
            skip_ws();
            Json item;
            if (!value(item, depth + 1)) return false;
            auto found = out.index_.find(key);
            if (found != out.index_.end()) {
                out.items_[found->second] = std::move(item);  // last duplicate wins
            } else {
                out.index_[key] = out.items_.size();
                out.keys_.push_back(key);
                out.items_.push_back(std::move(item));
            }
            skip_ws();
            if (pos_ < s_.size() && s_[pos_] == ',') { pos_++; continue; }
            if (pos_ < s_.size() && s_[pos_] == '}') { pos_++; return true; }
            err_ = "expected ',' or '}'";
            return false;
        }
    }
    bool array(Json& out, int depth) {
        out.type_ = Json::Type::Array;
        pos_++;  // [
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ']') { pos_++; return true; }
        while (true) {
            skip_ws();
            Json item;
            if (!value(item, depth + 1)) return false;
            out.items_.push_back(std::move(item));
            skip_ws();
            if (pos_ < s_.size() && s_[pos_] == ',') { pos_++; continue; }
            if (pos_ < s_.size() && s_[pos_] == ']') { pos_++; return true; }
            err_ = "expected ',' or ']'";
            return false;
        }
    }
    bool hex4(uint32_t& out) {
        if (pos_ + 4 > s_.size()) { err_ = "short \\u escape"; return false; }
        out = 0;
        for (int i = 0; i < 4; i++) {
            char c = s_[pos_++];
            out <<= 4;
            if (c >= '0' && c <= '9') out |= static_cast<uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') out |= static_cast<uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') out |= static_cast<uint32_t>(c - 'A' + 10);
            else { err_ = "bad \\u escape"; return false; }
        }
        return true;
    }
    bool string(std::string& out) {
        pos_++;  // opening quote
        while (pos_ < s_.size()) {
            unsigned char c = static_cast<unsigned char>(s_[pos_++]);
            if (c == '"') return true;
            if (c < 0x20) { err_ = "control character in string"; return false; }
            if (c != '\\') { out += static_cast<char>(c); continue; }
            if (pos_ >= s_.size()) break;
            char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        uint32_t low;
                        if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') { err_ = "lone surrogate"; return false; }
                        pos_ += 2;
                        if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) { err_ = "bad surrogate pair"; return false; }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        err_ = "lone surrogate";
                        return false;
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: err_ = "bad escape"; return false;
            }
        }
        err_ = "unterminated string";
        return false;
    }
    bool number(Json& out) {
        size_t start = pos_;
        bool integral = true;
        if (s_[pos_] == '-') pos_++;
        if (pos_ >= s_.size() || !(s_[pos_] >= '0' && s_[pos_] <= '9')) { err_ = "bad number"; return false; }
        if (s_[pos_] == '0') pos_++;
        else while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
        if (pos_ < s_.size() && s_[pos_] == '.') {
            integral = false;
            pos_++;
            if (pos_ >= s_.size() || !(s_[pos_] >= '0' && s_[pos_] <= '9')) { err_ = "bad number"; return false; }
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            integral = false;
            pos_++;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) pos_++;
            if (pos_ >= s_.size() || !(s_[pos_] >= '0' && s_[pos_] <= '9')) { err_ = "bad number"; return false; }
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
        }
        std::string text = s_.substr(start, pos_ - start);
        out.type_ = Json::Type::Number;
        out.number_ = std::strtod(text.c_str(), nullptr);
        out.integral_ = false;
        if (integral && text.size() <= 18) {  // fits in int64 without overflow checks
            out.integral_ = true;
            out.integer_ = std::strtoll(text.c_str(), nullptr, 10);
        }
        return true;
    }
};

bool Json::parse(const std::string& text, Json& out, std::string* error) {
    out = Json();
    JsonParser parser(text);
    Json tmp;
    if (!parser.run(tmp, error)) return false;
    out = std::move(tmp);
    return true;
}

const Json& Json::operator[](const std::string& key) const {
    if (type_ != Type::Object) return null_json();
    auto found = index_.find(key);
    return found == index_.end() ? null_json() : items_[found->second];
}

const Json& Json::at(size_t index) const {
    if (type_ != Type::Array || index >= items_.size()) return null_json();
    return items_[index];
}

size_t Json::size() const {
    return (type_ == Type::Array || type_ == Type::Object) ? items_.size() : 0;
}

bool Json::has(const std::string& key) const {
    return type_ == Type::Object && index_.count(key) > 0;
}

bool Json::as_int64(int64_t& out) const {
    if (type_ != Type::Number || !integral_) return false;
    out = integer_;
    return true;
}

void json_append_string(std::string& out, const std::string& value) {
    out += '"';
    for (unsigned char c : value) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);  // UTF-8 passes through unchanged
                }
        }
    }
    out += '"';
}

std::string json_quote(const std::string& value) {
    std::string out;
    json_append_string(out, value);
    return out;
}

}  // namespace kiosk
