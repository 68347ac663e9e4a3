#pragma once
// TFT_eSPI 2.5.x (Bodmer) declarations used by src/main.cpp.
#include <cstdint>
class TFT_eSPI {
public:
    TFT_eSPI(int16_t w = 240, int16_t h = 320);
    void init(uint8_t tc = 0);
    void setRotation(uint8_t r);
    void fillScreen(uint32_t color);
    void fillRect(int32_t x, int32_t y, int32_t w, int32_t h, uint32_t color);
};
