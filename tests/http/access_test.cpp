// Access control without sockets (Api::handle_now): every role × every endpoint × a target inside,
// outside and missing from the role's scope, checked against an explicit table of the statuses the
// contract's Auth section and issue 6 call for; every refused write appends nothing; a scoped
// principal cannot tell a missing target from a foreign one; and the dashboard's answers over the
// whole sample town hold no name, phone-like field or free text.
#include "engine/store.hpp"
#include "http/api.hpp"
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

using namespace gridloop;
using nlohmann::json;
using http::Role;
using testing::EngineFixture;

namespace {

// ------------------------------------------------------------------ principals and their targets

constexpr std::size_t n_roles = 8;
constexpr std::array<Role, n_roles> roles{Role::admin,     Role::worker,           Role::micro_head, Role::grid_head,
                                          Role::town_head, Role::department_staff, Role::auditor,    Role::dashboard};
std::size_t col(Role r) { return static_cast<std::size_t>(r); }

struct Principal {
    const char* token;
    const char* subject;
};
// Indexed by Role.
const std::array<Principal, n_roles> principals{{
    {"tok-admin-0000000000001", "root"},
    {"tok-worker-000000000001", "p-w"},
    {"tok-micro-0000000000001", "p-mh"},
    {"tok-grid-00000000000001", "p-gh"},
    {"tok-town-00000000000001", "p-th"},
    {"tok-dept-00000000000001", "p-ds"},
    {"tok-audit-0000000000001", "aud"},
    {"tok-dash-00000000000001", "screen"},
}};
const std::string& token_of(Role r) {
    static const auto tokens = [] {
        std::array<std::string, n_roles> t;
        for (std::size_t i = 0; i < n_roles; ++i) t[i] = principals[i].token;
        return t;
    }();
    return tokens[col(r)];
}
std::string subject_of(Role r) { return principals[col(r)].subject; }

// worker and micro_head act in micro-grid m1, grid_head in grid g, town_head in town t, the
// department staff in department d; auditor and dashboard have no scope.
const char* const tokens_text = R"([
  {"token": "tok-admin-0000000000001", "subject": "root",   "role": "admin"},
  {"token": "tok-worker-000000000001", "subject": "p-w",    "role": "worker",           "scope": ["m1"]},
  {"token": "tok-micro-0000000000001", "subject": "p-mh",   "role": "micro_head",       "scope": ["m1"]},
  {"token": "tok-grid-00000000000001", "subject": "p-gh",   "role": "grid_head",        "scope": ["g"]},
  {"token": "tok-town-00000000000001", "subject": "p-th",   "role": "town_head",        "scope": ["t"]},
  {"token": "tok-dept-00000000000001", "subject": "p-ds",   "role": "department_staff", "scope": ["d"]},
  {"token": "tok-audit-0000000000001", "subject": "aud",    "role": "auditor"},
  {"token": "tok-dash-00000000000001", "subject": "screen", "role": "dashboard"}
])";

// The town (EngineFixture::small_town plus m9): t → c → g → m1, m2; m3 under c; t2 → m9.
// Department d serves c, department far serves t2.
//
// One side of a role's scope: the ids a request names when it aims inside (or outside) the scope.
struct Side {
    std::string micro;  // a micro-grid (where cases are reported, where members live)
    std::string grid;   // a grid for subtree views (stats, stars, ?grid=)
    std::string branch; // a grid for outflow/inflow
    std::string dept;   // a department (queue, ?dept=)
    std::string kase;   // a case of the read fixture
    std::string member; // a member of the read fixture
    std::string home;   // the home branch of a member registered on this side (residence = micro)
};
enum class Scope { none, in, out, missing };
const char* to_string(Scope s) {
    switch (s) {
    case Scope::none: return "-";
    case Scope::in: return "in";
    case Scope::out: return "out";
    case Scope::missing: return "missing";
    }
    return "?";
}

const Side missing_side{"nope-grid", "nope-grid", "nope-grid", "nope-dept", "nope-case", "nope-member", "nope-grid"};

// Explicit, per role: inside the scope / outside it. For the unscoped roles "out" is simply a
// target in the other town.
std::pair<Side, Side> sides_of(Role r) {
    switch (r) {
    case Role::worker:
    case Role::micro_head:
        return {{"m1", "m1", "m1", "d", "k-m1", "mem-1", "g"}, {"m2", "m2", "g", "far", "k-m2", "mem-2", "g"}};
    case Role::grid_head:
        return {{"m1", "g", "g", "d", "k-m1", "mem-1", "g"}, {"m3", "m3", "c", "far", "k-m3", "mem-3", "c"}};
    case Role::town_head:
        return {{"m1", "t", "t", "d", "k-m1", "mem-1", "g"}, {"m9", "t2", "t2", "far", "k-m9", "mem-9", "t2"}};
    case Role::department_staff:
        return {{"m1", "c", "g", "d", "k-d", "mem-1", "g"}, {"m9", "t2", "t2", "far", "k-far", "mem-9", "t2"}};
    case Role::admin:
    case Role::auditor:
    case Role::dashboard:
        return {{"m1", "t", "g", "d", "k-m1", "mem-1", "g"}, {"m9", "t2", "t2", "far", "k-m9", "mem-9", "t2"}};
    }
    return {};
}
Side side_of(Role r, Scope s) {
    if (s == Scope::missing) return missing_side;
    const auto [in, out] = sides_of(r);
    return s == Scope::out ? out : in;
}
// The department serving a micro-grid of this town.
std::string dept_serving(const std::string& micro) { return micro == "m9" ? "far" : "d"; }

// ------------------------------------------------------------------ the fixture

struct AccessFixture : EngineFixture {
    std::shared_ptr<http::Authenticator> auth = std::make_shared<http::Authenticator>(http::Tokens::parse(tokens_text));
    http::Api api{*engine, auth};
    int fresh = 0;

    AccessFixture() {
        small_town();
        must(ev("GridDefined", {{"grid_id", "m9"}, {"name", "邻镇一号楼"}, {"level", "micro"}, {"parent_id", "t2"}}));
    }

    void must(const json& j) {
        auto r = post(j);
        if (!r) FAIL("setup event refused: " << r.error().message << " — " << j.dump());
    }
    std::string next_id(const std::string& stem) { return stem + "-" + std::to_string(++fresh); }

    http::Response call(const std::string& method, const std::string& target, const std::string& body, const std::string& token) {
        http::Request r;
        r.method = method;
        r.target = target;
        r.body = body;
        if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
        return api.handle_now(r);
    }
    http::Response get(const std::string& target, Role as) { return call("GET", target, {}, token_of(as)); }
    http::Response post_as(const json& body, Role as) { return call("POST", "/v1/events", body.dump(), token_of(as)); }

    std::int64_t head() {
        const auto r = get("/v1/audit/head", Role::admin);
        REQUIRE(r.status == 200);
        return json::parse(r.body).at("position").get<std::int64_t>();
    }

