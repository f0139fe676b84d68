// Scripted histories into the engine, with the engine's own time-outs at their exact instants.
#include "cli/load.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

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

// Time-outs must be written at their due instants, in order with the script, as a server living
// through the history would have. Steps are committed in groups for speed, so before each step at
// T the loader plans every time-out due by T and appends it to the group, in due order, ahead of
// the step. A plan is exact as long as nothing pending touches the cases it moves, so the group is
// committed first when a step still pending touched a case now due, or when a clock started by a
// pending step could already have run out (the first pending case event plus the shortest limit:
// later events start later clocks). Policy and calendar changes are committed at once.
LoadResult load(engine::Engine& engine, engine::Scheduler& scheduler, const std::function<bool(samples::Step&)>& next,
                std::size_t group_size, const engine::Progress& progress) {
    LoadResult result;
    std::int64_t seen = 0;
    std::vector<engine::Submission> group;
    std::vector<std::string> labels;
    std::vector<bool> is_timeout;
    engine::Scheduler::Ahead ahead;  // cases as the planned, uncommitted time-outs leave them
    std::set<std::string> touched;   // cases of pending script steps
    std::optional<events::Instant> pending_due;
    projections::Calendar calendar;
    std::chrono::seconds shortest{};
    auto refresh_config = [&] {
        engine.read([&](const projections::Model& m) {
            calendar = m.config().calendar;
            shortest = shortest_limit(m.config());
        });
    };
    auto flush = [&] {
        if (!group.empty()) {
            auto results = engine.append_many(std::move(group));
            for (std::size_t i = 0; i < results.size(); ++i) {
                if (!results[i]) {
                    result.refused.push_back(labels[i] + ": " + results[i].error().message);
                    continue;
                }
                const auto n = static_cast<std::int64_t>(results[i]->envelopes.size());
                result.appended += n;
                if (is_timeout[i]) result.timeouts += n;
            }
            group.clear();
            labels.clear();
            is_timeout.clear();
            if (progress) progress(seen, 0);
        }
        ahead.clear();
        touched.clear();
        pending_due.reset();
    };
    auto tick = [&](events::Instant t) {
        const auto due = scheduler.due_by(t, ahead);
        const bool clock_pending = pending_due && *pending_due <= t;
        if (clock_pending || std::any_of(due.begin(), due.end(), [&](const std::string& id) { return touched.contains(id); })) flush();
        for (auto& s : scheduler.plan_until(t, ahead)) {
            const auto& p = s.events.front();
            labels.push_back("time-out " + p.event_id.value_or("?") + " at " + events::format_time(*s.at));
            group.push_back(std::move(s));
            is_timeout.push_back(true);
        }
    };
    refresh_config();
    // Loading onto an existing log: what ran out before its head is caught up at once, as after a restart.
    const auto head_at = engine.read([](const projections::Model& m) { return m.position() ? std::optional(m.recorded_at()) : std::nullopt; });
    if (auto due = scheduler.next_due(); head_at && due && *due <= *head_at) {
        result.timeouts += static_cast<std::int64_t>(scheduler.run_due(*head_at));
        result.appended = result.timeouts;
        for (auto& r : scheduler.take_refusals()) result.refused.push_back("time-out: " + r);
    }

    samples::Step step;
    while (next(step)) {
        ++seen;
        std::string label = "step " + std::to_string(seen) + " (" + step.posted.value("event_id", std::string("?")) + ")";
        auto posted = events::decode_posted(step.posted);
        if (!posted) {
            result.refused.push_back(label + ": " + posted.error().message);
            continue;
        }
        const auto committed_due = scheduler.next_due(ahead);
        if ((committed_due && *committed_due <= step.at) || (pending_due && *pending_due <= step.at)) tick(step.at);
        if (const std::string* case_id = events::case_id_of(posted->event)) {
            touched.insert(*case_id);
            if (!pending_due) pending_due = calendar.add(step.at, shortest);
        }
        const bool changes_limits = std::holds_alternative<events::PolicySet>(posted->event) ||
                                    std::holds_alternative<events::CalendarSet>(posted->event);
        group.push_back(engine::Submission{{std::move(*posted)}, step.actor, step.at});
        labels.push_back(std::move(label));
        is_timeout.push_back(false);
        if (group.size() >= group_size || changes_limits) flush();
        if (changes_limits) refresh_config();
    }
    flush();
    return result;
}

} // namespace gridloop::cli
