// Claim-code registration: a manager creates a one-use, 15-minute code with
// POST /api/devices/claims; the operator types it on the kiosk's serial
// console; the kiosk sends POST /iot/register {"claim_code"} (unsigned) and
// stores the returned device_id and secret_key in NVS, committed before it
// reports success. The secret is never printed.
#pragma once

#include <string>

#include "kiosk/config.h"
#include "kiosk/ports.h"

namespace kiosk {

struct ClaimResult {
    bool ok = false;
    int status = 0;
    std::string error;  // contract error code, "network", "bad_response" or "storage"
};

bool valid_claim_code(const std::string& code);
std::string register_body(const std::string& claim_code);
ClaimResult claim_device(HttpTransport& http, Storage& storage, DeviceConfig& config, const std::string& claim_code);

}  // namespace kiosk