    // Admin-made targets for one write. A case in `micro`, put on its department first when asked,
    // then taken to `state` ("open", "handled", "fed_back").
    std::string make_case(const std::string& micro, bool on_department, const std::string& state) {
        const std::string id = next_id("k");
        must(report(id, micro));
        if (on_department)
            must(ev("IssueEscalated", {{"case_id", id}, {"to_rung", "department"}, {"dept_id", dept_serving(micro)}, {"reason", "转职能部门"}}));
        if (state == "handled" || state == "fed_back") must(ev("IssueHandled", {{"case_id", id}, {"handler", "root"}, {"result", "已处置"}}));
        if (state == "fed_back") must(ev("FeedbackGiven", {{"case_id", id}, {"to", "resident-1"}, {"content", "已告知"}}));
        return id;
    }
    std::string make_member(const std::string& residence, const std::string& home, bool with_points) {
        const std::string id = next_id("mem");
        must(ev("MemberRegistered",
                {{"member_id", id}, {"name", "党员" + id}, {"category", "retired"}, {"home_branch", home}, {"residence_grid", residence}}));
        if (with_points) must(ev("PointsAwarded", {{"member_id", id}, {"points", 10}, {"reason", "志愿服务"}}));
        return id;
    }
};

// The read fixture: four open cases k-m1, k-m2, k-m3, k-m9 at the worker rung, k-d in m1 on
// department d, k-far in m9 on department far; members mem-1 (lives in m1, branch g), mem-2 (m2, g),
// mem-3 (m3, c), mem-9 (m9, t2).
struct ReadFixture : AccessFixture {
    ReadFixture() {
        for (const char* m : {"m1", "m2", "m3", "m9"}) must(report(std::string("k-") + m, m));
        must(report("k-d", "m1"));
        must(ev("IssueEscalated", {{"case_id", "k-d"}, {"to_rung", "department"}, {"dept_id", "d"}, {"reason", "转城管"}}));
        must(report("k-far", "m9"));
        must(ev("IssueEscalated", {{"case_id", "k-far"}, {"to_rung", "department"}, {"dept_id", "far"}, {"reason", "转派出所"}}));
        const std::array<std::array<const char*, 4>, 4> members{{{"mem-1", "张一", "m1", "g"},
                                                                  {"mem-2", "李二", "m2", "g"},
                                                                  {"mem-3", "王三", "m3", "c"},
                                                                  {"mem-9", "赵九", "m9", "t2"}}};
        for (const auto& [id, name, residence, home] : members) {
            must(ev("MemberRegistered",
                    {{"member_id", id}, {"name", name}, {"category", "in_service"}, {"home_branch", home}, {"residence_grid", residence}}));
            must(ev("PointsAwarded", {{"member_id", id}, {"points", 7}, {"reason", "环境整治"}}));
        }
    }
};

// ------------------------------------------------------------------ checks

std::string detail_of(const http::Response& r) {
    const json j = json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("detail", std::string()) : std::string();
}

// A 403 names the rule it applied: the role, the scope, the department or "admin only".
void check_names_rule(const http::Response& r) {
    INFO("403 detail: " << r.body);
    CHECK(r.content_type == "application/problem+json");
    static const std::regex rule("scope|role|department|admin only");
    CHECK(std::regex_search(detail_of(r), rule));
}

// The detail with the ids the request named replaced by {id}, to compare a missing target's
// answer with a foreign one's.
std::string normalised(std::string detail, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        if (id.empty()) continue;
        const std::string escaped = std::regex_replace(id, std::regex(R"([.])"), R"(\.)");
        detail = std::regex_replace(detail, std::regex("(^|[^a-z0-9._-])" + escaped + "(?![a-z0-9._-])"), "$1{id}");
    }
    return detail;
}

// Cells of one table row for one role, by scope: the status and the normalised detail.
struct Seen {
    int status = 0;
    std::string detail;
};
using Answers = std::map<std::pair<std::string, std::size_t>, std::map<Scope, Seen>>;

// Where a target outside the scope is refused (403), a missing one must get the very same answer.
int check_no_oracle(const Answers& answers) {
    int compared = 0;
    for (const auto& [key, by_scope] : answers) {
        const auto out = by_scope.find(Scope::out), missing = by_scope.find(Scope::missing);
        if (out == by_scope.end() || missing == by_scope.end() || out->second.status != 403) continue;
        INFO(key.first << " as " << std::string(http::to_string(roles[key.second])) << ": outside → " << out->second.detail << " | missing → "
                       << missing->second.detail);
        CHECK(missing->second.status == 403);
        CHECK(missing->second.detail == out->second.detail);
        ++compared;
    }
    return compared;
}

// Explicit expected statuses, columns in the order of `roles`:
//                 admin worker micro grid town dept auditor dashboard
constexpr int OK = 200, C = 201, F = 403, N = 404, X = 409, U = 422;
using Row = std::array<int, n_roles>;

// ------------------------------------------------------------------ the read table

struct ReadCell {
    const char* target; // {grid} {branch} {dept} {case} {member} {stream} are filled from the role's side
    Scope scope;
    Row expect;
};

