// The engine: the log, the read model folded from it, and the single writer that decides, appends
// with group commit and only then applies and acknowledges.
#pragma once

#include "engine/clock.hpp"
#include "engine/decide.hpp"
#include "engine/histogram.hpp"
#include "engine/known_ids.hpp"
#include "engine/snapshots.hpp"
#include "engine/store.hpp"
#include "events/envelope.hpp"
#include "projections/model.hpp"

#include <condition_variable>
#include <atomic>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace gridloop::engine {

// What an accepted request returns: its envelopes in request order; `created` is false when every
// event was a retry of one already stored (same event_id, same content).
struct Appended {
    bool created = false;
    std::vector<events::RawEnvelope> envelopes;
};

// One request: its events are appended atomically (all or none) by `actor`. `at` lets trusted
// callers (loading a scripted history) set the recorded time; otherwise the clock is read.
// `authorize`, when set, may refuse each new event against the state it is decided on (a retry
// of an event already stored is answered before it is asked).
struct Submission {
    std::vector<events::Posted> events;
    std::string actor;
    std::optional<events::Instant> at{};
    std::function<std::optional<events::Error>(const View&, const events::Event&)> authorize{};
};

using Done = std::function<void(events::Result<Appended>)>;
using Progress = std::function<void(std::int64_t done, std::int64_t total)>;

// What the writer measures, for /metrics.
struct WriterStats {
    Histogram<10> commit_seconds{{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 2}};
    Histogram<8> batch_events{{1, 2, 5, 10, 50, 100, 1000, 10000}};
    std::atomic<std::uint64_t> refused{0}, storage_failures{0};
    std::atomic<std::uint64_t> id_lookups{0}; // retry checks that had to read the log (the id may be in it)
    std::atomic<std::uint64_t> snapshots{0}, snapshot_failures{0};
};

// Folds positions 1..to (to = 0: the whole log) of a store into a fresh model.
projections::Model fold(const StoreReader& store, std::int64_t to = 0, const Progress& progress = {});
// Folds positions model.position()+1 .. to (to = 0: the head) onto `model`, checking that they
// continue its hash chain.
void fold_onto(projections::Model& model, const StoreReader& store, std::int64_t to = 0, const Progress& progress = {});

