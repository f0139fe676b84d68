// GET /v1/cases against a plain walk of every case in id order, on a synthetic city loaded through
// the real engine: every role (scoped to a micro-grid, a branch grid, a community, a town, nested
// scopes, one department, two), every filter, small and large pages followed by their cursors. The
// listing takes a shortcut through the cases of a scope, of a department or the open cases already
// due when those are few; whichever it takes, the pages must be these.
#include "cli/load.hpp"
#include "engine/engine.hpp"
#include "http/access.hpp"
#include "http/api.hpp"
#include "samples/synth.hpp"
#include "tests/support/temp_db.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace gridloop;
using events::Instant;
using http::Role;
using nlohmann::json;
using projections::Case;
using projections::Model;

struct Filters {
    std::optional<events::CaseState> state;
    std::optional<events::Rung> rung;
    std::optional<bool> overdue;
    std::optional<std::string> grid, dept;
    std::string query() const {
        std::string q;
        if (state) q += "&state=" + std::string(events::to_string(*state));
        if (rung) q += "&rung=" + std::string(events::to_string(*rung));
        if (overdue) q += std::string("&overdue=") + (*overdue ? "true" : "false");
        if (grid) q += "&grid=" + *grid;
        if (dept) q += "&dept=" + *dept;
        return q;
    }
};

// What the listing must show, read straight off the cases.
std::vector<std::string> expected(const Model& m, const http::Principal& who, const Filters& f, Instant now) {
    std::vector<std::string> ids;
    for (const auto& [id, k] : m.cases()) {
        if (f.state && k.state != *f.state) continue;
        if (f.rung && k.rung != *f.rung) continue;
        if (f.overdue && k.overdue(now) != *f.overdue) continue;
        if (f.grid && !m.within(k.grid_id, *f.grid)) continue;
        if (f.dept && k.dept_id != *f.dept) continue;
        if (http::sees_case(who, m, k)) ids.push_back(id);
    }
    return ids;
}

} // namespace

TEST_CASE("cases list: every role, filter and page size gives the cases a walk of every case gives, in id order") {
    testing::TempDb db("cases-list");
    {
        engine::SystemClock clock;
        engine::Engine engine(db.path(), clock);
        samples::Synth synth({60000, 7});
        REQUIRE(cli::load(engine, [&](samples::Step& s) { return synth.next(s); }, 2048).refused.empty());
    }
    // Late enough that some open cases are overdue and others not yet.
    const Instant head_time = *events::parse_time(engine::StoreReader(db.path()).head().recorded_at);
    engine::ManualClock clock{head_time + std::chrono::hours(30)};
    engine::Engine engine(db.path(), clock);

    // Scopes from the city: a town, a community, the branch grid with the fewest cases (so that its
    // list takes the shortcut even for small pages) and a micro-grid of it.
    std::string town, community, branch, micro, dept;
    std::vector<std::string> both;
    engine.read([&](const Model& m) {
        town = m.roots().front();
        const auto count = [&](const std::string& root) {
            std::size_t n = 0;
            for (const auto& g : m.subtree(root)) n += m.cases_in(g).size();
            return n;
        };
        std::size_t fewest = m.cases().size();
        for (const auto& g : m.subtree(town)) {
            const auto level = m.grid(g)->level;
            if (level == events::Level::community && community.empty()) community = g;
            if (const auto n = count(g); level == events::Level::grid && n > 0 && n < fewest) fewest = n, branch = g;
        }
        for (const auto& g : m.subtree(branch))
            if (m.grid(g)->level == events::Level::micro && !m.cases_in(g).empty() && micro.empty()) micro = g;
        dept = m.departments().begin()->first;
        // Two departments one case has been on, for a staff scoped to both (that case listed once).
        for (const auto& [id, k] : m.cases()) {
            std::set<std::string> on;
            for (const auto& t : k.timeline)
                if (t.dept) on.insert(m.name(t.dept));
            if (on.size() >= 2) {
                both = {*on.begin(), *std::next(on.begin())};
                break;
            }
        }
        REQUIRE(fewest * fewest <= 4 * 8 * m.cases().size()); // http/api.cpp, fewer_cases: pages of 7
    });
    REQUIRE_FALSE(micro.empty());
    REQUIRE(both.size() == 2);
    const std::vector<http::Principal> principals{
        {"admin", Role::admin, {}},
        {"w", Role::worker, {micro}},
        {"mh", Role::micro_head, {micro}},
        {"gh", Role::grid_head, {branch}},
        {"gm", Role::grid_head, {branch, micro}},    // nested: each case once
        {"th", Role::town_head, {town}},
        {"ds", Role::department_staff, {dept}},
        {"ds2", Role::department_staff, both},
        {"screen", Role::dashboard, {}},
        {"wall", Role::dashboard, {community}},
    };
    json tokens = json::array();
    for (std::size_t i = 0; i < principals.size(); ++i)
        tokens.push_back({{"token", "tok-cases-list-" + std::to_string(1000 + i)},
                          {"subject", principals[i].subject},
                          {"role", std::string(http::to_string(principals[i].role))},
                          {"scope", principals[i].scope}});
    http::Api api(engine, std::make_shared<http::Authenticator>(http::Tokens::parse(tokens.dump())));

    using events::CaseState;
    using events::Rung;
    const std::vector<Filters> filters{
        {},
        {CaseState::open, {}, {}, {}, {}},
        {{}, {}, true, {}, {}},
        {{}, {}, false, {}, {}},
        {CaseState::open, {}, true, town, {}},
        {{}, Rung::department, {}, {}, {}},
        {{}, {}, {}, micro, {}},
        {{}, {}, true, branch, {}},
        {{}, {}, {}, community, {}},
        {{}, {}, {}, {}, dept},
        {CaseState::closed, {}, {}, branch, {}},
    };
    std::size_t compared = 0, nonempty = 0;
    for (std::size_t i = 0; i < principals.size(); ++i) {
        const std::string token = "tok-cases-list-" + std::to_string(1000 + i);
        for (const auto& f : filters) {
            const auto want = engine.read([&](const Model& m) { return expected(m, principals[i], f, clock.now()); });
            for (const int limit : {7, 1000}) {
                std::vector<std::string> got;
                std::string cursor;
                bool refused = false;
                for (int pages = 0; pages < 10000; ++pages) {
                    const std::string target = "/v1/cases?limit=" + std::to_string(limit) + f.query() + (cursor.empty() ? "" : "&cursor=" + cursor);
                    const auto r = api.handle_now(http::Request{"GET", target, "", {{"authorization", "Bearer " + token}}});
                    INFO(principals[i].subject << " " << target << " → " << r.body.substr(0, 200));
                    if (r.status == 403 || r.status == 404) { // a grid outside the scope (the access tests' matter)
                        refused = true;
                        break;
                    }
                    REQUIRE(r.status == 200);
                    const auto page = json::parse(r.body);
                    CHECK(page.at("cases").size() <= static_cast<std::size_t>(limit));
                    for (const auto& k : page.at("cases")) got.push_back(k.at("case_id"));
                    if (page.at("next_cursor").is_null()) break;
                    CHECK(page.at("next_cursor") == got.back());
                    cursor = page.at("next_cursor");
                }
                if (refused) continue;
                CAPTURE(principals[i].subject);
                CAPTURE(f.query());
                CAPTURE(limit);
                CHECK(got == want);
                ++compared;
                nonempty += !want.empty();
            }
        }
    }
    CHECK(compared > 120);
    CHECK(nonempty > 80);
}
