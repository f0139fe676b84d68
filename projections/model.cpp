// The fold of the whole read model.
#include "projections/model.hpp"

#include <algorithm>

namespace gridloop::projections {

using namespace events;

RungMask ladder(std::string_view micro_grid, const std::function<const Grid*(std::string_view)>& lookup) {
    RungMask m = 1u << static_cast<unsigned>(Rung::worker) | 1u << static_cast<unsigned>(Rung::micro_head) |
                 1u << static_cast<unsigned>(Rung::department);
    const Grid* g = lookup(micro_grid);
    while (g && g->parent_id) {
        g = lookup(*g->parent_id);
        if (!g) break;
        switch (g->level) {
        case Level::grid: m |= 1u << static_cast<unsigned>(Rung::grid); break;
        case Level::community: m |= 1u << static_cast<unsigned>(Rung::community); break;
        case Level::town: m |= 1u << static_cast<unsigned>(Rung::town); break;
        case Level::micro: break;
        }
    }
    return m;
}

void Model::apply(const Envelope& env) {
    position_ = env.position;
    recorded_at_ = env.recorded_at;
    head_hash_ = env.hash;
    const Event& ev = env.event;
    if (auto g = std::get_if<GridDefined>(&ev)) {
        Grid grid = make_grid(*g);
        grid.version = env.version;
        if (g->parent_id) {
            if (Grid* parent = grids_.find(*g->parent_id)) parent->children.push_back(g->grid_id);
        } else {
            roots_.push_back(g->grid_id);
        }
        if (g->level == Level::micro && g->boundary) micro_index_.insert(g->grid_id, *g->boundary);
        Grid& defined = *grids_.try_emplace(g->grid_id).first;
        defined = std::move(grid);
        stats_.add_grid(defined);
    } else if (auto d = std::get_if<DepartmentRegistered>(&ev)) {
        Department dept = make_department(*d);
        dept.version = env.version;
        departments_.insert_or_assign(d->dept_id, std::move(dept));
    } else if (auto p = std::get_if<PersonAssigned>(&ev)) {
        Person& person = persons_[p->person_id];
        apply_person(person, *p);
        person.version = env.version;
    } else if (std::holds_alternative<PolicySet>(ev) || std::holds_alternative<CalendarSet>(ev)) {
        apply_config(config_, ev);
        config_.version = env.version;
    } else if (const std::string* case_id = case_id_of(ev)) {
        const auto [found, fresh] = cases_.try_emplace(*case_id);
        Case& c = *found;
        auto queued = [&c] { return c.state == CaseState::open && c.rung == Rung::department && c.dept_id; };
        if (queued()) dept_queues_[*c.dept_id].erase({c.due_at, c.case_id});
        std::optional<StatsIndex::CaseMark> before;
        if (!deferred_) {
            if (!fresh) before = StatsIndex::mark(c);
        } else if (!deferred_->rebuild) {
            if (auto [it, first] = deferred_->cases.try_emplace(&c); first) {
                deferred_->order.push_back(&c);
                if (!fresh) it->second = {StatsIndex::mark(c), c.returns_by_dept};
            }
        }
        const std::int64_t timeouts = c.timeouts;
        RungMask rungs = 0;
        if (auto r = std::get_if<IssueReported>(&ev)) rungs = ladder(r->grid_id.value_or(""), [this](std::string_view id) { return grid(id); });
        apply_case(c, env, config_, rungs);
        c.timeline.push_back(TimelineEntry{env.position, env.recorded_at, env.occurred_at, name_id(env.actor),
                                           c.dept_id ? name_id(*c.dept_id) : 0, static_cast<std::uint8_t>(ev.index()), c.state, c.rung,
                                           c.timeouts > timeouts});
        if (fresh) {
            cases_by_grid_.try_emplace(c.grid_id).first->cases.push_back(&c);
            add_report(c);
        }
        add_department_case(c);
        if (!deferred_) stats_.case_changed(c, before, env);
        if (queued()) dept_queues_[*c.dept_id].emplace(std::pair{c.due_at, c.case_id}, &c);
        if (!deferred_) { // else settle_stats(); reported_at never changes
            const auto due_before = before ? before->open_due : std::nullopt;
            const auto due_after = c.state == CaseState::open ? std::optional(c.due_at) : std::nullopt;
            if (due_after != due_before) {
                if (due_before) open_by_due_.erase(open_due_of(*due_before, c));
                if (due_after) open_by_due_.insert(open_due_of(*due_after, c));
            }
        }
        if (auto h = std::get_if<IssueHandled>(&ev); h && h->volunteers)
            for (const auto& v : *h->volunteers)
                if (Member* m = members_.find(v)) m->services.push_back({env.position, env.recorded_at, h->case_id});
    } else if (const std::string* member_id = member_id_of(ev)) {
        Member& m = *members_.try_emplace(*member_id).first;
        const std::string before = m.residence_grid, branch_before = m.home_branch;
        const Instant contact_before = m.last_contact_at;
        apply_member(m, env);
        if (!deferred_) stats_.resident_changed(m, before, contact_before);
        else if (!deferred_->rebuild) deferred_->members.try_emplace(&m, before, contact_before);
        if (m.residence_grid != before) {
            if (!before.empty()) residents_[before].erase(m.member_id);
            residents_[m.residence_grid].emplace(m.member_id, &m);
        }
        if (m.home_branch != branch_before) {
            if (!branch_before.empty()) branch_members_[branch_before].erase(m.member_id);
            branch_members_[m.home_branch].emplace(m.member_id, &m);
        }
    }
}

NameId Model::name_id(std::string_view name) {
    if (name.empty()) return 0;
    if (const Name* known = name_ids_.find(name)) return known->id;
    names_.push_back(Name{std::string(name), static_cast<NameId>(names_.size())});
    name_ids_.insert(&names_.back());
    return names_.back().id;
}

void Model::defer_stats() {
    if (deferred_) return;
    deferred_.emplace(Deferred{position_, cases_.size() == 0 && members_.size() == 0, {}, {}, {}});
}

void Model::settle_stats() {
    if (!deferred_) return;
    const Deferred d = std::move(*deferred_);
    deferred_.reset();
    if (d.rebuild) {
        rebuild_stats();
        return index_open_cases();
    }
    std::vector<StatsIndex::CaseBefore> cases;
    cases.reserve(d.order.size());
    for (const Case* c : d.order) { // new cases in log order, as the fold adds them
        const auto& was = d.cases.at(c);
        cases.push_back({c, &was.mark, &was.returns});
        // The open cases by due time, once for each case the events touched (reported_at never changes).
        if (was.mark && was.mark->open_due) open_by_due_.erase(open_due_of(*was.mark->open_due, *c));
        if (c->state == CaseState::open) open_by_due_.insert(open_due_of(c->due_at, *c));
    }
    std::vector<StatsIndex::MemberBefore> members;
    members.reserve(d.members.size());
    for (const auto& [m, was] : d.members) members.push_back({m, &was.first, was.second});
    stats_.catch_up(cases, members, d.since);
}

void Model::rebuild_stats() {
    std::vector<const Member*> members;
    members.reserve(members_.size());
    for (const auto& [_, m] : members_.map()) members.push_back(&m);
    stats_.rebuild(reported_, members); // cases in report order, as the fold adds them
}

namespace {

// Whether the case's timeline entry i is the first to find it on that entry's department.
bool first_on_its_department(const Case& c, std::size_t i) {
    const NameId dept = c.timeline[i].dept;
    return dept != 0 && std::none_of(c.timeline.begin(), c.timeline.begin() + static_cast<std::ptrdiff_t>(i),
                                     [&](const TimelineEntry& t) { return t.dept == dept; });
}

} // namespace

void Model::add_department_case(const Case& c) {
    if (const std::size_t last = c.timeline.size() - 1; first_on_its_department(c, last)) cases_by_dept_[name(c.timeline[last].dept)].push_back(&c);
}

const std::vector<const Case*>& Model::cases_of_department(std::string_view dept_id) const {
    static const std::vector<const Case*> none;
    const auto it = cases_by_dept_.find(dept_id);
    return it == cases_by_dept_.end() ? none : it->second;
}

void Model::index_cases() {
    // Ties of report time in log order: that of their IssueReported, each case's first event.
    reported_.clear();
    reported_.reserve(cases_.size());
    for (const auto& [_, c] : cases_.map()) reported_.push_back(&c);
    std::sort(reported_.begin(), reported_.end(), [](const Case* a, const Case* b) {
        return std::pair(a->reported_at, a->timeline.front().position) < std::pair(b->reported_at, b->timeline.front().position);
    });
    categories_.clear();
    cases_by_dept_.clear();
    for (const Case* c : reported_) {
        categories_.try_emplace(c->category, c->reported_at); // the first is the earliest
        for (std::size_t i = 0; i < c->timeline.size(); ++i)
            if (first_on_its_department(*c, i)) cases_by_dept_[name(c->timeline[i].dept)].push_back(c);
    }
}

void Model::add_report(const Case& c) {
    // The log's recorded_at never decreases, so a new case goes last; an envelope that breaks that
    // rule (folded without the engine's checks) still gets its place.
    if (reported_.empty() || reported_.back()->reported_at <= c.reported_at) reported_.push_back(&c);
    else
        reported_.insert(std::upper_bound(reported_.begin(), reported_.end(), &c,
                                          [](const Case* a, const Case* b) { return a->reported_at < b->reported_at; }),
                         &c);
    if (auto [it, first] = categories_.try_emplace(c.category, c.reported_at); !first) it->second = std::min(it->second, c.reported_at);
}

void Model::index_open_cases() {
    std::vector<OpenDue> open;
    for (const auto& [_, c] : cases_.map())
        if (c.state == CaseState::open) open.push_back(open_due_of(c.due_at, c));
    std::sort(open.begin(), open.end());
    open_by_due_ = DueBlocks(open);
}

std::vector<std::string> Model::subtree(std::string_view root) const {
    std::vector<std::string> out;
    if (!grid(root)) return out;
    out.emplace_back(root);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const Grid* g = grid(out[i]);
        out.insert(out.end(), g->children.begin(), g->children.end());
    }
    return out;
}

bool Model::within(std::string_view id, std::string_view root) const {
    for (const Grid* g = grid(id); g; g = g->parent_id ? grid(*g->parent_id) : nullptr)
        if (g->grid_id == root) return true;
    return false;
}

const std::vector<const Case*>& Model::cases_in(std::string_view id) const {
    static const std::vector<const Case*> none;
    const GridCases* g = cases_by_grid_.find(id);
    return g ? g->cases : none;
}

std::vector<const Member*> Model::residents_of(std::string_view id) const {
    std::vector<const Member*> out;
    if (auto it = residents_.find(id); it != residents_.end())
        for (const auto& [_, m] : it->second) out.push_back(m);
    return out;
}

std::vector<const Case*> Model::department_queue(std::string_view dept_id) const {
    std::vector<const Case*> out;
    if (auto it = dept_queues_.find(dept_id); it != dept_queues_.end())
        for (const auto& [_, c] : it->second) out.push_back(c);
    return out;
}

std::vector<const Member*> Model::members_of_branch(std::string_view id) const {
    std::vector<const Member*> out;
    if (auto it = branch_members_.find(id); it != branch_members_.end())
        for (const auto& [_, m] : it->second) out.push_back(m);
    return out;
}

} // namespace gridloop::projections
