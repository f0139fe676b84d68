// PRNG, working calendar, case planner and rendering shared by the sample scripts.
#include "samples/script.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace gridloop::samples::detail {

using namespace std::chrono;
using nlohmann::json;

// ---- Rng ----

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
} // namespace

Rng::Rng(std::uint64_t seed) {
    for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t Rng::next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

std::uint32_t Rng::below(std::uint32_t n) { return static_cast<std::uint32_t>(((next() >> 32) * n) >> 32); }

int Rng::between(int lo, int hi) { return lo + static_cast<int>(below(static_cast<std::uint32_t>(hi - lo + 1))); }

double Rng::unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

Weighted::Weighted(std::span<const double> weights) {
    double sum = 0;
    cum_.reserve(weights.size());
    for (double w : weights) cum_.push_back(sum += w);
}

std::uint32_t Weighted::draw(Rng& rng) const {
    const double x = rng.unit() * cum_.back();
    const auto it = std::upper_bound(cum_.begin(), cum_.end(), x);
    return static_cast<std::uint32_t>(std::min<std::size_t>(it - cum_.begin(), cum_.size() - 1));
}

double zipf_weight(std::size_t rank) {
    const double r = std::sqrt(static_cast<double>(rank + 1));
    return 1.0 / (r * std::sqrt(r));
}

// ---- WorkCalendar ----

namespace {
constexpr sys_days date(int y, unsigned m, unsigned d) { return sys_days{year{y} / month{m} / day{d}}; }
constexpr sys_days jan1_2026 = date(2026, 1, 1);

std::string format_date(sys_days d) {
    const year_month_day ymd{d};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    return buf;
}
} // namespace

WorkCalendar::WorkCalendar() {
    // 国务院办公厅关于2026年部分节假日安排的通知: every day off, and the weekend days worked instead.
    const std::pair<sys_days, sys_days> off[] = {
        {date(2026, 1, 1), date(2026, 1, 3)},   {date(2026, 2, 15), date(2026, 2, 23)}, {date(2026, 4, 4), date(2026, 4, 6)},
        {date(2026, 5, 1), date(2026, 5, 5)},   {date(2026, 6, 19), date(2026, 6, 21)}, {date(2026, 9, 25), date(2026, 9, 27)},
        {date(2026, 10, 1), date(2026, 10, 7)},
    };
    for (auto [from, to] : off)
        for (auto d = from; d <= to; d += days{1}) holidays_.push_back(d);
    makeup_ = {date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)};
    for (auto d : holidays_) kind_2026_[static_cast<std::size_t>((d - jan1_2026).count())] = 1;
    for (auto d : makeup_) kind_2026_[static_cast<std::size_t>((d - jan1_2026).count())] = 2;
}

const WorkCalendar& WorkCalendar::china_2026() {
    static const WorkCalendar cal;
    return cal;
}

sys_days WorkCalendar::local_day(Instant t) { return floor<days>(t + offset); }

Instant WorkCalendar::local(sys_days day, int hour, int minute) {
    return Instant{day} + hours{hour} + minutes{minute} - offset;
}

bool WorkCalendar::workday(sys_days d) const {
    const auto i = (d - jan1_2026).count();
    if (i >= 0 && i < 365) {
        if (kind_2026_[static_cast<std::size_t>(i)] == 1) return false;
        if (kind_2026_[static_cast<std::size_t>(i)] == 2) return true;
    }
    return weekday{d}.iso_encoding() <= 5;
}

bool WorkCalendar::working(Instant t) const {
    const auto d = local_day(t);
    return workday(d) && t >= Instant{d} + day_start - offset && t < Instant{d} + day_end - offset;
}

Instant WorkCalendar::next_working(Instant t) const {
    auto d = local_day(t);
    if (workday(d)) {
        const Instant start = Instant{d} + day_start - offset;
        if (t < start) return start;
        if (t < Instant{d} + day_end - offset) return t;
    }
    do d += days{1};
    while (!workday(d));
    return Instant{d} + day_start - offset;
}

