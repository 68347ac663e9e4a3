// Money for people: integer minor units (ISO 4217 exponent: XOF 0, EUR 2)
// formatted like the server's Babel output, French first.
#pragma once

#include <cstdint>
#include <string>

namespace kiosk {

enum class Lang { Fr, En };
bool parse_lang(const std::string& text, Lang& out);  // "fr" | "en"
const char* lang_code(Lang lang);

// Decimals of a currency's minor unit (ISO 4217); 2 for codes not listed.
int currency_exponent(const std::string& currency);

// fr: "1 500 F CFA", "3,00 €" (U+202F between thousands, U+00A0 before the
// symbol, as Babel does); en: "1,500 F CFA", "€3.00".
std::string format_money(int64_t minor, const std::string& currency, Lang lang);

// The number alone, same grouping and decimals: "1 500", "3,00".
std::string format_amount(int64_t minor, const std::string& currency, Lang lang);

// Credit against the price: "300 / 500 F CFA"; with a symbol in front
// (English euro) both sides carry it: "€3.00 / €5.00".
std::string format_credit(int64_t credit, int64_t price, const std::string& currency, Lang lang);

}  // namespace kiosk
