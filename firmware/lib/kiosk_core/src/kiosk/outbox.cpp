#include "kiosk/outbox.h"

#include <cstring>

namespace kiosk {

namespace {

constexpr uint8_t kMagic0 = 'K';
constexpr uint8_t kMagic1 = 'O';
constexpr uint8_t kVersion = 1;
constexpr size_t kHeader = 2 + 1 + 2 + 4;  // magic, version, count, credit
constexpr size_t kEntry = 36 + 4 + 3 + 1 + 2 + 2 + 2 + 2 + 8;

void put_u16(std::string& out, uint16_t v) {
    out += static_cast<char>(v & 0xFF);
    out += static_cast<char>(v >> 8);
}
void put_u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; i++) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put_u64(std::string& out, uint64_t v) {
    for (int i = 0; i < 8; i++) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put_fixed(std::string& out, const std::string& text, size_t width) {
    for (size_t i = 0; i < width; i++) out += i < text.size() ? text[i] : '\0';
}

struct Reader {
    const uint8_t* p;
    size_t left;
    bool ok = true;
    const uint8_t* take(size_t n) {
        if (n > left) {
            ok = false;
            return nullptr;
        }
        const uint8_t* at = p;
        p += n;
        left -= n;
        return at;
    }
    uint16_t u16() {
        const uint8_t* b = take(2);
        return b ? static_cast<uint16_t>(b[0] | (b[1] << 8u)) : uint16_t(0);
    }
    uint32_t u32() {
        const uint8_t* b = take(4);
        if (!b) return 0;
        uint32_t v = 0;
        for (int i = 3; i >= 0; i--) v = (v << 8) | b[i];
        return v;
    }
    uint64_t u64() {
        const uint8_t* b = take(8);
        if (!b) return 0;
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
        return v;
    }
    std::string fixed(size_t width) {
        const uint8_t* b = take(width);
        if (!b) return std::string();
        size_t n = 0;
        while (n < width && b[n] != 0) n++;
        return std::string(reinterpret_cast<const char*>(b), n);
    }
};

}  // namespace

uint32_t crc32(const uint8_t* data, size_t len) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

std::string Outbox::encode(const std::vector<PendingPayment>& items, uint32_t credit) {
    std::string out;
    out.reserve(kHeader + items.size() * kEntry + 4);
    out += static_cast<char>(kMagic0);
    out += static_cast<char>(kMagic1);
    out += static_cast<char>(kVersion);
    put_u16(out, static_cast<uint16_t>(items.size()));
    put_u32(out, credit);
    for (const PendingPayment& p : items) {
        put_fixed(out, p.transaction_id, 36);
        put_u32(out, p.amount);
        put_fixed(out, p.currency, 3);
        out += static_cast<char>(p.state);
        put_u16(out, p.attempts);
        put_u16(out, p.failures);
        put_u16(out, p.auth_failures);
        put_u16(out, p.polls);
        put_u64(out, static_cast<uint64_t>(p.created_at));
    }
    put_u32(out, crc32(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
    return out;
}

bool Outbox::decode(const std::string& blob, std::vector<PendingPayment>& items, uint32_t& credit) {
    if (blob.size() < kHeader + 4) return false;
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(blob.data());
    size_t body = blob.size() - 4;
    Reader tail{bytes + body, 4};
    if (tail.u32() != crc32(bytes, body)) return false;
    Reader r{bytes, body};
    const uint8_t* magic = r.take(3);
    if (!magic || magic[0] != kMagic0 || magic[1] != kMagic1 || magic[2] != kVersion) return false;
    uint16_t count = r.u16();
    uint32_t stored_credit = r.u32();
    if (!r.ok || r.left != static_cast<size_t>(count) * kEntry) return false;
    std::vector<PendingPayment> out;
    out.reserve(count);
    for (uint16_t i = 0; i < count; i++) {
        PendingPayment p;
        p.transaction_id = r.fixed(36);
        p.amount = r.u32();
        p.currency = r.fixed(3);
        const uint8_t* state = r.take(1);
        if (!state || *state > static_cast<uint8_t>(PaymentState::Accepted)) return false;
        p.state = static_cast<PaymentState>(*state);
        p.attempts = r.u16();
        p.failures = r.u16();
        p.auth_failures = r.u16();
        p.polls = r.u16();
        p.created_at = static_cast<int64_t>(r.u64());
        p.next_attempt_at = 0;  // monotonic time restarts at boot: due now
        out.push_back(p);
    }
    if (!r.ok) return false;
    items.swap(out);
    credit = stored_credit;
    return true;
}

OutboxLoad Outbox::load() {
    items_.clear();
    credit_ = 0;
    std::string blob;
    if (!storage_.read(kKey, blob)) return OutboxLoad::Empty;
    if (!decode(blob, items_, credit_)) {
        items_.clear();
        credit_ = 0;
        storage_.write(kQuarantineKey, blob);
        storage_.commit();
        return OutboxLoad::Corrupt;
    }
    return items_.empty() && credit_ == 0 ? OutboxLoad::Empty : OutboxLoad::Loaded;
}

int Outbox::find(const std::string& transaction_id) const {
    for (size_t i = 0; i < items_.size(); i++) {
        if (items_[i].transaction_id == transaction_id) return static_cast<int>(i);
    }
    return -1;
}

bool Outbox::persist(const std::vector<PendingPayment>& items, uint32_t credit) {
    if (!storage_.write(kKey, encode(items, credit))) return false;
    return storage_.commit();
}

bool Outbox::add_credit(uint32_t value) {
    uint32_t next = credit_ + value;
    if (next < credit_) return false;  // overflow
    if (!persist(items_, next)) return false;
    credit_ = next;
    return true;
}

bool Outbox::credit_to_payment(const std::string& transaction_id, const std::string& currency, int64_t now_unix) {
    if (credit_ == 0 || full()) return false;
    PendingPayment p;
    p.transaction_id = transaction_id;
    p.amount = credit_;
    p.currency = currency;
    p.created_at = now_unix;
    std::vector<PendingPayment> next = items_;
    next.push_back(p);
    if (!persist(next, 0)) return false;
    items_.swap(next);
    credit_ = 0;
    return true;
}

bool Outbox::enqueue(const PendingPayment& payment) {
    if (full() || payment.amount == 0 || find(payment.transaction_id) >= 0) return false;
    std::vector<PendingPayment> next = items_;
    next.push_back(payment);
    if (!persist(next, credit_)) return false;
    items_.swap(next);
    return true;
}

bool Outbox::update(const PendingPayment& payment) {
    int index = find(payment.transaction_id);
    if (index < 0) return false;
    std::vector<PendingPayment> next = items_;
    next[static_cast<size_t>(index)] = payment;
    if (!persist(next, credit_)) return false;
    items_.swap(next);
    return true;
}

void Outbox::replace_unpersisted(const PendingPayment& payment) {
    int index = find(payment.transaction_id);
    if (index >= 0) items_[static_cast<size_t>(index)] = payment;
}

void Outbox::drop_unpersisted(const std::string& transaction_id) {
    int index = find(transaction_id);
    if (index >= 0) items_.erase(items_.begin() + index);
}

bool Outbox::remove(const std::string& transaction_id) {
    int index = find(transaction_id);
    if (index < 0) return false;
    std::vector<PendingPayment> next = items_;
    next.erase(next.begin() + index);
    if (!persist(next, credit_)) return false;
    items_.swap(next);
    return true;
}

}  // namespace kiosk
