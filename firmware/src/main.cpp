// Kiosk coin-acceptor firmware: ESP32 board glue only.
//
// Everything that decides something (signing, coin decoding, the outbox and
// its retry policy, the inhibit policy, provisioning, the console) is in
// lib/kiosk_core, plain C++ tested on the host (firmware/test/run.sh). This
// file implements its ports with the Arduino/ESP-IDF APIs:
//   Storage       -> ESP-IDF NVS (nvs_set_blob + nvs_commit), namespace "kiosk"
//   Clock         -> esp_timer (monotonic) + SNTP (wall time)
//   RandomSource  -> esp_random() (hardware RNG; true random while Wi-Fi is on)
//   HttpTransport -> WiFiClientSecure with the CA pinned from NVS + HTTPClient
//   TicketDisplay -> kiosk::ScreenDisplay on a TFT_eSPI canvas (320x240 SPI TFT)
//                    with the receipt printer on UART2, teed with a Serial log
//   Acceptor      -> the INHIBIT GPIO
// and feeds coin pulses from an IRAM_ATTR interrupt through a lock-free ring.

#include <Arduino.h>
#include <HTTPClient.h>
#include <TFT_eSPI.h>
#include <WiFi.h>
#include <WiFiClientSecure.h>
#if __has_include(<esp_random.h>)
#include <esp_random.h>
#else
#include <esp_system.h>
#endif
#include <esp_sntp.h>
#include <esp_timer.h>
#include <nvs.h>
#include <nvs_flash.h>
#include <time.h>

#include "kiosk/app.h"
#include "kiosk/config.h"
#include "kiosk/pulse_ring.h"
#include "kiosk/screen_display.h"
#include "kiosk/screens.h"

#ifndef KIOSK_PULSE_PIN
#define KIOSK_PULSE_PIN 34
#endif
#ifndef KIOSK_INHIBIT_PIN
#define KIOSK_INHIBIT_PIN 25
#endif
#ifndef KIOSK_INHIBIT_ACTIVE_HIGH
#define KIOSK_INHIBIT_ACTIVE_HIGH 1
#endif
#ifndef KIOSK_STATUS_LED_PIN
#define KIOSK_STATUS_LED_PIN 2
#endif
#ifndef KIOSK_TFT_BL_PIN
#define KIOSK_TFT_BL_PIN 21
#endif
#ifndef KIOSK_PRINTER_TX_PIN
#define KIOSK_PRINTER_TX_PIN 17
#endif
#ifndef KIOSK_PRINTER_RX_PIN
#define KIOSK_PRINTER_RX_PIN 16
#endif
#ifndef KIOSK_PRINTER_BAUD
#define KIOSK_PRINTER_BAUD 9600
#endif

