// RankOf: each pointer's place in a list, as snapshots write references to cases and members.
#include "projections/id_index.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

using gridloop::projections::RankOf;

} // namespace

TEST_SUITE("projections") {
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
