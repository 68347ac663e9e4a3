#include "kiosk/qr.h"

#if defined(KIOSK_QR_ESP_IDF)
#include <qrcode.h>
#elif __has_include(<qrcodegen/qrcodegen.h>)
#include <qrcodegen/qrcodegen.h>  // Debian's layout
#else
#include <qrcodegen.h>
#endif

namespace kiosk {

#if defined(KIOSK_QR_ESP_IDF)

namespace {
// esp_qrcode_generate hands the code to a plain function pointer with no
// user argument: the target is passed through this static. The loop is the
// only caller (single task), so no lock.
QrMatrix* g_qr_target = nullptr;

void copy_modules(esp_qrcode_handle_t code) {
    QrMatrix& out = *g_qr_target;
    out.size = esp_qrcode_get_size(code);
    out.modules.assign(static_cast<size_t>(out.size * out.size), 0);
    for (int y = 0; y < out.size; y++) {
        for (int x = 0; x < out.size; x++) out.modules[static_cast<size_t>(y * out.size + x)] = esp_qrcode_get_module(code, x, y);
    }
}
}  // namespace

bool encode_qr(const std::string& text, QrMatrix& out) {
    out = QrMatrix();
    esp_qrcode_config_t cfg = {};
    cfg.display_func = copy_modules;
    cfg.max_qrcode_version = kQrMaxVersion;
    cfg.qrcode_ecc_level = ESP_QRCODE_ECC_MED;  // same choice as the host path
    g_qr_target = &out;
    bool ok = esp_qrcode_generate(&cfg, text.c_str()) == ESP_OK && out.size > 0;
    g_qr_target = nullptr;
    if (!ok) out = QrMatrix();
    return ok;
}

#else

bool encode_qr(const std::string& text, QrMatrix& out) {
    out = QrMatrix();
    std::vector<uint8_t> code(qrcodegen_BUFFER_LEN_FOR_VERSION(kQrMaxVersion));
    std::vector<uint8_t> temp(code.size());
    // boostEcl=true: a higher ECC level for free when it fits the same version.
    if (!qrcodegen_encodeText(text.c_str(), temp.data(), code.data(), qrcodegen_Ecc_MEDIUM, qrcodegen_VERSION_MIN,
                              kQrMaxVersion, qrcodegen_Mask_AUTO, true)) {
        return false;
    }
    out.size = qrcodegen_getSize(code.data());
    out.modules.assign(static_cast<size_t>(out.size * out.size), 0);
    for (int y = 0; y < out.size; y++) {
        for (int x = 0; x < out.size; x++) out.modules[static_cast<size_t>(y * out.size + x)] = qrcodegen_getModule(code.data(), x, y);
    }
    return true;
}

#endif

}  // namespace kiosk