namespace {

// ---------------------------------------------------------------- pulses ---
// The ISR only timestamps the falling edge into the ring: no allocation, no
// flash access (PulseRing::push is always_inline, the ring lives in DRAM), so
// it keeps working while an NVS commit has the flash cache disabled.
kiosk::PulseRing<64> g_pulses;

void IRAM_ATTR on_coin_pulse() { g_pulses.push(static_cast<uint64_t>(esp_timer_get_time())); }

// ------------------------------------------------------------------- NVS ---
class NvsStorage : public kiosk::Storage {
public:
    bool open() {
        // The Arduino core already ran nvs_flash_init(); this is a no-op then.
        if (nvs_flash_init() != ESP_OK) return false;
        return nvs_open("kiosk", NVS_READWRITE, &handle_) == ESP_OK;
    }
    bool read(const std::string& key, std::string& out) override {
        size_t len = 0;
        if (nvs_get_blob(handle_, key.c_str(), nullptr, &len) != ESP_OK) return false;
        out.assign(len, '\0');
        return len == 0 || nvs_get_blob(handle_, key.c_str(), &out[0], &len) == ESP_OK;
    }
    bool write(const std::string& key, const std::string& value) override {
        return nvs_set_blob(handle_, key.c_str(), value.data(), value.size()) == ESP_OK;
    }
    bool erase(const std::string& key) override {
        esp_err_t err = nvs_erase_key(handle_, key.c_str());
        return err == ESP_OK || err == ESP_ERR_NVS_NOT_FOUND;
    }
    bool commit() override { return nvs_commit(handle_) == ESP_OK; }

private:
    nvs_handle_t handle_ = 0;
};

// ----------------------------------------------------------------- clock ---
volatile bool g_time_synced = false;
char g_ntp_server[65] = "pool.ntp.org";  // SNTP keeps the pointer: static storage

void on_time_synced(struct timeval*) { g_time_synced = true; }

void start_sntp() {
    g_time_synced = false;
    sntp_set_time_sync_notification_cb(on_time_synced);
    configTime(0, 0, g_ntp_server);  // UTC; restarts SNTP if already running
}

class EspClock : public kiosk::Clock {
public:
    uint64_t monotonic_ms() override { return static_cast<uint64_t>(esp_timer_get_time() / 1000); }
    bool wall_synced() override { return g_time_synced && time(nullptr) > 1700000000; }
    int64_t unix_now() override { return static_cast<int64_t>(time(nullptr)); }
    void request_resync() override {
        if (WiFi.status() == WL_CONNECTED) start_sntp();  // signing waits for the callback
    }
};

class EspRandom : public kiosk::RandomSource {
public:
    uint32_t next_u32() override { return esp_random(); }
};

// ----------------------------------------------------------------- HTTPS ---
class HttpsTransport : public kiosk::HttpTransport {
public:
    void configure(const std::string& server_url, const std::string& ca_pem) {
        kiosk::ServerUrl url;
        ok_ = kiosk::parse_server_url(server_url, url) && kiosk::looks_like_pem_certificate(ca_pem);
        host_ = url.host;
        port_ = url.port;
        ca_ = ca_pem;  // setCACert keeps a pointer: this member outlives every connection
    }

