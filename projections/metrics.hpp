// The contract's metrics for a grid subtree and a period, evaluated at a given time.
#pragma once

#include "projections/model.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridloop::projections {

// The contract's metrics of a cohort: its tally, and what depends on the time asked about.
struct Metrics : Tally {
    std::int64_t overdue = 0; // open past due_at
    std::array<std::int64_t, rung_count> overdue_by_rung{};
    std::optional<double> median_handle_hours;
    std::int64_t members = 0, lost_contact = 0; // living in the subtree

    std::optional<double> closure_rate() const;
    std::optional<double> solve_rate() const;
    std::optional<double> on_time_rate() const;
    std::optional<double> satisfaction_rate() const;
    std::optional<double> reopen_rate() const;
    std::optional<double> in_grid_rate() const;
};

// Metrics of the subtree under `root` (an unknown root gives all zeros).
Metrics compute_metrics(const Model& model, std::string_view root, const Period& period, Instant now);

// Daily series for charts over the calendar's local days [first, last] (see DailyPoint). Unlike the
// metrics these count events on the day, whichever period the case was reported in.
std::vector<DailyPoint> daily_series(const Model& model, std::string_view root, std::chrono::local_days first,
                                     std::chrono::local_days last, Instant now);
// The days of a period for its daily series: [from, to) in local days; without `from` the 30 days
// ending with `to` (or today); at most 366 days (the last ones).
std::pair<std::chrono::local_days, std::chrono::local_days> series_days(const Period& period, Instant now, const Calendar& calendar);
nlohmann::json to_json(const std::vector<DailyPoint>& series);

// The metrics as the API shows them: counts, rates (null on a zero denominator) and returns.
nlohmann::json to_json(const Metrics& m);

// The same views written straight as text, byte for byte what nlohmann's dump() (no indent, UTF-8
// kept, invalid bytes replaced) makes of the DOMs above, without building them: for the stats
// request that dashboards repeat. `extra` members (value: JSON text; sorted by key, no key of a
// metric) are merged in key order, as they would be into the DOM's object.
struct JsonMember {
    std::string_view key, value;
};
void write_json(std::string& out, const Metrics& m, std::span<const JsonMember> extra = {});
void write_json(std::string& out, const std::vector<DailyPoint>& series);

} // namespace gridloop::projections
