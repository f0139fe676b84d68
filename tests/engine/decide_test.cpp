// The case state machine of the contract, both ways: every accepted and every refused transition,
// and the grid, department and member rules of decide. Through the real engine on a real file.
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>

using namespace gridloop;
using events::errc;
using nlohmann::json;
using testing::EngineFixture;

namespace {

json report(const std::string& id, const std::string& grid = "m1") { return EngineFixture::report(id, grid); }

// A valid instance of every closed-loop event for case `id` (the escalation goes one rung up).
std::map<std::string, json> every_case_event(const std::string& id) {
    return {
        {"IssueReported", report(id)},
        {"IssueDiscussed", EngineFixture::ev("IssueDiscussed", {{"case_id", id}, {"participants", {"p-1"}}, {"decision", "会商处置"}})},
        {"IssueEscalated", EngineFixture::ev("IssueEscalated", {{"case_id", id}, {"to_rung", "micro_head"}, {"reason", "需会商"}})},
        {"IssueReturned", EngineFixture::ev("IssueReturned", {{"case_id", id}, {"dept_id", "d"}, {"reason", "非本部门"}})},
        {"IssueSupervised", EngineFixture::ev("IssueSupervised", {{"case_id", id}, {"by", "p-9"}, {"note", "督办"}})},
        {"IssueHandled", EngineFixture::ev("IssueHandled", {{"case_id", id}, {"handler", "p-1"}, {"result", "已清理"}})},
        {"FeedbackGiven", EngineFixture::ev("FeedbackGiven", {{"case_id", id}, {"to", "居民"}, {"content", "已处理"}})},
        {"SatisfactionRated", EngineFixture::ev("SatisfactionRated", {{"case_id", id}, {"rating", "satisfied"}, {"solved", "yes"}, {"rater", "居民"}})},
        {"IssueDismissed", EngineFixture::ev("IssueDismissed", {{"case_id", id}, {"reason", "duplicate"}})},
    };
}

// Events that bring a fresh case into `state`.
std::vector<json> path_to(const std::string& state, const std::string& id) {
    auto e = every_case_event(id);
    if (state == "none") return {};
    if (state == "open") return {e["IssueReported"]};
    if (state == "open_department")
        return {e["IssueReported"], EngineFixture::ev("IssueEscalated", {{"case_id", id}, {"to_rung", "department"}, {"dept_id", "d"}, {"reason", "执法"}})};
    if (state == "handled") return {e["IssueReported"], e["IssueHandled"]};
    if (state == "fed_back") return {e["IssueReported"], e["IssueHandled"], e["FeedbackGiven"]};
    if (state == "closed") return {e["IssueReported"], e["IssueHandled"], e["FeedbackGiven"], e["SatisfactionRated"]};
    if (state == "dismissed") return {e["IssueReported"], e["IssueDismissed"]};
    throw std::logic_error(state);
}

} // namespace

