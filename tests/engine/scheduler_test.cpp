// The scheduler on a real engine and a hand-set clock: the ladder climbing by itself, supervision at
// the top, catch-up after downtime, policies and calendars in force when a clock starts, returns.
#include "engine/scheduler.hpp"
#include "engine/store.hpp"
#include "projections/metrics.hpp"
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using namespace gridloop;
using events::Instant;
using events::Rung;
using nlohmann::json;
using testing::EngineFixture;

namespace {

// Local time in Asia/Shanghai, as text so that failures print readably.
Instant sh(const std::string& local) { return *events::parse_time(local + "+08:00"); }
std::string iso(Instant t) { return events::format_time(t); }
std::string sh_iso(const std::string& local) { return iso(sh(local)); }

json report(const std::string& id, const std::string& grid = "m1", std::optional<std::string> severity = {}) {
    json d{{"case_id", id}, {"category", "garbage"}, {"description", "垃圾堆放"}, {"source", "patrol"}, {"grid_id", grid}};
    if (severity) d["severity"] = *severity;
    return EngineFixture::ev("IssueReported", d);
}
json handled(const std::string& id) { return EngineFixture::ev("IssueHandled", {{"case_id", id}, {"handler", "p-1"}, {"result", "cleared"}}); }
json escalate(const std::string& id, const std::string& rung, std::optional<std::string> dept = {}) {
    json d{{"case_id", id}, {"to_rung", rung}, {"reason", "needs more hands"}};
    if (dept) d["dept_id"] = *dept;
    return EngineFixture::ev("IssueEscalated", d);
}
json give_back(const std::string& id, const std::string& dept) {
    return EngineFixture::ev("IssueReturned", {{"case_id", id}, {"dept_id", dept}, {"reason", "not ours"}});
}

// Posts at a given local time (the clock is moved there first); REQUIREs success.
void post_at(EngineFixture& f, const std::string& local, const json& j, const std::string& actor = "admin") {
    f.clock.set(sh(local));
    auto r = f.post(j, actor);
    REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message));
}

struct CaseView {
    events::CaseState state;
    Rung rung;
    Instant due;
    std::int64_t version;
};
CaseView view(EngineFixture& f, const std::string& id) {
    return f.engine->read([&](const projections::Model& m) {
        const auto* c = m.find_case(id);
        REQUIRE(c);
        return CaseView{c->state, c->rung, c->due_at, c->version};
    });
}

// The case's stream as stored.
std::vector<events::RawEnvelope> stream(EngineFixture& f, const std::string& id) {
    return engine::StoreReader(f.path).stream("case-" + id);
}

// Every time-out written to the log, in position order, as "case:type:to_rung@recorded_at".
std::vector<std::string> timeouts(const std::string& path) {
    std::vector<std::string> out;
    engine::StoreReader store(path);
    store.scan(0, store.head().position, [&](const events::RawEnvelope& e) {
        if (e.actor != "system") return true;
        const json d = json::parse(e.data);
        out.push_back(d.at("case_id").get<std::string>() + ":" + e.type + ":" + d.value("to_rung", std::string("-")) + "@" + e.recorded_at);
        return true;
    });
    return out;
}

json policy(json limits, json extra = json::object()) {
    json d = std::move(extra);
    d["limits"] = std::move(limits);
    return EngineFixture::ev("PolicySet", d);
}

// Mon 4 .. Fri 8 May 2026 off, worked on Saturdays 2 and 9 May (调休).
json holiday_week_calendar() {
    return EngineFixture::ev("CalendarSet", {{"timezone", "Asia/Shanghai"},
                                             {"workdays", {1, 2, 3, 4, 5}},
                                             {"work_hours", {"09:00", "17:00"}},
                                             {"holidays", {"2026-05-04", "2026-05-05", "2026-05-06", "2026-05-07", "2026-05-08"}},
                                             {"makeup_workdays", {"2026-05-02", "2026-05-09"}}});
}

// Waits (briefly, bounded) until pred holds; for the tests of the live thread only.
template <class Pred> bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
}

} // namespace

