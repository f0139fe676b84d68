// The single writer: decide in order; append the group in one transaction (on the committer thread);
// apply it (back on the writer thread, between decisions); tell the observers and acknowledge (on the
// completion thread).
#include "engine/engine.hpp"

#include "engine/replay.hpp"
#include "engine/thread_name.hpp"
#include "projections/snapshot.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <random>

namespace gridloop::engine {

using namespace events;

namespace {

constexpr std::size_t max_group_events = 10'000;
constexpr std::size_t max_waiting_groups = 8; // decided, for the committer's next commit
// A snapshot's child process takes seconds at millions of cases; one still at it after this is killed.
constexpr std::chrono::minutes snapshot_child_limit{10};
// The periodic snapshot is background work: its child runs at a lower CPU priority, so that on a
// busy machine it takes the CPU answering leaves idle instead of an equal share of it (a serialization
// takes seconds of CPU at a few million cases). Not the lowest: a machine busy for minutes on end
// still lets it finish within snapshot_child_limit.
constexpr int snapshot_child_nice = 10; // added to the server's nice value

std::string new_event_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const std::uint64_t a = rng(), b = rng();
    char buf[37];
    std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32), static_cast<unsigned>(a >> 16 & 0xffff),
                  static_cast<unsigned>(a & 0xfff), static_cast<unsigned>((b >> 48 & 0x3fff) | 0x8000),
                  static_cast<unsigned long long>(b & 0xffffffffffffULL));
    return buf;
}

// A retry comes from the same actor with the same type, data and (when given) occurred_at; `data` is
// the retry's canonical data text. A report routed by location is compared without the grid_id the
// engine added.
bool same_content(const Posted& p, std::string_view actor, const std::string& data, const RawEnvelope& stored) {
    if (type_name(p.event) != stored.type || actor != stored.actor) return false;
    if (p.occurred_at && format_time(*p.occurred_at) != stored.occurred_at) return false;
    if (const auto* report = std::get_if<IssueReported>(&p.event); report && !report->grid_id) {
        auto theirs = decode_stored(stored.type, stored.data);
        if (!theirs || !std::holds_alternative<IssueReported>(*theirs)) return false;
        std::get<IssueReported>(*theirs).grid_id.reset();
        return encode_data(*theirs) == data;
    }
    return data == stored.data;
}

// What a client reads when the log cannot take a write: the cause in plain words, the detail, and
// what to do. The request is not applied; whether a failed commit reached the disk is unknown after
// a failed fsync, which is why the answer is "retry with the same event_id", never "resend".
Error storage_error(const StoreError& e) {
    std::string cause;
    switch (e.kind()) {
    case StoreError::Kind::full: cause = "no space is left for the event log (a full disk, a quota or a file-size limit)"; break;
    case StoreError::Kind::readonly: cause = "the event log is read-only"; break;
    case StoreError::Kind::busy: cause = "another process holds the event log's write lock"; break;
    default: cause = "the event log cannot be written"; break;
    }
    return Error{errc::unavailable, cause + " (" + e.what() + "); retry later with the same event_id: a retry never appends twice"};
}

} // namespace

void fold_onto(projections::Model& model, const StoreReader& store, std::int64_t to, const Progress& progress) {
    const std::int64_t last = to > 0 ? to : store.head().position;
    ReplayOptions options;
    options.prev_hash = model.position() ? model.head_hash() : zero_hash();
    model.defer_stats(); // brought up to date once at the end, not event by event
    scan_decoded(
        store, model.position(), last,
        [&](const Envelope& env) {
            model.apply(env);
            if (progress && env.position % 65536 == 0) progress(env.position, last);
            return true;
        },
        options);
    model.settle_stats();
    if (progress) progress(model.position(), last);
}

projections::Model fold(const StoreReader& store, std::int64_t to, const Progress& progress) {
    projections::Model model;
    fold_onto(model, store, to, progress);
    return model;
}

