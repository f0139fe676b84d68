// Party-member views over the model's member entities and its residence and branch indexes.
#include "projections/members.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <iterator>
#include <unordered_set>
#include <utility>

namespace gridloop::projections {

using events::format_time;
using nlohmann::json;

namespace {

Month month_of_day(std::chrono::local_days day) {
    const std::chrono::year_month_day ymd{day};
    return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month())};
}

// The placement just before a move.
Placement undo(Placement p, const MemberMove& move) {
    (move.branch ? p.home_branch : p.residence_grid) = move.from;
    return p;
}

// Since when `holds` has been true without a break, given that it holds now: the move that made it
// true last, or the registration.
template <class Pred> std::pair<Instant, std::optional<std::int64_t>> since(const Member& m, Pred holds) {
    Placement p{m.residence_grid, m.home_branch};
    for (auto it = m.moves.rbegin(); it != m.moves.rend(); ++it) {
        Placement before = undo(p, *it);
        if (!holds(before)) return {it->at, it->position};
        p = std::move(before);
    }
    return {m.registered_at, std::nullopt};
}

// A grid's subtree as a set, for membership tests in O(1). Empty root = every grid.
class Subtree {
public:
    Subtree(const Model& model, std::string_view root) : all_(root.empty()), ids_(all_ ? std::vector<std::string>{} : model.subtree(root)) {
        set_.reserve(ids_.size());
        for (const auto& id : ids_) set_.insert(id);
    }
    bool contains(std::string_view grid) const { return all_ || set_.contains(grid); }
    const std::vector<std::string>& ids() const { return ids_; }

private:
    bool all_;
    std::vector<std::string> ids_;
    std::unordered_set<std::string_view> set_;
};

// Members living in the subtree of `grid` (every member for an empty grid), in no particular order.
template <class F> void for_each_resident(const Model& model, std::string_view grid, F&& f) {
    if (grid.empty()) {
        for (const auto& [_, m] : model.members()) f(m);
        return;
    }
    for (const auto& g : model.subtree(grid))
        for (const Member* m : model.residents_of(g)) f(*m);
}

bool by_id(const Member* a, const Member* b) { return a->member_id < b->member_id; }

// One page of a list already sorted by member_id.
template <class T> Page<T> page_of(std::vector<T> sorted, const PageRequest& req) {
    Page<T> page;
    page.total = sorted.size();
    auto first = req.after.empty() ? sorted.begin()
                                   : std::upper_bound(sorted.begin(), sorted.end(), req.after,
                                                      [](const std::string& id, const T& x) { return id < x.member_id; });
    auto last = req.limit == 0 || static_cast<std::size_t>(sorted.end() - first) <= req.limit ? sorted.end() : first + static_cast<std::ptrdiff_t>(req.limit);
    page.items.assign(std::make_move_iterator(first), std::make_move_iterator(last));
    if (last != sorted.end()) page.next = page.items.back().member_id;
    return page;
}

FlowEntry flow_entry(const Member& m, std::pair<Instant, std::optional<std::int64_t>> from) {
    return {m.member_id, m.name, m.category, m.home_branch, m.residence_grid, from.first, from.second};
}

// Standard competition ranks over a list sorted best first: equal scores share a rank.
template <class T, class Score> void rank(std::vector<T>& sorted, Score score) {
    for (std::size_t i = 0; i < sorted.size(); ++i)
        sorted[i].rank = i > 0 && score(sorted[i]) == score(sorted[i - 1]) ? sorted[i - 1].rank : static_cast<std::int64_t>(i) + 1;
}

// Adds a ledger amount to earned (> 0) or redeemed (< 0, counted positive).
void tally(std::int64_t points, std::int64_t& earned, std::int64_t& redeemed) { (points > 0 ? earned : redeemed) += points > 0 ? points : -points; }

json nullable(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

} // namespace

// ---- months ----

std::optional<Month> parse_month(std::string_view text) {
    if (text.size() != 7 || text[4] != '-') return std::nullopt;
    for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u})
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
    int year = 0;
    unsigned month = 0;
    std::from_chars(text.data(), text.data() + 4, year);
    std::from_chars(text.data() + 5, text.data() + 7, month);
    if (month < 1 || month > 12) return std::nullopt;
    return Month{year, month};
}

