#pragma once
// ESP-IDF 4.4 components/qrcode/include/qrcode.h (declarations only).
#include <stdbool.h>
#include <stdint.h>
typedef int esp_err_t;
#ifndef ESP_OK
#define ESP_OK 0
#endif
typedef const uint8_t* esp_qrcode_handle_t;
typedef struct {
    void (*display_func)(esp_qrcode_handle_t qrcode);
    int max_qrcode_version;
    int qrcode_ecc_level;
} esp_qrcode_config_t;
#define ESP_QRCODE_ECC_LOW 0
#define ESP_QRCODE_ECC_MED 1
#define ESP_QRCODE_ECC_QUART 2
#define ESP_QRCODE_ECC_HIGH 3
extern "C" {
esp_err_t esp_qrcode_generate(esp_qrcode_config_t* cfg, const char* text);
int esp_qrcode_get_size(esp_qrcode_handle_t qrcode);
bool esp_qrcode_get_module(esp_qrcode_handle_t qrcode, int x, int y);
}
