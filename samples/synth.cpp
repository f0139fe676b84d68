// The synthetic city: a generated organisation, then a discrete-event simulation of party members
// and cases, merged in time order.
#include "samples/synth.hpp"

#include "samples/script.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <deque>
#include <queue>
#include <stdexcept>

namespace gridloop::samples {

using namespace std::chrono;
using namespace detail;
using nlohmann::json;

namespace {

enum class Level : std::uint8_t { town, community, grid, micro };
constexpr std::array<std::string_view, 4> level_names{"town", "community", "grid", "micro"};
enum class Role : std::uint8_t { worker, micro_head, grid_head, town_head, department_staff };
constexpr std::array<std::string_view, 5> role_names{"worker", "micro_head", "grid_head", "town_head", "department_staff"};
enum class Team : std::uint8_t { management, work, volunteer, joint };
constexpr std::array<std::string_view, 4> team_names{"management", "work", "volunteer", "joint"};

constexpr std::uint32_t none = UINT32_MAX;

struct GridRec {
    std::string id, name, station;
    Level level;
    std::uint32_t parent;
};
struct TownRec {
    std::uint32_t grid, head = none, deputy = none;
    std::array<std::uint32_t, 5> dept{}; // by DeptKind police .. judicial
};
struct CommunityRec {
    std::uint32_t grid, town, head = none;
};
struct BranchRec {
    std::uint32_t grid, community, head = none, volunteer = none;
    std::uint32_t first_micro = 0, end_micro = 0;
};
struct MicroRec {
    std::uint32_t grid, branch, community, town, head = none, worker = none;
};
struct DeptRec {
    std::string id, name;
    DeptKind kind;
    std::vector<std::uint32_t> serves, staff;
};
struct PersonRec {
    std::string id, name;
    Role role;
    Team team;
    std::uint32_t grid = none, dept = none;
};
struct MemberRec {
    std::uint32_t residence, home; // micro, branch
    std::int32_t balance = 0;
};

struct CaseSlot {
    std::uint64_t number = 0;
    std::uint32_t micro = 0, resident = 0;
    std::uint8_t category = 0, source = 0, severity = 0;
    std::array<std::uint32_t, 2> dept{};
    std::vector<Item> items;
    std::size_t next = 0;
};

struct Pending {
    Instant at;
    std::uint64_t seq;
    std::uint32_t slot;
};
struct Later {
    bool operator()(const Pending& a, const Pending& b) const { return a.at != b.at ? a.at > b.at : a.seq > b.seq; }
};

// Path shares of a year's cases: most solved by the worker, fewer climbing the ladder.
constexpr std::array<double, static_cast<std::size_t>(Path::count)> path_shares{
    52,  // worker_solved
    12,  // micro_consult
    4,   // grid_handled
    4,   // community_handled
    1.5, // town_handled
    0.5, // town_supervised
    7,   // department
    2,   // department_returned
    0.3, // department_twice_returned
    1.2, // department_supervised
    5,   // reopened
    0.7, // reopened_twice
    5,   // dismissed
    2,   // timed_out
    0.5, // timed_out_dismissed
    0.3, // open_untouched
    0.3, // open_escalated
    0.5, // awaiting_feedback
    0.5, // awaiting_rating
};
// in_service, retired, mobile, unemployed, enterprise, farmer
constexpr std::array<double, 6> member_category_shares{19, 21, 33, 7, 11, 9};
enum MemberKind { contact, report_in, relocate, transfer, award, redeem };
constexpr std::array<double, 6> member_kind_shares{35, 15, 6, 2, 30, 12};

constexpr double member_share = 0.15;
constexpr std::uint64_t steps_per_micro = 1500;
constexpr std::uint32_t members_per_micro = 10;

std::string two_digits(std::uint32_t n) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02u", n);
    return buf;
}

} // namespace

struct Synth::Impl {
    explicit Impl(SynthOptions o);
    bool next(Step& out);

    std::uint32_t add_grid(std::string id, std::string name, Level level, std::uint32_t parent, std::string station = {});
    std::uint32_t add_person(Role role, Team team, std::uint32_t grid, std::uint32_t dept);
    void build_city(std::uint64_t target_micros);
    double mean_case_length();