Instant WorkCalendar::add(Instant t, Millis working) const {
    t = next_working(t);
    for (;;) {
        const Instant end = Instant{local_day(t)} + day_end - offset;
        if (working < end - t) return t + working;
        working -= end - t;
        t = next_working(end);
    }
}

std::vector<sys_days> WorkCalendar::workdays(sys_days from, sys_days to) const {
    std::vector<sys_days> out;
    for (auto d = from; d <= to; d += days{1})
        if (workday(d)) out.push_back(d);
    return out;
}

json WorkCalendar::calendar_data() const {
    json holidays = json::array(), makeup = json::array();
    for (auto d : holidays_) holidays.push_back(format_date(d));
    for (auto d : makeup_) makeup.push_back(format_date(d));
    return {{"timezone", "Asia/Shanghai"},
            {"workdays", {1, 2, 3, 4, 5}},
            {"work_hours", {"09:00", "17:00"}},
            {"holidays", std::move(holidays)},
            {"makeup_workdays", std::move(makeup)}};
}

std::string format_local(Instant t) {
    const auto local = t + WorkCalendar::offset;
    const auto d = floor<days>(local);
    const year_month_day ymd{d};
    const hh_mm_ss<seconds> hms{floor<seconds>(local - d)};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d+08:00", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
    return buf;
}

// ---- policy ----

const Limits& Limits::defaults() {
    static const Limits l{{hours{8}, hours{16}, hours{24}, hours{24}, hours{40}, hours{40}}};
    return l;
}

json policy_data() {
    return {{"limits",
             {{"worker", "P1D"}, {"micro_head", "P2D"}, {"grid", "P3D"}, {"community", "P3D"}, {"town", "P5D"}, {"department", "P5D"}}},
            {"max_returns", max_returns},
            {"lost_contact_after", "P90D"}};
}

// ---- categories and texts ----

std::span<const Category> categories() {
    using K = DeptKind;
    static const Category table[] = {
        {"illegal_parking", "违章停车", "机动车长期占用消防通道和人行道", "联系车主挪车，施划停车线并张贴温馨提示", K::city_management, K::police, 30, true},
        {"garbage", "垃圾堆放", "楼道口及绿化带堆放生活垃圾和建筑垃圾", "组织保洁清运，设置分类投放点", K::municipal, K::city_management, 22, false},
        {"shopfront_encroachment", "出店经营", "沿街商铺出店经营，货物占用人行道", "劝导商户退店经营，签订门前三包责任书", K::city_management, K::market_supervision, 18, true},
        {"noise", "噪音扰民", "夜间装修及广场舞音响噪音扰民", "上门劝导，约定装修与活动时间和音量", K::police, K::city_management, 12, false},
        {"road_damage", "道路破损", "小区主干道路面坑洼，雨天积水", "修补路面坑槽，设置警示标志", K::municipal, K::city_management, 9, false},
        {"drainage", "排水不畅", "雨水井堵塞，雨后路面积水", "疏通雨水管网，清掏窨井", K::municipal, K::other, 8, false},
        {"street_light", "路灯故障", "多盏路灯不亮，夜间出行不便", "更换灯具和线路，恢复照明", K::municipal, K::other, 7, false},
        {"dispute", "邻里纠纷", "楼上楼下因漏水问题发生纠纷", "组织人民调解，双方签订调解协议", K::judicial, K::police, 7, false},
        {"ebike_charging", "飞线充电", "居民从楼上拉线为电动自行车充电", "拆除飞线，引导到集中充电桩充电", K::police, K::city_management, 6, false},
        {"illegal_construction", "违章搭建", "一楼住户私自搭建阳光房", "责令限期拆除，当事人已自行拆除", K::city_management, K::municipal, 5, false},
        {"fire_hazard", "消防隐患", "楼道堆放杂物，堵塞安全出口", "清理楼道杂物，检查消防设施", K::police, K::city_management, 5, false},
        {"greening", "绿化损毁", "公共绿地被毁种菜", "恢复绿化，补种苗木", K::municipal, K::city_management, 4, false},
        {"unlicensed_business", "无照经营", "居民楼内无照开设加工小作坊", "责令停业整改，指导办理证照", K::market_supervision, K::city_management, 3, false},
        {"food_safety", "食品安全", "早餐摊点卫生条件差", "检查整改，规范经营", K::market_supervision, K::city_management, 3, false},
        {"property_dispute", "物业纠纷", "业主与物业因收费和服务质量产生矛盾", "组织业委会与物业协商，达成一致", K::judicial, K::market_supervision, 3, false},
        {"stray_animals", "流浪动物", "小区流浪犬聚集，有伤人隐患", "联系收容机构捕捉安置", K::city_management, K::police, 2, false},
        {"elderly_care", "独居老人关爱", "独居老人多日无人应答", "上门探视，联系家属，落实结对帮扶", K::none, K::none, 2, false},
        {"water_supply", "供水故障", "老旧小区水压不足，高层停水", "协调供水企业检修加压设备", K::other, K::municipal, 2, false},
    };
    return table;
}