std::string format_month(Month m) {
    std::string out(7, '0');
    const int y = std::clamp(m.year, 0, 9999);
    out[0] = static_cast<char>('0' + y / 1000);
    out[1] = static_cast<char>('0' + y / 100 % 10);
    out[2] = static_cast<char>('0' + y / 10 % 10);
    out[3] = static_cast<char>('0' + y % 10);
    out[4] = '-';
    out[5] = static_cast<char>('0' + m.month / 10 % 10);
    out[6] = static_cast<char>('0' + m.month % 10);
    return out;
}

Month month_of(Instant t, const Calendar& calendar) { return month_of_day(calendar.local_day(t)); }

Span month_span(Month m, const Calendar& calendar) {
    using namespace std::chrono;
    const year_month first = year{m.year} / month{m.month};
    const year_month next = first + months{1};
    return {calendar.midnight(local_days{first / 1}), calendar.midnight(local_days{next / 1})};
}

// ---- one member ----

std::optional<Placement> as_at(const Member& m, Instant t) {
    if (m.member_id.empty() || t < m.registered_at) return std::nullopt;
    Placement p{m.residence_grid, m.home_branch};
    for (auto it = m.moves.rbegin(); it != m.moves.rend() && it->at > t; ++it) p = undo(std::move(p), *it);
    return p;
}

MemberSummary summarize(const Member& m, const Config& config, Instant now) {
    const auto threshold = config.lost_contact_after.calendar();
    const auto silent = now - m.last_contact_at;
    return {
        .member_id = m.member_id,
        .name = m.name,
        .category = m.category,
        .home_branch = m.home_branch,
        .residence_grid = m.residence_grid,
        .points = m.points,
        .registered_at = m.registered_at,
        .last_contact_at = m.last_contact_at,
        .lost_contact = m.lost_contact(now, config),
        .lost_contact_at = m.last_contact_at + threshold,
        .days_since_contact = silent.count() <= 0 ? 0 : std::chrono::floor<std::chrono::days>(silent).count(),
    };
}

std::optional<MemberDetail> member_detail(const Model& model, std::string_view member_id, Instant now) {
    const Member* m = model.member(member_id);
    if (!m) return std::nullopt;
    MemberDetail d;
    d.summary = summarize(*m, model.config(), now);
    d.history = m->moves;
    d.services = m->services;
    d.ledger.reserve(m->ledger.size());
    std::int64_t balance = 0;
    for (const auto& e : m->ledger) {
        balance += e.points;
        tally(e.points, d.earned, d.redeemed);
        d.ledger.push_back({e, balance});
    }
    d.months = points_by_month(*m, model.config().calendar);
    return d;
}

// ---- lists ----

Page<MemberSummary> list_members(const Model& model, const MemberFilter& filter, Instant now, const PageRequest& req) {
    const Config& config = model.config();
    auto matches = [&](const Member& m) {
        return (!filter.category || m.category == *filter.category) &&
               (!filter.lost_contact || m.lost_contact(now, config) == *filter.lost_contact);
    };
    // Count every match; keep those past the cursor, then the `limit` smallest ids among them.
    Page<MemberSummary> page;
    std::vector<const Member*> kept;
    if (filter.grid.empty()) {
        // Every member, already in id order: keep the first `limit` past the cursor, count the rest.
        bool more = false;
        for (const auto& [id, m] : model.members()) {
            if (!matches(m)) continue;
            ++page.total;
            if (!req.after.empty() && id <= req.after) continue;
            if (req.limit == 0 || kept.size() < req.limit) kept.push_back(&m);
            else more = true;
        }
        if (more) page.next = kept.back()->member_id;
    } else {
        for_each_resident(model, filter.grid, [&](const Member& m) {
            if (!matches(m)) return;
            ++page.total;
            if (req.after.empty() || m.member_id > req.after) kept.push_back(&m);
        });
    }
    if (req.limit != 0 && kept.size() > req.limit) {
        std::nth_element(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(req.limit), kept.end(), by_id);
        kept.resize(req.limit);
        std::sort(kept.begin(), kept.end(), by_id);
        page.next = kept.back()->member_id;
    } else {
        std::sort(kept.begin(), kept.end(), by_id);
    }
    page.items.reserve(kept.size());
    for (const Member* m : kept) page.items.push_back(summarize(*m, config, now));
    return page;
}

Page<MemberSummary> lost_contact_members(const Model& model, std::string_view grid, Instant now, const PageRequest& page) {
    return list_members(model, {.grid = std::string(grid), .category = std::nullopt, .lost_contact = true}, now, page);
}

// ---- outflow and inflow ----