class Engine {
public:
    // Opens (or creates) the log and folds it, from the newest usable snapshot when there is one.
    // Throws StoreError, or std::runtime_error naming the position of an event that no longer decodes.
    Engine(const std::string& db_path, const Clock& clock, const Progress& progress = {}, SnapshotOptions snapshots = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Appends one request and returns when it is durable.
    events::Result<Appended> append(Submission s);
    // The same, completed later: the writer thread decides everything pending together, a committer
    // thread commits it in one transaction, and a completion thread of the engine's calls `done` (in
    // commit order) once the group is durable and applied to the model.
    void submit(Submission s, Done done);
    // Several requests at once, each atomic on its own, sharing one commit (imports, loading).
    std::vector<events::Result<Appended>> append_many(std::vector<Submission> requests);

    // Appends envelopes of an exported log as they are, after checking that they continue the chain,
    // hash correctly and are accepted by decide. Returns how many were new; envelopes already in the
    // log with the same hash are skipped.
    events::Result<std::int64_t> import_envelopes(std::span<const events::RawEnvelope> batch);

    // Runs f on the model under a shared lock: never sees a half-applied batch.
    template <class F> decltype(auto) read(F&& f) const {
        std::shared_lock lock(model_mutex_);
        return std::forward<F>(f)(model_);
    }
    Head head() const;
    const std::string& path() const { return path_; }
    const Clock& clock() const { return clock_; }
    const WriterStats& stats() const { return stats_; }

    // The position of the snapshot the model started from (0: folded from the start), and why any
    // newer snapshot was passed over.
    std::int64_t started_from() const { return started_from_; }
    const std::vector<std::string>& start_notes() const { return start_notes_; }
    // Takes a snapshot of the model now (on the calling thread) and returns its file, or nullopt
    // when the log is empty. Throws std::runtime_error when it cannot be written.
    std::optional<std::filesystem::path> snapshot();
    // The model as of `position` (<= head), folded from the newest usable snapshot at or before it.
    projections::Model model_at(std::int64_t position) const;

    // Called for every group committed (a commit may hold several), once the model has applied it
    // (and perhaps groups committed after it), with its envelopes in both forms, on the completion
    // thread (or a synchronous appender's), in commit order. Must be quick: this group is answered,
    // and the next one told, after it returns. Must not append synchronously (append waits for every
    // committed group to be told).
    using Observer = std::function<void(const std::vector<events::Envelope>&, const std::vector<events::RawEnvelope>&)>;
    void on_commit(Observer f);

private:
    struct Request {
        Request(Submission submission, Done d);
        Submission s;
        Done done;
        // The canonical data text of each posted event, written on the caller's thread: the writer
        // takes it when decide keeps the event as posted (all but reports routed by location).
        std::vector<std::string> data;
    };
    // What deciding and committing a group leaves: an answer per request, and the envelopes committed
    // (in position order, both forms) that are still to be applied, with the place in the answers
    // of each: (request, envelope). The rows are shared with the group's Pending entry, whose retry
    // checks read them until the model has applied the group: nobody changes them after decide.
    struct Outcome {
        std::vector<events::Result<Appended>> results;
        std::vector<events::Envelope> accepted;
        std::shared_ptr<std::vector<events::RawEnvelope>> rows = std::make_shared<std::vector<events::RawEnvelope>>();
        std::vector<std::pair<std::size_t, std::size_t>> slots;
    };
    // A decided group on its way: to the committer thread, back to the writer thread to be applied,
    // then to the completion thread.
    struct Completion {
        std::vector<Request> group;
        Outcome outcome;
    };
    // A group decided by the writer and perhaps not committed, or not applied, yet: the model as the
    // group leaves it, as a view over the previous such group (or the model), the head it appends,
    // and its rows by event_id (for a retry that comes before the group is in the log).
    struct Pending {
        std::int64_t position = 0;
        std::string hash;
        events::Instant recorded_at;
        std::unique_ptr<View> view;
        std::shared_ptr<const std::vector<events::RawEnvelope>> rows;
        std::unordered_map<std::string_view, std::size_t> by_id;
    };
    // Decides the group against the model and the pending groups; what it accepts becomes a Pending
    // entry and is to be committed in order. The caller holds write_mutex_.
    Outcome decide_group(std::vector<Request>& group);
    // Appends the rows of decided groups, in order, in one durable transaction. On failure every
    // answer of theirs that was not a refusal becomes the storage error, nothing is to be applied, and
    // the error is returned. On the committer thread, or on a synchronous writer's after drain().
    std::optional<StoreError> write(std::span<Outcome* const> outcomes);
    // The stored row of an event_id decided in a group not applied yet; nullptr when there is none.
    const events::RawEnvelope* in_flight(std::string_view event_id) const;
    // After a failed commit: once every group decided on top of it has failed too, forgets their
    // pending entries, so that the next group is decided against what the log holds. Writer side.
    void recover_from_failed_commit();
    // Drops the pending entries of groups not committed (the writer's side, under write_mutex_).
    void forget_uncommitted();
    // Turns a group's answers into the storage error (all but refusals); nothing is to be applied.
    static void fail(Outcome& o, const StoreError& e);
    // Applies the groups the committer has handed back, in commit order, and passes them on to the
    // completion thread. The caller holds write_mutex_.
    void apply_committed();
    // Applies committed envelopes to the model (the caller holds write_mutex_), and asks for a
    // snapshot when one is due.
    void apply_to_model(const std::vector<events::Envelope>& committed);
    // Tells the observers about an applied outcome and puts the stored envelopes into its answers.
    void hand_out(Outcome& o);
    // Waits until every decided group is committed, applied and handed out (the caller holds write_mutex_).
    void drain();
    // decide_group, write, apply and hand out on the calling thread (which holds write_mutex_).
    std::vector<events::Result<Appended>> process(std::vector<Request>& group);
    void writer_loop();
    void commit_loop();
    void completion_loop();
    void tell_observers(const std::vector<events::Envelope>& committed, const std::vector<events::RawEnvelope>& rows);
    projections::Model start(const Progress& progress);
    void snapshot_loop();
    // The periodic snapshot of a running server, without the pause of serializing under the model's
    // lock (seconds at millions of cases, during which nothing is applied or answered): a child
    // process, forked while the shared lock is held, serializes and writes its copy-on-write image of
    // the model while this process goes on. The pause is the fork. False when there is no child to
    // ask (no fork, or a ThreadSanitizer build): then snapshot() does it here. Throws when the child failed.
    bool snapshot_in_child();

    std::string path_;
    const Clock& clock_;
    Store store_;
    Snapshots snapshots_;
    SnapshotOptions snapshot_options_;
    std::int64_t started_from_ = 0;
    std::vector<std::string> start_notes_;
    projections::Model model_;
    mutable std::shared_mutex model_mutex_;
    std::mutex write_mutex_; // one writer at a time: the writer thread or a synchronous append
    KnownIds known_ids_;     // under write_mutex_, as are:
    std::deque<Pending> pending_;
    std::optional<StoreReader> lookups_; // the retry checks' reads (store_ is the committer's)

    std::mutex queue_mutex_;
    std::condition_variable queue_cv_; // work for the writer: requests, or committed groups to apply
    std::deque<Request> queue_;
    std::deque<Completion> committed_; // committed (or failed) and handed back, to be applied
    bool stopping_ = false;
    std::thread writer_;

    // The committer thread appends the groups the writer decided, in order, while the writer decides
    // the next ones: every group waiting when a commit ends goes into the next one.
    std::mutex commit_mutex_;
    std::condition_variable commit_cv_;       // work for the committer
    std::condition_variable commit_state_cv_; // a group taken or finished
    std::deque<Completion> commits_;
    bool committing_ = false, commit_stopping_ = false;
    std::optional<StoreError> commit_failure_; // every group decided after a failed one fails alike, until recovered
    std::atomic<std::int64_t> committed_position_{0}; // the log's head as committed
    std::thread committer_;                           // started by the writer thread

    // Applied groups are handed out (observers, then answers) off the writer and committer threads.
    std::mutex completion_mutex_;
    std::condition_variable completion_cv_;
    std::deque<Completion> completions_;
    bool completion_stopping_ = false;
    std::condition_variable handed_out_cv_;
    std::uint64_t applied_groups_ = 0, handed_out_groups_ = 0; // given to the completion thread, and told to the observers by it
    std::thread completer_; // started by the writer thread

    // Snapshots while running: the writer asks after a commit, a thread of their own takes them.
    std::mutex snapshot_write_mutex_; // one snapshot at a time
    std::mutex snapshot_mutex_;       // guards the two flags
    std::condition_variable snapshot_cv_;
    bool snapshot_wanted_ = false, snapshot_stopping_ = false;
    std::atomic<std::int64_t> snapshot_position_{0}; // of the newest snapshot taken or started from
    std::atomic<std::int64_t> snapshot_tried_{0};    // of the last one asked for, taken or not
    std::thread snapshotter_;

    WriterStats stats_;
    std::mutex observers_mutex_;
    std::vector<Observer> observers_;
};

} // namespace gridloop::engine
