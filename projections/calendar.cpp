// Working-time arithmetic: each working day's span is its local [start, end) converted to UTC on
// its own, so days on either side of a DST change get their true lengths.
#include "projections/calendar.hpp"

#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace gridloop::projections {

namespace {

using std::int64_t;

constexpr int64_t seconds_per_day = 86400;
constexpr int64_t ms_per_second = 1000;

int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        --q;
    }
    return q;
}

// ISO weekday (1 = Monday) of a day counted from 1970-01-01, which was a Thursday.
int iso_weekday(int64_t day) {
    return static_cast<int>(day + 3 - floor_div(day + 3, 7) * 7) + 1;
}

int64_t day_number(std::chrono::local_days d) {
    return static_cast<int64_t>(d.time_since_epoch().count());
}

std::string clock_text(int minutes) {
    std::array<char, 6> buf{};
    buf[0] = static_cast<char>('0' + minutes / 600);
    buf[1] = static_cast<char>('0' + minutes / 60 % 10);
    buf[2] = ':';
    buf[3] = static_cast<char>('0' + minutes % 60 / 10);
    buf[4] = static_cast<char>('0' + minutes % 10);
    return std::string(buf.data(), 5);
}

// Converts local seconds to UTC seconds for one query. It remembers the offset period of the last
// conversion and reuses it while the result stays more than a day inside that period: no offset
// change can then make the local time ambiguous or skipped, so the plain subtraction is exact.
class Converter {
public:
    explicit Converter(const date::time_zone* zone) : zone_(zone) {}

    int64_t to_sys(int64_t local) {
        const int64_t sys = local - offset_;
        if (inside(sys, sys)) {
            return sys;
        }
        const auto found = zone_->to_sys(date::local_seconds{std::chrono::seconds{local}},
                                         date::choose::earliest);
        remember(zone_->get_info(found));
        return found.time_since_epoch().count();
    }

    // The local day an instant falls on.
    int64_t local_day(int64_t sys_ms) {
        const int64_t sys = floor_div(sys_ms, ms_per_second);
        if (!inside(sys, sys)) {
            remember(zone_->get_info(date::sys_seconds{std::chrono::seconds{sys}}));
        }
        return floor_div(sys + offset_, seconds_per_day);
    }

    // Whether local times [lo, hi] all convert with the current offset (see the class comment).
    bool fixed_offset(int64_t local_lo, int64_t local_hi) const {
        return inside(local_lo - offset_, local_hi - offset_);
    }
    int64_t offset() const { return offset_; }

private:
    bool inside(int64_t lo, int64_t hi) const {
        return valid_ && lo - seconds_per_day >= begin_ && hi + seconds_per_day < end_;
    }
    void remember(const date::sys_info& info) {
        begin_ = info.begin.time_since_epoch().count();
        end_ = info.end.time_since_epoch().count();
        offset_ = info.offset.count();
        valid_ = true;
    }

    const date::time_zone* zone_;
    int64_t begin_ = 0;
    int64_t end_ = 0;
    int64_t offset_ = 0;
    bool valid_ = false;
};

} // namespace

struct Calendar::Impl {
    CalendarSpec spec;
    const date::time_zone* zone = nullptr;
    unsigned weekday_mask = 0; // bit n set: ISO weekday n is a workday
    int64_t start_s = 0;       // span start, seconds after local midnight
    int64_t end_s = 0;
    int64_t week_ms = 0; // working time of a regular week without offset changes
    std::vector<int64_t> holidays;
    std::vector<int64_t> makeups;

    static bool contains(const std::vector<int64_t>& days, int64_t day) {
        return std::binary_search(days.begin(), days.end(), day);
    }
    static bool any_in(const std::vector<int64_t>& days, int64_t first, int64_t last) {
        const auto it = std::lower_bound(days.begin(), days.end(), first);
        return it != days.end() && *it <= last;
    }

    bool working(int64_t day) const {
        if (contains(makeups, day)) {
            return true;
        }
        return ((weekday_mask >> iso_weekday(day)) & 1U) != 0 && !contains(holidays, day);
    }

    // The span of `day` in UTC milliseconds; empty (end == start) if a DST gap swallows it.
    std::pair<int64_t, int64_t> span(Converter& conv, int64_t day) const {
        const int64_t s = conv.to_sys(day * seconds_per_day + start_s);
        const int64_t e = std::max(s, conv.to_sys(day * seconds_per_day + end_s));
        return {s * ms_per_second, e * ms_per_second};
    }

