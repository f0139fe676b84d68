// Machinery shared by the sample town and the synthetic city: a portable PRNG, the 2026 working
// calendar, case paths planned inside the contract's time limits, and their rendering as steps.
#pragma once

#include "samples/step.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gridloop::samples::detail {

using events::Instant;
using Millis = std::chrono::milliseconds;

// xoshiro256** seeded through splitmix64: the same numbers with every standard library.
class Rng {
public:
    explicit Rng(std::uint64_t seed);
    std::uint64_t next();
    std::uint32_t below(std::uint32_t n); // [0, n), n > 0
    int between(int lo, int hi);          // [lo, hi]
    double unit();                        // [0, 1)
    bool chance(double p) { return unit() < p; }

private:
    std::array<std::uint64_t, 4> s_{};
};

// Draws an index with probability proportional to its weight (binary search on the cumulative sums).
class Weighted {
public:
    Weighted() = default;
    explicit Weighted(std::span<const double> weights);
    std::uint32_t draw(Rng& rng) const;
    std::size_t size() const { return cum_.size(); }

private:
    std::vector<double> cum_;
};

// Long-tailed weight of the item of a given rank (0 = most frequent): (rank + 1)^-0.75, computed
// with square roots only, which IEEE 754 rounds exactly on every platform.
double zipf_weight(std::size_t rank);

// The calendar both scripts post: Asia/Shanghai (UTC+8 all year), Monday to Friday 09:00–17:00,
// China's 2026 public holidays and make-up workdays (国办发明电, 4 Nov 2025). Outside 2026 every
// Monday to Friday is a workday, which is also what the posted calendar says.
class WorkCalendar {
public:
    static const WorkCalendar& china_2026();

    static std::chrono::sys_days local_day(Instant t);
    // `hour:minute` on a local day.
    static Instant local(std::chrono::sys_days day, int hour, int minute);

    bool workday(std::chrono::sys_days day) const;
    bool working(Instant t) const;
    // `t` itself inside working hours, else the start of the next working day.
    Instant next_working(Instant t) const;
    // The instant at which `working` working time has passed since `t`; always inside working
    // hours (never exactly at a day's end).
    Instant add(Instant t, Millis working) const;
    // Working days in [from, to].
    std::vector<std::chrono::sys_days> workdays(std::chrono::sys_days from, std::chrono::sys_days to) const;

    // The `data` of the CalendarSet event.
    nlohmann::json calendar_data() const;

    static constexpr std::chrono::hours offset{8};
    static constexpr std::chrono::hours day_start{9}, day_end{17};

private:
    WorkCalendar();
    std::vector<std::chrono::sys_days> holidays_, makeup_;
    std::array<std::uint8_t, 366> kind_2026_{}; // 0 by weekday, 1 holiday, 2 make-up workday
};

// `2026-07-14T10:05:00+08:00`.
std::string format_local(Instant t);

enum class Rung : std::uint8_t { worker, micro_head, grid, community, town, department };
inline constexpr std::array<std::string_view, 6> rung_names{"worker", "micro_head", "grid", "community", "town", "department"};

// Working time per rung: the contract's defaults (P1D, P2D, P3D, P3D, P5D, P5D of 8-hour days).
struct Limits {
    std::array<Millis, 6> by_rung;
    static const Limits& defaults();
    Millis of(Rung r) const { return by_rung[static_cast<std::size_t>(r)]; }
};
inline constexpr int max_returns = 2;
// The `data` of the PolicySet both scripts post: the default limits written out.
nlohmann::json policy_data();

enum class DeptKind : std::uint8_t { police, city_management, market_supervision, municipal, judicial, other, none };
inline constexpr std::array<std::string_view, 6> dept_kind_names{"police",    "city_management", "market_supervision",
                                                                 "municipal", "judicial",        "other"};

struct Category {
    std::string_view code, label, description, result;
    DeptKind primary, secondary; // who is dispatched first, and after a return
    double weight;               // long-tailed share of all cases
    bool camera;                 // video analysis spots it
};
std::span<const Category> categories();

inline constexpr std::array<std::string_view, 4> source_names{"patrol", "resident", "hotline", "camera"};
inline constexpr std::array<std::string_view, 3> severity_names{"normal", "urgent", "major"};
inline constexpr std::array<std::string_view, 6> member_category_names{"in_service", "retired",    "mobile",
                                                                       "unemployed", "enterprise", "farmer"};

enum class Op : std::uint8_t { report, discuss, escalate, give_back, supervise, handle, feedback, rate, dismiss };
enum class Rating : std::uint8_t { satisfied, basically_satisfied, unsatisfied };
enum class Solved : std::uint8_t { yes, no, unknown };
enum class DismissReason : std::uint8_t { duplicate, not_responsible, invalid, out_of_scope };
inline constexpr std::array<std::string_view, 3> rating_names{"satisfied", "basically_satisfied", "unsatisfied"};
inline constexpr std::array<std::string_view, 3> solved_names{"yes", "no", "unknown"};
inline constexpr std::array<std::string_view, 4> dismiss_reason_names{"duplicate", "not_responsible", "invalid", "out_of_scope"};

// One planned case event, compact until it is rendered.
struct Item {
    Instant at;
    Instant occurred{}; // epoch: the client claims no earlier time
    Op op = Op::report;
    Rung rung = Rung::worker; // where the case stands when posted (for an escalation: before it)
    Rung to = Rung::worker;   // escalation target
    bool floating = false;    // the engine's timers may have moved the case: rung unknown
    std::uint8_t arg = 0;     // discussion variant, rating * 3 + solved, or dismissal reason
    std::uint8_t dept = 0;    // which of the case's departments (0 first, 1 after a return)
    std::uint8_t nvol = 0;
    std::array<std::uint32_t, 3> vol{}; // member numbers
};