    void org_step(Step& out);
    void arrive(Step& out);
    void case_step(Step& out);
    void member_step(Step& out);
    void emit(CaseSlot& c, const Item& it, Step& out);
    // Prepares `out` for an event of `type`, recycling an earlier tree of that type, and returns
    // the writer of its `data`.
    Fill begin(Step& out, Instant at, std::string_view actor, std::string_view type);
    void recycle(json& posted, std::string_view type);
    std::uint32_t active_member();
    std::uint32_t dept_for(DeptKind k, const MicroRec& m) const;
    const std::string& event_id();
    Millis gap(Millis mean);

    SynthOptions opt;
    const WorkCalendar& cal = WorkCalendar::china_2026();
    Rng rng;

    std::vector<GridRec> grids;
    std::vector<TownRec> towns;
    std::vector<CommunityRec> communities;
    std::vector<BranchRec> branches;
    std::vector<MicroRec> micros;
    std::vector<DeptRec> depts;
    std::vector<PersonRec> persons;
    std::uint32_t city_dept = none;
    Weighted micro_activity, category_weights, path_weights, member_categories, member_kinds;

    std::uint64_t emitted = 0, org_total = 0, seq = 0, cases = 0;
    Instant org_at, next_arrival, next_member;
    Millis arrival_gap{}, member_gap{};
    std::priority_queue<Pending, std::vector<Pending>, Later> heap;
    std::vector<CaseSlot> slots;
    std::vector<std::uint32_t> free_slots;

    std::vector<MemberRec> members;
    std::uint32_t member_target = 0;
    std::deque<std::pair<std::uint64_t, std::uint32_t>> helped; // (case, member) owed points

    std::array<json, 21> pool; // one spare tree per event type
    std::string id_buf, case_buf, resident_buf, reporter_buf, member_buf;
};

namespace {
// `prefix` followed by `n`, zero-padded to `width` digits, into `out` (no allocation once grown).
void format_id(std::string& out, std::string_view prefix, std::uint64_t n, std::size_t width = 0) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    const auto len = static_cast<std::size_t>(end - digits);
    out.assign(prefix);
    if (len < width) out.append(width - len, '0');
    out.append(digits, len);
}
} // namespace

Synth::Impl::Impl(SynthOptions o) : opt(o), rng(o.seed ^ 0x67726964'6c6f6f70ULL) {
    build_city(std::max<std::uint64_t>(3, opt.events / steps_per_micro));
    member_target = static_cast<std::uint32_t>(micros.size()) * members_per_micro;
    org_total = 2 + grids.size() + depts.size() + persons.size();

    std::vector<double> w(micros.size());
    std::vector<std::size_t> rank(micros.size());
    for (std::size_t i = 0; i < rank.size(); ++i) rank[i] = i;
    for (std::size_t i = rank.size(); i > 1; --i) std::swap(rank[i - 1], rank[rng.below(static_cast<std::uint32_t>(i))]);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = zipf_weight(rank[i]);
    micro_activity = Weighted(w);
    std::vector<double> cw;
    for (const auto& c : categories()) cw.push_back(c.weight);
    category_weights = Weighted(cw);
    path_weights = Weighted(path_shares);
    member_categories = Weighted(member_category_shares);
    member_kinds = Weighted(member_kind_shares);

    // Pace both processes so that the stream spans about the working days of 2026.
    org_at = WorkCalendar::local(sys_days{2026y / January / 4}, 8, 0);
    const Instant start = WorkCalendar::local(sys_days{2026y / January / 4}, 9, 0);
    const auto horizon =
        static_cast<double>(cal.workdays(sys_days{2026y / January / 4}, sys_days{2026y / December / 18}).size()) * 8 * 3600 * 1000;
    const double remaining = static_cast<double>(std::max<std::uint64_t>(1, opt.events > org_total ? opt.events - org_total : 1));
    const double expected_cases = std::max(1.0, remaining * (1 - member_share) / mean_case_length());
    arrival_gap = Millis{static_cast<Millis::rep>(horizon / expected_cases) + 1};
    member_gap = Millis{static_cast<Millis::rep>(horizon / std::max(1.0, remaining * member_share)) + 1};
    next_arrival = cal.add(start, gap(arrival_gap));
    next_member = cal.add(start, gap(member_gap));
}

