// The receipt as ESC/POS bytes for a 58 mm printer (384 dots, 32 columns in
// font A). The QR is sent as a raster image (GS v 0) computed here, so the
// printer needs no QR support of its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiosk/qr.h"

namespace kiosk {

constexpr int kPrinterDots = 384;  // printable width of a 58 mm head at 203 dpi
constexpr int kPrinterColumns = 32;  // font A (12x24)
constexpr int kQrDotsPerModule = 6;  // 0.75 mm modules: well above what phones need
constexpr int kQrQuietModules = 4;   // the quiet zone the QR standard asks for

struct ReceiptData {
    std::string establishment;
    std::string kind_line;  // "Ticket VIP"
    std::string code;
    std::string queue_line;   // "File : A"
    std::string when;         // local date and time
    std::string amount_line;  // "Montant : 500 F CFA"
    std::string reference_line;
    std::string tracking_url;
    std::string follow_line;  // "Suivez votre tour : scannez le code"
};

std::vector<uint8_t> build_receipt(const ReceiptData& receipt);

// GS v 0 with the QR's modules as module_dots squares inside a quiet zone;
// the width is padded to whole bytes. Empty when it does not fit the head.
std::vector<uint8_t> escpos_qr_raster(const QrMatrix& qr, int module_dots, int quiet_modules);

// "12/03/2026 14:05" (dmy) or "2026-03-12 14:05" (ymd), at a fixed UTC offset.
std::string format_local_time(int64_t unix_s, int utc_offset_min, const char* order);

}  // namespace kiosk
