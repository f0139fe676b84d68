// Working-time calendar: due dates, working time between instants, holidays, DST, validation.
#include "projections/calendar.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace {

using namespace std::chrono_literals;
using gridloop::events::Duration;
using gridloop::events::Instant;
using gridloop::projections::Calendar;
using gridloop::projections::CalendarSpec;
using gridloop::projections::parse_clock;
using gridloop::projections::parse_date;

Instant utc(int y, unsigned m, unsigned d, int h, int mi, int s = 0) {
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
    return Instant{std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
                   std::chrono::seconds{s}};
}
// Wall-clock time in Asia/Shanghai (+08:00, no DST since 1991).
Instant cst(int y, unsigned m, unsigned d, int h, int mi, int s = 0) {
    return utc(y, m, d, h, mi, s) - 8h;
}
std::chrono::local_days day(int y, unsigned m, unsigned d) {
    return std::chrono::local_days{
        std::chrono::year_month_day{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}}};
}
// Instants and durations as text and numbers, so that failures print something readable.
std::string iso(Instant t) {
    return date::format("%FT%TZ", t);
}
std::int64_t ms(std::chrono::milliseconds d) {
    return d.count();
}

CalendarSpec round_the_clock(std::string zone) {
    CalendarSpec spec;
    spec.timezone = std::move(zone);
    spec.workdays = {1, 2, 3, 4, 5, 6, 7};
    spec.start_minute = 0;
    spec.end_minute = 24 * 60;
    return spec;
}

// China's 2026 National Day: Oct 1-7 (Thu..Wed) off, worked on Sunday Sep 20 and Saturday Oct 10.
CalendarSpec national_day_2026() {
    CalendarSpec spec;
    for (unsigned d = 1; d <= 7; ++d) {
        spec.holidays.push_back(day(2026, 10, d));
    }
    spec.makeup_workdays = {day(2026, 9, 20), day(2026, 10, 10)};
    return spec;
}

// Working time in [a, b) computed the slow, obvious way: every local day's span converted by the
// date library on its own. The calendar must agree with it exactly.
std::int64_t reference_between(const Calendar& cal, Instant a, Instant b) {
    if (b <= a) {
        return 0;
    }
    const auto* zone = date::locate_zone(cal.spec().timezone);
    const auto local_day = [&](Instant t) {
        return date::floor<date::days>(zone->to_local(t)).time_since_epoch().count();
    };
    std::int64_t total = 0;
    for (auto n = local_day(a) - 1; n <= local_day(b) + 1; ++n) {
        const std::chrono::local_days d{std::chrono::days{n}};
        if (!cal.is_working_day(d)) {
            continue;
        }
        const date::local_days ld{date::days{n}};
        const Instant s = zone->to_sys(ld + std::chrono::minutes{cal.spec().start_minute}, date::choose::earliest);
        const Instant e = std::max(
            s, Instant{zone->to_sys(ld + std::chrono::minutes{cal.spec().end_minute}, date::choose::earliest)});
        total += std::max<std::int64_t>(0, (std::min(e, b) - std::max(s, a)).count());
    }
    return total;
}

// Deterministic pseudo-random numbers for the property tests.
struct Lcg {
    std::uint64_t state;
    std::uint64_t next(std::uint64_t bound) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (state >> 33) % bound;
    }
};

} // namespace

