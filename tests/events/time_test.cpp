// Time and duration parsing and formatting.
#include "events/time.hpp"

#include <doctest/doctest.h>

#include <cstdio>

using namespace gridloop::events;

TEST_SUITE("events") {
TEST_CASE("RFC 3339 in, UTC Z with milliseconds out") {
    auto t = parse_time("2026-11-21T09:14:00+08:00");
    REQUIRE(t);
    CHECK(format_time(*t) == "2026-11-21T01:14:00.000Z");
    CHECK(format_time(*parse_time("2026-11-21T01:14:00.123456Z")) == "2026-11-21T01:14:00.123Z");
    CHECK(format_time(*parse_time("2026-01-01T00:30:00-01:30")) == "2026-01-01T02:00:00.000Z");
    CHECK(format_time(*parse_time("2024-02-29T23:59:59.999Z")) == "2024-02-29T23:59:59.999Z");
    SUBCASE("refused") {
        for (const char* bad : {"2026-11-21T09:14:00", "2026-11-21 09:14:00Z", "2026-02-30T00:00:00Z", "2026-11-21T24:00:00Z",
                                "2026-11-21T09:14:00+8:00", "2026-11-21T09:14:00Zjunk", "", "2026-11-21T09:14:00.Z",
                                "2026-11-21T09:14:60Z", "20261121T091400Z"})
            CHECK_MESSAGE(!parse_time(bad), bad);
    }
}

TEST_CASE("ISO 8601 durations keep days apart from seconds") {
    CHECK(parse_duration("P1D") == Duration{1, 0});
    CHECK(parse_duration("PT4H") == Duration{0, 14400});
    CHECK(parse_duration("P2DT4H30M5S") == Duration{2, 16205});
    CHECK(parse_duration("P1W") == Duration{7, 0});
    CHECK(parse_duration("PT5S") == Duration{0, 5});
    CHECK(format_duration({2, 16205}) == "P2DT4H30M5S");
    CHECK(format_duration({0, 0}) == "P0D");
    CHECK(format_duration(*parse_duration("PT90M")) == "PT1H30M");
    for (const char* bad : {"P", "PT", "P1M", "P1Y", "PT1.5S", "P1DT", "1D", "PT5H4H", "PT4M5H", "P-1D", "P1D2W"})
        CHECK_MESSAGE(!parse_duration(bad), bad);
}

TEST_CASE("format_time writes every instant as the %04d-%02u-... pattern would, before 1970 and beyond year 9999 too") {
    using namespace std::chrono;
    auto reference = [](Instant t) {
        const auto day = floor<days>(t);
        const year_month_day ymd{day};
        const hh_mm_ss<milliseconds> tod{t - day};
        char buf[40];
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                      static_cast<long long>(tod.hours().count()), static_cast<long long>(tod.minutes().count()),
                      static_cast<long long>(tod.seconds().count()), static_cast<long long>(tod.subseconds().count()));
        return std::string(buf);
    };
    const Instant epoch{};
    for (const Instant t : {epoch, epoch - Millis(1), Instant{sys_days{year{0} / 1 / 1}}, Instant{sys_days{year{-1} / 12 / 31}} + Millis(86'399'999),
                            Instant{sys_days{year{9999} / 12 / 31}} + Millis(86'399'999), Instant{sys_days{year{10000} / 1 / 1}},
                            Instant{sys_days{year{2026} / 11 / 21}} + Millis(4'440'123)})
        CHECK(format_time(t) == reference(t));
    std::uint64_t x = 88172645463325252ULL; // xorshift: instants spread over years 0 to about 9000
    for (int i = 0; i < 10'000; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const Instant t = Instant{sys_days{year{0} / 1 / 1}} + Millis(static_cast<std::int64_t>(x % 284'000'000'000'000ULL));
        REQUIRE(format_time(t) == reference(t));
    }
}
}
