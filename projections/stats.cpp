// Grid statistics maintained by the fold (see stats.hpp for what is kept and why).
#include "projections/stats.hpp"

#include "projections/day_map.hpp"
#include "projections/id_index.hpp"
#include "projections/side_by_side.hpp"
#include "projections/snapshot.hpp"

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <span>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace gridloop::projections {

using namespace events;

void CaseCounts::add(const CaseCounts& o, std::int64_t sign) {
    reported += sign * o.reported;
    open += sign * o.open;
    handled += sign * o.handled;
    fed_back += sign * o.fed_back;
    closed += sign * o.closed;
    dismissed += sign * o.dismissed;
    timed_out += sign * o.timed_out;
    closed_solved += sign * o.closed_solved;
    handled_on_time += sign * o.handled_on_time;
    handled_total += sign * o.handled_total;
    rated += sign * o.rated;
    ratings += sign * o.ratings;
    ratings_satisfied += sign * o.ratings_satisfied;
    reopened += sign * o.reopened;
    closed_in_grid += sign * o.closed_in_grid;
    for (std::size_t r = 0; r < rung_count; ++r) open_by_rung[r] += sign * o.open_by_rung[r];
}

std::optional<std::int64_t> handle_ms_of(const Case& c) {
    if (!c.handled_at || c.state == CaseState::open || c.state == CaseState::dismissed) return std::nullopt;
    return c.handle_working_ms;
}

CaseCounts counts_of(const Case& c) {
    CaseCounts n;
    n.reported = 1;
    switch (c.state) {
    case CaseState::open:
        n.open = 1;
        n.open_by_rung[static_cast<std::size_t>(c.rung)] = 1;
        break;
    case CaseState::handled: n.handled = 1; break;
    case CaseState::fed_back: n.fed_back = 1; break;
    case CaseState::closed:
        n.closed = 1;
        n.closed_solved = c.solved == Solved::yes;
        n.closed_in_grid = c.highest_rung <= Rung::micro_head;
        break;
    case CaseState::dismissed: n.dismissed = 1; break;
    }
    n.timed_out = c.timeouts > 0;
    if (handle_ms_of(c)) {
        n.handled_total = 1;
        n.handled_on_time = c.handled_on_time;
    }
    if (c.ratings > 0) {
        n.rated = 1;
        n.ratings = c.ratings;
        n.ratings_satisfied = c.ratings_satisfied;
        n.reopened = c.round > 1;
    }
    return n;
}

void Tally::add(const Tally& o) {
    CaseCounts::add(o);
    for (const auto& [k, n] : o.categories) categories[k] += n;
    for (const auto& [k, n] : o.returns) returns[k] += n;
}

void Tally::add_case(const Case& c) {
    CaseCounts::add(counts_of(c));
    ++categories[c.category];
    for (const auto& [k, n] : c.returns_by_dept) returns[k] += n;
}

template <class T, std::size_t M> BasicSortedBlocks<T, M>::BasicSortedBlocks(std::span<const T> sorted)
    : size_(static_cast<std::int64_t>(sorted.size())) {
    if (!std::is_sorted(sorted.begin(), sorted.end())) throw std::invalid_argument("sorted blocks out of order");
    grow_blocks();
    const std::size_t half = max_block_ / 2;
    blocks_.reserve((sorted.size() + half - 1) / half);
    lasts_.reserve(blocks_.capacity());
    for (std::size_t i = 0; i < sorted.size(); i += half) {
        const auto part = sorted.subspan(i, std::min(half, sorted.size() - i));
        blocks_.emplace_back(part.begin(), part.end());
        lasts_.push_back(part.back());
    }
}

template <class T, std::size_t M> void BasicSortedBlocks<T, M>::grow_blocks() {
    // cbrt(64 n), to a power of two: 128 up to a quarter of a million values, 512 from 2 million.
    const auto best = std::bit_floor(static_cast<std::size_t>(std::cbrt(64.0 * static_cast<double>(size_))));
    max_block_ = std::max(max_block_, best);
}

template <class T, std::size_t M> std::vector<T> BasicSortedBlocks<T, M>::values() const {
    std::vector<T> out;
    out.reserve(static_cast<std::size_t>(size_));
    for (const auto& b : blocks_) out.insert(out.end(), b.begin(), b.end());
    return out;
}

template <class T, std::size_t M> std::size_t BasicSortedBlocks<T, M>::holder(const T& x) const {
    return static_cast<std::size_t>(std::lower_bound(lasts_.begin(), lasts_.end(), x) - lasts_.begin());
}

template <class T, std::size_t M> void BasicSortedBlocks<T, M>::insert(const T& x) {
    if (std::has_single_bit(static_cast<std::uint64_t>(++size_))) grow_blocks();
    if (blocks_.empty()) {
        blocks_.push_back({x});
        lasts_.push_back(x);
        return;
    }
    // Above every value: the end of the last block, with no search.
    const std::size_t i = lasts_.back() < x ? blocks_.size() - 1 : holder(x);
    auto& b = blocks_[i];
    b.insert(std::upper_bound(b.begin(), b.end(), x), x);
    lasts_[i] = b.back();
    if (b.size() > max_block_) { // split in halves
        std::vector<T> upper(b.begin() + static_cast<std::ptrdiff_t>(b.size() / 2), b.end());
        b.resize(b.size() / 2);
        lasts_[i] = b.back();
        lasts_.insert(lasts_.begin() + static_cast<std::ptrdiff_t>(i) + 1, upper.back());
        blocks_.insert(blocks_.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::move(upper));
    }
}

template <class T, std::size_t M> bool BasicSortedBlocks<T, M>::erase(const T& x) {
    const std::size_t i = holder(x); // if x is there at all, it is in this block
    if (i == blocks_.size()) return false;
    auto& b = blocks_[i];
    const auto it = std::lower_bound(b.begin(), b.end(), x);
    if (it == b.end() || x < *it) return false;
    --size_;
    b.erase(it);
    const auto at = static_cast<std::ptrdiff_t>(i);
    if (b.empty()) {
        blocks_.erase(blocks_.begin() + at);
        lasts_.erase(lasts_.begin() + at);
    } else if (b.size() < max_block_ / 8 && i + 1 < blocks_.size() && b.size() + blocks_[i + 1].size() <= max_block_) {
        b.insert(b.end(), blocks_[i + 1].begin(), blocks_[i + 1].end()); // merge with the next block
        blocks_.erase(blocks_.begin() + at + 1);
        lasts_.erase(lasts_.begin() + at); // the next block's last is the merged block's
    } else {
        lasts_[i] = b.back();
    }
    return true;
}

template <class T, std::size_t M> std::pair<T, T> BasicSortedBlocks<T, M>::at_rank(std::int64_t k) const {
    auto b = blocks_.begin();
    for (; k >= static_cast<std::int64_t>(b->size()); ++b) k -= static_cast<std::int64_t>(b->size());
    const auto i = static_cast<std::size_t>(k);
    const T& first = (*b)[i];
    if (i + 1 < b->size()) return {first, (*b)[i + 1]};
    return {first, b + 1 != blocks_.end() ? (*(b + 1))[0] : first};
}

template class BasicSortedBlocks<std::int64_t, 2048>;
template class BasicSortedBlocks<OpenDue, 128>;

namespace {

constexpr std::int64_t day_ms = 86'400'000;
constexpr auto min64 = std::numeric_limits<std::int64_t>::min();
constexpr auto max64 = std::numeric_limits<std::int64_t>::max();

std::int64_t ms(Instant t) { return t.time_since_epoch().count(); }
std::int64_t utc_day(Instant t) { // floor
    const auto v = ms(t);
    return v >= 0 ? v / day_ms : -((-v + day_ms - 1) / day_ms);
}
std::int64_t utc_day_ceil(Instant t) { return utc_day(t - std::chrono::milliseconds(1)) + 1; }
Instant day_start(std::int64_t day) { return Instant(std::chrono::milliseconds(day * day_ms)); }

// Appends to a vector kept sorted; the log's times never decrease, so this is almost always a push_back.
template <class T, class Less = std::less<>> void insert_sorted(std::vector<T>& v, T x, Less less = {}) {
    if (v.empty() || !less(x, v.back())) v.push_back(std::move(x));
    else v.insert(std::upper_bound(v.begin(), v.end(), x, less), std::move(x));
}

// (last contact in ms, member address): an order-statistics tree, so that "how many residents were
// last contacted before t" is one O(log n) query.
using ContactKey = std::pair<std::int64_t, std::uintptr_t>;
using ContactTree = __gnu_pbds::tree<ContactKey, __gnu_pbds::null_type, std::less<ContactKey>, __gnu_pbds::rb_tree_tag,
                                     __gnu_pbds::tree_order_statistics_node_update>;

// The k-th smallest value (from 0) of the union of sorted runs, and when `both` the next one: a
// bisection on the value, counting what is at or below it in each run by binary search, so that
// nothing is copied (k < the runs' total size).
std::pair<std::int64_t, std::int64_t> select(const std::vector<std::span<const std::int64_t>>& runs, std::int64_t k, bool both) {
    std::int64_t lo = max64, hi = min64;
    for (const auto& r : runs) lo = std::min(lo, r.front()), hi = std::max(hi, r.back());
    const auto at_most = [&](std::int64_t x) {
        std::int64_t n = 0;
        for (const auto& r : runs) n += std::upper_bound(r.begin(), r.end(), x) - r.begin();
        return n;
    };
    while (lo < hi) { // the k-th is the least x with more than k values at or below it
        const std::int64_t mid = std::midpoint(lo, hi);
        if (at_most(mid) > k) hi = mid;
        else lo = mid + 1;
    }
    if (!both || at_most(lo) > k + 1) return {lo, lo};
    std::int64_t next = max64; // the least value above lo
    for (const auto& r : runs)
        if (const auto it = std::upper_bound(r.begin(), r.end(), lo); it != r.end()) next = std::min(next, *it);
    return {lo, next};
}

// When a case closed and when its rungs ran out, from its timeline entries after position `since`.
void closings_and_timeouts(const Case& c, std::int64_t since, std::vector<Instant>& closed, std::vector<Instant>& timed_out) {
    CaseState state = CaseState::open;
    for (const auto& e : c.timeline) {
        if (e.position > since) {
            if (e.state == CaseState::closed && state != CaseState::closed) closed.push_back(e.recorded_at);
            if (e.timed_out) timed_out.push_back(e.recorded_at);
        }
        state = e.state;
    }
}

// The first position in sorted [first, last) not below x, searching forward from `first` in
// doubling steps: for bounds that follow one another closely (the days of a series).
template <class It, class T> It gallop_lower_bound(It first, It last, const T& x) {
    std::ptrdiff_t step = 1;
    while (step < last - first && first[step] < x) {
        first += step;
        step *= 2;
    }
    return std::lower_bound(first, first + std::min(step, last - first), x);
}

// The same, searched backward from `last` in doubling steps: for a bound near the end of a long
// range (a series of the last days, whose values are the range's newest), so that the search stays
// among the values read most recently instead of a cache miss per step across all of them.
template <class It, class T> It gallop_lower_bound_from_end(It first, It last, const T& x) {
    std::ptrdiff_t step = 1;
    while (step <= last - first && !(*(last - step) < x)) {
        last -= step;
        step *= 2;
    }
    return std::lower_bound(last - std::min(step, last - first), last, x);
}

} // namespace

struct StatsIndex::Node {
    std::string id;
    Node* parent = nullptr;
    bool by_day = false; // above micro-grids: cohort tallies by UTC day of report
    Tally all;
    DayMap<Tally> days;
    // The standing handling times (ms) of the subtree's cases: all of them, and — above micro-grids —
    // per UTC day of report, each sorted (a micro-grid's cases of a period are scanned instead).
    SortedBlocks handle_all;
    DayMap<std::vector<std::int64_t>> handle_days;
    std::vector<const Case*> cases; // in report order
    DueBlocks open_due; // the open cases by due time
    std::vector<Instant> reported_at, closed_at, timeouts_at;
    ContactTree residents;

    // Everything but where the node stands in the tree.
    void clear() {
        all = Tally{};
        days.clear();
        handle_all = SortedBlocks{};
        handle_days.clear();
        cases.clear();
        open_due = DueBlocks{};
        reported_at.clear();
        closed_at.clear();
        timeouts_at.clear();
        residents.clear();
    }

    // The cases reported in [from, to).
    std::pair<std::vector<const Case*>::const_iterator, std::vector<const Case*>::const_iterator>
    reported_between(std::optional<Instant> from, std::optional<Instant> to) const {
        auto at = [&](std::optional<Instant> t) {
            if (!t) return cases.end();
            return std::lower_bound(cases.begin(), cases.end(), *t, [](const Case* c, Instant x) { return c->reported_at < x; });
        };
        const auto b = from ? at(from) : cases.begin();
        return {b, std::max(b, at(to))}; // empty when to <= from
    }
};

struct StatsIndex::Impl {
    std::map<std::string, Node, std::less<>> nodes; // by grid id, in id order (snapshots)
    IdIndex<Node, &Node::id> index;

    Node* find(std::string_view id) const { return index.find(id); }
    Node& add(std::string id) {
        auto [it, fresh] = nodes.try_emplace(id);
        if (fresh) {
            it->second.id = std::move(id);
            index.insert(&it->second);
        }
        return it->second;
    }
};

StatsIndex::StatsIndex() : impl_(std::make_unique<Impl>()) {}
StatsIndex::~StatsIndex() = default;
StatsIndex::StatsIndex(StatsIndex&&) noexcept = default;
StatsIndex& StatsIndex::operator=(StatsIndex&&) noexcept = default;

StatsIndex::CaseMark StatsIndex::mark(const Case& c) {
    CaseMark m;
    m.counts = counts_of(c);
    m.handle_ms = handle_ms_of(c);
    if (c.state == CaseState::open) m.open_due = c.due_at;
    m.timeouts = c.timeouts;
    m.closed = c.state == CaseState::closed;
    return m;
}

void StatsIndex::add_grid(const Grid& g) {
    Node& n = impl_->add(g.grid_id);
    n.parent = g.parent_id ? impl_->find(*g.parent_id) : nullptr;
    n.by_day = g.level != Level::micro;
}

// What a case's events (one or several) changed of what the index holds of it.
struct StatsIndex::Change {
    std::optional<CaseMark> before;                              // none: the case is new
    std::vector<std::pair<std::string_view, std::int64_t>> returns; // departments it was returned to, how often
    std::vector<Instant> closed, timed_out;                      // when it closed, when rungs ran out
};

void StatsIndex::case_changed(const Case& c, const std::optional<CaseMark>& before, const Envelope& env) {
    Change change{before, {}, {}, {}};
    if (const auto* r = std::get_if<IssueReturned>(&env.event)) change.returns.emplace_back(r->dept_id, 1);
    const CaseMark after = mark(c), prior = before.value_or(CaseMark{});
    if (after.closed && !prior.closed) change.closed.push_back(env.recorded_at);
    if (after.timeouts > prior.timeouts) change.timed_out.push_back(env.recorded_at);
    apply(c, change);
}

void StatsIndex::catch_up(const std::vector<CaseBefore>& cases, const std::vector<MemberBefore>& members, std::int64_t since) {
    const auto run = [&](int parity) {
        for (const auto& [c, mark, returns] : cases) {
            Change change{*mark, {}, {}, {}};
            for (const auto& [dept, n] : c->returns_by_dept) {
                const auto was = returns->find(dept);
                if (const auto more = n - (was == returns->end() ? 0 : was->second); more > 0) change.returns.emplace_back(dept, more);
            }
            closings_and_timeouts(*c, since, change.closed, change.timed_out);
            apply(*c, change, parity);
        }
        for (const auto& [m, grid, contact] : members) resident_moved(*m, *grid, contact, parity);
    };
    side_by_side([&] { run(1); }, [&] { run(0); });
}

namespace {
// The depth of n (a root's is 0), when only one parity of depths is wanted.
int depth_for(const StatsIndex::Node* n, int parity) {
    int depth = 0;
    if (parity >= 0)
        for (n = n->parent; n; n = n->parent) ++depth;
    return depth;
}
} // namespace

void StatsIndex::apply(const Case& c, const Change& change, int parity) {
    Node* leaf = impl_->find(c.grid_id);
    if (!leaf) return;
    const auto& before = change.before;
    const CaseMark after = mark(c), prior = before.value_or(CaseMark{}); // a new case had nothing before
    CaseCounts delta = after.counts;
    delta.add(prior.counts, -1);
    const bool tallies_change = !before || !change.returns.empty() || delta != CaseCounts{}; // a discussion, say, changes no count
    const std::int64_t day = utc_day(c.reported_at);
    const auto by_report = [](const Case* a, const Case* b) { return a->reported_at < b->reported_at; };

    for (auto [n, depth] = std::pair(leaf, depth_for(leaf, parity)); n; n = n->parent, --depth) {
        if (parity >= 0 && (depth & 1) != parity) continue;
        for (Tally* t : {&n->all, n->by_day && tallies_change ? &n->days[day] : nullptr}) {
            if (!t || !tallies_change) continue;
            t->CaseCounts::add(delta);
            if (!before) ++t->categories[c.category];
            for (const auto& [dept, k] : change.returns) t->returns[std::string(dept)] += k;
        }
        if (!before) {
            insert_sorted(n->cases, &c, by_report);
            insert_sorted(n->reported_at, c.reported_at);
        }
        if (prior.handle_ms != after.handle_ms) {
            if (const auto h = prior.handle_ms) {
                n->handle_all.erase(*h);
                if (auto* v = n->handle_days.find(day)) { // only above micro-grids
                    if (auto it = std::lower_bound(v->begin(), v->end(), *h); it != v->end() && *it == *h) v->erase(it);
                    if (v->empty()) n->handle_days.erase(day);
                }
            }
            if (const auto h = after.handle_ms) {
                n->handle_all.insert(*h);
                if (n->by_day) {
                    auto& v = n->handle_days[day];
                    v.insert(std::upper_bound(v.begin(), v.end(), *h), *h);
                }
            }
        }
        if (prior.open_due != after.open_due) {
            if (prior.open_due) n->open_due.erase(open_due_of(*prior.open_due, c));
            if (after.open_due) n->open_due.insert(open_due_of(*after.open_due, c));
        }
        for (const Instant t : change.closed) insert_sorted(n->closed_at, t);
        for (const Instant t : change.timed_out) insert_sorted(n->timeouts_at, t);
    }
}

void StatsIndex::resident_changed(const Member& m, const std::string& old_grid, Instant old_contact) {
    resident_moved(m, old_grid, old_contact, -1);
}

void StatsIndex::resident_moved(const Member& m, const std::string& old_grid, Instant old_contact, int parity) {
    if (old_grid == m.residence_grid && old_contact == m.last_contact_at) return;
    const auto address = reinterpret_cast<std::uintptr_t>(&m);
    const auto each = [&](const std::string& grid, const auto& f) {
        Node* leaf = grid.empty() ? nullptr : impl_->find(grid);
        for (auto [n, depth] = std::pair(leaf, leaf ? depth_for(leaf, parity) : 0); n; n = n->parent, --depth)
            if (parity < 0 || (depth & 1) == parity) f(*n);
    };
    each(old_grid, [&](Node& n) { n.residents.erase({ms(old_contact), address}); });
    each(m.residence_grid, [&](Node& n) { n.residents.insert({ms(m.last_contact_at), address}); });
}

void StatsIndex::rebuild(const std::vector<const Case*>& cases, const std::vector<const Member*>& members) {
    // Categories become numbers (in name order) counted in arrays per node, and are written into each
    // node's tallies once per node and UTC day: a map lookup per case instead of one per tally.
    std::unordered_map<std::string_view, std::uint32_t> category_of;
    for (const Case* c : cases) category_of.try_emplace(c->category, 0);
    std::vector<std::string_view> categories;
    for (const auto& [name, _] : category_of) categories.push_back(name);
    std::sort(categories.begin(), categories.end());
    for (std::uint32_t i = 0; i < categories.size(); ++i) category_of[categories[i]] = i;
    struct Scratch {
        int depth = 0;                      // 0 for a root
        std::vector<std::int64_t> all, day; // cases per category: in all, on the day of `day_tally`
        Tally* day_tally = nullptr;         // in the node's days: taken again at each new day, which may move it
        std::int64_t current_day = 0;
        std::vector<std::int64_t> handles; // handle_all's values, unsorted
        std::vector<OpenDue> open_due; // open_due's values, unsorted
    };
    const auto write_categories = [&](std::vector<std::int64_t>& counts, Tally& t) { // in name order: appends
        for (std::size_t i = 0; i < counts.size(); ++i)
            if (counts[i] != 0) t.categories.emplace_hint(t.categories.end(), categories[i], std::exchange(counts[i], 0));
    };
    std::unordered_map<const Node*, Scratch> scratch; // its entries made here: the threads below only find them
    for (auto& [_, n] : impl_->nodes) {
        n.clear();
        Scratch& s = scratch[&n];
        for (const Node* up = n.parent; up; up = up->parent) ++s.depth;
        s.all.resize(categories.size());
        s.day.resize(categories.size());
    }

    // Two threads, each building the nodes at even or at odd depths (a town and its grids, its
    // communities and their micro-grids), so that the work splits evenly for one town or many.
    const auto build = [&](int parity) {
        const auto mine = [&](const Node* n) -> Scratch* {
            Scratch& s = scratch.find(n)->second;
            return s.depth % 2 == parity ? &s : nullptr;
        };
        std::vector<Instant> closed, timed_out; // the case's closings and time-outs, off its timeline
        for (const Case* c : cases) {
            Node* leaf = impl_->find(c->grid_id);
            if (!leaf) continue;
            const CaseCounts counts = counts_of(*c);
            const auto handle = handle_ms_of(*c);
            const std::int64_t day = utc_day(c->reported_at);
            const std::uint32_t category = category_of.find(c->category)->second;
            closed.clear();
            timed_out.clear();
            closings_and_timeouts(*c, 0, closed, timed_out);
            for (Node* n = leaf; n; n = n->parent) {
                Scratch* s = mine(n);
                if (!s) continue;
                n->all.CaseCounts::add(counts);
                ++s->all[category];
                for (const auto& [dept, k] : c->returns_by_dept) n->all.returns[dept] += k;
                if (n->by_day) {
                    if (!s->day_tally || s->current_day != day) { // cases come in report order: a new day
                        if (s->day_tally) write_categories(s->day, *s->day_tally);
                        s->day_tally = &n->days[day]; // a new last day
                        s->current_day = day;
                    }
                    s->day_tally->CaseCounts::add(counts);
                    ++s->day[category];
                    for (const auto& [dept, k] : c->returns_by_dept) s->day_tally->returns[dept] += k;
                }
                n->cases.push_back(c);
                n->reported_at.push_back(c->reported_at);
                if (handle) {
                    s->handles.push_back(*handle);
                    if (n->by_day) n->handle_days[day].push_back(*handle); // the last day or a new one after it
                }
                if (c->state == CaseState::open) s->open_due.push_back(open_due_of(c->due_at, *c));
                n->closed_at.insert(n->closed_at.end(), closed.begin(), closed.end());
                n->timeouts_at.insert(n->timeouts_at.end(), timed_out.begin(), timed_out.end());
            }
        }
        for (auto& [_, n] : impl_->nodes) {
            Scratch* s = mine(&n);
            if (!s) continue;
            write_categories(s->all, n.all);
            if (s->day_tally) write_categories(s->day, *s->day_tally);
            std::sort(s->handles.begin(), s->handles.end());
            n.handle_all = SortedBlocks(s->handles);
            std::sort(s->open_due.begin(), s->open_due.end());
            n.open_due = DueBlocks(s->open_due);
            std::sort(n.closed_at.begin(), n.closed_at.end());
            std::sort(n.timeouts_at.begin(), n.timeouts_at.end());
            for (auto& v : n.handle_days.values()) std::sort(v.begin(), v.end());
        }
        for (const Member* m : members)
            for (Node* n = impl_->find(m->residence_grid); n; n = n->parent)
                if (mine(n)) n->residents.insert({ms(m->last_contact_at), reinterpret_cast<std::uintptr_t>(m)});
    };
    side_by_side([&] { build(1); }, [&] { build(0); });
}

Tally StatsIndex::tally(std::string_view grid, const Period& period) const {
    const Node* n = impl_->find(grid);
    if (!n) return {};
    if (!period.from && !period.to) return n->all;
    Tally t;
    const auto scan = [&](std::optional<Instant> from, std::optional<Instant> to) {
        const auto [b, e] = n->reported_between(from, to);
        for (auto it = b; it != e; ++it) t.add_case(**it);
    };
    if (!n->by_day) {
        scan(period.from, period.to);
        return t;
    }
    // Whole UTC days inside the period from the day tallies, the parts of days at either end by scanning.
    const std::int64_t first = period.from ? utc_day_ceil(*period.from) : min64;
    const std::int64_t end = period.to ? utc_day(*period.to) : max64;
    if (first >= end) {
        scan(period.from, period.to);
        return t;
    }
    for (const Tally& d : n->days.between(first, end)) t.add(d);
    if (period.from) scan(period.from, day_start(first));
    if (period.to) scan(day_start(end), period.to);
    return t;
}

std::optional<double> StatsIndex::median_handle_ms(std::string_view grid, const Period& period) const {
    const Node* n = impl_->find(grid);
    if (!n) return std::nullopt;
    const auto mean = [](std::pair<std::int64_t, std::int64_t> mid) {
        return (static_cast<double>(mid.first) + static_cast<double>(mid.second)) / 2;
    };
    if (!period.from && !period.to) { // the whole cohort: two ranks of the sorted blocks
        const std::int64_t total = n->handle_all.size();
        if (total == 0) return std::nullopt;
        const auto [a, b] = n->handle_all.at_rank((total - 1) / 2);
        return mean({a, total % 2 == 0 ? b : a});
    }
    // Otherwise the runs of whole UTC days inside the period (sorted per day), and the handling
    // times of the cases of the partial days at either end (or of the whole period in a micro-grid)
    // found by scanning, sorted into one more run.
    std::vector<std::span<const std::int64_t>> runs;
    std::vector<std::int64_t> scanned;
    const auto scan = [&](std::optional<Instant> from, std::optional<Instant> to) {
        const auto [b, e] = n->reported_between(from, to);
        for (auto it = b; it != e; ++it)
            if (const auto h = handle_ms_of(**it)) scanned.push_back(*h);
    };
    const std::int64_t first = period.from ? utc_day_ceil(*period.from) : min64;
    const std::int64_t end = period.to ? utc_day(*period.to) : max64;
    if (!n->by_day || first >= end) {
        scan(period.from, period.to);
    } else {
        for (const auto& v : n->handle_days.between(first, end)) runs.emplace_back(v);
        if (period.from) scan(period.from, day_start(first));
        if (period.to) scan(day_start(end), period.to);
    }
    std::sort(scanned.begin(), scanned.end());
    if (!scanned.empty()) runs.emplace_back(scanned);
    std::int64_t total = 0;
    for (const auto& r : runs) total += static_cast<std::int64_t>(r.size());
    if (total == 0) return std::nullopt;
    return mean(select(runs, (total - 1) / 2, total % 2 == 0));
}

void StatsIndex::for_each_overdue(std::string_view grid, const Period& period, Instant now, const std::function<void(const Case&)>& f) const {
    const Node* n = impl_->find(grid);
    if (!n) return;
    each_due_by(n->open_due, now, [&](const OpenDue& open) {
        if (period.contains(open.reported)) f(*open.c);
        return true;
    });
}

std::pair<std::int64_t, std::int64_t> StatsIndex::residents(std::string_view grid, Instant lost_since) const {
    const Node* n = impl_->find(grid);
    if (!n) return {0, 0};
    const auto lost = n->residents.order_of_key({ms(lost_since), std::numeric_limits<std::uintptr_t>::max()});
    return {static_cast<std::int64_t>(n->residents.size()), static_cast<std::int64_t>(lost)};
}

std::vector<DailyPoint> StatsIndex::daily(std::string_view grid, std::chrono::local_days first, std::chrono::local_days last, Instant now,
                                          const Calendar& calendar) const {
    std::vector<DailyPoint> out;
    for (auto d = first; d <= last; d += std::chrono::days(1)) out.push_back(DailyPoint{d});
    const Node* n = impl_->find(grid);
    if (!n || out.empty()) return out;
    // Per series of times: each day's end follows the previous one closely, so it is searched forward from there.
    struct Cursor {
        const std::vector<Instant>& v;
        std::vector<Instant>::const_iterator at;
        std::int64_t count_to(Instant hi) { // the values in [previous bound, hi)
            const auto next = gallop_lower_bound(at, v.end(), hi);
            return next - std::exchange(at, next);
        }
    };
    const std::vector<Instant> midnights = calendar.midnights(first, last + std::chrono::days(1));
    const Instant lo = midnights.front();
    const auto cursor = [lo](const std::vector<Instant>& v) { return Cursor{v, gallop_lower_bound_from_end(v.begin(), v.end(), lo)}; };
    std::array<Cursor, 3> cursors{cursor(n->reported_at), cursor(n->closed_at), cursor(n->timeouts_at)};
    for (std::size_t i = 0; i < out.size(); ++i) {
        auto& p = out[i];
        const Instant hi = midnights[i + 1];
        p.reported = cursors[0].count_to(hi);
        p.closed = cursors[1].count_to(hi);
        p.overdue = cursors[2].count_to(hi);
    }
    each_due_by(n->open_due, now, [&](const OpenDue& open) {
        if (const auto d = calendar.local_day(open.due); d >= first && d <= last) ++out[static_cast<std::size_t>((d - first).count())].overdue;
        return true;
    });
    return out;
}

} // namespace gridloop::projections

