// The contract's metrics on a small log whose figures are worked out by hand, folded purely
// (no engine, no store): the model is a function of the envelopes alone.
#include "events/json_writer.hpp"
#include "projections/metrics.hpp"
#include "tests/support/hand_log.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <limits>
#include <random>
#include <set>

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

TEST_CASE("the metrics written as text are byte for byte the DOM's dump") {
    const auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
    const Log log = worked_example();
    for (const char* root : {"t", "c", "m1", "m3", "nowhere"}) {
        CAPTURE(root);
        for (const auto& now : {"2026-11-16T10:00:00", "2026-11-20T16:00:00", "2027-03-01T00:00:00"}) {
            const auto m = projections::compute_metrics(log.model, root, {}, *parse_time(std::string(now) + "+08:00"));
            std::string text;
            projections::write_json(text, m);
            CHECK(text == dump(to_json(m)));
        }
    }
    // Members beside the metrics land where a JSON object would sort them, before, between and after.
    projections::Metrics m;
    m.reported = 3, m.closed = 2, m.dismissed = 1, m.handled_total = 2, m.handled_on_time = 1;
    m.median_handle_hours = 1.0 / 3;
    m.open_by_rung[static_cast<std::size_t>(Rung::town)] = 4;
    m.overdue_by_rung[static_cast<std::size_t>(Rung::town)] = 1;
    m.open_by_rung[static_cast<std::size_t>(Rung::community)] = 2;
    m.categories = {{"b", 2}, {"a", 2}, {"c", 9}, {"d", 1}, {"e", 1}, {"f", 1}, {"g", 1}, {"h", 1}, {"i", 1}, {"j", 1}, {"k", 1}, {"l", 0}};
    m.returns = {{"x", 1}, {"控制\n\"中\"", 2}, {std::string("bad\xff\x01"), 3}};
    json want = to_json(m);
    want["a"] = json::array();
    want["evaluated_at"] = "2026-11-20T08:00:00.000Z";
    want["grid_id"] = "t\t01";
    want["to"] = nullptr;
    want["zz"] = 1.5;
    std::string grid_id;
    gridloop::events::put_json_string(grid_id, "t\t01");
    const projections::JsonMember extra[] = {
        {"a", "[]"}, {"evaluated_at", "\"2026-11-20T08:00:00.000Z\""}, {"grid_id", grid_id}, {"to", "null"}, {"zz", "1.5"}};
    std::string text;
    projections::write_json(text, m, extra);
    CHECK(text == dump(want));
    // The daily series.
    const auto& cal = log.model.config().calendar;
    const auto now = *parse_time("2026-11-20T16:00:00+08:00");
    const auto [first, last] = projections::series_days({parse_time("2026-11-10T00:00:00+08:00"), std::nullopt}, now, cal);
    const auto series = projections::daily_series(log.model, "t", first, last, now);
    std::string days;
    projections::write_json(days, series);
    CHECK(days == dump(to_json(series)));
    days.clear();
    projections::write_json(days, std::vector<projections::DailyPoint>{});
    CHECK(days == "[]");
    using namespace std::chrono;
    const std::vector<projections::DailyPoint> odd{
        {local_days{year{5} / 1 / 9}, 1, 2, 3}, {local_days{year{12345} / 12 / 31}}, {local_days{year{-1} / 2 / 3}},
        {local_days{year{2026} / 11 / 22}, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
         std::numeric_limits<std::int64_t>::min()},
        {local_days{year{-32767} / 1 / 1}, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::min(),
         std::numeric_limits<std::int64_t>::min()}};
    days.clear();
    projections::write_json(days, odd);
    CHECK(days == dump(to_json(odd)));
}

TEST_CASE("sorted blocks: ranks, inserts and erases against a multiset") {
    std::mt19937_64 rng(5);
    projections::SortedBlocks blocks;
    std::multiset<std::int64_t> want;
    const auto check_ranks = [&] {
        REQUIRE(blocks.size() == static_cast<std::int64_t>(want.size()));
        std::int64_t k = 0;
        for (auto it = want.begin(); it != want.end(); ++it, ++k) {
            const auto next = std::next(it) == want.end() ? *it : *std::next(it);
            if (blocks.at_rank(k) != std::pair{*it, next}) {
                FAIL_CHECK("rank " << k << " of " << want.size());
                return;
            }
        }
        for (const auto& b : blocks.blocks()) CHECK((!b.empty() && b.size() <= blocks.max_block()));
    };
    // Grow well past a block with many duplicates (splits), check, then erase most (merges), check.
    for (int i = 0; i < 20000; ++i) {
        const auto x = static_cast<std::int64_t>(rng() % 3000) * (i % 7 == 0 ? -1 : 1);
        blocks.insert(x);
        want.insert(x);
    }
    check_ranks();
    CHECK(blocks.blocks().size() > 10);
    CHECK_FALSE(blocks.erase(123456789));
    for (int i = 0; i < 19000; ++i) {
        const auto x = static_cast<std::int64_t>(rng() % 3000) * (i % 7 == 0 ? -1 : 1);
        const auto it = want.find(x);
        CHECK(blocks.erase(x) == (it != want.end()));
        if (it != want.end()) want.erase(it);
        if (i % 997 == 0) { // and some inserts among the erases
            blocks.insert(x + 1);
            want.insert(x + 1);
        }
    }
    check_ranks();
    // Built again from its values (a snapshot, a bulk build): the same ranks, blocks half full; values
    // out of order are refused.
    const auto values = blocks.values();
    CHECK(values == std::vector<std::int64_t>(want.begin(), want.end()));
    const projections::SortedBlocks copy(values);
    CHECK(copy.size() == blocks.size());
    CHECK(copy.values() == values);
    for (const auto& b : copy.blocks()) CHECK(b.size() <= copy.max_block() / 2);
    for (std::int64_t k = 0; k < copy.size(); k += 7) CHECK(copy.at_rank(k) == blocks.at_rank(k));
    CHECK_THROWS_AS(projections::SortedBlocks(std::vector<std::int64_t>{1, 2, 0}), std::invalid_argument);
    while (!want.empty()) {
        CHECK(blocks.erase(*want.begin()));
        want.erase(want.begin());
    }
    CHECK(blocks.size() == 0);
    CHECK(blocks.blocks().empty());
}
}
