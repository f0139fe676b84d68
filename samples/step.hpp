// One scripted step of a sample: who posts which event, and when on the simulated clock.
#pragma once

#include "events/time.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace gridloop::samples {

struct Step {
    // The simulated clock when the event is posted; becomes its `recorded_at`. Never decreases
    // along a script.
    events::Instant at;
    // The subject posting it: a person id, or "admin" for organisation events.
    std::string actor;
    // Exactly the contract's posted form: {"type", "data", "event_id"} and, for events a phone
    // synced late, "occurred_at" (RFC 3339 with offset, earlier than `at`).
    nlohmann::json posted;

    friend bool operator==(const Step&, const Step&) = default;
};

} // namespace gridloop::samples
