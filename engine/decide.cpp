// The rules: the case state machine, the grid tree, departments, members and points.
#include "engine/decide.hpp"

#include <cmath>
#include <stdexcept>

namespace gridloop::engine {

using namespace events;
namespace pj = projections;

const Config& View::config() const {
    for (const View* v = this; v; v = v->parent_)
        if (v->config_) return *v->config_;
    return model_.config();
}

std::int64_t View::stream_version(const Event& e) const {
    const Event* ev = &e;
    if (const std::string* c = case_id_of(*ev)) {
        const Case* x = find_case(*c);
        return x ? x->version : 0;
    }
    if (const std::string* m = member_id_of(*ev)) {
        const Member* x = member(*m);
        return x ? x->version : 0;
    }
    if (auto g = std::get_if<GridDefined>(ev)) {
        const Grid* x = grid(g->grid_id);
        return x ? x->version : 0;
    }
    if (auto d = std::get_if<DepartmentRegistered>(ev)) {
        const Department* x = department(d->dept_id);
        return x ? x->version : 0;
    }
    if (auto p = std::get_if<PersonAssigned>(ev)) {
        const Person* x = person(p->person_id);
        return x ? x->version : 0;
    }
    return config().version;
}

bool View::within(HashedId id, std::string_view root) const {
    for (const Grid* g = grid(id); g; g = g->parent_id ? grid(*g->parent_id) : nullptr)
        if (g->grid_id == root) return true;
    return false;
}

void View::apply(const Envelope& env) {
    const Event& ev = env.event;
    if (auto g = std::get_if<GridDefined>(&ev)) {
        Grid grid = pj::make_grid(*g);
        grid.version = env.version;
        if (g->parent_id) edit(&View::grids_, &pj::Model::grid, *g->parent_id).children.push_back(g->grid_id);
        grids_.insert_or_assign(g->grid_id, std::move(grid));
    } else if (auto d = std::get_if<DepartmentRegistered>(&ev)) {
        Department dept = pj::make_department(*d);
        dept.version = env.version;
        departments_.insert_or_assign(d->dept_id, std::move(dept));
    } else if (auto p = std::get_if<PersonAssigned>(&ev)) {
        Person& person = edit(&View::persons_, &pj::Model::person, p->person_id);
        pj::apply_person(person, *p);
        person.version = env.version;
    } else if (std::holds_alternative<PolicySet>(ev) || std::holds_alternative<CalendarSet>(ev)) {
        if (!config_) config_ = config();
        pj::apply_config(*config_, ev);
        config_->version = env.version;
    } else if (const std::string* case_id = case_id_of(ev)) {
        pj::RungMask rungs = 0;
        if (auto r = std::get_if<IssueReported>(&ev))
            rungs = pj::ladder(r->grid_id.value_or(""), [this](std::string_view id) { return grid(id); });
        pj::apply_case(edit(&View::cases_, &pj::Model::find_case, *case_id), env, config(), rungs);
    } else if (const std::string* member_id = member_id_of(ev)) {
        pj::apply_member(edit(&View::members_, &pj::Model::member, *member_id), env);
    }
}

void View::merge_into(View& parent) {
    auto move_all = [](auto& from, auto& to) { // the nodes move: no allocation, no copy of a key
        to.merge(from);
        for (auto& [k, v] : from) to.find(HashedId(k))->second = std::move(v); // the ones `to` had already
        from.clear();
    };
    move_all(grids_, parent.grids_);
    move_all(departments_, parent.departments_);
    move_all(persons_, parent.persons_);
    move_all(cases_, parent.cases_);
    move_all(members_, parent.members_);
    if (config_) parent.config_ = std::move(config_);
    config_.reset();
}

std::optional<std::string> View::route(double lat, double lng) const {
    if (auto found = model_.route(lat, lng)) return found;
    // Grids defined in this batch: few, so checked one by one (the smallest id wins on a shared edge).
    std::optional<std::string> best;
    for (const View* v = this; v; v = v->parent_)
        for (const auto& [id, g] : v->grids_)
            if (g.level == Level::micro && g.boundary && (!best || id < *best) && pj::geo::contains(*g.boundary, lat, lng)) best = id;
    return best;
}

std::optional<pj::geo::Nearest> View::nearest_micro(double lat, double lng) const {
    auto best = model_.nearest_micro(lat, lng);
    for (const View* v = this; v; v = v->parent_)
        for (const auto& [id, g] : v->grids_)
            if (g.level == Level::micro && g.boundary) {
                const double d = pj::geo::distance_m(*g.boundary, lat, lng);
                if (!best || d < best->metres) best = pj::geo::Nearest{id, d};
            }
    return best;
}

namespace {

std::string q(std::string_view s) { return "\"" + std::string(s) + "\""; }

Error refuse(std::string m) { return conflict(std::move(m)); }

bool holds_branch(Level l) { return l != Level::micro; }

bool serves(const View& view, const Department& dept, std::string_view grid) {
    for (const auto& root : dept.serves)
        if (view.within(grid, root)) return true;
    return false;
}

Result<Event> decide_org(const View& view, const Event& ev) {
    if (auto g = std::get_if<GridDefined>(&ev)) {
        if (view.grid(g->grid_id)) return refuse("grid " + q(g->grid_id) + " already exists");
        if (g->parent_id) {
            const Grid* parent = view.grid(*g->parent_id);
            if (!parent) return unprocessable("data.parent_id: unknown grid " + q(*g->parent_id));
            if (parent->level >= g->level)
                return unprocessable("data.parent_id: " + q(*g->parent_id) + " is a " + std::string(to_string(parent->level)) +
                                     ", not above a " + std::string(to_string(g->level)));
        }
        if (g->boundary) {
            if (auto problem = pj::geo::boundary_problem(*g->boundary))
                return unprocessable("data.boundary: not a valid polygon: " + *problem);
            if (g->parent_id)
                if (const Grid* parent = view.grid(*g->parent_id); parent->boundary && !pj::geo::covered_by(*g->boundary, *parent->boundary))
                    return unprocessable("data.boundary: not inside the boundary of the parent grid " + q(*g->parent_id));
        }
        return ev;
    }
    if (auto d = std::get_if<DepartmentRegistered>(&ev)) {
        if (view.department(d->dept_id)) return refuse("department " + q(d->dept_id) + " already exists");
        for (const auto& s : d->serves)
            if (!view.grid(s)) return unprocessable("data.serves: unknown grid " + q(s));
        return ev;
    }
    if (auto p = std::get_if<PersonAssigned>(&ev)) {
        if (p->grid_id && !view.grid(*p->grid_id)) return unprocessable("data.grid_id: unknown grid " + q(*p->grid_id));
        if (p->dept_id && !view.department(*p->dept_id))
            return unprocessable("data.dept_id: unknown department " + q(*p->dept_id));
        return ev;
    }
    if (std::holds_alternative<CalendarSet>(ev)) {
        try {
            Config probe;
            pj::apply_config(probe, ev);
        } catch (const std::invalid_argument& e) {
            return unprocessable(std::string("data.") + e.what());
        }
    }
    return ev;
}

Result<Event> decide_member(const View& view, const Event& ev, Instant) {
    const std::string& id = *member_id_of(ev);
    const Member* m = view.member(id);
    auto known_grid = [&](const std::string& field, const std::string& grid) -> std::optional<Error> {
        if (!view.grid(grid)) return unprocessable("data." + field + ": unknown grid " + q(grid));
        return std::nullopt;
    };
    if (auto r = std::get_if<MemberRegistered>(&ev)) {
        if (m) return refuse("member " + q(id) + " is already registered");
        if (auto e = known_grid("home_branch", r->home_branch)) return *e;
        if (auto e = known_grid("residence_grid", r->residence_grid)) return *e;
        if (!holds_branch(view.grid(r->home_branch)->level))
            return unprocessable("data.home_branch: " + q(r->home_branch) + " is a micro-grid, which holds no party branch");
        return ev;
    }
    if (!m) return unprocessable("data.member_id: unknown member " + q(id));
    if (auto r = std::get_if<MemberRelocated>(&ev)) {
        if (auto e = known_grid("to_grid", r->to_grid)) return *e;
        if (r->to_grid == m->residence_grid) return unprocessable("data.to_grid: member " + q(id) + " already lives in " + q(r->to_grid));
    } else if (auto r = std::get_if<MemberReportedIn>(&ev)) {
        if (auto e = known_grid("grid_id", r->grid_id)) return *e;
        if (r->grid_id != m->residence_grid)
            return unprocessable("data.grid_id: member " + q(id) + " reports in at the residence grid " + q(m->residence_grid) +
                                 ", not " + q(r->grid_id));
    } else if (auto t = std::get_if<MembershipTransferred>(&ev)) {
        if (auto e = known_grid("to_branch", t->to_branch)) return *e;
        if (!holds_branch(view.grid(t->to_branch)->level))
            return unprocessable("data.to_branch: " + q(t->to_branch) + " is a micro-grid, which holds no party branch");
        if (t->to_branch == m->home_branch)
            return unprocessable("data.to_branch: member " + q(id) + " already belongs to " + q(t->to_branch));
    } else if (auto a = std::get_if<PointsAwarded>(&ev)) {
        if (a->case_id && !view.find_case(*a->case_id)) return unprocessable("data.case_id: unknown case " + q(*a->case_id));
    } else if (auto r = std::get_if<PointsRedeemed>(&ev)) {
        if (r->points > m->points)
            return refuse("data.points: member " + q(id) + " has " + std::to_string(m->points) + " points, cannot redeem " +
                          std::to_string(r->points));
    }
    return ev;
}

Result<Event> decide_case(const View& view, const Event& ev, std::string_view actor) {
    const std::string& id = *case_id_of(ev);
    const Case* c = view.find_case(id);
    const std::string type(type_name(ev));
    if (auto r = std::get_if<IssueReported>(&ev)) {
        if (c) return refuse("case " + q(id) + " already exists");
        IssueReported routed = *r;
        if (r->grid_id) {
            const Grid* g = view.grid(*r->grid_id);
            if (!g) return unprocessable("data.grid_id: unknown grid " + q(*r->grid_id));
            if (g->level != Level::micro)
                return unprocessable("data.grid_id: " + q(*r->grid_id) + " is a " + std::string(to_string(g->level)) +
                                     "; cases are reported in a micro-grid");
        } else {
            // Routing by location; the routed grid is stored with the event, so replay never re-routes.
            const double lat = r->location->lat, lng = r->location->lng;
            auto found = view.route(lat, lng);
            if (!found) {
                std::string m = "data.location: no micro-grid boundary contains (" + std::to_string(lat) + ", " + std::to_string(lng) + ")";
                if (auto near = view.nearest_micro(lat, lng))
                    m += "; the nearest micro-grid is " + q(near->grid_id) + ", " + std::to_string(std::llround(near->metres)) + " m away";
                return unprocessable(m + "; give data.grid_id");
            }
            routed.grid_id = std::move(*found);
        }
        return Event{std::move(routed)};
    }
    if (!c) return refuse(type + " refused: case " + q(id) + " does not exist (only IssueReported can start a case)");
    const std::string state(to_string(c->state));
    auto not_accepted = [&] { return refuse(type + " refused: case " + q(id) + " is " + state); };
    const bool open = c->state == CaseState::open;
    if (auto e = std::get_if<IssueEscalated>(&ev)) {
        if (!open) return not_accepted();
        if (e->automatic && actor != system_actor) return unprocessable("data.auto: only the engine writes automatic escalations");
        if (e->to_rung <= c->rung)
            return refuse("data.to_rung: " + q(to_string(e->to_rung)) + " is not above " + q(to_string(c->rung)));
        if (!pj::has_rung(c->rungs, e->to_rung))
            return refuse("data.to_rung: " + q(to_string(e->to_rung)) + " does not exist for case " + q(id) + " (no such level above " +
                          q(c->grid_id) + ")");
        if (e->to_rung == Rung::department) {
            const Department* d = view.department(*e->dept_id);
            if (!d) return unprocessable("data.dept_id: unknown department " + q(*e->dept_id));
            if (!serves(view, *d, c->grid_id))
                return unprocessable("data.dept_id: department " + q(*e->dept_id) + " does not serve grid " + q(c->grid_id));
        }
        return ev;
    }
    if (auto e = std::get_if<IssueReturned>(&ev)) {
        if (!open || c->rung != Rung::department)
            return refuse("IssueReturned refused: case " + q(id) + " is not with a department (it is " + state + " at rung " +
                          q(to_string(c->rung)) + ")");
        if (c->dept_id != e->dept_id)
            return refuse("data.dept_id: case " + q(id) + " is with department " + q(c->dept_id.value_or("")) + ", not " + q(e->dept_id));
        return ev;
    }
    if (auto e = std::get_if<IssueHandled>(&ev)) {
        if (!open) return not_accepted();
        if (e->volunteers)
            for (const auto& v : *e->volunteers)
                if (!view.member(v)) return unprocessable("data.volunteers: unknown member " + q(v));
        return ev;
    }
    if (std::holds_alternative<IssueDiscussed>(ev) || std::holds_alternative<IssueSupervised>(ev) ||
        std::holds_alternative<IssueDismissed>(ev))
        return open ? Result<Event>(ev) : Result<Event>(not_accepted());
    if (std::holds_alternative<FeedbackGiven>(ev))
        return c->state == CaseState::handled ? Result<Event>(ev) : Result<Event>(not_accepted());
    if (std::holds_alternative<SatisfactionRated>(ev))
        return c->state == CaseState::fed_back ? Result<Event>(ev) : Result<Event>(not_accepted());
    return not_accepted();
}

} // namespace

Result<Event> decide(const View& view, const Posted& posted, std::string_view actor, Instant now) {
    if (posted.occurred_at && *posted.occurred_at > now + std::chrono::minutes(5))
        return unprocessable("event.occurred_at " + format_time(*posted.occurred_at) + " lies in the future");
    if (posted.expected_version) {
        const auto current = view.stream_version(posted.event);
        if (current != *posted.expected_version)
            return conflict("stream " + q(stream_of(posted.event)) + " is at version " + std::to_string(current) + ", expected " +
                            std::to_string(*posted.expected_version));
    }
    const Event& ev = posted.event;
    if (case_id_of(ev)) return decide_case(view, ev, actor);
    if (member_id_of(ev)) return decide_member(view, ev, now);
    return decide_org(view, ev);
}

} // namespace gridloop::engine
