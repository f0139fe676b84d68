// The sample town 宝华镇: 1 town, 1 community (新城社区), 7 branch grids, 32 micro-grids, 14
// service stations, the five line departments, 101 persons, 330 party members and 235 cases.
#include "samples/town.hpp"

#include "samples/script.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace gridloop::samples {
namespace {

using namespace std::chrono;
using namespace detail;
using nlohmann::json;

constexpr sys_days day_of(unsigned m, unsigned d) { return sys_days{year{2026} / month{m} / day{d}}; }

struct Branch {
    std::string id, slug, place, head;
    std::vector<int> micros;
};
struct Micro {
    std::string id, name;
    int branch; // -1: directly under the community
    std::string head, worker, volunteer;
};
struct Dept {
    std::string id;
    std::vector<std::string> staff;
};
struct Member {
    std::string id;
    std::uint8_t category;
    int home, residence; // branch, micro
    Instant registered;
    bool lost = false;
};
struct Case {
    Path path = Path::worker_solved;
    int micro = 0;
    std::uint8_t category = 0, source = 0, severity = 0;
    std::array<int, 2> dept{};
    std::vector<Item> items;
    std::string id, description, reporter, resident;
};
struct Award {
    Instant at;
    int points;
    std::string_view reason;
    std::string case_id;
};

class Town {
public:
    std::vector<Step> build();

private:
    void post(Instant at, std::string_view actor, std::string_view type, json data);
    Instant some_time(sys_days from, sys_days to);
    void organisation();
    void register_members();
    void member_lives();
    void plan_cases();
    void plan_case(Path path, int index_in_path);
    void render_cases();
    void points();
    int dept_of(DeptKind k) const;

    const WorkCalendar& cal_ = WorkCalendar::china_2026();
    Rng rng_{20260501};
    struct Pending {
        std::uint64_t seq;
        Step step;
    };
    std::vector<Pending> out_;
    std::vector<Branch> branches_;
    std::vector<Micro> micros_;
    std::vector<Dept> depts_;
    std::vector<Member> members_;
    std::vector<Case> cases_;
    Weighted micro_activity_, category_weights_;

