// The scheduler: writes the engine's own time-out events (automatic escalation and supervision) when
// a case's rung runs out. No timer state lives outside the log: the schedule is the model's.
#pragma once

#include "engine/engine.hpp"

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace gridloop::engine {

class Scheduler {
public:
    // The schedule is the model's open cases by due time (Model::open_by_due); the scheduler keeps
    // only the earliest due, read after each of the engine's commits. The engine must outlive the
    // scheduler.
    explicit Scheduler(Engine& engine);
    ~Scheduler(); // stops the background thread if running
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // The earliest due_at of an open case, if any.
    std::optional<events::Instant> next_due() const;

    // For every case open past its due_at at `now` (due_at <= now), in due_at order (ties by
    // case_id), appends one event as "system" recorded at `now`: IssueEscalated {to_rung: the next
    // rung of the grid ladder, reason: "timeout", auto: true}, or on the town and department rungs
    // (and on a ladder with nothing above) IssueSupervised {by: "system"}. Each carries the case's
    // version as expected_version and a deterministic event_id, so a race or a rerun never writes
    // it twice. Returns how many were appended.
    std::size_t run_due(events::Instant now);

    // A background thread that sleeps until next_due() on engine.clock(), then run_due(clock.now()).
    // Commits that change the schedule and wake() re-plan its sleep.
    void start();
    void stop();
    // Re-checks now (after a ManualClock was moved, for instance).
    void wake();

    // ---- for loaders of scripted histories, which append time-outs in one commit with the steps
    // around them instead of committing each on its own ----

    // Cases as planned time-outs left them, not yet committed; empty again after a commit.
    using Ahead = std::map<std::string, projections::Case, std::less<>>;
    // The earliest due_at of an open case, seen through `ahead`.
    std::optional<events::Instant> next_due(const Ahead& ahead) const;
    // The cases due by `t` (due_at <= t), seen through `ahead`, in (due_at, case_id) order.
    std::vector<std::string> due_by(events::Instant t, const Ahead& ahead) const;
    // Every time-out that falls due by `t` if nothing else happens to those cases meanwhile, each
    // recorded at its own due_at, in (due_at, case_id) order: exactly what repeating
    // run_due(*next_due()) while next_due() <= t would write. Adds the cases as they would then be
    // to `ahead`. Needs the policy and calendar in force to stay so until the requests are appended.
    std::vector<Submission> plan_until(events::Instant t, Ahead& ahead) const;

    // Time-outs refused since the last call, other than those of a case that moved meanwhile
    // ("case c-1 v3: message"). Empty in a healthy engine; the loader reports them.
    std::vector<std::string> take_refusals();

    // The deterministic event_id of the time-out for a case seen at `version` (at most 64 characters).
    static std::string timeout_event_id(const std::string& case_id, std::int64_t version);

    struct State;

private:
    void loop();

    Engine& engine_;
    std::shared_ptr<State> state_; // shared with the commit observer, which outlives this object
    std::thread thread_;
};

} // namespace gridloop::engine
