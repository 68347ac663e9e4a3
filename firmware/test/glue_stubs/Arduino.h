#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#define IRAM_ATTR __attribute__((section(".iram1")))
#define HIGH 0x1
#define LOW 0x0
#define INPUT 0x01
#define OUTPUT 0x03
#define FALLING 0x02
#define SERIAL_8N1 0x800001c
#define digitalPinToInterrupt(p) (((p) < 40) ? (p) : -1)
class String {
public:
    String(const char* s = "") : s_(s) {}
    const char* c_str() const { return s_.c_str(); }
    unsigned int length() const { return static_cast<unsigned int>(s_.size()); }
    long toInt() const { return std::atol(s_.c_str()); }
private:
    std::string s_;
};
class Stream {};
class HardwareSerial : public Stream {
public:
    void begin(unsigned long baud, uint32_t config = SERIAL_8N1, int8_t rxPin = -1, int8_t txPin = -1,
               bool invert = false, unsigned long timeout_ms = 20000UL, uint8_t rxfifo_full_thrhd = 112);
    size_t write(const uint8_t* buffer, size_t size);
    size_t println(const char* s = "");
    size_t printf(const char* format, ...) __attribute__((format(printf, 2, 3)));
    int available();
    int read();
};
extern HardwareSerial Serial;
extern HardwareSerial Serial2;
class EspClass {
public:
    void restart();
};
extern EspClass ESP;
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t val);
void delay(uint32_t ms);
unsigned long millis();
void attachInterrupt(uint8_t pin, void (*)(void), int mode);
extern "C" size_t strlcpy(char* dst, const char* src, size_t size);