Engine::Engine(const std::string& db_path, const Clock& clock, const Progress& progress, SnapshotOptions snapshots)
    : path_(db_path), clock_(clock), store_(db_path), snapshots_(db_path), snapshot_options_(snapshots) {
    model_ = start(progress);
    committed_position_ = store_.head().position;
}

projections::Model Engine::start(const Progress& progress) {
    if (snapshot_options_.use) {
        if (auto model = snapshots_.load_newest(store_, store_.head().position, start_notes_)) {
            started_from_ = model->position();
            snapshot_position_ = started_from_;
            fold_onto(*model, store_, 0, progress);
            return std::move(*model);
        }
    }
    return fold(store_, 0, progress);
}

projections::Model Engine::model_at(std::int64_t position) const {
    StoreReader reader(path_);
    projections::Model model;
    std::vector<std::string> notes;
    if (snapshot_options_.use)
        if (auto saved = snapshots_.load_newest(reader, position, notes)) model = std::move(*saved);
    fold_onto(model, reader, position);
    return model;
}

std::optional<std::filesystem::path> Engine::snapshot() {
    std::lock_guard one(snapshot_write_mutex_);
    projections::snapshot::Parts parts;
    std::string hash;
    std::int64_t position = 0;
    {
        std::shared_lock lock(model_mutex_); // the writer waits to apply, not to commit
        position = model_.position();
        if (position == 0) return std::nullopt;
        hash = model_.head_hash();
        projections::save(model_, parts);
    }
    snapshot_tried_ = position;
    auto file = snapshots_.write(position, hash, parts, snapshot_options_.keep);
    snapshot_position_ = position;
    ++stats_.snapshots;
    return file;
}

bool Engine::snapshot_in_child() {
#if defined(__SANITIZE_THREAD__)
    return false; // ThreadSanitizer does not follow threads started in a forked child
#else
    std::lock_guard one(snapshot_write_mutex_);
    std::int64_t position = 0;
    pid_t child = -1;
    {
        std::shared_lock lock(model_mutex_); // held across the fork: the child's model is whole, at one position
        position = model_.position();
        if (position == 0) return true;
        const std::string hash = model_.head_hash();
        child = ::fork();
        if (child == 0) {
            // The child: the model as it stood, kept by copy-on-write while the parent goes on. It
            // serializes and writes it, and leaves without running any destructor of the parent's.
            // It needs none of the parent's files: a listening socket kept open by a child that
            // outlives a killed server would stop the restarted server from binding its port.
            ::close_range(3, ~0U, 0);
            [[maybe_unused]] const int niced = ::nice(snapshot_child_nice); // nothing to do if it fails
            int status = 1;
            try {
                projections::snapshot::Parts parts;
                projections::save(model_, parts);
                snapshots_.write(position, hash, parts, snapshot_options_.keep);
                status = 0;
            } catch (...) {
            }
            ::_exit(status);
        }
    }
    if (child < 0) return false; // no fork (out of memory, say): the caller takes it here instead
    snapshot_tried_ = position;
    // Waits for the child, but not for ever: a stop kills it (the snapshot at a clean stop is then
    // taken here), and so does a child that hangs, so that neither holds up the server's exit.
    const auto deadline = std::chrono::steady_clock::now() + snapshot_child_limit;
    int status = 0;
    for (;;) {
        const pid_t done = ::waitpid(child, &status, WNOHANG);
        if (done == child) break;
        if (done < 0 && errno != EINTR) throw std::runtime_error(std::string("snapshot: waitpid: ") + std::strerror(errno));
        std::unique_lock lock(snapshot_mutex_);
        const bool stopping = snapshot_cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return snapshot_stopping_; });
        if (stopping || std::chrono::steady_clock::now() > deadline) {
            ::kill(child, SIGKILL);
            while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
            }
            snapshots_.remove_unfinished(position);
            throw std::runtime_error(stopping ? "snapshot: the server stopped first" : "snapshot: the child that wrote it hung");
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("snapshot: the child that wrote it failed");
    snapshot_position_ = position;
    ++stats_.snapshots;
    return true;
#endif
}