// Plans one case's events so that each lands in working hours and well inside the limit of the
// rung the case stands on (at most 70% of it), unless `stall` deliberately lets the engine's
// timers take over; from then on only rung-independent events are planned. Misuse throws
// std::logic_error: a bug in a script, caught by the tests.
class CasePlanner {
public:
    CasePlanner(const WorkCalendar& cal, Rng& rng, bool has_grid_rung, std::vector<Item>& out);

    void report(Instant at, Millis offline = {});
    void discuss(std::uint8_t variant);
    void escalate(Rung to, std::uint8_t dept = 0);
    void give_back();
    void supervise();
    void handle(std::span<const std::uint32_t> volunteers = {}, Millis offline = {});
    void feedback();
    void rate(Rating rating, Solved solved);
    void dismiss(DismissReason reason);
    void stall(Millis working_gap);

    Rung rung() const { return rung_; }
    bool floating() const { return floating_; }
    bool has_grid_rung() const { return has_grid_; }
    bool open() const { return state_ == State::open; }
    Instant now() const { return now_; }

private:
    enum class State : std::uint8_t { none, open, handled, fed_back, closed, dismissed };
    Item& push(Op op, Instant at);
    Instant open_step();
    Instant idle_step(Millis lo, Millis hi);
    void require(bool ok, const char* what) const;

    const WorkCalendar& cal_;
    Rng& rng_;
    std::vector<Item>& out_;
    bool has_grid_;
    State state_ = State::none;
    Rung rung_ = Rung::worker, dispatcher_ = Rung::worker, handled_at_ = Rung::worker;
    bool floating_ = false, handled_floating_ = false;
    int returns_ = 0;
    std::uint8_t dept_ = 0;
    Instant now_{};
    Millis used_{}; // working time spent on the current rung
};

// The walks of the closed loop the samples script.
enum class Path : std::uint8_t {
    worker_solved,             // Reported → Handled → Feedback → satisfied
    micro_consult,             // → micro_head → Discussed → Handled …
    grid_handled,              // → micro_head → grid (community when the grid rung does not exist)
    community_handled,         // → community, joint meeting
    town_handled,              // → community → town
    town_supervised,           // … town, supervised by a town head, handled
    department,                // dispatched to a department that handles it
    department_returned,       // returned once, re-dispatched to another department
    department_twice_returned, // dispatched from town, returned twice (back to town either way)
    department_supervised,     // supervised while at the department
    reopened,                  // unsatisfied → new round → satisfied
    reopened_twice,            // two unsatisfied rounds, then consulted and closed
    dismissed,                 // dismissed at some rung
    timed_out,                 // left alone past the limits, then handled at whatever rung
    timed_out_dismissed,       // left alone, then dismissed
    open_untouched,            // reported, nothing else
    open_escalated,            // reported, taken to the micro-grid head, nothing else
    awaiting_feedback,         // handled, no feedback yet
    awaiting_rating,           // fed back, not rated yet
    count
};
std::string_view path_name(Path p);

struct PathInputs {
    bool two_departments = true; // a second department exists for a re-dispatch
    std::span<const std::uint32_t> volunteers;
    Millis offline_handle{};     // > 0: the first handling synced late by about this much
    DismissReason dismiss_reason = DismissReason::duplicate;
};
// Plans `path` after the case's report (already planned).
void plan_path(CasePlanner& plan, Path path, Rng& rng, const PathInputs& in);

// Who plays each part of one case; views into strings the script owns.
struct CaseCast {
    std::string_view case_id, grid_id;
    std::uint8_t category = 0, source = 0, severity = 0;
    std::string_view description;            // empty: the category's own
    std::string_view reporter_actor;          // who posts the report
    std::string_view reporter;                // the report's `reporter`
    std::string_view resident;                // feedback `to` and `rater`
    std::array<std::string_view, 5> person{}; // worker .. town head, by rung
    std::string_view supervisor;              // a town head
    std::string_view volunteer_person;        // a volunteer-team person, may be empty
    std::array<std::string_view, 2> dept{}, dept_staff{};
};

// A plausible Chinese personal name.
std::string chinese_name(Rng& rng);

// `m-000042`: the id of member number 42, in both scripts.
std::string member_id(std::uint32_t n);

// Writes an object's fields in place, reusing the nodes and string buffers of an earlier object
// of the same shape (nlohmann::json allocates per node, which dominates the synthetic stream);
// `done` removes the keys not written this time.
class Fill {
public:
    explicit Fill(nlohmann::json& obj);
    Fill& str(std::string_view key, std::string_view value);
    Fill& num(std::string_view key, std::int64_t value);
    Fill& null(std::string_view key);
    Fill& strs(std::string_view key, std::span<const std::string_view> values);
    nlohmann::json& raw(std::string_view key);
    void done();

private:
    nlohmann::json& slot(std::string_view key);
    nlohmann::json* obj_;
    std::array<std::string_view, 16> keys_{};
    std::size_t n_ = 0;
};

// The event types of the contract, and the index of a type's name (-1 if none).
std::span<const std::string_view> event_types();
int event_type_index(std::string_view type);

// The event type a planned item posts.
std::string_view type_of(Op op);

// Renders a planned item as a step with the given event id, in place over `out.posted`.
void render(const Item& item, const CaseCast& cast, std::string_view event_id, Step& out);

} // namespace gridloop::samples::detail