    kiosk::HttpResponse request(const std::string& method, const std::string& path,
                                const std::vector<kiosk::Header>& headers, const std::string& body) override {
        kiosk::HttpResponse out;  // status 0 = no answer
        // No CA, no request: never fall back to setInsecure().
        if (!ok_ || WiFi.status() != WL_CONNECTED) return out;
        WiFiClientSecure tls;
        tls.setCACert(ca_.c_str());
        tls.setHandshakeTimeout(10);
        HTTPClient http;
        http.setReuse(false);
        http.setConnectTimeout(5000);
        http.setTimeout(10000);
        http.setFollowRedirects(HTTPC_DISABLE_FOLLOW_REDIRECTS);
        if (!http.begin(tls, host_.c_str(), port_, path.c_str(), true)) return out;
        for (const kiosk::Header& h : headers) http.addHeader(h.name.c_str(), h.value.c_str());
        const char* wanted[] = {"Retry-After"};
        http.collectHeaders(wanted, 1);
        int code = http.sendRequest(method.c_str(), reinterpret_cast<uint8_t*>(const_cast<char*>(body.data())),
                                    body.size());
        if (code <= 0) {
            out.timed_out = code == HTTPC_ERROR_READ_TIMEOUT;
            http.end();
            return out;
        }
        out.status = code;
        String payload = http.getString();
        out.body.assign(payload.c_str(), payload.length());
        String retry_after = http.header("Retry-After");
        if (retry_after.length() > 0) out.retry_after_s = retry_after.toInt();
        http.end();
        return out;
    }

private:
    bool ok_ = false;
    std::string host_;
    uint16_t port_ = 443;
    std::string ca_;
};

// --------------------------------------------------------------- display ---
// The core draws everything (text in its own font, QR modules) as filled
// rectangles; TFT_eSPI (pins and driver set in platformio.ini) pushes them.
class TftCanvas : public kiosk::Canvas {
public:
    explicit TftCanvas(TFT_eSPI& tft) : tft_(tft) {}
    int width() const override { return kiosk::kScreenW; }
    int height() const override { return kiosk::kScreenH; }
    void fill_rect(int x, int y, int w, int h, uint16_t color) override { tft_.fillRect(x, y, w, h, color); }

private:
    TFT_eSPI& tft_;
};

// ESC/POS printer on UART2. write() blocks until the bytes are in the UART
// FIFO: ~10 KB per receipt, about 10 s at 9600 baud (README); coin pulses are
// still timestamped by the ISR meanwhile.
class UartPrinter : public kiosk::PrinterPort {
public:
    explicit UartPrinter(HardwareSerial& port) : port_(port) {}
    void write(const uint8_t* data, size_t size) override { port_.write(data, size); }
    void discard_input() override {
        while (port_.available() > 0) port_.read();
    }
    int read_byte(uint32_t timeout_ms) override {
        unsigned long start = millis();
        while (millis() - start < timeout_ms) {
            if (port_.available() > 0) return port_.read();
            delay(1);
        }
        return -1;
    }

private:
    HardwareSerial& port_;
};

// Serial log of what the customer sees (and the operator alerts).
class SerialDisplay : public kiosk::TicketDisplay {
public:
    void show_ticket(const kiosk::TicketInfo& t) override {
        Serial.println();
        Serial.println("================ TICKET ================");
        Serial.printf("  %s   (%s)\n", t.code.c_str(), t.kind.c_str());
        if (t.position >= 0) Serial.printf("  position: %lld\n", static_cast<long long>(t.position));
        if (t.eta_min >= 0) {
            Serial.printf("  wait: %lld-%lld min\n", static_cast<long long>(t.eta_min), static_cast<long long>(t.eta_max));
        }
        Serial.printf("  follow: %s\n", t.tracking_url.c_str());
        Serial.printf("  paid: %lld %s  ref %s\n", static_cast<long long>(t.amount), t.currency.c_str(),
                      t.transaction_id.c_str());
        Serial.println("========================================");
    }
    void show_failure(const std::string& id, int64_t amount, const std::string& currency,
                      const std::string& reason) override {
        Serial.printf("PAYMENT REFUSED: %lld %s, ref %s, reason %s - please see staff\n",
                      static_cast<long long>(amount), currency.c_str(), id.c_str(), reason.c_str());
    }
    void show_credit(int64_t credit, int64_t price, const std::string& currency) override {
        Serial.printf("credit: %lld / %lld %s\n", static_cast<long long>(credit), static_cast<long long>(price),
                      currency.c_str());
    }
    void show_processing(int64_t amount, const std::string& currency) override {
        Serial.printf("payment of %lld %s saved, sending\n", static_cast<long long>(amount), currency.c_str());
    }
    void show_acceptor(uint32_t reasons) override {
        Serial.printf("[acceptor] %s\n", kiosk::describe_inhibit(reasons).c_str());
        digitalWrite(KIOSK_STATUS_LED_PIN, reasons == kiosk::kInhibitNone ? HIGH : LOW);
    }
    void show_alert(const std::string& message) override { Serial.printf("[alert] %s\n", message.c_str()); }
};

class PinAcceptor : public kiosk::Acceptor {
public:
    void set_inhibited(bool inhibited) override {
        digitalWrite(KIOSK_INHIBIT_PIN, inhibited == (KIOSK_INHIBIT_ACTIVE_HIGH != 0) ? HIGH : LOW);
    }
};

// ------------------------------------------------------------------ main ---
NvsStorage g_storage;
EspClock g_clock;
EspRandom g_random;
HttpsTransport g_https;
SerialDisplay g_serial_display;
TFT_eSPI g_tft;
TftCanvas g_canvas(g_tft);
UartPrinter g_printer(Serial2);
kiosk::ScreenDisplay g_screen(g_canvas, g_clock, &g_printer);
kiosk::DisplayTee g_display(g_serial_display, g_screen);
PinAcceptor g_acceptor;
kiosk::KioskApp* g_app = nullptr;
std::string g_line;
bool g_wifi_started = false;
bool g_sntp_started = false;

void apply_network_config() {
    const kiosk::DeviceConfig& c = g_app->config();
    g_https.configure(c.server_url, c.ca_pem);
    strlcpy(g_ntp_server, c.ntp_server.c_str(), sizeof g_ntp_server);
    g_sntp_started = false;  // (re)start SNTP once Wi-Fi is up
}

void configure_screen() {
    const kiosk::DeviceConfig& c = g_app->config();
    g_screen.configure(c.theme, c.price, c.currency);
}

void start_wifi() {
    const kiosk::DeviceConfig& c = g_app->config();
    WiFi.disconnect(true);
    g_wifi_started = false;
    if (c.wifi_ssid.empty()) return;
    WiFi.mode(WIFI_STA);
    WiFi.setAutoReconnect(true);
    WiFi.begin(c.wifi_ssid.c_str(), c.wifi_pass.c_str());
    g_wifi_started = true;
}

void poll_console() {
    while (Serial.available() > 0) {
        char ch = static_cast<char>(Serial.read());
        if (ch == '\r') continue;
        if (ch != '\n') {
            if (g_line.size() < 4096) g_line += ch;
            continue;
        }
        kiosk::ConsoleAction action;
        std::string reply = g_app->console(g_line, action);
        g_line.clear();
        if (!reply.empty()) Serial.println(reply.c_str());
        switch (action) {
            case kiosk::ConsoleAction::Reboot:
                delay(100);
                ESP.restart();
                break;
            case kiosk::ConsoleAction::WifiChanged:
                start_wifi();
                break;
            case kiosk::ConsoleAction::NetworkChanged:
                apply_network_config();
                break;
            case kiosk::ConsoleAction::ThemeChanged:
                configure_screen();
                break;
            case kiosk::ConsoleAction::None:
                break;
        }
    }
}

}  // namespace