    const std::string town_head_ = "p-bh-shuji", supervisor_ = "p-bh-fuzhen";
    const std::string community_head_ = "p-xc-shuji", director_ = "p-xc-zhuren";
    const Instant end_ = WorkCalendar::local(day_of(11, 20), 16, 30);
    const Instant last_close_ = WorkCalendar::local(day_of(11, 19), 17, 0);
};

void Town::post(Instant at, std::string_view actor, std::string_view type, json data) {
    if (at > end_) throw std::logic_error("town: a step after the end of the history");
    Step s{at, std::string(actor), json{{"type", type}, {"data", std::move(data)}}};
    out_.push_back({out_.size(), std::move(s)});
}

Instant Town::some_time(sys_days from, sys_days to) {
    const auto days = cal_.workdays(from, to);
    if (days.empty()) throw std::logic_error("town: no working day in a range");
    return WorkCalendar::local(days[rng_.below(static_cast<std::uint32_t>(days.size()))], 9, rng_.between(0, 470));
}

int Town::dept_of(DeptKind k) const {
    switch (k) {
    case DeptKind::police: return 0;
    case DeptKind::city_management: return 1;
    case DeptKind::market_supervision: return 2;
    case DeptKind::judicial: return 4;
    default: return 3; // municipal, and the water company's work goes to 市政市容所 in this town
    }
}

void Town::organisation() {
    Instant t = WorkCalendar::local(day_of(5, 1), 9, 0);
    auto next = [&] { return t += seconds{5}; };
    post(t, "admin", "CalendarSet", cal_.calendar_data());
    post(next(), "admin", "PolicySet", policy_data());

    // Boundaries: adjacent rectangles around 119.1E 32.1N, each inside its parent, in hundredths of
    // a degree (a cell is about 940 m east-west and 1,110 m north-south). The town spans
    // 119.10–119.20E × 32.10–32.20N; 新城社区 119.10–119.18E × 32.10–32.16N; branch b is the column
    // 119.1b–119.1(b+1)E × 32.10–32.15N, its k-th micro-grid the k-th cell from the south; the two
    // micro-grids under the community are the two southern cells of column 7.
    auto box = [](int lng0, int lat0, int lng1, int lat1) {
        auto pt = [](int lng, int lat) { return json::array({lng / 100.0, lat / 100.0}); };
        return json{{"type", "Polygon"},
                    {"coordinates", json::array({json::array({pt(lng0, lat0), pt(lng1, lat0), pt(lng1, lat1), pt(lng0, lat1), pt(lng0, lat0)})})}};
    };
    post(next(), "admin", "GridDefined",
         {{"grid_id", "baohua"}, {"name", "宝华镇"}, {"level", "town"}, {"parent_id", nullptr}, {"boundary", box(11910, 3210, 11920, 3220)}});
    post(next(), "admin", "GridDefined",
         {{"grid_id", "xincheng"}, {"name", "新城社区"}, {"level", "community"}, {"parent_id", "baohua"}, {"boundary", box(11910, 3210, 11918, 3216)}});

    const std::array<std::string_view, 7> slugs{"jinxiu", "chunhui", "heyuan", "cuizhu", "dongyuan", "wenchang", "binhe"};
    const std::array<std::string_view, 7> places{"锦绣苑", "春晖园", "和园", "翠竹里", "东苑", "文昌坊", "滨河湾"};
    const std::array<int, 7> sizes{4, 5, 4, 4, 5, 4, 4};
    for (std::size_t b = 0; b < slugs.size(); ++b) {
        Branch br{"xc-" + std::string(slugs[b]), std::string(slugs[b]), std::string(places[b]), "p-" + std::string(slugs[b]) + "-sj", {}};
        post(next(), "admin", "GridDefined",
             {{"grid_id", br.id}, {"name", br.place + "网格支部"}, {"level", "grid"}, {"parent_id", "xincheng"},
              {"station", br.place + "初心驿站"}, {"boundary", box(11910 + static_cast<int>(b), 3210, 11911 + static_cast<int>(b), 3215)}});
        for (int k = 1; k <= sizes[b]; ++k) {
            const std::string key = br.slug + "-" + std::to_string(k);
            Micro m{"xc-" + key, br.place + std::to_string(6 * k - 5) + "-" + std::to_string(6 * k) + "幢",
                    static_cast<int>(b), "p-" + key + "-zz", "p-" + key + "-wgy", "p-" + br.slug + "-zyz"};
            json g{{"grid_id", m.id}, {"name", m.name}, {"level", "micro"}, {"parent_id", br.id},
                   {"boundary", box(11910 + static_cast<int>(b), 3209 + k, 11911 + static_cast<int>(b), 3210 + k)}};
            if (k == 2 && b < 5) g["station"] = m.name + "初心驿站";
            post(next(), "admin", "GridDefined", std::move(g));
            br.micros.push_back(static_cast<int>(micros_.size()));
            micros_.push_back(std::move(m));
        }
        branches_.push_back(std::move(br));
    }
    // Two micro-grids hang directly under the community: no `grid` rung for their cases.
    int row = 0;
    for (auto [slug, name] : {std::pair<std::string_view, std::string_view>{"shangyejie", "新城商业街"}, {"xuexiao", "新城小学周边"}}) {
        const std::string s(slug);
        const int south = 3210 + row++;
        Micro m{"xc-" + s, std::string(name), -1, "p-" + s + "-zz", "p-" + s + "-wgy", "p-xc-zyz"};
        post(next(), "admin", "GridDefined",
             {{"grid_id", m.id}, {"name", m.name + "微网格"}, {"level", "micro"}, {"parent_id", "xincheng"},
              {"station", m.name + "初心驿站"}, {"boundary", box(11917, south, 11918, south + 1)}});
        micros_.push_back(std::move(m));
    }

    struct DeptDef {
        std::string_view id, name, kind, serves, staff;
    };
    const DeptDef defs[] = {
        {"baohua-pcs", "宝华派出所", "police", "baohua", "p-pcs"},
        {"baohua-cgzd", "宝华镇城管中队", "city_management", "baohua", "p-cgzd"},
        {"baohua-scjgs", "宝华市场监管所", "market_supervision", "baohua", "p-scjgs"},
        {"baohua-szsrs", "宝华镇市政市容所", "municipal", "xincheng", "p-szsrs"},
        {"baohua-sfs", "宝华司法所", "judicial", "baohua", "p-sfs"},
    };
    for (const auto& d : defs) {
        post(next(), "admin", "DepartmentRegistered",
             {{"dept_id", d.id}, {"name", d.name}, {"kind", d.kind}, {"serves", {d.serves}}});
        Dept dept{std::string(d.id), {}};
        for (int i = 1; i <= 3; ++i) dept.staff.push_back(std::string(d.staff) + "-" + std::to_string(i));
        depts_.push_back(std::move(dept));
    }

    auto person = [&](const std::string& id, std::string name, std::string_view role, std::string_view where_key,
                      const std::string& where, std::string_view team) {
        post(next(), "admin", "PersonAssigned",
             {{"person_id", id}, {"name", std::move(name)}, {"role", role}, {where_key, where}, {"team", team}});
    };
    person(town_head_, "张建国", "town_head", "grid_id", "baohua", "management");
    person(supervisor_, "李秀英", "town_head", "grid_id", "baohua", "management");
    person(community_head_, "王海燕", "grid_head", "grid_id", "xincheng", "management");
    person(director_, "陈立新", "grid_head", "grid_id", "xincheng", "management");
    for (const auto& b : branches_) person(b.head, chinese_name(rng_), "grid_head", "grid_id", b.id, "management");
    for (const auto& m : micros_) {
        person(m.head, chinese_name(rng_), "micro_head", "grid_id", m.id, "management");
        person(m.worker, chinese_name(rng_), "worker", "grid_id", m.id, "work");
    }
    // Volunteer team (party members, residents' representatives) and property managers.
    for (const auto& b : branches_)
        person("p-" + b.slug + "-zyz", chinese_name(rng_), "worker", "grid_id", micros_[static_cast<std::size_t>(b.micros[0])].id, "volunteer");
    person("p-xc-zyz", chinese_name(rng_), "worker", "grid_id", "xc-shangyejie", "volunteer");
    for (int b : {0, 1, 6})
        person("p-" + branches_[b].slug + "-wy", chinese_name(rng_), "worker", "grid_id", micros_[branches_[b].micros[0]].id, "management");
    // Department staff seconded into the grids as the joint team (联勤联动团队).
    for (const auto& d : depts_)
        for (const auto& s : d.staff) person(s, chinese_name(rng_), "department_staff", "dept_id", d.id, "joint");
}

void Town::register_members() {
    // 330 members: a third mobile, every other category represented.
    std::vector<std::uint8_t> cats;
    const std::array<int, 6> per_category{62, 68, 110, 24, 36, 30}; // in member_category_names order
    for (std::uint8_t c = 0; c < per_category.size(); ++c) cats.insert(cats.end(), per_category[c], c);
    for (std::size_t i = cats.size(); i > 1; --i) std::swap(cats[i - 1], cats[rng_.below(static_cast<std::uint32_t>(i))]);

    const auto n_branch = static_cast<std::uint32_t>(branches_.size());
    for (std::uint32_t i = 0; i < cats.size(); ++i) {
        Member m{member_id(i + 1), cats[i], static_cast<int>(rng_.below(n_branch)), 0, {}};
        const bool mobile = member_category_names[m.category] == "mobile";
        const auto& home = branches_[static_cast<std::size_t>(m.home)];
        if (rng_.chance(mobile ? 0.4 : 0.88)) {
            m.residence = home.micros[rng_.below(static_cast<std::uint32_t>(home.micros.size()))];
        } else {
            do m.residence = static_cast<int>(rng_.below(static_cast<std::uint32_t>(micros_.size())));
            while (micros_[static_cast<std::size_t>(m.residence)].branch == m.home);
        }
        std::string actor = "admin";
        if (i < 300) {
            // The first 300 are entered in one go (the 双找 drive) on 6–8 May.
            m.registered = WorkCalendar::local(day_of(5, 6 + i / 100), 9, static_cast<int>(i % 100) * 4);
        } else {
            m.registered = some_time(day_of(6, 1), day_of(9, 30));
            actor = director_;
        }
        post(m.registered, actor, "MemberRegistered",
             {{"member_id", m.id}, {"name", chinese_name(rng_)}, {"category", member_category_names[m.category]},
              {"home_branch", home.id}, {"residence_grid", micros_[static_cast<std::size_t>(m.residence)].id}});
        members_.push_back(std::move(m));
    }
    // Twenty of the May intake, mostly mobile, drift out of contact (失联).
    int mobile_lost = 0, other_lost = 0;
    for (std::uint32_t i = 0; i < 300 && mobile_lost + other_lost < 20; i += 3) {
        auto& m = members_[i];
        const bool mobile = member_category_names[m.category] == "mobile";
        if (mobile && mobile_lost < 15) m.lost = true, ++mobile_lost;
        else if (!mobile && other_lost < 5) m.lost = true, ++other_lost;
    }
}

void Town::member_lives() {
    enum Kind { report_in, relocate, transfer, contact };
    struct Ev {
        Instant at;
        Kind kind;
    };
    std::vector<std::size_t> movers, transferees;
    for (std::size_t i = 0; i < members_.size(); ++i)
        if (!members_[i].lost && members_[i].registered < WorkCalendar::local(day_of(6, 1), 0, 0)) movers.push_back(i);
    for (std::size_t i = movers.size(); i > 1; --i) std::swap(movers[i - 1], movers[rng_.below(static_cast<std::uint32_t>(i))]);
    movers.resize(32);
    std::vector<bool> moves(members_.size()), transfers(members_.size());
    for (std::size_t k = 0; k < movers.size(); ++k) {
        moves[movers[k]] = true;
        if (k % 4 == 0) transfers[movers[k]] = true; // 8 of them also move their membership
    }
    for (std::size_t i = 3; i < 300 && std::count(transfers.begin(), transfers.end(), true) < 12; i += 29)
        if (!members_[i].lost && !moves[i]) transfers[i] = true;

    constexpr std::array<std::string_view, 4> reasons{"工作调动", "购房搬迁", "租房变动", "外出务工"};
    constexpr std::array<std::string_view, 4> channels{"visit", "phone", "wechat", "station"};
    for (std::size_t i = 0; i < members_.size(); ++i) {
        Member& m = members_[i];
        const sys_days reg_day = WorkCalendar::local_day(m.registered);
        std::vector<Ev> evs;
        if (m.lost) {
            if (rng_.chance(0.5)) evs.push_back({some_time(reg_day + days{1}, reg_day + days{14}), report_in});
            if (rng_.chance(0.3)) evs.push_back({some_time(day_of(6, 1), day_of(7, 15)), contact});
        } else {
            if (rng_.chance(0.85)) evs.push_back({some_time(reg_day + days{1}, reg_day + days{28}), report_in});
            Instant moved{};
            if (moves[i]) {
                moved = some_time(day_of(6, 1), day_of(10, 20));
                evs.push_back({moved, relocate});
                if (rng_.chance(0.8)) evs.push_back({cal_.add(moved, hours{8 * rng_.between(1, 10)}), report_in});
            }
            if (transfers[i]) {
                const Instant from = moved != Instant{} ? cal_.add(moved, hours{8 * 5}) : some_time(day_of(7, 1), day_of(9, 30));
                evs.push_back({cal_.add(from, hours{8 * rng_.between(0, 15)}), transfer});
            }
            const sys_days first = std::max(reg_day + days{1}, day_of(5, 20));
            for (int k = rng_.between(0, 2); k > 0 && first < day_of(8, 31); --k) evs.push_back({some_time(first, day_of(8, 31)), contact});
            // Everyone not lost was seen within the last 90 days of the history.
            evs.push_back({some_time(std::max(reg_day + days{1}, day_of(9, 1)), day_of(11, 18)), contact});
        }
        std::stable_sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) { return a.at < b.at; });
        for (const Ev& e : evs) {
            const Micro& res = micros_[static_cast<std::size_t>(m.residence)];
            switch (e.kind) {
            case report_in:
                post(e.at, res.head, "MemberReportedIn", {{"member_id", m.id}, {"grid_id", res.id}});
                break;
            case relocate: {
                int to = m.residence;
                const bool outflow = rng_.chance(0.5);
                while (to == m.residence || (outflow ? micros_[static_cast<std::size_t>(to)].branch == m.home
                                                     : micros_[static_cast<std::size_t>(to)].branch != res.branch))
                    to = static_cast<int>(rng_.below(static_cast<std::uint32_t>(micros_.size())));
                m.residence = to;
                post(e.at, director_, "MemberRelocated",
                     {{"member_id", m.id}, {"to_grid", micros_[static_cast<std::size_t>(to)].id}, {"reason", reasons[rng_.below(4)]}});
                break;
            }
            case transfer: {
                int to = res.branch;
                while (to < 0 || to == m.home) to = static_cast<int>(rng_.below(static_cast<std::uint32_t>(branches_.size())));
                m.home = to;
                post(e.at, director_, "MembershipTransferred", {{"member_id", m.id}, {"to_branch", branches_[static_cast<std::size_t>(to)].id}});
                break;
            }
            case contact: {
                const std::string& by = rng_.chance(0.7) ? res.head : res.worker;
                post(e.at, by, "MemberContacted", {{"member_id", m.id}, {"by", by}, {"channel", channels[rng_.below(4)]}});
                break;
            }
            }
        }
    }
}

