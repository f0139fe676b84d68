// Replaying the log fast: rows read and decoded on a second thread while the caller folds them.
#pragma once

#include "engine/store.hpp"
#include "events/envelope.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace gridloop::engine {

// Called for each decoded envelope; returns false to stop.
using DecodedRowFn = std::function<bool(const events::Envelope&)>;

struct ReplayOptions {
    // The hash the first row's prev_hash must equal. Unset: zero_hash() when after is 0, otherwise the
    // stored hash at `after`.
    std::optional<std::string> prev_hash;
    // Rows handed over at a time, and how many such batches may wait decoded ahead of f.
    std::size_t batch_rows = 1024;
    std::size_t queue_batches = 4;
    // Ranges shorter than this are read on the calling thread: a second connection and thread cost
    // more than they save on a short tail.
    std::int64_t threaded_from = 4096;
};

// Calls f for each envelope at positions (after, last] in ascending order, decoded with
// events::from_raw, and stops early when f returns false. The envelope passed to f is reused for later
// rows: copy it to keep it. Each row's prev_hash must be the previous row's hash.
//
// Rows are read and decoded on a second thread with its own read-only connection to store.path(),
// up to batch_rows × queue_batches rows ahead of f, while f runs on the calling thread; `store` itself
// is only used on the calling thread, so f may read it. When that connection cannot be opened the
// rows are read through `store` on the calling thread instead.
//
// Errors surface in log order, after f has seen every row before the bad one: std::runtime_error
// "position P: the hash chain is broken (run `gridloop verify`)" or "position P: <why the row does not
// decode>", StoreError when reading fails, and whatever f throws (the reader thread is stopped and
// joined before it propagates).
void scan_decoded(const StoreReader& store, std::int64_t after, std::int64_t last, const DecodedRowFn& f,
                  const ReplayOptions& options = {});

} // namespace gridloop::engine
