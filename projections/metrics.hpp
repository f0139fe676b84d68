// The contract's metrics for a grid subtree and a period, evaluated at a given time.
#pragma once

#include "projections/model.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <map>
#include <utility>
#include <vector>
#include <optional>

namespace gridloop::projections {

// The cohort: cases whose IssueReported was recorded in [from, to). No bound = all cases.
struct Period {
    std::optional<Instant> from, to;
    bool contains(Instant t) const { return (!from || t >= *from) && (!to || t < *to); }
};

struct Metrics {
    std::int64_t reported = 0, open = 0, handled = 0, fed_back = 0, closed = 0, dismissed = 0;
    std::int64_t overdue = 0;
    std::int64_t timed_out = 0;         // ran out of time on some rung at least once (the engine acted)           // open past due_at
    std::int64_t closed_solved = 0;     // closed with solved = yes
    std::int64_t handled_on_time = 0;   // handled (not open again) before the due_at of the rung that handled it
    std::int64_t handled_total = 0;     // handled at least once and not open again
    std::int64_t rated = 0;             // cases rated at least once
    std::int64_t ratings = 0;           // ratings given (a reopened case is rated more than once)
    std::int64_t ratings_satisfied = 0; // of those, satisfied or basically_satisfied
    std::int64_t reopened = 0;          // round > 1
    std::int64_t closed_in_grid = 0;    // closed, never above micro_head
    std::optional<double> median_handle_hours;
    std::map<std::string, std::int64_t> returns; // per department
    std::int64_t members = 0, lost_contact = 0;  // living in the subtree
    std::map<events::Rung, std::pair<std::int64_t, std::int64_t>> open_by_rung; // rung → (open, of those overdue)
    std::map<std::string, std::int64_t> categories;                            // cohort cases per category

    std::optional<double> closure_rate() const;
    std::optional<double> solve_rate() const;
    std::optional<double> on_time_rate() const;
    std::optional<double> satisfaction_rate() const;
    std::optional<double> reopen_rate() const;
    std::optional<double> in_grid_rate() const;
};

// Metrics of the subtree under `root` (an unknown root gives all zeros).
Metrics compute_metrics(const Model& model, std::string_view root, const Period& period, Instant now);

// Daily series for charts over the calendar's local days [first, last]: per day, cases reported
// (their IssueReported), closed (the rating that closed them) and rungs that ran out (the engine's
// own IssueEscalated/IssueSupervised, plus cases open past a due_at the engine has not acted on yet).
// Unlike the metrics these count events on the day, whichever period the case was reported in.
struct DailyPoint {
    std::chrono::local_days day;
    std::int64_t reported = 0, closed = 0, overdue = 0;
};
std::vector<DailyPoint> daily_series(const Model& model, std::string_view root, std::chrono::local_days first,
                                     std::chrono::local_days last, Instant now);
// The days of a period for its daily series: [from, to) in local days; without `from` the 30 days
// ending with `to` (or today); at most 366 days (the last ones).
std::pair<std::chrono::local_days, std::chrono::local_days> series_days(const Period& period, Instant now, const Calendar& calendar);
nlohmann::json to_json(const std::vector<DailyPoint>& series);

// The metrics as the API shows them: counts, rates (null on a zero denominator) and returns.
nlohmann::json to_json(const Metrics& m);

} // namespace gridloop::projections