std::uint32_t Synth::Impl::add_grid(std::string id, std::string name, Level level, std::uint32_t parent, std::string station) {
    grids.push_back({std::move(id), std::move(name), std::move(station), level, parent});
    return static_cast<std::uint32_t>(grids.size() - 1);
}

std::uint32_t Synth::Impl::add_person(Role role, Team team, std::uint32_t grid, std::uint32_t dept) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "p-%06zu", persons.size() + 1);
    persons.push_back({buf, chinese_name(rng), role, team, grid, dept});
    return static_cast<std::uint32_t>(persons.size() - 1);
}

void Synth::Impl::build_city(std::uint64_t target) {
    static constexpr std::array<std::string_view, 16> first{"东", "西", "南", "北", "新", "青", "永", "安",
                                                           "长", "兴", "华", "宁", "金", "龙", "凤", "明"};
    static constexpr std::array<std::string_view, 16> second{"湖", "山", "河", "桥", "塘", "湾", "港", "峰",
                                                            "林", "坪", "园", "泉", "溪", "苑", "城", "庄"};
    static constexpr std::array<std::string_view, 8> ordinal{"一", "二", "三", "四", "五", "六", "七", "八"};
    auto place = [&] { return std::string(first[rng.below(16)]) + std::string(second[rng.below(16)]); };

    // By default a town has 6 to 30 communities and new towns are added until the micro-grids are
    // placed; with a fixed number of towns, each takes its share of the micro-grids in as many
    // communities as that needs (one town of 2 million cases has some 400).
    const std::uint64_t fixed = std::min<std::uint64_t>(opt.towns, target);
    std::uint64_t left = target;
    for (std::uint32_t t = 0; left > 0; ++t) {
        std::uint64_t town_left = fixed ? target / fixed + (t < target % fixed ? 1 : 0) : left; // this town's micro-grids
        const std::string tid = "t" + two_digits(t + 1);
        const std::uint32_t tg = add_grid(tid, place() + (rng.chance(0.7) ? "镇" : "街道"), Level::town, none);
        towns.push_back({tg});
        const int n_comm = rng.between(6, 30);
        for (int c = 0; (c < n_comm || fixed) && town_left > 0; ++c) {
            const std::string cid = tid + "-c" + two_digits(static_cast<std::uint32_t>(c + 1));
            const std::string cname = place() + (rng.chance(0.75) ? "社区" : "村");
            const std::uint32_t cg = add_grid(cid, cname, Level::community, tg);
            const auto ci = static_cast<std::uint32_t>(communities.size());
            communities.push_back({cg, t});
            const int n_branch = rng.between(1, 6);
            for (int b = 0; b < n_branch && town_left > 0; ++b) {
                const std::string bid = cid + "-g" + std::to_string(b + 1);
                std::string station = rng.chance(0.5) ? cname + "第" + std::string(ordinal[static_cast<std::size_t>(b)]) + "初心驿站" : "";
                const std::uint32_t bg = add_grid(bid, cname + "第" + std::string(ordinal[static_cast<std::size_t>(b)]) + "网格支部",
                                                  Level::grid, cg, std::move(station));
                BranchRec br{bg, ci};
                br.first_micro = static_cast<std::uint32_t>(micros.size());
                const auto n_micro = std::min<std::uint64_t>(static_cast<std::uint64_t>(rng.between(3, 8)), town_left);
                for (std::uint64_t m = 0; m < n_micro; ++m) {
                    const std::uint32_t mg = add_grid(bid + "-m" + std::to_string(m + 1),
                                                      cname + std::to_string(b * 10 + static_cast<int>(m) + 1) + "号楼群", Level::micro, bg);
                    micros.push_back({mg, static_cast<std::uint32_t>(branches.size()), ci, t});
                }
                left -= n_micro;
                town_left -= n_micro;
                br.end_micro = static_cast<std::uint32_t>(micros.size());
                branches.push_back(br);
            }
            // Some micro-grids hang directly under the community (no `grid` rung for their cases).
            if (town_left > 0 && rng.chance(0.2)) {
                const std::uint32_t mg = add_grid(cid + "-m1", cname + "沿街商铺微网格", Level::micro, cg, cname + "商圈初心驿站");
                micros.push_back({mg, none, ci, t});
                --left;
                --town_left;
            }
        }
    }

    // Five line departments per town, and a city-wide water company serving every town.
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kinds{
        {{"pcs", "派出所"}, {"cgzd", "城管中队"}, {"scjgs", "市场监管所"}, {"szsrs", "市政市容所"}, {"sfs", "司法所"}}};
    for (auto& town : towns) {
        const GridRec& g = grids[town.grid];
        for (std::size_t k = 0; k < kinds.size(); ++k) {
            town.dept[k] = static_cast<std::uint32_t>(depts.size());
            const std::string short_name = g.name.substr(0, g.name.size() - (g.name.size() > 6 && g.name.ends_with("街道") ? 6 : 3));
            depts.push_back({g.id + "-" + std::string(kinds[k].first), short_name + std::string(kinds[k].second),
                             static_cast<DeptKind>(k), {town.grid}, {}});
        }
    }
    city_dept = static_cast<std::uint32_t>(depts.size());
    DeptRec water{"city-water", "市水务集团", DeptKind::other, {}, {}};
    for (const auto& town : towns) water.serves.push_back(town.grid);
    depts.push_back(std::move(water));

    // Persons, after every grid and department they belong to.
    for (auto& town : towns) {
        town.head = add_person(Role::town_head, Team::management, town.grid, none);
        town.deputy = add_person(Role::town_head, Team::management, town.grid, none);
    }
    for (auto& c : communities) c.head = add_person(Role::grid_head, Team::management, c.grid, none);
    for (auto& b : branches) {
        b.head = add_person(Role::grid_head, Team::management, b.grid, none);
        b.volunteer = add_person(Role::worker, Team::volunteer, micros[b.first_micro].grid, none);
    }
    for (auto& m : micros) {
        m.head = add_person(Role::micro_head, Team::management, m.grid, none);
        m.worker = add_person(Role::worker, Team::work, m.grid, none);
    }
    for (std::uint32_t d = 0; d < depts.size(); ++d)
        for (int k = rng.between(2, 4); k > 0; --k) depts[d].staff.push_back(add_person(Role::department_staff, Team::joint, none, d));
}

