#include "kiosk/coin_counter.h"

#include <cstdlib>

namespace kiosk {

std::vector<CoinType> default_coin_table() {
    return {{1, 25}, {2, 50}, {3, 100}, {4, 200}, {5, 500}};
}

bool parse_coin_table(const std::string& text, std::vector<CoinType>& out) {
    std::vector<CoinType> table;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t comma = text.find(',', pos);
        std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        size_t colon = item.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 >= item.size()) return false;
        for (size_t i = 0; i < item.size(); i++) {
            if (i != colon && !(item[i] >= '0' && item[i] <= '9')) return false;
        }
        if (colon > 3 || item.size() - colon - 1 > 9) return false;
        uint32_t pulses = static_cast<uint32_t>(std::strtoul(item.substr(0, colon).c_str(), nullptr, 10));
        uint32_t value = static_cast<uint32_t>(std::strtoul(item.substr(colon + 1).c_str(), nullptr, 10));
        if (pulses == 0 || value == 0) return false;
        for (const CoinType& c : table) {
            if (c.pulses == pulses) return false;
        }
        table.push_back({pulses, value});
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    if (table.empty()) return false;
    out.swap(table);
    return true;
}

std::string format_coin_table(const std::vector<CoinType>& table) {
    std::string out;
    for (const CoinType& c : table) {
        if (!out.empty()) out += ",";
        out += std::to_string(c.pulses) + ":" + std::to_string(c.value);
    }
    return out;
}

void CoinCounter::on_pulse(uint64_t t_us) {
    if (open_) {
        if (t_us < last_ || t_us - last_ < config_.debounce_us) {
            bounces_++;
            return;
        }
        if (t_us - last_ >= config_.gap_us) close();  // this edge starts the next coin
    }
    if (!open_) {
        open_ = true;
        corrupt_ = false;
        pulses_ = 0;
        first_ = t_us;
    }
    pulses_++;
    last_ = t_us;
}

void CoinCounter::on_lost_pulses() {
    if (open_) {
        corrupt_ = true;
    } else {
        // The lost edges may have been a whole coin: report it, rejected.
        CoinEvent e;
        e.accepted = false;
        done_.push_back(e);
    }
}

void CoinCounter::poll(uint64_t now_us) {
    if (open_ && now_us > last_ && now_us - last_ >= config_.gap_us) close();
}

void CoinCounter::close() {
    CoinEvent e;
    e.pulses = pulses_;
    e.first_us = first_;
    e.last_us = last_;
    if (!corrupt_) {
        for (const CoinType& c : config_.table) {
            if (c.pulses == pulses_) {
                e.value = c.value;
                e.accepted = true;
                break;
            }
        }
    }
    done_.push_back(e);
    open_ = false;
    corrupt_ = false;
    pulses_ = 0;
}

bool CoinCounter::next(CoinEvent& out) {
    if (done_.empty()) return false;
    out = done_.front();
    done_.pop_front();
    return true;
}

}  // namespace kiosk
