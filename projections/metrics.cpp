// Metric definitions, exactly as in the contract.
#include "projections/metrics.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

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
    Metrics m;
    std::vector<std::int64_t> handle_ms;
    for (const auto& grid_id : model.subtree(root)) {
        for (const Case* c : model.cases_in(grid_id)) {
            if (!period.contains(c->reported_at)) continue;
            ++m.reported;
            switch (c->state) {
            case CaseState::open: ++m.open; break;
            case CaseState::handled: ++m.handled; break;
            case CaseState::fed_back: ++m.fed_back; break;
            case CaseState::closed: ++m.closed; break;
            case CaseState::dismissed: ++m.dismissed; break;
            }
            if (c->overdue(now)) ++m.overdue;
            if (c->state == CaseState::open) {
                auto& [open, late] = m.open_by_rung[c->rung];
                ++open;
                if (c->overdue(now)) ++late;
            }
            ++m.categories[c->category];
            if (c->timeouts > 0) ++m.timed_out;
            if (c->state == CaseState::closed && c->solved == Solved::yes) ++m.closed_solved;
            if (c->handled_at && c->state != CaseState::open && c->state != CaseState::dismissed) {
                ++m.handled_total;
                if (c->handled_on_time) ++m.handled_on_time;
                handle_ms.push_back(c->handle_working_ms);
            }
            if (c->ratings > 0) {
                ++m.rated;
                m.ratings += c->ratings;
                m.ratings_satisfied += c->ratings_satisfied;
                if (c->round > 1) ++m.reopened;
            }
            if (c->state == CaseState::closed && c->highest_rung <= Rung::micro_head) ++m.closed_in_grid;
            for (const auto& [dept, n] : c->returns_by_dept) m.returns[dept] += n;
        }
        for (const Member* member : model.residents_of(grid_id)) {
            ++m.members;
            if (member->lost_contact(now, model.config())) ++m.lost_contact;
        }
    }
    if (!handle_ms.empty()) {
        std::sort(handle_ms.begin(), handle_ms.end());
        const auto n = handle_ms.size();
        const double mid = n % 2 ? static_cast<double>(handle_ms[n / 2])
                                  : (static_cast<double>(handle_ms[n / 2 - 1]) + static_cast<double>(handle_ms[n / 2])) / 2;
        m.median_handle_hours = mid / 3'600'000.0;
    }
    return m;
}

nlohmann::json to_json(const Metrics& m) {
    auto open_by_rung = nlohmann::json::object();
    for (const auto& [rung, n] : m.open_by_rung) open_by_rung[std::string(to_string(rung))] = {{"open", n.first}, {"overdue", n.second}};
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
    std::vector<DailyPoint> out;
    if (last < first) return out;
    for (auto d = first; d <= last; d += std::chrono::days(1)) out.push_back(DailyPoint{d});
    const auto& calendar = model.config().calendar;
    auto at = [&](Instant t) -> DailyPoint* {
        const auto d = calendar.local_day(t);
        return d < first || d > last ? nullptr : &out[static_cast<std::size_t>((d - first).count())];
    };
    for (const auto& grid_id : model.subtree(root)) {
        for (const Case* c : model.cases_in(grid_id)) {
            if (auto* p = at(c->reported_at)) ++p->reported;
            if (c->state == CaseState::closed && !c->timeline.empty())
                if (auto* p = at(c->timeline.back().recorded_at)) ++p->closed;
            for (const auto& e : c->timeline)
                if (e.actor == "system" && (e.type == "IssueEscalated" || e.type == "IssueSupervised"))
                    if (auto* p = at(e.recorded_at)) ++p->overdue;
            if (c->overdue(now))
                if (auto* p = at(c->due_at)) ++p->overdue;
        }
    }
    return out;
}

nlohmann::json to_json(const std::vector<DailyPoint>& series) {
    auto j = nlohmann::json::array();
    for (const auto& p : series) {
        const std::chrono::year_month_day ymd{p.day};
        char date[16];
        std::snprintf(date, sizeof date, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                      static_cast<unsigned>(ymd.day()));
        j.push_back({{"date", date}, {"reported", p.reported}, {"closed", p.closed}, {"overdue", p.overdue}});
    }
    return j;
}

} // namespace gridloop::projections
