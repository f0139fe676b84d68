// Saved read models beside the log, so that start-up and `as_of` fold only the events after the
// newest usable one instead of the whole log.
//
// A snapshot is a cache, never a source of truth: it lives in `<db>.snapshots/<position>.snap`, and
// is used only when its body hashes to the SHA-256 in its header and the log still holds, at its
// position, the event hash it was taken at (so a snapshot of another log, or of a log since replaced,
// is passed over). Anything else — damage, an older format, a position past the head — is noted and
// the next older snapshot, or the log from the start, is folded instead. `gridloop verify` and
// `gridloop replay` never read snapshots.
#pragma once

#include "engine/store.hpp"
#include "projections/model.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gridloop::engine {

struct SnapshotOptions {
    bool use = true;                 // start and answer as_of from snapshots at all
    std::int64_t every = 1'000'000;  // while running, take one after this many events since the last (0: never)
    std::int64_t at_exit = 100'000;  // at a clean stop, take one if at least this many events follow the newest (0: never)
    std::size_t keep = 8;            // snapshots kept, spread over the log (thin(), after each new one); 0: all
};

// Which of the snapshots at `positions` (ascending) to remove so that `keep` remain (0: none): never
// the newest, and each time the one whose removal leaves the smallest gap between its neighbours
// (the log's start before the oldest). What stays is spread over the log rather than bunched at its
// head, so that as_of anywhere folds at most about 1.6 × newest ÷ keep events on top of one (for
// keep ≥ 3; tests/cli/snapshot_test.cpp), while start-up folds nothing. Indexes, ascending.
std::vector<std::size_t> thin(const std::vector<std::int64_t>& positions, std::size_t keep);

class Snapshots {
public:
    // Snapshots of the log at `db_path`, in `<db_path>.snapshots/`.
    explicit Snapshots(const std::string& db_path);
    const std::filesystem::path& dir() const { return dir_; }

    struct Entry {
        std::int64_t position = 0;
        std::filesystem::path file;
    };
    // The snapshot files, by position ascending (named by position; contents not checked).
    std::vector<Entry> list() const;

    // Writes `parts` (projections::save of a model at `position`, whose last event hashed to `hash`)
    // atomically and durably, then thins those at or below `position` to `keep` (0: removes none;
    // those past it are another log's and left alone). Throws std::runtime_error.
    std::filesystem::path write(std::int64_t position, const std::string& hash, const projections::snapshot::Parts& parts, std::size_t keep) const;
    // Removes what a write at `position` that was cut short (a killed process) left: its temp file.
    void remove_unfinished(std::int64_t position) const;

    // The newest snapshot at or before `at` that is intact and belongs to the log read by `store`,
    // loaded; `notes` gets a line for each one passed over and why. nullopt when none is usable.
    std::optional<projections::Model> load_newest(const StoreReader& store, std::int64_t at, std::vector<std::string>& notes) const;

private:
    std::filesystem::path dir_;
};

} // namespace gridloop::engine