    // The seven days from `day` can be taken as one block when none is a holiday or make-up day
    // and the zone's offset does not change across their spans. Returns the first span's start
    // and the last span's end (UTC ms) in that case.
    std::optional<std::pair<int64_t, int64_t>> regular_week(const Converter& conv, int64_t day) const {
        const int64_t lo = day * seconds_per_day + start_s;
        const int64_t hi = (day + 6) * seconds_per_day + end_s;
        if (!conv.fixed_offset(lo, hi) || any_in(holidays, day, day + 6) || any_in(makeups, day, day + 6)) {
            return std::nullopt;
        }
        return std::pair{(lo - conv.offset()) * ms_per_second, (hi - conv.offset()) * ms_per_second};
    }
};

namespace {

std::shared_ptr<const Calendar::Impl> make_impl(const CalendarSpec& in) {
    auto impl = std::make_shared<Calendar::Impl>();
    CalendarSpec& spec = impl->spec;
    spec = in;

    try {
        impl->zone = date::locate_zone(spec.timezone);
    } catch (const std::exception&) {
        throw std::invalid_argument("timezone: \"" + spec.timezone + "\" is not a known IANA time zone");
    }

    for (const int minute : {spec.start_minute, spec.end_minute}) {
        if (minute < 0 || minute > 24 * 60) {
            throw std::invalid_argument("work_hours: " + std::to_string(minute) +
                                        " minutes is outside 00:00..24:00");
        }
    }
    if (spec.start_minute >= spec.end_minute) {
        throw std::invalid_argument("work_hours: start " + clock_text(spec.start_minute) +
                                    " is not before end " + clock_text(spec.end_minute));
    }

    for (const int weekday : spec.workdays) {
        if (weekday < 1 || weekday > 7) {
            throw std::invalid_argument("workdays: " + std::to_string(weekday) +
                                        " is not an ISO weekday (1 = Monday .. 7 = Sunday)");
        }
        impl->weekday_mask |= 1U << weekday;
    }
    // Without workdays a limit could never run out.
    if (spec.workdays.empty()) {
        throw std::invalid_argument("workdays: at least one weekday must be worked");
    }

    const auto normalise = [](auto& v) {
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
    };
    normalise(spec.workdays);
    normalise(spec.holidays);
    normalise(spec.makeup_workdays);
    for (const auto d : spec.holidays) {
        impl->holidays.push_back(day_number(d));
    }
    for (const auto d : spec.makeup_workdays) {
        impl->makeups.push_back(day_number(d));
    }

    impl->start_s = int64_t{spec.start_minute} * 60;
    impl->end_s = int64_t{spec.end_minute} * 60;
    impl->week_ms = static_cast<int64_t>(spec.workdays.size()) * (impl->end_s - impl->start_s) * ms_per_second;
    return impl;
}

} // namespace

Calendar::Calendar() {
    static const std::shared_ptr<const Impl> default_impl = make_impl(CalendarSpec{});
    impl_ = default_impl;
}

Calendar::Calendar(const CalendarSpec& spec) : impl_(make_impl(spec)) {}

const CalendarSpec& Calendar::spec() const {
    return impl_->spec;
}

std::chrono::seconds Calendar::day_span() const {
    return std::chrono::seconds{impl_->end_s - impl_->start_s};
}

bool Calendar::is_working_day(std::chrono::local_days d) const {
    return impl_->working(day_number(d));
}

events::Instant Calendar::add(events::Instant start, std::chrono::seconds working) const {
    if (working <= std::chrono::seconds::zero()) {
        return start;
    }
    const Impl& im = *impl_;
    Converter conv(im.zone);
    const int64_t from = start.time_since_epoch().count();
    int64_t remaining = working.count() * ms_per_second;
    // A span never reaches past its own local date, so nothing before the start's local date can
    // contribute; one day earlier is a cheap margin.
    int64_t day = conv.local_day(from) - 1;
    for (;;) {
        if (const auto week = im.regular_week(conv, day);
            week && week->first >= from && im.week_ms < remaining) {
            remaining -= im.week_ms;
            day += 7;
            continue;
        }
        if (im.working(day)) {
            const auto [s, e] = im.span(conv, day);
            const int64_t lo = std::max(s, from);
            if (lo < e) {
                if (remaining <= e - lo) {
                    return events::Instant{events::Millis{lo + remaining}};
                }
                remaining -= e - lo;
            }
        }
        ++day;
    }
}

