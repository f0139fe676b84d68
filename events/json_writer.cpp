// Canonical JSON text without a DOM.
#include "events/json_writer.hpp"

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace gridloop::events {

using nlohmann::json;

namespace {

// Where the first byte that is not plain printable ASCII is (a control character, '"', '\\', or a
// byte of a multibyte character), or s.size(). Eight bytes at a time: most strings have none.
std::size_t first_not_plain(std::string_view s) {
    constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const auto has_zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; }; // exact: nonzero iff a byte is 0
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t v;
        std::memcpy(&v, s.data() + i, 8);
        // A byte below 0x20 borrows from its high bit when 0x20 is taken away, as 0 does in has_zero.
        const std::uint64_t low = (v - 0x20 * ones) & ~v & highs;
        if ((v & highs) | low | has_zero(v ^ ('"' * ones)) | has_zero(v ^ ('\\' * ones))) break;
    }
    for (; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) return i;
    }
    return i;
}

} // namespace

bool json_plain(std::string_view s) { return first_not_plain(s) == s.size(); }

void put_json_number(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    char text[64]; // the size of nlohmann's own buffer
    out.append(text, nlohmann::detail::to_chars(text, text + sizeof text, v));
}

void put_json_string(std::string& out, std::string_view s) {
    // The usual text (ids, times, hashes, names, Chinese descriptions) has no byte to escape: copied as
    // it is, once known to be valid UTF-8 if it is not ASCII. Everything else is written by nlohmann.
    auto special = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\'; };
    const auto first = s.begin() + static_cast<std::ptrdiff_t>(first_not_plain(s));
    if (first == s.end() ||
        (std::none_of(first, s.end(), special) && simdjson::validate_utf8(&*first, static_cast<std::size_t>(s.end() - first)))) {
        out += '"';
        out += s;
        out += '"';
        return;
    }
    out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

JsonWriter& JsonWriter::key(std::string_view k) {
    if (frames_.empty() || !frames_.back().object || has_key_) throw std::logic_error("JsonWriter: a key outside an object");
    pending_key_ = k;
    has_key_ = true;
    return *this;
}

void JsonWriter::item() {
    if (frames_.empty()) return;
    Frame& f = frames_.back();
    if (f.items > 0) out_ += ',';
    if (!f.object) return;
    if (!has_key_) throw std::logic_error("JsonWriter: a value without a key in an object");
    has_key_ = false;
    members_.push_back({pending_key_, out_.size(), 0});
    put_json_string(out_, pending_key_);
    out_ += ':';
}

void JsonWriter::item_done() {
    if (frames_.empty()) return;
    Frame& f = frames_.back();
    ++f.items;
    if (f.object) members_.back().end = out_.size();
}

void JsonWriter::string(std::string_view s) {
    item();
    put_json_string(out_, s);
    item_done();
}

void JsonWriter::integer(std::int64_t v) {
    item();
    out_ += std::to_string(v);
    item_done();
}

void JsonWriter::number(double v) {
    item();
    put_json_number(out_, v); // nlohmann's shortest round-trip form, ".0" and exponents as it writes them
    item_done();
}

void JsonWriter::boolean(bool v) {
    item();
    out_ += v ? "true" : "false";
    item_done();
}

void JsonWriter::null() {
    item();
    out_ += "null";
    item_done();
}

void JsonWriter::begin_object() {
    item();
    out_ += '{';
    frames_.push_back({true, 0, members_.size()});
}

void JsonWriter::end_object() {
    if (frames_.empty() || !frames_.back().object || has_key_) throw std::logic_error("JsonWriter: end_object without an open object");
    const auto first = members_.begin() + static_cast<std::ptrdiff_t>(frames_.back().members);
    auto by_key = [](const Member& a, const Member& b) { return a.key < b.key; };
    auto out_of_order = [](const Member& a, const Member& b) { return !(a.key < b.key); };
    if (std::adjacent_find(first, members_.end(), out_of_order) != members_.end()) {
        std::vector<Member> sorted(first, members_.end());
        std::sort(sorted.begin(), sorted.end(), by_key);
        if (std::adjacent_find(sorted.begin(), sorted.end(), out_of_order) != sorted.end())
            throw std::logic_error("JsonWriter: a key written twice");
        scratch_.clear();
        for (const Member& m : sorted) {
            if (!scratch_.empty()) scratch_ += ',';
            scratch_.append(out_, m.begin, m.end - m.begin);
        }
        out_.replace(first->begin, scratch_.size(), scratch_); // the same members and commas, reordered
    }
    members_.erase(first, members_.end());
    frames_.pop_back();
    out_ += '}';
    item_done();
}

void JsonWriter::begin_array() {
    item();
    out_ += '[';
    frames_.push_back({false, 0, members_.size()});
}

void JsonWriter::end_array() {
    if (frames_.empty() || frames_.back().object) throw std::logic_error("JsonWriter: end_array without an open array");
    frames_.pop_back();
    out_ += ']';
    item_done();
}

} // namespace gridloop::events
