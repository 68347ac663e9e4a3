#include "kiosk/provisioning.h"

#include "kiosk/json.h"
#include "kiosk/payment_sync.h"

namespace kiosk {

bool valid_claim_code(const std::string& code) {
    if (code.empty() || code.size() > 128) return false;
    for (char c : code) {
        if (c <= ' ' || c > '~' || c == '"' || c == '\\') return false;
    }
    return true;
}

std::string register_body(const std::string& claim_code) {
    std::string body = "{\"claim_code\":";
    json_append_string(body, claim_code);
    body += "}";
    return body;
}

ClaimResult claim_device(HttpTransport& http, Storage& storage, DeviceConfig& config, const std::string& claim_code) {
    ClaimResult result;
    if (!valid_claim_code(claim_code)) {
        result.error = "invalid_claim_code";
        return result;
    }
    HttpResponse response =
        http.request("POST", "/iot/register", {{"Content-Type", "application/json"}}, register_body(claim_code));
    result.status = response.status;
    if (response.status == 0) {
        result.error = "network";
        return result;
    }
    if (response.status != 201 && response.status != 200) {
        std::string code = error_code_of(response.body);
        result.error = code.empty() ? "http_" + std::to_string(response.status) : code;
        return result;
    }
    Json doc;
    if (!Json::parse(response.body, doc) || !doc["device_id"].is_string() || !doc["secret_key"].is_string() ||
        doc["device_id"].str().empty() || doc["secret_key"].str().empty()) {
        result.error = "bad_response";
        return result;
    }
    const std::string& device_id = doc["device_id"].str();
    const std::string& secret = doc["secret_key"].str();
    const std::string establishment = doc["establishment_id"].is_string() ? doc["establishment_id"].str() : "";
    const std::string queue = doc["queue_id"].is_string() ? doc["queue_id"].str() : "";
    // One NVS item for the whole identity: a power cut leaves the old one or the new one.
    bool ok = storage.write(keys::kIdentity, identity_blob(device_id, secret, establishment, queue)) &&
              storage.commit();
    if (!ok) {
        result.error = "storage";
        return result;
    }
    config.device_id = device_id;
    config.secret_key = secret;
    config.establishment_id = establishment;
    config.queue_id = queue;
    result.ok = true;
    return result;
}

}  // namespace kiosk
