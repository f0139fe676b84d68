// Recomputes the hash chain of a stored log and reports the first position where it breaks.
#pragma once

#include "engine/store.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace gridloop::engine {

struct VerifyResult {
    bool ok = true;
    std::int64_t checked = 0;                       // rows checked (a bad row counts, a missing one not)
    std::optional<std::int64_t> first_bad_position; // set when !ok
    std::string problem;                            // e.g. "position 17: hash does not match its content"
};

// Checks positions [from, to] (to = the head when 0): no gaps; each column of its SQLite storage
// class (a value rewritten with another type hashes alike, so it is caught here); prev_hash equal to
// the previous row's hash (zero_hash() before position 1, the stored hash of from-1 otherwise);
// hash == events::chain_hash(row); recorded_at never decreasing; and, when from is 1, each stream's
// versions 1, 2, 3, ... without gaps. Stops at the first problem. progress, when set, is called
// every few thousand rows and at the end. StoreError when the store cannot be read.
VerifyResult verify(const StoreReader& store, std::int64_t from = 1, std::int64_t to = 0,
                    const std::function<void(std::int64_t done, std::int64_t total)>& progress = {});

} // namespace gridloop::engine