TEST_SUITE("projections") {

TEST_CASE("calendar: the default is the contract's Mon-Fri 09:00-17:00 Asia/Shanghai") {
    const Calendar cal;
    CHECK(cal.spec() == CalendarSpec{});
    CHECK(cal.spec().timezone == "Asia/Shanghai");
    CHECK(cal.day_span() == 8h);
    CHECK(cal.limit(Duration{1, 0}) == 8h);
    CHECK(cal.limit(Duration{3, 0}) == 24h);
    CHECK(cal.limit(Duration{2, 4 * 3600}) == 20h);
    CHECK(cal.limit(Duration{0, 1800}) == 30min);
    CHECK(cal.is_working_day(day(2026, 3, 2)));   // Monday
    CHECK(cal.is_working_day(day(2026, 3, 6)));   // Friday
    CHECK_FALSE(cal.is_working_day(day(2026, 3, 7))); // Saturday
    CHECK_FALSE(cal.is_working_day(day(2026, 3, 8))); // Sunday

    const Calendar copy = cal;
    CHECK(copy == cal);
    CHECK(copy.add(cst(2026, 3, 2, 10, 0), 8h) == cal.add(cst(2026, 3, 2, 10, 0), 8h));
}

TEST_CASE("calendar: due dates on the default calendar") {
    const Calendar cal;
    const auto p1d = cal.limit(Duration{1, 0});

    SUBCASE("P1D from Monday 10:00 is Tuesday 10:00") {
        CHECK(iso(cal.add(cst(2026, 3, 2, 10, 0), p1d)) == iso(cst(2026, 3, 3, 10, 0)));
    }
    SUBCASE("P1D from Friday 15:00 is Monday 15:00") {
        CHECK(iso(cal.add(cst(2026, 3, 6, 15, 0), p1d)) == iso(cst(2026, 3, 9, 15, 0)));
    }
    SUBCASE("8h from Saturday is Monday 17:00") {
        CHECK(iso(cal.add(cst(2026, 3, 7, 11, 30), 8h)) == iso(cst(2026, 3, 9, 17, 0)));
        CHECK(iso(cal.add(cst(2026, 3, 8, 23, 59), 8h)) == iso(cst(2026, 3, 9, 17, 0)));
    }
    SUBCASE("from 17:00 exactly the clock starts next morning") {
        CHECK(iso(cal.add(cst(2026, 3, 2, 17, 0), p1d)) == iso(cst(2026, 3, 3, 17, 0)));
        CHECK(iso(cal.add(cst(2026, 3, 2, 17, 0), 1s)) == iso(cst(2026, 3, 3, 9, 0, 1)));
        CHECK(iso(cal.add(cst(2026, 3, 6, 17, 0), 1h)) == iso(cst(2026, 3, 9, 10, 0)));
    }
    SUBCASE("from 08:00 the clock starts at 09:00") {
        CHECK(iso(cal.add(cst(2026, 3, 2, 8, 0), p1d)) == iso(cst(2026, 3, 2, 17, 0)));
        CHECK(iso(cal.add(cst(2026, 3, 2, 0, 0), 30min)) == iso(cst(2026, 3, 2, 9, 30)));
    }
    SUBCASE("a limit that runs out exactly at 17:00 is due at 17:00, not next 09:00") {
        CHECK(iso(cal.add(cst(2026, 3, 2, 13, 0), 4h)) == iso(cst(2026, 3, 2, 17, 0)));
        CHECK(iso(cal.add(cst(2026, 3, 2, 13, 0), 4h + 1s)) == iso(cst(2026, 3, 3, 9, 0, 1)));
        CHECK(iso(cal.add(cst(2026, 3, 4, 9, 0), cal.limit(Duration{3, 0}))) == iso(cst(2026, 3, 6, 17, 0)));
    }
    SUBCASE("zero working time returns the start, even outside work hours") {
        CHECK(iso(cal.add(cst(2026, 3, 7, 3, 0), 0s)) == iso(cst(2026, 3, 7, 3, 0)));
        CHECK(iso(cal.add(cst(2026, 3, 2, 17, 0), 0s)) == iso(cst(2026, 3, 2, 17, 0)));
    }
    SUBCASE("milliseconds of the start are kept") {
        CHECK(iso(cal.add(cst(2026, 3, 2, 10, 0) + 250ms, 1h)) == iso(cst(2026, 3, 2, 11, 0) + 250ms));
    }
    SUBCASE("the default limits of the ladder") {
        const Instant reported = cst(2026, 3, 4, 14, 0); // Wednesday
        CHECK(iso(cal.add(reported, cal.limit(Duration{2, 0}))) == iso(cst(2026, 3, 6, 14, 0)));
        CHECK(iso(cal.add(reported, cal.limit(Duration{3, 0}))) == iso(cst(2026, 3, 9, 14, 0)));
        CHECK(iso(cal.add(reported, cal.limit(Duration{5, 0}))) == iso(cst(2026, 3, 11, 14, 0)));
    }
    SUBCASE("long limits cross many weeks") {
        // 52 weeks of 5 working days from a Monday morning end on a Friday evening.
        CHECK(iso(cal.add(cst(2026, 1, 5, 9, 0), 52 * 5 * 8h)) == iso(cst(2027, 1, 1, 17, 0)));
        CHECK(iso(cal.add(cst(2026, 1, 5, 9, 0), 52 * 5 * 8h + 1s)) == iso(cst(2027, 1, 4, 9, 0, 1)));
    }
}

TEST_CASE("calendar: working time between instants on the default calendar") {
    const Calendar cal;
    CHECK(ms(cal.between(cst(2026, 3, 2, 10, 0), cst(2026, 3, 2, 12, 30))) == ms(150min));
    // Across a night.
    CHECK(ms(cal.between(cst(2026, 3, 2, 16, 0), cst(2026, 3, 3, 10, 0))) == ms(2h));
    // Across a weekend.
    CHECK(ms(cal.between(cst(2026, 3, 6, 16, 0), cst(2026, 3, 9, 10, 0))) == ms(2h));
    CHECK(ms(cal.between(cst(2026, 3, 6, 17, 0), cst(2026, 3, 9, 9, 0))) == 0);
    CHECK(ms(cal.between(cst(2026, 3, 7, 0, 0), cst(2026, 3, 9, 0, 0))) == 0);
    // Both ends outside work hours.
    CHECK(ms(cal.between(cst(2026, 3, 2, 6, 0), cst(2026, 3, 2, 20, 0))) == ms(8h));
    // Empty and reversed intervals.
    CHECK(ms(cal.between(cst(2026, 3, 2, 10, 0), cst(2026, 3, 2, 10, 0))) == 0);
    CHECK(ms(cal.between(cst(2026, 3, 3, 10, 0), cst(2026, 3, 2, 10, 0))) == 0);
    // Exact to the millisecond.
    CHECK(ms(cal.between(cst(2026, 3, 2, 9, 0) + 250ms, cst(2026, 3, 2, 9, 0, 1))) == 750);
    CHECK(ms(cal.between(cst(2026, 3, 2, 16, 59, 59) + 999ms, cst(2026, 3, 3, 9, 0) + 1ms)) == 2);
    // A whole year: 2026 has 261 weekdays.
    CHECK(ms(cal.between(cst(2026, 1, 1, 0, 0), cst(2027, 1, 1, 0, 0))) == ms(261 * 8h));
}

TEST_CASE("calendar: China's 2026 National Day week with make-up workdays") {
    const Calendar cal(national_day_2026());

    CHECK(cal.is_working_day(day(2026, 9, 20)));        // Sunday, made up
    CHECK_FALSE(cal.is_working_day(day(2026, 9, 19)));  // ordinary Saturday
    CHECK(cal.is_working_day(day(2026, 9, 30)));        // Wednesday before
    CHECK_FALSE(cal.is_working_day(day(2026, 10, 1)));  // Thursday, holiday
    CHECK_FALSE(cal.is_working_day(day(2026, 10, 5)));  // Monday, holiday
    CHECK_FALSE(cal.is_working_day(day(2026, 10, 7)));  // Wednesday, holiday
    CHECK(cal.is_working_day(day(2026, 10, 8)));        // Thursday after
    CHECK(cal.is_working_day(day(2026, 10, 10)));       // Saturday, made up
    CHECK_FALSE(cal.is_working_day(day(2026, 10, 11))); // ordinary Sunday

    // The clock runs on the make-up Sunday...
    CHECK(iso(cal.add(cst(2026, 9, 19, 12, 0), 8h)) == iso(cst(2026, 9, 20, 17, 0)));
    CHECK(iso(cal.add(cst(2026, 9, 18, 15, 0), 8h)) == iso(cst(2026, 9, 20, 15, 0)));
    // ...stops for the whole holiday week...
    CHECK(iso(cal.add(cst(2026, 9, 30, 15, 0), 8h)) == iso(cst(2026, 10, 8, 15, 0)));
    CHECK(iso(cal.add(cst(2026, 10, 3, 10, 0), 8h)) == iso(cst(2026, 10, 8, 17, 0)));
    // ...and runs on the make-up Saturday.
    CHECK(iso(cal.add(cst(2026, 10, 9, 15, 0), 8h)) == iso(cst(2026, 10, 10, 15, 0)));
    CHECK(iso(cal.add(cst(2026, 9, 30, 9, 0), cal.limit(Duration{3, 0}))) == iso(cst(2026, 10, 9, 17, 0)));
    CHECK(iso(cal.add(cst(2026, 9, 30, 9, 0), cal.limit(Duration{4, 0}))) == iso(cst(2026, 10, 10, 17, 0)));
    CHECK(iso(cal.add(cst(2026, 9, 30, 9, 0), cal.limit(Duration{5, 0}))) == iso(cst(2026, 10, 12, 17, 0)));

    // Two weeks around it hold six working days: Sep 28-30 and Oct 8-10.
    CHECK(ms(cal.between(cst(2026, 9, 28, 0, 0), cst(2026, 10, 12, 0, 0))) == ms(6 * 8h));
    CHECK(ms(cal.between(cst(2026, 9, 19, 0, 0), cst(2026, 9, 21, 0, 0))) == ms(8h));
    // The year: 261 weekdays, five of them holidays, two make-up days.
    CHECK(ms(cal.between(cst(2026, 1, 1, 0, 0), cst(2027, 1, 1, 0, 0))) == ms((261 - 5 + 2) * 8h));
    // The holidays do not leak into other years.
    CHECK(ms(cal.between(cst(2027, 1, 1, 0, 0), cst(2028, 1, 1, 0, 0))) ==
          ms(Calendar{}.between(cst(2027, 1, 1, 0, 0), cst(2028, 1, 1, 0, 0))));
}

TEST_CASE("calendar: a holiday week with two make-up Saturdays") {
    // Mon May 4 .. Fri May 8 2026 off, worked on Saturdays May 2 and May 9.
    CalendarSpec spec;
    spec.holidays = {day(2026, 5, 8), day(2026, 5, 4), day(2026, 5, 5), day(2026, 5, 6), day(2026, 5, 7),
                     day(2026, 5, 5)};
    spec.makeup_workdays = {day(2026, 5, 9), day(2026, 5, 2)};
    const Calendar cal(spec);

    SUBCASE("the spec comes back sorted and deduplicated") {
        CHECK(cal.spec().holidays ==
              std::vector{day(2026, 5, 4), day(2026, 5, 5), day(2026, 5, 6), day(2026, 5, 7), day(2026, 5, 8)});
        CHECK(cal.spec().makeup_workdays == std::vector{day(2026, 5, 2), day(2026, 5, 9)});
    }
    SUBCASE("due dates skip the holidays and use both Saturdays") {
        CHECK(iso(cal.add(cst(2026, 5, 1, 10, 0), 8h)) == iso(cst(2026, 5, 2, 10, 0)));
        CHECK(iso(cal.add(cst(2026, 5, 2, 10, 0), 8h)) == iso(cst(2026, 5, 9, 10, 0)));
        CHECK(iso(cal.add(cst(2026, 5, 2, 17, 0), 8h)) == iso(cst(2026, 5, 9, 17, 0)));
        CHECK(iso(cal.add(cst(2026, 5, 9, 10, 0), 8h)) == iso(cst(2026, 5, 11, 10, 0)));
        CHECK(iso(cal.add(cst(2026, 5, 1, 9, 0), cal.limit(Duration{3, 0}))) == iso(cst(2026, 5, 9, 17, 0)));
    }
    SUBCASE("working time over the fortnight is Friday and the two Saturdays") {
        CHECK(ms(cal.between(cst(2026, 5, 1, 9, 0), cst(2026, 5, 11, 9, 0))) == ms(24h));
        CHECK(ms(cal.between(cst(2026, 5, 3, 0, 0), cst(2026, 5, 9, 0, 0))) == 0);
    }
}

TEST_CASE("calendar: a make-up day wins over a holiday on the same date, weekend holidays change nothing") {
    CalendarSpec spec;
    spec.holidays = {day(2026, 3, 3), day(2026, 3, 7)}; // Tuesday, Saturday
    spec.makeup_workdays = {day(2026, 3, 3), day(2026, 3, 4)}; // Tuesday, Wednesday
    const Calendar cal(spec);
    CHECK(cal.is_working_day(day(2026, 3, 3)));
    CHECK(cal.is_working_day(day(2026, 3, 4)));
    CHECK_FALSE(cal.is_working_day(day(2026, 3, 7)));
    CHECK(ms(cal.between(cst(2026, 3, 2, 0, 0), cst(2026, 3, 9, 0, 0))) == ms(5 * 8h));
}

TEST_CASE("calendar: round the clock in UTC is plain time") {
    const auto clock = parse_clock("24:00");
    REQUIRE(clock.has_value());
    CalendarSpec spec = round_the_clock("UTC");
    spec.end_minute = *clock;
    const Calendar cal(spec);
    CHECK(cal.day_span() == 24h);
    CHECK(cal.limit(Duration{1, 0}) == 24h);

    Lcg rng{42};
    for (int i = 0; i < 500; ++i) {
        const Instant start = utc(2025, 1, 1, 0, 0) + std::chrono::milliseconds{rng.next(3ULL * 365 * 86400 * 1000)};
        const std::chrono::seconds working{1 + rng.next(400ULL * 86400)};
        CAPTURE(iso(start));
        CAPTURE(working.count());
        CHECK(iso(cal.add(start, working)) == iso(start + working));
        CHECK(ms(cal.between(start, start + working)) == ms(working));
    }
    CHECK(iso(cal.add(utc(2026, 3, 6, 23, 0), 2h)) == iso(utc(2026, 3, 7, 1, 0)));
}

TEST_CASE("calendar: DST in Europe/Berlin (2026-03-29 and 2026-10-25)") {
    SUBCASE("office hours: each day's span is converted on its own") {
        CalendarSpec spec;
        spec.timezone = "Europe/Berlin";
        const Calendar cal(spec);
        // Friday 16:00 CET = 15:00Z; 2h later is Monday 10:00 CEST = 08:00Z.
        CHECK(iso(cal.add(utc(2026, 3, 27, 15, 0), 2h)) == iso(utc(2026, 3, 30, 8, 0)));
        CHECK(ms(cal.between(utc(2026, 3, 27, 15, 0), utc(2026, 3, 30, 8, 0))) == ms(2h));
        // Monday 09:00 CEST is 07:00Z: the UTC span moved an hour, its length did not.
        CHECK(ms(cal.between(utc(2026, 3, 30, 0, 0), utc(2026, 3, 30, 7, 30))) == ms(30min));
        CHECK(ms(cal.between(utc(2026, 3, 30, 0, 0), utc(2026, 3, 31, 0, 0))) == ms(8h));
        // Back to CET in October: Monday Oct 26 09:00 CET = 08:00Z.
        CHECK(iso(cal.add(utc(2026, 10, 23, 14, 0), 2h)) == iso(utc(2026, 10, 26, 9, 0)));
    }
    SUBCASE("round the clock: the change days last 23h and 25h") {
        const Calendar cal(round_the_clock("Europe/Berlin"));
        // Local midnights: Mar 29 00:00 CET = Mar 28 23:00Z, Mar 30 00:00 CEST = Mar 29 22:00Z.
        CHECK(ms(cal.between(utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0))) == ms(23h));
        // Oct 25 00:00 CEST = Oct 24 22:00Z, Oct 26 00:00 CET = Oct 25 23:00Z.
        CHECK(ms(cal.between(utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0))) == ms(25h));
        // All time is working time, so adding is plain addition across the change.
        CHECK(iso(cal.add(utc(2026, 3, 28, 23, 0), cal.limit(Duration{1, 0}))) == iso(utc(2026, 3, 29, 23, 0)));
        CHECK(iso(cal.add(utc(2026, 10, 24, 12, 0), 48h)) == iso(utc(2026, 10, 26, 12, 0)));
    }
    SUBCASE("a night shift 01:00-04:00 straddles the change") {
        CalendarSpec spec = round_the_clock("Europe/Berlin");
        spec.start_minute = 60;
        spec.end_minute = 4 * 60;
        const Calendar cal(spec);
        CHECK(cal.day_span() == 3h);
        // Mar 29: 01:00 CET = 00:00Z to 04:00 CEST = 02:00Z, two hours.
        CHECK(ms(cal.between(utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0))) == ms(2h));
        // Oct 25: 01:00 CEST = Oct 24 23:00Z to 04:00 CET = 03:00Z, four hours.
        CHECK(ms(cal.between(utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0))) == ms(4h));
        // 3h from Mar 29 00:00 local: 2h that night, 1h from Mar 30 01:00 CEST = Mar 29 23:00Z.
        CHECK(iso(cal.add(utc(2026, 3, 28, 23, 0), 3h)) == iso(utc(2026, 3, 30, 0, 0)));
        // 3h from Oct 25 00:00 local ends inside the long night at 02:00Z (03:00 CET).
        CHECK(iso(cal.add(utc(2026, 10, 24, 22, 0), 3h)) == iso(utc(2026, 10, 25, 2, 0)));
    }
    SUBCASE("a span inside the spring gap vanishes that day") {
        CalendarSpec spec = round_the_clock("Europe/Berlin");
        spec.start_minute = 2 * 60;
        spec.end_minute = 2 * 60 + 30;
        const Calendar cal(spec);
        CHECK(ms(cal.between(utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0))) == 0);
        // From Mar 28 03:00 CET, the next half hour is Mar 30 02:00-02:30 CEST = 00:00-00:30Z.
        CHECK(iso(cal.add(utc(2026, 3, 28, 2, 0), 30min)) == iso(utc(2026, 3, 30, 0, 30)));
    }
    SUBCASE("a span starting in the autumn repeat starts at its first occurrence") {
        CalendarSpec spec = round_the_clock("Europe/Berlin");
        spec.start_minute = 2 * 60;
        spec.end_minute = 3 * 60;
        const Calendar cal(spec);
        // Oct 25: 02:00 CEST = 00:00Z (the earlier of the two 02:00s) to 03:00 CET = 02:00Z.
        CHECK(ms(cal.between(utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0))) == ms(2h));
        CHECK(iso(cal.add(utc(2026, 10, 24, 22, 0), 1h)) == iso(utc(2026, 10, 25, 1, 0)));
    }
}

