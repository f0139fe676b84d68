// Loading a scripted history (the sample town, a synthetic city) through the engine's real
// decide-and-append path, on a simulated clock.
#pragma once

#include "engine/engine.hpp"
#include "engine/scheduler.hpp"
#include "samples/step.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gridloop::cli {

struct LoadResult {
    std::int64_t appended = 0; // every event appended, the engine's time-outs included
    std::int64_t timeouts = 0; // of those, time-outs (automatic escalations and supervisions)
    std::vector<std::string> refused; // "step N (event_id): message"
};

// Pulls steps from `next` until it returns false, appending each as its own request at its own
// `at`, committing in groups of `group_size`. Before each step, every time-out due by then is
// written at its exact due_at, as a server living through that history would have written it
// (time-outs already due in an existing log when loading starts are caught up at once first).
// Refused time-outs are reported in `refused` too.
LoadResult load(engine::Engine& engine, const std::function<bool(samples::Step&)>& next, std::size_t group_size = 512,
                const engine::Progress& progress = {});
// The same with a scheduler of the caller's (one made for the engine; the first form makes its own).
LoadResult load(engine::Engine& engine, engine::Scheduler& scheduler, const std::function<bool(samples::Step&)>& next,
                std::size_t group_size = 512, const engine::Progress& progress = {});

} // namespace gridloop::cli
