// The sample town (宝华镇) loaded into an engine through the real decide-and-append path, on the
// simulated clock of its script, with the engine's own time-outs written as they fall due.
#pragma once

#include "cli/load.hpp"
#include "samples/town.hpp"

#include <cstddef>

namespace gridloop::testing {

inline cli::LoadResult load_sample_town(engine::Engine& engine) {
    const auto steps = samples::sample_town();
    std::size_t i = 0;
    return cli::load(engine, [&](samples::Step& s) {
        if (i == steps.size()) return false;
        s = steps[i++];
        return true;
    });
}

} // namespace gridloop::testing
