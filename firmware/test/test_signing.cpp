// Shared vectors (read at run time from the contract's JSON file, the source
// of truth), the JSON reader, nonces and UUIDs.
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "kiosk/json.h"
#include "kiosk/random.h"
#include "kiosk/signing.h"
#include "fakes.h"
#include "testing.h"

extern std::string g_vectors_path;
extern std::string g_cross_path;

static bool load_json_file(const std::string& path, kiosk::Json& doc) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string error;
    if (!kiosk::Json::parse(ss.str(), doc, &error)) {
        std::fprintf(stderr, "vectors: %s\n", error.c_str());
        return false;
    }
    return true;
}

static bool load_vectors(kiosk::Json& doc) { return load_json_file(g_vectors_path, doc); }

// Checks every vector of a file in the shared format; returns how many.
static size_t check_vectors(const kiosk::Json& doc) {
    CHECK_EQ(doc["scheme"].str(), std::string("v1"));
    const kiosk::Json& vectors = doc["vectors"];
    CHECK(vectors.is_array());
    for (size_t i = 0; i < vectors.size(); i++) {
        const kiosk::Json& v = vectors.at(i);
        int64_t ts = 0;
        CHECK(v["timestamp"].as_int64(ts));
        const std::string& body = v["body"].str();
        CHECK_EQ(kiosk::sha256_hex(body), v["body_sha256"].str());
        CHECK_EQ(kiosk::string_to_sign(v["method"].str(), v["path"].str(), v["device_id"].str(), ts, v["nonce"].str(),
                                       body),
                 v["string_to_sign"].str());
        CHECK_EQ(kiosk::sign(v["secret_key"].str(), v["method"].str(), v["path"].str(), v["device_id"].str(), ts,
                             v["nonce"].str(), body),
                 v["signature"].str());
        auto headers = kiosk::signed_headers(v["device_id"].str(), v["secret_key"].str(), v["method"].str(),
                                             v["path"].str(), body, ts, v["nonce"].str());
        if (headers.size() != 4) {
            CHECK(headers.size() == 4);
            continue;
        }
        CHECK_EQ(headers[0].name, std::string("X-Device-Id"));
        CHECK_EQ(headers[0].value, v["device_id"].str());
        CHECK_EQ(headers[1].name, std::string("X-Timestamp"));
        CHECK_EQ(headers[1].value, std::to_string(ts));
        CHECK_EQ(headers[2].name, std::string("X-Nonce"));
        CHECK_EQ(headers[2].value, v["nonce"].str());
        CHECK_EQ(headers[3].name, std::string("X-Signature"));
        CHECK_EQ(headers[3].value, v["signature"].str());
        // Lower-case method in, upper-case in the string to sign.
        std::string lower = v["method"].str();
        for (char& c : lower) c = static_cast<char>(c - 'A' + 'a');
        CHECK_EQ(kiosk::sign(v["secret_key"].str(), lower, v["path"].str(), v["device_id"].str(), ts,
                             v["nonce"].str(), body),
                 v["signature"].str());
    }
    return vectors.size();
}

TEST("vectors: every shared vector reproduces body hash, string to sign, signature") {
    kiosk::Json doc;
    REQUIRE(load_vectors(doc));
    CHECK(check_vectors(doc) >= 3);
}

TEST("vectors: 300 random cases signed by kiosk/devices/signing.py match (query strings, unicode, empty bodies)") {
    kiosk::Json doc;
    REQUIRE(load_json_file(g_cross_path, doc));
    CHECK_EQ(check_vectors(doc), size_t(300));
}

