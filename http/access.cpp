// Role and scope rules.
#include "http/access.hpp"

#include "engine/decide.hpp"
#include "projections/model.hpp"

#include <algorithm>

namespace gridloop::http {

using namespace events;
using projections::Case;
using projections::Member;

bool grid_scoped(Role r) {
    return r == Role::worker || r == Role::micro_head || r == Role::grid_head || r == Role::town_head;
}

bool sees_everything(const Principal& who) {
    return who.role == Role::admin || who.role == Role::auditor || (who.role == Role::dashboard && who.scope.empty());
}

namespace {

template <class State> bool in_scope(const Principal& who, const State& s, std::string_view grid) {
    return std::any_of(who.scope.begin(), who.scope.end(), [&](const std::string& root) { return s.within(grid, root); });
}

// On the department rung with one of the principal's departments, in whatever state: a case the
// department handled stays on it for the FeedbackGiven that follows; a returned case leaves it.
// Whether the state accepts the event is the state machine's answer (409), not a scope question.
bool on_my_department(const Principal& who, const Case& c) {
    return c.rung == Rung::department && c.dept_id && std::find(who.scope.begin(), who.scope.end(), *c.dept_id) != who.scope.end();
}

std::string type_of(const Event& e) { return std::string(type_name(e)); }

} // namespace

std::optional<std::string> forbidden_post(const Principal& who, const engine::View& s, const Event& e) {
    if (who.role == Role::admin) return std::nullopt;
    if (who.role == Role::auditor || who.role == Role::dashboard)
        return "role " + std::string(to_string(who.role)) + " reads only and may not post events";
    const bool org = std::holds_alternative<GridDefined>(e) || std::holds_alternative<DepartmentRegistered>(e) ||
                     std::holds_alternative<PersonAssigned>(e) || std::holds_alternative<PolicySet>(e) ||
                     std::holds_alternative<CalendarSet>(e);
    if (org) return type_of(e) + " is for role admin only";
    if (const std::string* case_id = case_id_of(e)) {
        const Case* c = s.find_case(*case_id);
        if (who.role == Role::department_staff) {
            const bool allowed_type = std::holds_alternative<IssueHandled>(e) || std::holds_alternative<FeedbackGiven>(e) ||
                                      std::holds_alternative<IssueReturned>(e) || std::holds_alternative<IssueDiscussed>(e);
            if (!allowed_type) return "department staff may post IssueHandled, FeedbackGiven, IssueReturned and IssueDiscussed only";
            if (!c || !on_my_department(who, *c)) return "case " + *case_id + " is not with your department";
            return std::nullopt;
        }
        // The case's grid is where it was reported: a new report names it, later events find it.
        std::string grid;
        if (auto r = std::get_if<IssueReported>(&e)) grid = r->grid_id.value_or(r->location ? s.route(r->location->lat, r->location->lng).value_or("") : "");
        else if (c) grid = c->grid_id;
        if (grid.empty() || !in_scope(who, s, grid)) return "case " + *case_id + " is not within your scope";
        return std::nullopt;
    }
    if (const std::string* member_id = member_id_of(e)) {
        if (who.role == Role::department_staff) return "department staff may not post member events";
        if (auto r = std::get_if<MemberRegistered>(&e)) {
            if (in_scope(who, s, r->residence_grid) || in_scope(who, s, r->home_branch)) return std::nullopt;
            return "member " + *member_id + " is not within your scope";
        }
        const Member* m = s.member(*member_id);
        if (!m || !(in_scope(who, s, m->residence_grid) || in_scope(who, s, m->home_branch)))
            return "member " + *member_id + " is not within your scope";
        return std::nullopt;
    }
    return type_of(e) + " is for role admin only";
}

bool sees_grid(const Principal& who, const projections::Model& m, std::string_view grid) {
    if (sees_everything(who)) return true;
    if (who.role == Role::department_staff) return false;
    return in_scope(who, m, grid);
}

bool sees_case(const Principal& who, const projections::Model& m, const projections::Case& c) {
    if (sees_everything(who)) return true;
    if (who.role == Role::department_staff)
        return std::any_of(c.timeline.begin(), c.timeline.end(), [&](const projections::TimelineEntry& t) {
            return t.dept && std::find(who.scope.begin(), who.scope.end(), m.name(t.dept)) != who.scope.end();
        });
    return in_scope(who, m, c.grid_id);
}

bool sees_member(const Principal& who, const projections::Model& m, const Member& member) {
    if (sees_everything(who)) return true;
    if (who.role == Role::department_staff) return false;
    return in_scope(who, m, member.residence_grid) || in_scope(who, m, member.home_branch);
}

bool sees_department(const Principal& who, std::string_view dept) {
    if (who.role != Role::department_staff) return true;
    return std::find(who.scope.begin(), who.scope.end(), dept) != who.scope.end();
}

bool reads_grid_views(const Principal& who) { return who.role != Role::department_staff; }

} // namespace gridloop::http