void Town::plan_case(Path path, int n) {
    Case c;
    c.path = path;
    const bool needs_dept = path == Path::department || path == Path::department_returned ||
                            path == Path::department_twice_returned || path == Path::department_supervised;
    const auto cats = categories();
    do c.category = static_cast<std::uint8_t>(category_weights_.draw(rng_));
    while (needs_dept && cats[c.category].primary == DeptKind::none);
    c.micro = static_cast<int>(micro_activity_.draw(rng_));
    if (path == Path::grid_handled && n % 4 != 3) // mostly where a branch grid exists
        while (micros_[static_cast<std::size_t>(c.micro)].branch < 0) c.micro = static_cast<int>(micro_activity_.draw(rng_));
    const Micro& micro = micros_[static_cast<std::size_t>(c.micro)];

    if (cats[c.category].camera && rng_.chance(0.35)) c.source = 3;
    else c.source = static_cast<std::uint8_t>(std::array<int, 10>{0, 0, 0, 0, 0, 1, 1, 1, 2, 2}[rng_.below(10)]);
    const bool big = path == Path::town_handled || path == Path::town_supervised || path == Path::community_handled ||
                     path == Path::department_twice_returned;
    const double x = rng_.unit();
    c.severity = big ? (x < 0.4 ? 2 : x < 0.8 ? 1 : 0) : (x < 0.05 ? 2 : x < 0.2 ? 1 : 0);
    c.dept = {dept_of(cats[c.category].primary), dept_of(cats[c.category].secondary)};
    if (c.dept[1] == c.dept[0]) c.dept[1] = c.dept[0] == 1 ? 0 : 1;

    c.description = micro.name + "：" + std::string(cats[c.category].description);
    const std::string resident = "resident-" + std::to_string(1000 + rng_.below(9000));
    switch (c.source) {
    case 0: c.reporter = micro.worker; break;
    case 3: c.reporter = "camera-" + micro.id + "-" + std::to_string(1 + rng_.below(4)); break;
    default: c.reporter = resident; break;
    }
    c.resident = resident;

    PathInputs in;
    in.dismiss_reason = path == Path::timed_out_dismissed ? (n % 2 ? DismissReason::invalid : DismissReason::not_responsible)
                                                           : static_cast<DismissReason>(n % 4);
    in.offline_handle = path == Path::worker_solved && n % 12 == 5 ? minutes{rng_.between(10, 40)} : Millis{};
    const Millis offline_report = path == Path::worker_solved && n % 9 == 1 ? minutes{rng_.between(15, 50)} : Millis{};

    // When: most cases from 6 May to the end of October; the last ones are still in progress.
    sys_days from = day_of(5, 6), to = day_of(10, 30);
    Instant report_latest = last_close_;
    switch (path) {
    case Path::open_untouched:
        if (n < 3) from = day_of(10, 26), to = day_of(11, 6); // overdue by the end
        else from = to = day_of(11, 20);
        break;
    case Path::open_escalated: from = to = day_of(11, 19); break;
    case Path::awaiting_feedback: from = day_of(11, 18), to = day_of(11, 19); break;
    case Path::awaiting_rating: from = day_of(11, 17), to = day_of(11, 18); break;
    default: break;
    }
    if (from == to) report_latest = end_;
    for (int attempt = 0;; ++attempt) {
        c.items.clear();
        Instant at = some_time(from, to);
        if (path == Path::open_untouched && n >= 3) at = WorkCalendar::local(from, 10, rng_.between(0, 120));
        if (path == Path::open_escalated) at = WorkCalendar::local(from, 14, rng_.between(0, 90));
        // Volunteers: members already registered and still in touch.
        std::vector<std::uint32_t> vols;
        if (rng_.chance(0.3)) {
            for (int k = rng_.between(1, 3), tries = 0; k > 0 && tries < 50; ++tries) {
                const auto i = rng_.below(static_cast<std::uint32_t>(members_.size()));
                if (members_[i].lost || members_[i].registered >= at || std::find(vols.begin(), vols.end(), i + 1) != vols.end())
                    continue;
                vols.push_back(i + 1);
                --k;
            }
        }
        in.volunteers = vols;
        CasePlanner plan(cal_, rng_, micro.branch >= 0, c.items);
        plan.report(at, offline_report);
        plan_path(plan, path, rng_, in);
        if (c.items.back().at <= report_latest) break;
        if (attempt > 50) throw std::logic_error("town: cannot fit a case before the end");
        to = std::max(from, to - days{7});
    }
    cases_.push_back(std::move(c));
}

