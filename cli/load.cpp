// Scripted histories into the engine, with the engine's own time-outs at their exact instants.
#include "cli/load.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace gridloop::cli {

namespace {

// The shortest time limit in working seconds under the policy and calendar in force.
std::chrono::seconds shortest_limit(const projections::Config& config) {
    auto shortest = std::chrono::seconds::max();
    for (const auto& [rung, limit] : config.limits) shortest = std::min(shortest, config.calendar.limit(limit));
    return shortest;
}

} // namespace

LoadResult load(engine::Engine& engine, const std::function<bool(samples::Step&)>& next, std::size_t group_size,
                const engine::Progress& progress) {
    engine::Scheduler scheduler(engine);
    return load(engine, scheduler, next, group_size, progress);
}

LoadResult load(engine::Engine& engine, engine::Scheduler& scheduler, const std::function<bool(samples::Step&)>& next,
                std::size_t group_size, const engine::Progress& progress) {
    LoadResult result;
    std::int64_t seen = 0;
    std::vector<engine::Submission> group;
    std::vector<std::string> labels;
    auto flush = [&] {
        if (group.empty()) return;
        auto results = engine.append_many(std::move(group));
        for (std::size_t i = 0; i < results.size(); ++i) {
            if (results[i]) result.appended += static_cast<std::int64_t>(results[i]->envelopes.size());
            else result.refused.push_back(labels[i] + ": " + results[i].error().message);
        }
        group.clear();
        labels.clear();
        if (progress) progress(seen, 0);
    };

    // Time-outs must be written at their due instants, in order with the script. Steps are grouped
    // for speed, so the loader flushes and ticks the scheduler before any step at or after the
    // earliest instant a time-out could fall due: the committed schedule's next due, or the clock
    // of the first pending case event plus the shortest limit (clocks of later events start later).
    std::optional<events::Instant> committed_due = scheduler.next_due();
    std::optional<events::Instant> pending_due;
    projections::Calendar calendar;
    std::chrono::seconds shortest{};
    auto replan = [&] {
        committed_due = scheduler.next_due();
        pending_due.reset();
        engine.read([&](const projections::Model& m) {
            calendar = m.config().calendar;
            shortest = shortest_limit(m.config());
        });
    };
    replan();
    auto tick = [&](events::Instant t) {
        while (auto due = scheduler.next_due()) {
            if (*due > t) break;
            const std::size_t written = scheduler.run_due(*due);
            for (auto& r : scheduler.take_refusals()) result.refused.push_back("time-out at " + events::format_time(*due) + ": " + r);
            if (written == 0 && scheduler.next_due() == due) break; // stuck: reported above, never loop
        }
    };

    samples::Step step;
    while (next(step)) {
        ++seen;
        std::string label = "step " + std::to_string(seen) + " (" + step.posted.value("event_id", std::string("?")) + ")";
        auto posted = events::decode_posted(step.posted);
        if (!posted) {
            result.refused.push_back(label + ": " + posted.error().message);
            continue;
        }
        const auto horizon = std::min(committed_due.value_or(events::Instant::max()), pending_due.value_or(events::Instant::max()));
        if (step.at >= horizon) {
            flush();
            tick(step.at);
            replan();
        }
        const bool starts_clock = events::case_id_of(posted->event) != nullptr;
        const bool changes_limits = std::holds_alternative<events::PolicySet>(posted->event) ||
                                    std::holds_alternative<events::CalendarSet>(posted->event);
        if (starts_clock && !pending_due) pending_due = calendar.add(step.at, shortest);
        group.push_back(engine::Submission{{std::move(*posted)}, step.actor, step.at});
        labels.push_back(std::move(label));
        if (group.size() >= group_size || changes_limits) {
            flush();
            replan();
        }
    }
    flush();
    return result;
}

} // namespace gridloop::cli
