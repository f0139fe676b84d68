// RFC 3339 and ISO 8601 duration parsing and formatting.
#include "events/time.hpp"

#include <cstdio>

namespace gridloop::events {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

} // namespace

std::optional<Instant> parse_time(std::string_view s) {
    using namespace std::chrono;
    int y, mo, d, h, mi, sec;
    if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
        !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
        !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec))
        return std::nullopt;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
    std::size_t pos = 19;
    int ms = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::size_t start = pos;
        int scale = 100;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            ms += (s[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start || pos - start > 9) return std::nullopt;
    }
    if (pos >= s.size()) return std::nullopt;
    int offset_min = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        int oh, om;
        if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
            oh > 23 || om > 59)
            return std::nullopt;
        offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    const auto local = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{ms};
    return local - minutes{offset_min};
}

std::string format_time(Instant t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss<milliseconds> tod{t - day};
    const int y = static_cast<int>(ymd.year());
    if (y >= 0 && y <= 9999) {
        // The common case written digit by digit: snprintf was a tenth of a write's envelope.
        char out[] = "0000-00-00T00:00:00.000Z";
        auto put = [&](std::size_t at, long long v, int width) {
            for (int i = width - 1; i >= 0; --i, v /= 10) out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
        };
        put(0, y, 4);
        put(5, static_cast<unsigned>(ymd.month()), 2);
        put(8, static_cast<unsigned>(ymd.day()), 2);
        put(11, tod.hours().count(), 2);
        put(14, tod.minutes().count(), 2);
        put(17, tod.seconds().count(), 2);
        put(20, tod.subseconds().count(), 3);
        return std::string(out, sizeof out - 1);
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<long long>(tod.hours().count()), static_cast<long long>(tod.minutes().count()),
                  static_cast<long long>(tod.seconds().count()), static_cast<long long>(tod.subseconds().count()));
    return buf;
}

std::optional<Duration> parse_duration(std::string_view s) {
    if (s.size() < 3 || s[0] != 'P') return std::nullopt;
    Duration d;
    bool in_time = false, any = false;
    std::size_t pos = 1;
    char last_unit = 0;
    const std::string_view date_units = "WD", time_units = "HMS";
    while (pos < s.size()) {
        if (s[pos] == 'T') {
            if (in_time) return std::nullopt;
            in_time = true;
            last_unit = 0;
            ++pos;
            continue;
        }
        std::int64_t n = 0;
        std::size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (n > 1'000'000'000) return std::nullopt;
            n = n * 10 + (s[pos] - '0');
            ++pos;
        }
        if (pos == start || pos >= s.size()) return std::nullopt;
        const char unit = s[pos++];
        const std::string_view units = in_time ? time_units : date_units;
        const auto idx = units.find(unit);
        // Units must appear at most once and in order.
        if (idx == std::string_view::npos || (last_unit && units.find(last_unit) >= idx)) return std::nullopt;
        last_unit = unit;
        any = true;
        if (!in_time) d.days += (unit == 'W' ? 7 : 1) * n;
        else d.seconds += (unit == 'H' ? 3600 : unit == 'M' ? 60 : 1) * n;
    }
    if (!any || (in_time && last_unit == 0)) return std::nullopt;
    return d;
}

std::string format_duration(const Duration& d) {
    std::string out = "P";
    if (d.days) out += std::to_string(d.days) + "D";
    if (d.seconds) {
        out += "T";
        const auto h = d.seconds / 3600, m = d.seconds % 3600 / 60, s = d.seconds % 60;
        if (h) out += std::to_string(h) + "H";
        if (m) out += std::to_string(m) + "M";
        if (s) out += std::to_string(s) + "S";
    }
    if (out == "P") out = "P0D";
    return out;
}

} // namespace gridloop::events
