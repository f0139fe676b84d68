// Loading a scripted history (the sample town, a synthetic city) through the engine's real
// decide-and-append path, on a simulated clock.
#pragma once

#include "engine/engine.hpp"
#include "samples/step.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gridloop::cli {

struct LoadResult {
    std::int64_t appended = 0;
    std::vector<std::string> refused; // "step N (event_id): message"
};

// Pulls steps from `next` until it returns false, appending each as its own request at its own
// `at`, committing in groups of `group_size`.
LoadResult load(engine::Engine& engine, const std::function<bool(samples::Step&)>& next, std::size_t group_size = 512,
                const engine::Progress& progress = {});

} // namespace gridloop::cli
