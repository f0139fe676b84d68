// The stats index's flat day map: days kept in order wherever they are inserted, lookups and ranges
// as a std::map would give them, and snapshot bytes identical to those of the std::map it replaced.
#include "projections/day_map.hpp"
#include "projections/snapshot.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace gridloop::projections;

namespace {

template <class V> std::vector<std::int64_t> keys_of(const DayMap<V>& m) { return {m.keys().begin(), m.keys().end()}; }
template <class V> std::vector<V> values_of(DayMap<V>& m) { return {m.values().begin(), m.values().end()}; }
template <class V> std::vector<V> between(const DayMap<V>& m, std::int64_t first, std::int64_t end) {
    const auto s = m.between(first, end);
    return {s.begin(), s.end()};
}

template <class T> std::string bytes_of(T& x) {
    std::string b;
    snapshot::Out out(b);
    snapshot::field(out, x);
    return b;
}

template <class T> void read(const std::string& bytes, T& x) {
    std::size_t at = 0;
    snapshot::In in(
        [&](char* buf, std::size_t n) {
            n = std::min(n, bytes.size() - at);
            std::memcpy(buf, bytes.data() + at, n);
            at += n;
            return n;
        },
        bytes.size());
    snapshot::field(in, x);
    REQUIRE(in.remaining() == 0);
}

using Handles = std::vector<std::int64_t>;

} // namespace

