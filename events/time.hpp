// Instants and durations of the contract: RFC 3339 in, UTC `Z` with milliseconds out, ISO 8601 durations.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gridloop::events {

using Millis = std::chrono::milliseconds;
// Every instant in gridloop: UTC, millisecond resolution.
using Instant = std::chrono::sys_time<Millis>;

// Parses RFC 3339 with a mandatory offset (`Z` or `+08:00`); fractions beyond milliseconds are
// truncated. Returns nothing on any deviation.
std::optional<Instant> parse_time(std::string_view text);

// `2026-11-21T01:14:00.000Z`.
std::string format_time(Instant t);

// An ISO 8601 duration split into whole days and seconds, because a day means different things:
// for time limits `P1D` is one working day's span, for `lost_contact_after` it is 24 hours.
struct Duration {
    std::int64_t days = 0;
    std::int64_t seconds = 0;
    friend bool operator==(const Duration&, const Duration&) = default;
    // Days counted as 24 hours.
    std::chrono::seconds calendar() const { return std::chrono::seconds(days * 86400 + seconds); }
};

// Accepts `PnW`, `PnD`, `PTnHnMnS` combinations (`P2DT4H`, `PT30M`, `PT1.5S` is refused: whole
// seconds only). Years and months are refused: their length is ambiguous.
std::optional<Duration> parse_duration(std::string_view text);

// Canonical form: `P2DT4H`, `PT5S`, `P0D` for zero.
std::string format_duration(const Duration& d);

} // namespace gridloop::events
