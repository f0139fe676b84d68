// The contract's metrics on a small log whose figures are worked out by hand, folded purely
// (no engine, no store): the model is a function of the envelopes alone.
#include "projections/metrics.hpp"
#include "tests/support/hand_log.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace gridloop;
using namespace gridloop::events;
using nlohmann::json;

namespace {

struct Log : testing::HandLog {
    static Log of(projections::Model m) {
        Log l;
        l.model = std::move(m);
        return l;
    }
    json metrics(const std::string& root, projections::Period p, const std::string& now) const {
        return to_json(projections::compute_metrics(model, root, p, *parse_time(now + "+08:00")));
    }
};

json report(const std::string& id, const std::string& grid) {
    return {{"case_id", id}, {"category", "garbage"}, {"description", "d"}, {"source", "patrol"}, {"grid_id", grid}};
}
json handled(const std::string& id) { return {{"case_id", id}, {"handler", "h"}, {"result", "done"}}; }
json feedback(const std::string& id) { return {{"case_id", id}, {"to", "resident"}, {"content", "done"}}; }
json rated(const std::string& id, const std::string& rating, const std::string& solved) {
    return {{"case_id", id}, {"rating", rating}, {"solved", solved}, {"rater", "resident"}};
}

// Default calendar: Mon–Fri 09:00–17:00 Asia/Shanghai. Monday = 2026-11-16.
Log worked_example() {
    Log log;
    log.add("2026-11-16T08:00:00", "GridDefined", {{"grid_id", "t"}, {"name", "t"}, {"level", "town"}, {"parent_id", nullptr}});
    log.add("2026-11-16T08:00:00", "GridDefined", {{"grid_id", "c"}, {"name", "c"}, {"level", "community"}, {"parent_id", "t"}});
    log.add("2026-11-16T08:00:00", "GridDefined", {{"grid_id", "g"}, {"name", "g"}, {"level", "grid"}, {"parent_id", "c"}});
    log.add("2026-11-16T08:00:00", "GridDefined", {{"grid_id", "m1"}, {"name", "m1"}, {"level", "micro"}, {"parent_id", "g"}});
    log.add("2026-11-16T08:00:00", "GridDefined", {{"grid_id", "m2"}, {"name", "m2"}, {"level", "micro"}, {"parent_id", "g"}});
    log.add("2026-11-16T08:00:00", "GridDefined", {{"grid_id", "m3"}, {"name", "m3"}, {"level", "micro"}, {"parent_id", "c"}});
    log.add("2026-11-16T08:00:00", "DepartmentRegistered", {{"dept_id", "d"}, {"name", "d"}, {"kind", "municipal"}, {"serves", {"c"}}});
    log.add("2026-11-16T08:00:00", "MemberRegistered",
            {{"member_id", "mb"}, {"name", "n"}, {"category", "mobile"}, {"home_branch", "g"}, {"residence_grid", "m3"}});
    // A: solved by the worker within the day (2 working hours).
    log.add("2026-11-16T09:00:00", "IssueReported", report("a", "m1"));
    // D: dismissed as a duplicate.
    log.add("2026-11-16T09:30:00", "IssueReported", report("d", "m3"));
    log.add("2026-11-16T09:40:00", "IssueDismissed", {{"case_id", "d"}, {"reason", "duplicate"}});
    // B: consulted by the micro-grid head, handled late, reopened, then closed.
    log.add("2026-11-16T10:00:00", "IssueReported", report("b", "m1"));
    log.add("2026-11-16T10:30:00", "IssueEscalated", {{"case_id", "b"}, {"to_rung", "micro_head"}, {"reason", "r"}}); // due Wed 10:30
    log.add("2026-11-16T11:00:00", "IssueReported", report("c", "m2"));
    log.add("2026-11-16T11:00:00", "IssueDiscussed", {{"case_id", "b"}, {"participants", {"p"}}, {"decision", "x"}});
    log.add("2026-11-16T11:00:00", "IssueHandled", handled("a"));
    // C: dispatched to the department and returned to the worker at 12:00 → due Tue 12:00, never handled.
    log.add("2026-11-16T11:10:00", "IssueEscalated", {{"case_id", "c"}, {"to_rung", "department"}, {"dept_id", "d"}, {"reason", "r"}});
    log.add("2026-11-16T11:30:00", "FeedbackGiven", feedback("a"));
    log.add("2026-11-16T12:00:00", "SatisfactionRated", rated("a", "satisfied", "yes"));
    log.add("2026-11-16T12:00:00", "IssueReturned", {{"case_id", "c"}, {"dept_id", "d"}, {"reason", "not ours"}});
    // E: escalated to the community (m3 has no branch grid), handled in 1 working hour, solved unknown.
    log.add("2026-11-17T09:00:00", "IssueReported", report("e", "m3"));
    log.add("2026-11-17T09:10:00", "IssueEscalated", {{"case_id", "e"}, {"to_rung", "community"}, {"reason", "r"}});
    log.add("2026-11-17T10:00:00", "IssueHandled", handled("e"));
    log.add("2026-11-17T10:30:00", "FeedbackGiven", feedback("e"));
    log.add("2026-11-17T11:00:00", "SatisfactionRated", rated("e", "satisfied", "unknown"));
    log.add("2026-11-19T09:00:00", "IssueHandled", handled("b")); // after Wed 10:30: late
    log.add("2026-11-19T09:30:00", "FeedbackGiven", feedback("b"));
    log.add("2026-11-19T10:00:00", "SatisfactionRated", rated("b", "unsatisfied", "no")); // reopen: due Mon 23 10:00
    log.add("2026-11-20T09:00:00", "IssueHandled", handled("b"));                         // on time
    log.add("2026-11-20T09:30:00", "FeedbackGiven", feedback("b"));
    log.add("2026-11-20T10:00:00", "SatisfactionRated", rated("b", "basically_satisfied", "yes"));
    return log;
}

} // namespace

