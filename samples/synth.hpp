// A synthetic city's script of any length, streamed: for load tests and long replays.
#pragma once

#include "samples/step.hpp"

#include <cstdint>
#include <memory>

namespace gridloop::samples {

struct SynthOptions {
    std::uint64_t events = 10000; // exactly this many steps
    std::uint64_t seed = 1;
    // 0: as many towns as the city's size gives (6 to 30 communities each). N > 0: exactly N towns
    // (at most one per micro-grid) sharing the micro-grids evenly, so that one town can hold all the
    // cases (`gridloop generate --towns 1`: the town-level stats of issue 8 at 2 million cases).
    std::uint64_t towns = 0;
};

// Streams a city sized from `events` (about one micro-grid per 1,500 steps: towns → communities →
// branch grids → micro-grids, five line departments per town and a city-wide water company):
// first its organisation (calendar, policy, grids, departments, persons), then party members'
// events (~15%) interleaved with cases walking every path of the closed loop (~85%), in time
// order over working hours of 2026. Exactly `events` steps: the stream simply stops there, which
// leaves the cases then in progress open (every prefix of the script is valid). Deterministic for
// a seed on every platform; memory grows with the city and the cases in flight, not with
// `events` already streamed.
class Synth {
public:
    explicit Synth(SynthOptions options);
    ~Synth();
    Synth(Synth&&) noexcept;
    Synth& operator=(Synth&&) noexcept;

    // The next step; false when all `events` have been streamed.
    bool next(Step& out);

    struct Shape {
        std::uint64_t towns = 0, communities = 0, branches = 0, micros = 0, departments = 0, persons = 0, members = 0;
    };
    // The city it streams (members: how many it will register).
    Shape shape() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace gridloop::samples