TEST_SUITE("engine") {

TEST_CASE("scheduler: a case climbs worker → micro_head → grid → community → town, then the town is supervised every limit") {
    EngineFixture f; // Monday 2026-11-16 09:00 +08:00, default calendar and limits
    f.small_town();
    engine::Scheduler s(*f.engine);
    CHECK_FALSE(s.next_due());
    REQUIRE(f.post(report("a"), "p-1"));
    CHECK(view(f, "a").rung == Rung::worker);

    // P1D, P2D, P3D, P3D of 8-hour days, then P5D at the town, twice.
    const std::vector<std::pair<std::string, std::string>> ladder{
        {"2026-11-16T17:00:00", "IssueEscalated:micro_head"}, {"2026-11-18T17:00:00", "IssueEscalated:grid"},
        {"2026-11-23T17:00:00", "IssueEscalated:community"},  {"2026-11-26T17:00:00", "IssueEscalated:town"},
        {"2026-12-03T17:00:00", "IssueSupervised:-"},         {"2026-12-10T17:00:00", "IssueSupervised:-"},
    };
    for (std::size_t i = 0; i < ladder.size(); ++i) {
        const auto& [due, what] = ladder[i];
        CAPTURE(due);
        REQUIRE(s.next_due());
        CHECK(iso(*s.next_due()) == sh_iso(due));
        CHECK(iso(view(f, "a").due) == sh_iso(due));
        // One millisecond early: nothing is due yet.
        CHECK(s.run_due(sh(due) - std::chrono::milliseconds(1)) == 0);
        CHECK(s.run_due(sh(due)) == 1);
        CHECK(s.run_due(sh(due)) == 0); // a rerun writes nothing
        const auto log = stream(f, "a");
        REQUIRE(log.size() == i + 2);
        const auto& e = log.back();
        const json d = json::parse(e.data);
        CHECK(e.type + ":" + d.value("to_rung", std::string("-")) == what);
        CHECK(e.actor == "system");
        CHECK(e.recorded_at == sh_iso(due));
        CHECK(e.event_id == "timeout-a-v" + std::to_string(i + 1));
        if (e.type == "IssueEscalated") {
            CHECK(d.at("auto") == true);
            CHECK(d.at("reason") == "timeout");
        } else {
            CHECK(d.at("by") == "system");
            CHECK(d.at("note").get<std::string>().find("town") != std::string::npos);
        }
    }
    CHECK(view(f, "a").rung == Rung::town);
    CHECK(view(f, "a").state == events::CaseState::open);
    CHECK(iso(view(f, "a").due) == sh_iso("2026-12-17T17:00:00"));
    CHECK(s.take_refusals().empty());
}

TEST_CASE("scheduler: a micro-grid directly under the community skips the grid rung") {
    EngineFixture f;
    f.small_town();
    engine::Scheduler s(*f.engine);
    REQUIRE(f.post(report("b", "m3")));
    CHECK(s.run_due(sh("2026-11-16T17:00:00")) == 1);
    CHECK(s.run_due(sh("2026-11-18T17:00:00")) == 1);
    CHECK(view(f, "b").rung == Rung::community);
    CHECK(timeouts(f.path) == std::vector<std::string>{"b:IssueEscalated:micro_head@" + sh_iso("2026-11-16T17:00:00"),
                                                       "b:IssueEscalated:community@" + sh_iso("2026-11-18T17:00:00")});
}

TEST_CASE("scheduler: a department that overruns is supervised, which restarts its clock") {
    EngineFixture f;
    f.small_town();
    engine::Scheduler s(*f.engine);
    REQUIRE(f.post(report("a")));
    post_at(f, "2026-11-16T10:00:00", escalate("a", "department", "d"), "p-head");
    CHECK(iso(*s.next_due()) == sh_iso("2026-11-23T10:00:00")); // P5D = 40 working hours
    CHECK(s.run_due(sh("2026-11-23T10:00:00")) == 1);
    const auto log = stream(f, "a");
    CHECK(log.back().type == "IssueSupervised");
    CHECK(json::parse(log.back().data).at("note").get<std::string>().find("department") != std::string::npos);
    const auto c = view(f, "a");
    CHECK(c.rung == Rung::department);
    CHECK(iso(c.due) == sh_iso("2026-11-30T10:00:00"));
}

TEST_CASE("scheduler: the department queue, oldest due_at first") {
    EngineFixture f;
    f.small_town();
    engine::Scheduler s(*f.engine);
    for (const char* id : {"q1", "q2", "q3"}) REQUIRE(f.post(report(id)));
    post_at(f, "2026-11-16T11:00:00", escalate("q2", "department", "d"));
    post_at(f, "2026-11-16T11:00:00", escalate("q3", "department", "d"));
    post_at(f, "2026-11-16T12:00:00", escalate("q1", "department", "d"));
    auto queue = [&] {
        return f.engine->read([](const projections::Model& m) {
            std::vector<std::string> ids;
            for (const auto* c : m.department_queue("d")) ids.push_back(c->case_id);
            return ids;
        });
    };
    CHECK(queue() == std::vector<std::string>{"q2", "q3", "q1"}); // q2 and q3 tie on due_at: by case_id
    post_at(f, "2026-11-17T09:00:00", give_back("q2", "d"));
    post_at(f, "2026-11-17T09:30:00", handled("q3"));
    CHECK(queue() == std::vector<std::string>{"q1"});
    // Supervision moves q1's due_at, and the queue follows.
    REQUIRE(f.post(escalate("q2", "department", "d")));
    CHECK(queue() == std::vector<std::string>{"q1", "q2"});
    CHECK(s.run_due(sh("2026-11-23T12:00:00")) == 1); // q1 supervised: now due Mon 30 12:00, after q2
    CHECK(queue() == std::vector<std::string>{"q2", "q1"});
    CHECK(f.engine->read([](const projections::Model& m) { return m.department_queue("far").empty(); }));
}

TEST_CASE("scheduler: catch-up after downtime writes what ran out, once each, in due_at order") {
    EngineFixture f;
    f.small_town();
    {
        engine::Scheduler s(*f.engine);
        REQUIRE(f.post(report("zz")));                              // due Mon 17:00
        post_at(f, "2026-11-16T10:00:00", report("b"));             // due Tue 10:00
        post_at(f, "2026-11-16T10:00:00", report("a"));             // due Tue 10:00, ties with b
        post_at(f, "2026-11-16T11:00:00", report("h"));             // handled in time: never due
        post_at(f, "2026-11-16T12:00:00", handled("h"));
        post_at(f, "2026-11-16T13:00:00", report("late", "m3"));    // due Tue 13:00
        post_at(f, "2026-11-16T14:00:00", report("c"));             // due Tue 14:00
        post_at(f, "2026-11-16T14:00:00", escalate("c", "department", "d")); // due Mon 23 14:00: not yet
    }
    // Down from Monday 14:00 until Thursday 09:30.
    f.engine.reset();
    f.clock.set(sh("2026-11-19T09:30:00"));
    f.engine = std::make_unique<engine::Engine>(f.path, f.clock);
    {
        engine::Scheduler s(*f.engine);
        REQUIRE(s.next_due());
        CHECK(iso(*s.next_due()) == sh_iso("2026-11-16T17:00:00"));
        CHECK(s.run_due(f.clock.now()) == 4);
        const std::string now = sh_iso("2026-11-19T09:30:00");
        CHECK(timeouts(f.path) == std::vector<std::string>{"zz:IssueEscalated:micro_head@" + now, "a:IssueEscalated:micro_head@" + now,
                                                           "b:IssueEscalated:micro_head@" + now, "late:IssueEscalated:micro_head@" + now});
        // The new rungs' clocks start at the catch-up: micro_head P2D from Thursday 09:30.
        for (const char* id : {"zz", "a", "b", "late"}) CHECK(iso(view(f, id).due) == sh_iso("2026-11-23T09:30:00"));
        CHECK(s.run_due(f.clock.now()) == 0);
    }
    // Another restart at the same instant: nothing more.
    f.engine.reset();
    f.engine = std::make_unique<engine::Engine>(f.path, f.clock);
    engine::Scheduler again(*f.engine);
    CHECK(again.run_due(f.clock.now()) == 0);
    CHECK(timeouts(f.path).size() == 4);
    CHECK(iso(*again.next_due()) == sh_iso("2026-11-23T09:30:00"));
}

TEST_CASE("scheduler: two schedulers racing over the same due cases write each time-out once") {
    EngineFixture f;
    f.small_town();
    for (int i = 0; i < 40; ++i) REQUIRE(f.post(report("r" + std::to_string(i))));
    engine::Scheduler s1(*f.engine), s2(*f.engine);
    std::atomic<std::size_t> total{0};
    const Instant due = sh("2026-11-16T17:00:00");
    std::thread t1([&] { total += s1.run_due(due); });
    std::thread t2([&] { total += s2.run_due(due); });
    t1.join();
    t2.join();
    CHECK(total == 40);
    CHECK(timeouts(f.path).size() == 40);
    CHECK(s1.take_refusals().empty());
    CHECK(s2.take_refusals().empty());
}

TEST_CASE("scheduler: a case handled just before its due is left alone, one handled just after has climbed") {
    EngineFixture f;
    f.small_town();
    engine::Scheduler s(*f.engine);
    REQUIRE(f.post(report("early")));
    REQUIRE(f.post(report("late")));
    post_at(f, "2026-11-16T16:59:59.999", handled("early"));
    CHECK(s.run_due(sh("2026-11-16T17:00:00")) == 1);
    f.clock.set(sh("2026-11-16T17:00:00.001"));
    REQUIRE(f.post(handled("late")));
    CHECK(timeouts(f.path) == std::vector<std::string>{"late:IssueEscalated:micro_head@" + sh_iso("2026-11-16T17:00:00")});
    f.engine->read([](const projections::Model& m) {
        CHECK(m.find_case("early")->handled_on_time);
        CHECK(m.find_case("early")->rung == Rung::worker);
        CHECK(m.find_case("late")->rung == Rung::micro_head);
        CHECK(m.find_case("late")->handled_on_time); // before the due_at of the rung that handled it
    });
}

TEST_CASE("scheduler: a calendar with a holiday week and two make-up Saturdays shapes due_at and time-outs") {
    EngineFixture f;
    f.clock.set(sh("2026-04-30T08:00:00"));
    f.small_town();
    REQUIRE(f.post(holiday_week_calendar()));
    engine::Scheduler s(*f.engine);
    post_at(f, "2026-05-01T10:00:00", report("a"));
    CHECK(iso(view(f, "a").due) == sh_iso("2026-05-02T10:00:00")); // Friday 7h + make-up Saturday 1h
    CHECK(s.run_due(sh("2026-05-02T10:00:00")) == 1);
    // micro_head P2D = 16h: Saturday 10–17 (7h), the holidays pass, Saturday 9 May (8h), Monday 11 May 09–10.
    CHECK(iso(view(f, "a").due) == sh_iso("2026-05-11T10:00:00"));
    CHECK(s.run_due(sh("2026-05-09T23:59:59")) == 0);
    CHECK(s.run_due(sh("2026-05-11T10:00:00")) == 1);
    CHECK(view(f, "a").rung == Rung::grid);
}

TEST_CASE("scheduler: a policy change mid-case keeps the running clock, the next rung uses the new limit") {
    EngineFixture f;
    f.small_town();
    REQUIRE(f.post(policy({{"worker", "PT4H"}})));
    engine::Scheduler s(*f.engine);
    REQUIRE(f.post(report("a")));
    CHECK(iso(*s.next_due()) == sh_iso("2026-11-16T13:00:00"));
    post_at(f, "2026-11-16T10:00:00", policy({{"worker", "PT1H"}, {"micro_head", "PT2H"}}));
    CHECK(iso(*s.next_due()) == sh_iso("2026-11-16T13:00:00")); // not 10:00
    CHECK(s.run_due(sh("2026-11-16T12:59:59")) == 0);
    CHECK(s.run_due(sh("2026-11-16T13:00:00")) == 1);
    CHECK(iso(view(f, "a").due) == sh_iso("2026-11-16T15:00:00")); // micro_head under the new policy
    post_at(f, "2026-11-16T14:00:00", report("b"));
    CHECK(iso(view(f, "b").due) == sh_iso("2026-11-16T15:00:00")); // worker PT1H
    CHECK(s.run_due(sh("2026-11-16T15:00:00")) == 2);
    CHECK(timeouts(f.path).back() == "b:IssueEscalated:micro_head@" + sh_iso("2026-11-16T15:00:00"));
}

TEST_CASE("scheduler: the starting rung by severity, and time-outs from there") {
    EngineFixture f;
    f.small_town();
    REQUIRE(f.post(policy(json::object(), {{"start_rung", {{"major", "community"}, {"urgent", "grid"}}}})));
    engine::Scheduler s(*f.engine);
    REQUIRE(f.post(report("big", "m1", "major")));
    REQUIRE(f.post(report("quick", "m3", "urgent"))); // no grid rung above m3: the community
    REQUIRE(f.post(report("small", "m1", "normal")));
    CHECK(view(f, "big").rung == Rung::community);
    CHECK(view(f, "quick").rung == Rung::community);
    CHECK(view(f, "small").rung == Rung::worker);
    CHECK(iso(view(f, "big").due) == sh_iso("2026-11-18T17:00:00")); // community P3D
    CHECK(s.run_due(sh("2026-11-18T17:00:00")) == 3);                // one event each, small's late
    CHECK(view(f, "big").rung == Rung::town);
    CHECK(view(f, "quick").rung == Rung::town);
    CHECK(view(f, "small").rung == Rung::micro_head);
}

TEST_CASE("scheduler: returns go back to the dispatching rung with a fresh clock, after max_returns the town arbitrates") {
    EngineFixture f;
    f.small_town();
    engine::Scheduler s(*f.engine);
    REQUIRE(f.post(report("a")));
    post_at(f, "2026-11-16T09:30:00", escalate("a", "micro_head"));
    auto dispatch = [&](const std::string& at) { post_at(f, at, escalate("a", "department", "d"), "p-head"); };
    auto ret = [&](const std::string& at) { post_at(f, at, give_back("a", "d"), "p-staff"); };
    dispatch("2026-11-16T10:00:00");
    ret("2026-11-16T11:00:00");
    CHECK(view(f, "a").rung == Rung::micro_head);
    CHECK(iso(view(f, "a").due) == sh_iso("2026-11-18T11:00:00")); // micro_head P2D from the return
    dispatch("2026-11-16T12:00:00");
    ret("2026-11-16T13:00:00");
    CHECK(view(f, "a").rung == Rung::micro_head);
    dispatch("2026-11-16T14:00:00");
    ret("2026-11-16T15:00:00"); // the third return: to the town
    CHECK(view(f, "a").rung == Rung::town);
    CHECK(iso(view(f, "a").due) == sh_iso("2026-11-23T15:00:00")); // town P5D
    CHECK(s.run_due(sh("2026-11-23T15:00:00")) == 1);
    CHECK(stream(f, "a").back().type == "IssueSupervised");
    f.engine->read([](const projections::Model& m) {
        const auto* c = m.find_case("a");
        CHECK(c->returns == 3);
        CHECK(c->returns_by_dept.at("d") == 3);
        CHECK(c->rung == Rung::town);
    });
}

TEST_CASE("scheduler: metrics after an automatic escalation, worked out by hand") {
    EngineFixture f;
    f.small_town();
    engine::Scheduler s(*f.engine);
    REQUIRE(f.post(report("a")));                         // Mon 09:00, due 17:00
    post_at(f, "2026-11-16T10:00:00", report("b"));       // due Tue 10:00
    post_at(f, "2026-11-16T11:00:00", report("c"));       // due Tue 11:00
    post_at(f, "2026-11-16T11:00:00", handled("b"));      // 1 working hour, on time
    CHECK(s.run_due(sh("2026-11-16T17:00:00")) == 1);     // a → micro_head, due Wed 17:00
    post_at(f, "2026-11-17T10:00:00", handled("a"));      // 8h + 1h = 9 working hours, on time at micro_head
    // c is left open: at Tuesday 11:00 it runs out and the scheduler moves it (due Thu 11:00).
    CHECK(s.run_due(sh("2026-11-17T11:00:00")) == 1);
    auto at = [&](const std::string& now) {
        return f.engine->read([&](const projections::Model& m) { return projections::compute_metrics(m, "t", {}, sh(now)); });
    };
    auto m = at("2026-11-17T12:00:00");
    CHECK(m.handled_total == 2);
    CHECK(m.handled_on_time == 2);
    CHECK(m.overdue == 0);
    REQUIRE(m.on_time_rate());
    CHECK(*m.on_time_rate() == doctest::Approx(1.0));
    REQUIRE(m.median_handle_hours);
    CHECK(*m.median_handle_hours == doctest::Approx(5.0)); // (1 + 9) / 2
    // Had nobody moved c (the scheduler down since), Thursday 12:00 finds it open past its due.
    m = at("2026-11-19T12:00:00");
    CHECK(m.overdue == 1);
    CHECK(*m.on_time_rate() == doctest::Approx(2.0 / 3));
}

TEST_CASE("scheduler: the live thread wakes for a ManualClock and re-plans on commits") {
    EngineFixture f;
    f.small_town();
    engine::Scheduler s(*f.engine);
    s.start();
    REQUIRE(f.post(report("a")));
    f.clock.set(sh("2026-11-16T16:59:59"));
    s.wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(view(f, "a").rung == Rung::worker);
    f.clock.set(sh("2026-11-16T17:00:00"));
    s.wake();
    CHECK(eventually([&] { return view(f, "a").rung == Rung::micro_head; }));
    s.stop();
    CHECK(timeouts(f.path) == std::vector<std::string>{"a:IssueEscalated:micro_head@" + sh_iso("2026-11-16T17:00:00")});
}

TEST_CASE("scheduler: on a round-the-clock calendar with a PT1S limit the live thread escalates within a second or so") {
    const std::string path = testing::temp_db("gridloop-sched-live");
    engine::SystemClock clock;
    {
        engine::Engine e(path, clock);
        auto post = [&](const json& j, const std::string& actor = "admin") {
            auto p = events::decode_posted(j);
            REQUIRE(p);
            auto r = e.append(engine::Submission{{std::move(*p)}, actor, std::nullopt});
            REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message));
            return r->envelopes.front();
        };
        post(EngineFixture::ev("GridDefined", {{"grid_id", "t"}, {"name", "t"}, {"level", "town"}, {"parent_id", nullptr}}));
        post(EngineFixture::ev("GridDefined", {{"grid_id", "m"}, {"name", "m"}, {"level", "micro"}, {"parent_id", "t"}}));
        post(EngineFixture::ev("CalendarSet", {{"timezone", "UTC"},
                                               {"workdays", {1, 2, 3, 4, 5, 6, 7}},
                                               {"work_hours", {"00:00", "24:00"}},
                                               {"holidays", json::array()},
                                               {"makeup_workdays", json::array()}}));
        post(policy({{"worker", "PT1S"}}));
        engine::Scheduler s(e);
        s.start();
        const auto reported = post(report("a", "m"));
        const bool climbed = eventually(
            [&] { return e.read([](const projections::Model& m) { return m.find_case("a")->rung == Rung::micro_head; }); },
            std::chrono::milliseconds(2500));
        CHECK(climbed);
        s.stop();
        const auto log = engine::StoreReader(path).stream("case-a");
        REQUIRE(log.size() == 2);
        const auto waited = *events::parse_time(log[1].recorded_at) - *events::parse_time(reported.recorded_at);
        CHECK(waited >= std::chrono::seconds(1));
        CHECK(waited < std::chrono::milliseconds(1900));
    }
    testing::remove_db(path);
}

