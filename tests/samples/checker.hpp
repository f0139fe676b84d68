// A small, independent replay checker for sample scripts: walks the steps as the engine would and
// records every step the contract would refuse (state machine, time limits on the posted calendar,
// organisation and member rules), plus the figures the sample tests assert on.
#pragma once

#include "events/event.hpp"
#include "events/time.hpp"
#include "samples/step.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace gridloop::samples::check {

using events::Instant;
using nlohmann::json;
using namespace std::chrono;

inline bool valid_id(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    auto ok = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && (c == '.' || c == '_' || c == '-'));
    };
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!ok(s[i], i == 0)) return false;
    return true;
}

constexpr std::array<const char*, 6> rungs{"worker", "micro_head", "grid", "community", "town", "department"};
inline int rung_of(const std::string& s) {
    for (int i = 0; i < 6; ++i)
        if (s == rungs[static_cast<std::size_t>(i)]) return i;
    return -1;
}
inline int level_rank(const std::string& s) {
    static const std::array<const char*, 4> levels{"town", "community", "grid", "micro"};
    for (int i = 0; i < 4; ++i)
        if (s == levels[static_cast<std::size_t>(i)]) return i;
    return -1;
}

// Working time on a posted calendar; Asia/Shanghai only (UTC+8, no DST), day by day.
struct Calendar {
    std::set<sys_days> holidays, makeup;
    std::set<unsigned> workdays{1, 2, 3, 4, 5};
    minutes start{9 * 60}, end{17 * 60};
    static constexpr hours offset{8};

    bool workday(sys_days d) const {
        if (holidays.count(d)) return false;
        if (makeup.count(d)) return true;
        return workdays.count(weekday{d}.iso_encoding()) > 0;
    }
    static sys_days day_of(Instant t) { return floor<days>(t + offset); }
    bool in_hours(Instant t) const {
        const auto d = day_of(t);
        return workday(d) && t >= Instant{d} + start - offset && t < Instant{d} + end - offset;
    }
    milliseconds working(Instant a, Instant b) const {
        milliseconds total{0};
        if (b <= a) return total;
        for (auto d = day_of(a); d <= day_of(b); d += days{1}) {
            if (!workday(d)) continue;
            const Instant s = std::max(a, Instant{d} + start - offset), e = std::min(b, Instant{d} + end - offset);
            if (e > s) total += e - s;
        }
        return total;
    }
    milliseconds span() const { return end - start; }
};

struct CaseInfo {
    std::vector<std::string> types;
    std::vector<std::string> to_rungs;  // explicit escalations, in order
    std::vector<std::string> ratings;   // "rating/solved"
    std::string state = "open", source, severity, dismiss_reason, grid;
    int rung = 0, dispatcher = 0, round = 1, returns = 0;
    bool has_grid = false;
    bool floating = false; // the engine's timers took over at some point
    bool overdue_at_end = false;
    bool volunteers = false, occurred = false, supervised = false;
    std::string dept;
    Instant entry{}, reported{};
};

struct MemberInfo {
    std::string home, residence, category;
    long balance = 0;
    Instant last_contact{};
};

class Checker {
public:
    // How close to a limit a scripted action may come before the checker calls it ambiguous.
    milliseconds margin = minutes{30};