void Town::plan_cases() {
    std::vector<double> w(micros_.size());
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = zipf_weight((i * 7) % w.size());
    micro_activity_ = Weighted(w);
    std::vector<double> cw;
    for (const auto& c : categories()) cw.push_back(c.weight);
    category_weights_ = Weighted(cw);

    const std::pair<Path, int> mix[] = {
        {Path::worker_solved, 88},          {Path::micro_consult, 30},         {Path::grid_handled, 12},
        {Path::community_handled, 12},      {Path::town_handled, 6},           {Path::town_supervised, 3},
        {Path::department, 20},             {Path::department_returned, 8},    {Path::department_twice_returned, 2},
        {Path::department_supervised, 6},   {Path::reopened, 12},              {Path::reopened_twice, 2},
        {Path::dismissed, 12},              {Path::timed_out, 6},              {Path::timed_out_dismissed, 2},
        {Path::open_untouched, 6},          {Path::open_escalated, 3},         {Path::awaiting_feedback, 3},
        {Path::awaiting_rating, 2},
    };
    for (auto [path, count] : mix)
        for (int n = 0; n < count; ++n) plan_case(path, n);
    std::stable_sort(cases_.begin(), cases_.end(), [](const Case& a, const Case& b) { return a.items[0].at < b.items[0].at; });
    char buf[32];
    for (std::size_t i = 0; i < cases_.size(); ++i) {
        std::snprintf(buf, sizeof buf, "xc-2026-%04zu", i + 1);
        cases_[i].id = buf;
    }
}

