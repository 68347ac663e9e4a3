// Host test runner: firmware/test/run.sh builds and runs this.
//   kiosk_host_tests <shared/test-vectors/device-signing.json> <cross-check vectors from cross_vectors.py> [png dir]
#include <chrono>
#include <cstdio>
#include <string>

#include "testing.h"

std::string g_vectors_path;
std::string g_cross_path;
std::string g_out_dir = ".";  // where the screen tests write their PNGs

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s <device-signing.json> <cross-vectors.json>\n", argv[0]);
        return 2;
    }
    g_vectors_path = argv[1];
    g_cross_path = argv[2];
    if (argc > 3) g_out_dir = argv[3];
    auto start = std::chrono::steady_clock::now();
    int failed_cases = 0;
    for (const auto& c : testing::registry()) {
        testing::current() = c.name;
        int before = testing::failures();
        c.fn();
        bool ok = testing::failures() == before;
        if (!ok) failed_cases++;
        std::printf("%s %s\n", ok ? "ok  " : "FAIL", c.name);
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("\n%zu tests, %d checks, %d failed tests, %d failed checks, %.1f ms\n", testing::registry().size(),
                testing::checks(), failed_cases, testing::failures(), ms);
    return testing::failures() == 0 ? 0 : 1;
}
