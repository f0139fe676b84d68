// Canonical JSON text written straight from values, without building a DOM: the bytes canonical_json
// (events/envelope.hpp) prints for the same value. Every posted event's data is written this way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gridloop::events {

// A JSON string as nlohmann's dump writes it (no ASCII escaping; invalid UTF-8 replaced by U+FFFD).
// A double as nlohmann's dump writes it (the shortest text that reads back the same; "null" when
// not finite), without building a json value.
void put_json_number(std::string& out, double v);
// Whether `s` is printable ASCII with nothing to escape: written as a JSON string, it is `"` s `"`.
bool json_plain(std::string_view s);
void put_json_string(std::string& out, std::string_view s);

// Appends one JSON value to `out`, item by item. Members may be written in any order: each object's
// members come out sorted by key bytes when it ends, as nlohmann's std::map-backed object does.
// Keys are kept as views until their object ends, so they must outlive it (literals and the
// contract's enum names do). Misuse (a value without a key in an object, unbalanced ends) throws
// std::logic_error.
class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    JsonWriter& key(std::string_view k);
    void string(std::string_view s);
    void integer(std::int64_t v);
    void number(double v);
    void boolean(bool v);
    void null();
    void begin_object();
    void end_object();
    void begin_array();
    void end_array();

private:
    struct Member {
        std::string_view key;
        std::size_t begin, end; // the member's text in out_, from its key's opening quote
    };
    struct Frame {
        bool object;
        std::size_t items = 0;
        std::size_t members = 0; // where this object's members start in members_
    };
    void item(); // before any value: the comma, or the pending key in an object
    void item_done();

    std::string& out_;
    std::vector<Frame> frames_;
    std::vector<Member> members_; // of every open object, innermost last
    std::string_view pending_key_;
    bool has_key_ = false;
    std::string scratch_;
};

} // namespace gridloop::events