double Synth::Impl::mean_case_length() {
    Rng dry(opt.seed ^ 0x5eed);
    std::vector<Item> items;
    std::size_t total = 0;
    constexpr int n = 4000;
    for (int i = 0; i < n; ++i) {
        items.clear();
        CasePlanner plan(cal, dry, true, items);
        plan.report(WorkCalendar::local(sys_days{2026y / March / 2}, 10, 0));
        plan_path(plan, static_cast<Path>(path_weights.draw(dry)), dry, PathInputs{});
        total += items.size();
    }
    return static_cast<double>(total) / n;
}

Millis Synth::Impl::gap(Millis mean) {
    // Uniform on [0, 2·mean]: the right mean with no transcendental functions, so portable.
    return Millis{static_cast<Millis::rep>(static_cast<double>(2 * mean.count()) * rng.unit())};
}

const std::string& Synth::Impl::event_id() {
    format_id(id_buf, "s", opt.seed);
    char digits[24];
    id_buf += '-';
    id_buf.append(digits, static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, emitted + 1).ptr - digits));
    return id_buf;
}

void Synth::Impl::recycle(json& posted, std::string_view type) {
    const int want = event_type_index(type);
    if (posted.is_object()) {
        auto it = posted.find("type");
        if (it != posted.end() && it->is_string()) {
            const int have = event_type_index(it->get_ref<const std::string&>());
            if (have == want) return;
            if (have >= 0 && pool[static_cast<std::size_t>(have)].is_null()) pool[static_cast<std::size_t>(have)] = std::move(posted);
        }
    }
    posted = std::move(pool[static_cast<std::size_t>(want)]);
}

Fill Synth::Impl::begin(Step& out, Instant at, std::string_view actor, std::string_view type) {
    out.at = at;
    out.actor.assign(actor);
    recycle(out.posted, type);
    Fill top(out.posted);
    top.str("type", type).str("event_id", event_id());
    Fill data(top.raw("data"));
    top.done();
    return data;
}

std::uint32_t Synth::Impl::dept_for(DeptKind k, const MicroRec& m) const {
    if (k == DeptKind::other) return city_dept;
    if (k == DeptKind::none) k = DeptKind::municipal;
    return towns[m.town].dept[static_cast<std::size_t>(k)];
}

