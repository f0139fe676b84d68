// The sample town: deterministic, sized like the source documents' town, walking every path of the
// loop, and valid step by step under an independent checker of the contract.
#include "samples/town.hpp"
#include "tests/samples/checker.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

namespace {

using gridloop::samples::Step;
using gridloop::samples::check::CaseInfo;
using gridloop::samples::check::Checker;

const std::vector<Step>& town() {
    static const std::vector<Step> steps = gridloop::samples::sample_town();
    return steps;
}

const Checker& checked_town() {
    static const Checker checker = [] {
        Checker c;
        for (const auto& s : town()) c.feed(s);
        c.finish();
        return c;
    }();
    return checker;
}

int count_cases(const std::function<bool(const CaseInfo&)>& pred) {
    const auto& cases = checked_town().cases;
    return static_cast<int>(std::count_if(cases.begin(), cases.end(), [&](const auto& kv) { return pred(kv.second); }));
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// `needle` occurs in `types` as a subsequence.
bool walks(const std::vector<std::string>& types, std::initializer_list<const char*> needle) {
    auto it = types.begin();
    for (const char* n : needle) {
        it = std::find(it, types.end(), std::string(n));
        if (it == types.end()) return false;
        ++it;
    }
    return true;
}

} // namespace

TEST_SUITE("samples") {

TEST_CASE("the sample town is deterministic") {
    const auto again = gridloop::samples::sample_town();
    REQUIRE(again.size() == town().size());
    CHECK(again == town());
}

TEST_CASE("the sample town replays with no refusal under the contract's rules") {
    const Checker& c = checked_town();
    CHECK_MESSAGE(c.errors().empty(), gridloop::samples::check::first_errors(c));
    CHECK(c.steps() == town().size());
}

TEST_CASE("the sample town's clock, ids and event ids") {
    REQUIRE(!town().empty());
    std::set<std::string> ids;
    for (std::size_t i = 0; i < town().size(); ++i) {
        const Step& s = town()[i];
        if (i > 0) CHECK(town()[i - 1].at <= s.at);
        CHECK(ids.insert(s.posted.at("event_id").get<std::string>()).second);
        CHECK(!s.actor.empty());
    }
    // Organisation on 1 May, cases from 6 May, the history ending on 20 November 2026.
    CHECK(gridloop::events::format_time(town().front().at).substr(0, 10) == "2026-05-01");
    CHECK(gridloop::events::format_time(town().back().at).substr(0, 10) == "2026-11-20");
    const auto first_case = std::find_if(town().begin(), town().end(), [](const Step& s) { return s.posted["type"] == "IssueReported"; });
    REQUIRE(first_case != town().end());
    CHECK(gridloop::events::format_time(first_case->at) >= "2026-05-06");
    // The posted calendar knows the National Day holiday and its make-up Saturday.
    const auto cal = std::find_if(town().begin(), town().end(), [](const Step& s) { return s.posted["type"] == "CalendarSet"; });
    REQUIRE(cal != town().end());
    CHECK(has(cal->posted["data"]["holidays"].get<std::vector<std::string>>(), "2026-10-01"));
    CHECK(has(cal->posted["data"]["makeup_workdays"].get<std::vector<std::string>>(), "2026-10-10"));
    CHECK(cal->posted["data"]["timezone"] == "Asia/Shanghai");
}

TEST_CASE("the sample town's organisation") {
    const Checker& c = checked_town();
    CHECK(c.grids_by_level.at("town") == 1);
    CHECK(c.grids_by_level.at("community") == 1);
    CHECK(c.grids_by_level.at("grid") == 7);
    CHECK(c.grids_by_level.at("micro") >= 28);
    CHECK(c.stations == 14);
    for (const char* kind : {"police", "city_management", "market_supervision", "municipal", "judicial"}) {
        CAPTURE(kind);
        CHECK(c.dept_kinds.count(kind) == 1);
    }
    CHECK(c.dept_serves.size() == 5);
    for (const char* role : {"worker", "micro_head", "grid_head", "town_head", "department_staff"}) {
        CAPTURE(role);
        CHECK(c.persons_by_role.count(role) == 1);
    }
    for (const char* team : {"management", "work", "volunteer", "joint"}) {
        CAPTURE(team);
        CHECK(c.persons_by_team.count(team) == 1);
    }
    // Every micro-grid has a worker and a head; some micro-grids sit directly under the community.
    int direct = 0;
    for (const auto& [id, g] : c.grids)
        if (g.first == "micro" && c.grids.at(g.second).first == "community") ++direct;
    CHECK(direct >= 1);
    CHECK(c.type_counts.at("PolicySet") == 1);
    CHECK(c.type_counts.at("CalendarSet") == 1);
}

TEST_CASE("the sample town's members") {
    const Checker& c = checked_town();
    const auto total = c.members.size();
    CHECK(total >= 300);
    for (const char* cat : {"in_service", "retired", "mobile", "unemployed", "enterprise", "farmer"}) {
        CAPTURE(cat);
        CHECK(c.members_by_category.count(cat) == 1);
    }
    const double mobile = static_cast<double>(c.members_by_category.at("mobile")) / static_cast<double>(total);
    CHECK(mobile > 0.30);
    CHECK(mobile < 0.37);
    CHECK(c.type_counts.at("MemberRelocated") >= 10);
    CHECK(c.type_counts.at("MembershipTransferred") >= 5);
    CHECK(c.type_counts.at("MemberReportedIn") >= 100);
    CHECK(c.type_counts.at("MemberContacted") >= 200);
    CHECK(c.type_counts.at("PointsAwarded") >= 50);
    CHECK(c.type_counts.at("PointsRedeemed") >= 10);
    // About twenty have not been seen for more than 90 days at the end of the history.
    const int lost = c.lost_contact();
    CHECK(lost >= 15);
    CHECK(lost <= 25);
    // Outflow: members living outside their home branch (residence's parent is not the branch).
    int outflow = 0;
    for (const auto& [id, m] : c.members)
        if (c.grids.at(m.residence).second != m.home) ++outflow;
    CHECK(outflow >= 20);
    // Points awarded for helping with a case.
    int for_cases = 0;
    for (const auto& s : town())
        if (s.posted["type"] == "PointsAwarded" && s.posted["data"].contains("case_id")) ++for_cases;
    CHECK(for_cases >= 10);
}

TEST_CASE("the sample town's cases walk every path of the loop") {
    const Checker& c = checked_town();
    CHECK(c.cases.size() >= 200);

    SUBCASE("solved by the worker") {
        CHECK(count_cases([](const CaseInfo& k) {
                  return k.types == std::vector<std::string>{"IssueReported", "IssueHandled", "FeedbackGiven", "SatisfactionRated"} &&
                         k.state == "closed" && k.ratings.front() == "satisfied/yes";
              }) >= 40);
    }
    SUBCASE("consulted by the micro-grid head") {
        CHECK(count_cases([](const CaseInfo& k) {
                  return !k.to_rungs.empty() && k.to_rungs.front() == "micro_head" &&
                         walks(k.types, {"IssueEscalated", "IssueDiscussed", "IssueHandled"}) && k.state == "closed";
              }) >= 10);
    }
    SUBCASE("escalated to the branch grid, the community and the town") {
        for (const char* rung : {"grid", "community", "town"}) {
            CAPTURE(rung);
            CHECK(count_cases([&](const CaseInfo& k) { return has(k.to_rungs, rung) && k.state == "closed"; }) >= 3);
        }
    }
    SUBCASE("dispatched to a department, returned, re-dispatched, supervised") {
        CHECK(count_cases([](const CaseInfo& k) { return has(k.to_rungs, "department") && k.returns == 0 && k.state == "closed"; }) >= 10);
        CHECK(count_cases([](const CaseInfo& k) {
                  return walks(k.types, {"IssueEscalated", "IssueReturned", "IssueEscalated", "IssueHandled"}) && k.state == "closed";
              }) >= 5);
        CHECK(count_cases([](const CaseInfo& k) { return k.returns == 2; }) >= 1);
        CHECK(count_cases([](const CaseInfo& k) { return k.supervised && k.rung == 5; }) >= 3);
        CHECK(count_cases([](const CaseInfo& k) { return k.supervised && k.rung == 4; }) >= 1);
    }
    SUBCASE("unsatisfied, reopened and closed in a later round") {
        CHECK(count_cases([](const CaseInfo& k) { return k.round >= 2 && k.state == "closed"; }) >= 8);
        CHECK(count_cases([](const CaseInfo& k) { return k.round >= 3; }) >= 1);
        CHECK(count_cases([](const CaseInfo& k) { return has(k.ratings, "basically_satisfied/no"); }) >= 1);
    }
    SUBCASE("dismissed for each reason") {
        for (const char* reason : {"duplicate", "not_responsible", "invalid", "out_of_scope"}) {
            CAPTURE(reason);
            CHECK(count_cases([&](const CaseInfo& k) { return k.state == "dismissed" && k.dismiss_reason == reason; }) >= 2);
        }
    }
    SUBCASE("left to time out, then handled at whatever rung") {
        CHECK(count_cases([](const CaseInfo& k) { return k.floating && k.state == "closed"; }) >= 3);
        CHECK(count_cases([](const CaseInfo& k) { return k.floating && k.state == "dismissed"; }) >= 1);
    }
    SUBCASE("still in progress at the end") {
        CHECK(count_cases([](const CaseInfo& k) { return k.state == "open" && (k.floating || k.overdue_at_end); }) >= 2);
        CHECK(count_cases([](const CaseInfo& k) { return k.state == "open" && !k.floating && !k.overdue_at_end; }) >= 3);
        CHECK(count_cases([](const CaseInfo& k) { return k.state == "handled"; }) >= 2);
        CHECK(count_cases([](const CaseInfo& k) { return k.state == "fed_back"; }) >= 1);
    }
    SUBCASE("volunteers, late phones, every source and severity") {
        CHECK(count_cases([](const CaseInfo& k) { return k.volunteers; }) >= 20);
        CHECK(count_cases([](const CaseInfo& k) { return k.occurred; }) >= 5);
        for (const char* source : {"patrol", "resident", "hotline", "camera"}) {
            CAPTURE(source);
            CHECK(count_cases([&](const CaseInfo& k) { return k.source == source; }) >= 5);
        }
        for (const char* sev : {"normal", "urgent", "major"}) {
            CAPTURE(sev);
            CHECK(count_cases([&](const CaseInfo& k) { return k.severity == sev; }) >= 3);
        }
        CHECK(count_cases([](const CaseInfo& k) { return !k.has_grid; }) >= 1);
    }
}

TEST_CASE("the checker refuses broken scripts") {
    // Each mutation of the valid town must be caught: the checker is not a rubber stamp.
    auto errors_after = [](const std::function<void(std::vector<Step>&)>& mutate) {
        std::vector<Step> steps = town();
        mutate(steps);
        Checker c;
        for (const auto& s : steps) c.feed(s);
        return c.errors().size();
    };
    auto first = [](std::vector<Step>& steps, const char* type, const std::function<bool(const Step&)>& also = nullptr) -> Step& {
        for (auto& s : steps)
            if (s.posted["type"] == type && (!also || also(s))) return s;
        throw std::runtime_error("no such step");
    };
    CHECK(errors_after([](std::vector<Step>&) {}) == 0);
    SUBCASE("feedback before handling") {
        CHECK(errors_after([&](std::vector<Step>& s) {
                  auto& h = first(s, "IssueHandled");
                  h.posted["type"] = "IssueDiscussed";
                  h.posted["data"] = {{"case_id", h.posted["data"]["case_id"]}, {"participants", {h.actor}}, {"decision", "x"}};
              }) > 0);
    }
    SUBCASE("escalation not above the current rung") {
        CHECK(errors_after([&](std::vector<Step>& s) {
                  first(s, "IssueEscalated", [](const Step& x) { return x.posted["data"]["to_rung"] == "community"; })
                      .posted["data"]["to_rung"] = "worker";
              }) > 0);
    }
    SUBCASE("return from a department by another one") {
        CHECK(errors_after([&](std::vector<Step>& s) { first(s, "IssueReturned").posted["data"]["dept_id"] = "baohua-sfs-x"; }) > 0);
    }
    SUBCASE("redeeming more than the balance") {
        CHECK(errors_after([&](std::vector<Step>& s) { first(s, "PointsRedeemed").posted["data"]["points"] = 100000; }) > 0);
    }
    SUBCASE("a clock going backwards") {
        CHECK(errors_after([&](std::vector<Step>& s) { s[s.size() / 2].at -= std::chrono::hours{24 * 30}; }) > 0);
    }
    SUBCASE("a handling long after the worker's limit, then an explicit escalation") {
        CHECK(errors_after([&](std::vector<Step>& s) {
                  // Delay the first case's escalation by a month: the rung is then unknown.
                  auto& e = first(s, "IssueEscalated");
                  const auto id = e.posted["data"]["case_id"];
                  Step moved = e;
                  moved.at += std::chrono::hours{24 * 30};
                  e.posted["type"] = "IssueDiscussed";
                  e.posted["data"] = {{"case_id", id}, {"participants", {e.actor}}, {"decision", "x"}};
                  auto pos = std::find_if(s.begin(), s.end(), [&](const Step& x) { return x.at > moved.at; });
                  s.insert(pos, moved);
              }) > 0);
    }
    SUBCASE("an unknown field in data") {
        CHECK(errors_after([&](std::vector<Step>& s) { first(s, "IssueReported").posted["data"]["colour"] = "red"; }) > 0);
    }
}

} // TEST_SUITE
