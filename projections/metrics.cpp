// Metric definitions, exactly as in the contract.
#include "projections/metrics.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

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
    };
}

} // namespace gridloop::projections