// clang-format off
const std::vector<ReadCell> read_table{
    //                                            admin worker micro grid town dept aud dash
    {"/v1/events",                      Scope::none,    {OK, F,  F,  F,  F,  F,  OK, F }},
    {"/v1/events?after=0&limit=3",      Scope::none,    {OK, F,  F,  F,  F,  F,  OK, F }},
    {"/v1/streams/{stream}",            Scope::in,      {OK, F,  F,  F,  F,  F,  OK, F }},
    {"/v1/streams/{stream}",            Scope::out,     {OK, F,  F,  F,  F,  F,  OK, F }},
    {"/v1/streams/{stream}",            Scope::missing, {N,  F,  F,  F,  F,  F,  N,  F }},
    // Every reader may subscribe; only admin and auditor get the events, the others notifications
    // (position and type) without them — checked separately below.
    {"/v1/subscribe?after=0",           Scope::none,    {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/v1/cases",                       Scope::none,    {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/v1/cases?grid={grid}",           Scope::in,      {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/cases?grid={grid}",           Scope::out,     {OK, F,  F,  F,  F,  F,  OK, OK}},
    {"/v1/cases?grid={grid}",           Scope::missing, {N,  F,  F,  F,  F,  F,  N,  N }},
    {"/v1/cases?dept={dept}",           Scope::in,      {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/v1/cases?dept={dept}",           Scope::out,     {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/cases?dept={dept}",           Scope::missing, {N,  N,  N,  N,  N,  F,  N,  N }},
    {"/v1/cases/{case}",                Scope::in,      {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/v1/cases/{case}",                Scope::out,     {OK, F,  F,  F,  F,  F,  OK, OK}},
    {"/v1/cases/{case}",                Scope::missing, {N,  F,  F,  F,  F,  F,  N,  N }},
    // The grid tree is the town's organisation, public to every token (no personal data).
    {"/v1/grids",                       Scope::none,    {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/v1/grids/{grid}",                Scope::in,      {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/v1/grids/{grid}",                Scope::out,     {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/v1/grids/{grid}",                Scope::missing, {N,  N,  N,  N,  N,  N,  N,  N }},
    {"/v1/grids/{grid}/stats",          Scope::in,      {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/grids/{grid}/stats",          Scope::out,     {OK, F,  F,  F,  F,  F,  OK, OK}},
    {"/v1/grids/{grid}/stats",          Scope::missing, {N,  F,  F,  F,  F,  F,  N,  N }},
    {"/v1/grids/{grid}/stars",          Scope::in,      {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/grids/{grid}/stars",          Scope::out,     {OK, F,  F,  F,  F,  F,  OK, OK}},
    {"/v1/grids/{grid}/stars",          Scope::missing, {N,  F,  F,  F,  F,  F,  N,  N }},
    // Grid roles see every department's queue filtered to their own cases; staff only their own.
    {"/v1/departments/{dept}/queue",    Scope::in,      {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/v1/departments/{dept}/queue",    Scope::out,     {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/departments/{dept}/queue",    Scope::missing, {N,  N,  N,  N,  N,  F,  N,  N }},
    {"/v1/members",                     Scope::none,    {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/members?grid={grid}",         Scope::in,      {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/members?grid={grid}",         Scope::out,     {OK, F,  F,  F,  F,  F,  OK, OK}},
    {"/v1/members?grid={grid}",         Scope::missing, {N,  F,  F,  F,  F,  F,  N,  N }},
    {"/v1/members/{member}",            Scope::in,      {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/members/{member}",            Scope::out,     {OK, F,  F,  F,  F,  F,  OK, OK}},
    {"/v1/members/{member}",            Scope::missing, {N,  F,  F,  F,  F,  F,  N,  N }},
    {"/v1/branches/{branch}/outflow",   Scope::in,      {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/branches/{branch}/outflow",   Scope::out,     {OK, F,  F,  F,  F,  F,  OK, OK}},
    {"/v1/branches/{branch}/outflow",   Scope::missing, {N,  F,  F,  F,  F,  F,  N,  N }},
    {"/v1/branches/{branch}/inflow",    Scope::in,      {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/branches/{branch}/inflow",    Scope::out,     {OK, F,  F,  F,  F,  F,  OK, OK}},
    {"/v1/branches/{branch}/inflow",    Scope::missing, {N,  F,  F,  F,  F,  F,  N,  N }},
    {"/v1/points/leaderboard",          Scope::none,    {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/points/leaderboard?grid={grid}", Scope::in,   {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/points/leaderboard?grid={grid}", Scope::out,  {OK, F,  F,  F,  F,  F,  OK, OK}},
    {"/v1/points/leaderboard?grid={grid}", Scope::missing, {N, F, F,  F,  F,  F,  N,  N }},
    {"/v1/points/branches",             Scope::none,    {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/points/branches?grid={grid}", Scope::in,      {OK, OK, OK, OK, OK, F,  OK, OK}},
    {"/v1/points/branches?grid={grid}", Scope::out,     {OK, F,  F,  F,  F,  F,  OK, OK}},
    {"/v1/points/branches?grid={grid}", Scope::missing, {N,  F,  F,  F,  F,  F,  N,  N }},
    {"/v1/audit/head",                  Scope::none,    {OK, F,  F,  F,  F,  F,  OK, F }},
    {"/v1/audit/verify",                Scope::none,    {OK, F,  F,  F,  F,  F,  OK, F }},
    {"/healthz",                        Scope::none,    {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/metrics",                        Scope::none,    {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/openapi.json",                   Scope::none,    {OK, OK, OK, OK, OK, OK, OK, OK}},
    {"/",                               Scope::none,    {OK, OK, OK, OK, OK, OK, OK, OK}},
};
// clang-format on

// Fills the placeholders of a target; returns it and the ids it named.
std::pair<std::string, std::vector<std::string>> fill(std::string target, const Side& s) {
    std::vector<std::string> ids;
    const std::vector<std::pair<std::string, std::string>> holes{
        {"{grid}", s.grid}, {"{branch}", s.branch}, {"{dept}", s.dept}, {"{case}", s.kase}, {"{member}", s.member}, {"{stream}", "case-" + s.kase}};
    for (const auto& [hole, value] : holes)
        if (auto at = target.find(hole); at != std::string::npos) {
            target.replace(at, hole.size(), value);
            ids.push_back(value);
            if (hole == "{stream}") ids.push_back(s.kase);
        }
    return {target, ids};
}

// ------------------------------------------------------------------ the write table

struct WriteCell {
    const char* type;
    Scope scope;
    Row expect;
};

// clang-format off
const std::vector<WriteCell> write_table{
    // Organisation, policy and calendar: admin only, whatever grid they name.
    //                                   admin worker micro grid town dept aud dash
    {"GridDefined",           Scope::in,      {C,  F,  F,  F,  F,  F,  F,  F }},
    {"GridDefined",           Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"DepartmentRegistered",  Scope::in,      {C,  F,  F,  F,  F,  F,  F,  F }},
    {"DepartmentRegistered",  Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"PersonAssigned",        Scope::in,      {C,  F,  F,  F,  F,  F,  F,  F }},
    {"PersonAssigned",        Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"PolicySet",             Scope::none,    {C,  F,  F,  F,  F,  F,  F,  F }},
    {"CalendarSet",           Scope::none,    {C,  F,  F,  F,  F,  F,  F,  F }},
    // Members: admin anywhere; the grid roles for members living in or belonging to their subtree.
    // An unknown member is 422 for admin (decide) and "not within your scope" for everyone else.
    {"MemberRegistered",      Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"MemberRegistered",      Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"MemberRegistered",      Scope::missing, {U,  F,  F,  F,  F,  F,  F,  F }},
    {"MemberRelocated",       Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"MemberRelocated",       Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"MemberRelocated",       Scope::missing, {U,  F,  F,  F,  F,  F,  F,  F }},
    {"MemberReportedIn",      Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"MemberReportedIn",      Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"MemberReportedIn",      Scope::missing, {U,  F,  F,  F,  F,  F,  F,  F }},
    {"MemberContacted",       Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"MemberContacted",       Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"MemberContacted",       Scope::missing, {U,  F,  F,  F,  F,  F,  F,  F }},
    {"MembershipTransferred", Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"MembershipTransferred", Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"MembershipTransferred", Scope::missing, {U,  F,  F,  F,  F,  F,  F,  F }},
    {"PointsAwarded",         Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"PointsAwarded",         Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"PointsAwarded",         Scope::missing, {U,  F,  F,  F,  F,  F,  F,  F }},
    {"PointsRedeemed",        Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"PointsRedeemed",        Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"PointsRedeemed",        Scope::missing, {U,  F,  F,  F,  F,  F,  F,  F }},
    // The closed loop: grid roles on cases reported in their subtree; department staff only
    // IssueHandled, FeedbackGiven, IssueReturned, IssueDiscussed on cases on their department.
    // An unknown case is 409 for admin (its state accepts only IssueReported); an unknown grid 422.
    {"IssueReported",         Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"IssueReported",         Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueReported",         Scope::missing, {U,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueDiscussed",        Scope::in,      {C,  C,  C,  C,  C,  C,  F,  F }},
    {"IssueDiscussed",        Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueDiscussed",        Scope::missing, {X,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueEscalated",        Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"IssueEscalated",        Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueEscalated",        Scope::missing, {X,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueReturned",         Scope::in,      {C,  C,  C,  C,  C,  C,  F,  F }},
    {"IssueReturned",         Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueReturned",         Scope::missing, {X,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueSupervised",       Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"IssueSupervised",       Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueSupervised",       Scope::missing, {X,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueHandled",          Scope::in,      {C,  C,  C,  C,  C,  C,  F,  F }},
    {"IssueHandled",          Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueHandled",          Scope::missing, {X,  F,  F,  F,  F,  F,  F,  F }},
    {"FeedbackGiven",         Scope::in,      {C,  C,  C,  C,  C,  C,  F,  F }},
    {"FeedbackGiven",         Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"FeedbackGiven",         Scope::missing, {X,  F,  F,  F,  F,  F,  F,  F }},
    {"SatisfactionRated",     Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"SatisfactionRated",     Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"SatisfactionRated",     Scope::missing, {X,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueDismissed",        Scope::in,      {C,  C,  C,  C,  C,  F,  F,  F }},
    {"IssueDismissed",        Scope::out,     {C,  F,  F,  F,  F,  F,  F,  F }},
    {"IssueDismissed",        Scope::missing, {X,  F,  F,  F,  F,  F,  F,  F }},
};
// clang-format on

bool is_case_event(const std::string& type) { return type.rfind("Issue", 0) == 0 || type == "FeedbackGiven" || type == "SatisfactionRated"; }
bool is_member_event(const std::string& type) { return type.rfind("Member", 0) == 0 || type.rfind("Points", 0) == 0; }

struct Prepared {
    json body;
    std::vector<std::string> ids; // the ids the event names, for comparing details
};

// Makes the targets of one write cell (as admin) and the event the role then posts. Department
// staff always aim at cases on a department (theirs inside the scope, another outside it).
Prepared prepare(AccessFixture& f, const std::string& type, Role role, Scope scope) {
    const Side s = side_of(role, scope == Scope::none ? Scope::in : scope);
    const std::string me = subject_of(role);
    auto ev = [](const std::string& t, json data) { return EngineFixture::ev(t, std::move(data)); };
    if (type == "GridDefined") {
        const auto id = f.next_id("ng");
        return {ev(type, {{"grid_id", id}, {"name", "新楼"}, {"level", "micro"}, {"parent_id", s.branch}}), {id, s.branch}};
    }
    if (type == "DepartmentRegistered") {
        const auto id = f.next_id("nd");
        return {ev(type, {{"dept_id", id}, {"name", "新部门"}, {"kind", "other"}, {"serves", {s.grid}}}), {id, s.grid}};
    }
    if (type == "PersonAssigned") {
        const auto id = f.next_id("np");
        return {ev(type, {{"person_id", id}, {"name", "新网格员"}, {"role", "worker"}, {"grid_id", s.micro}, {"team", "work"}}), {id, s.micro}};
    }
    if (type == "PolicySet") return {ev(type, {{"limits", {{"worker", "P1D"}}}}), {}};
    if (type == "CalendarSet")
        return {ev(type, {{"timezone", "Asia/Shanghai"},
                          {"workdays", {1, 2, 3, 4, 5}},
                          {"work_hours", {"09:00", "17:00"}},
                          {"holidays", json::array()},
                          {"makeup_workdays", json::array()}}),
                {}};
    if (is_member_event(type)) {
        if (type == "MemberRegistered") {
            const auto id = f.next_id("mem");
            return {ev(type, {{"member_id", id}, {"name", "新党员"}, {"category", "farmer"}, {"home_branch", s.home}, {"residence_grid", s.micro}}),
                    {id, s.home, s.micro}};
        }
        const std::string id = scope == Scope::missing ? f.next_id("nope") : f.make_member(s.micro, s.home, type == "PointsRedeemed");
        json data{{"member_id", id}};
        if (type == "MemberRelocated") data["to_grid"] = s.micro == "m2" ? "m1" : "m2", data["reason"] = "搬家";
        else if (type == "MemberReportedIn") data["grid_id"] = s.micro;
        else if (type == "MemberContacted") data["by"] = me, data["channel"] = "visit";
        else if (type == "MembershipTransferred") data["to_branch"] = s.home == "c" ? "g" : "c";
        else if (type == "PointsAwarded") data["points"] = 5, data["reason"] = "巡逻";
        else if (type == "PointsRedeemed") data["points"] = 1, data["item"] = "毛巾";
        return {ev(type, std::move(data)), {id}};
    }
    REQUIRE(is_case_event(type));
    if (type == "IssueReported") {
        const auto id = f.next_id("k");
        return {EngineFixture::report(id, s.micro), {id, s.micro}};
    }
    const std::string state = type == "FeedbackGiven" ? "handled" : type == "SatisfactionRated" ? "fed_back" : "open";
    const bool on_department = role == Role::department_staff || type == "IssueReturned";
    const std::string id = scope == Scope::missing ? f.next_id("nope") : f.make_case(s.micro, on_department, state);
    json data{{"case_id", id}};
    if (type == "IssueDiscussed") data["participants"] = {me}, data["decision"] = "会商";
    else if (type == "IssueEscalated") data["to_rung"] = "town", data["reason"] = "上报";
    else if (type == "IssueReturned") data["dept_id"] = dept_serving(s.micro), data["reason"] = "不属本部门";
    else if (type == "IssueSupervised") data["by"] = me, data["note"] = "督办";
    else if (type == "IssueHandled") data["handler"] = me, data["result"] = "已处置";
    else if (type == "FeedbackGiven") data["to"] = "resident-1", data["content"] = "已告知";
    else if (type == "SatisfactionRated") data["rating"] = "satisfied", data["solved"] = "yes", data["rater"] = "resident-1";
    else if (type == "IssueDismissed") data["reason"] = "duplicate";
    return {ev(type, std::move(data)), {id, s.micro, dept_serving(s.micro)}};
}

} // namespace

TEST_SUITE("http") {

TEST_CASE("access: the read matrix — every role × every GET endpoint × a target inside, outside and missing") {
    ReadFixture f;
    const auto before = f.head();
    Answers answers;
    int cells = 0;
    for (const auto& cell : read_table) {
        for (const Role role : roles) {
            const auto [target, ids] = fill(cell.target, side_of(role, cell.scope));
            const auto r = f.get(target, role);
            const int want = cell.expect[col(role)];
            INFO("GET " << target << " as " << std::string(http::to_string(role)) << " (" << std::string(to_string(cell.scope)) << ") → " << r.status << " "
                        << r.body.substr(0, 240));
            CHECK(r.status == want);
            if (r.status == 403) check_names_rule(r);
            answers[{cell.target, col(role)}][cell.scope] = {r.status, normalised(detail_of(r), ids)};
            ++cells;
        }
    }
    CHECK(f.head() == before); // reading appends nothing
    const int oracle = check_no_oracle(answers);
    CHECK(oracle > 0);
    MESSAGE("read matrix: " << cells << " cells (" << read_table.size() << " endpoint×scope rows × " << n_roles << " roles), " << oracle
                            << " missing-vs-foreign comparisons");
}

TEST_CASE("access: the write matrix — every role × every event type × a target inside, outside and missing, refusals append nothing") {
    AccessFixture f;
    Answers answers;
    int cells = 0;
    for (const auto& cell : write_table) {
        for (const Role role : roles) {
            const Prepared p = prepare(f, cell.type, role, cell.scope);
            const auto before = f.head();
            const auto r = f.post_as(p.body, role);
            const int want = cell.expect[col(role)];
            INFO(std::string(cell.type) << " as " << std::string(http::to_string(role)) << " (" << std::string(to_string(cell.scope)) << "): " << p.body.dump() << " → " << r.status
                           << " " << r.body.substr(0, 300));
            CHECK(r.status == want);
            if (r.status >= 400) {
                CHECK(f.head() == before); // nothing appended
                CHECK(r.content_type == "application/problem+json");
            } else {
                CHECK(f.head() == before + 1);
                CHECK(json::parse(r.body).at("actor") == subject_of(role)); // the actor is the token's subject
            }
            if (r.status == 403) check_names_rule(r);
            answers[{cell.type, col(role)}][cell.scope] = {r.status, normalised(detail_of(r), p.ids)};
            ++cells;
        }
    }
    const int oracle = check_no_oracle(answers);
    CHECK(oracle > 0);
    MESSAGE("write matrix: " << cells << " cells (" << write_table.size() << " type×scope rows × " << n_roles << " roles), " << oracle
                             << " missing-vs-foreign comparisons");
}

TEST_CASE("access: no token and an unknown token are 401 with WWW-Authenticate: Bearer on every endpoint that needs one") {
    ReadFixture f;
    const auto before = f.head();
    std::set<std::string> seen;
    int cells = 0;
    const std::string admin = token_of(Role::admin);
    const std::vector<std::string> wrong{"", "tok-nobody-00000000001", admin.substr(0, admin.size() - 1) + "2", admin + "1",
                                         admin.substr(1)};
    for (const auto& cell : read_table) {
        const auto [target, ids] = fill(cell.target, side_of(Role::admin, cell.scope));
        if (!seen.insert(cell.target).second) continue;
        const bool open = target == "/healthz" || target == "/metrics" || target == "/openapi.json" || target == "/";
        for (const auto& token : wrong) {
            const auto r = f.call("GET", target, {}, token);
            INFO("GET " << target << " with token \"" << token << "\" → " << r.status << " " << r.body);
            if (open) {
                CHECK(r.status == 200);
                continue;
            }
            CHECK(r.status == 401);
            CHECK(r.content_type == "application/problem+json");
            bool bearer = false;
            for (const auto& [k, v] : r.headers) bearer = bearer || (k == "WWW-Authenticate" && v.rfind("Bearer", 0) == 0);
            CHECK(bearer);
            ++cells;
        }
    }
    for (const auto& token : wrong) {
        const auto r = f.call("POST", "/v1/events", EngineFixture::report("k-anon", "m1").dump(), token);
        CHECK(r.status == 401);
        bool bearer = false;
        for (const auto& [k, v] : r.headers) bearer = bearer || (k == "WWW-Authenticate" && v.rfind("Bearer", 0) == 0);
        CHECK(bearer);
        ++cells;
    }
    CHECK(f.head() == before);
    MESSAGE("401 cells: " << cells);
}

TEST_CASE("access: department staff act only on cases on their department, and read their queue and the cases dispatched to them") {
    ReadFixture f;
    const Role ds = Role::department_staff;
    auto status = [&](const json& body) { return f.post_as(body, ds).status; };
    auto ev = [](const std::string& t, json data) { return EngineFixture::ev(t, std::move(data)); };

    // On their department: discuss, handle, then give feedback on the handled case.
    CHECK(status(ev("IssueDiscussed", {{"case_id", "k-d"}, {"participants", {"p-ds"}}, {"decision", "现场核查"}})) == 201);
    CHECK(status(ev("IssueHandled", {{"case_id", "k-d"}, {"handler", "p-ds"}, {"result", "已清理"}})) == 201);
    CHECK(status(ev("FeedbackGiven", {{"case_id", "k-d"}, {"to", "resident-7"}, {"content", "已告知"}})) == 201);
    // Not theirs to rate, even on their own case.
    auto before = f.head();
    auto r = f.post_as(ev("SatisfactionRated", {{"case_id", "k-d"}, {"rating", "satisfied"}, {"solved", "yes"}, {"rater", "resident-7"}}), ds);
    CHECK(r.status == 403);
    CHECK(detail_of(r).find("department staff may post") != std::string::npos);
    CHECK(f.head() == before);

    // A case that was on their department and went back is theirs no longer.
    const std::string k = f.make_case("m2", true, "open");
    CHECK(status(ev("IssueReturned", {{"case_id", k}, {"dept_id", "d"}, {"reason", "不属本部门"}})) == 201);
    before = f.head();
    r = f.post_as(ev("IssueDiscussed", {{"case_id", k}, {"participants", {"p-ds"}}, {"decision", "再议"}}), ds);
    CHECK(r.status == 403);
    CHECK(detail_of(r).find("not with your department") != std::string::npos);
    CHECK(f.head() == before);
    // A case of the department's grids never dispatched to it: not theirs either.
    r = f.post_as(ev("IssueHandled", {{"case_id", "k-m1"}, {"handler", "p-ds"}, {"result", "x"}}), ds);
    CHECK(r.status == 403);
    CHECK(f.head() == before);
    // Member events are not theirs.
    r = f.post_as(ev("MemberContacted", {{"member_id", "mem-1"}, {"by", "p-ds"}, {"channel", "visit"}}), ds);
    CHECK(r.status == 403);
    CHECK(f.head() == before);

    // Reads: the queue lists what is open on the department now; the returned case stays readable
    // (it was dispatched to them), others are not.
    auto queue = json::parse(f.get("/v1/departments/d/queue", ds).body);
    std::set<std::string> queued;
    for (const auto& c : queue.at("cases")) queued.insert(c.at("case_id").get<std::string>());
    CHECK(queued == std::set<std::string>{});
    const std::string open_on_d = f.make_case("m3", true, "open");
    queue = json::parse(f.get("/v1/departments/d/queue", ds).body);
    queued.clear();
    for (const auto& c : queue.at("cases")) queued.insert(c.at("case_id").get<std::string>());
    CHECK(queued == std::set<std::string>{open_on_d});
    CHECK(f.get("/v1/cases/" + k, ds).status == 200);
    CHECK(f.get("/v1/cases/k-d", ds).status == 200);
    CHECK(f.get("/v1/cases/k-m1", ds).status == 403);
    const auto list = json::parse(f.get("/v1/cases", ds).body);
    std::set<std::string> listed;
    for (const auto& c : list.at("cases")) listed.insert(c.at("case_id").get<std::string>());
    CHECK(listed == std::set<std::string>{"k-d", k, open_on_d});

    // In a batch, a case handled by the department is judged handled for the feedback that follows.
    const std::string k2 = f.make_case("m1", true, "open");
    before = f.head();
    r = f.post_as(json{{"events", {ev("IssueHandled", {{"case_id", k2}, {"handler", "p-ds"}, {"result", "已处置"}}),
                                   ev("FeedbackGiven", {{"case_id", k2}, {"to", "resident-8"}, {"content", "已告知"}})}}},
                  ds);
    CHECK(r.status == 201);
    CHECK(f.head() == before + 2);
}

TEST_CASE("access: lists hold only what lies inside the scope") {
    ReadFixture f;
    auto ids = [&](const std::string& target, Role role, const char* list, const char* key) {
        const auto r = f.get(target, role);
        INFO(target << " as " << std::string(http::to_string(role)) << " → " << r.body.substr(0, 300));
        REQUIRE(r.status == 200);
        std::set<std::string> out;
        const json body = json::parse(r.body);
        for (const auto& x : body.at(list)) out.insert(x.at(key).get<std::string>());
        return json(out).dump();
    };
    using S = std::set<std::string>;
    const S all_cases{"k-m1", "k-m2", "k-m3", "k-m9", "k-d", "k-far"};
    const std::map<Role, S> cases{{Role::admin, all_cases},
                                  {Role::worker, {"k-m1", "k-d"}},
                                  {Role::micro_head, {"k-m1", "k-d"}},
                                  {Role::grid_head, {"k-m1", "k-m2", "k-d"}},
                                  {Role::town_head, {"k-m1", "k-m2", "k-m3", "k-d"}},
                                  {Role::department_staff, {"k-d"}},
                                  {Role::auditor, all_cases},
                                  {Role::dashboard, all_cases}};
    const std::map<Role, S> members{{Role::admin, {"mem-1", "mem-2", "mem-3", "mem-9"}},
                                    {Role::worker, {"mem-1"}},
                                    {Role::micro_head, {"mem-1"}},
                                    {Role::grid_head, {"mem-1", "mem-2"}},
                                    {Role::town_head, {"mem-1", "mem-2", "mem-3"}},
                                    {Role::auditor, {"mem-1", "mem-2", "mem-3", "mem-9"}},
                                    {Role::dashboard, {"mem-1", "mem-2", "mem-3", "mem-9"}}};
    for (const auto& [role, want] : cases) CHECK(ids("/v1/cases", role, "cases", "case_id") == json(want).dump());
    for (const auto& [role, want] : members) CHECK(ids("/v1/members", role, "items", "member_id") == json(want).dump());
    // A department's queue seen by a grid role holds only the role's own cases.
    CHECK(ids("/v1/departments/d/queue", Role::worker, "cases", "case_id") == json(S{"k-d"}).dump());
    CHECK(ids("/v1/departments/far/queue", Role::worker, "cases", "case_id") == json(S{}).dump());
    CHECK(ids("/v1/departments/far/queue", Role::town_head, "cases", "case_id") == json(S{}).dump());
    CHECK(ids("/v1/departments/far/queue", Role::auditor, "cases", "case_id") == json(S{"k-far"}).dump());
    CHECK(ids("/v1/cases?dept=far", Role::grid_head, "cases", "case_id") == json(S{}).dump());
}

TEST_CASE("access: auditors read everything with names and write nothing, dashboards read projections without names or raw events") {
    ReadFixture f;
    for (const Role role : {Role::admin, Role::auditor}) {
        CHECK(f.get("/v1/members/mem-9", role).body.find("赵九") != std::string::npos);
        CHECK(f.get("/v1/members", role).body.find("张一") != std::string::npos);
        CHECK(f.get("/v1/events", role).body.find("赵九") != std::string::npos);
        CHECK(f.get("/v1/streams/member-mem-9", role).body.find("赵九") != std::string::npos);
    }
    // The event stream: whole envelopes for admin and auditor only; everyone else is notified of
    // positions without the events.
    for (const Role role : roles) {
        CAPTURE(std::string(http::to_string(role)));
        const auto sse = f.get("/v1/subscribe?after=0", role);
        REQUIRE(sse.status == 200);
        REQUIRE(sse.sse.has_value());
        CHECK(sse.sse->notify_only == (role != Role::admin && role != Role::auditor));
    }
    // EventSource sends no headers: ?access_token= stands in for one there, and only there.
    auto bare = [&](const std::string& target) { return f.call("GET", target, {}, ""); };
    auto r = bare("/v1/subscribe?access_token=" + token_of(Role::dashboard));
    REQUIRE(r.status == 200);
    CHECK(r.sse->notify_only);
    r = bare("/v1/subscribe?access_token=" + token_of(Role::auditor));
    REQUIRE(r.status == 200);
    CHECK(!r.sse->notify_only);
    CHECK(bare("/v1/subscribe?access_token=tok-nobody-00000000001").status == 401);
    CHECK(bare("/v1/events?access_token=" + token_of(Role::admin)).status == 401);
    CHECK(bare("/v1/cases?access_token=" + token_of(Role::admin)).status == 401);
    for (const char* target : {"/v1/members/mem-9", "/v1/members", "/v1/members?grid=t2", "/v1/branches/t2/outflow",
                                      "/v1/branches/g/inflow", "/v1/points/leaderboard", "/v1/cases/k-m1"}) {
        const auto r = f.get(target, Role::dashboard);
        INFO(target << " → " << r.body.substr(0, 300));
        CHECK(r.status == 200);
        for (const char* name : {"张一", "李二", "王三", "赵九", "环境整治", "夜间噪音", "垃圾堆放"}) CHECK(r.body.find(name) == std::string::npos);
    }
    // The auditor posts nothing, in any form.
    const auto before = f.head();
    for (const json& body : {EngineFixture::report("k-aud", "m1"), json{{"events", {EngineFixture::report("k-aud", "m1")}}}}) {
        const auto r = f.post_as(body, Role::auditor);
        CHECK(r.status == 403);
        CHECK(detail_of(r).find("auditor") != std::string::npos);
    }
    CHECK(f.head() == before);
}

TEST_CASE("access: the actor is the token's subject — a body claiming another actor, or system, is refused") {
    AccessFixture f;
    for (const Role role : roles) {
        CAPTURE(http::to_string(role));
        for (const std::string& claimed : {std::string("someone-else"), std::string("system"), std::string("root")}) {
            if (claimed == subject_of(role)) continue;
            Prepared p = prepare(f, role == Role::department_staff ? "IssueHandled" : "IssueDiscussed", role, Scope::in);
            p.body["actor"] = claimed;
            const auto before = f.head();
            const auto r = f.post_as(p.body, role);
            INFO("claiming " << claimed << " → " << r.body);
            CHECK(r.status == 403);
            CHECK(f.head() == before);
        }
    }
    // Claiming one's own subject is harmless.
    Prepared p = prepare(f, "IssueDiscussed", Role::worker, Scope::in);
    p.body["actor"] = "p-w";
    CHECK(f.post_as(p.body, Role::worker).status == 201);
}

TEST_CASE("access: time-out event ids are the engine's own") {
    AccessFixture f;
    for (const Role role : roles) {
        CAPTURE(http::to_string(role));
        Prepared p = prepare(f, "IssueDiscussed", role, Scope::in);
        p.body["event_id"] = "timeout-" + f.next_id("x");
        const auto before = f.head();
        const auto r = f.post_as(p.body, role);
        // Readers are refused by role first; every writer, admin included, by the reserved prefix.
        CHECK(r.status == (role == Role::auditor || role == Role::dashboard ? 403 : 422));
        if (r.status == 422) CHECK(detail_of(r).find("timeout-") != std::string::npos);
        CHECK(f.head() == before);
    }
}

TEST_CASE("access: batches are judged event by event and written all or none") {
    AccessFixture f;
    auto ev = [](const std::string& t, json data) { return EngineFixture::ev(t, std::move(data)); };
    // Report in scope, then handle what was just reported: both judged against the batch's state.
    auto before = f.head();
    auto r = f.post_as(json{{"events", {EngineFixture::report("b-1", "m1"), ev("IssueHandled", {{"case_id", "b-1"}, {"handler", "p-w"}, {"result", "已处置"}})}}},
                       Role::worker);
    CHECK(r.status == 201);
    CHECK(f.head() == before + 2);
    // One event outside the scope: nothing of the batch is written.
    before = f.head();
    r = f.post_as(json{{"events", {EngineFixture::report("b-2", "m1"), EngineFixture::report("b-3", "m2")}}}, Role::worker);
    CHECK(r.status == 403);
    CHECK(detail_of(r).find("events[1]") != std::string::npos);
    CHECK(detail_of(r).find("scope") != std::string::npos);
    CHECK(f.head() == before);
    CHECK(f.get("/v1/cases/b-2", Role::admin).status == 404);
    // An out-of-scope event first, then an in-scope one: the same.
    r = f.post_as(json{{"events", {EngineFixture::report("b-4", "m3"), EngineFixture::report("b-5", "m1")}}}, Role::grid_head);
    CHECK(r.status == 403);
    CHECK(f.head() == before);
    // A member registered in a neighbour's grid and then contacted: refused whole.
    r = f.post_as(json{{"events",
                        {ev("MemberRegistered",
                            {{"member_id", "b-m"}, {"name", "新党员"}, {"category", "retired"}, {"home_branch", "g"}, {"residence_grid", "m2"}}),
                         ev("MemberContacted", {{"member_id", "b-m"}, {"by", "p-w"}, {"channel", "visit"}})}}},
                  Role::worker);
    CHECK(r.status == 403);
    CHECK(f.head() == before);
    // The same batch by the grid head, whose subtree holds m2: written.
    r = f.post_as(json{{"events",
                        {ev("MemberRegistered",
                            {{"member_id", "b-m"}, {"name", "新党员"}, {"category", "retired"}, {"home_branch", "g"}, {"residence_grid", "m2"}}),
                         ev("MemberContacted", {{"member_id", "b-m"}, {"by", "p-gh"}, {"channel", "visit"}})}}},
                  Role::grid_head);
    CHECK(r.status == 201);
    CHECK(f.head() == before + 2);
}

TEST_CASE("access: a report routed by location is judged by the micro-grid it lands in") {
    AccessFixture f;
    const json square = {{"type", "Polygon"}, {"coordinates", {{{118.0, 32.0}, {118.1, 32.0}, {118.1, 32.1}, {118.0, 32.1}, {118.0, 32.0}}}}};
    f.must(EngineFixture::ev("GridDefined", {{"grid_id", "m8"}, {"name", "邻镇二号楼"}, {"level", "micro"}, {"parent_id", "t2"}, {"boundary", square}}));
    auto at = [](const std::string& id, double lat, double lng) {
        return EngineFixture::ev("IssueReported", {{"case_id", id}, {"category", "garbage"}, {"description", "x"}, {"source", "patrol"},
                                                   {"location", {{"lat", lat}, {"lng", lng}}}});
    };
    const auto before = f.head();
    auto r = f.post_as(at("loc-1", 32.05, 118.05), Role::town_head); // lands in m8, under t2
    CHECK(r.status == 403);
    r = f.post_as(at("loc-2", 10.0, 10.0), Role::town_head); // lands nowhere: no scope holds it
    CHECK(r.status == 403);
    CHECK(detail_of(r).find("scope") != std::string::npos);
    CHECK(f.head() == before);
    CHECK(f.post_as(at("loc-3", 10.0, 10.0), Role::admin).status == 422);
    CHECK(f.post_as(at("loc-4", 32.05, 118.05), Role::admin).status == 201);
}

TEST_CASE("access: the tokens file — system is no token's subject, scoped roles need a scope, hashes work like tokens") {
    auto refused = [](const std::string& text, const std::string& names) {
        try {
            http::Tokens::parse(text);
            FAIL("accepted: " << text);
        } catch (const std::invalid_argument& e) {
            INFO(e.what());
            CHECK(std::string(e.what()).find(names) != std::string::npos);
        }
    };
    refused(R"([{"token": "tok-system-00000000001", "subject": "system", "role": "admin"}])", "system");
    refused(R"([{"token": "tok-a-000000000000001", "subject": "a", "role": "auditor"},
               {"token": "tok-system-00000000001", "subject": "system", "role": "auditor"}])",
            "tokens[1]");
    refused(R"([{"token_sha256": "d3af0778a1fb6ddef0b9b43dbd80f29d1b737ba942f1aca95368cb42eb5d9703", "subject": "system", "role": "dashboard"}])",
            "system");
    for (const char* role : {"worker", "micro_head", "grid_head", "town_head", "department_staff"}) {
        CAPTURE(role);
        refused(std::string(R"([{"token": "tok-w-000000000000001", "subject": "w", "role": ")") + role + R"("}])", "scope");
        refused(std::string(R"([{"token": "tok-w-000000000000001", "subject": "w", "role": ")") + role + R"(", "scope": []}])", "scope");
    }
    refused(R"([{"token": "short", "subject": "w", "role": "admin"}])", "16");
    // token_sha256 = sha256("hashed-token-0123456789abcdef"): the file holds no secret.
    const auto t = http::Tokens::parse(
        R"([{"token_sha256": "d3af0778a1fb6ddef0b9b43dbd80f29d1b737ba942f1aca95368cb42eb5d9703", "subject": "p-w", "role": "worker", "scope": ["m1"]}])");
    const auto who = t.find("hashed-token-0123456789abcdef");
    REQUIRE(who);
    CHECK(who->subject == "p-w");
    CHECK(who->role == Role::worker);
    CHECK(who->scope == std::vector<std::string>{"m1"});
    CHECK(!t.find("hashed-token-0123456789abcdee"));
    CHECK(!t.find("d3af0778a1fb6ddef0b9b43dbd80f29d1b737ba942f1aca95368cb42eb5d9703")); // the hash itself is no token
}

TEST_CASE("access: a dashboard over the whole sample town sees no member or person name, no free text, no resident ids") {
    const testing::DemoTown town;
    REQUIRE(town.ok());
    const std::string& db = town.db();

    // What must not show: names from MemberRegistered and PersonAssigned, and the free text and
    // resident ids (which may be phone numbers) of the case and points events.
    std::set<std::string> member_names, person_names, person_ids, free_text, grids, branches, depts;
    std::size_t registered = 0;
    {
        engine::StoreReader reader(db);
        reader.scan(0, reader.head().position, [&](const events::RawEnvelope& e) {
            const json d = json::parse(e.data);
            if (e.type == "MemberRegistered") member_names.insert(d.at("name").get<std::string>()), ++registered;
            if (e.type == "PersonAssigned")
                person_names.insert(d.at("name").get<std::string>()), person_ids.insert(d.at("person_id").get<std::string>());
            if (e.type == "GridDefined") {
                grids.insert(d.at("grid_id").get<std::string>());
                if (d.at("level") != "micro") branches.insert(d.at("grid_id").get<std::string>());
            }
            if (e.type == "DepartmentRegistered") depts.insert(d.at("dept_id").get<std::string>());
            for (const char* field : {"description", "decision", "note", "result", "content", "comment", "item", "reporter", "to", "rater"})
                if (d.contains(field) && d.at(field).is_string()) free_text.insert(d.at(field).get<std::string>());
            if (d.contains("reason") && d.at("reason").is_string() && e.type != "IssueDismissed" && d.at("reason") != "timeout")
                free_text.insert(d.at("reason").get<std::string>());
            return true;
        });
    }
    // Staff person ids (FeedbackGiven.to may name the worker) are the pseudonymous subjects the case
    // timeline shows as actors; only PersonAssigned, a raw event, ties them to a name.
    for (const auto& id : person_ids) free_text.erase(id);
    REQUIRE(member_names.size() > 100);
    REQUIRE(person_names.size() > 50);
    REQUIRE(free_text.size() > 50);

    engine::ManualClock clock{*events::parse_time("2026-11-30T12:00:00+08:00")};
    engine::Engine engine(db, clock);
    auto auth = std::make_shared<http::Authenticator>(http::Tokens::parse(tokens_text));
    http::Api api(engine, auth);
    auto get = [&](const std::string& target, Role as) {
        http::Request r{"GET", target, "", {{"authorization", "Bearer " + token_of(as)}}};
        return api.handle_now(r);
    };

    // Every string of every dashboard answer (JSON decoded, so escapes cannot hide a name).
    std::set<std::string> strings;
    int answers = 0;
    auto collect = [&](const std::string& target) -> json {
        const auto r = get(target, Role::dashboard);
        INFO(target << " → " << r.body.substr(0, 300));
        REQUIRE(r.status == 200);
        const json j = json::parse(r.body);
        auto walk = [&](auto& self, const json& x) -> void {
            if (x.is_string()) strings.insert(x.get<std::string>());
            else if (x.is_object())
                for (const auto& [k, v] : x.items()) strings.insert(k), self(self, v);
            else if (x.is_array())
                for (const auto& v : x) self(self, v);
        };
        walk(walk, j);
        ++answers;
        return j;
    };
    std::vector<std::string> case_ids, member_ids;
    for (std::string cursor;;) {
        const json page = collect("/v1/cases?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
        for (const auto& c : page.at("cases")) case_ids.push_back(c.at("case_id"));
        if (page.at("next_cursor").is_null()) break;
        cursor = page.at("next_cursor");
    }
    for (const auto& filter : {"", "&lost_contact=true", "&category=mobile"})
        for (std::string cursor;;) {
            const json page = collect(std::string("/v1/members?limit=1000") + filter + (cursor.empty() ? "" : "&cursor=" + cursor));
            if (std::string(filter).empty())
                for (const auto& m : page.at("items")) member_ids.push_back(m.at("member_id"));
            if (page.at("next").is_null()) break;
            cursor = page.at("next");
        }
    REQUIRE(case_ids.size() > 100);
    REQUIRE(member_ids.size() == registered);
    for (const auto& id : case_ids) collect("/v1/cases/" + id);
    for (const auto& id : member_ids) collect("/v1/members/" + id);
    collect("/v1/grids");
    for (const auto& g : grids) {
        collect("/v1/grids/" + g);
        collect("/v1/grids/" + g + "/stats");
        collect("/v1/grids/" + g + "/stars");
        collect("/v1/members?limit=1000&grid=" + g);
        collect("/v1/cases?limit=1000&grid=" + g);
    }
    for (const auto& b : branches) {
        collect("/v1/branches/" + b + "/outflow?limit=1000");
        collect("/v1/branches/" + b + "/outflow?limit=1000&scope=subtree");
        collect("/v1/branches/" + b + "/inflow?limit=1000");
        collect("/v1/points/leaderboard?limit=1000&month=2026-09&grid=" + b);
    }
    for (int month = 5; month <= 11; ++month) {
        const std::string m = "2026-" + std::string(month < 10 ? "0" : "") + std::to_string(month);
        collect("/v1/points/leaderboard?limit=1000&month=" + m);
        collect("/v1/grids/baohua/stars?period=" + m);
        collect("/v1/grids/baohua/stats?from=" + m + "-01");
    }
    for (const auto& d : depts) {
        collect("/v1/departments/" + d + "/queue");
        collect("/v1/cases?limit=1000&dept=" + d);
    }

    auto leaks = [&](const std::set<std::string>& needles) {
        std::vector<std::string> found;
        for (const auto& n : needles)
            for (const auto& s : strings)
                if (s.find(n) != std::string::npos) {
                    found.push_back("\"" + n + "\" in \"" + s.substr(0, 80) + "\"");
                    break;
                }
        return found;
    };
    const auto member_leaks = leaks(member_names), person_leaks = leaks(person_names), text_leaks = leaks(free_text);
    CHECK_MESSAGE(member_leaks.empty(), "member names: " << json(member_leaks).dump());
    CHECK_MESSAGE(person_leaks.empty(), "person names: " << json(person_leaks).dump());
    CHECK_MESSAGE(text_leaks.empty(), "free text: " << json(text_leaks).dump());
    MESSAGE("sample town: " << answers << " dashboard answers, " << strings.size() << " distinct strings scanned for " << member_names.size()
                            << " member names, " << person_names.size() << " person names and " << free_text.size() << " free texts");

    // The needles are the right ones: the same names do show to an auditor.
    const auto full = get("/v1/members?limit=1000", Role::auditor);
    REQUIRE(full.status == 200);
    for (const auto& name : member_names) CHECK(full.body.find(name) != std::string::npos);
}

} // TEST_SUITE
