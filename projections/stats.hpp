// Grid statistics kept up to date as the model folds, so that a stats request adds up tallies kept
// per grid subtree instead of scanning the subtree's cases.
#pragma once

#include "projections/entities.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridloop::projections {

namespace snapshot {
class Out;
class In;
} // namespace snapshot

// The cohort: cases whose IssueReported was recorded in [from, to). No bound = all cases.
struct Period {
    std::optional<Instant> from, to;
    bool contains(Instant t) const { return (!from || t >= *from) && (!to || t < *to); }
};

inline constexpr std::size_t rung_count = events::enum_names<events::Rung>::v.size();

// What one case adds to the counts of its grid and of every grid above it.
struct CaseCounts {
    std::int64_t reported = 0, open = 0, handled = 0, fed_back = 0, closed = 0, dismissed = 0;
    std::int64_t timed_out = 0;         // ran out of time on some rung at least once (the engine acted)
    std::int64_t closed_solved = 0;     // closed with solved = yes
    std::int64_t handled_on_time = 0;   // handled (not open again) before the due_at of the rung that handled it
    std::int64_t handled_total = 0;     // handled at least once and not open again
    std::int64_t rated = 0;             // cases rated at least once
    std::int64_t ratings = 0;           // ratings given (a reopened case is rated more than once)
    std::int64_t ratings_satisfied = 0; // of those, satisfied or basically_satisfied
    std::int64_t reopened = 0;          // rated, and round > 1
    std::int64_t closed_in_grid = 0;    // closed, never above micro_head
    std::array<std::int64_t, rung_count> open_by_rung{};

    void add(const CaseCounts& o, std::int64_t sign = 1);
    friend bool operator==(const CaseCounts&, const CaseCounts&) = default;
};
CaseCounts counts_of(const Case& c);
// Report → last handling in working milliseconds, for a case whose handling stands (handled and
// neither open again nor dismissed): what median_handle_hours is the median of.
std::optional<std::int64_t> handle_ms_of(const Case& c);

// The counts of a cohort, with its cases per category and its returns per department.
struct Tally : CaseCounts {
    std::map<std::string, std::int64_t, std::less<>> categories, returns;
    void add(const Tally& o);
    void add_case(const Case& c); // counts_of(c), its category and its returns
};

// A sorted multiset in blocks, each block sorted and every value of a block at most every value of
// the next: inserting or erasing moves the values of one block, and the k-th smallest is a walk over
// the block sizes (a thousand or so for millions of handling times) then an index — no copy, no
// selection. Which block holds a value is a binary search over each block's last value, kept side by
// side in one vector so that it touches contiguous memory; a value above all others (the usual new
// due time) goes to the last block without one. Plain vectors, so that a snapshot writes and reads it
// as it is. Defined for the value types named below (stats.cpp).
//
// A block splits in halves past max_block() values: `MinBlock`, or more once there are many values.
// An insert moves half a block, and every split moves the list of blocks (values / block size), so
// the block size that costs least grows as the cube root of the count: max_block() follows it as the
// count grows (never back, so that no block is ever over it).
template <class T, std::size_t MinBlock> class BasicSortedBlocks {
public:
    BasicSortedBlocks() = default;
    // The values given, in blocks half full; std::invalid_argument unless they are sorted.
    explicit BasicSortedBlocks(std::span<const T> sorted);

    std::int64_t size() const { return size_; }
    std::size_t max_block() const { return max_block_; }
    std::vector<T> values() const; // all of them, sorted
    const std::vector<std::vector<T>>& blocks() const { return blocks_; }
    void insert(const T& x);
    bool erase(const T& x); // one x; false when there is none
    // The k-th smallest value (from 0, k < size()) and the one after it (the same again when k is last).
    std::pair<T, T> at_rank(std::int64_t k) const;

private:
    std::size_t holder(const T& x) const; // the first block whose last value is not below x (or blocks' count)
    void grow_blocks();                   // max_block_ for size_, if that is more

    std::vector<std::vector<T>> blocks_;
    std::vector<T> lasts_; // blocks_[i].back(), for each i
    std::int64_t size_ = 0;
    std::size_t max_block_ = MinBlock;
};

