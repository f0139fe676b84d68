// The pure per-entity folds.
#include "projections/entities.hpp"

#include <algorithm>
#include <stdexcept>

namespace gridloop::projections {

using namespace events;

Config::Config()
    : limits{{Rung::worker, {1, 0}},    {Rung::micro_head, {2, 0}}, {Rung::grid, {3, 0}},
             {Rung::community, {3, 0}}, {Rung::town, {5, 0}},       {Rung::department, {5, 0}}} {}

Instant Config::due(Rung rung, Instant start) const { return calendar.add(start, calendar.limit(limits.at(rung))); }

std::optional<Rung> rung_at_or_above(RungMask m, Rung r) {
    for (auto i = static_cast<unsigned>(r); i <= static_cast<unsigned>(Rung::department); ++i)
        if (has_rung(m, static_cast<Rung>(i))) return static_cast<Rung>(i);
    return std::nullopt;
}

std::optional<Rung> next_grid_rung(RungMask m, Rung r) {
    if (r >= Rung::town) return std::nullopt;
    auto next = rung_at_or_above(m, static_cast<Rung>(static_cast<unsigned>(r) + 1));
    if (!next || *next == Rung::department) return std::nullopt;
    return next;
}

Grid make_grid(const GridDefined& e) {
    Grid g;
    g.grid_id = e.grid_id;
    g.name = e.name;
    g.level = e.level;
    g.parent_id = e.parent_id;
    g.boundary = e.boundary;
    g.station = e.station;
    return g;
}

Department make_department(const DepartmentRegistered& e) {
    return Department{e.dept_id, e.name, e.kind, e.serves, 0};
}

void apply_person(Person& p, const PersonAssigned& e) {
    p.person_id = e.person_id;
    p.name = e.name;
    p.role = e.role;
    p.grid_id = e.grid_id;
    p.dept_id = e.dept_id;
    p.team = e.team;
}

void apply_config(Config& c, const Event& e) {
    if (auto p = std::get_if<PolicySet>(&e)) {
        for (const auto& [rung, d] : p->limits) c.limits[rung] = d;
        if (!p->start_rung.empty()) c.start_rung = p->start_rung;
        if (p->satisfied_threshold) c.satisfied_threshold = *p->satisfied_threshold;
        if (p->max_returns) c.max_returns = *p->max_returns;
        if (p->lost_contact_after) c.lost_contact_after = *p->lost_contact_after;
        if (p->stars) c.stars = *p->stars;
    } else if (auto cal = std::get_if<CalendarSet>(&e)) {
        CalendarSpec spec;
        spec.timezone = cal->timezone;
        spec.workdays = cal->workdays;
        auto start = parse_clock(cal->work_hours[0]), end = parse_clock(cal->work_hours[1]);
        if (!start || !end) throw std::invalid_argument("work_hours must be HH:MM");
        spec.start_minute = *start;
        spec.end_minute = *end;
        for (const auto& d : cal->holidays)
            if (auto day = parse_date(d)) spec.holidays.push_back(*day);
        for (const auto& d : cal->makeup_workdays)
            if (auto day = parse_date(d)) spec.makeup_workdays.push_back(*day);
        c.calendar = Calendar(spec);
    }
}

namespace {

void start_clock(Case& c, const Config& config, Instant at) {
    c.clock_started_at = at;
    c.due_at = config.due(c.rung, at);
}

void put_on(Case& c, Rung rung) {
    c.rung = rung;
    c.highest_rung = std::max(c.highest_rung, rung);
}

} // namespace

void apply_case(Case& c, const Envelope& env, const Config& config, RungMask rungs) {
    const Instant at = env.recorded_at;
    std::visit(
        [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, IssueReported>) {
                c.case_id = e.case_id;
                c.grid_id = e.grid_id.value_or("");
                c.category = e.category;
                c.source = e.source;
                c.severity = e.severity.value_or(Severity::normal);
                c.rungs = rungs;
                c.state = CaseState::open;
                auto start = config.start_rung.find(c.severity);
                const Rung wanted = start == config.start_rung.end() ? Rung::worker : start->second;
                c.rung = c.highest_rung = rung_at_or_above(rungs, wanted).value_or(Rung::worker);
                c.reported_at = at;
                start_clock(c, config, at);
            } else if constexpr (std::is_same_v<T, IssueEscalated>) {
                if (e.automatic) ++c.timeouts;
                if (e.to_rung == Rung::department) {
                    c.dispatched_from = c.rung;
                    c.dept_id = e.dept_id;
                }
                put_on(c, e.to_rung);
                start_clock(c, config, at);
            } else if constexpr (std::is_same_v<T, IssueReturned>) {
                const bool arbitration = c.returns >= config.max_returns;
                ++c.returns;
                ++c.returns_by_dept[e.dept_id];
                c.dept_id.reset();
                const Rung back = arbitration ? Rung::town : c.dispatched_from.value_or(Rung::worker);
                c.dispatched_from.reset();
                c.rung = rung_at_or_above(c.rungs, back).value_or(Rung::worker);
                start_clock(c, config, at);
            } else if constexpr (std::is_same_v<T, IssueSupervised>) {
                if (env.actor == "system") ++c.timeouts;
                start_clock(c, config, at);
            } else if constexpr (std::is_same_v<T, IssueHandled>) {
                c.state = CaseState::handled;
                c.handled_at = at;
                c.handled_on_time = at < c.due_at; // at due_at the rung has run out (see Case::overdue)
                c.handle_working_ms = config.calendar.between(c.reported_at, at).count();
            } else if constexpr (std::is_same_v<T, FeedbackGiven>) {
                c.state = CaseState::fed_back;
            } else if constexpr (std::is_same_v<T, SatisfactionRated>) {
                c.rating = e.rating;
                c.solved = e.solved;
                ++c.ratings;
                if (e.rating != Rating::unsatisfied) ++c.ratings_satisfied;
                if (e.rating == Rating::unsatisfied || e.solved == Solved::no) {
                    c.state = CaseState::open;
                    ++c.round;
                    start_clock(c, config, at);
                } else {
                    c.state = CaseState::closed;
                }
            } else if constexpr (std::is_same_v<T, IssueDismissed>) {
                c.state = CaseState::dismissed;
            }
        },
        env.event);
    c.version = env.version;
}

