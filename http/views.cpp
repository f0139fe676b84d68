// JSON views of cases, grids and star ratings.
#include "http/views.hpp"

#include <cmath>

namespace gridloop::http {

using nlohmann::json;
using namespace projections;

namespace {

json time_or_null(const std::optional<events::Instant>& t) { return t ? json(events::format_time(*t)) : json(nullptr); }

} // namespace

json case_json(const Model& m, const Case& c, events::Instant now, bool with_timeline) {
    const bool open = c.state == events::CaseState::open;
    json j{
        {"case_id", c.case_id},
        {"state", events::to_string(c.state)},
        {"rung", events::to_string(c.rung)},
        {"grid_id", c.grid_id},
        {"dept_id", c.dept_id ? json(*c.dept_id) : json(nullptr)},
        {"round", c.round},
        {"due_at", open ? json(events::format_time(c.due_at)) : json(nullptr)},
        {"overdue", c.overdue(now)},
        {"returns", c.returns},
        {"category", c.category},
        {"source", events::to_string(c.source)},
        {"severity", events::to_string(c.severity)},
        {"reported_at", events::format_time(c.reported_at)},
        {"handled_at", time_or_null(c.handled_at)},
        {"rating", c.rating ? json(events::to_string(*c.rating)) : json(nullptr)},
        {"solved", c.solved ? json(events::to_string(*c.solved)) : json(nullptr)},
        {"version", c.version},
    };
    if (with_timeline) {
        json t = json::array();
        for (const auto& e : c.timeline)
            t.push_back({{"position", e.position},
                         {"type", e.type_name()},
                         {"recorded_at", events::format_time(e.recorded_at)},
                         {"occurred_at", events::format_time(e.occurred_at)},
                         {"actor", m.name(e.actor)},
                         {"state", events::to_string(e.state)},
                         {"rung", events::to_string(e.rung)},
                         {"dept_id", e.dept ? json(m.name(e.dept)) : json(nullptr)}});
        j["timeline"] = std::move(t);
    }
    return j;
}

json grid_json(const Model& m, const Grid& g) {
    json children = json::array();
    for (const auto& id : g.children) {
        const Grid* c = m.grid(id);
        children.push_back({{"grid_id", id}, {"name", c->name}, {"level", events::to_string(c->level)}});
    }
    json path = json::array();
    for (const Grid* p = g.parent_id ? m.grid(*g.parent_id) : nullptr; p; p = p->parent_id ? m.grid(*p->parent_id) : nullptr)
        path.insert(path.begin(), p->grid_id);
    json j{{"grid_id", g.grid_id},
           {"name", g.name},
           {"level", events::to_string(g.level)},
           {"parent_id", g.parent_id ? json(*g.parent_id) : json(nullptr)},
           {"path", std::move(path)},
           {"station", g.station ? json(*g.station) : json(nullptr)},
           {"has_boundary", g.boundary.has_value()},
           {"children", std::move(children)}};
    return j;
}

json grid_tree(const Model& m) {
    auto node = [&](auto& self, const Grid& g) -> json {
        json children = json::array();
        for (const auto& id : g.children) children.push_back(self(self, *m.grid(id)));
        return {{"grid_id", g.grid_id},
                {"name", g.name},
                {"level", events::to_string(g.level)},
                {"station", g.station ? json(*g.station) : json(nullptr)},
                {"children", std::move(children)}};
    };
    json roots = json::array();
    for (const auto& id : m.roots()) roots.push_back(node(node, *m.grid(id)));
    // The departments beside the tree, so that a dashboard can show their queues (no persons here).
    json departments = json::array();
    for (const auto& [id, d] : m.departments())
        departments.push_back({{"dept_id", id}, {"name", d.name}, {"kind", events::to_string(d.kind)}, {"serves", d.serves}});
    return {{"grids", std::move(roots)}, {"departments", std::move(departments)}};
}

json stars_json(const Model& m, const Grid& root, const Period& period, events::Instant now) {
    const auto& thresholds = m.config().stars; // minimum score for 2, 3, 4, 5 stars
    json grids = json::array();
    for (const auto& id : m.subtree(root.grid_id)) {
        const Grid* g = m.grid(id);
        if (g->level != events::Level::micro) continue;
        const Metrics x = compute_metrics(m, id, period, now);
        // The score: the mean of the closed-loop rates that have a denominator, in points of 100.
        double sum = 0;
        int n = 0;
        for (auto r : {x.closure_rate(), x.on_time_rate(), x.satisfaction_rate(), x.solve_rate()})
            if (r) sum += *r, ++n;
        json score = nullptr, stars = nullptr;
        if (n) {
            const double s = std::round(sum / n * 1000) / 10;
            int st = 1;
            for (std::size_t i = 0; i < thresholds.size(); ++i)
                if (s >= thresholds[i]) st = static_cast<int>(i) + 2;
            score = s;
            stars = st;
        }
        grids.push_back({{"grid_id", id}, {"name", g->name}, {"stars", stars}, {"score", score}, {"metrics", to_json(x)}});
    }
    return {{"grid_id", root.grid_id},
            {"thresholds", thresholds},
            {"score", "mean of closure_rate, on_time_rate, satisfaction_rate and solve_rate (those not null), × 100"},
            {"micro_grids", std::move(grids)}};
}

} // namespace gridloop::http