// The stats index's handling times (ms).
using SortedBlocks = BasicSortedBlocks<std::int64_t, 2048>;
// An open case at its due time. Ties of due time go by report time, then by the position of the
// report: cases reported outside working hours all fall due when the next working period's limit
// runs out, and each new one lands after the others of its due, where inserting moves nothing. The
// position matters when report times tie too — events recorded while the clock stands behind the
// log's head all take the head's time — where ties went by address, and each insert landed anywhere
// among them, moving half a block of memory that was no longer in cache.
struct OpenDue {
    Instant due, reported;
    std::int64_t reported_position = 0; // the case's first event (0 for a case with no timeline)
    const Case* c = nullptr;
    friend auto operator<=>(const OpenDue&, const OpenDue&) = default;
};
inline OpenDue open_due_of(Instant due, const Case& c) {
    return {due, c.reported_at, c.timeline.empty() ? 0 : c.timeline.front().position, &c};
}
// Open cases by due time. Smaller blocks than for handling times: a value is four times the size,
// an insert or an erase moves half a block on average, and the open cases change at every event of
// theirs (128 was the fastest of 64 to 2048 for 100k and 1M values; 512 for 4 million).
using DueBlocks = BasicSortedBlocks<OpenDue, 128>;
// f(open) for each open case in `blocks` due at or before `t`, earliest due first, until f returns false.
template <class F> void each_due_by(const DueBlocks& blocks, Instant t, F f) {
    for (const auto& block : blocks.blocks())
        for (const OpenDue& open : block)
            if (open.due > t || !f(open)) return;
}
extern template class BasicSortedBlocks<std::int64_t, 2048>;
extern template class BasicSortedBlocks<OpenDue, 128>;

// Events of one local day in a grid subtree: cases reported, cases closed (by the rating that closed
// them) and rungs that ran out (the engine's own time-outs, and open cases due that day that the
// engine has not acted on yet).
struct DailyPoint {
    std::chrono::local_days day;
    std::int64_t reported = 0, closed = 0, overdue = 0;
};

// Per grid: the subtree's cohort counts in all and by UTC day of report (above micro-grids; a
// micro-grid's few cases are scanned), handling times sorted (in all, and by UTC day of report above
// micro-grids), open cases by due time, event times for daily series, and residents by last
// contact. Move-only, like the model that owns it.
class StatsIndex {
public:
    StatsIndex();
    ~StatsIndex();
    StatsIndex(StatsIndex&&) noexcept;
    StatsIndex& operator=(StatsIndex&&) noexcept;

    // What the index holds of one case, taken before an event so that the change can be applied.
    struct CaseMark {
        CaseCounts counts;
        std::optional<std::int64_t> handle_ms;
        std::optional<Instant> open_due; // open, and due then
        std::int64_t timeouts = 0;
        bool closed = false;
    };
    static CaseMark mark(const Case& c);

    // Folding, in log order. Grids never move once defined, so a case stays in its subtree.
    void add_grid(const Grid& g);
    // `c` after `env`; `before` is its mark before (none for the IssueReported that created it).
    void case_changed(const Case& c, const std::optional<CaseMark>& before, const events::Envelope& env);
    // `m` after an event; `old_grid` and `old_contact` were its residence and last contact before
    // (old_grid empty for a new member).
    void resident_changed(const Member& m, const std::string& old_grid, Instant old_contact);
    // Cases and members after all their events past position `since` at once, for a fold that deferred
    // the calls above: each case's mark then (none when it was reported since) and its returns per
    // department then, each member's residence and last contact then. Cases in the order the fold
    // first touched them. Runs on two threads, one for the grids at even depths and one for odd.
    struct CaseBefore {
        const Case* c;
        const std::optional<CaseMark>* mark;
        const std::map<std::string, std::int64_t>* returns;
    };
    struct MemberBefore {
        const Member* m;
        const std::string* grid;
        Instant contact;
    };
    void catch_up(const std::vector<CaseBefore>& cases, const std::vector<MemberBefore>& members, std::int64_t since);
    // Everything again from the cases (in report order, ties in log order) and members as they stand
    // now, in one pass: what the calls above would have built, for a fold that deferred them.
    void rebuild(const std::vector<const Case*>& cases, const std::vector<const Member*>& members);

    // Queries on the subtree under `grid` (an unknown grid gives zeros and nothing).
    Tally tally(std::string_view grid, const Period& period) const;
    std::optional<double> median_handle_ms(std::string_view grid, const Period& period) const;
    // Each case of the cohort open past its due_at at `now`, earliest due first.
    void for_each_overdue(std::string_view grid, const Period& period, Instant now, const std::function<void(const Case&)>& f) const;
    // Residents, and those of them whose last contact was at or before `lost_since`.
    std::pair<std::int64_t, std::int64_t> residents(std::string_view grid, Instant lost_since) const;
    // Per local day in [first, last] (days of `calendar`), whatever period the cases were reported in.
    std::vector<DailyPoint> daily(std::string_view grid, std::chrono::local_days first, std::chrono::local_days last, Instant now,
                                 const Calendar& calendar) const;

    // Snapshot (projections/snapshot.hpp): the index's own state, with each case and member written
    // as its rank in `Refs` (the model's maps in id order).
    struct Refs {
        std::vector<const Case*> cases;
        std::vector<const Member*> members;
    };
    void save(snapshot::Out& out, const Refs& refs) const;
    void load(snapshot::In& in, const Refs& refs);

    struct Node;

private:
    struct Change;
    // Applies a change to the case's grid and those above it; with `parity` 0 or 1 only to those at
    // even or odd depths (a root's is 0).
    void apply(const Case& c, const Change& change, int parity = -1);
    void resident_moved(const Member& m, const std::string& old_grid, Instant old_contact, int parity);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace gridloop::projections
