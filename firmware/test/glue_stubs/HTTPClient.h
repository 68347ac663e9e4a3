#pragma once
#include "WiFi.h"
#define HTTPC_ERROR_READ_TIMEOUT (-11)
typedef enum { HTTPC_DISABLE_FOLLOW_REDIRECTS, HTTPC_STRICT_FOLLOW_REDIRECTS, HTTPC_FORCE_FOLLOW_REDIRECTS } followRedirects_t;
class HTTPClient {
public:
    bool begin(WiFiClient& client, String host, uint16_t port, String uri = "/", bool https = false);
    void end(void);
    void setReuse(bool reuse);
    void setTimeout(uint16_t timeout);
    void setConnectTimeout(int32_t connectTimeout);
    void setFollowRedirects(followRedirects_t follow);
    int sendRequest(const char* type, uint8_t* payload = nullptr, size_t size = 0);
    void addHeader(const String& name, const String& value, bool first = false, bool replace = true);
    void collectHeaders(const char* headerKeys[], const size_t headerKeysCount);
    String header(const char* name);
    String getString(void);
};