void Engine::snapshot_loop() {
    std::unique_lock lock(snapshot_mutex_);
    for (;;) {
        snapshot_cv_.wait(lock, [this] { return snapshot_wanted_ || snapshot_stopping_; });
        if (snapshot_stopping_) return;
        snapshot_wanted_ = false;
        lock.unlock();
        try {
            if (!snapshot_in_child()) snapshot();
        } catch (const std::exception&) {
            ++stats_.snapshot_failures; // the log is unaffected; the next attempt comes `every` events later
        }
        lock.lock();
    }
}

Engine::~Engine() {
    {
        std::lock_guard lock(queue_mutex_);
        stopping_ = true;
    }
    queue_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    {
        std::lock_guard lock(completion_mutex_);
        completion_stopping_ = true;
    }
    completion_cv_.notify_all();
    if (completer_.joinable()) completer_.join(); // every request written has its answer
    {
        std::lock_guard lock(snapshot_mutex_);
        snapshot_stopping_ = true;
    }
    snapshot_cv_.notify_all();
    if (snapshotter_.joinable()) snapshotter_.join();
    if (snapshot_options_.at_exit > 0 && model_.position() - snapshot_position_ >= snapshot_options_.at_exit) {
        try {
            snapshot();
        } catch (const std::exception&) {
            ++stats_.snapshot_failures; // a slower next start, nothing lost
        }
    }
}

Head Engine::head() const {
    std::shared_lock lock(model_mutex_);
    return Head{model_.position(), model_.position() ? model_.head_hash() : zero_hash(),
                model_.position() ? format_time(model_.recorded_at()) : ""};
}

void Engine::on_commit(Observer f) {
    std::lock_guard lock(observers_mutex_);
    observers_.push_back(std::move(f));
}

Engine::Request::Request(Submission submission, Done d) : s(std::move(submission)), done(std::move(d)) {
    data.reserve(s.events.size());
    for (const auto& p : s.events) data.push_back(encode_data(p.event));
}

Result<Appended> Engine::append(Submission s) {
    std::vector<Request> group;
    group.emplace_back(std::move(s), Done{});
    std::lock_guard lock(write_mutex_);
    return std::move(process(group).front());
}

std::vector<Result<Appended>> Engine::append_many(std::vector<Submission> requests) {
    std::vector<Request> group;
    group.reserve(requests.size());
    for (auto& s : requests) group.emplace_back(std::move(s), Done{});
    std::lock_guard lock(write_mutex_);
    return process(group);
}

void Engine::submit(Submission s, Done done) {
    Request request(std::move(s), std::move(done)); // encoded here, off the writer thread
    {
        std::lock_guard lock(queue_mutex_);
        if (!writer_.joinable()) writer_ = std::thread([this] {
            name_this_thread("gl-writer");
            writer_loop();
        });
        queue_.push_back(std::move(request));
    }
    queue_cv_.notify_one();
}

void Engine::writer_loop() {
    completer_ = std::thread([this] {
        name_this_thread("gl-complete");
        completion_loop();
    });
    {
        // The ids already stored are read on a thread of their own; until then every retry check
        // reads the log. (Synchronous appends, for scripts and tools, always read it.)
        std::lock_guard lock(write_mutex_);
        known_ids_.load(path_);
    }
    committer_ = std::thread([this] {
        name_this_thread("gl-commit");
        commit_loop();
    });
    for (;;) {
        std::vector<Request> group;
        {
            std::unique_lock lock(queue_mutex_);
            queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty() || !committed_.empty(); });
            if (queue_.empty() && committed_.empty()) break; // stopping, and everything pending was written
            // Everything pending goes into one commit; a lone request is not kept waiting for company.
            std::size_t events = 0;
            while (!queue_.empty() && (group.empty() || events + queue_.front().s.events.size() <= max_group_events)) {
                events += queue_.front().s.events.size();
                group.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        // The committer appends this group while the writer decides the next one (against the
        // pending views). The writer applies each group once it is committed, between decisions, and
        // the completion thread answers it.
        {
            std::lock_guard lock(write_mutex_);
            apply_committed();
            if (group.empty()) continue;
            recover_from_failed_commit();
            Outcome outcome = decide_group(group);
            std::unique_lock commit(commit_mutex_);
            // The committer takes every group waiting into its next commit; past a few, requests
            // gather in the queue instead (each group waiting is one more view for decisions to read through).
            commit_state_cv_.wait(commit, [this] { return commits_.size() < max_waiting_groups; });
            commits_.push_back(Completion{std::move(group), std::move(outcome)});
        }
        commit_cv_.notify_one();
    }
    {
        std::lock_guard lock(commit_mutex_);
        commit_stopping_ = true;
    }
    commit_cv_.notify_one();
    committer_.join(); // every group decided is committed (or failed) and handed back
    std::lock_guard lock(write_mutex_);
    apply_committed(); // the last ones
}