std::chrono::milliseconds Calendar::between(events::Instant a, events::Instant b) const {
    const int64_t from = a.time_since_epoch().count();
    const int64_t to = b.time_since_epoch().count();
    if (to <= from) {
        return std::chrono::milliseconds::zero();
    }
    const Impl& im = *impl_;
    Converter conv(im.zone);
    int64_t total = 0;
    int64_t day = conv.local_day(from) - 1;
    for (;;) {
        if (const auto week = im.regular_week(conv, day);
            week && week->first >= from && week->second <= to) {
            total += im.week_ms;
            day += 7;
            continue;
        }
        const auto [s, e] = im.span(conv, day);
        if (s >= to) {
            break;
        }
        if (im.working(day)) {
            total += std::max<int64_t>(0, std::min(e, to) - std::max(s, from));
        }
        ++day;
    }
    return std::chrono::milliseconds{total};
}

std::chrono::seconds Calendar::limit(const events::Duration& d) const {
    return std::chrono::seconds{d.days * (impl_->end_s - impl_->start_s) + d.seconds};
}

std::optional<int> parse_clock(std::string_view text) {
    const auto digit = [&](std::size_t i) { return text[i] >= '0' && text[i] <= '9'; };
    if (text.size() != 5 || !digit(0) || !digit(1) || text[2] != ':' || !digit(3) || !digit(4)) {
        return std::nullopt;
    }
    const int hours = (text[0] - '0') * 10 + (text[1] - '0');
    const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
    if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) {
        return std::nullopt;
    }
    return hours * 60 + minutes;
}

std::string format_date(std::chrono::local_days d) {
    const std::chrono::year_month_day ymd{d};
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    return text;
}

std::optional<std::chrono::local_days> parse_date(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
        return std::nullopt;
    }
    int parts[3] = {0, 0, 0};
    const std::size_t starts[3] = {0, 5, 8};
    const std::size_t lengths[3] = {4, 2, 2};
    for (int p = 0; p < 3; ++p) {
        for (std::size_t i = starts[p]; i < starts[p] + lengths[p]; ++i) {
            if (text[i] < '0' || text[i] > '9') {
                return std::nullopt;
            }
            parts[p] = parts[p] * 10 + (text[i] - '0');
        }
    }
    const std::chrono::year_month_day ymd{std::chrono::year{parts[0]},
                                          std::chrono::month{static_cast<unsigned>(parts[1])},
                                          std::chrono::day{static_cast<unsigned>(parts[2])}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return std::chrono::local_days{ymd};
}

std::chrono::local_days Calendar::local_day(events::Instant t) const {
    const auto local = impl_->zone->to_local(date::sys_time<events::Millis>{t.time_since_epoch()});
    return std::chrono::local_days{std::chrono::floor<date::days>(local).time_since_epoch()};
}

events::Instant Calendar::midnight(std::chrono::local_days d) const {
    const auto sys = impl_->zone->to_sys(date::local_days{d.time_since_epoch()}, date::choose::earliest);
    return events::Instant{std::chrono::duration_cast<events::Millis>(sys.time_since_epoch())};
}

std::vector<events::Instant> Calendar::midnights(std::chrono::local_days first, std::chrono::local_days last) const {
    using namespace std::chrono;
    std::vector<events::Instant> out;
    std::optional<date::sys_info> span; // the offset of the last midnight asked of the zone, and where it holds
    for (auto d = first; d <= last; d += days(1)) {
        if (span) {
            // Two days or more inside the span, the local time has this one instant: no change of
            // offset reaches that far (UTC offsets lie within -12 and +14 hours), so it is neither
            // skipped nor repeated.
            const sys_seconds sys{d.time_since_epoch() - span->offset};
            if (sys >= span->begin + days(2) && sys < span->end - days(2)) {
                out.push_back(events::Instant{duration_cast<events::Millis>(sys.time_since_epoch())});
                continue;
            }
        }
        out.push_back(midnight(d));
        span = impl_->zone->get_info(floor<seconds>(out.back()));
    }
    return out;
}

} // namespace gridloop::projections
