// Coin pulse decoding, the ISR ring, the coin table, backoff bounds.
#include <map>
#include <set>

#include "kiosk/backoff.h"
#include "kiosk/coin_counter.h"
#include "kiosk/pulse_ring.h"
#include "fakes.h"
#include "testing.h"

using kiosk::CoinCounter;
using kiosk::CoinCounterConfig;
using kiosk::CoinEvent;

static CoinCounterConfig cfg() {
    CoinCounterConfig c;  // debounce 15 ms, gap 250 ms
    c.table = kiosk::default_coin_table();
    return c;
}

// n clean pulses, period_ms apart, starting at t_ms.
static uint64_t pulses(CoinCounter& cc, uint64_t t_ms, int n, uint64_t period_ms = 100) {
    for (int i = 0; i < n; i++) cc.on_pulse((t_ms + static_cast<uint64_t>(i) * period_ms) * 1000);
    return t_ms + static_cast<uint64_t>(n - 1) * period_ms;
}

TEST("coins: pulse counts map to the table values after the gap") {
    CoinCounter cc(cfg());
    std::map<int, uint32_t> expected = {{1, 25}, {2, 50}, {3, 100}, {4, 200}, {5, 500}};
    uint64_t t = 0;
    for (auto& kv : expected) {
        uint64_t last = pulses(cc, t, kv.first);
        cc.poll((last + 249) * 1000);  // gap not yet reached
        CoinEvent e;
        CHECK(!cc.next(e));
        CHECK(cc.coin_open());
        cc.poll((last + 250) * 1000);
        REQUIRE(cc.next(e));
        CHECK(e.accepted);
        CHECK_EQ(e.pulses, uint32_t(kv.first));
        CHECK_EQ(e.value, kv.second);
        t = last + 1000;
    }
}

TEST("coins: bounces inside the debounce window are not counted") {
    CoinCounter cc(cfg());
    // 3 real pulses 100 ms apart, each followed by contact bounce at +1, +3, +14 ms.
    for (int i = 0; i < 3; i++) {
        uint64_t base = static_cast<uint64_t>(i) * 100000;
        cc.on_pulse(base);
        cc.on_pulse(base + 1000);
        cc.on_pulse(base + 3000);
        cc.on_pulse(base + 14000);
    }
    cc.poll(200000 + 250000);
    CoinEvent e;
    REQUIRE(cc.next(e));
    CHECK_EQ(e.pulses, uint32_t(3));
    CHECK_EQ(e.value, uint32_t(100));
    CHECK_EQ(cc.bounces(), uint32_t(9));
    // An edge just past the debounce window does count.
    CoinCounter cc2(cfg());
    cc2.on_pulse(0);
    cc2.on_pulse(15000);
    cc2.poll(15000 + 250000);
    REQUIRE(cc2.next(e));
    CHECK_EQ(e.pulses, uint32_t(2));
}

TEST("coins: a late drain of two coins is split by the gap between their pulses") {
    CoinCounter cc(cfg());
    // Main loop was blocked (HTTPS) while two coins went in: all edges arrive at once.
    uint64_t last1 = pulses(cc, 0, 2);        // 50
    uint64_t first2 = last1 + 300;            // 300 ms later: a new coin
    uint64_t last2 = pulses(cc, first2, 5);   // 500
    cc.poll((last2 + 250) * 1000);
    CoinEvent a, b, none;
    REQUIRE(cc.next(a));
    REQUIRE(cc.next(b));
    CHECK(!cc.next(none));
    CHECK_EQ(a.value, uint32_t(50));
    CHECK_EQ(b.value, uint32_t(500));
    CHECK(a.last_us < b.first_us);
}

TEST("coins: unknown pulse counts are rejected, not rounded") {
    CoinCounter cc(cfg());
    uint64_t last = pulses(cc, 0, 7);
    cc.poll((last + 300) * 1000);
    CoinEvent e;
    REQUIRE(cc.next(e));
    CHECK(!e.accepted);
    CHECK_EQ(e.pulses, uint32_t(7));
    CHECK_EQ(e.value, uint32_t(0));
}

TEST("coins: poll with a clock behind the last pulse never closes; lost pulses reject the coin") {
    CoinCounter cc(cfg());
    cc.on_pulse(5000000);
    cc.poll(4000000);  // now sampled before a pulse that the ISR stamped later
    CoinEvent e;
    CHECK(!cc.next(e));
    CHECK(cc.coin_open());
    cc.on_pulse(5100000);
    cc.on_lost_pulses();  // ISR ring overflowed mid-coin
    cc.poll(5100000 + 250000);
    REQUIRE(cc.next(e));
    CHECK(!e.accepted);
    cc.on_lost_pulses();  // with no coin open: reported as a rejected event
    REQUIRE(cc.next(e));
    CHECK(!e.accepted);
    CHECK_EQ(e.pulses, uint32_t(0));
}

