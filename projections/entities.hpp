// The read model's entities and the pure per-entity folds that both the projections and the
// engine's decisions use, so that a batch can be decided against tentative copies.
#pragma once

#include "events/envelope.hpp"
#include "projections/calendar.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gridloop::projections {

using events::Instant;

struct Grid {
    std::string grid_id, name;
    events::Level level = events::Level::micro;
    std::optional<std::string> parent_id;
    std::vector<std::string> children; // in definition order
    std::optional<events::Polygon> boundary;
    std::optional<std::string> station;
    std::int64_t version = 0;
};

struct Department {
    std::string dept_id, name;
    events::DeptKind kind = events::DeptKind::other;
    std::vector<std::string> serves;
    std::int64_t version = 0;
};

struct Person {
    std::string person_id, name;
    events::PersonRole role = events::PersonRole::worker;
    std::optional<std::string> grid_id, dept_id;
    std::optional<events::Team> team;
    std::int64_t version = 0;
};

// The policy and calendar in force (the `policy` stream).
struct Config {
    std::map<events::Rung, events::Duration> limits; // every rung, defaults filled in
    std::map<events::Severity, events::Rung> start_rung;
    double satisfied_threshold = 0.8;
    std::int64_t max_returns = 2;
    events::Duration lost_contact_after{90, 0};
    std::vector<double> stars{60, 70, 80, 90};
    Calendar calendar;
    std::int64_t version = 0;

    Config(); // the contract's defaults
    // due_at of a clock started at `start` on `rung`.
    Instant due(events::Rung rung, Instant start) const;
};

// Bit i set = rung i exists for a case (worker, micro_head and department always; grid,
// community, town when the case's micro-grid has an ancestor of that level).
using RungMask = std::uint8_t;
constexpr bool has_rung(RungMask m, events::Rung r) { return m & (1u << static_cast<unsigned>(r)); }
// The lowest existing rung at or above r, if any.
std::optional<events::Rung> rung_at_or_above(RungMask m, events::Rung r);
// The next rung of the grid ladder above r (worker … town), skipping missing ones; none at town/department.
std::optional<events::Rung> next_grid_rung(RungMask m, events::Rung r);

// Actors and departments recur across millions of timeline entries: each entry holds their number
// in the model's name table (Model::name), 0 meaning none.
using NameId = std::uint32_t;

// One event of a case. Compact (40 bytes): a long log holds one per closed-loop event.
struct TimelineEntry {
    std::int64_t position = 0;
    Instant recorded_at{}, occurred_at{};
    NameId actor = 0;
    NameId dept = 0;                                   // after the event; 0 when on no department
    std::uint8_t type = 0;                             // index into events::event_types()
    events::CaseState state = events::CaseState::open; // after the event
    events::Rung rung = events::Rung::worker;          // after the event
    bool timed_out = false;                            // the event was a rung running out (Case::timeouts grew)
    std::string_view type_name() const { return events::event_types()[type]; }
};

struct Case {
    std::string case_id, grid_id, category;
    std::optional<std::string> dept_id;
    std::map<std::string, std::int64_t> returns_by_dept;
    std::int64_t round = 1;
    std::int64_t returns = 0;
    Instant reported_at{};      // recorded_at of IssueReported
    Instant clock_started_at{}; // when the current rung's clock started
    Instant due_at{};           // when the current rung runs out (meaningful while open)
    std::optional<Instant> handled_at;   // the last IssueHandled
    std::int64_t timeouts = 0;           // rungs that ran out: the engine's own escalations and supervisions
    std::int64_t handle_working_ms = 0;  // report → last handling, in working time
    std::int64_t ratings = 0;           // every SatisfactionRated
    std::int64_t ratings_satisfied = 0; // of those, satisfied or basically_satisfied
    std::int64_t version = 0;
    std::vector<TimelineEntry> timeline; // kept by the model (Model::apply), not by apply_case
    // The one-byte fields together (declaration order decides the padding).
    events::Source source = events::Source::patrol;
    events::Severity severity = events::Severity::normal;
    RungMask rungs = 0;
    events::CaseState state = events::CaseState::open;
    events::Rung rung = events::Rung::worker;
    std::optional<events::Rung> dispatched_from; // the rung that dispatched it to the department
    events::Rung highest_rung = events::Rung::worker;
    bool handled_on_time = false;        // that handling was before its rung's due_at
    std::optional<events::Rating> rating; // the latest
    std::optional<events::Solved> solved; // the latest

    bool overdue(Instant now) const { return state == events::CaseState::open && now >= due_at; }
};

struct MemberMove {
    std::int64_t position = 0;
    Instant at{};
    bool branch = false; // false: residence changed; true: home branch transferred
    std::string from, to;
};
struct PointsEntry {
    std::int64_t position = 0;
    Instant at{};
    std::int64_t points = 0; // negative for redemptions
    std::string note;        // reason or item
    std::optional<std::string> case_id;
};
struct ServiceRecord {
    std::int64_t position = 0;
    Instant at{};
    std::string case_id;
};

struct Member {
    std::string member_id, name;
    events::MemberCategory category = events::MemberCategory::in_service;
    std::string home_branch, residence_grid;
    Instant registered_at{}, last_contact_at{};
    std::int64_t points = 0; // balance, never negative
    std::vector<MemberMove> moves;
    std::vector<PointsEntry> ledger;
    std::vector<ServiceRecord> services;
    std::int64_t version = 0;

    bool lost_contact(Instant now, const Config& c) const { return now - last_contact_at >= c.lost_contact_after.calendar(); }
};

// ---- the per-entity folds; each assumes the event was decided valid ----
Grid make_grid(const events::GridDefined& e);
Department make_department(const events::DepartmentRegistered& e);
void apply_person(Person& p, const events::PersonAssigned& e);
// PolicySet / CalendarSet. A CalendarSet whose zone is unknown throws std::invalid_argument (decide refuses it first).
void apply_config(Config& c, const events::Event& e);
// Every closed-loop event; `rungs` is only read for IssueReported (the case's ladder). The timeline
// is the model's to extend: decisions on tentative copies do not need it.
void apply_case(Case& c, const events::Envelope& e, const Config& config, RungMask rungs);
// Every member event (not the volunteer service records, which come from IssueHandled).
void apply_member(Member& m, const events::Envelope& e);

} // namespace gridloop::projections
