// Time limits in the pure folds: due_at from the policy and calendar in force when a rung's clock
// starts, overdue and on-time at the exact instant, the department queue, and the time-dependent
// metrics worked out by hand on a log that includes an automatic escalation.
#include "projections/metrics.hpp"
#include "tests/support/hand_log.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace gridloop;
using events::Rung;
using nlohmann::json;
using testing::shanghai;

namespace {

std::string iso(events::Instant t) { return events::format_time(t); }
std::string sh_iso(const std::string& local) { return iso(shanghai(local)); }

json report(const std::string& id, const std::string& grid, std::optional<std::string> severity = {}) {
    json d{{"case_id", id}, {"category", "garbage"}, {"description", "d"}, {"source", "patrol"}, {"grid_id", grid}};
    if (severity) d["severity"] = *severity;
    return d;
}
json handled(const std::string& id) { return {{"case_id", id}, {"handler", "h"}, {"result", "done"}}; }
json escalated(const std::string& id, const std::string& rung, bool automatic = false) {
    json d{{"case_id", id}, {"to_rung", rung}, {"reason", automatic ? "timeout" : "r"}};
    if (automatic) d["auto"] = true;
    return d;
}
json dispatched(const std::string& id, const std::string& dept) {
    return {{"case_id", id}, {"to_rung", "department"}, {"dept_id", dept}, {"reason", "r"}};
}
json returned(const std::string& id, const std::string& dept) { return {{"case_id", id}, {"dept_id", dept}, {"reason", "not ours"}}; }

// town t → community c → grid g → micro m1; micro m3 directly under c; departments d and e serving c.
testing::HandLog town() {
    testing::HandLog log;
    log.add("2026-04-30T08:00:00", "GridDefined", {{"grid_id", "t"}, {"name", "t"}, {"level", "town"}, {"parent_id", nullptr}});
    log.add("2026-04-30T08:00:00", "GridDefined", {{"grid_id", "c"}, {"name", "c"}, {"level", "community"}, {"parent_id", "t"}});
    log.add("2026-04-30T08:00:00", "GridDefined", {{"grid_id", "g"}, {"name", "g"}, {"level", "grid"}, {"parent_id", "c"}});
    log.add("2026-04-30T08:00:00", "GridDefined", {{"grid_id", "m1"}, {"name", "m1"}, {"level", "micro"}, {"parent_id", "g"}});
    log.add("2026-04-30T08:00:00", "GridDefined", {{"grid_id", "m3"}, {"name", "m3"}, {"level", "micro"}, {"parent_id", "c"}});
    log.add("2026-04-30T08:00:00", "DepartmentRegistered", {{"dept_id", "d"}, {"name", "d"}, {"kind", "municipal"}, {"serves", {"c"}}});
    log.add("2026-04-30T08:00:00", "DepartmentRegistered", {{"dept_id", "e"}, {"name", "e"}, {"kind", "police"}, {"serves", {"c"}}});
    return log;
}

const projections::Case& case_of(const testing::HandLog& log, const std::string& id) {
    const auto* c = log.model.find_case(id);
    REQUIRE(c);
    return *c;
}

} // namespace

