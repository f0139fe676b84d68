// The model's binary form (see snapshot.hpp). The entity maps, the policy, the cases per grid and
// the statistics index are written as they are; the smaller indexes (residents, branches, department
// queues, the routing R-tree) are rebuilt from the entities on load, in the order the fold built them.
#include "projections/snapshot.hpp"

#include "projections/id_index.hpp"
#include "projections/model.hpp"
#include "projections/side_by_side.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <map>

namespace gridloop::projections {

namespace snapshot {

void io(auto& ar, events::Duration& d) { fields(ar, d.days, d.seconds); }
void io(auto& ar, events::Polygon& p) { fields(ar, p.rings); }

void io(auto& ar, Calendar& c) {
    CalendarSpec spec = c.spec();
    fields(ar, spec.timezone, spec.workdays, spec.start_minute, spec.end_minute, spec.holidays, spec.makeup_workdays);
    if constexpr (!std::remove_reference_t<decltype(ar)>::saving) {
        try {
            c = Calendar(spec);
        } catch (const std::exception& e) {
            throw Error(std::string("snapshot: calendar: ") + e.what());
        }
    }
}

void io(auto& ar, Config& c) {
    fields(ar, c.limits, c.start_rung, c.satisfied_threshold, c.max_returns, c.lost_contact_after, c.stars, c.calendar, c.version);
}
void io(auto& ar, Grid& g) { fields(ar, g.grid_id, g.name, g.level, g.parent_id, g.children, g.boundary, g.station, g.version); }
void io(auto& ar, Department& d) { fields(ar, d.dept_id, d.name, d.kind, d.serves, d.version); }
void io(auto& ar, Person& p) { fields(ar, p.person_id, p.name, p.role, p.grid_id, p.dept_id, p.team, p.version); }
void io(auto& ar, TimelineEntry& t) { fields(ar, t.position, t.recorded_at, t.occurred_at, t.actor, t.dept, t.type, t.state, t.rung, t.timed_out); }
void io(auto& ar, Case& c) {
    fields(ar, c.case_id, c.grid_id, c.category, c.source, c.severity, c.rungs, c.state, c.rung, c.dept_id, c.dispatched_from, c.round,
           c.returns, c.returns_by_dept, c.reported_at, c.clock_started_at, c.due_at, c.highest_rung, c.handled_at, c.timeouts,
           c.handled_on_time, c.handle_working_ms, c.rating, c.solved, c.ratings, c.ratings_satisfied, c.version, c.timeline);
}
void io(auto& ar, MemberMove& m) { fields(ar, m.position, m.at, m.branch, m.from, m.to); }
void io(auto& ar, PointsEntry& p) { fields(ar, p.position, p.at, p.points, p.note, p.case_id); }
void io(auto& ar, ServiceRecord& s) { fields(ar, s.position, s.at, s.case_id); }
void io(auto& ar, Member& m) {
    fields(ar, m.member_id, m.name, m.category, m.home_branch, m.residence_grid, m.registered_at, m.last_contact_at, m.points, m.moves,
           m.ledger, m.services, m.version);
}

} // namespace snapshot

StatsIndex::Refs Model::refs() const {
    StatsIndex::Refs r;
    r.cases.reserve(cases_.size());
    for (const auto& [_, c] : cases_.map()) r.cases.push_back(&c);
    r.members.reserve(members_.size());
    for (const auto& [_, m] : members_.map()) r.members.push_back(&m);
    return r;
}

namespace {

// Cases per grid in report order, each as its rank in refs.cases.
using CaseRanks = std::map<std::string, std::vector<std::uint32_t>, std::less<>>;

// Decodes part i with `read`, which must use it up.
void read_part(const snapshot::Opener& open, std::size_t i, const std::function<void(snapshot::In&)>& read) {
    snapshot::In in = open(i);
    read(in);
    if (in.remaining() != 0) throw snapshot::Error("snapshot: part " + std::to_string(i) + " has bytes left over");
}

// The entries [first, last) of an id-keyed map, encoded as a map of just them.
template <class It> void save_entries(snapshot::Out& out, It first, It last) {
    out.varint(static_cast<std::uint64_t>(std::distance(first, last)));
    for (auto it = first; it != last; ++it) {
        snapshot::field(out, const_cast<std::string&>(it->first));
        snapshot::field(out, const_cast<std::remove_const_t<decltype(it->second)>&>(it->second));
    }
}

// Reads an id-keyed map, checking each element is filed under its own id, and lists the elements.
template <class T> void load_keyed(snapshot::In& in, ById<T>& map, std::string T::*id, std::vector<const T*>& listed) {
    snapshot::read_map(in, map, [&](const std::string& key, const T& x) {
        if (x.*id != key) throw snapshot::Error("snapshot: " + key + " is filed under another id");
        listed.push_back(&x);
    });
}

} // namespace

std::string snapshot::Chunks::str() const {
    std::string all;
    all.reserve(size_);
    for (const auto& c : chunks_) all += c;
    return all;
}

void save(const Model& model, snapshot::Parts& parts) {
    auto& m = const_cast<Model&>(model); // Out only reads
    parts = {};
    const auto refs = m.refs();
    const auto& cases = m.cases_.map();
    const auto middle = std::next(cases.begin(), static_cast<std::ptrdiff_t>(cases.size() / 2));
    side_by_side(
        [&] {
            snapshot::Out stats(parts[5]);
            m.stats_.save(stats, refs);
        },
        [&] {
            snapshot::Out head(parts[0]), first_half(parts[1]), second_half(parts[2]), members(parts[3]), by_grid_out(parts[4]);
            std::vector<std::string> names, micro = m.micro_index_.grid_ids();
            for (const auto& name : m.names_) names.push_back(name.text);
            snapshot::fields(head, m.position_, m.recorded_at_, m.head_hash_, m.config_, const_cast<ById<Grid>&>(m.grids_.map()),
                             m.departments_, m.persons_, m.roots_, names, micro);
            save_entries(first_half, cases.begin(), middle);
            save_entries(second_half, middle, cases.end());
            snapshot::field(members, const_cast<ById<Member>&>(m.members_.map()));
            const RankOf<Case> rank(refs.cases);
            CaseRanks by_grid;
            for (const auto& [grid, listed] : m.cases_by_grid_.map()) {
                auto& ranks = by_grid[grid];
                for (const Case* c : listed.cases) ranks.push_back(rank.at(c));
            }
            snapshot::field(by_grid_out, by_grid);
        });
}

Model load(const snapshot::Opener& open) {
    Model m;
    ById<Grid> grids;
    std::vector<std::string> names, micro;
    read_part(open, 0, [&](snapshot::In& in) {
        snapshot::fields(in, m.position_, m.recorded_at_, m.head_hash_, m.config_, grids, m.departments_, m.persons_, m.roots_, names, micro);
    });
    for (const auto& [key, g] : grids)
        if (g.grid_id != key) throw snapshot::Error("snapshot: " + key + " is filed under another id");
    m.grids_.assign(std::move(grids));
    if (names.empty() || !names.front().empty()) throw snapshot::Error("snapshot: the name table does not start with the empty name");
    for (std::size_t i = 1; i < names.size(); ++i)
        if (m.name_id(names[i]) != i) throw snapshot::Error("snapshot: the name table repeats " + names[i]);
    for (const auto& id : micro) {
        const Grid* g = m.grid(id);
        if (!g || !g->boundary) throw snapshot::Error("snapshot: routed micro-grid " + id + " has no boundary");
        m.micro_index_.insert(id, *g->boundary);
    }

    // The two halves of the cases side by side (the members after the first), then joined.
    const auto names_size = m.names_.size(), types = events::event_types().size();
    const auto read_cases = [&](std::size_t part, ById<Case>& half, std::vector<const Case*>& listed) {
        read_part(open, part, [&](snapshot::In& in) { load_keyed(in, half, &Case::case_id, listed); });
        for (const Case* c : listed)
            for (const auto& t : c->timeline)
                if (t.actor >= names_size || t.dept >= names_size || t.type >= types)
                    throw snapshot::Error("snapshot: case " + c->case_id + " has a timeline entry out of range");
    };
    ById<Case> cases, later;
    ById<Member> members;
    StatsIndex::Refs refs;
    std::vector<const Case*> later_listed;
    side_by_side([&] { read_cases(2, later, later_listed); },
                 [&] {
                     read_cases(1, cases, refs.cases);
                     read_part(open, 3, [&](snapshot::In& in) { load_keyed(in, members, &Member::member_id, refs.members); });
                 });
    if (!cases.empty() && !later.empty() && !(cases.rbegin()->first < later.begin()->first))
        throw snapshot::Error("snapshot: the halves of the cases overlap");
    refs.cases.insert(refs.cases.end(), later_listed.begin(), later_listed.end());

    // The statistics beside the cases joined into one map (their nodes move, the cases stay put) and
    // the indexes rebuilt from the entities.
    side_by_side([&] { read_part(open, 5, [&](snapshot::In& in) { m.stats_.load(in, refs); }); },
                 [&] {
                     while (!later.empty()) cases.insert(cases.end(), later.extract(later.begin()));
                     m.cases_.assign(std::move(cases));
                     m.members_.assign(std::move(members));
                     CaseRanks by_grid;
                     read_part(open, 4, [&](snapshot::In& in) { snapshot::field(in, by_grid); });
                     for (auto& [grid, ranks] : by_grid) {
                         auto& listed = m.cases_by_grid_.try_emplace(grid).first->cases;
                         listed.reserve(ranks.size());
                         for (const auto r : ranks) {
                             if (r >= refs.cases.size()) throw snapshot::Error("snapshot: grid " + grid + " lists an unknown case");
                             listed.push_back(refs.cases[r]);
                         }
                     }
                     for (const Case* c : refs.cases)
                         if (c->state == events::CaseState::open && c->rung == events::Rung::department && c->dept_id)
                             m.dept_queues_[*c->dept_id].emplace(std::pair{c->due_at, c->case_id}, c);
                     m.index_open_cases();
                     m.index_cases();
                     for (const auto& [id, member] : m.members_.map()) {
                         if (!member.residence_grid.empty()) m.residents_[member.residence_grid].emplace(id, &member);
                         if (!member.home_branch.empty()) m.branch_members_[member.home_branch].emplace(id, &member);
                     }
                 });
    return m;
}

} // namespace gridloop::projections