void Town::render_cases() {
    for (const Case& c : cases_) {
        const Micro& m = micros_[static_cast<std::size_t>(c.micro)];
        CaseCast cast;
        cast.case_id = c.id;
        cast.grid_id = m.id;
        cast.category = c.category;
        cast.source = c.source;
        cast.severity = c.severity;
        cast.description = c.description;
        cast.reporter_actor = c.source == 2 ? std::string_view(director_) : std::string_view(m.worker);
        cast.reporter = c.reporter;
        cast.resident = c.resident;
        cast.person = {m.worker, m.head, m.branch >= 0 ? std::string_view(branches_[static_cast<std::size_t>(m.branch)].head) : community_head_,
                       community_head_, town_head_};
        cast.supervisor = supervisor_;
        cast.volunteer_person = m.volunteer;
        for (std::size_t k = 0; k < 2; ++k) {
            const Dept& d = depts_[static_cast<std::size_t>(c.dept[k])];
            cast.dept[k] = d.id;
            cast.dept_staff[k] = d.staff[c.id.back() % d.staff.size()];
        }
        for (const Item& it : c.items) {
            Step s;
            render(it, cast, "", s);
            if (s.at > end_) throw std::logic_error("town: a case step after the end of the history");
            out_.push_back({out_.size(), std::move(s)});
        }
    }
}