TEST_CASE("calendar: between(a, add(a, x)) == x and both agree with a day-by-day reference") {
    CalendarSpec berlin_office;
    berlin_office.timezone = "Europe/Berlin";
    berlin_office.holidays = {day(2026, 4, 3), day(2026, 4, 6), day(2026, 12, 24), day(2026, 12, 25)};
    berlin_office.makeup_workdays = {day(2026, 3, 28), day(2026, 10, 24)};
    CalendarSpec berlin_night = round_the_clock("Europe/Berlin");
    berlin_night.workdays = {1, 3, 5, 6};
    berlin_night.start_minute = 90;
    berlin_night.end_minute = 4 * 60 + 15;
    CalendarSpec new_york = national_day_2026();
    new_york.timezone = "America/New_York";
    new_york.start_minute = 22 * 60;
    new_york.end_minute = 24 * 60;

    const CalendarSpec specs[] = {CalendarSpec{}, national_day_2026(), berlin_office, berlin_night, new_york};
    for (const auto& spec : specs) {
        const Calendar cal(spec);
        CAPTURE(spec.timezone);
        Lcg rng{7};
        for (int i = 0; i < 300; ++i) {
            const Instant a = utc(2025, 12, 1, 0, 0) + std::chrono::milliseconds{rng.next(420ULL * 86400 * 1000)};
            // Mostly short limits, sometimes many weeks.
            const std::uint64_t bound = (i % 5 == 0) ? 200ULL * 8 * 3600 : 6ULL * 8 * 3600;
            const std::chrono::seconds x{rng.next(bound) + 1};
            const Instant due = cal.add(a, x);
            CAPTURE(iso(a));
            CAPTURE(x.count());
            CAPTURE(iso(due));
            CHECK(ms(cal.between(a, due)) == ms(x));
            // Earliest such instant: a millisecond less is not enough.
            CHECK(ms(cal.between(a, due - 1ms)) < ms(x));
            CHECK(reference_between(cal, a, due) == ms(x));
            // between() on arbitrary intervals, not only those ending at a due date.
            const Instant b = a + std::chrono::milliseconds{rng.next(100ULL * 86400 * 1000)};
            CHECK(ms(cal.between(a, b)) == reference_between(cal, a, b));
        }
    }
}