void Engine::commit_loop() {
    std::unique_lock lock(commit_mutex_);
    for (;;) {
        commit_cv_.wait(lock, [this] { return commit_stopping_ || !commits_.empty(); });
        if (commits_.empty()) return; // stopping, and every group was written
        // Every group decided while the last commit was under way goes into this one.
        std::vector<Completion> taken(std::make_move_iterator(commits_.begin()), std::make_move_iterator(commits_.end()));
        commits_.clear();
        committing_ = true;
        const std::optional<StoreError> earlier = commit_failure_;
        lock.unlock();
        commit_state_cv_.notify_all();
        std::vector<Outcome*> outcomes;
        for (auto& c : taken) outcomes.push_back(&c.outcome);
        std::optional<StoreError> failed;
        if (earlier)
            for (Outcome* o : outcomes) fail(*o, *earlier); // decided on top of a group that failed
        else failed = write(outcomes);
        {
            std::lock_guard queue(queue_mutex_);
            for (auto& c : taken) committed_.push_back(std::move(c)); // to the writer, which applies them
        }
        queue_cv_.notify_one();
        lock.lock();
        if (failed) commit_failure_ = std::move(failed);
        committing_ = false;
        commit_state_cv_.notify_all();
    }
}

void Engine::completion_loop() {
    std::unique_lock lock(completion_mutex_);
    for (;;) {
        completion_cv_.wait(lock, [this] { return completion_stopping_ || !completions_.empty(); });
        if (completions_.empty()) return; // stopping, and every answer was given
        Completion c = std::move(completions_.front());
        completions_.pop_front();
        lock.unlock();
        hand_out(c.outcome);
        lock.lock();
        ++handed_out_groups_;
        handed_out_cv_.notify_all();
        lock.unlock();
        for (std::size_t i = 0; i < c.group.size(); ++i)
            if (c.group[i].done) c.group[i].done(std::move(c.outcome.results[i]));
        c = {}; // the requests are released here too, not on the writer thread
        lock.lock();
    }
}

void Engine::drain() {
    {
        std::unique_lock lock(commit_mutex_);
        commit_state_cv_.wait(lock, [this] { return commits_.empty() && !committing_; });
    }
    apply_committed();
    {
        std::unique_lock lock(completion_mutex_);
        handed_out_cv_.wait(lock, [this] { return handed_out_groups_ == applied_groups_; });
    }
    recover_from_failed_commit();
}

void Engine::apply_committed() {
    std::deque<Completion> ready;
    {
        std::lock_guard lock(queue_mutex_);
        ready.swap(committed_);
    }
    for (auto& c : ready) {
        apply_to_model(c.outcome.accepted);
        {
            std::lock_guard lock(completion_mutex_);
            completions_.push_back(std::move(c));
            ++applied_groups_;
        }
        completion_cv_.notify_one();
    }
}

void Engine::recover_from_failed_commit() {
    {
        std::unique_lock lock(commit_mutex_);
        if (!commit_failure_) return;
        // The groups decided after the failed one fail too, as the committer takes them.
        commit_state_cv_.wait(lock, [this] { return commits_.empty() && !committing_; });
        commit_failure_.reset();
    }
    forget_uncommitted();
}

