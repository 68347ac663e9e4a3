// When to refuse coins. A coin the kiosk cannot turn into a ticket soon must
// be refused at the acceptor (the acceptor returns it), never swallowed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiosk {

enum InhibitReason : uint32_t {
    kInhibitNone = 0,
    kInhibitNotProvisioned = 1u << 0,  // no device_id/secret, Wi-Fi or CA yet
    kInhibitNoTimeSync = 1u << 1,      // NTP not done: nothing can be signed
    kInhibitUnreachable = 1u << 2,     // N consecutive failures, or not reached since boot
    kInhibitOutboxFull = 1u << 3,      // ring has no spare slot left
    kInhibitDeviceDisabled = 1u << 4,  // server said 403 device_disabled
    kInhibitAuthFailure = 1u << 5,     // signature keeps being refused (alert raised)
    kInhibitStorageFault = 1u << 6,    // NVS write/commit failed
};

struct InhibitPolicy {
    uint32_t failure_threshold = 3;  // consecutive network/5xx failures before refusing coins
    size_t reserve_slots = 1;        // keep this many slots free for a coin already in the chute
};

struct InhibitInputs {
    bool provisioned = false;
    bool time_synced = false;
    bool link_verified = false;  // at least one server answer since boot
    uint32_t consecutive_failures = 0;
    size_t outbox_free = 0;
    bool device_disabled = false;
    bool auth_alert = false;
    bool storage_fault = false;
};

inline uint32_t inhibit_reasons(const InhibitPolicy& policy, const InhibitInputs& in) {
    uint32_t r = kInhibitNone;
    if (!in.provisioned) r |= kInhibitNotProvisioned;
    if (!in.time_synced) r |= kInhibitNoTimeSync;
    if (!in.link_verified || in.consecutive_failures >= policy.failure_threshold) r |= kInhibitUnreachable;
    if (in.outbox_free <= policy.reserve_slots) r |= kInhibitOutboxFull;
    if (in.device_disabled) r |= kInhibitDeviceDisabled;
    if (in.auth_alert) r |= kInhibitAuthFailure;
    if (in.storage_fault) r |= kInhibitStorageFault;
    return r;
}

inline std::string describe_inhibit(uint32_t reasons) {
    if (reasons == kInhibitNone) return "accepting coins";
    std::string out = "coins refused:";
    if (reasons & kInhibitNotProvisioned) out += " not-provisioned";
    if (reasons & kInhibitNoTimeSync) out += " no-time-sync";
    if (reasons & kInhibitUnreachable) out += " server-unreachable";
    if (reasons & kInhibitOutboxFull) out += " outbox-full";
    if (reasons & kInhibitDeviceDisabled) out += " device-disabled";
    if (reasons & kInhibitAuthFailure) out += " auth-failure";
    if (reasons & kInhibitStorageFault) out += " storage-fault";
    return out;
}

}  // namespace kiosk
