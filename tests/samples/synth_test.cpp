// The synthetic city: deterministic per seed, exact in length, shaped like a city, and valid step
// by step under the same checker as the sample town.
#include "samples/synth.hpp"
#include "tests/samples/checker.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

namespace {

using gridloop::samples::Step;
using gridloop::samples::Synth;
using gridloop::samples::SynthOptions;
using gridloop::samples::check::Checker;

std::vector<Step> stream(std::uint64_t events, std::uint64_t seed) {
    Synth synth(SynthOptions{events, seed});
    std::vector<Step> out;
    Step s;
    while (synth.next(s)) out.push_back(s);
    return out;
}

} // namespace

TEST_SUITE("samples") {

TEST_CASE("synth is deterministic for a seed and differs between seeds") {
    const auto a = stream(20000, 7), b = stream(20000, 7), c = stream(20000, 8);
    REQUIRE(a.size() == 20000);
    CHECK(a == b);
    REQUIRE(c.size() == 20000);
    CHECK(a != c);
    // Not only the event ids: the content differs too.
    std::size_t same = 0;
    for (std::size_t i = 0; i < a.size(); ++i) same += a[i].posted["data"] == c[i].posted["data"] ? 1 : 0;
    CHECK(same < a.size() / 2);
}

TEST_CASE("synth gives the same steps into a reused or a fresh Step") {
    // next() rewrites the caller's Step in place; whatever it held before must not leak through.
    Synth reused(SynthOptions{30000, 11}), fresh(SynthOptions{30000, 11});
    Step r;
    r.posted = {{"type", "IssueHandled"}, {"data", {{"stray", 1}}}, {"occurred_at", "x"}};
    std::size_t n = 0, differ = 0;
    for (;;) {
        Step f;
        const bool a = reused.next(r), b = fresh.next(f);
        REQUIRE(a == b);
        if (!a) break;
        ++n;
        differ += r == f ? 0 : 1;
    }
    CHECK(n == 30000);
    CHECK(differ == 0);
}

TEST_CASE("synth streams exactly the steps asked for") {
    for (std::uint64_t n : {0ull, 1ull, 7ull, 1000ull, 100000ull}) {
        CAPTURE(n);
        Synth synth(SynthOptions{n, 3});
        Step s;
        std::uint64_t count = 0;
        while (synth.next(s)) ++count;
        CHECK(count == n);
        CHECK_FALSE(synth.next(s));
    }
}

TEST_CASE("synth output replays with no refusal") {
    for (auto [n, seed] : {std::pair<std::uint64_t, std::uint64_t>{1000, 1}, {100000, 1}, {60000, 42}}) {
        CAPTURE(n);
        CAPTURE(seed);
        Synth synth(SynthOptions{n, seed});
        Checker c;
        Step s;
        while (synth.next(s)) c.feed(s);
        c.finish();
        CHECK_MESSAGE(c.errors().empty(), gridloop::samples::check::first_errors(c));
        CHECK(c.steps() == n);
    }
}

TEST_CASE("synth is shaped like a city") {
    constexpr std::uint64_t n = 100000;
    Synth synth(SynthOptions{n, 5});
    const auto shape = synth.shape();
    CHECK(shape.towns >= 1);
    CHECK(shape.micros >= n / 1500);
    CHECK(shape.departments == shape.towns * 5 + 1);
    Checker c;
    Step s;
    bool organisation_over = false;
    std::uint64_t member_steps = 0, org_after = 0;
    while (synth.next(s)) {
        const auto type = s.posted["type"].get<std::string>();
        const bool org = type == "GridDefined" || type == "DepartmentRegistered" || type == "PersonAssigned" ||
                         type == "PolicySet" || type == "CalendarSet";
        if (!org) organisation_over = true;
        else if (organisation_over) ++org_after;
        if (type.rfind("Member", 0) == 0 || type.rfind("Points", 0) == 0) ++member_steps;
        c.feed(s);
    }
    c.finish();
    REQUIRE_MESSAGE(c.errors().empty(), gridloop::samples::check::first_errors(c));
    CHECK(org_after == 0); // organisation first
    CHECK(c.grids_by_level.at("micro") == static_cast<int>(shape.micros));
    CHECK(c.persons_by_role.size() == 5);
    // Members and points are about 15% of the stream.
    const double member_share = static_cast<double>(member_steps) / static_cast<double>(n);
    CHECK(member_share > 0.10);
    CHECK(member_share < 0.20);
    CHECK(c.members_by_category.size() == 6);

    // Long tails: the busiest category and micro-grid stand far above the typical one.
    std::map<std::string, int> per_grid;
    for (const auto& [id, k] : c.cases) ++per_grid[k.grid];
    std::vector<int> counts;
    for (const auto& [g, n_cases] : per_grid) counts.push_back(n_cases);
    std::sort(counts.begin(), counts.end());
    REQUIRE(counts.size() > 10);
    CHECK(counts.back() >= 4 * counts[counts.size() / 2]);

    // Every path of the loop appears.
    auto count = [&](auto pred) {
        return std::count_if(c.cases.begin(), c.cases.end(), [&](const auto& kv) { return pred(kv.second); });
    };
    using gridloop::samples::check::CaseInfo;
    CHECK(count([](const CaseInfo& k) { return k.state == "closed" && k.to_rungs.empty() && k.round == 1; }) > count([](const CaseInfo& k) {
              return !k.to_rungs.empty();
          }));
    CHECK(count([](const CaseInfo& k) { return k.returns >= 1; }) >= 5);
    CHECK(count([](const CaseInfo& k) { return k.returns == 2; }) >= 1);
    CHECK(count([](const CaseInfo& k) { return k.supervised; }) >= 5);
    CHECK(count([](const CaseInfo& k) { return k.round >= 2 && k.state == "closed"; }) >= 20);
    CHECK(count([](const CaseInfo& k) { return k.state == "dismissed"; }) >= 20);
    CHECK(count([](const CaseInfo& k) { return k.floating; }) >= 10);
    CHECK(count([](const CaseInfo& k) { return k.volunteers; }) >= 50);
    CHECK(count([](const CaseInfo& k) { return k.occurred; }) >= 5);
    for (const char* rung : {"micro_head", "grid", "community", "town", "department"}) {
        CAPTURE(rung);
        CHECK(count([&](const CaseInfo& k) { return std::find(k.to_rungs.begin(), k.to_rungs.end(), rung) != k.to_rungs.end(); }) >= 5);
    }
    CHECK(c.lost_contact() >= 1);
}

TEST_CASE("synth with a fixed number of towns places the same micro-grids in them") {
    // Shapes only (built at construction): by default a city this size has several towns.
    constexpr std::uint64_t big = 3'000'000;
    const auto spread = Synth(SynthOptions{big, 1}).shape();
    const auto one = Synth(SynthOptions{big, 1, 1}).shape();
    const auto three = Synth(SynthOptions{big, 1, 3}).shape();
    CHECK(spread.towns > 1);
    CHECK(one.towns == 1);
    CHECK(three.towns == 3);
    CHECK(one.micros == spread.micros);
    CHECK(three.micros == spread.micros);
    CHECK(one.communities > 30); // a town of the whole city needs more communities than a default town has
    CHECK(one.departments == 5 + 1);
    // More towns asked for than micro-grids: one micro-grid each.
    CHECK(Synth(SynthOptions{1000, 1, 50}).shape().towns == Synth(SynthOptions{1000, 1, 50}).shape().micros);

    // The stream stays valid, and each town gets cases.
    constexpr std::uint64_t n = 60000;
    Synth synth(SynthOptions{n, 9, 2});
    REQUIRE(synth.shape().towns == 2);
    Checker c;
    Step s;
    while (synth.next(s)) c.feed(s);
    c.finish();
    CHECK_MESSAGE(c.errors().empty(), gridloop::samples::check::first_errors(c));
    CHECK(c.steps() == n);
    std::map<std::string, int> per_town;
    for (const auto& [id, k] : c.cases) ++per_town[k.grid.substr(0, k.grid.find('-'))];
    CHECK(per_town.size() == 2);
    for (const auto& [town, cases] : per_town) CHECK_MESSAGE(cases > 100, town);
}

} // TEST_SUITE
