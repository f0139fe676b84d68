// The event ids the log may hold, in memory: so that the writer's retry check asks SQLite only about
// ids it may have seen, not about every new one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace gridloop::engine {

// A blocked Bloom filter of strings: every id sets a few bits of one 64-byte block, so a question
// costs one cache line. "No" is certain; "maybe" is wrong for about 1 % of absent ids once `capacity`
// ids are in (more beyond). About 10 bits per id of capacity.
class IdFilter {
public:
    explicit IdFilter(std::size_t capacity);
    void add(std::string_view id);
    bool may_contain(std::string_view id) const;
    std::size_t size() const { return size_; }
    std::size_t capacity() const { return capacity_; }

private:
    struct Block {
        std::uint64_t words[8];
    };
    std::vector<Block> blocks_;
    std::size_t size_ = 0, capacity_ = 0;
};

// The ids of a log: those stored before (scanned once on a thread of their own, from the log's
// unique index) and those the writer appends since `KnownIds` exists (filters that double in
// capacity as they fill). Until the scan is done every id "may" be known. Used by one thread at a
// time (the writer, under its lock); the scan hands its filter over when done.
class KnownIds {
public:
    KnownIds() = default;
    ~KnownIds();
    KnownIds(const KnownIds&) = delete;
    KnownIds& operator=(const KnownIds&) = delete;

    // Starts the scan of the log at `path` (once; later calls do nothing). Ids appended from now on
    // must be added; the scan may see some of them too, which does no harm.
    void load(const std::string& path);
    // An id that is, or may be, in the log now (appended, or in a commit whose outcome is unknown).
    void add(std::string_view id);
    // False only when the id is certainly not in the log.
    bool may_contain(std::string_view id);
    // Whether the scan has finished and `may_contain` can answer no.
    bool ready();

private:
    std::vector<IdFilter> recent_;
    std::optional<IdFilter> stored_; // the scan's, once taken over

    std::mutex scan_mutex_;
    std::optional<IdFilter> scanned_; // handed over by the scan
    std::atomic<bool> scan_done_{false}, stopping_{false};
    std::thread scan_;
};

} // namespace gridloop::engine