void apply_member(Member& m, const Envelope& env) {
    const Instant at = env.recorded_at;
    std::visit(
        [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, MemberRegistered>) {
                m.member_id = e.member_id;
                m.name = e.name;
                m.category = e.category;
                m.home_branch = e.home_branch;
                m.residence_grid = e.residence_grid;
                m.registered_at = m.last_contact_at = at;
            } else if constexpr (std::is_same_v<T, MemberRelocated>) {
                m.moves.push_back({env.position, at, false, m.residence_grid, e.to_grid});
                m.residence_grid = e.to_grid;
            } else if constexpr (std::is_same_v<T, MembershipTransferred>) {
                m.moves.push_back({env.position, at, true, m.home_branch, e.to_branch});
                m.home_branch = e.to_branch;
            } else if constexpr (std::is_same_v<T, MemberReportedIn> || std::is_same_v<T, MemberContacted>) {
                m.last_contact_at = at;
            } else if constexpr (std::is_same_v<T, PointsAwarded>) {
                m.points += e.points;
                m.ledger.push_back({env.position, at, e.points, e.reason, e.case_id});
            } else if constexpr (std::is_same_v<T, PointsRedeemed>) {
                m.points -= e.points;
                m.ledger.push_back({env.position, at, -e.points, e.item, std::nullopt});
            }
        },
        env.event);
    m.version = env.version;
}

} // namespace gridloop::projections