TEST_CASE("calendar: invalid specs are refused with messages naming the problem") {
    SUBCASE("unknown zone") {
        CalendarSpec spec;
        spec.timezone = "Mars/Olympus_Mons";
        CHECK_THROWS_WITH_AS(Calendar{spec}, doctest::Contains("timezone: \"Mars/Olympus_Mons\""),
                             std::invalid_argument);
    }
    SUBCASE("start not before end") {
        CalendarSpec spec;
        spec.start_minute = 17 * 60;
        spec.end_minute = 9 * 60;
        CHECK_THROWS_WITH_AS(Calendar{spec}, "work_hours: start 17:00 is not before end 09:00",
                             std::invalid_argument);
        spec.end_minute = 17 * 60;
        CHECK_THROWS_WITH_AS(Calendar{spec}, "work_hours: start 17:00 is not before end 17:00",
                             std::invalid_argument);
    }
    SUBCASE("minutes outside the day") {
        CalendarSpec spec;
        spec.end_minute = 24 * 60 + 1;
        CHECK_THROWS_WITH_AS(Calendar{spec}, doctest::Contains("work_hours: 1441"), std::invalid_argument);
        spec.end_minute = 17 * 60;
        spec.start_minute = -1;
        CHECK_THROWS_WITH_AS(Calendar{spec}, doctest::Contains("work_hours: -1"), std::invalid_argument);
    }
    SUBCASE("weekday out of 1..7") {
        CalendarSpec spec;
        spec.workdays = {1, 2, 8};
        CHECK_THROWS_WITH_AS(Calendar{spec}, doctest::Contains("workdays: 8 is not an ISO weekday"),
                             std::invalid_argument);
        spec.workdays = {0, 1};
        CHECK_THROWS_WITH_AS(Calendar{spec}, doctest::Contains("workdays: 0 is not an ISO weekday"),
                             std::invalid_argument);
    }
    SUBCASE("no workdays at all") {
        CalendarSpec spec;
        spec.workdays.clear();
        spec.makeup_workdays = {day(2026, 3, 7)};
        CHECK_THROWS_WITH_AS(Calendar{spec}, doctest::Contains("workdays:"), std::invalid_argument);
    }
    SUBCASE("duplicates are not an error") {
        CalendarSpec spec;
        spec.workdays = {5, 1, 1, 3};
        const Calendar cal(spec);
        CHECK(cal.spec().workdays == std::vector{1, 3, 5});
        CHECK(ms(cal.between(cst(2026, 3, 2, 0, 0), cst(2026, 3, 9, 0, 0))) == ms(3 * 8h));
    }
}