TEST_CASE("scheduler: time-out event ids are deterministic and fit the contract's 64 characters") {
    CHECK(engine::Scheduler::timeout_event_id("c-0001", 3) == "timeout-c-0001-v3");
    const std::string long_id(64, 'x');
    const auto id = engine::Scheduler::timeout_event_id(long_id, 12);
    CHECK(id.size() <= 64);
    CHECK(id == engine::Scheduler::timeout_event_id(long_id, 12));
    CHECK(id != engine::Scheduler::timeout_event_id(long_id, 13));
    CHECK(id != engine::Scheduler::timeout_event_id(std::string(63, 'x') + "y", 12));
}

TEST_CASE("scheduler: plan_until writes exactly what repeated run_due would, in one go") {
    // Two engines on the same history: one ticks run_due at every due, the other appends the plan.
    auto history = [](EngineFixture& f) {
        f.small_town();
        REQUIRE(f.post(report("a")));
        post_at(f, "2026-11-16T10:00:00", report("b", "m3"));
        post_at(f, "2026-11-16T10:00:00", escalate("b", "department", "d"));
        post_at(f, "2026-11-16T11:00:00", report("c"));
        post_at(f, "2026-11-16T11:30:00", handled("c"));
    };
    const Instant until = sh("2026-12-09T12:00:00");
    EngineFixture naive, planned;
    history(naive);
    history(planned);
    {
        engine::Scheduler s(*naive.engine);
        while (auto due = s.next_due()) {
            if (*due > until) break;
            REQUIRE(s.run_due(*due) > 0);
        }
    }
    {
        engine::Scheduler s(*planned.engine);
        engine::Scheduler::Ahead ahead;
        auto requests = s.plan_until(until, ahead);
        CHECK(requests.size() == ahead.at("a").version - 1 + ahead.at("b").version - 2);
        CHECK(iso(*s.next_due(ahead)) == iso(std::min(ahead.at("a").due_at, ahead.at("b").due_at)));
        for (const auto& r : planned.engine->append_many(std::move(requests))) CHECK(r);
        CHECK(s.plan_until(until, ahead = {}).empty());
    }
    CHECK(timeouts(naive.path) == timeouts(planned.path));
    CHECK(timeouts(naive.path).size() == 8); // a: 4 escalations and a town supervision; b: 3 department supervisions
}

} // TEST_SUITE
