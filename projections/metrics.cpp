// Metric definitions, exactly as in the contract.
#include "projections/metrics.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <tuple>

namespace gridloop::projections {

using namespace events;

namespace {

std::optional<double> ratio(std::int64_t num, std::int64_t den) {
    if (den == 0) return std::nullopt;
    return static_cast<double>(num) / static_cast<double>(den);
}

nlohmann::json rate(std::optional<double> r) { return r ? nlohmann::json(*r) : nlohmann::json(nullptr); }

} // namespace

std::optional<double> Metrics::closure_rate() const { return ratio(closed + dismissed, reported); }
std::optional<double> Metrics::solve_rate() const { return ratio(closed_solved, reported - dismissed); }
std::optional<double> Metrics::on_time_rate() const { return ratio(handled_on_time, handled_total + overdue); }
std::optional<double> Metrics::satisfaction_rate() const { return ratio(ratings_satisfied, ratings); }
std::optional<double> Metrics::reopen_rate() const { return ratio(reopened, rated); }
std::optional<double> Metrics::in_grid_rate() const { return ratio(closed_in_grid, closed); }

Metrics compute_metrics(const Model& model, std::string_view root, const Period& period, Instant now) {
    const StatsIndex& stats = model.stats();
    Metrics m;
    static_cast<Tally&>(m) = stats.tally(root, period);
    stats.for_each_overdue(root, period, now, [&m](const Case& c) {
        ++m.overdue;
        ++m.overdue_by_rung[static_cast<std::size_t>(c.rung)];
    });
    if (auto ms = stats.median_handle_ms(root, period)) m.median_handle_hours = *ms / 3'600'000.0;
    std::tie(m.members, m.lost_contact) = stats.residents(root, now - model.config().lost_contact_after.calendar());
    return m;
}

nlohmann::json to_json(const Metrics& m) {
    auto open_by_rung = nlohmann::json::object();
    for (std::size_t r = 0; r < rung_count; ++r)
        if (m.open_by_rung[r] > 0) open_by_rung[std::string(enum_names<Rung>::v[r])] = {{"open", m.open_by_rung[r]}, {"overdue", m.overdue_by_rung[r]}};
    std::vector<std::pair<std::string, std::int64_t>> cats(m.categories.begin(), m.categories.end());
    std::stable_sort(cats.begin(), cats.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (cats.size() > 10) cats.resize(10);
    auto top = nlohmann::json::array();
    for (const auto& [name, n] : cats) top.push_back({{"category", name}, {"count", n}});
    return {
        {"reported", m.reported},
        {"open", m.open},
        {"handled", m.handled},
        {"fed_back", m.fed_back},
        {"closed", m.closed},
        {"dismissed", m.dismissed},
        {"overdue", m.overdue},
        {"ratings", m.ratings},
        {"timed_out", m.timed_out},
        {"closure_rate", rate(m.closure_rate())},
        {"solve_rate", rate(m.solve_rate())},
        {"on_time_rate", rate(m.on_time_rate())},
        {"satisfaction_rate", rate(m.satisfaction_rate())},
        {"reopen_rate", rate(m.reopen_rate())},
        {"in_grid_rate", rate(m.in_grid_rate())},
        {"median_handle_hours", rate(m.median_handle_hours)},
        {"returns", m.returns},
        {"members", m.members},
        {"lost_contact", m.lost_contact},
        {"open_by_rung", open_by_rung},
        {"top_categories", top},
    };
}

std::pair<std::chrono::local_days, std::chrono::local_days> series_days(const Period& period, Instant now, const Calendar& calendar) {
    using std::chrono::days;
    const auto last = period.to ? calendar.local_day(*period.to - std::chrono::milliseconds(1)) : calendar.local_day(now);
    auto first = period.from ? calendar.local_day(*period.from) : last - days(29);
    if (last - first >= days(366)) first = last - days(365);
    return {first, last};
}

std::vector<DailyPoint> daily_series(const Model& model, std::string_view root, std::chrono::local_days first,
                                     std::chrono::local_days last, Instant now) {
    return model.stats().daily(root, first, last, now, model.config().calendar);
}

nlohmann::json to_json(const std::vector<DailyPoint>& series) {
    auto j = nlohmann::json::array();
    for (const auto& p : series)
        j.push_back({{"date", format_date(p.day)}, {"reported", p.reported}, {"closed", p.closed}, {"overdue", p.overdue}});
    return j;
}

} // namespace gridloop::projections
