// The stats index's open cases by due time (projections::DueBlocks, sorted blocks of (due, report
// time, case)) against std::multiset: inserts, erases, iteration order, bulk building.
#include "projections/stats.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

using namespace gridloop;
using events::Instant;

namespace {

using Due = projections::OpenDue;

Instant at(std::int64_t ms) { return Instant(std::chrono::milliseconds(ms)); }

// Cases whose report times repeat, so that pairs tie on due and on report time and differ by case.
std::vector<projections::Case> some_cases(std::size_t n) {
    std::vector<projections::Case> cases(n);
    for (std::size_t i = 0; i < n; ++i) cases[i].reported_at = at(static_cast<std::int64_t>(i % 7));
    return cases;
}

Due due(Instant t, const projections::Case* c) { return projections::open_due_of(t, *c); }

// Everything the blocks hold equals `want`, in order, and the blocks keep their shape.
void check_same(const projections::DueBlocks& blocks, const std::multiset<Due>& want) {
    REQUIRE(blocks.size() == static_cast<std::int64_t>(want.size()));
    std::vector<Due> walked; // in block order, as for_each_overdue and daily walk them
    for (const auto& b : blocks.blocks()) {
        CHECK_FALSE(b.empty());
        CHECK(b.size() <= blocks.max_block());
        walked.insert(walked.end(), b.begin(), b.end());
    }
    CHECK(walked == std::vector<Due>(want.begin(), want.end())); // sorted within and across blocks
    CHECK(blocks.values() == walked);
}

} // namespace

TEST_CASE("open due blocks: random inserts and erases against a multiset") {
    std::mt19937_64 rng(11);
    const auto cases = some_cases(400);
    const auto any_case = [&] { return &cases[rng() % cases.size()]; };
    projections::DueBlocks blocks;
    std::multiset<Due> want;
    CHECK_FALSE(blocks.erase(due(at(0), &cases[0]))); // nothing to erase
    // Few distinct dues, so that many pairs share a due and differ by case, and some pairs repeat.
    const auto random_due = [&] { return due(at(static_cast<std::int64_t>(rng() % 1500) - 200), any_case()); };
    // Erases one that is there three times in four (the first at or after a random pair), else a
    // random pair, there or not.
    const auto erase_one = [&] {
        Due x = random_due();
        if (const auto it = want.lower_bound(x); it != want.end() && rng() % 4 != 0) x = *it;
        const auto it = want.find(x);
        CHECK(blocks.erase(x) == (it != want.end()));
        if (it != want.end()) want.erase(it);
    };
    for (int i = 0; i < 30000; ++i) {
        if (rng() % 3 != 0) {
            const Due x = random_due();
            blocks.insert(x);
            want.insert(x);
        } else {
            erase_one();
        }
        if (i % 5000 == 4999) check_same(blocks, want);
    }
    CHECK(blocks.blocks().size() > 20); // split many times
    CHECK_FALSE(blocks.erase(due(at(5000), &cases[0])));  // above everything
    CHECK_FALSE(blocks.erase(due(at(-5000), &cases[0]))); // below everything
    // Erase most, at random places (merges), then the rest from the front.
    while (want.size() > 300) erase_one();
    check_same(blocks, want);
    while (!want.empty()) {
        REQUIRE(blocks.erase(*want.begin()));
        want.erase(want.begin());
    }
    CHECK(blocks.size() == 0);
    CHECK(blocks.blocks().empty());
    CHECK_FALSE(blocks.erase(due(at(0), &cases[0])));
}

TEST_CASE("open due blocks: one pair many times over several blocks, and equal dues") {
    const auto cases = some_cases(3);
    projections::DueBlocks blocks;
    std::multiset<Due> want;
    const std::size_t n = 3 * projections::DueBlocks().max_block();
    for (std::size_t i = 0; i < n; ++i) {
        for (const Due& x : {due(at(7), &cases[1]), due(at(7), &cases[i % 3]), due(at(static_cast<std::int64_t>(i % 5)), &cases[0])}) {
            blocks.insert(x);
            want.insert(x);
        }
    }
    check_same(blocks, want);
    CHECK(blocks.blocks().size() > 4);
    CHECK_FALSE(blocks.erase(due(at(6), &cases[1]))); // a due between, a case that is elsewhere
    for (std::size_t i = 0; i < n; ++i) { // the repeated pair, whichever block its copies stand in
        REQUIRE(blocks.erase(due(at(7), &cases[1])));
        want.erase(want.find(due(at(7), &cases[1])));
    }
    check_same(blocks, want);
    while (!want.empty()) { // from the back
        REQUIRE(blocks.erase(*want.rbegin()));
        want.erase(std::prev(want.end()));
    }
    CHECK(blocks.blocks().empty());
}