void Engine::forget_uncommitted() {
    while (!pending_.empty() && pending_.back().position > committed_position_) pending_.pop_back();
}

void Engine::fail(Outcome& o, const StoreError& e) {
    // Every answer but a refusal: a retry answered from a group that never reached the log included.
    for (auto& r : o.results)
        if (r) r = storage_error(e);
    o.accepted.clear();
    o.slots.clear();
}

std::vector<Result<Appended>> Engine::process(std::vector<Request>& group) {
    drain(); // the caller holds write_mutex_: nothing is decided meanwhile, so the model stays as it is
    Outcome outcome = decide_group(group);
    Outcome* const one[] = {&outcome};
    if (write(one)) forget_uncommitted(); // this group's entry
    apply_to_model(outcome.accepted);
    hand_out(outcome);
    return std::move(outcome.results);
}

void Engine::hand_out(Outcome& o) {
    if (o.accepted.empty()) return;
    tell_observers(o.accepted, *o.rows);
    // Moved into the answers: nothing reads the rows once the model has them. The writer's retry
    // checks read a group's Pending entry only while deciding, and each decision first drops the
    // entries the model has reached; the writer applied this group before handing it here.
    for (std::size_t k = 0; k < o.rows->size(); ++k)
        o.results[o.slots[k].first]->envelopes[o.slots[k].second] = std::move((*o.rows)[k]);
}

const RawEnvelope* Engine::in_flight(std::string_view event_id) const {
    for (const auto& p : pending_)
        if (auto it = p.by_id.find(event_id); it != p.by_id.end()) return &(*p.rows)[it->second];
    return nullptr;
}

std::optional<StoreError> Engine::write(std::span<Outcome* const> outcomes) {
    std::vector<std::span<const RawEnvelope>> batches;
    std::size_t events = 0;
    for (const Outcome* o : outcomes)
        if (!o->accepted.empty()) {
            batches.emplace_back(*o->rows);
            events += o->rows->size();
        }
    if (batches.empty()) return std::nullopt;
    const auto started = std::chrono::steady_clock::now();
    try {
        store_.append_batches(batches);
    } catch (const StoreError& e) {
        ++stats_.storage_failures;
        for (Outcome* o : outcomes) fail(*o, e); // a retry answered from a group of this commit included
        return e;
    }
    stats_.commit_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    stats_.batch_events.observe(static_cast<double>(events));
    committed_position_ = batches.back().back().position;
    return std::nullopt;
}