TEST("coins: table parsing and formatting") {
    std::vector<kiosk::CoinType> t;
    CHECK(kiosk::parse_coin_table("1:25,2:50,4:100,8:200,20:500", t));
    CHECK_EQ(t.size(), size_t(5));
    CHECK_EQ(kiosk::format_coin_table(t), std::string("1:25,2:50,4:100,8:200,20:500"));
    const char* bad[] = {"", "1:25,", "1:25,1:50", "0:25", "1:0", "a:25", "1-25", ":25", "1:", "1:25,,2:50", "1:-5"};
    for (const char* b : bad) {
        std::vector<kiosk::CoinType> out = t;
        CHECK(!kiosk::parse_coin_table(b, out));
        CHECK_EQ(out.size(), size_t(5));  // unchanged on error
    }
}

TEST("pulse ring: FIFO order, overflow counted, never overwrites") {
    kiosk::PulseRing<8> ring;
    for (uint64_t i = 0; i < 10; i++) ring.push(i * 10);
    CHECK_EQ(ring.size(), size_t(8));
    CHECK_EQ(ring.take_dropped(), uint32_t(2));
    CHECK_EQ(ring.take_dropped(), uint32_t(0));
    uint64_t t = 0;
    for (uint64_t i = 0; i < 8; i++) {
        REQUIRE(ring.pop(t));
        CHECK_EQ(t, i * 10);
    }
    CHECK(!ring.pop(t));
    // Wrap-around of the 32-bit indices keeps working.
    for (int round = 0; round < 1000; round++) {
        ring.push(static_cast<uint64_t>(round));
        REQUIRE(ring.pop(t));
        CHECK_EQ(t, static_cast<uint64_t>(round));
    }
}

TEST("backoff: ceiling doubles from base to cap; delays stay in [floor, ceiling] with real jitter") {
    kiosk::BackoffPolicy p;  // floor 500, base 2000, cap 300000
    CHECK_EQ(kiosk::backoff_ceiling(p, 1), uint64_t(2000));
    CHECK_EQ(kiosk::backoff_ceiling(p, 2), uint64_t(4000));
    CHECK_EQ(kiosk::backoff_ceiling(p, 5), uint64_t(32000));
    CHECK_EQ(kiosk::backoff_ceiling(p, 8), uint64_t(256000));
    CHECK_EQ(kiosk::backoff_ceiling(p, 9), uint64_t(300000));
    CHECK_EQ(kiosk::backoff_ceiling(p, 60000), uint64_t(300000));
    fakes::SeqRandom rng(42);
    for (uint32_t n = 1; n <= 12; n++) {
        uint64_t ceiling = kiosk::backoff_ceiling(p, n);
        uint64_t lo = UINT64_MAX, hi = 0;
        double sum = 0;
        std::set<uint64_t> distinct;
        const int draws = 2000;
        for (int i = 0; i < draws; i++) {
            uint64_t d = kiosk::backoff_delay(p, n, rng);
            CHECK(d >= p.floor_ms && d <= ceiling);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
            sum += static_cast<double>(d);
            distinct.insert(d);
        }
        // Full jitter: spread over the whole range, mean near the middle.
        double span = static_cast<double>(ceiling - p.floor_ms);
        CHECK(static_cast<double>(lo - p.floor_ms) < span * 0.02);
        CHECK(static_cast<double>(ceiling - hi) < span * 0.02);
        double mid = (static_cast<double>(p.floor_ms) + static_cast<double>(ceiling)) / 2;
        CHECK(sum / draws > mid - span * 0.05 && sum / draws < mid + span * 0.05);
        CHECK(distinct.size() > 500);
    }
    // Two devices with different random sources do not retry in lock step.
    fakes::SeqRandom a(1), b(2);
    int same = 0;
    for (int i = 0; i < 100; i++) same += kiosk::backoff_delay(p, 6, a) == kiosk::backoff_delay(p, 6, b);
    CHECK(same < 5);
}

TEST("random: uniform() covers [lo, hi] inclusive without leaving it") {
    fakes::SeqRandom rng(5);
    std::set<uint64_t> seen;
    for (int i = 0; i < 2000; i++) {
        uint64_t v = rng.uniform(3, 9);
        CHECK(v >= 3 && v <= 9);
        seen.insert(v);
    }
    CHECK_EQ(seen.size(), size_t(7));
    CHECK_EQ(rng.uniform(4, 4), uint64_t(4));
}