std::string_view path_name(Path p) {
    static constexpr std::array<std::string_view, static_cast<std::size_t>(Path::count)> names{
        "worker_solved",      "micro_consult",     "grid_handled",        "community_handled",
        "town_handled",       "town_supervised",   "department",          "department_returned",
        "department_twice_returned", "department_supervised", "reopened", "reopened_twice",
        "dismissed",          "timed_out",         "timed_out_dismissed", "open_untouched",
        "open_escalated",     "awaiting_feedback", "awaiting_rating"};
    return names[static_cast<std::size_t>(p)];
}

namespace {

constexpr std::array<std::string_view, 6> escalation_reasons{
    "",
    "网格员无法独立处置，提请微网格长召集三支团队会商",
    "涉及多个楼院，提请网格支部协调",
    "涉及多方利益，提请社区党群联席会议研究",
    "社区层面无法解决，上报镇总网格",
    "超出网格处置权限，派单至职能部门联勤处置",
};
constexpr std::array<std::string_view, 4> decisions{
    "三支团队会商：管理团队牵头，工作团队和志愿团队分工上门处置",
    "党群联席会议：社区统筹，联勤联动团队配合，限期整改",
    "镇总网格会商：明确牵头部门和完成时限",
    "联勤联动会商：职能部门派员与网格员联合处置",
};
constexpr std::array<std::string_view, 3> feedback_texts{
    "已将处置结果当面告知反映人", "已电话回访反映人，告知处置结果", "已在楼栋群公示处置结果"};
constexpr std::array<std::string_view, 3> comments{"处理及时，非常满意", "基本解决，希望巩固效果", "问题仍然存在，要求重新处理"};
constexpr std::array<std::string_view, 4> dismissal_notes{
    "与已受理案件重复，合并处理",
    "属业主自治事项，已引导通过业委会解决",
    "现场核实，反映情况不存在",
    "属上级部门专属职权，已告知反映人咨询渠道",
};

} // namespace