TEST_SUITE("engine") {
TEST_CASE("the case state machine, every state × every event") {
    // state → the events it accepts (all others: 409, nothing written)
    const std::map<std::string, std::set<std::string>> accepts{
        {"none", {"IssueReported"}},
        {"open", {"IssueDiscussed", "IssueEscalated", "IssueSupervised", "IssueHandled", "IssueDismissed"}},
        {"open_department", {"IssueDiscussed", "IssueReturned", "IssueSupervised", "IssueHandled", "IssueDismissed"}},
        {"handled", {"FeedbackGiven"}},
        {"fed_back", {"SatisfactionRated"}},
        {"closed", {}},
        {"dismissed", {}},
    };
    EngineFixture f;
    f.small_town();
    int n = 0;
    for (const auto& [state, accepted] : accepts) {
        for (const auto& [type, _] : every_case_event("x")) {
            const std::string id = "c-" + std::to_string(++n);
            for (const auto& step : path_to(state, id)) REQUIRE(f.post(step));
            auto event = every_case_event(id).at(type);
            if (state == "open_department" && type == "IssueEscalated") event["data"].update({{"to_rung", "department"}, {"dept_id", "d"}});
            const auto before = f.engine->head();
            const auto version_before = f.engine->read([&](const auto& m) { auto c = m.find_case(id); return c ? c->version : 0; });
            auto r = f.post(event);
            CAPTURE(state);
            CAPTURE(type);
            if (accepted.count(type)) {
                CHECK_MESSAGE(r, (r ? "" : r.error().message));
                CHECK(f.engine->head().position == before.position + 1);
            } else {
                REQUIRE(!r);
                CHECK(r.error().code == errc::conflict);
                CHECK(f.engine->head() == before);
                CHECK(f.engine->read([&](const auto& m) { auto c = m.find_case(id); return c ? c->version : 0; }) == version_before);
            }
        }
    }
}

TEST_CASE("transitions land in the contract's next state") {
    EngineFixture f;
    f.small_town();
    auto state = [&](const std::string& id) {
        return f.engine->read([&](const auto& m) { return std::pair{m.find_case(id)->state, m.find_case(id)->rung}; });
    };
    using events::CaseState;
    using events::Rung;
    auto e = every_case_event("a");
    REQUIRE(f.post(e["IssueReported"]));
    CHECK(state("a") == std::pair{CaseState::open, Rung::worker});
    REQUIRE(f.post(e["IssueDiscussed"]));
    CHECK(state("a") == std::pair{CaseState::open, Rung::worker});
    REQUIRE(f.post(EngineFixture::ev("IssueEscalated", {{"case_id", "a"}, {"to_rung", "grid"}, {"reason", "r"}})));
    CHECK(state("a") == std::pair{CaseState::open, Rung::grid});
    REQUIRE(f.post(EngineFixture::ev("IssueEscalated", {{"case_id", "a"}, {"to_rung", "department"}, {"dept_id", "d"}, {"reason", "r"}})));
    CHECK(state("a") == std::pair{CaseState::open, Rung::department});
    REQUIRE(f.post(e["IssueReturned"]));
    CHECK(state("a") == std::pair{CaseState::open, Rung::grid}); // back to the rung that dispatched it
    REQUIRE(f.post(e["IssueSupervised"]));
    CHECK(state("a") == std::pair{CaseState::open, Rung::grid});
    REQUIRE(f.post(e["IssueHandled"]));
    CHECK(state("a").first == CaseState::handled);
    REQUIRE(f.post(e["FeedbackGiven"]));
    CHECK(state("a").first == CaseState::fed_back);
    SUBCASE("unsatisfied reopens at the same rung, next round") {
        REQUIRE(f.post(EngineFixture::ev("SatisfactionRated", {{"case_id", "a"}, {"rating", "unsatisfied"}, {"solved", "unknown"}, {"rater", "r"}})));
        CHECK(state("a") == std::pair{CaseState::open, Rung::grid});
        CHECK(f.engine->read([](const auto& m) { return m.find_case("a")->round; }) == 2);
    }
    SUBCASE("satisfied but not solved also reopens") {
        REQUIRE(f.post(EngineFixture::ev("SatisfactionRated", {{"case_id", "a"}, {"rating", "satisfied"}, {"solved", "no"}, {"rater", "r"}})));
        CHECK(state("a").first == CaseState::open);
    }
    SUBCASE("basically satisfied with solved unknown closes") {
        REQUIRE(f.post(EngineFixture::ev("SatisfactionRated", {{"case_id", "a"}, {"rating", "basically_satisfied"}, {"solved", "unknown"}, {"rater", "r"}})));
        CHECK(state("a").first == CaseState::closed);
    }
}

TEST_CASE("escalation rules: above the current rung, existing for the case, departments that serve it") {
    EngineFixture f;
    f.small_town();
    REQUIRE(f.post(report("a", "m1")));
    REQUIRE(f.post(report("b", "m3"))); // m3 hangs directly under the community: no `grid` rung
    auto escalate = [&](const std::string& id, const std::string& rung, std::optional<std::string> dept = {}, const std::string& actor = "admin") {
        json d{{"case_id", id}, {"to_rung", rung}, {"reason", "r"}};
        if (dept) d["dept_id"] = *dept;
        return f.post(EngineFixture::ev("IssueEscalated", d), actor);
    };
    auto r = escalate("a", "worker");
    REQUIRE(!r);
    CHECK(r.error().code == errc::conflict);
    CHECK(r.error().message.find("\"worker\" is not above \"worker\"") != std::string::npos);
    r = escalate("b", "grid");
    REQUIRE(!r);
    CHECK(r.error().code == errc::conflict);
    CHECK(r.error().message.find("does not exist") != std::string::npos);
    REQUIRE(escalate("b", "community"));
    r = escalate("b", "micro_head");
    REQUIRE(!r);
    CHECK(r.error().message.find("is not above \"community\"") != std::string::npos);
    r = escalate("a", "department", "nope");
    REQUIRE(!r);
    CHECK(r.error().code == errc::unprocessable);
    r = escalate("a", "department", "far");
    REQUIRE(!r);
    CHECK(r.error().code == errc::unprocessable);
    CHECK(r.error().message.find("does not serve") != std::string::npos);
    SUBCASE("only the engine writes auto escalations") {
        auto a = f.post(EngineFixture::ev("IssueEscalated", {{"case_id", "a"}, {"to_rung", "grid"}, {"reason", "timeout"}, {"auto", true}}));
        REQUIRE(!a);
        CHECK(a.error().message.find("data.auto") != std::string::npos);
        CHECK(f.post(EngineFixture::ev("IssueEscalated", {{"case_id", "a"}, {"to_rung", "grid"}, {"reason", "timeout"}, {"auto", true}}), "system"));
    }
    SUBCASE("a return must come from the department holding the case") {
        REQUIRE(escalate("a", "department", "d"));
        auto ret = f.post(EngineFixture::ev("IssueReturned", {{"case_id", "a"}, {"dept_id", "far"}, {"reason", "r"}}));
        REQUIRE(!ret);
        CHECK(ret.error().code == errc::conflict);
    }
}

TEST_CASE("returns go back to the dispatcher, then to the town after max_returns") {
    EngineFixture f;
    f.small_town();
    REQUIRE(f.post(report("a")));
    auto rung = [&] { return f.engine->read([](const auto& m) { return m.find_case("a")->rung; }); };
    auto dispatch = [&] {
        REQUIRE(f.post(EngineFixture::ev("IssueEscalated", {{"case_id", "a"}, {"to_rung", "department"}, {"dept_id", "d"}, {"reason", "r"}})));
    };
    auto give_back = [&] { REQUIRE(f.post(EngineFixture::ev("IssueReturned", {{"case_id", "a"}, {"dept_id", "d"}, {"reason", "r"}}))); };
    dispatch();
    give_back();
    CHECK(rung() == events::Rung::worker);
    dispatch();
    give_back();
    CHECK(rung() == events::Rung::worker);
    dispatch();
    give_back(); // the third return: arbitration by the town
    CHECK(rung() == events::Rung::town);
    CHECK(f.engine->read([](const auto& m) { return m.find_case("a")->returns_by_dept.at("d"); }) == 3);
}

TEST_CASE("grid tree rules") {
    EngineFixture f;
    f.small_town();
    auto grid = [&](const std::string& id, const std::string& level, json parent) {
        return f.post(EngineFixture::ev("GridDefined", {{"grid_id", id}, {"name", "n"}, {"level", level}, {"parent_id", parent}}));
    };
    auto r = grid("g", "grid", "c");
    REQUIRE(!r);
    CHECK(r.error().code == errc::conflict);
    r = grid("x", "micro", "nowhere");
    REQUIRE(!r);
    CHECK(r.error().code == errc::unprocessable);
    CHECK(r.error().message.find("unknown grid \"nowhere\"") != std::string::npos);
    r = grid("x", "community", "g");
    REQUIRE(!r);
    CHECK(r.error().message.find("not above a community") != std::string::npos);
    r = grid("x", "micro", "m1");
    REQUIRE(!r);
    CHECK(grid("x", "micro", "t"));
    auto rep = f.post(report("z", "c"));
    REQUIRE(!rep);
    CHECK(rep.error().message.find("micro-grid") != std::string::npos);
    rep = f.post(report("z", "nope"));
    REQUIRE(!rep);
    CHECK(rep.error().code == errc::unprocessable);
}

TEST_CASE("member rules: known grids, no moves to where one is, no overdraw") {
    EngineFixture f;
    f.small_town();
    auto member = [&](json data) { return f.post(EngineFixture::ev("MemberRegistered", data)); };
    json m{{"member_id", "mb"}, {"name", "李明"}, {"category", "mobile"}, {"home_branch", "g"}, {"residence_grid", "m1"}};
    REQUIRE(member(m));
    auto r = member(m);
    REQUIRE(!r);
    CHECK(r.error().code == errc::conflict);
    m["member_id"] = "mb2";
    m["home_branch"] = "m1";
    r = member(m);
    REQUIRE(!r);
    CHECK(r.error().message.find("holds no party branch") != std::string::npos);
    auto expect = [&](json e, errc code, const std::string& fragment) {
        auto res = f.post(e);
        REQUIRE_MESSAGE(!res, e.dump());
        CHECK(res.error().code == code);
        CHECK_MESSAGE(res.error().message.find(fragment) != std::string::npos, res.error().message);
    };
    expect(EngineFixture::ev("MemberRelocated", {{"member_id", "mb"}, {"to_grid", "m1"}}), errc::unprocessable, "already lives in");
    expect(EngineFixture::ev("MemberRelocated", {{"member_id", "ghost"}, {"to_grid", "m2"}}), errc::unprocessable, "unknown member");
    expect(EngineFixture::ev("MemberRelocated", {{"member_id", "mb"}, {"to_grid", "zz"}}), errc::unprocessable, "unknown grid");
    expect(EngineFixture::ev("MembershipTransferred", {{"member_id", "mb"}, {"to_branch", "g"}}), errc::unprocessable, "already belongs");
    expect(EngineFixture::ev("MemberReportedIn", {{"member_id", "mb"}, {"grid_id", "m2"}}), errc::unprocessable, "residence grid");
    REQUIRE(f.post(EngineFixture::ev("PointsAwarded", {{"member_id", "mb"}, {"points", 10}, {"reason", "志愿服务"}})));
    expect(EngineFixture::ev("PointsRedeemed", {{"member_id", "mb"}, {"points", 11}, {"item", "大米"}}), errc::conflict, "has 10 points");
    REQUIRE(f.post(EngineFixture::ev("PointsRedeemed", {{"member_id", "mb"}, {"points", 10}, {"item", "大米"}})));
    CHECK(f.engine->read([](const auto& model) { return model.member("mb")->points; }) == 0);
    // Relocation keeps the branch; transfer keeps the residence.
    REQUIRE(f.post(EngineFixture::ev("MemberRelocated", {{"member_id", "mb"}, {"to_grid", "m3"}})));
    REQUIRE(f.post(EngineFixture::ev("MembershipTransferred", {{"member_id", "mb"}, {"to_branch", "c"}})));
    f.engine->read([](const auto& model) {
        CHECK(model.member("mb")->residence_grid == "m3");
        CHECK(model.member("mb")->home_branch == "c");
    });
}

TEST_CASE("a calendar with an unknown zone is refused") {
    EngineFixture f;
    auto r = f.post(EngineFixture::ev("CalendarSet", {{"timezone", "Mars/Olympus"}, {"workdays", {1}}, {"work_hours", {"09:00", "17:00"}}}));
    REQUIRE(!r);
    CHECK(r.error().code == errc::unprocessable);
    CHECK(r.error().message.find("Mars/Olympus") != std::string::npos);
}
}