Engine::Outcome Engine::decide_group(std::vector<Request>& group) {
    Outcome o;
    auto& [results, accepted, shared_rows, slots] = o;
    auto& rows = *shared_rows;
    results.reserve(group.size());
    std::size_t posted = 0;
    for (const auto& request : group) posted += request.s.events.size();
    accepted.reserve(posted);
    rows.reserve(posted);
    slots.reserve(posted);
    const Instant clock_now = clock_.now();
    // Decided against the model as applied so far and, above it, the views of the groups decided but
    // not applied yet. No lock: only the holder of write_mutex_ (the caller) changes the model.
    while (!pending_.empty() && pending_.front().position <= model_.position()) {
        pending_.pop_front();
        if (!pending_.empty()) pending_.front().view->detach(); // reads fall through to the model from now on
    }
    Instant last = pending_.empty() ? model_.recorded_at() : pending_.back().recorded_at;
    auto group_view = std::make_unique<View>(model_, pending_.empty() ? nullptr : pending_.back().view.get());
    std::unordered_map<std::string_view, std::size_t> by_id; // event_id → index in rows (reserved: they stay put)
    std::int64_t next = (pending_.empty() ? model_.position() : pending_.back().position) + 1;
    std::string prev = !pending_.empty() ? pending_.back().hash : model_.position() ? model_.head_hash() : zero_hash();

    for (std::size_t r = 0; r < group.size(); ++r) {
        const Submission& req = group[r].s;
        std::vector<std::string>& data = group[r].data;
        const Instant now = std::max(req.at.value_or(clock_now), last); // recorded_at never decreases
        // A request's events are decided on a view of their own, which joins the group's once all are
        // accepted; a lone event is refused before it changes anything, so it goes on the group's.
        std::optional<View> own;
        View& tx = req.events.size() > 1 ? own.emplace(model_, group_view.get()) : *group_view;
        Appended out;
        std::optional<Error> error;
        const std::size_t first_new = accepted.size();
        const std::int64_t saved_next = next;
        const std::string saved_prev = prev;
        if (req.events.empty()) error = bad_request("events must not be empty");
        for (std::size_t i = 0; i < req.events.size() && !error; ++i) {
            const Posted& p = req.events[i];
            // Names the event in a refusal of a batch; built only for one.
            const auto where = [&] { return req.events.size() > 1 ? "events[" + std::to_string(i) + "]: " : std::string(); };
            if (p.actor && *p.actor != req.actor) {
                error = Error{errc::forbidden, where() + "event.actor " + *p.actor + " is not the authenticated subject " + req.actor};
                break;
            }
            if (p.event_id && p.event_id->starts_with(timeout_id_prefix) && req.actor != system_actor) {
                error = unprocessable(where() + "event_id " + *p.event_id + ": ids beginning with \"" + std::string(timeout_id_prefix) +
                                      "\" are the engine's own");
                break;
            }
            if (p.event_id) {
                std::optional<RawEnvelope> original;
                if (auto it = by_id.find(*p.event_id); it != by_id.end()) original = rows[it->second];
                else if (known_ids_.may_contain(*p.event_id)) { // almost every new id is answered here, without the log
                    if (const RawEnvelope* row = in_flight(*p.event_id)) original = *row;
                    else
                        try {
                            ++stats_.id_lookups;
                            if (!lookups_) lookups_.emplace(path_);
                            original = lookups_->by_event_id(*p.event_id);
                        } catch (const StoreError& e) {
                            error = storage_error(e); // the request fails whole, as when its commit fails
                            break;
                        }
                }
                if (original) {
                    if (!same_content(p, req.actor, data[i], *original)) {
                        error = conflict(where() + "event_id " + *p.event_id + " was already used for other content (position " +
                                         std::to_string(original->position) + ")");
                        break;
                    }
                    out.envelopes.push_back(std::move(*original));
                    continue;
                }
            }
            if (req.authorize)
                if (auto refused = req.authorize(tx, p.event)) {
                    error = Error{refused->code, where() + refused->message};
                    break;
                }
            auto decided = decide(tx, p, req.actor, now);
            if (!decided) {
                error = Error{decided.error().code, where() + decided.error().message};
                break;
            }
            Envelope env;
            env.position = next++;
            env.stream = stream_of(*decided);
            env.version = tx.stream_version(*decided) + 1;
            env.event_id = p.event_id ? *p.event_id : new_event_id();
            env.event = std::move(*decided);
            env.occurred_at = p.occurred_at.value_or(now);
            env.recorded_at = now;
            env.actor = req.actor;
            env.prev_hash = prev;
            RawEnvelope raw = to_raw(env, env.event == p.event ? std::move(data[i]) : encode_data(env.event));
            env.hash = raw.hash = chain_hash(raw);
            prev = env.hash;
            tx.apply(env);
            accepted.push_back(std::move(env));
            rows.push_back(std::move(raw));
            by_id.emplace(rows.back().event_id, rows.size() - 1);
            slots.emplace_back(r, out.envelopes.size());
            out.envelopes.emplace_back(); // the row itself once it is committed and published
            out.created = true;
        }
        if (error) {
            for (std::size_t k = first_new; k < rows.size(); ++k) by_id.erase(rows[k].event_id);
            accepted.resize(first_new);
            rows.resize(first_new);
            slots.resize(first_new);
            next = saved_next;
            prev = saved_prev;
            if (error->code != errc::unavailable) ++stats_.refused; // a store that cannot be read refuses nothing
            results.emplace_back(std::move(*error));
        } else {
            if (own) own->merge_into(*group_view);
            if (out.created) last = now;
            results.emplace_back(std::move(out));
        }
    }
    if (accepted.empty()) return o;
    for (const auto& row : rows) known_ids_.add(row.event_id); // before the commit: a failed one may still reach the disk
    pending_.push_back(Pending{rows.back().position, rows.back().hash, accepted.back().recorded_at, std::move(group_view),
                               shared_rows, std::move(by_id)});
    return o;
}

