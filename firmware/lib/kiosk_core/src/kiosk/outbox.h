// The outbox: a bounded FIFO ("ring") of payments not yet settled with the
// server, persisted as ONE NVS blob (key "outbox") so every change is a single
// nvs_set_blob + nvs_commit, atomic per NVS item. The customer's running coin
// credit lives in the same blob, so "credit -> payment" is one commit too:
// after a power cut either the coins are still credit or they are a payment,
// never both and never neither.
//
// A payment is written and committed BEFORE its first send; it leaves the
// ring only when the server has CONFIRMED it or refused it for good.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiosk/ports.h"

namespace kiosk {

enum class PaymentState : uint8_t {
    Queued = 0,    // not yet acknowledged: POST /iot/payments
    Accepted = 1,  // server answered 202/200: poll GET /iot/payments/<id>
};

struct PendingPayment {
    std::string transaction_id;  // UUID v4, chosen once, same on every retry
    uint32_t amount = 0;         // minor units
    std::string currency;        // ISO 4217, 3 letters (may be empty: server default)
    PaymentState state = PaymentState::Queued;
    uint16_t attempts = 0;       // requests made for this payment (all kinds)
    uint16_t failures = 0;       // consecutive retryable failures (drives backoff)
    uint16_t auth_failures = 0;  // consecutive 401s (bounded, then alert)
    uint16_t polls = 0;          // status polls while PENDING
    int64_t created_at = 0;      // unix seconds when the coin(s) came in
    uint64_t next_attempt_at = 0;  // monotonic ms; not meaningful across reboots (reset to 0 on load)
};

enum class OutboxLoad { Empty, Loaded, Corrupt };

class Outbox {
public:
    static constexpr const char* kKey = "outbox";
    static constexpr const char* kQuarantineKey = "outbox_bad";

    Outbox(Storage& storage, size_t capacity) : storage_(storage), capacity_(capacity) {}

    // Reads the blob after boot. A blob that fails its CRC is copied to
    // "outbox_bad" for forensics (never silently overwritten) and the ring
    // starts empty.
    OutboxLoad load();

    size_t size() const { return items_.size(); }
    size_t capacity() const { return capacity_; }
    size_t free_slots() const { return items_.size() >= capacity_ ? 0 : capacity_ - items_.size(); }
    bool full() const { return free_slots() == 0; }
    bool empty() const { return items_.empty(); }

    // Oldest first.
    const PendingPayment& at(size_t index) const { return items_[index]; }
    const std::vector<PendingPayment>& items() const { return items_; }
    int find(const std::string& transaction_id) const;

    uint32_t credit() const { return credit_; }

    // Each mutator writes and commits the whole blob before returning true.
    // On a storage failure the in-memory state is rolled back and false is
    // returned (the caller inhibits the acceptor).
    bool add_credit(uint32_t value);
    // Turns the whole credit into a payment in one commit. Fails (changing
    // nothing) if the ring is full or the credit is zero.
    bool credit_to_payment(const std::string& transaction_id, const std::string& currency, int64_t now_unix);
    bool enqueue(const PendingPayment& payment);
    bool update(const PendingPayment& payment);
    bool remove(const std::string& transaction_id);

    // Updates in memory only (scheduling after a reboot, poll timing).
    void set_next_attempt(size_t index, uint64_t at_ms) { items_[index].next_attempt_at = at_ms; }
    // After a failed flash write: keep RAM consistent with what was decided so
    // the engine does not loop on a stale entry (flash still holds the old
    // state; the storage fault already refuses coins).
    void replace_unpersisted(const PendingPayment& payment);
    void drop_unpersisted(const std::string& transaction_id);

    // Serialisation, public for tests.
    static std::string encode(const std::vector<PendingPayment>& items, uint32_t credit);
    static bool decode(const std::string& blob, std::vector<PendingPayment>& items, uint32_t& credit);

private:
    bool persist(const std::vector<PendingPayment>& items, uint32_t credit);

    Storage& storage_;
    size_t capacity_;
    std::vector<PendingPayment> items_;
    uint32_t credit_ = 0;
};

uint32_t crc32(const uint8_t* data, size_t len);

}  // namespace kiosk