Page<FlowEntry> outflow(const Model& model, std::string_view branch, BranchScope scope, const PageRequest& page) {
    std::vector<FlowEntry> out;
    if (!model.grid(branch)) return page_of(std::move(out), page);
    const Subtree area(model, branch);
    auto belongs = [&](const std::string& home) { return scope == BranchScope::own ? home == branch : area.contains(home); };
    auto out_of_area = [&](const Placement& p) { return belongs(p.home_branch) && !area.contains(p.residence_grid); };
    auto collect = [&](std::string_view b) {
        for (const Member* m : model.members_of_branch(b))
            if (!area.contains(m->residence_grid)) out.push_back(flow_entry(*m, since(*m, out_of_area)));
    };
    if (scope == BranchScope::own) collect(branch);
    else
        for (const auto& b : area.ids()) collect(b);
    std::sort(out.begin(), out.end(), [](const FlowEntry& a, const FlowEntry& b) { return a.member_id < b.member_id; });
    return page_of(std::move(out), page);
}

Page<FlowEntry> inflow(const Model& model, std::string_view branch, const PageRequest& page) {
    std::vector<FlowEntry> in;
    if (!model.grid(branch)) return page_of(std::move(in), page);
    const Subtree area(model, branch);
    auto came_in = [&](const Placement& p) { return area.contains(p.residence_grid) && !area.contains(p.home_branch); };
    for (const auto& g : area.ids())
        for (const Member* m : model.residents_of(g))
            if (!area.contains(m->home_branch)) in.push_back(flow_entry(*m, since(*m, came_in)));
    std::sort(in.begin(), in.end(), [](const FlowEntry& a, const FlowEntry& b) { return a.member_id < b.member_id; });
    return page_of(std::move(in), page);
}

// ---- points ----

PointsTotals points_in(const Member& m, Span span) {
    PointsTotals t;
    // The ledger is in position order, and recorded_at never decreases along positions.
    auto it = std::lower_bound(m.ledger.begin(), m.ledger.end(), span.from, [](const PointsEntry& e, Instant t) { return e.at < t; });
    for (; it != m.ledger.end() && it->at < span.to; ++it) tally(it->points, t.earned, t.redeemed);
    return t;
}

std::vector<MonthPoints> points_by_month(const Member& m, const Calendar& calendar) {
    std::vector<MonthPoints> out;
    for (const auto& e : m.ledger) {
        const Month month = month_of(e.at, calendar);
        if (out.empty() || out.back().month != month) out.push_back({month, 0, 0});
        tally(e.points, out.back().earned, out.back().redeemed);
    }
    return out;
}

Leaderboard vanguard_leaderboard(const Model& model, std::string_view grid, Month month, std::size_t limit) {
    Leaderboard board{std::string(grid), month, 0, {}};
    if (!grid.empty() && !model.grid(grid)) return board;
    const Span span = month_span(month, model.config().calendar);
    for_each_resident(model, grid, [&](const Member& m) {
        ++board.members;
        if (const auto earned = points_in(m, span).earned; earned > 0)
            board.entries.push_back({0, m.member_id, m.name, m.category, m.home_branch, m.residence_grid, earned});
    });
    auto better = [](const LeaderboardEntry& a, const LeaderboardEntry& b) {
        return a.earned != b.earned ? a.earned > b.earned : a.member_id < b.member_id;
    };
    if (limit != 0 && board.entries.size() > limit) {
        std::partial_sort(board.entries.begin(), board.entries.begin() + static_cast<std::ptrdiff_t>(limit), board.entries.end(), better);
        board.entries.resize(limit);
    } else {
        std::sort(board.entries.begin(), board.entries.end(), better);
    }
    rank(board.entries, [](const LeaderboardEntry& e) { return e.earned; });
    return board;
}

namespace {
BranchMonth branch_month(const Model& model, std::string_view branch, Span span) {
    BranchMonth b{0, std::string(branch), 0, 0, 0};
    for (const Member* m : model.members_of_branch(branch)) {
        ++b.members;
        if (const auto earned = points_in(*m, span).earned; earned > 0) {
            ++b.active;
            b.earned += earned;
        }
    }
    return b;
}
} // namespace

BranchMonth branch_month(const Model& model, std::string_view branch, Month month) {
    return branch_month(model, branch, month_span(month, model.config().calendar));
}

