// Envelopes made by hand and folded purely into a model: no engine, no store, no clock.
#pragma once

#include "projections/model.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace gridloop::testing {

// Times are local to Asia/Shanghai: "2026-11-16T09:00:00".
inline events::Instant shanghai(const std::string& local) { return *events::parse_time(local + "+08:00"); }

struct HandLog {
    projections::Model model;
    std::map<std::string, std::int64_t> versions;
    std::vector<events::Envelope> envelopes;

    // Appends the event (decoded strictly) at the given local time and folds it.
    void add(const std::string& local_time, const std::string& type, nlohmann::json data) {
        auto posted = events::decode_posted({{"type", type}, {"data", std::move(data)}});
        REQUIRE_MESSAGE(posted, (posted ? std::string() : posted.error().message));
        events::Envelope e;
        e.position = static_cast<std::int64_t>(envelopes.size()) + 1;
        e.event = posted->event;
        e.stream = events::stream_of(e.event);
        e.version = ++versions[e.stream];
        e.event_id = "e" + std::to_string(e.position);
        e.recorded_at = e.occurred_at = shanghai(local_time);
        e.actor = "tester";
        model.apply(e);
        envelopes.push_back(e);
    }
    // The model as it stood at position p (what `as_of=p` folds).
    projections::Model prefix(std::int64_t p) const {
        projections::Model m;
        for (const auto& e : envelopes)
            if (e.position <= p) m.apply(e);
        return m;
    }
};

} // namespace gridloop::testing
