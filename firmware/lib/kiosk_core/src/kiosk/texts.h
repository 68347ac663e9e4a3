// Every sentence the customer reads, screen and receipt, in French (default)
// and English; chosen by the theme's locale ("theme locale en").
#pragma once

#include "kiosk/money.h"

namespace kiosk {

struct Texts {
    const char* insert_coins;
    const char* vip_ticket;      // idle title
    const char* remaining;       // "Encore" + amount
    const char* processing;
    const char* your_ticket;
    const char* queue;
    const char* position;
    const char* wait;
    const char* minutes;         // unit after the ETA range
    const char* scan_to_follow;  // under the screen QR
    const char* paper_out;       // receipt impossible: keep the screen's QR
    const char* printer_missing;
    const char* refused_title;
    const char* refused_body;
    const char* amount;
    const char* reference;
    const char* disabled_title;
    const char* disabled_body;
    const char* offline_title;
    const char* offline_body;
    const char* unavailable_title;
    const char* unavailable_body;
    const char* receipt_follow;  // the receipt's last line
    const char* date_format;     // strftime-like order, see receipt.cpp
};

const Texts& texts(Lang lang);

}  // namespace kiosk

#include <string>

namespace kiosk {

// "Montant : 500 F CFA" (French puts a space before the colon), "Amount: €3.00".
inline std::string label_value(Lang lang, const char* label, const std::string& value) {
    return std::string(label) + (lang == Lang::Fr ? " : " : ": ") + value;
}

}  // namespace kiosk