TEST("vectors: any change to a signed part changes the signature") {
    kiosk::Json doc;
    REQUIRE(load_vectors(doc));
    const kiosk::Json& v = doc["vectors"].at(0);
    int64_t ts = 0;
    REQUIRE(v["timestamp"].as_int64(ts));
    const std::string k = v["secret_key"].str(), m = v["method"].str(), p = v["path"].str(), d = v["device_id"].str(),
                      n = v["nonce"].str(), b = v["body"].str(), sig = v["signature"].str();
    CHECK(kiosk::sign(k + "0", m, p, d, ts, n, b) != sig);
    CHECK(kiosk::sign(k, "PUT", p, d, ts, n, b) != sig);
    CHECK(kiosk::sign(k, m, p + "?x=1", d, ts, n, b) != sig);
    CHECK(kiosk::sign(k, m, p, d + "x", ts, n, b) != sig);
    CHECK(kiosk::sign(k, m, p, d, ts + 1, n, b) != sig);
    CHECK(kiosk::sign(k, m, p, d, ts, n + "0", b) != sig);
    CHECK(kiosk::sign(k, m, p, d, ts, n, b + " ") != sig);
}

TEST("sha256 and hmac: known answers (FIPS 180-2, RFC 4231 case 2)") {
    CHECK_EQ(kiosk::sha256_hex("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    std::string out;
    CHECK(kiosk::hmac_sha256_hex("Jefe", "what do ya want for nothing?", out));
    CHECK_EQ(out, std::string("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

TEST("json: escapes, unicode, nesting, integers; malformed input refused") {
    kiosk::Json j;
    REQUIRE(kiosk::Json::parse(
        "{\"a\":\"q\\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00\",\"n\":-12,\"f\":1.5,\"t\":true,\"z\":null,\"o\":{\"x\":[1,2]}}",
        j));
    CHECK_EQ(j["a"].str(), std::string("q\"\\/\n\xc3\xa9\xf0\x9f\x98\x80"));
    int64_t n = 0;
    CHECK(j["n"].as_int64(n));
    CHECK_EQ(n, int64_t(-12));
    CHECK(!j["f"].as_int64(n));
    CHECK(j["f"].num() == 1.5);
    CHECK(j["t"].boolean());
    CHECK(j["z"].is_null());
    CHECK(j["missing"]["deeper"].is_null());
    CHECK_EQ(j["o"]["x"].size(), size_t(2));
    const char* bad[] = {"", "{", "{\"a\":}", "[1,]", "{\"a\":1}x", "\"\\ud800\"", "01", "{'a':1}", "\"a\nb\"", "nul"};
    for (const char* text : bad) {
        kiosk::Json out;
        CHECK(!kiosk::Json::parse(text, out));
    }
    std::string round;
    kiosk::json_append_string(round, std::string("caf\xc3\xa9 \"x\"\n\x01"));
    CHECK_EQ(round, std::string("\"caf\xc3\xa9 \\\"x\\\"\\n\\u0001\""));
    kiosk::Json back;
    REQUIRE(kiosk::Json::parse(round, back));
    CHECK_EQ(back.str(), std::string("caf\xc3\xa9 \"x\"\n\x01"));
}

TEST("nonce: 32 hex chars from the random source, valid per contract, fresh each call") {
    fakes::SeqRandom rng(7);
    std::set<std::string> seen;
    for (int i = 0; i < 1000; i++) {
        std::string n = kiosk::new_nonce(rng);
        CHECK_EQ(n.size(), size_t(32));
        CHECK(kiosk::nonce_is_valid(n));
        seen.insert(n);
    }
    CHECK_EQ(seen.size(), size_t(1000));
    CHECK(!kiosk::nonce_is_valid("short"));
    CHECK(!kiosk::nonce_is_valid("has space in it here"));
    CHECK(!kiosk::nonce_is_valid(std::string(65, 'a')));
    CHECK(kiosk::nonce_is_valid("a1b2c3d4e5f60718"));
}

TEST("uuid v4: format, version and variant bits, unique") {
    fakes::SeqRandom rng(99);
    std::set<std::string> seen;
    for (int i = 0; i < 500; i++) {
        std::string u = kiosk::uuid_v4(rng);
        CHECK(kiosk::is_uuid(u));
        CHECK_EQ(u[14], '4');
        CHECK(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
        seen.insert(u);
    }
    CHECK_EQ(seen.size(), size_t(500));
    CHECK(!kiosk::is_uuid("0b6f4b43-6f2e-4c7b-9a53-1f9d2c8e7a1"));
    CHECK(!kiosk::is_uuid("0B6F4B43-6F2E-4C7B-9A53-1F9D2C8E7A10"));
}
