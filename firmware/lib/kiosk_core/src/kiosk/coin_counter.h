// Pulse coin acceptor decoding. The acceptor emits N pulses per coin (N is
// programmed per coin type); we see one timestamp per falling edge.
//  - an edge closer than debounce_us to the previous counted edge is bounce;
//  - a coin is closed when no edge came for gap_us (checked between edges, so
//    a late drain of the ISR ring still splits coins correctly, and by poll());
//  - the pulse count maps to a value through the coin table; an unknown count
//    is rejected (no credit, an alert), never guessed.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace kiosk {

struct CoinType {
    uint32_t pulses;
    uint32_t value;  // minor units
};

struct CoinCounterConfig {
    uint32_t debounce_us = 15000;  // 15 ms: shorter than any real pulse period
    uint32_t gap_us = 250000;      // 250 ms without a pulse closes the coin
    std::vector<CoinType> table;
};

// Default table (XOF): program the acceptor with these pulse counts.
std::vector<CoinType> default_coin_table();
// "1:25,2:50,3:100,4:200,5:500" <-> table. parse returns false on any error
// (bad syntax, zero, duplicate pulse count).
bool parse_coin_table(const std::string& text, std::vector<CoinType>& out);
std::string format_coin_table(const std::vector<CoinType>& table);

struct CoinEvent {
    uint32_t pulses = 0;
    uint32_t value = 0;      // 0 when rejected
    bool accepted = false;   // false: unknown pulse count or lost pulses
    uint64_t first_us = 0;
    uint64_t last_us = 0;
};

class CoinCounter {
public:
    explicit CoinCounter(const CoinCounterConfig& config) : config_(config) {}

    void set_table(const std::vector<CoinType>& table) { config_.table = table; }
    const CoinCounterConfig& config() const { return config_; }

    void on_pulse(uint64_t t_us);
    // Pulses were lost (ISR ring overflow): the open coin cannot be trusted.
    void on_lost_pulses();
    // Closes the open coin if the gap has passed at now_us.
    void poll(uint64_t now_us);
    bool next(CoinEvent& out);

    bool coin_open() const { return open_; }
    uint32_t bounces() const { return bounces_; }

private:
    void close();

    CoinCounterConfig config_;
    bool open_ = false;
    bool corrupt_ = false;
    uint32_t pulses_ = 0;
    uint64_t first_ = 0;
    uint64_t last_ = 0;
    uint32_t bounces_ = 0;
    std::deque<CoinEvent> done_;
};

}  // namespace kiosk