    void feed(const samples::Step& s) {
        ++steps_;
        where_ = "step " + std::to_string(steps_);
        if (steps_ > 1 && s.at < last_at_) fail("`at` decreases");
        last_at_ = s.at;
        const json& p = s.posted;
        if (!p.is_object() || !p.contains("type") || !p.contains("data") || !p.contains("event_id")) {
            fail("posted form lacks type/data/event_id");
            return;
        }
        for (const auto& [k, v] : p.items())
            if (k != "type" && k != "data" && k != "event_id" && k != "occurred_at") fail("posted key " + k);
        const std::string id = p["event_id"].get<std::string>();
        if (id.empty() || id.size() > 64 || !event_ids_.insert(id).second) fail("event_id missing, long or repeated: " + id);
        where_ += " (" + id + ")";
        // The project's own strict decoder must accept it as posted.
        if (auto r = events::decode_posted(p); !r) fail("decode: " + r.error().message);
        Instant t = s.at;
        Instant claimed = s.at;
        if (p.contains("occurred_at")) {
            const auto o = events::parse_time(p["occurred_at"].get<std::string>());
            if (!o || *o > s.at) fail("occurred_at unparsable or after `at`");
            else claimed = *o;
            const auto& txt = p["occurred_at"].get_ref<const std::string&>();
            if (txt.back() == 'Z') fail("occurred_at should carry the local offset");
        }
        const std::string type = p["type"].get<std::string>();
        const json& d = p["data"];
        ++type_counts[type];
        ids_in(d);
        if (type == "GridDefined" || type == "DepartmentRegistered" || type == "PersonAssigned" || type == "PolicySet" ||
            type == "CalendarSet")
            organisation(type, d, s.actor);
        else if (type.rfind("Member", 0) == 0 || type.rfind("Points", 0) == 0)
            member(type, d, s.actor, t);
        else
            issue(type, d, s.actor, t, claimed, p.contains("occurred_at"));
    }

    // Settles which open cases have overrun their rung by the end of the history.
    void finish() {
        for (auto& [id, c] : cases)
            if (c.state == "open" && !c.floating) c.overdue_at_end = cal.working(c.entry, last_at_) >= limit(c.rung);
    }

    const std::vector<std::string>& errors() const { return errors_; }
    std::size_t steps() const { return steps_; }
    Instant last_at() const { return last_at_; }

    int lost_contact(milliseconds after = hours{24 * 90}) const {
        int n = 0;
        for (const auto& [id, m] : members)
            if (last_at_ - m.last_contact > after) ++n;
        return n;
    }

    Calendar cal;
    std::array<milliseconds, 6> limits{hours{8}, hours{16}, hours{24}, hours{24}, hours{40}, hours{40}};
    int max_returns = 2;
    std::map<std::string, int> type_counts, grids_by_level, dept_kinds, persons_by_role, persons_by_team, members_by_category;
    int stations = 0;
    std::unordered_map<std::string, std::pair<std::string, std::string>> grids; // id → level, parent
    std::unordered_map<std::string, std::vector<std::string>> dept_serves;
    std::unordered_map<std::string, std::string> person_role;
    std::unordered_map<std::string, MemberInfo> members;
    std::map<std::string, CaseInfo> cases;

private:
    void fail(const std::string& what) {
        if (errors_.size() < 50) errors_.push_back(where_ + ": " + what);
    }
    milliseconds limit(int rung) const { return limits[static_cast<std::size_t>(rung)]; }

    // Every id-valued field keeps the pattern.
    void ids_in(const json& d) {
        static const std::set<std::string> id_keys{"grid_id", "parent_id",  "dept_id",  "person_id",      "member_id", "case_id",
                                                   "to_grid", "to_branch",  "home_branch", "residence_grid", "category"};
        static const std::set<std::string> id_lists{"serves", "participants", "volunteers"};
        for (const auto& [k, v] : d.items()) {
            if (id_keys.count(k) && v.is_string() && !valid_id(v.get<std::string>())) fail("id off pattern: " + k);
            if (id_lists.count(k) && v.is_array())
                for (const auto& x : v)
                    if (!x.is_string() || !valid_id(x.get<std::string>())) fail("id off pattern in " + k);
        }
    }

    bool is_under(std::string grid, const std::string& ancestor) const {
        for (int guard = 0; guard < 10; ++guard) {
            if (grid == ancestor) return true;
            auto it = grids.find(grid);
            if (it == grids.end() || it->second.second.empty()) return false;
            grid = it->second.second;
        }
        return false;
    }