TEST_CASE("open due blocks: new cases due later than most, the earliest handled first") {
    // The usual traffic: a case is reported with a due time after most, and cases leave in about due order.
    std::mt19937_64 rng(3);
    const auto cases = some_cases(5000);
    projections::DueBlocks blocks;
    std::multiset<Due> want;
    std::int64_t now = 0;
    for (std::size_t i = 0; i < 20000; ++i) {
        now += static_cast<std::int64_t>(rng() % 10);
        const Due x = due(at(now + static_cast<std::int64_t>(rng() % 500)), &cases[i % cases.size()]);
        blocks.insert(x);
        want.insert(x);
        if (want.size() > 3000) { // one of the earliest goes
            auto it = want.begin();
            std::advance(it, static_cast<std::ptrdiff_t>(rng() % 50));
            REQUIRE(blocks.erase(*it));
            want.erase(it);
        }
    }
    check_same(blocks, want);
}

TEST_CASE("open due blocks: new cases all due before a run of later ones, then the run handled") {
    // Reported out of working hours, new cases all fall due at the same moment, each after the ones
    // before it (by report time) and before the cases with longer limits: they go in below that run.
    std::vector<projections::Case> cases(30000);
    for (std::size_t i = 0; i < cases.size(); ++i) cases[i].reported_at = at(static_cast<std::int64_t>(i));
    projections::DueBlocks blocks;
    std::multiset<Due> want;
    for (std::size_t i = 0; i < 3000; ++i) { // the later run, among earlier ones
        const Due x = {at(i % 2 ? 1'000'000 + static_cast<std::int64_t>(i) : static_cast<std::int64_t>(i)), cases[i].reported_at, 0, &cases[i]};
        blocks.insert(x);
        want.insert(x);
    }
    for (std::size_t i = 3000; i < cases.size(); ++i) {
        const Due x = due(at(500'000), &cases[i]);
        blocks.insert(x);
        want.insert(x);
        if (i % 5000 == 0) check_same(blocks, want);
    }
    check_same(blocks, want);
    for (std::size_t i = 1; i < 3000; i += 2) { // the later run leaves
        const Due x = {at(1'000'000 + static_cast<std::int64_t>(i)), cases[i].reported_at, 0, &cases[i]};
        REQUIRE(blocks.erase(x));
        want.erase(want.find(x));
    }
    check_same(blocks, want);
    for (std::size_t i = 0; i < cases.size(); i += 3) { // and some of the rest
        const auto it = std::find_if(want.begin(), want.end(), [&](const Due& d) { return d.c == &cases[i]; });
        if (it == want.end()) continue; // one of the run, gone already
        const Due x = *it;
        REQUIRE(blocks.erase(x));
        want.erase(want.find(x));
    }
    check_same(blocks, want);
}

TEST_CASE("open due blocks: built from sorted pairs") {
    std::mt19937_64 rng(7);
    const auto cases = some_cases(100);
    std::vector<Due> sorted;
    for (int i = 0; i < 5000; ++i) sorted.push_back(due(at(static_cast<std::int64_t>(rng() % 700)), &cases[rng() % cases.size()]));
    std::sort(sorted.begin(), sorted.end());
    projections::DueBlocks blocks(sorted);
    std::multiset<Due> want(sorted.begin(), sorted.end());
    check_same(blocks, want);
    for (const auto& b : blocks.blocks()) CHECK(b.size() <= blocks.max_block() / 2); // room to grow
    for (std::int64_t k = 0; k < blocks.size(); k += 13) CHECK(blocks.at_rank(k).first == sorted[static_cast<std::size_t>(k)]);
    // Changed after the build like any other.
    for (int i = 0; i < 5000; ++i) {
        const Due x = due(at(static_cast<std::int64_t>(rng() % 800)), &cases[rng() % cases.size()]);
        if (i % 2 == 0) {
            blocks.insert(x);
            want.insert(x);
        } else {
            const auto it = want.find(x);
            CHECK(blocks.erase(x) == (it != want.end()));
            if (it != want.end()) want.erase(it);
        }
    }
    check_same(blocks, want);
    CHECK(projections::DueBlocks(std::vector<Due>{}).blocks().empty());
    std::swap(sorted[10], sorted[4000]);
    CHECK_THROWS_AS(projections::DueBlocks{sorted}, std::invalid_argument);
}

TEST_CASE("open due blocks: blocks grow with the count, and stay sorted while they do") {
    const auto cases = some_cases(1000);
    projections::DueBlocks blocks;
    std::multiset<Due> want;
    CHECK(blocks.max_block() == 128);
    // Half in increasing order (the usual new cases), half at random places among them.
    std::mt19937_64 rng(5);
    for (std::int64_t i = 0; i < 600000; ++i) {
        const Due x = due(at(i % 2 == 0 ? i : static_cast<std::int64_t>(rng() % 600000)), &cases[static_cast<std::size_t>(i) % cases.size()]);
        blocks.insert(x);
        want.insert(x);
    }
    CHECK(blocks.max_block() == 256); // cbrt(64 · 600k) = 337
    check_same(blocks, want);
    CHECK(blocks.blocks().size() < 600000 / 128); // most blocks were split at 256
    for (int i = 0; i < 590000; ++i) { // shrinking keeps the size reached
        REQUIRE(blocks.erase(*want.begin()));
        want.erase(want.begin());
    }
    CHECK(blocks.max_block() == 256);
    check_same(blocks, want);
}
