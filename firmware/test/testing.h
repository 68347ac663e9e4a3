// Minimal test harness: TEST(name) { CHECK(...); CHECK_EQ(a, b); }
#pragma once

#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace testing {

struct Case {
    const char* name;
    std::function<void()> fn;
};

inline std::vector<Case>& registry() {
    static std::vector<Case> cases;
    return cases;
}
inline int& failures() {
    static int n = 0;
    return n;
}
inline int& checks() {
    static int n = 0;
    return n;
}
inline const char*& current() {
    static const char* name = "";
    return name;
}

struct Register {
    Register(const char* name, std::function<void()> fn) { registry().push_back({name, fn}); }
};

template <typename T>
std::string show(const T& v) {
    std::ostringstream os;
    os << v;
    return os.str();
}
inline std::string show(const std::string& v) { return "\"" + v + "\""; }
inline std::string show(const char* v) { return "\"" + std::string(v) + "\""; }
inline std::string show(bool v) { return v ? "true" : "false"; }
template <typename T>
std::string show(const std::vector<T>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); i++) out += (i ? ", " : "") + show(v[i]);
    return out + "]";
}

inline void fail(const char* file, int line, const std::string& what) {
    failures()++;
    std::fprintf(stderr, "FAIL %s (%s:%d): %s\n", current(), file, line, what.c_str());
}

}  // namespace testing

#define TEST_CAT2(a, b) a##b
#define TEST_CAT(a, b) TEST_CAT2(a, b)
#define TEST_IMPL(name, id)                                       \
    static void TEST_CAT(test_fn_, id)();                         \
    static testing::Register TEST_CAT(test_reg_, id)(name, TEST_CAT(test_fn_, id)); \
    static void TEST_CAT(test_fn_, id)()
#define TEST(name) TEST_IMPL(name, __COUNTER__)

#define CHECK(cond)                                                          \
    do {                                                                     \
        testing::checks()++;                                                 \
        if (!(cond)) testing::fail(__FILE__, __LINE__, "CHECK(" #cond ")");  \
    } while (0)

#define CHECK_EQ(a, b)                                                                                    \
    do {                                                                                                  \
        testing::checks()++;                                                                              \
        const auto _va = (a);                                                                               \
        const auto _vb = (b);                                                                               \
        if (!(_va == _vb))                                                                                \
            testing::fail(__FILE__, __LINE__,                                                             \
                          std::string(#a " == " #b ": ") + testing::show(_va) + " vs " + testing::show(_vb)); \
    } while (0)

// Stops the current test when a precondition fails (avoids cascades / bad indexing).
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        testing::checks()++;                                                   \
        if (!(cond)) {                                                         \
            testing::fail(__FILE__, __LINE__, "REQUIRE(" #cond ")");           \
            return;                                                            \
        }                                                                      \
    } while (0)