    void organisation(const std::string& type, const json& d, const std::string& actor) {
        if (actor != "admin") fail("organisation event by " + actor);
        if (type == "GridDefined") {
            const auto id = d.at("grid_id").get<std::string>();
            const auto level = d.at("level").get<std::string>();
            if (grids.count(id)) fail("grid defined twice " + id);
            std::string parent;
            if (level == "town") {
                if (!d.at("parent_id").is_null()) fail("town with a parent");
            } else {
                parent = d.at("parent_id").get<std::string>();
                auto it = grids.find(parent);
                if (it == grids.end()) fail("unknown parent " + parent);
                else if (level_rank(it->second.first) >= level_rank(level)) fail("parent level not higher: " + id);
            }
            if (d.contains("station")) ++stations;
            grids[id] = {level, parent};
            ++grids_by_level[level];
        } else if (type == "DepartmentRegistered") {
            const auto id = d.at("dept_id").get<std::string>();
            if (dept_serves.count(id)) fail("department twice " + id);
            std::vector<std::string> serves;
            for (const auto& g : d.at("serves")) {
                if (!grids.count(g.get<std::string>())) fail("serves unknown grid");
                serves.push_back(g.get<std::string>());
            }
            if (serves.empty()) fail("serves nothing");
            dept_serves[id] = serves;
            ++dept_kinds[d.at("kind").get<std::string>()];
        } else if (type == "PersonAssigned") {
            const auto id = d.at("person_id").get<std::string>();
            const auto role = d.at("role").get<std::string>();
            if (person_role.count(id)) fail("person twice " + id);
            if (d.contains("grid_id") == d.contains("dept_id")) fail("person needs exactly one of grid_id, dept_id");
            if (d.contains("grid_id") && !grids.count(d["grid_id"].get<std::string>())) fail("person in unknown grid");
            if (d.contains("dept_id") && !dept_serves.count(d["dept_id"].get<std::string>())) fail("person in unknown department");
            if ((role == "department_staff") != d.contains("dept_id")) fail("department staff ⇔ dept_id");
            person_role[id] = role;
            ++persons_by_role[role];
            if (d.contains("team")) ++persons_by_team[d["team"].get<std::string>()];
        } else if (type == "PolicySet") {
            if (d.contains("start_rung")) fail("the checker assumes no start_rung");
            for (const auto& [k, v] : d.at("limits").items()) {
                const auto dur = events::parse_duration(v.get<std::string>());
                if (!dur || rung_of(k) < 0) {
                    fail("bad limit " + k);
                    continue;
                }
                limits[static_cast<std::size_t>(rung_of(k))] = cal.span() * dur->days + seconds{dur->seconds};
            }
            if (d.contains("max_returns")) max_returns = d["max_returns"].get<int>();
        } else if (type == "CalendarSet") {
            if (d.at("timezone") != "Asia/Shanghai") fail("the checker knows only Asia/Shanghai");
            auto date = [](const std::string& s) {
                return sys_days{floor<days>(*events::parse_time(s + "T00:00:00Z"))};
            };
            auto clock = [](const std::string& s) { return minutes{std::stoi(s.substr(0, 2)) * 60 + std::stoi(s.substr(3, 2))}; };
            cal = Calendar{};
            cal.workdays.clear();
            for (const auto& w : d.at("workdays")) cal.workdays.insert(w.get<unsigned>());
            cal.start = clock(d.at("work_hours")[0].get<std::string>());
            cal.end = clock(d.at("work_hours")[1].get<std::string>());
            for (const auto& h : d.value("holidays", json::array())) cal.holidays.insert(date(h.get<std::string>()));
            for (const auto& h : d.value("makeup_workdays", json::array())) cal.makeup.insert(date(h.get<std::string>()));
        }
    }