TEST_SUITE("projections") {
TEST_CASE("metrics of the whole town, worked out by hand") {
    const Log log = worked_example();
    const json m = log.metrics("t", {}, "2026-11-20T16:00:00");
    CHECK(m["reported"] == 5);
    CHECK(m["open"] == 1);      // C
    CHECK(m["closed"] == 3);    // A, B, E
    CHECK(m["dismissed"] == 1); // D
    CHECK(m["overdue"] == 1);   // C, due Tue 12:00
    CHECK(m["closure_rate"].get<double>() == doctest::Approx(4.0 / 5));
    CHECK(m["solve_rate"].get<double>() == doctest::Approx(2.0 / 4));        // A, B solved yes; E unknown
    CHECK(m["on_time_rate"].get<double>() == doctest::Approx(3.0 / 4));      // A, B (2nd round), E on time; C open past due
    CHECK(m["ratings"] == 4);
    CHECK(m["satisfaction_rate"].get<double>() == doctest::Approx(3.0 / 4)); // A, E, B's second; not B's first
    CHECK(m["reopen_rate"].get<double>() == doctest::Approx(1.0 / 3));       // B
    CHECK(m["in_grid_rate"].get<double>() == doctest::Approx(2.0 / 3));      // A (worker), B (micro_head); not E
    CHECK(m["median_handle_hours"].get<double>() == doctest::Approx(2.0));   // A 2h, E 1h, B 31h
    CHECK(m["returns"] == json{{"d", 1}});
    CHECK(m["members"] == 1);
    CHECK(m["lost_contact"] == 0);
}

TEST_CASE("case details behind the figures") {
    const Log log = worked_example();
    const auto* b = log.model.find_case("b");
    REQUIRE(b);
    CHECK(b->round == 2);
    CHECK(b->handle_working_ms == 31LL * 3600 * 1000); // Mon 7h + Tue 8h + Wed 8h + Thu 8h
    CHECK(b->handled_on_time);
    const auto* c = log.model.find_case("c");
    CHECK(c->rung == Rung::worker);
    CHECK(format_time(c->due_at) == "2026-11-17T04:00:00.000Z"); // Tue 12:00 +08:00
    CHECK_FALSE(c->overdue(*parse_time("2026-11-17T11:59:59.999+08:00")));
    CHECK(c->overdue(*parse_time("2026-11-17T12:00:00+08:00")));
    CHECK(c->timeline.size() == 3);
    CHECK(c->timeline.back().type_name() == "IssueReturned");
}

TEST_CASE("subtrees and periods") {
    const Log log = worked_example();
    const json m3 = log.metrics("m3", {}, "2026-11-20T16:00:00");
    CHECK(m3["reported"] == 2);
    CHECK(m3["closure_rate"].get<double>() == doctest::Approx(1.0));
    CHECK(m3["solve_rate"].get<double>() == doctest::Approx(0.0)); // E solved unknown: 0, not null
    CHECK(m3["in_grid_rate"].get<double>() == doctest::Approx(0.0));
    const json g = log.metrics("g", {}, "2026-11-20T16:00:00");
    CHECK(g["reported"] == 3);
    CHECK(g["members"] == 0);
    projections::Period tuesday{parse_time("2026-11-17T00:00:00+08:00"), parse_time("2026-11-18T00:00:00+08:00")};
    const json t = log.metrics("t", tuesday, "2026-11-20T16:00:00");
    CHECK(t["reported"] == 1); // E alone
    CHECK(t["returns"] == json::object());
}

TEST_CASE("a zero denominator gives null, never 0 or NaN") {
    const Log log = worked_example();
    projections::Period empty{parse_time("2027-01-01T00:00:00Z"), std::nullopt};
    const json m = log.metrics("t", empty, "2026-11-20T16:00:00");
    CHECK(m["reported"] == 0);
    for (const char* k : {"closure_rate", "solve_rate", "on_time_rate", "satisfaction_rate", "reopen_rate", "in_grid_rate", "median_handle_hours"})
        CHECK_MESSAGE(m[k].is_null(), k);
    CHECK(log.metrics("nowhere", {}, "2026-11-20T16:00:00")["reported"] == 0);
}

TEST_CASE("lost contact flips exactly at the threshold") {
    const Log log = worked_example();
    // registered Mon 16 08:00, default lost_contact_after P90D
    CHECK(log.metrics("t", {}, "2027-02-14T07:59:59.999")["lost_contact"] == 0);
    CHECK(log.metrics("t", {}, "2027-02-14T08:00:00")["lost_contact"] == 1);
}

TEST_CASE("folding the same log twice gives byte-identical output, a prefix gives the as_of view") {
    const Log log = worked_example();
    projections::Model again, prefix;
    for (const auto& e : log.envelopes) again.apply(e);
    for (const auto& e : log.envelopes)
        if (e.position <= 20) prefix.apply(e);
    const auto now = "2026-11-20T16:00:00";
    CHECK(log.metrics("t", {}, now).dump() == Log::of(std::move(again)).metrics("t", {}, now).dump());
    const json p = Log::of(std::move(prefix)).metrics("t", {}, "2026-11-16T12:00:00");
    CHECK(p["reported"] == 4);
    CHECK(p["closed"] == 1);
}

TEST_CASE("dashboards: daily series by local day, open cases by rung, top categories") {
    const Log log = worked_example();
    const auto now = *parse_time("2026-11-20T16:00:00+08:00");
    const auto& cal = log.model.config().calendar;
    // Mon 16 .. Fri 20 in Asia/Shanghai: [from, to) → local days.
    const auto [first, last] = projections::series_days({parse_time("2026-11-16T00:00:00+08:00"), parse_time("2026-11-21T00:00:00+08:00")}, now, cal);
    const json d = to_json(projections::daily_series(log.model, "t", first, last, now));
    REQUIRE(d.size() == 5);
    CHECK(d[0] == json{{"date", "2026-11-16"}, {"reported", 4}, {"closed", 1}, {"overdue", 0}}); // A, D, B, C; A closed
    CHECK(d[1] == json{{"date", "2026-11-17"}, {"reported", 1}, {"closed", 1}, {"overdue", 1}}); // E; E closed; C ran out at 12:00
    CHECK(d[2] == json{{"date", "2026-11-18"}, {"reported", 0}, {"closed", 0}, {"overdue", 0}});
    CHECK(d[4] == json{{"date", "2026-11-20"}, {"reported", 0}, {"closed", 1}, {"overdue", 0}}); // B's second rating
    // The subtree only: m2 holds C alone.
    const json m2 = to_json(projections::daily_series(log.model, "m2", first, last, now));
    CHECK(m2[0]["reported"] == 1);
    CHECK(m2[1]["overdue"] == 1);
    // Without a period: the 30 days ending today; never more than 366.
    const auto [f30, l30] = projections::series_days({}, now, cal);
    CHECK((l30 - f30).count() == 29);
    CHECK(to_json(projections::daily_series(log.model, "t", f30, l30, now)).back()["date"] == "2026-11-20");
    const auto [fy, ly] = projections::series_days({parse_time("2020-01-01T00:00:00Z"), std::nullopt}, now, cal);
    CHECK((ly - fy).count() == 365);
    // The stats' breakdowns.
    const json m = log.metrics("t", {}, "2026-11-20T16:00:00");
    CHECK(m["open_by_rung"] == json{{"worker", {{"open", 1}, {"overdue", 1}}}});
    CHECK(m["top_categories"] == json::array({{{"category", "garbage"}, {"count", 5}}}));
}
}