// ---------------------------------------------------------------- snapshot

namespace gridloop::projections {

namespace snapshot {

void io(auto& ar, CaseCounts& c) {
    fields(ar, c.reported, c.open, c.handled, c.fed_back, c.closed, c.dismissed, c.timed_out, c.closed_solved, c.handled_on_time,
           c.handled_total, c.rated, c.ratings, c.ratings_satisfied, c.reopened, c.closed_in_grid, c.open_by_rung);
}
void io(auto& ar, Tally& t) {
    io(ar, static_cast<CaseCounts&>(t));
    fields(ar, t.categories, t.returns);
}
// As its values: the same whatever the blocks were split into by the inserts and erases behind them.
void io(auto& ar, SortedBlocks& s) {
    if constexpr (std::remove_reference_t<decltype(ar)>::saving) {
        auto values = s.values();
        field(ar, values);
    } else {
        std::vector<std::int64_t> values;
        field(ar, values);
        try {
            s = SortedBlocks(values);
        } catch (const std::invalid_argument&) {
            throw Error("snapshot: handling times out of order");
        }
    }
}

} // namespace snapshot

namespace {
template <class T> const T* at_rank(const std::vector<const T*>& v, std::int64_t rank) {
    if (rank < 0 || static_cast<std::size_t>(rank) >= v.size()) throw snapshot::Error("snapshot: statistics refer to an unknown entity");
    return v[static_cast<std::size_t>(rank)];
}
} // namespace

void StatsIndex::save(snapshot::Out& out, const Refs& refs) const {
    const RankOf<Case> case_rank(refs.cases);
    const RankOf<Member> member_rank(refs.members);
    std::unordered_map<const Node*, std::string> id_of;
    for (const auto& [id, n] : impl_->nodes) id_of.emplace(&n, id);
    out.varint(impl_->nodes.size());
    for (const auto& [grid, node] : impl_->nodes) {
        auto& n = const_cast<Node&>(node); // Out only reads
        std::string id = grid;
        std::string parent = n.parent ? id_of.at(n.parent) : std::string(); // grid ids are never empty
        std::vector<std::int64_t> cases;
        cases.reserve(n.cases.size());
        for (const Case* c : n.cases) cases.push_back(case_rank.at(c));
        // The last ties are kept in address order, which differs between processes: written by rank.
        std::vector<std::pair<Instant, std::int64_t>> open_due;
        open_due.reserve(static_cast<std::size_t>(n.open_due.size()));
        for (const auto& block : n.open_due.blocks())
            for (const OpenDue& open : block) open_due.emplace_back(open.due, case_rank.at(open.c));
        std::sort(open_due.begin(), open_due.end());
        std::vector<std::pair<std::int64_t, std::int64_t>> residents;
        for (const auto& [contact, address] : n.residents)
            residents.emplace_back(contact, member_rank.at(reinterpret_cast<const Member*>(address)));
        std::sort(residents.begin(), residents.end());
        snapshot::fields(out, id, parent, n.by_day, n.all, n.days, n.handle_all, n.handle_days, cases, open_due, n.reported_at, n.closed_at,
                         n.timeouts_at, residents);
    }
}

void StatsIndex::load(snapshot::In& in, const Refs& refs) {
    auto& nodes = impl_->nodes;
    nodes.clear();
    impl_->index.clear();
    std::vector<std::pair<Node*, std::string>> parents;
    for (std::size_t k = in.count(); k > 0; --k) {
        std::string id;
        std::string parent;
        std::vector<std::int64_t> cases;
        std::vector<std::pair<Instant, std::int64_t>> open_due;
        std::vector<std::pair<std::int64_t, std::int64_t>> residents;
        snapshot::field(in, id);
        if (!nodes.empty() && !(nodes.rbegin()->first < id)) throw snapshot::Error("snapshot: statistics grids out of order");
        Node& n = impl_->add(std::move(id));
        snapshot::fields(in, parent, n.by_day, n.all, n.days, n.handle_all, n.handle_days, cases, open_due, n.reported_at, n.closed_at,
                         n.timeouts_at, residents);
        for (const auto& v : n.handle_days.values())
            if (v.empty() || !std::is_sorted(v.begin(), v.end())) throw snapshot::Error("snapshot: handling times out of order");
        if (!parent.empty()) parents.emplace_back(&n, std::move(parent));
        n.cases.reserve(cases.size());
        for (const auto r : cases) n.cases.push_back(at_rank(refs.cases, r));
        std::vector<OpenDue> due_cases; // sorted again: ties were by rank, are by report time and position
        due_cases.reserve(open_due.size());
        for (const auto& [due, r] : open_due) {
            const Case* c = at_rank(refs.cases, r);
            due_cases.push_back(open_due_of(due, *c));
        }
        std::sort(due_cases.begin(), due_cases.end());
        n.open_due = DueBlocks(due_cases);
        for (const auto& [contact, r] : residents)
            n.residents.insert({contact, reinterpret_cast<std::uintptr_t>(at_rank(refs.members, r))});
    }
    for (auto& [n, parent] : parents)
        if (!(n->parent = impl_->find(parent))) throw snapshot::Error("snapshot: statistics name an unknown parent grid " + parent);
}

} // namespace gridloop::projections