    void member(const std::string& type, const json& d, const std::string& actor, Instant t) {
        if (actor != "admin" && !person_role.count(actor)) fail("member event by unknown " + actor);
        const auto id = d.at("member_id").get<std::string>();
        if (type == "MemberRegistered") {
            if (members.count(id)) fail("member registered twice " + id);
            MemberInfo m;
            m.home = d.at("home_branch").get<std::string>();
            m.residence = d.at("residence_grid").get<std::string>();
            m.category = d.at("category").get<std::string>();
            m.last_contact = t;
            if (!grids.count(m.home) || grids[m.home].first != "grid") fail("home branch is not a branch grid");
            if (!grids.count(m.residence) || grids[m.residence].first != "micro") fail("residence is not a micro-grid");
            members[id] = m;
            ++members_by_category[m.category];
            return;
        }
        auto it = members.find(id);
        if (it == members.end()) {
            fail(type + " for unknown member " + id);
            return;
        }
        MemberInfo& m = it->second;
        if (type == "MemberRelocated") {
            const auto to = d.at("to_grid").get<std::string>();
            if (!grids.count(to) || to == m.residence) fail("relocation to unknown or same grid");
            m.residence = to;
        } else if (type == "MemberReportedIn") {
            if (d.at("grid_id") != m.residence) fail("reported in away from the residence grid");
            m.last_contact = t;
        } else if (type == "MemberContacted") {
            if (!person_role.count(d.at("by").get<std::string>())) fail("contacted by unknown person");
            m.last_contact = t;
        } else if (type == "MembershipTransferred") {
            const auto to = d.at("to_branch").get<std::string>();
            if (!grids.count(to) || grids[to].first != "grid" || to == m.home) fail("transfer to unknown, non-branch or same branch");
            m.home = to;
        } else if (type == "PointsAwarded") {
            const long pts = d.at("points").get<long>();
            if (pts <= 0) fail("award of no points");
            if (d.contains("case_id") && !cases.count(d["case_id"].get<std::string>())) fail("points for an unknown case");
            m.balance += pts;
        } else if (type == "PointsRedeemed") {
            const long pts = d.at("points").get<long>();
            if (pts <= 0 || pts > m.balance) fail("redeems more than the balance");
            m.balance -= pts;
        }
        if (m.balance < 0) fail("negative balance");
    }