std::vector<BranchMonth> fortress_index(const Model& model, std::string_view grid, Month month) {
    std::vector<BranchMonth> out;
    if (!grid.empty() && !model.grid(grid)) return out;
    const Span span = month_span(month, model.config().calendar);
    auto add = [&](std::string_view g) {
        if (BranchMonth b = branch_month(model, g, span); b.members > 0) out.push_back(std::move(b));
    };
    if (grid.empty()) {
        for (const auto& [id, _] : model.grids()) add(id);
    } else {
        for (const auto& id : model.subtree(grid)) add(id);
    }
    std::sort(out.begin(), out.end(), [](const BranchMonth& a, const BranchMonth& b) {
        return a.earned != b.earned ? a.earned > b.earned : a.branch < b.branch;
    });
    rank(out, [](const BranchMonth& b) { return b.earned; });
    return out;
}

// ---- JSON ----

json to_json(const MemberSummary& s, bool with_personal_data) {
    json j = {
        {"member_id", s.member_id},
        {"category", events::to_string(s.category)},
        {"home_branch", s.home_branch},
        {"residence_grid", s.residence_grid},
        {"points", s.points},
        {"registered_at", format_time(s.registered_at)},
        {"last_contact_at", format_time(s.last_contact_at)},
        {"lost_contact", s.lost_contact},
        {"lost_contact_at", format_time(s.lost_contact_at)},
        {"days_since_contact", s.days_since_contact},
    };
    if (with_personal_data) j["name"] = s.name;
    return j;
}

json to_json(const MemberMove& m) {
    return {{"position", m.position}, {"at", format_time(m.at)}, {"change", m.branch ? "branch" : "residence"}, {"from", m.from}, {"to", m.to}};
}

json to_json(const ServiceRecord& s) { return {{"position", s.position}, {"at", format_time(s.at)}, {"case_id", s.case_id}}; }

json to_json(const LedgerLine& l, bool with_personal_data) {
    json j = {{"position", l.entry.position}, {"at", format_time(l.entry.at)}, {"points", l.entry.points},
              {"balance", l.balance},         {"case_id", nullable(l.entry.case_id)}};
    if (with_personal_data) j["note"] = l.entry.note;
    return j;
}

json to_json(const MemberDetail& d, bool with_personal_data) {
    json j = to_json(d.summary, with_personal_data);
    j["earned"] = d.earned;
    j["redeemed"] = d.redeemed;
    j["history"] = json::array();
    for (const auto& m : d.history) j["history"].push_back(to_json(m));
    j["services"] = json::array();
    for (const auto& s : d.services) j["services"].push_back(to_json(s));
    j["ledger"] = json::array();
    for (const auto& l : d.ledger) j["ledger"].push_back(to_json(l, with_personal_data));
    j["months"] = json::array();
    for (const auto& m : d.months) j["months"].push_back({{"month", format_month(m.month)}, {"earned", m.earned}, {"redeemed", m.redeemed}});
    return j;
}

json to_json(const FlowEntry& f, bool with_personal_data) {
    json j = {
        {"member_id", f.member_id},
        {"category", events::to_string(f.category)},
        {"home_branch", f.home_branch},
        {"residence_grid", f.residence_grid},
        {"since", format_time(f.since)},
        {"since_position", f.since_position ? json(*f.since_position) : json(nullptr)},
    };
    if (with_personal_data) j["name"] = f.name;
    return j;
}

json to_json(const LeaderboardEntry& e, bool with_personal_data) {
    json j = {
        {"rank", e.rank},
        {"member_id", e.member_id},
        {"category", events::to_string(e.category)},
        {"home_branch", e.home_branch},
        {"residence_grid", e.residence_grid},
        {"earned", e.earned},
    };
    if (with_personal_data) j["name"] = e.name;
    return j;
}

json to_json(const Leaderboard& l, bool with_personal_data) {
    json entries = json::array();
    for (const auto& e : l.entries) entries.push_back(to_json(e, with_personal_data));
    return {{"grid", l.grid.empty() ? json(nullptr) : json(l.grid)},
            {"month", format_month(l.month)},
            {"members", l.members},
            {"entries", std::move(entries)}};
}

json to_json(const BranchMonth& b) {
    return {{"rank", b.rank}, {"branch", b.branch}, {"members", b.members}, {"active", b.active}, {"earned", b.earned}};
}

template <class T> json to_json(const Page<T>& p, bool with_personal_data) {
    json items = json::array();
    for (const auto& x : p.items) items.push_back(to_json(x, with_personal_data));
    return {{"items", std::move(items)}, {"total", p.total}, {"next", nullable(p.next)}};
}
template json to_json(const Page<MemberSummary>&, bool);
template json to_json(const Page<FlowEntry>&, bool);

} // namespace gridloop::projections