bool Synth::Impl::next(Step& out) {
    if (emitted >= opt.events) return false;
    if (emitted < org_total) {
        org_step(out);
    } else {
        const Instant due = heap.empty() ? Instant::max() : heap.top().at;
        if (due <= next_arrival && due <= next_member) case_step(out);
        else if (next_arrival <= next_member) arrive(out);
        else member_step(out);
    }
    ++emitted;
    return true;
}

void Synth::Impl::org_step(Step& out) {
    std::uint64_t k = emitted;
    if (k < 2) {
        Fill data = begin(out, org_at, "admin", k == 0 ? "CalendarSet" : "PolicySet");
        data.done();
        out.posted["data"] = k == 0 ? cal.calendar_data() : policy_data();
    } else if ((k -= 2) < grids.size()) {
        const GridRec& g = grids[k];
        Fill data = begin(out, org_at, "admin", "GridDefined");
        data.str("grid_id", g.id).str("name", g.name).str("level", level_names[static_cast<std::size_t>(g.level)]);
        if (g.parent == none) data.null("parent_id");
        else data.str("parent_id", grids[g.parent].id);
        if (!g.station.empty()) data.str("station", g.station);
        data.done();
    } else if ((k -= grids.size()) < depts.size()) {
        const DeptRec& d = depts[k];
        Fill data = begin(out, org_at, "admin", "DepartmentRegistered");
        std::vector<std::string_view> serves;
        for (auto g : d.serves) serves.push_back(grids[g].id);
        data.str("dept_id", d.id).str("name", d.name).str("kind", dept_kind_names[static_cast<std::size_t>(d.kind)]).strs("serves", serves);
        data.done();
    } else {
        const PersonRec& p = persons[k - depts.size()];
        Fill data = begin(out, org_at, "admin", "PersonAssigned");
        data.str("person_id", p.id).str("name", p.name).str("role", role_names[static_cast<std::size_t>(p.role)]);
        if (p.dept != none) data.str("dept_id", depts[p.dept].id);
        else data.str("grid_id", grids[p.grid].id);
        data.str("team", team_names[static_cast<std::size_t>(p.team)]);
        data.done();
    }
}

void Synth::Impl::arrive(Step& out) {
    const Instant at = next_arrival;
    next_arrival = cal.add(at, gap(arrival_gap));

    std::uint32_t s;
    if (!free_slots.empty()) {
        s = free_slots.back();
        free_slots.pop_back();
    } else {
        s = static_cast<std::uint32_t>(slots.size());
        slots.emplace_back();
    }
    CaseSlot& c = slots[s];
    c.number = ++cases;
    c.micro = micro_activity.draw(rng);
    const MicroRec& m = micros[c.micro];
    const auto path = static_cast<Path>(path_weights.draw(rng));
    const bool needs_dept = path == Path::department || path == Path::department_returned ||
                            path == Path::department_twice_returned || path == Path::department_supervised;
    const auto cats = categories();
    do c.category = static_cast<std::uint8_t>(category_weights.draw(rng));
    while (needs_dept && cats[c.category].primary == DeptKind::none);
    const Category& cat = cats[c.category];
    c.source = cat.camera && rng.chance(0.35) ? 3 : static_cast<std::uint8_t>(std::array<int, 10>{0, 0, 0, 0, 0, 1, 1, 1, 2, 2}[rng.below(10)]);
    const double x = rng.unit();
    c.severity = x < 0.04 ? 2 : x < 0.18 ? 1 : 0;
    c.dept = {dept_for(cat.primary, m), dept_for(cat.secondary, m)};
    if (c.dept[1] == c.dept[0]) c.dept[1] = towns[m.town].dept[c.dept[0] == towns[m.town].dept[1] ? 0 : 1];
    c.resident = 1000 + rng.below(900000);

    std::array<std::uint32_t, 2> vols{};
    PathInputs in;
    if (!members.empty() && rng.chance(0.25)) {
        vols[0] = active_member() + 1;
        vols[1] = active_member() + 1;
        in.volunteers = std::span<const std::uint32_t>(vols.data(), vols[0] == vols[1] ? 1 : 2);
    }
    in.dismiss_reason = static_cast<DismissReason>(rng.below(4));
    if (rng.chance(0.01)) in.offline_handle = minutes{rng.between(5, 60)};
    const Millis offline = rng.chance(0.01) ? Millis{minutes{rng.between(5, 60)}} : Millis{};

    c.items.clear();
    CasePlanner plan(cal, rng, m.branch != none, c.items);
    plan.report(at, offline);
    plan_path(plan, path, rng, in);

    emit(c, c.items[0], out);
    c.next = 1;
    if (c.next < c.items.size()) heap.push({c.items[c.next].at, seq++, s});
    else free_slots.push_back(s);
}