    void issue(const std::string& type, const json& d, const std::string& actor, Instant t, Instant claimed, bool has_occurred) {
        if (!person_role.count(actor)) fail("case event by unknown person " + actor);
        if (!cal.in_hours(t)) fail("case event outside working hours");
        const auto id = d.at("case_id").get<std::string>();
        if (type == "IssueReported") {
            if (cases.count(id)) {
                fail("case reported twice " + id);
                return;
            }
            CaseInfo c;
            c.grid = d.at("grid_id").get<std::string>();
            auto g = grids.find(c.grid);
            if (g == grids.end() || g->second.first != "micro") fail("report at an unknown or non-micro grid");
            else c.has_grid = grids[g->second.second].first == "grid";
            c.source = d.at("source").get<std::string>();
            c.severity = d.value("severity", "normal");
            c.entry = std::min(t, claimed);
            c.reported = t;
            c.types.push_back(type);
            c.occurred = has_occurred;
            cases[id] = c;
            return;
        }
        auto it = cases.find(id);
        if (it == cases.end()) {
            fail(type + " for unknown case " + id);
            return;
        }
        CaseInfo& c = it->second;
        c.types.push_back(type);
        c.occurred = c.occurred || has_occurred;
        // The engine's timers: an open case left on its rung past the limit moves on its own.
        if (c.state == "open" && !c.floating) {
            const auto spent = cal.working(c.entry, t), lim = limit(c.rung);
            if (spent + margin >= lim) {
                if (spent <= lim + margin) fail("action within the margin of the rung's limit: ambiguous");
                c.floating = true;
            }
        }
        auto need = [&](const char* state) {
            if (c.state != state) fail(type + " while " + c.state + " (needs " + state + ") " + id);
            return c.state == state;
        };
        if (type == "IssueDiscussed") {
            need("open");
            if (d.at("participants").empty()) fail("no participants");
            for (const auto& p : d.at("participants"))
                if (!person_role.count(p.get<std::string>())) fail("unknown participant");
        } else if (type == "IssueEscalated") {
            if (!need("open")) return;
            if (c.floating) fail("explicit escalation after a time-out: the rung is unknown");
            if (d.value("auto", false)) fail("auto escalation in a script");
            const int to = rung_of(d.at("to_rung").get<std::string>());
            if (to <= c.rung) fail("to_rung not above the current rung");
            if (to == 2 && !c.has_grid) fail("escalation to a grid rung the case does not have");
            c.to_rungs.push_back(rungs[static_cast<std::size_t>(std::max(to, 0))]);
            if (to == 5) {
                const auto dept = d.at("dept_id").get<std::string>();
                auto s = dept_serves.find(dept);
                bool serves = false;
                if (s != dept_serves.end())
                    for (const auto& g : s->second) serves = serves || is_under(c.grid, g);
                if (!serves) fail("department does not serve the case's grid");
                c.dispatcher = c.rung;
                c.dept = dept;
            } else if (d.contains("dept_id")) {
                fail("dept_id below the department rung");
            }
            c.rung = to;
            c.entry = t;
        } else if (type == "IssueReturned") {
            if (!need("open")) return;
            if (c.floating || c.rung != 5) fail("return while not (known to be) at a department");
            if (d.at("dept_id") != c.dept) fail("returned by another department");
            ++c.returns;
            // Every reading of "after max_returns returns: to town" must agree.
            const int a = c.dispatcher, b = c.returns >= max_returns ? 4 : a, e = c.returns > max_returns ? 4 : a;
            if (a != b || a != e) fail("return whose destination depends on reading max_returns");
            c.rung = a;
            c.entry = t;
        } else if (type == "IssueSupervised") {
            need("open");
            if (c.floating || (c.rung != 4 && c.rung != 5)) fail("supervision below town");
            auto by = person_role.find(d.at("by").get<std::string>());
            if (by == person_role.end() || by->second != "town_head") fail("supervised by someone not a town head");
            c.supervised = true;
        } else if (type == "IssueHandled") {
            if (!need("open")) return;
            if (!person_role.count(d.at("handler").get<std::string>())) fail("unknown handler");
            if (d.contains("volunteers")) {
                c.volunteers = true;
                for (const auto& v : d["volunteers"])
                    if (!members.count(v.get<std::string>())) fail("unknown volunteer");
            }
            c.state = "handled";
        } else if (type == "FeedbackGiven") {
            if (need("handled")) c.state = "fed_back";
        } else if (type == "SatisfactionRated") {
            if (!need("fed_back")) return;
            const auto rating = d.at("rating").get<std::string>(), solved = d.at("solved").get<std::string>();
            c.ratings.push_back(rating + "/" + solved);
            if (rating == "unsatisfied" || solved == "no") {
                c.state = "open";
                ++c.round;
                c.entry = t;
            } else {
                c.state = "closed";
            }
        } else if (type == "IssueDismissed") {
            if (!need("open")) return;
            c.state = "dismissed";
            c.dismiss_reason = d.at("reason").get<std::string>();
        } else {
            fail("unknown type " + type);
        }
    }

    std::size_t steps_ = 0;
    Instant last_at_{};
    std::string where_;
    std::unordered_set<std::string> event_ids_;
    std::vector<std::string> errors_;
};

// The first few errors, one per line, for a failing check's message.
inline std::string first_errors(const Checker& c, std::size_t n = 8) {
    std::string out;
    for (std::size_t i = 0; i < c.errors().size() && i < n; ++i) out += "\n  " + c.errors()[i];
    return out;
}

} // namespace gridloop::samples::check