void setup() {
    // Refuse coins before anything else can go wrong.
    pinMode(KIOSK_INHIBIT_PIN, OUTPUT);
    g_acceptor.set_inhibited(true);
    pinMode(KIOSK_STATUS_LED_PIN, OUTPUT);
    digitalWrite(KIOSK_STATUS_LED_PIN, LOW);

    Serial.begin(115200);
    // The printer answers DLE EOT 4 on its TX line: RX is needed for the paper sensor.
    Serial2.begin(KIOSK_PRINTER_BAUD, SERIAL_8N1, KIOSK_PRINTER_RX_PIN, KIOSK_PRINTER_TX_PIN);
    // Backlight off until the first screen is drawn (no flash of garbage).
    pinMode(KIOSK_TFT_BL_PIN, OUTPUT);
    digitalWrite(KIOSK_TFT_BL_PIN, LOW);
    g_tft.init();
    g_tft.setRotation(1);  // landscape, 320x240
    g_tft.fillScreen(0);
    delay(50);
    Serial.println("\nkiosk firmware: type 'help' for the console");

    if (!g_storage.open()) {
        Serial.println("fatal: NVS unavailable; coins stay refused");
        while (true) delay(1000);
    }
    static kiosk::KioskApp app(g_storage, g_https, g_clock, g_random, g_display, g_acceptor);
    g_app = &app;
    app.begin();
    configure_screen();
    digitalWrite(KIOSK_TFT_BL_PIN, HIGH);
    apply_network_config();
    start_wifi();

    // GPIO34-39 have no internal pull-up: the board needs an external one (README).
    pinMode(KIOSK_PULSE_PIN, INPUT);
    attachInterrupt(digitalPinToInterrupt(KIOSK_PULSE_PIN), on_coin_pulse, FALLING);

    Serial.println(app.status_text().c_str());
}

void loop() {
    poll_console();
    if (g_wifi_started && WiFi.status() == WL_CONNECTED && !g_sntp_started) {
        start_sntp();  // nothing is signed before the first sync
        g_sntp_started = true;
    }

    // Sample "now" before draining: an edge stamped after it is handled next turn.
    uint64_t now_us = static_cast<uint64_t>(esp_timer_get_time());
    uint64_t t;
    while (g_pulses.pop(t)) g_app->on_pulse(t);
    if (g_pulses.take_dropped() > 0) g_app->on_lost_pulses();

    g_app->service(now_us);  // at most one HTTPS request (blocking, bounded by the timeouts)
    g_screen.tick();
    static kiosk::PaperState paper = kiosk::PaperState::Ok;
    if (g_screen.last_paper() != paper) {  // tell the operator once per change (the customer sees it on screen)
        paper = g_screen.last_paper();
        Serial.printf("[printer] %s\n", kiosk::describe_paper(paper));
    }
    delay(5);
}
