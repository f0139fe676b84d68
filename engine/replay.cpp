// The pipelined decoded scan: a reader thread fills batches of decoded rows, the caller folds them.
#include "engine/replay.hpp"

#include "engine/thread_name.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace gridloop::engine {
namespace {

using events::Envelope;
using events::RawView;

[[noreturn]] void chain_broken(std::int64_t position) {
    throw std::runtime_error("position " + std::to_string(position) + ": the hash chain is broken (run `gridloop verify`)");
}

// Checks one row's link to the previous one and decodes it into `out`. Throws naming the position.
class Decoder {
public:
    explicit Decoder(std::optional<std::string> prev) : prev_(std::move(prev)) {}

    void operator()(const RawView& raw, Envelope& out) {
        if (!prev_ || raw.prev_hash != *prev_) chain_broken(raw.position);
        prev_->assign(raw.hash);
        if (auto error = events::from_raw(raw, out)) throw std::runtime_error(error->message);
    }

private:
    std::optional<std::string> prev_; // unset: nothing may follow (the row at `after` is missing)
};

// Envelopes handed from the reader to the caller in one go. Batches go round: the caller gives each
// back once folded, so the envelopes' strings keep their capacity.
struct Batch {
    std::vector<Envelope> rows;
    std::size_t size = 0;
};

class Pipeline {
public:
    Pipeline(std::size_t batch_rows, std::size_t queue_batches)
        : batch_rows_(std::max<std::size_t>(batch_rows, 1)), capacity_(std::max<std::size_t>(queue_batches, 1)) {}

    // The reader's side.

    std::unique_ptr<Batch> take_free() {
        {
            std::lock_guard lock(mutex_);
            if (!free_.empty()) {
                auto b = std::move(free_.back());
                free_.pop_back();
                return b;
            }
        }
        auto b = std::make_unique<Batch>();
        b->rows.resize(batch_rows_);
        return b;
    }
    // Waits for room; false (and b kept) when the caller has stopped listening.
    bool push(std::unique_ptr<Batch>& b) {
        std::unique_lock lock(mutex_);
        space_.wait(lock, [&] { return full_.size() < capacity_ || stopped_; });
        if (stopped_) return false;
        full_.push_back(std::move(b));
        ready_.notify_one();
        return true;
    }
    // Nothing follows the batches pushed so far; `error` (if any) is raised once they are folded.
    void finish(std::exception_ptr error) noexcept {
        std::lock_guard lock(mutex_);
        if (finished_) return;
        finished_ = true;
        error_ = std::move(error);
        ready_.notify_one();
    }
    std::size_t batch_rows() const { return batch_rows_; }

    // The caller's side.

    // The next batch; nullptr at the end, or the reader's error.
    std::unique_ptr<Batch> pop() {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !full_.empty() || finished_; });
        if (full_.empty()) {
            if (error_) std::rethrow_exception(error_);
            return nullptr;
        }
        auto b = std::move(full_.front());
        full_.pop_front();
        space_.notify_one();
        return b;
    }
    void give_back(std::unique_ptr<Batch> b) {
        b->size = 0;
        std::lock_guard lock(mutex_);
        free_.push_back(std::move(b));
    }
    void stop() {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        space_.notify_all();
    }

private:
    const std::size_t batch_rows_, capacity_;
    std::mutex mutex_;
    std::condition_variable ready_, space_;
    std::deque<std::unique_ptr<Batch>> full_;
    std::vector<std::unique_ptr<Batch>> free_;
    bool stopped_ = false, finished_ = false;
    std::exception_ptr error_;
};

// Reads (after, last] through `reader`, decoding into batches, and always ends with pipe.finish: the
// rows before a failing one are handed over first, then the failure.
void read_ahead(StoreReader& reader, std::int64_t after, std::int64_t last, Decoder decode, Pipeline& pipe) {
    std::unique_ptr<Batch> b;
    std::exception_ptr error;
    bool listening = true;
    try {
        b = pipe.take_free();
        reader.scan_views(after, last, [&](const RawView& raw) {
            decode(raw, b->rows[b->size]);
            if (++b->size < pipe.batch_rows()) return true;
            if (!(listening = pipe.push(b))) return false;
            b = pipe.take_free();
            return true;
        });
    } catch (...) {
        error = std::current_exception();
    }
    try {
        if (listening && b && b->size > 0) pipe.push(b);
    } catch (...) {
        if (!error) error = std::current_exception();
    }
    pipe.finish(std::move(error));
}

void scan_here(const StoreReader& store, std::int64_t after, std::int64_t last, const DecodedRowFn& f, Decoder decode) {
    Envelope env;
    store.scan_views(after, last, [&](const RawView& raw) {
        decode(raw, env);
        return f(env);
    });
}

} // namespace

void scan_decoded(const StoreReader& store, std::int64_t after, std::int64_t last, const DecodedRowFn& f,
                  const ReplayOptions& options) {
    if (last <= after) return;
    std::optional<std::string> prev = options.prev_hash;
    if (!prev) {
        if (after <= 0) prev = events::zero_hash();
        else if (auto row = store.at(after)) prev = std::move(row->hash);
    }
    if (last - after < options.threaded_from) return scan_here(store, after, last, f, Decoder(prev));

    std::optional<StoreReader> reader;
    try {
        reader.emplace(store.path());
    } catch (const StoreError&) {
        return scan_here(store, after, last, f, Decoder(prev));
    }

    Pipeline pipe(options.batch_rows, options.queue_batches);
    std::thread thread;
    // Stops and joins the reader however the caller's loop ends (f returning false, f or a row
    // throwing): a reader waiting for room sees the stop at once.
    struct Joiner {
        Pipeline& pipe;
        std::thread& thread;
        ~Joiner() {
            pipe.stop();
            if (thread.joinable()) thread.join();
        }
    } joiner{pipe, thread};
    thread = std::thread([&, decode = Decoder(prev)] {
        name_this_thread("gl-read-ahead");
        read_ahead(*reader, after, last, decode, pipe);
    });

    while (auto b = pipe.pop()) {
        for (std::size_t i = 0; i < b->size; ++i)
            if (!f(b->rows[i])) return;
        pipe.give_back(std::move(b));
    }
}

} // namespace gridloop::engine