TEST_CASE("calendar: parse_clock") {
    CHECK(parse_clock("00:00") == 0);
    CHECK(parse_clock("09:00") == 540);
    CHECK(parse_clock("17:30") == 1050);
    CHECK(parse_clock("23:59") == 1439);
    CHECK(parse_clock("24:00") == 1440);
    for (const char* bad : {"24:01", "25:00", "99:99", "09:60", "9:00", "09:0", "0900", "09-00", "09:00 ", " 09:00",
                            "+9:00", "09:+0", "", "ab:cd", "09:00:00"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_clock(bad).has_value());
    }
}

TEST_CASE("calendar: parse_date") {
    CHECK(parse_date("2026-10-01") == day(2026, 10, 1));
    CHECK(parse_date("2024-02-29") == day(2024, 2, 29));
    CHECK(parse_date("2000-02-29") == day(2000, 2, 29));
    CHECK(parse_date("1970-01-01") == std::chrono::local_days{});
    for (const char* bad : {"2026-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-10-00",
                            "2026-1-01", "26-10-01", "2026/10/01", "20261001", "2026-10-01T00:00", "2026-10-1",
                            " 2026-10-01", "2026-10-01 ", "", "+026-10-01", "2026-1a-01"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_date(bad).has_value());
    }
}

} // TEST_SUITE