void Engine::apply_to_model(const std::vector<Envelope>& committed) {
    if (committed.empty()) return;
    {
        std::unique_lock lock(model_mutex_);
        for (const auto& env : committed) model_.apply(env);
    }
    // Only the holder of write_mutex_ moves the model, so its position can be read here without the lock.
    if (snapshot_options_.every > 0 && model_.position() - std::max<std::int64_t>(snapshot_position_, snapshot_tried_) >= snapshot_options_.every) {
        std::lock_guard lock(snapshot_mutex_);
        if (!snapshot_stopping_ && !snapshot_wanted_) {
            snapshot_wanted_ = true;
            snapshot_tried_ = model_.position(); // asked once per `every` events, even if it fails
            if (!snapshotter_.joinable()) snapshotter_ = std::thread([this] {
                name_this_thread("gl-snapshot");
                snapshot_loop();
            });
            snapshot_cv_.notify_one();
        }
    }
}

void Engine::tell_observers(const std::vector<Envelope>& committed, const std::vector<RawEnvelope>& rows) {
    std::lock_guard lock(observers_mutex_);
    for (const auto& f : observers_) f(committed, rows);
}

Result<std::int64_t> Engine::import_envelopes(std::span<const RawEnvelope> batch) {
    std::lock_guard lock(write_mutex_);
    drain();
    View view(model_);
    std::vector<Envelope> accepted;
    std::vector<RawEnvelope> rows;
    std::int64_t next = model_.position() + 1;
    std::string prev = model_.position() ? model_.head_hash() : zero_hash();
    Instant last_recorded = model_.recorded_at();
    for (const auto& raw : batch) {
        const std::string where = "position " + std::to_string(raw.position) + ": ";
        if (raw.position < next && accepted.empty()) {
            auto stored = store_.at(raw.position);
            if (stored && stored->hash == raw.hash) continue; // already in the log
            return conflict(where + "the log already holds a different event there");
        }
        if (raw.position != next) return conflict(where + "expected position " + std::to_string(next));
        if (raw.prev_hash != prev) return conflict(where + "prev_hash does not continue the chain");
        if (chain_hash(raw) != raw.hash) return unprocessable(where + "hash does not match the content");
        auto env = from_raw(raw);
        if (!env) return env.error();
        if (env->stream != stream_of(env->event)) return unprocessable(where + "stream does not belong to the event");
        if (env->version != view.stream_version(env->event) + 1) return conflict(where + "version does not follow its stream");
        if (env->recorded_at < last_recorded) return unprocessable(where + "recorded_at goes backwards");
        if (store_.by_event_id(env->event_id)) return conflict(where + "event_id " + env->event_id + " is already in the log");
        Posted p{env->event, env->event_id, env->occurred_at, std::nullopt, std::nullopt};
        auto decided = decide(view, p, env->actor, env->recorded_at);
        if (!decided) return Error{decided.error().code, where + decided.error().message};
        view.apply(*env);
        last_recorded = env->recorded_at;
        prev = raw.hash;
        ++next;
        accepted.push_back(std::move(*env));
        rows.push_back(raw);
    }
    if (rows.empty()) return std::int64_t{0};
    for (const auto& row : rows) known_ids_.add(row.event_id);
    try {
        store_.append(rows);
    } catch (const StoreError& e) {
        return storage_error(e);
    }
    committed_position_ = rows.back().position;
    apply_to_model(accepted);
    tell_observers(accepted, rows);
    return static_cast<std::int64_t>(rows.size());
}

} // namespace gridloop::engine
