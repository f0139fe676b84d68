// Grid statistics maintained by the fold (see stats.hpp for what is kept and why).
#include "projections/stats.hpp"

#include "projections/snapshot.hpp"

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include <algorithm>
#include <limits>
#include <set>
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

namespace {

constexpr std::int64_t day_ms = 86'400'000;
constexpr int slot_shift = 22; // handling times are grouped in slots of 2^22 ms (about 70 minutes)
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

using Handling = std::pair<std::int64_t, std::int64_t>; // (reported_at ms, handle ms)

} // namespace

struct StatsIndex::Node {
    Node* parent = nullptr;
    bool by_day = false; // above micro-grids: cohort tallies by UTC day of report
    Tally all;
    std::map<std::int64_t, Tally> days;
    std::map<std::int64_t, std::vector<Handling>> handling; // slot of the handling time → its cases, sorted
    std::vector<const Case*> cases;                          // in report order
    std::set<std::pair<Instant, const Case*>> open_due;
    std::vector<Instant> reported_at, closed_at, timeouts_at;
    ContactTree residents;

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
    std::map<std::string, Node, std::less<>> nodes;

    Node* find(std::string_view id) {
        auto it = nodes.find(id);
        return it == nodes.end() ? nullptr : &it->second;
    }
    const Node* find(std::string_view id) const { return const_cast<Impl*>(this)->find(id); }
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
    Node& n = impl_->nodes[g.grid_id];
    n.parent = g.parent_id ? impl_->find(*g.parent_id) : nullptr;
    n.by_day = g.level != Level::micro;
}

void StatsIndex::case_changed(const Case& c, const std::optional<CaseMark>& before, const Envelope& env) {
    Node* leaf = impl_->find(c.grid_id);
    if (!leaf) return;
    const CaseMark after = mark(c), prior = before.value_or(CaseMark{}); // a new case had nothing before
    CaseCounts delta = after.counts;
    delta.add(prior.counts, -1);
    const auto* returned = std::get_if<IssueReturned>(&env.event);
    const bool closes = after.closed && !prior.closed;
    const bool times_out = after.timeouts > prior.timeouts;
    const bool tallies_change = !before || returned || delta != CaseCounts{}; // a discussion, say, changes no count
    const std::int64_t day = utc_day(c.reported_at);
    const auto by_report = [](const Case* a, const Case* b) { return a->reported_at < b->reported_at; };

    for (Node* n = leaf; n; n = n->parent) {
        for (Tally* t : {&n->all, n->by_day && tallies_change ? &n->days[day] : nullptr}) {
            if (!t || !tallies_change) continue;
            t->CaseCounts::add(delta);
            if (!before) ++t->categories[c.category];
            if (returned) ++t->returns[returned->dept_id];
        }
        if (!before) {
            insert_sorted(n->cases, &c, by_report);
            insert_sorted(n->reported_at, env.recorded_at);
        }
        if (prior.handle_ms != after.handle_ms) {
            if (prior.handle_ms) {
                auto& v = n->handling[*prior.handle_ms >> slot_shift];
                const Handling h{ms(c.reported_at), *prior.handle_ms};
                if (auto it = std::lower_bound(v.begin(), v.end(), h); it != v.end() && *it == h) v.erase(it);
            }
            if (after.handle_ms) insert_sorted(n->handling[*after.handle_ms >> slot_shift], Handling{ms(c.reported_at), *after.handle_ms});
        }
        if (prior.open_due != after.open_due) {
            if (prior.open_due) n->open_due.erase({*prior.open_due, &c});
            if (after.open_due) n->open_due.emplace(*after.open_due, &c);
        }
        if (closes) insert_sorted(n->closed_at, env.recorded_at);
        if (times_out) insert_sorted(n->timeouts_at, env.recorded_at);
    }
}

void StatsIndex::resident_changed(const Member& m, const std::string& old_grid, Instant old_contact) {
    if (old_grid == m.residence_grid && old_contact == m.last_contact_at) return;
    const auto address = reinterpret_cast<std::uintptr_t>(&m);
    if (!old_grid.empty())
        for (Node* n = impl_->find(old_grid); n; n = n->parent) n->residents.erase({ms(old_contact), address});
    for (Node* n = impl_->find(m.residence_grid); n; n = n->parent) n->residents.insert({ms(m.last_contact_at), address});
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
    for (auto it = n->days.lower_bound(first); it != n->days.end() && it->first < end; ++it) t.add(it->second);
    if (period.from) scan(period.from, day_start(first));
    if (period.to) scan(day_start(end), period.to);
    return t;
}

