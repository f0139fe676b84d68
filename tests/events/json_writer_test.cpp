// The DOM-free writer against nlohmann: for random values, members written in shuffled order, the
// bytes must be those canonical_json prints.
#include "events/envelope.hpp"
#include "events/json_writer.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

using namespace gridloop::events;
using nlohmann::json;

namespace {

// Pieces that exercise every branch of string writing: plain ASCII, valid multi-byte UTF-8, bytes
// nlohmann escapes, and invalid sequences it replaces (a stray continuation, a cut-short sequence,
// an overlong form, a surrogate, a code point beyond U+10FFFF).
const char* const pieces[] = {"a", "Zz9", "é", "宝华镇", "😀", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f",
                              "\x80", "\xc3", "\xe5\xae", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", " "};

std::string random_string(std::mt19937_64& rng) {
    std::string s;
    const int n = static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) s += pieces[rng() % std::size(pieces)];
    return s;
}

double random_double(std::mt19937_64& rng) {
    static const double fixed[] = {0.0, -0.0, 1.0, 3.0, 0.1, 119.1, 32.125, 1e15, 1e16, 1e17, 1e21, 1e-5, 1e-7, 5e-324,
                                   std::numeric_limits<double>::max(), std::numeric_limits<double>::min(), -2.5, 123456789.125};
    switch (rng() % 3) {
    case 0: return fixed[rng() % std::size(fixed)];
    case 1: return std::ldexp(static_cast<double>(rng() % 1000000) - 500000, static_cast<int>(rng() % 120) - 60);
    default:
        for (;;) {
            const double d = std::bit_cast<double>(rng());
            if (std::isfinite(d)) return d;
        }
    }
}

json random_value(std::mt19937_64& rng, int depth) {
    switch (rng() % (depth > 0 ? 8 : 6)) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: {
        static const std::int64_t edges[] = {0, -1, 1, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()};
        return rng() % 2 ? edges[rng() % std::size(edges)] : static_cast<std::int64_t>(rng() >> (rng() % 64));
    }
    case 3: return random_double(rng);
    case 4:
    case 5: return random_string(rng);
    case 6: {
        json a = json::array();
        for (int i = static_cast<int>(rng() % 4); i > 0; --i) a.push_back(random_value(rng, depth - 1));
        return a;
    }
    default: {
        json o = json::object();
        for (int i = static_cast<int>(rng() % 6); i > 0; --i) o[random_string(rng)] = random_value(rng, depth - 1);
        return o;
    }
    }
}

// Writes `j` through the writer, each object's members in a shuffled order.
void write(JsonWriter& w, const json& j, std::mt19937_64& rng) {
    switch (j.type()) {
    case json::value_t::object: {
        std::vector<const json::object_t::value_type*> members;
        for (const auto& m : j.get_ref<const json::object_t&>()) members.push_back(&m);
        std::shuffle(members.begin(), members.end(), rng);
        w.begin_object();
        for (const auto* m : members) {
            w.key(m->first);
            write(w, m->second, rng);
        }
        w.end_object();
        break;
    }
    case json::value_t::array:
        w.begin_array();
        for (const auto& x : j) write(w, x, rng);
        w.end_array();
        break;
    case json::value_t::string: w.string(j.get_ref<const std::string&>()); break;
    case json::value_t::boolean: w.boolean(j.get<bool>()); break;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: w.integer(j.get<std::int64_t>()); break;
    case json::value_t::number_float: w.number(j.get<double>()); break;
    default: w.null(); break;
    }
}

} // namespace

TEST_SUITE("events") {

TEST_CASE("the JSON writer prints what canonical_json prints, whatever order members come in") {
    std::mt19937_64 rng(20261122);
    int differing = 0;
    for (int i = 0; i < 20000; ++i) {
        const json value = random_value(rng, 4);
        std::string text;
        JsonWriter w(text);
        write(w, value, rng);
        const std::string expected = canonical_json(value);
        if (text != expected && ++differing <= 5) CHECK_MESSAGE(text == expected, "expected " << expected);
    }
    CHECK(differing == 0);
}

TEST_CASE("strings are copied as they are only when nothing in them needs escaping or replacing") {
    auto str = [](std::string_view s) {
        std::string out;
        put_json_string(out, s);
        return out;
    };
    CHECK(str("宝华镇 m-01") == "\"宝华镇 m-01\"");
    CHECK(str("a\"b\\c\n\x01") == R"("a\"b\\c\n\u0001")");
    CHECK(str("\x7f") == "\"\x7f\"");
    CHECK(str("x\xff") == "\"x\xef\xbf\xbd\""); // U+FFFD
    CHECK(str("\xed\xa0\x80") == json(std::string("\xed\xa0\x80")).dump(-1, ' ', false, json::error_handler_t::replace));
}

TEST_CASE("the JSON writer refuses to write what is not one JSON value") {
    std::string out;
    SUBCASE("a value without a key in an object") {
        JsonWriter w(out);
        w.begin_object();
        CHECK_THROWS_AS(w.string("x"), std::logic_error);
    }
    SUBCASE("a key in an array") {
        JsonWriter w(out);
        w.begin_array();
        CHECK_THROWS_AS(w.key("k"), std::logic_error);
    }
    SUBCASE("a key written twice") {
        JsonWriter w(out);
        w.begin_object();
        w.key("b").integer(1);
        w.key("a").integer(2);
        w.key("b").integer(3);
        CHECK_THROWS_AS(w.end_object(), std::logic_error);
    }
    SUBCASE("ends that do not match") {
        JsonWriter w(out);
        w.begin_object();
        CHECK_THROWS_AS(w.end_array(), std::logic_error);
        JsonWriter v(out);
        v.begin_array();
        CHECK_THROWS_AS(v.end_object(), std::logic_error);
    }
}

} // TEST_SUITE

TEST_CASE("a string is plain unless some byte of it, anywhere, needs escaping or is not ASCII") {
    // Every byte value at every place of strings up to 20 bytes: the check goes eight bytes at a time,
    // then byte by byte.
    for (int b = 0; b < 256; ++b) {
        const auto c = static_cast<unsigned char>(b);
        const bool plain_byte = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
        for (std::size_t n = 1; n <= 20; ++n)
            for (std::size_t at = 0; at < n; ++at) {
                std::string s(n, 'a');
                s[at] = static_cast<char>(c);
                CHECK_MESSAGE(json_plain(s) == plain_byte, "byte ", b, " at ", at, " of ", n);
                std::string out;
                put_json_string(out, s);
                CHECK(out == json(s).dump(-1, ' ', false, json::error_handler_t::replace));
            }
    }
    CHECK(json_plain(""));
    CHECK(json_plain(std::string(64, '0')));
}

TEST_CASE("a double is written as nlohmann writes it") {
    std::mt19937_64 rng(7);
    std::vector<double> values{0.0, -0.0, 1.0, -1.0, 0.5, 1e-5, 1e-4, 123456789012345.0, 1e15, 1e16, 1e21, 1e-300, 5e-324,
                               std::numeric_limits<double>::max(), std::numeric_limits<double>::min(), 2.0 / 3.0, 0.1, 100.0,
                               std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity()};
    for (int i = 0; i < 20000; ++i) values.push_back(std::bit_cast<double>(rng()));
    for (int i = 0; i < 20000; ++i) values.push_back(static_cast<double>(rng() % 100000) / static_cast<double>(1 + rng() % 1000));
    for (const double v : values) {
        std::string out = "x";
        put_json_number(out, v);
        CHECK(out == "x" + json(v).dump());
    }
}