TEST_CASE("local days and midnights in the calendar's zone") {
    using namespace std::chrono;
    const gridloop::projections::Calendar shanghai;
    const auto late = *gridloop::events::parse_time("2026-10-31T23:30:00+08:00");
    CHECK(shanghai.local_day(late) == local_days{year{2026} / October / 31});
    CHECK(shanghai.local_day(late + hours(1)) == local_days{year{2026} / November / 1});
    CHECK(gridloop::events::format_time(shanghai.midnight(local_days{year{2026} / November / 1})) == "2026-10-31T16:00:00.000Z");
}

TEST_CASE("midnights of a run of days are each day's midnight, across every change of offset") {
    using namespace std::chrono;
    // Zones with summer time, a half-hour change, a day skipped (Apia, 30 December 2011) and none.
    for (const char* zone : {"Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Apia",
                             "America/Santiago", "UTC"}) {
        CAPTURE(zone);
        const gridloop::projections::Calendar cal(round_the_clock(zone));
        const local_days first{year{2010} / January / 1}, last{year{2013} / December / 31};
        const auto all = cal.midnights(first, last);
        REQUIRE(all.size() == static_cast<std::size_t>((last - first).count() + 1));
        std::size_t wrong = 0;
        for (auto d = first; d <= last; d += days(1)) wrong += all[static_cast<std::size_t>((d - first).count())] != cal.midnight(d);
        CHECK(wrong == 0);
        CHECK(cal.midnights(last, first).empty());
    }
}