std::optional<double> StatsIndex::median_handle_ms(std::string_view grid, const Period& period) const {
    const Node* n = impl_->find(grid);
    if (!n) return std::nullopt;
    const std::int64_t lo = period.from ? ms(*period.from) : min64, hi = period.to ? ms(*period.to) : max64;
    const auto in_period = [&](const std::vector<Handling>& v) {
        const auto b = std::lower_bound(v.begin(), v.end(), Handling{lo, min64});
        return std::pair{b, std::max(b, std::lower_bound(v.begin(), v.end(), Handling{hi, min64}))};
    };
    std::int64_t total = 0;
    for (const auto& [_, v] : n->handling) {
        const auto [b, e] = in_period(v);
        total += e - b;
    }
    if (total == 0) return std::nullopt;
    // The k-th smallest handling time: slots are in order of time, so walk them to the one holding
    // rank k, then select within it.
    const auto at_rank = [&](std::int64_t k) {
        for (const auto& [_, v] : n->handling) {
            const auto [b, e] = in_period(v);
            if (k >= e - b) {
                k -= e - b;
                continue;
            }
            std::vector<std::int64_t> times;
            for (auto it = b; it != e; ++it) times.push_back(it->second);
            std::nth_element(times.begin(), times.begin() + k, times.end());
            return times[static_cast<std::size_t>(k)];
        }
        return std::int64_t{0}; // not reached: k < total
    };
    return (static_cast<double>(at_rank((total - 1) / 2)) + static_cast<double>(at_rank(total / 2))) / 2;
}

void StatsIndex::for_each_overdue(std::string_view grid, const Period& period, Instant now, const std::function<void(const Case&)>& f) const {
    const Node* n = impl_->find(grid);
    if (!n) return;
    for (const auto& [due, c] : n->open_due) {
        if (due > now) break;
        if (period.contains(c->reported_at)) f(*c);
    }
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
    const auto count = [](const std::vector<Instant>& v, Instant lo, Instant hi) {
        return std::lower_bound(v.begin(), v.end(), hi) - std::lower_bound(v.begin(), v.end(), lo);
    };
    Instant lo = calendar.midnight(first);
    for (auto& p : out) {
        const Instant hi = calendar.midnight(p.day + std::chrono::days(1));
        p.reported = count(n->reported_at, lo, hi);
        p.closed = count(n->closed_at, lo, hi);
        p.overdue = count(n->timeouts_at, lo, hi);
        lo = hi;
    }
    for (const auto& [due, _] : n->open_due) {
        if (due > now) break;
        if (const auto d = calendar.local_day(due); d >= first && d <= last) ++out[static_cast<std::size_t>((d - first).count())].overdue;
    }
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

} // namespace snapshot

namespace {
template <class T> std::unordered_map<const T*, std::int64_t> ranks(const std::vector<const T*>& v) {
    std::unordered_map<const T*, std::int64_t> r;
    r.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) r.emplace(v[i], static_cast<std::int64_t>(i));
    return r;
}
template <class T> const T* at_rank(const std::vector<const T*>& v, std::int64_t rank) {
    if (rank < 0 || static_cast<std::size_t>(rank) >= v.size()) throw snapshot::Error("snapshot: statistics refer to an unknown entity");
    return v[static_cast<std::size_t>(rank)];
}
} // namespace

void StatsIndex::save(snapshot::Out& out, const Refs& refs) const {
    const auto case_rank = ranks(refs.cases);
    const auto member_rank = ranks(refs.members);
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
        // Ties of due time are kept in address order, which differs between processes: written by rank.
        std::vector<std::pair<Instant, std::int64_t>> open_due;
        for (const auto& [due, c] : n.open_due) open_due.emplace_back(due, case_rank.at(c));
        std::sort(open_due.begin(), open_due.end());
        std::vector<std::pair<std::int64_t, std::int64_t>> residents;
        for (const auto& [contact, address] : n.residents)
            residents.emplace_back(contact, member_rank.at(reinterpret_cast<const Member*>(address)));
        std::sort(residents.begin(), residents.end());
        snapshot::fields(out, id, parent, n.by_day, n.all, n.days, n.handling, cases, open_due, n.reported_at, n.closed_at, n.timeouts_at,
                         residents);
    }
}

void StatsIndex::load(snapshot::In& in, const Refs& refs) {
    auto& nodes = impl_->nodes;
    nodes.clear();
    std::vector<std::pair<Node*, std::string>> parents;
    for (std::size_t k = in.count(); k > 0; --k) {
        std::string id;
        std::string parent;
        std::vector<std::int64_t> cases;
        std::vector<std::pair<Instant, std::int64_t>> open_due;
        std::vector<std::pair<std::int64_t, std::int64_t>> residents;
        snapshot::field(in, id);
        if (!nodes.empty() && !(nodes.rbegin()->first < id)) throw snapshot::Error("snapshot: statistics grids out of order");
        Node& n = nodes.try_emplace(nodes.end(), std::move(id))->second;
        snapshot::fields(in, parent, n.by_day, n.all, n.days, n.handling, cases, open_due, n.reported_at, n.closed_at, n.timeouts_at,
                         residents);
        if (!parent.empty()) parents.emplace_back(&n, std::move(parent));
        n.cases.reserve(cases.size());
        for (const auto r : cases) n.cases.push_back(at_rank(refs.cases, r));
        for (const auto& [due, r] : open_due) n.open_due.emplace(due, at_rank(refs.cases, r));
        for (const auto& [contact, r] : residents)
            n.residents.insert({contact, reinterpret_cast<std::uintptr_t>(at_rank(refs.members, r))});
    }
    for (auto& [n, parent] : parents)
        if (!(n->parent = impl_->find(parent))) throw snapshot::Error("snapshot: statistics name an unknown parent grid " + parent);
}

} // namespace gridloop::projections
