// The time-out writer: a schedule of (due_at, case_id) kept from the model, and the events it writes.
#include "engine/scheduler.hpp"

#include "engine/thread_name.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>

namespace gridloop::engine {

using namespace events;
using projections::Case;

namespace {

// A sleeping thread re-reads the clock at least this often, so a wall clock that jumps (NTP, a
// suspended laptop) delays a time-out by no more than this.
constexpr std::chrono::seconds max_sleep{30};
// After a time-out that could not be written (storage failure), the thread retries this much later.
constexpr std::chrono::seconds retry_delay{1};
constexpr std::size_t max_refusals = 100;

// What the writer needs to know about one due case, read from the model in one go.
struct Due {
    Instant due;
    std::string case_id;
    std::int64_t version = 0;
    Rung rung = Rung::worker;
    projections::RungMask rungs = 0;
};

// The earliest due of an open case in the model, if any.
std::optional<Instant> earliest(const projections::Model& m) {
    const auto& blocks = m.open_by_due().blocks();
    if (blocks.empty()) return std::nullopt;
    return blocks.front().front().due;
}

} // namespace

struct Scheduler::State {
    mutable std::mutex mutex;
    std::condition_variable cv;
    std::optional<Instant> earliest; // the model's earliest due, as of the last commit
    std::deque<std::string> refusals;
    bool woken = false, stopping = false;

    void refused(std::string message) {
        if (refusals.size() == max_refusals) refusals.pop_front();
        refusals.push_back(std::move(message));
    }
};

std::string Scheduler::timeout_event_id(const std::string& case_id, std::int64_t version) {
    std::string id = std::string(timeout_id_prefix) + case_id + "-v" + std::to_string(version);
    if (id.size() <= 64) return id;
    // A long case id: still deterministic, still unique per (case, version).
    return std::string(timeout_id_prefix) + sha256_hex(case_id).substr(0, 40) + "-v" + std::to_string(version);
}

namespace {

// The time-out of a case that ran out on its rung: one rung up the grid ladder, or supervision
// where there is none (town, department), expecting the case exactly as seen.
Posted timeout_for(const Due& d) {
    Event event;
    if (auto up = projections::next_grid_rung(d.rungs, d.rung)) {
        event = IssueEscalated{d.case_id, *up, std::nullopt, "timeout", true};
    } else {
        // The town and the departments need a person to choose where the case goes next: the
        // engine supervises (督办) instead, which restarts the rung's clock.
        event = IssueSupervised{d.case_id, std::string(system_actor),
                                "the " + std::string(to_string(d.rung)) + " rung ran out of time at " + format_time(d.due)};
    }
    return Posted{std::move(event), Scheduler::timeout_event_id(d.case_id, d.version), std::nullopt, d.version, std::nullopt};
}

Due due_of(const Case& c) { return Due{c.due_at, c.case_id, c.version, c.rung, c.rungs}; }

bool by_due(const Due& a, const Due& b) { return std::tie(a.due, a.case_id) < std::tie(b.due, b.case_id); }

} // namespace

Scheduler::Scheduler(Engine& engine) : engine_(engine), state_(std::make_shared<State>()) {
    // The schedule is the model's own: its open cases by due time. The observer runs after each
    // committed group, in commit order, with the model already applied (perhaps further): each reads the model
    // as it is then, so the last one leaves the newest earliest due. It wakes the thread when that changed.
    std::weak_ptr<State> weak = state_;
    engine_.on_commit([weak, &engine](const std::vector<Envelope>&, const std::vector<RawEnvelope>&) {
        auto state = weak.lock();
        if (!state) return; // the scheduler is gone; its observer stays registered and idle
        const auto due = engine.read([](const projections::Model& m) { return earliest(m); });
        {
            std::lock_guard lock(state->mutex);
            if (state->earliest == due) return;
            state->earliest = due;
            state->woken = true;
        }
        state->cv.notify_all();
    });
    // Registered first, then read under the model's lock: a commit in between is applied after this
    // read, and its observer writes after it.
    engine_.read([&](const projections::Model& m) {
        std::lock_guard lock(state_->mutex);
        state_->earliest = earliest(m);
    });
}

Scheduler::~Scheduler() { stop(); }

std::optional<Instant> Scheduler::next_due() const {
    std::lock_guard lock(state_->mutex);
    return state_->earliest;
}

std::vector<std::string> Scheduler::take_refusals() {
    std::lock_guard lock(state_->mutex);
    std::vector<std::string> out(state_->refusals.begin(), state_->refusals.end());
    state_->refusals.clear();
    return out;
}

std::size_t Scheduler::run_due(Instant now) {
    std::vector<Due> due;
    engine_.read([&](const projections::Model& m) {
        projections::each_due_by(m.open_by_due(), now, [&](const projections::OpenDue& open) {
            due.push_back(due_of(*open.c));
            return true;
        });
    });
    if (due.empty()) return 0;
    std::sort(due.begin(), due.end(), by_due);

    // One request per case, so that a case that moved meanwhile does not hold the others back; all
    // of them share one commit and are recorded at `now`.
    std::vector<Submission> requests;
    requests.reserve(due.size());
    for (const auto& d : due) requests.push_back(Submission{{timeout_for(d)}, std::string(system_actor), now});
    auto results = engine_.append_many(std::move(requests));

    std::size_t appended = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
        if (results[i]) {
            appended += results[i]->created ? 1 : 0;
            continue;
        }
        // Refused. Normal when the case moved meanwhile (handled, escalated by a person): the
        // observer has rescheduled it. Anything else is worth telling.
        const Due& d = due[i];
        const bool moved = engine_.read([&](const projections::Model& m) {
            const Case* c = m.find_case(d.case_id);
            return !c || c->version != d.version;
        });
        if (!moved) {
            std::lock_guard lock(state_->mutex);
            state_->refused("case " + d.case_id + " v" + std::to_string(d.version) + ": " + results[i].error().message);
        }
    }
    return appended;
}

