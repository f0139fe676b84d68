// The sample town 宝华镇 / 新城社区: its organisation, party members and half a year of cases
// (May–November 2026) as a script to replay through the engine with a simulated clock.
#pragma once

#include "samples/step.hpp"

#include <vector>

namespace gridloop::samples {

// Deterministic: the same vector on every call. Every step is valid when posted at its `at` (the
// engine's own time-outs included), so a replay refuses nothing.
std::vector<Step> sample_town();

} // namespace gridloop::samples
