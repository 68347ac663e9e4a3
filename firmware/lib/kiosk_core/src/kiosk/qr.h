// QR codes for the tracking URL, encoded by Nayuki's qrcodegen (C):
//   host:  Debian libqrcodegen-dev (<qrcodegen/qrcodegen.h>, -lqrcodegen)
//   board: ESP-IDF's "qrcode" component, which arduino-esp32 2.0.x ships
//          prebuilt (its qrcodegen.c is Nayuki's), through esp_qrcode_generate;
//          selected with -DKIOSK_QR_ESP_IDF in platformio.ini.
//
// Error correction M, smallest version that fits (at most kQrMaxVersion):
// a 71-character tracking URL (https://kiosk.example.com/t/ + 43-char token)
// is version 5, 37x37 modules. Why: see README "QR code". The library may
// raise the ECC level when it fits in the same version (never the version).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiosk {

constexpr int kQrMaxVersion = 10;  // 57x57: still >= 3 px/module on the screen

struct QrMatrix {
    int size = 0;                  // modules per side; 0 = no code
    std::vector<uint8_t> modules;  // row-major, 1 = dark
    bool dark(int x, int y) const { return modules[static_cast<size_t>(y * size + x)] != 0; }
    int version() const { return size >= 21 ? (size - 17) / 4 : 0; }
};

// False (and an empty matrix) when the text does not fit kQrMaxVersion.
bool encode_qr(const std::string& text, QrMatrix& out);

}  // namespace kiosk