TEST_SUITE("projections") {

TEST_CASE("time limits: a posted calendar with a holiday week and two make-up Saturdays shapes due_at") {
    auto log = town();
    log.add("2026-04-30T08:00:00", "CalendarSet",
            {{"timezone", "Asia/Shanghai"},
             {"workdays", {1, 2, 3, 4, 5}},
             {"work_hours", {"09:00", "17:00"}},
             {"holidays", {"2026-05-04", "2026-05-05", "2026-05-06", "2026-05-07", "2026-05-08"}},
             {"makeup_workdays", {"2026-05-02", "2026-05-09"}}});
    log.add("2026-05-01T10:00:00", "IssueReported", report("a", "m1"));
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-05-02T10:00:00")); // Friday 7h, make-up Saturday 1h
    log.add("2026-05-02T10:00:00", "IssueEscalated", escalated("a", "micro_head", true));
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-05-11T10:00:00")); // 7h on the 2nd, 8h on the 9th, 1h on Monday 11th
    log.add("2026-05-03T12:00:00", "IssueReported", report("sunday", "m1"));  // reported on a Sunday
    CHECK(iso(case_of(log, "sunday").due_at) == sh_iso("2026-05-09T17:00:00")); // the whole make-up Saturday
    log.add("2026-05-06T12:00:00", "IssueReported", report("holiday", "m3")); // in the holiday week
    CHECK(iso(case_of(log, "holiday").due_at) == sh_iso("2026-05-09T17:00:00"));
    // A calendar posted later does not move clocks already running.
    log.add("2026-05-06T13:00:00", "CalendarSet",
            {{"timezone", "Asia/Shanghai"},
             {"workdays", {1, 2, 3, 4, 5}},
             {"work_hours", {"09:00", "17:00"}},
             {"holidays", json::array()},
             {"makeup_workdays", json::array()}});
    CHECK(iso(case_of(log, "holiday").due_at) == sh_iso("2026-05-09T17:00:00"));
    log.add("2026-05-06T14:00:00", "IssueReported", report("after", "m3"));
    CHECK(iso(case_of(log, "after").due_at) == sh_iso("2026-05-07T14:00:00"));
}

TEST_CASE("time limits: the policy in force when a clock starts sets its limit") {
    auto log = town();
    log.add("2026-11-16T08:00:00", "PolicySet", {{"limits", {{"worker", "PT4H"}}}});
    log.add("2026-11-16T09:00:00", "IssueReported", report("a", "m1"));
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-11-16T13:00:00"));
    log.add("2026-11-16T10:00:00", "PolicySet", {{"limits", {{"worker", "PT1H"}, {"micro_head", "P1DT2H"}}}});
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-11-16T13:00:00")); // the running clock keeps PT4H
    log.add("2026-11-16T13:00:00", "IssueEscalated", escalated("a", "micro_head", true));
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-11-17T15:00:00")); // P1DT2H = 10 working hours
    // A PolicySet replaces only the rungs it names: grid keeps the default P3D.
    log.add("2026-11-17T15:00:00", "IssueEscalated", escalated("a", "grid", true));
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-11-20T15:00:00"));
    CHECK(log.model.config().limits.at(Rung::worker) == events::Duration{0, 3600});
}

TEST_CASE("time limits: the starting rung by severity, on the case's own ladder") {
    auto log = town();
    log.add("2026-11-16T08:00:00", "PolicySet", {{"limits", json::object()}, {"start_rung", {{"major", "grid"}, {"urgent", "micro_head"}}}});
    log.add("2026-11-16T09:00:00", "IssueReported", report("big", "m1", "major"));
    log.add("2026-11-16T09:00:00", "IssueReported", report("big3", "m3", "major")); // no grid rung above m3
    log.add("2026-11-16T09:00:00", "IssueReported", report("soon", "m1", "urgent"));
    log.add("2026-11-16T09:00:00", "IssueReported", report("plain", "m1"));
    CHECK(case_of(log, "big").rung == Rung::grid);
    CHECK(case_of(log, "big3").rung == Rung::community);
    CHECK(case_of(log, "soon").rung == Rung::micro_head);
    CHECK(case_of(log, "plain").rung == Rung::worker);
    CHECK(iso(case_of(log, "big").due_at) == sh_iso("2026-11-18T17:00:00"));  // grid P3D
    CHECK(iso(case_of(log, "soon").due_at) == sh_iso("2026-11-17T17:00:00")); // micro_head P2D
    CHECK(case_of(log, "big").highest_rung == Rung::grid);
}

TEST_CASE("time limits: overdue and on time turn exactly at due_at") {
    auto log = town();
    log.add("2026-11-16T09:00:00", "IssueReported", report("a", "m1"));
    log.add("2026-11-16T09:00:00", "IssueReported", report("b", "m1"));
    const auto& a = case_of(log, "a");
    CHECK_FALSE(a.overdue(shanghai("2026-11-16T16:59:59.999")));
    CHECK(a.overdue(shanghai("2026-11-16T17:00:00")));
    log.add("2026-11-16T16:59:59.999", "IssueHandled", handled("a"));
    log.add("2026-11-16T17:00:00", "IssueHandled", handled("b")); // as the rung runs out: late
    CHECK(case_of(log, "a").handled_on_time);
    CHECK_FALSE(case_of(log, "b").handled_on_time);
    CHECK_FALSE(case_of(log, "a").overdue(shanghai("2026-11-20T00:00:00"))); // handled: never overdue
}

TEST_CASE("time limits: supervision, returns and reopening restart the rung's clock") {
    auto log = town();
    log.add("2026-11-16T08:00:00", "PolicySet", {{"limits", json::object()}, {"max_returns", 1}});
    log.add("2026-11-16T09:00:00", "IssueReported", report("a", "m1"));
    log.add("2026-11-16T09:00:00", "IssueEscalated", escalated("a", "grid"));
    log.add("2026-11-16T10:00:00", "IssueEscalated", dispatched("a", "d"));
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-11-23T10:00:00")); // department P5D
    log.add("2026-11-17T10:00:00", "IssueSupervised", {{"case_id", "a"}, {"by", "system"}, {"note", "n"}});
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-11-24T10:00:00"));
    log.add("2026-11-17T11:00:00", "IssueReturned", returned("a", "d"));
    CHECK(case_of(log, "a").rung == Rung::grid); // back to the dispatcher
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-11-20T11:00:00")); // grid P3D from the return
    log.add("2026-11-17T12:00:00", "IssueEscalated", dispatched("a", "e"));
    log.add("2026-11-17T13:00:00", "IssueReturned", returned("a", "e")); // past max_returns = 1: the town arbitrates
    CHECK(case_of(log, "a").rung == Rung::town);
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-11-24T13:00:00")); // town P5D
    CHECK(case_of(log, "a").returns == 2);
    log.add("2026-11-18T09:00:00", "IssueHandled", handled("a"));
    log.add("2026-11-18T09:30:00", "FeedbackGiven", {{"case_id", "a"}, {"to", "r"}, {"content", "c"}});
    log.add("2026-11-18T10:00:00", "SatisfactionRated", {{"case_id", "a"}, {"rating", "unsatisfied"}, {"solved", "no"}, {"rater", "r"}});
    CHECK(case_of(log, "a").rung == Rung::town); // reopened on the same rung, with a fresh clock
    CHECK(iso(case_of(log, "a").due_at) == sh_iso("2026-11-25T10:00:00"));
}

TEST_CASE("time limits: the department queue, oldest due_at first, and as it stood at an earlier position") {
    auto log = town();
    log.add("2026-11-16T09:00:00", "IssueReported", report("q1", "m1"));
    log.add("2026-11-16T09:00:00", "IssueReported", report("q2", "m1"));
    log.add("2026-11-16T09:00:00", "IssueReported", report("q3", "m3"));
    log.add("2026-11-16T09:00:00", "IssueReported", report("q4", "m3"));
    log.add("2026-11-16T11:00:00", "IssueEscalated", dispatched("q3", "d"));
    log.add("2026-11-16T11:00:00", "IssueEscalated", dispatched("q2", "d"));
    log.add("2026-11-16T11:00:00", "IssueEscalated", dispatched("q4", "e"));
    log.add("2026-11-16T12:00:00", "IssueEscalated", dispatched("q1", "d"));
    const auto checkpoint = log.model.position();
    auto ids = [](const projections::Model& m, const std::string& dept) {
        std::vector<std::string> out;
        for (const auto* c : m.department_queue(dept)) out.push_back(c->case_id);
        return out;
    };
    CHECK(ids(log.model, "d") == std::vector<std::string>{"q2", "q3", "q1"}); // q2 and q3 tie: by case_id
    CHECK(ids(log.model, "e") == std::vector<std::string>{"q4"});
    CHECK(ids(log.model, "nobody").empty());
    log.add("2026-11-17T09:00:00", "IssueReturned", returned("q2", "d"));
    log.add("2026-11-17T09:00:00", "IssueHandled", handled("q3"));
    log.add("2026-11-17T09:00:00", "IssueDismissed", {{"case_id", "q4"}, {"reason", "invalid"}});
    log.add("2026-11-17T10:00:00", "IssueEscalated", dispatched("q2", "e"));
    CHECK(ids(log.model, "d") == std::vector<std::string>{"q1"});
    CHECK(ids(log.model, "e") == std::vector<std::string>{"q2"});
    CHECK(ids(log.prefix(checkpoint), "d") == std::vector<std::string>{"q2", "q3", "q1"});
    // Overdue is a question about a time: q1 runs out Monday 23 at 12:00.
    const auto* q1 = log.model.department_queue("d").front();
    CHECK_FALSE(q1->overdue(shanghai("2026-11-23T11:59:59.999")));
    CHECK(q1->overdue(shanghai("2026-11-23T12:00:00")));
}

TEST_CASE("time limits: on_time_rate and median_handle_hours worked out by hand, with an automatic escalation") {
    auto log = town();
    // A: reported Monday 09:00, runs out at 17:00 and climbs by itself to micro_head (due Wed 17:00),
    //    handled Tuesday 10:00: on time on the rung that handled it; 8h + 1h = 9 working hours.
    log.add("2026-11-16T09:00:00", "IssueReported", report("a", "m1"));
    // B: handled within the hour: on time, 1 working hour.
    log.add("2026-11-16T10:00:00", "IssueReported", report("b", "m1"));
    log.add("2026-11-16T11:00:00", "IssueHandled", handled("b"));
    // C: reported 11:00, due Tuesday 11:00, handled exactly then (nobody moved it): late; 6h + 2h = 8h.
    log.add("2026-11-16T11:00:00", "IssueReported", report("c", "m3"));
    // D: reported 12:00, due Tuesday 12:00, still open on Wednesday: open past due.
    log.add("2026-11-16T12:00:00", "IssueReported", report("d", "m3"));
    log.add("2026-11-16T17:00:00", "IssueEscalated", escalated("a", "micro_head", true));
    log.add("2026-11-17T10:00:00", "IssueHandled", handled("a"));
    log.add("2026-11-17T11:00:00", "IssueHandled", handled("c"));
    // E: reported Wednesday 08:00 (before work starts), due Wednesday 17:00: open, not yet due.
    log.add("2026-11-18T08:00:00", "IssueReported", report("e", "m1"));

    const auto m = projections::compute_metrics(log.model, "t", {}, shanghai("2026-11-18T09:00:00"));
    CHECK(m.reported == 5);
    CHECK(m.handled_total == 3);   // A, B, C
    CHECK(m.handled_on_time == 2); // A, B
    CHECK(m.overdue == 1);         // D
    CHECK(m.timed_out == 1);       // A climbed by itself (D has run out, but the engine has not acted yet)
    REQUIRE(m.on_time_rate());
    CHECK(*m.on_time_rate() == doctest::Approx(2.0 / 4));
    REQUIRE(m.median_handle_hours);
    CHECK(*m.median_handle_hours == doctest::Approx(8.0)); // 1, 8, 9
    CHECK(case_of(log, "a").handle_working_ms == 9LL * 3600 * 1000);
    CHECK(case_of(log, "c").handle_working_ms == 8LL * 3600 * 1000);
    CHECK(case_of(log, "a").highest_rung == Rung::micro_head);

    // At Wednesday 17:00 E has run out too; on the grid branch alone only A, B and E count.
    const auto later = projections::compute_metrics(log.model, "t", {}, shanghai("2026-11-18T17:00:00"));
    CHECK(later.overdue == 2);
    CHECK(*later.on_time_rate() == doctest::Approx(2.0 / 5));
    const auto branch = projections::compute_metrics(log.model, "g", {}, shanghai("2026-11-18T17:00:00"));
    CHECK(branch.overdue == 1);
    CHECK(*branch.on_time_rate() == doctest::Approx(2.0 / 3));
    CHECK(*branch.median_handle_hours == doctest::Approx(5.0)); // 1, 9
    // Nothing handled and nothing overdue: null, not 0.
    const auto before = projections::compute_metrics(log.prefix(8), "t", {}, shanghai("2026-11-16T09:30:00"));
    CHECK_FALSE(before.on_time_rate());
    CHECK_FALSE(before.median_handle_hours);
}

} // TEST_SUITE