void Synth::Impl::case_step(Step& out) {
    const Pending p = heap.top();
    heap.pop();
    CaseSlot& c = slots[p.slot];
    emit(c, c.items[c.next], out);
    if (++c.next < c.items.size()) heap.push({c.items[c.next].at, seq++, p.slot});
    else free_slots.push_back(p.slot);
}

void Synth::Impl::emit(CaseSlot& c, const Item& it, Step& out) {
    const MicroRec& m = micros[c.micro];
    const CommunityRec& comm = communities[m.community];
    const TownRec& town = towns[m.town];
    format_id(case_buf, "c-", c.number, 8);
    format_id(resident_buf, "resident-", c.resident);

    CaseCast cast;
    cast.case_id = case_buf;
    cast.grid_id = grids[m.grid].id;
    cast.category = c.category;
    cast.source = c.source;
    cast.severity = c.severity;
    const std::string& worker = persons[m.worker].id;
    cast.reporter_actor = c.source == 2 ? std::string_view(persons[comm.head].id) : std::string_view(worker);
    switch (c.source) {
    case 0: cast.reporter = worker; break;
    case 3:
        reporter_buf.assign("camera-").append(grids[m.grid].id);
        cast.reporter = reporter_buf;
        break;
    default: cast.reporter = resident_buf; break;
    }
    cast.resident = resident_buf;
    cast.person = {worker, persons[m.head].id, persons[m.branch != none ? branches[m.branch].head : comm.head].id,
                   persons[comm.head].id, persons[town.head].id};
    cast.supervisor = persons[town.deputy].id;
    if (m.branch != none) cast.volunteer_person = persons[branches[m.branch].volunteer].id;
    for (std::size_t k = 0; k < 2; ++k) {
        const DeptRec& d = depts[c.dept[k]];
        cast.dept[k] = d.id;
        cast.dept_staff[k] = persons[d.staff[c.number % d.staff.size()]].id;
    }
    recycle(out.posted, type_of(it.op));
    render(it, cast, event_id(), out);

    if (it.op == Op::handle)
        for (std::size_t k = 0; k < it.nvol; ++k) {
            helped.emplace_back(c.number, it.vol[k] - 1);
            if (helped.size() > 4096) helped.pop_front();
        }
}

std::uint32_t Synth::Impl::active_member() {
    // Every 40th member drifts out of contact (失联) after registering: never picked again.
    for (int tries = 0; tries < 8; ++tries) {
        const auto i = rng.below(static_cast<std::uint32_t>(members.size()));
        if ((i + 1) % 40 != 17) return i;
    }
    return 0;
}

