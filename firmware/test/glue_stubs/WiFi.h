#pragma once
#include "Arduino.h"
typedef enum { WL_IDLE_STATUS = 0, WL_CONNECTED = 3, WL_DISCONNECTED = 6 } wl_status_t;
typedef enum { WIFI_OFF = 0, WIFI_STA = 1 } wifi_mode_t;
class WiFiClient : public Stream {};
class WiFiClass {
public:
    wl_status_t status();
    bool mode(wifi_mode_t);
    wl_status_t begin(const char* ssid, const char* passphrase = nullptr);
    bool disconnect(bool wifioff = false, bool eraseap = false);
    bool setAutoReconnect(bool autoReconnect);
};
extern WiFiClass WiFi;
