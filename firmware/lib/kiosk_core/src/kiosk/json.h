// Tiny JSON reader/writer: enough for the device's API responses and for the
// host test to read the shared test vectors. No exceptions, no allocation
// surprises: parse() returns false on any malformed input.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiosk {

class Json {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };

    Json() = default;

    static bool parse(const std::string& text, Json& out, std::string* error = nullptr);

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }
    bool is_object() const { return type_ == Type::Object; }
    bool is_array() const { return type_ == Type::Array; }
    bool is_string() const { return type_ == Type::String; }
    bool is_number() const { return type_ == Type::Number; }
    bool is_bool() const { return type_ == Type::Bool; }

    // Accessors return a shared null / empty value when the type does not match,
    // so chained look-ups never crash: j["ticket"]["code"].str().
    const Json& operator[](const std::string& key) const;
    const Json& at(size_t index) const;
    size_t size() const;
    bool has(const std::string& key) const;

    const std::string& str() const { return string_; }
    double num() const { return number_; }
    // Integer value if the number was written as an integer that fits.
    bool as_int64(int64_t& out) const;
    bool boolean() const { return bool_; }
    const std::vector<std::string>& keys() const { return keys_; }

private:
    friend class JsonParser;
    Type type_ = Type::Null;
    bool bool_ = false;
    double number_ = 0;
    bool integral_ = false;
    int64_t integer_ = 0;
    std::string string_;
    std::vector<Json> items_;
    std::vector<std::string> keys_;          // object keys, in document order
    std::map<std::string, size_t> index_;    // key -> position in items_
};

// Appends a JSON string literal (quoted, escaped) for UTF-8 text.
void json_append_string(std::string& out, const std::string& value);
std::string json_quote(const std::string& value);

}  // namespace kiosk
