// The working-time calendar behind time limits: which local days are worked, the work-hours span
// of each, and how much working time lies between two instants.
#pragma once

#include "events/time.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gridloop::projections {

// What a `CalendarSet` event says, already parsed. The defaults are the contract's default calendar.
struct CalendarSpec {
    std::string timezone = "Asia/Shanghai";
    std::vector<int> workdays{1, 2, 3, 4, 5};             // ISO weekday numbers 1=Mon..7=Sun
    int start_minute = 9 * 60;                            // work hours start, minutes after local midnight
    int end_minute = 17 * 60;                             // end, may be 1440 ("24:00")
    std::vector<std::chrono::local_days> holidays;        // local dates that are not worked
    std::vector<std::chrono::local_days> makeup_workdays; // 调休: local dates worked although not a workday
    friend bool operator==(const CalendarSpec&, const CalendarSpec&) = default;
};

// Immutable and cheap to copy (all copies share one validated state); safe to query from many
// threads. Queries walk day by day at most, skipping whole weeks when nothing irregular is in them.
class Calendar {
public:
    Calendar(); // the contract's default calendar
    // Throws std::invalid_argument naming the field at fault (unknown zone, minutes outside
    // 00:00..24:00, start not before end, weekday outside 1..7, no workdays at all).
    explicit Calendar(const CalendarSpec& spec);

    // The spec as validated: workdays, holidays and make-up days sorted and deduplicated.
    const CalendarSpec& spec() const;
    // Length of one working day's span in local time (end - start), e.g. 8h.
    std::chrono::seconds day_span() const;
    // (workday and not holiday) or make-up workday.
    bool is_working_day(std::chrono::local_days d) const;

    // The earliest instant t >= start with `working` working time in [start, t). A limit that runs
    // out exactly at the end of a span returns that end (17:00, not the next 09:00). `working` <= 0
    // returns start.
    events::Instant add(events::Instant start, std::chrono::seconds working) const;
    // Working time in [a, b), exact to the millisecond; 0 if b <= a.
    std::chrono::milliseconds between(events::Instant a, events::Instant b) const;
    // A time limit in working seconds: days * day_span() + seconds ("P1D" = one working day's span).
    std::chrono::seconds limit(const events::Duration& d) const;

    // The local date of an instant in the calendar's zone.
    std::chrono::local_days local_day(events::Instant t) const;
    // The instant of a local date's midnight in the calendar's zone (the earlier one if ambiguous).
    events::Instant midnight(std::chrono::local_days d) const;
    // midnight(d) for each d from first to last: the zone is asked again only near a change of offset.
    std::vector<events::Instant> midnights(std::chrono::local_days first, std::chrono::local_days last) const;

    friend bool operator==(const Calendar& a, const Calendar& b) { return a.spec() == b.spec(); }

    struct Impl;

private:
    std::shared_ptr<const Impl> impl_;
};

// Parses "HH:MM" (00:00..24:00) to minutes after midnight; nullopt on anything else.
std::optional<int> parse_clock(std::string_view text);
// Parses "YYYY-MM-DD" to a local date; nullopt on anything else (including 2026-02-30).
std::optional<std::chrono::local_days> parse_date(std::string_view text);
// Formats a local date as "YYYY-MM-DD".
std::string format_date(std::chrono::local_days d);

} // namespace gridloop::projections