void Town::points() {
    std::vector<std::vector<Award>> awards(members_.size() + 1);
    // Volunteers who helped handle a case earn points for it the next working day or so.
    for (const Case& c : cases_)
        for (const Item& it : c.items)
            if (it.op == Op::handle)
                for (std::size_t k = 0; k < it.nvol; ++k) {
                    const Instant at = cal_.add(it.at, hours{rng_.between(2, 8)});
                    if (at < end_ - hours{1}) awards[it.vol[k]].push_back({at, rng_.between(5, 20), "参与案件处置志愿服务", c.id});
                }
    constexpr std::array<std::string_view, 4> services{"volunteer service", "初心驿站志愿值守", "环境整治志愿服务", "政策宣讲志愿服务"};
    for (int k = 0; k < 160; ++k) {
        const auto i = rng_.below(static_cast<std::uint32_t>(members_.size()));
        if (members_[i].lost) continue;
        const sys_days from = WorkCalendar::local_day(members_[i].registered) + days{1};
        for (int j = rng_.between(1, 3); j > 0; --j)
            awards[i + 1].push_back({some_time(from, day_of(11, 18)), rng_.between(5, 30), services[rng_.below(4)], {}});
    }
    struct Goods {
        std::string_view item;
        int points;
    };
    constexpr std::array<Goods, 4> goods{{{"大米5kg", 20}, {"食用油", 15}, {"洗衣液", 10}, {"理发服务券", 5}}};
    for (std::uint32_t n = 1; n < awards.size(); ++n) {
        auto& list = awards[n];
        std::stable_sort(list.begin(), list.end(), [](const Award& a, const Award& b) { return a.at < b.at; });
        const std::string id = member_id(n);
        int balance = 0;
        for (std::size_t k = 0; k < list.size(); ++k) {
            const Award& a = list[k];
            json data{{"member_id", id}, {"points", a.points}, {"reason", a.reason}};
            if (!a.case_id.empty()) data["case_id"] = a.case_id;
            post(a.at, director_, "PointsAwarded", std::move(data));
            balance += a.points;
            // Sometimes spend some of the balance before the next award comes in.
            const Instant until = k + 1 < list.size() ? list[k + 1].at : end_;
            const Instant when = cal_.add(a.at, hours{rng_.between(1, 16)});
            if (when >= until || !rng_.chance(0.4)) continue;
            for (const auto& g : goods)
                if (g.points <= balance) {
                    post(when, director_, "PointsRedeemed", {{"member_id", id}, {"points", g.points}, {"item", g.item}});
                    balance -= g.points;
                    break;
                }
        }
    }
}

std::vector<Step> Town::build() {
    organisation();
    register_members();
    member_lives();
    plan_cases();
    render_cases();
    points();
    std::stable_sort(out_.begin(), out_.end(), [](const Pending& a, const Pending& b) {
        return a.step.at != b.step.at ? a.step.at < b.step.at : a.seq < b.seq;
    });
    std::vector<Step> steps;
    steps.reserve(out_.size());
    char buf[32];
    for (auto& p : out_) {
        std::snprintf(buf, sizeof buf, "town-%06zu", steps.size() + 1);
        p.step.posted["event_id"] = buf;
        steps.push_back(std::move(p.step));
    }
    return steps;
}

} // namespace

std::vector<Step> sample_town() { return Town{}.build(); }

} // namespace gridloop::samples