std::string chinese_name(Rng& rng) {
    static constexpr std::array<std::string_view, 48> surnames{
        "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
        "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
        "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "沈"};
    static constexpr std::array<std::string_view, 48> given{
        "建国", "秀英", "桂英", "志强", "海燕", "丽华", "国庆", "春梅", "晓东", "文博", "玉兰", "子涵",
        "宇轩", "欣怡", "浩然", "雨桐", "明辉", "红霞", "立新", "振华", "淑芬", "俊杰", "婷婷", "家豪",
        "思远", "美玲", "永明", "学军", "慧敏", "宏伟", "金凤", "德明", "卫东", "小燕", "雪梅", "国强",
        "海波", "丽娟", "志刚", "晨阳", "佳怡", "建平", "秀兰", "伟", "敏", "磊", "静", "勇"};
    std::string name(surnames[rng.below(surnames.size())]);
    name += given[rng.below(given.size())];
    return name;
}

std::string member_id(std::uint32_t n) {
    char buf[16] = {'m', '-', '0', '0', '0', '0', '0', '0'};
    char digits[12];
    const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    const auto len = static_cast<std::size_t>(end - digits);
    const std::size_t width = std::max<std::size_t>(len, 6);
    std::copy(digits, end, buf + 2 + width - len);
    return std::string(buf, 2 + width);
}

// ---- CasePlanner ----

CasePlanner::CasePlanner(const WorkCalendar& cal, Rng& rng, bool has_grid_rung, std::vector<Item>& out)
    : cal_(cal), rng_(rng), out_(out), has_grid_(has_grid_rung) {}

void CasePlanner::require(bool ok, const char* what) const {
    if (!ok) throw std::logic_error(std::string("case plan: ") + what);
}

Item& CasePlanner::push(Op op, Instant at) {
    Item& it = out_.emplace_back();
    it.at = at;
    it.op = op;
    it.rung = rung_;
    it.floating = floating_;
    it.dept = dept_;
    return it;
}

Instant CasePlanner::open_step() {
    if (floating_) {
        now_ = cal_.add(now_, minutes{rng_.between(10, 240)});
        return now_;
    }
    const Millis budget = Limits::defaults().of(rung_) * 7 / 10;
    const Millis left = budget - used_;
    require(left > minutes{2}, "no time left on the rung");
    const double share = 0.08 + 0.37 * rng_.unit();
    auto d = floor<seconds>(Millis{static_cast<Millis::rep>(static_cast<double>(left.count()) * share)});
    if (d < seconds{1}) d = seconds{1};
    used_ += d;
    now_ = cal_.add(now_, d);
    return now_;
}

Instant CasePlanner::idle_step(Millis lo, Millis hi) {
    const auto d = floor<seconds>(lo + Millis{static_cast<Millis::rep>(static_cast<double>((hi - lo).count()) * rng_.unit())});
    now_ = cal_.add(now_, d);
    return now_;
}

void CasePlanner::report(Instant at, Millis offline) {
    require(state_ == State::none, "report twice");
    now_ = cal_.next_working(at);
    Item& it = push(Op::report, now_);
    if (offline > Millis{0}) it.occurred = now_ - offline;
    state_ = State::open;
    used_ = {};
}

void CasePlanner::discuss(std::uint8_t variant) {
    require(state_ == State::open, "discuss while not open");
    push(Op::discuss, open_step()).arg = variant;
}

void CasePlanner::escalate(Rung to, std::uint8_t dept) {
    require(state_ == State::open && !floating_, "escalate while not open or after a timeout");
    require(to > rung_, "escalate to a rung not above the current one");
    require(to != Rung::grid || has_grid_, "escalate to a grid rung the case does not have");
    Item& it = push(Op::escalate, open_step());
    it.to = to;
    if (to == Rung::department) {
        it.dept = dept;
        dispatcher_ = rung_;
        dept_ = dept;
    }
    rung_ = to;
    used_ = {};
}

void CasePlanner::give_back() {
    require(state_ == State::open && !floating_ && rung_ == Rung::department, "return while not at a department");
    // From the max_returns-th return on, the contract sends the case to town; only script such
    // returns where town also dispatched, so that every reading of the rule agrees.
    require(returns_ + 1 < max_returns || dispatcher_ == Rung::town, "return that may be diverted to town");
    push(Op::give_back, open_step());
    ++returns_;
    rung_ = dispatcher_;
    used_ = {};
}

void CasePlanner::supervise() {
    require(state_ == State::open && !floating_ && (rung_ == Rung::town || rung_ == Rung::department),
            "supervise below town");
    push(Op::supervise, open_step());
}

void CasePlanner::handle(std::span<const std::uint32_t> volunteers, Millis offline) {
    require(state_ == State::open, "handle while not open");
    const Instant prev = now_;
    Item& it = push(Op::handle, open_step());
    it.nvol = static_cast<std::uint8_t>(std::min<std::size_t>(volunteers.size(), it.vol.size()));
    std::copy_n(volunteers.begin(), it.nvol, it.vol.begin());
    if (offline > Millis{0}) {
        const Instant claimed = std::max<Instant>(it.at - offline, prev + minutes{1});
        if (claimed < it.at) it.occurred = claimed;
    }
    state_ = State::handled;
    handled_at_ = rung_;
    handled_floating_ = floating_;
}

void CasePlanner::feedback() {
    require(state_ == State::handled, "feedback while not handled");
    Item& it = push(Op::feedback, idle_step(minutes{10}, hours{4}));
    it.rung = handled_at_;
    it.floating = handled_floating_;
    state_ = State::fed_back;
}

void CasePlanner::rate(Rating rating, Solved solved) {
    require(state_ == State::fed_back, "rating while not fed back");
    Item& it = push(Op::rate, idle_step(minutes{30}, hours{16}));
    it.arg = static_cast<std::uint8_t>(static_cast<int>(rating) * 3 + static_cast<int>(solved));
    if (rating == Rating::unsatisfied || solved == Solved::no) {
        state_ = State::open; // 重办: a new round on the same rung, its clock restarted
        used_ = {};
    } else {
        state_ = State::closed;
    }
}

void CasePlanner::dismiss(DismissReason reason) {
    require(state_ == State::open, "dismiss while not open");
    push(Op::dismiss, open_step()).arg = static_cast<std::uint8_t>(reason);
    state_ = State::dismissed;
}

void CasePlanner::stall(Millis working_gap) {
    require(state_ == State::open, "stall while not open");
    require(floating_ || working_gap > Limits::defaults().of(rung_) + hours{1}, "stall shorter than the limit");
    now_ = cal_.add(now_, working_gap);
    floating_ = true;
}

// ---- paths ----

namespace {

void rate_well(CasePlanner& p, Rng& rng) {
    p.rate(rng.chance(0.8) ? Rating::satisfied : Rating::basically_satisfied, rng.chance(0.93) ? Solved::yes : Solved::unknown);
}

void rate_badly(CasePlanner& p, Rng& rng) {
    const auto x = rng.below(20);
    if (x < 12) p.rate(Rating::unsatisfied, Solved::no);
    else if (x < 17) p.rate(Rating::basically_satisfied, Solved::no);
    else p.rate(Rating::unsatisfied, Solved::unknown);
}

void close_well(CasePlanner& p, Rng& rng, std::span<const std::uint32_t> volunteers, Millis offline = {}) {
    p.handle(volunteers, offline);
    p.feedback();
    rate_well(p, rng);
}

std::uint8_t second(const PathInputs& in) { return in.two_departments ? 1 : 0; }

} // namespace

void plan_path(CasePlanner& p, Path path, Rng& rng, const PathInputs& in) {
    const auto vols = in.volunteers;
    switch (path) {
    case Path::worker_solved:
        close_well(p, rng, vols, in.offline_handle);
        break;
    case Path::micro_consult:
        p.escalate(Rung::micro_head);
        p.discuss(0);
        close_well(p, rng, vols, in.offline_handle);
        break;
    case Path::grid_handled:
        p.escalate(Rung::micro_head);
        if (rng.chance(0.5)) p.discuss(0);
        p.escalate(p.has_grid_rung() ? Rung::grid : Rung::community);
        close_well(p, rng, vols);
        break;
    case Path::community_handled:
        if (rng.chance(0.2)) {
            p.escalate(Rung::community);
        } else {
            p.escalate(Rung::micro_head);
            if (rng.chance(0.4)) p.discuss(0);
            p.escalate(Rung::community);
        }
        p.discuss(1);
        close_well(p, rng, vols);
        break;
    case Path::town_handled:
    case Path::town_supervised:
        p.escalate(Rung::micro_head);
        p.escalate(Rung::community);
        p.escalate(Rung::town);
        if (rng.chance(0.5)) p.discuss(2);
        if (path == Path::town_supervised) p.supervise();
        close_well(p, rng, vols);
        break;
    case Path::department:
        switch (rng.below(4)) {
        case 0:
        case 1:
            p.escalate(Rung::micro_head);
            if (rng.chance(0.5)) p.discuss(3);
            break;
        case 2:
            p.escalate(Rung::micro_head);
            p.escalate(Rung::community);
            break;
        default: break; // the worker dispatches straight away (skipping rungs)
        }
        p.escalate(Rung::department, 0);
        close_well(p, rng, vols);
        break;
    case Path::department_returned:
        p.escalate(Rung::micro_head);
        if (rng.chance(0.3)) p.escalate(Rung::community);
        p.escalate(Rung::department, 0);
        p.give_back();
        if (rng.chance(0.5)) p.discuss(3);
        p.escalate(Rung::department, second(in));
        close_well(p, rng, vols);
        break;
    case Path::department_twice_returned:
        p.escalate(Rung::micro_head);
        p.escalate(Rung::community);
        p.escalate(Rung::town);
        p.escalate(Rung::department, 0);
        p.give_back();
        p.escalate(Rung::department, second(in));
        p.give_back();
        p.discuss(2);
        close_well(p, rng, vols);
        break;
    case Path::department_supervised:
        p.escalate(Rung::micro_head);
        p.escalate(Rung::department, 0);
        p.supervise();
        if (rng.chance(0.3)) p.supervise();
        close_well(p, rng, vols);
        break;
    case Path::reopened:
        if (rng.chance(0.3)) {
            p.escalate(Rung::micro_head);
            p.discuss(0);
        }
        p.handle(vols);
        p.feedback();
        rate_badly(p, rng);
        close_well(p, rng, {});
        break;
    case Path::reopened_twice:
        p.handle(vols);
        p.feedback();
        rate_badly(p, rng);
        p.handle();
        p.feedback();
        rate_badly(p, rng);
        p.escalate(Rung::micro_head);
        p.discuss(0);
        close_well(p, rng, {});
        break;
    case Path::dismissed:
        switch (rng.below(3)) {
        case 0: break;
        case 1: p.escalate(Rung::micro_head); break;
        default:
            p.escalate(Rung::micro_head);
            p.escalate(Rung::community);
            break;
        }
        p.dismiss(in.dismiss_reason);
        break;
    case Path::timed_out:
    case Path::timed_out_dismissed: {
        if (path == Path::timed_out && rng.chance(0.3)) p.escalate(Rung::micro_head);
        const Millis limit = Limits::defaults().of(p.rung());
        p.stall(limit + hours{2} + minutes{rng.between(0, 12 * 8 * 60)});
        if (path == Path::timed_out_dismissed) {
            p.dismiss(in.dismiss_reason);
            break;
        }
        p.handle(vols);
        p.feedback();
        if (rng.chance(0.25)) {
            rate_badly(p, rng);
            close_well(p, rng, {});
        } else {
            rate_well(p, rng);
        }
        break;
    }
    case Path::open_untouched: break;
    case Path::open_escalated:
        p.escalate(Rung::micro_head);
        if (rng.chance(0.5)) p.discuss(0);
        break;
    case Path::awaiting_feedback: p.handle(vols); break;
    case Path::awaiting_rating:
        p.handle(vols);
        p.feedback();
        break;
    case Path::count: throw std::logic_error("case plan: no such path");
    }
}

// ---- rendering ----

Fill::Fill(json& obj) : obj_(&obj) {
    if (!obj_->is_object()) *obj_ = json::object();
}

json& Fill::slot(std::string_view key) {
    if (n_ == keys_.size()) throw std::logic_error("Fill: too many keys");
    keys_[n_++] = key;
    auto it = obj_->find(key);
    if (it != obj_->end()) return *it;
    return (*obj_)[std::string(key)];
}

Fill& Fill::str(std::string_view key, std::string_view value) {
    json& j = slot(key);
    if (j.is_string()) j.get_ref<std::string&>().assign(value);
    else j = std::string(value);
    return *this;
}

Fill& Fill::num(std::string_view key, std::int64_t value) {
    slot(key) = value;
    return *this;
}

Fill& Fill::null(std::string_view key) {
    slot(key) = nullptr;
    return *this;
}

Fill& Fill::strs(std::string_view key, std::span<const std::string_view> values) {
    json& j = slot(key);
    if (!j.is_array()) j = json::array();
    auto& a = j.get_ref<json::array_t&>();
    a.resize(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (a[i].is_string()) a[i].get_ref<std::string&>().assign(values[i]);
        else a[i] = std::string(values[i]);
    }
    return *this;
}

json& Fill::raw(std::string_view key) { return slot(key); }

void Fill::done() {
    if (obj_->size() == n_) return;
    for (auto it = obj_->begin(); it != obj_->end();) {
        if (std::find(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(n_), it.key()) == keys_.begin() + static_cast<std::ptrdiff_t>(n_))
            it = obj_->erase(it);
        else
            ++it;
    }
}

std::span<const std::string_view> event_types() {
    static constexpr std::array<std::string_view, 21> types{
        "GridDefined",       "DepartmentRegistered", "PersonAssigned",  "PolicySet",      "CalendarSet",
        "MemberRegistered",  "MemberRelocated",      "MemberReportedIn", "MemberContacted", "MembershipTransferred",
        "PointsAwarded",     "PointsRedeemed",       "IssueReported",   "IssueDiscussed", "IssueEscalated",
        "IssueReturned",     "IssueSupervised",      "IssueHandled",    "FeedbackGiven",  "SatisfactionRated",
        "IssueDismissed"};
    return types;
}

int event_type_index(std::string_view type) {
    const auto types = event_types();
    for (std::size_t i = 0; i < types.size(); ++i)
        if (types[i] == type) return static_cast<int>(i);
    return -1;
}

std::string_view type_of(Op op) {
    switch (op) {
    case Op::report: return "IssueReported";
    case Op::discuss: return "IssueDiscussed";
    case Op::escalate: return "IssueEscalated";
    case Op::give_back: return "IssueReturned";
    case Op::supervise: return "IssueSupervised";
    case Op::handle: return "IssueHandled";
    case Op::feedback: return "FeedbackGiven";
    case Op::rate: return "SatisfactionRated";
    case Op::dismiss: return "IssueDismissed";
    }
    return {};
}

void render(const Item& it, const CaseCast& c, std::string_view event_id, Step& out) {
    const Category& cat = categories()[c.category];
    auto person_at = [&](Rung r, bool floating) -> std::string_view {
        if (floating) return c.person[static_cast<std::size_t>(Rung::town)];
        if (r == Rung::department) return c.dept_staff[it.dept];
        return c.person[static_cast<std::size_t>(r)];
    };
    const auto& micro_head = c.person[static_cast<std::size_t>(Rung::micro_head)];
    const std::string_view type = type_of(it.op);

    Fill top(out.posted);
    top.str("type", type).str("event_id", event_id);
    if (it.occurred != Instant{}) top.str("occurred_at", format_local(it.occurred));
    Fill data(top.raw("data"));
    top.done();
    data.str("case_id", c.case_id);
    std::string_view actor;
    switch (it.op) {
    case Op::report:
        actor = c.reporter_actor;
        data.str("category", cat.code)
            .str("description", c.description.empty() ? cat.description : c.description)
            .str("source", source_names[c.source])
            .str("grid_id", c.grid_id)
            .str("severity", severity_names[c.severity]);
        if (!c.reporter.empty()) data.str("reporter", c.reporter);
        break;
    case Op::discuss: {
        actor = person_at(it.rung, it.floating);
        std::array<std::string_view, 8> who{};
        std::size_t n = 0;
        auto add = [&](std::string_view p) {
            const auto end = who.begin() + static_cast<std::ptrdiff_t>(n);
            if (!p.empty() && std::find(who.begin(), end, p) == end) who[n++] = p;
        };
        static constexpr std::array<std::string_view, 4> all_teams{"management", "work", "volunteer", "joint"};
        static constexpr std::array<std::string_view, 3> joint_teams{"management", "work", "joint"};
        std::span<const std::string_view> teams;
        add(actor);
        switch (it.arg) {
        case 0: // 微网格长召集三支团队会商
            add(micro_head);
            add(c.person[0]);
            add(c.volunteer_person);
            teams = std::span(all_teams).first(3);
            break;
        case 1: // 党群联席会议
            add(c.person[static_cast<std::size_t>(Rung::community)]);
            add(c.person[static_cast<std::size_t>(Rung::grid)]);
            add(micro_head);
            add(c.person[0]);
            add(c.volunteer_person);
            add(c.dept_staff[0]);
            teams = all_teams;
            break;
        case 2: // 镇总网格会商
            add(c.person[static_cast<std::size_t>(Rung::town)]);
            add(c.person[static_cast<std::size_t>(Rung::community)]);
            add(micro_head);
            teams = std::span(all_teams).first(2);
            break;
        default: // 联勤联动
            add(micro_head);
            add(c.person[0]);
            add(c.dept_staff[0]);
            teams = joint_teams;
            break;
        }
        data.strs("participants", std::span(who).first(n)).strs("teams", teams).str("decision", decisions[it.arg % decisions.size()]);
        break;
    }
    case Op::escalate:
        actor = person_at(it.rung, false);
        data.str("to_rung", rung_names[static_cast<std::size_t>(it.to)]);
        if (it.to == Rung::department) data.str("dept_id", c.dept[it.dept]);
        data.str("reason", escalation_reasons[static_cast<std::size_t>(it.to)]);
        break;
    case Op::give_back:
        actor = c.dept_staff[it.dept];
        data.str("dept_id", c.dept[it.dept]).str("reason", "经核实不属于本部门职责范围，退回重新派单");
        break;
    case Op::supervise:
        actor = c.supervisor;
        data.str("by", c.supervisor)
            .str("note", it.rung == Rung::department ? "镇总网格督办：请职能部门加快处置，按时办结" : "镇总网格督办：明确责任人，限期办结");
        break;
    case Op::handle:
        actor = person_at(it.rung, it.floating);
        data.str("handler", actor).str("result", cat.result);
        if (it.nvol > 0) {
            std::array<std::string, 3> ids;
            std::array<std::string_view, 3> views;
            for (std::size_t i = 0; i < it.nvol; ++i) views[i] = ids[i] = member_id(it.vol[i]);
            data.strs("volunteers", std::span(views).first(it.nvol));
        }
        break;
    case Op::feedback:
        actor = it.rung == Rung::worker && !it.floating ? c.person[0] : micro_head;
        data.str("to", c.resident).str("content", feedback_texts[c.case_id.size() % feedback_texts.size()]);
        break;
    case Op::rate: {
        actor = micro_head;
        const auto rating = it.arg / 3u, solved = it.arg % 3u;
        data.str("rating", rating_names[rating]).str("solved", solved_names[solved]).str("rater", c.resident).str("comment", comments[rating]);
        break;
    }
    case Op::dismiss:
        actor = person_at(it.rung, it.floating);
        data.str("reason", dismiss_reason_names[it.arg]).str("note", dismissal_notes[it.arg]);
        break;
    }
    data.done();
    out.at = it.at;
    out.actor.assign(actor);
}

} // namespace gridloop::samples::detail