void Synth::Impl::member_step(Step& out) {
    const Instant at = next_member;
    next_member = cal.add(at, gap(member_gap));

    if (members.size() < member_target && (members.size() < 5 || rng.chance(0.6))) {
        const auto n = static_cast<std::uint32_t>(members.size());
        const auto home = rng.below(static_cast<std::uint32_t>(branches.size()));
        const BranchRec& b = branches[home];
        std::uint32_t residence;
        if (rng.chance(0.8)) {
            residence = b.first_micro + rng.below(b.end_micro - b.first_micro);
        } else {
            residence = rng.below(static_cast<std::uint32_t>(micros.size()));
        }
        members.push_back({residence, home});
        const auto category = member_categories.draw(rng);
        format_id(member_buf, "m-", n + 1, 6);
        Fill data = begin(out, at, "admin", "MemberRegistered");
        data.str("member_id", member_buf)
            .str("name", chinese_name(rng))
            .str("category", member_category_names[category])
            .str("home_branch", grids[b.grid].id)
            .str("residence_grid", grids[micros[residence].grid].id)
            .done();
        return;
    }

    const std::uint32_t i = active_member();
    MemberRec& mem = members[i];
    format_id(member_buf, "m-", i + 1, 6);
    const std::string_view id = member_buf;
    const MicroRec& res = micros[mem.residence];
    const std::string& branch_head = persons[branches[mem.home].head].id;
    auto kind = static_cast<MemberKind>(member_kinds.draw(rng));
    if (kind == relocate && micros.size() < 2) kind = contact;
    if (kind == transfer && branches.size() < 2) kind = contact;
    if (kind == redeem && mem.balance < 5) kind = award;

    switch (kind) {
    case contact: {
        const std::string& by = persons[rng.chance(0.7) ? res.head : res.worker].id;
        static constexpr std::array<std::string_view, 4> channels{"visit", "phone", "wechat", "station"};
        begin(out, at, by, "MemberContacted").str("member_id", id).str("by", by).str("channel", channels[rng.below(4)]).done();
        break;
    }
    case report_in:
        begin(out, at, persons[res.head].id, "MemberReportedIn").str("member_id", id).str("grid_id", grids[res.grid].id).done();
        break;
    case relocate: {
        // Mostly within the town; sometimes anywhere in the city (流出).
        std::uint32_t to = mem.residence;
        while (to == mem.residence) to = rng.below(static_cast<std::uint32_t>(micros.size()));
        if (rng.chance(0.75)) {
            const BranchRec& b = branches[mem.home];
            if (b.end_micro - b.first_micro > 1)
                do to = b.first_micro + rng.below(b.end_micro - b.first_micro);
                while (to == mem.residence);
        }
        mem.residence = to;
        static constexpr std::array<std::string_view, 4> reasons{"工作调动", "购房搬迁", "租房变动", "外出务工"};
        begin(out, at, branch_head, "MemberRelocated")
            .str("member_id", id)
            .str("to_grid", grids[micros[to].grid].id)
            .str("reason", reasons[rng.below(4)])
            .done();
        break;
    }
    case transfer: {
        std::uint32_t to = res.branch;
        while (to == none || to == mem.home) to = rng.below(static_cast<std::uint32_t>(branches.size()));
        mem.home = to;
        begin(out, at, branch_head, "MembershipTransferred").str("member_id", id).str("to_branch", grids[branches[to].grid].id).done();
        break;
    }
    case award: {
        if (!helped.empty() && rng.chance(0.6)) {
            const auto [case_no, m] = helped.front();
            helped.pop_front();
            format_id(case_buf, "c-", case_no, 8);
            format_id(member_buf, "m-", m + 1, 6);
            const int points = rng.between(5, 20);
            members[m].balance += points;
            begin(out, at, persons[branches[members[m].home].head].id, "PointsAwarded")
                .str("member_id", member_buf)
                .num("points", points)
                .str("reason", "参与案件处置志愿服务")
                .str("case_id", case_buf)
                .done();
        } else {
            const int points = rng.between(5, 30);
            mem.balance += points;
            begin(out, at, branch_head, "PointsAwarded").str("member_id", id).num("points", points).str("reason", "volunteer service").done();
        }
        break;
    }
    case redeem: {
        static constexpr std::array<std::pair<std::string_view, int>, 4> goods{
            {{"大米5kg", 20}, {"食用油", 15}, {"洗衣液", 10}, {"理发服务券", 5}}};
        auto g = goods.begin();
        while (g->second > mem.balance) ++g;
        mem.balance -= g->second;
        begin(out, at, branch_head, "PointsRedeemed").str("member_id", id).num("points", g->second).str("item", g->first).done();
        break;
    }
    }
}

Synth::Synth(SynthOptions options) : impl_(std::make_unique<Impl>(options)) {}
Synth::~Synth() = default;
Synth::Synth(Synth&&) noexcept = default;
Synth& Synth::operator=(Synth&&) noexcept = default;

bool Synth::next(Step& out) { return impl_->next(out); }

Synth::Shape Synth::shape() const {
    const Impl& i = *impl_;
    return {i.towns.size(), i.communities.size(), i.branches.size(), i.micros.size(), i.depts.size(), i.persons.size(), i.member_target};
}

} // namespace gridloop::samples
