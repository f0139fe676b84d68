// RankOf: each pointer's place in a list, as snapshots write references to cases and members; the
// hash index by id, through the rehashes of its growth.
#include "projections/id_index.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using gridloop::projections::IdIndex;
using gridloop::projections::RankOf;

struct Thing {
    std::string id;
};

} // namespace

TEST_SUITE("projections") {
    TEST_CASE("IdIndex finds every id inserted, through the rehashes of its growth, and no other") {
        std::deque<Thing> things; // stable addresses
        IdIndex<Thing, &Thing::id> index;
        std::mt19937_64 rng(7);
        bool all = true;
        for (std::size_t n = 0; n < 300'000; ++n) {
            things.push_back(Thing{"c-" + std::to_string(rng())});
            index.insert(&things.back());
            if ((n & (n + 1)) == 0 || n % 49'999 == 0) // at each power of two (just after a rehash) and now and then
                for (const auto& t : things) all = all && index.find(t.id) == &t;
        }
        CHECK(all);
        bool none = true;
        for (int i = 0; i < 100'000; ++i) none = none && index.find("x-" + std::to_string(rng())) == nullptr;
        CHECK(none);
        index.clear();
        CHECK(index.find(things.front().id) == nullptr);
        index.insert(&things.front());
        CHECK(index.find(things.front().id) == &things.front());
    }

    TEST_CASE("RankOf gives each listed pointer its place and refuses one not listed") {
        for (const std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(7), std::size_t(8), std::size_t(100'000)}) {
            std::deque<int> values(n + 1); // stable addresses, one more than listed
            std::vector<const int*> listed;
            for (std::size_t i = 0; i < n; ++i) listed.push_back(&values[i]);
            std::shuffle(listed.begin(), listed.end(), std::mt19937(42));
            const RankOf<int> rank(listed);
            bool all = true;
            for (std::size_t i = 0; i < n; ++i) all = all && rank.at(listed[i]) == i;
            CHECK(all);
            CHECK_THROWS_AS(rank.at(&values[n]), std::out_of_range);
            CHECK_THROWS_AS(rank.at(nullptr), std::out_of_range);
        }
    }
}