std::optional<Instant> Scheduler::next_due(const Ahead& ahead) const {
    std::optional<Instant> next;
    for (const auto& [id, c] : ahead)
        if (c.state == CaseState::open && (!next || c.due_at < *next)) next = c.due_at;
    engine_.read([&](const projections::Model& m) {
        projections::each_due_by(m.open_by_due(), next.value_or(Instant::max()), [&](const projections::OpenDue& open) {
            if (ahead.contains(open.c->case_id)) return true;
            next = open.due; // the first not overtaken by `ahead`, and before any of `ahead`
            return false;
        });
    });
    return next;
}

std::vector<std::string> Scheduler::due_by(Instant t, const Ahead& ahead) const {
    std::vector<std::pair<Instant, std::string>> found;
    for (const auto& [id, c] : ahead)
        if (c.state == CaseState::open && c.due_at <= t) found.emplace_back(c.due_at, id);
    engine_.read([&](const projections::Model& m) {
        projections::each_due_by(m.open_by_due(), t, [&](const projections::OpenDue& open) {
            if (!ahead.contains(open.c->case_id)) found.emplace_back(open.due, open.c->case_id);
            return true;
        });
    });
    std::sort(found.begin(), found.end());
    std::vector<std::string> ids;
    ids.reserve(found.size());
    for (auto& [_, id] : found) ids.push_back(std::move(id));
    return ids;
}

std::vector<Submission> Scheduler::plan_until(Instant t, Ahead& ahead) const {
    const auto ids = due_by(t, ahead);
    if (ids.empty()) return {};
    std::vector<std::pair<Due, Posted>> planned;
    engine_.read([&](const projections::Model& m) {
        const projections::Config& config = m.config();
        for (const auto& id : ids) {
            auto it = ahead.find(id);
            if (it == ahead.end()) {
                const Case* c = m.find_case(id);
                if (!c) continue;
                it = ahead.emplace(id, *c).first;
            }
            Case& c = it->second;
            // The case runs out, climbs (or is supervised), and its new clock may run out by `t` too.
            while (c.state == CaseState::open && c.due_at <= t) {
                const Due d = due_of(c);
                Posted p = timeout_for(d);
                Envelope env;
                env.stream = stream_of(p.event);
                env.version = c.version + 1;
                env.event_id = *p.event_id;
                env.event = p.event;
                env.recorded_at = env.occurred_at = d.due;
                env.actor = system_actor;
                projections::apply_case(c, env, config, c.rungs);
                planned.emplace_back(d, std::move(p));
                if (c.due_at <= d.due) break; // a limit is never zero, but never loop on one
            }
        }
    });
    std::sort(planned.begin(), planned.end(), [](const auto& a, const auto& b) { return by_due(a.first, b.first); });
    std::vector<Submission> requests;
    requests.reserve(planned.size());
    for (auto& [d, p] : planned) requests.push_back(Submission{{std::move(p)}, std::string(system_actor), d.due});
    return requests;
}

void Scheduler::start() {
    std::lock_guard lock(state_->mutex);
    if (thread_.joinable()) return;
    state_->stopping = false;
    thread_ = std::thread([this] {
        name_this_thread("gl-scheduler");
        loop();
    });
}

void Scheduler::stop() {
    {
        std::lock_guard lock(state_->mutex);
        state_->stopping = true;
    }
    state_->cv.notify_all();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Scheduler::wake() {
    {
        std::lock_guard lock(state_->mutex);
        state_->woken = true;
    }
    state_->cv.notify_all();
}

void Scheduler::loop() {
    State& s = *state_;
    const Clock& clock = engine_.clock();
    std::unique_lock lock(s.mutex);
    while (!s.stopping) {
        s.woken = false;
        const auto next = s.earliest;
        const Instant now = clock.now();
        if (next && *next <= now) {
            lock.unlock();
            run_due(now);
            lock.lock();
            // Whatever is still due at `now` could not be written: try again a little later.
            if (auto still = s.earliest; still && *still <= now && !s.stopping)
                s.cv.wait_for(lock, retry_delay, [&] { return s.stopping || s.woken; });
            continue;
        }
        auto sleep = next ? std::min<std::chrono::milliseconds>(*next - now, max_sleep) : std::chrono::milliseconds(max_sleep);
        s.cv.wait_for(lock, sleep, [&] { return s.stopping || s.woken; });
    }
}

} // namespace gridloop::engine