TEST_SUITE("projections") {

TEST_CASE("day map: days inserted at the end, in the middle and at the front are kept in order") {
    DayMap<std::string> m;
    CHECK(m.empty());
    m[10] = "ten";
    m[20] = "twenty";
    m[30] = "thirty";
    m[15] = "fifteen"; // the middle
    m[-5] = "minus five"; // the front, before the epoch
    CHECK(keys_of(m) == std::vector<std::int64_t>{-5, 10, 15, 20, 30});
    CHECK(values_of(m) == std::vector<std::string>{"minus five", "ten", "fifteen", "twenty", "thirty"});
    CHECK(m.size() == 5);

    SUBCASE("a day already there is found, not added again") {
        m[20] += "!";
        m[30] += "!"; // the last day: the fast path
        m[-5] += "!";
        CHECK(m.size() == 5);
        CHECK(values_of(m) == std::vector<std::string>{"minus five!", "ten", "fifteen", "twenty!", "thirty!"});
    }
    SUBCASE("a missing day is value-initialised") {
        CHECK(m[25].empty());
        CHECK(keys_of(m) == std::vector<std::int64_t>{-5, 10, 15, 20, 25, 30});
    }
    SUBCASE("clear") {
        m.clear();
        CHECK(m.empty());
        CHECK(m.find(10) == nullptr);
        m[7] = "seven";
        CHECK(keys_of(m) == std::vector<std::int64_t>{7});
    }
}

TEST_CASE("day map: find and erase") {
    DayMap<std::string> m;
    CHECK(m.find(1) == nullptr);
    CHECK_FALSE(m.erase(1));
    for (const std::int64_t d : {1, 3, 5, 7}) m[d] = std::to_string(d);

    REQUIRE(m.find(5) != nullptr);
    CHECK(*m.find(5) == "5");
    *m.find(7) = "seven";
    CHECK(m[7] == "seven");
    for (const std::int64_t d : {0, 2, 4, 6, 8}) CHECK(m.find(d) == nullptr);

    CHECK_FALSE(m.erase(4));
    CHECK(m.erase(3)); // the middle
    CHECK(m.find(3) == nullptr);
    CHECK(keys_of(m) == std::vector<std::int64_t>{1, 5, 7});
    CHECK(values_of(m) == std::vector<std::string>{"1", "5", "seven"});
    CHECK(m.erase(7)); // the last
    CHECK(m.erase(1)); // the first
    CHECK(keys_of(m) == std::vector<std::int64_t>{5});
    CHECK(*m.find(5) == "5");
    m[6] = "6"; // after the erased last day, at the end again
    m[2] = "2";
    CHECK(keys_of(m) == std::vector<std::int64_t>{2, 5, 6});
    CHECK(m.erase(2));
    CHECK(m.erase(5));
    CHECK(m.erase(6));
    CHECK(m.empty());
}

TEST_CASE("day map: the values of the days in a range") {
    constexpr auto min64 = std::numeric_limits<std::int64_t>::min();
    constexpr auto max64 = std::numeric_limits<std::int64_t>::max();
    DayMap<int> m;
    CHECK(between(m, min64, max64).empty());
    for (const int d : {10, 11, 13, 20}) m[d] = d;
    CHECK(between(m, min64, max64) == std::vector<int>{10, 11, 13, 20});
    CHECK(between(m, 10, 20) == std::vector<int>{10, 11, 13}); // the end is excluded
    CHECK(between(m, 11, 21) == std::vector<int>{11, 13, 20});
    CHECK(between(m, 12, 14) == std::vector<int>{13}); // bounds between days
    CHECK(between(m, 12, 13).empty());
    CHECK(between(m, min64, 10).empty()); // before every day
    CHECK(between(m, 21, max64).empty()); // after every day
    CHECK(between(m, 20, max64) == std::vector<int>{20});
    CHECK(between(m, 13, 13).empty());
    CHECK(between(m, 20, 10).empty()); // first past end
}

TEST_CASE("day map: agrees with std::map over random inserts, erases, finds and ranges") {
    std::mt19937_64 rng(7);
    DayMap<std::int64_t> m;
    std::map<std::int64_t, std::int64_t> ref;
    const auto day = [&] { return static_cast<std::int64_t>(rng() % 64) - 16; };
    for (int step = 0; step < 5000; ++step) {
        const std::int64_t d = day();
        switch (rng() % 4) {
        case 0:
        case 1: {
            const auto v = static_cast<std::int64_t>(rng() % 1000);
            m[d] += v;
            ref[d] += v;
            break;
        }
        case 2: CHECK(m.erase(d) == (ref.erase(d) == 1)); break;
        default: {
            const auto* found = m.find(d);
            const auto it = ref.find(d);
            REQUIRE((found != nullptr) == (it != ref.end()));
            if (found) CHECK(*found == it->second);
            const std::int64_t end = day();
            std::vector<std::int64_t> want;
            for (auto r = ref.lower_bound(d); r != ref.end() && r->first < end; ++r) want.push_back(r->second);
            CHECK(between(m, d, end) == want);
        }
        }
    }
    std::vector<std::int64_t> keys, values;
    for (const auto& [k, v] : ref) keys.push_back(k), values.push_back(v);
    CHECK(keys_of(m) == keys);
    CHECK(values_of(m) == values);
}

TEST_CASE("day map: a snapshot writes it as the std::map it replaced and reads it back") {
    std::map<std::int64_t, Handles> as_map{{-3, {1}}, {0, {}}, {19'000, {5, 8, 8}}, {20'000, {2}}};
    DayMap<Handles> m;
    for (auto& [d, v] : as_map) m[d] = v;
    const std::string bytes = bytes_of(m);
    CHECK(bytes == bytes_of(as_map));

    DayMap<Handles> back;
    back[7] = {1}; // replaced, not added to
    read(bytes, back);
    CHECK(keys_of(back) == std::vector<std::int64_t>{-3, 0, 19'000, 20'000});
    CHECK(values_of(back) == values_of(m));

    DayMap<Handles> empty, empty_back;
    std::map<std::int64_t, Handles> empty_map;
    empty_back[1] = {};
    CHECK(bytes_of(empty) == bytes_of(empty_map));
    read(bytes_of(empty), empty_back);
    CHECK(empty_back.empty());
}

TEST_CASE("day map: a snapshot with days out of order or repeated is refused") {
    const auto written = [](std::vector<std::int64_t> days) {
        std::string b;
        snapshot::Out out(b);
        out.varint(days.size());
        for (auto d : days) {
            Handles v{d};
            snapshot::fields(out, d, v);
        }
        return b;
    };
    DayMap<Handles> m;
    read(written({1, 2, 5}), m);
    CHECK(keys_of(m) == std::vector<std::int64_t>{1, 2, 5});
    for (const auto& days : {std::vector<std::int64_t>{2, 1}, std::vector<std::int64_t>{1, 5, 3}, std::vector<std::int64_t>{1, 1}}) {
        DayMap<Handles> bad;
        CHECK_THROWS_WITH_AS(read(written(days), bad), "snapshot: map keys out of order", snapshot::Error);
    }
}

}
