#include "kiosk/money.h"

#include <cstring>

namespace kiosk {

bool parse_lang(const std::string& text, Lang& out) {
    if (text == "fr") out = Lang::Fr;
    else if (text == "en") out = Lang::En;
    else return false;
    return true;
}

const char* lang_code(Lang lang) { return lang == Lang::En ? "en" : "fr"; }

int currency_exponent(const std::string& currency) {
    static const char* const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
                                       "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"};
    static const char* const three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
    for (const char* c : zero) {
        if (currency == c) return 0;
    }
    for (const char* c : three) {
        if (currency == c) return 3;
    }
    return 2;
}

namespace {

struct Symbol {
    std::string text;
    bool prefix_en;  // English puts it before the number ("€3.00")
};

Symbol symbol_of(const std::string& currency) {
    if (currency == "XOF" || currency == "XAF") return {"F CFA", false};
    if (currency == "EUR") return {"\xE2\x82\xAC", true};
    if (currency == "USD") return {"$", true};
    if (currency == "GBP") return {"\xC2\xA3", true};
    return {currency, false};
}

std::string group(uint64_t whole, const char* separator) {
    std::string digits = std::to_string(whole);
    std::string out;
    for (size_t i = 0; i < digits.size(); i++) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += separator;
        out += digits[i];
    }
    return out;
}

}  // namespace

std::string format_amount(int64_t minor, const std::string& currency, Lang lang) {
    int exp = currency_exponent(currency);
    uint64_t scale = 1;
    for (int i = 0; i < exp; i++) scale *= 10;
    uint64_t abs = minor < 0 ? static_cast<uint64_t>(-(minor + 1)) + 1 : static_cast<uint64_t>(minor);
    const char* thousands = lang == Lang::Fr ? "\xE2\x80\xAF" : ",";  // U+202F narrow no-break space
    std::string out = (minor < 0 ? "-" : "") + group(abs / scale, thousands);
    if (exp > 0) {
        std::string frac = std::to_string(abs % scale);
        out += lang == Lang::Fr ? "," : ".";
        out += std::string(static_cast<size_t>(exp) - frac.size(), '0') + frac;
    }
    return out;
}

std::string format_money(int64_t minor, const std::string& currency, Lang lang) {
    Symbol s = symbol_of(currency);
    std::string number = format_amount(minor, currency, lang);
    if (lang == Lang::En && s.prefix_en) return s.text + number;
    return number + (lang == Lang::Fr ? "\xC2\xA0" : " ") + s.text;  // U+00A0 before the symbol
}

std::string format_credit(int64_t credit, int64_t price, const std::string& currency, Lang lang) {
    if (lang == Lang::En && symbol_of(currency).prefix_en) {
        return format_money(credit, currency, lang) + " / " + format_money(price, currency, lang);
    }
    return format_amount(credit, currency, lang) + " / " + format_money(price, currency, lang);
}

}  // namespace kiosk
