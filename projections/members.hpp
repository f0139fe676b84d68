// Party-member views: who lives where and belongs to which branch, outflow and inflow, lost
// contact, and the points bank by month — pure functions of the model and the view's time.
#pragma once

#include "projections/model.hpp"

#include <nlohmann/json_fwd.hpp>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gridloop::projections {

// A month of the calendar's local zone ("2026-10").
struct Month {
    int year = 1970;
    unsigned month = 1; // 1..12
    friend auto operator<=>(const Month&, const Month&) = default;
};
// "YYYY-MM" with a month 01..12; nullopt on anything else.
std::optional<Month> parse_month(std::string_view text);
std::string format_month(Month m);
// The local month an instant falls in, in the calendar's zone.
Month month_of(Instant t, const Calendar& calendar);
// [first local midnight of the month, first local midnight of the next month).
struct Span {
    Instant from{}, to{};
};
Span month_span(Month m, const Calendar& calendar);

// Where a member lived and which branch held them.
struct Placement {
    std::string residence_grid, home_branch;
    friend bool operator==(const Placement&, const Placement&) = default;
};
// The placement after every member event recorded at or before `t`; nullopt before registration.
// Times are `recorded_at` (the fold's time), as everywhere in the model.
std::optional<Placement> as_at(const Member& m, Instant t);

struct MemberSummary {
    std::string member_id, name;
    events::MemberCategory category = events::MemberCategory::in_service;
    std::string home_branch, residence_grid;
    std::int64_t points = 0; // balance
    Instant registered_at{}, last_contact_at{};
    bool lost_contact = false;            // at `now`: now - last_contact_at >= lost_contact_after
    Instant lost_contact_at{};            // last_contact_at + lost_contact_after (past or future)
    std::int64_t days_since_contact = 0;  // whole 24-hour days from last contact to `now`, never negative
};
MemberSummary summarize(const Member& m, const Config& config, Instant now);

// ---- lists, ordered by member_id, paged by member_id ----
struct PageRequest {
    std::string after;     // exclusive member_id cursor; empty = from the start
    std::size_t limit = 0; // 0 = everything
};
template <class T> struct Page {
    std::vector<T> items;
    std::size_t total = 0;              // matches of the filter, ignoring the cursor and the limit
    std::optional<std::string> next;    // the cursor for the next page (the last item's member_id) if more follow
};

struct MemberFilter {
    std::string grid; // members living in this grid's subtree; empty = every member
    std::optional<events::MemberCategory> category;
    std::optional<bool> lost_contact; // evaluated at `now`
};
// An unknown grid gives an empty page (the caller answers 404 first).
Page<MemberSummary> list_members(const Model& model, const MemberFilter& filter, Instant now, const PageRequest& page = {});
// The 失联 list of a subtree (list_members with lost_contact = true): the "双找" drive's worklist.
Page<MemberSummary> lost_contact_members(const Model& model, std::string_view grid, Instant now, const PageRequest& page = {});

// ---- one member ----
struct LedgerLine {
    PointsEntry entry;
    std::int64_t balance = 0; // after this entry
};
struct MonthPoints {
    Month month;
    std::int64_t earned = 0, redeemed = 0; // both positive
};
struct MemberDetail {
    MemberSummary summary;
    std::int64_t earned = 0, redeemed = 0; // totals, both positive; points = earned - redeemed
    std::vector<MemberMove> history;       // residence and branch changes, oldest first
    std::vector<ServiceRecord> services;   // cases volunteered on (IssueHandled.volunteers), oldest first
    std::vector<LedgerLine> ledger;        // oldest first
    std::vector<MonthPoints> months;       // local months with any points entry, oldest first
};
std::optional<MemberDetail> member_detail(const Model& model, std::string_view member_id, Instant now);

// ---- outflow (流出) and inflow (流入) of a branch ----
// A branch is a grid of level town/community/grid. `own`: members whose home_branch is exactly that
// grid (the default: each member belongs to one branch). `subtree`: members of that grid or of any
// branch below it — the community's or town's aggregate.
enum class BranchScope { own, subtree };
struct FlowEntry {
    std::string member_id, name;
    events::MemberCategory category = events::MemberCategory::in_service;
    std::string home_branch, residence_grid;
    Instant since{};                           // since when the member has been out (in) without a break
    std::optional<std::int64_t> since_position; // the move that began it; none = since registration
};
// Members of the branch (per scope) whose residence lies outside the branch's subtree.
Page<FlowEntry> outflow(const Model& model, std::string_view branch, BranchScope scope = BranchScope::own,
                        const PageRequest& page = {});
// Members living in the branch's subtree whose home branch lies outside that subtree.
Page<FlowEntry> inflow(const Model& model, std::string_view branch, const PageRequest& page = {});

// ---- the points bank ----
struct PointsTotals {
    std::int64_t earned = 0, redeemed = 0; // both positive
};
// Entries recorded in [span.from, span.to).
PointsTotals points_in(const Member& m, Span span);
// Every local month with an entry, oldest first.
std::vector<MonthPoints> points_by_month(const Member& m, const Calendar& calendar);

// The monthly indexes place members where the model has them now (residence, home branch), not
// where they were during the month; `as_of` gives the picture at an earlier position. An entry
// belongs to the local month of its recorded_at.

// 先锋指数: members living in the subtree (now) who earned points in the month, most first, ties
// by member_id; equal points share a rank (1, 2, 2, 4). Redemptions do not lower what was earned.
struct LeaderboardEntry {
    std::int64_t rank = 0;
    std::string member_id, name;
    events::MemberCategory category = events::MemberCategory::in_service;
    std::string home_branch, residence_grid;
    std::int64_t earned = 0;
};
struct Leaderboard {
    std::string grid; // empty = everyone
    Month month;
    std::size_t members = 0; // living in the subtree, earning or not
    std::vector<LeaderboardEntry> entries;
};
// limit 0 = every member who earned; otherwise the first `limit` entries.
Leaderboard vanguard_leaderboard(const Model& model, std::string_view grid, Month month, std::size_t limit = 0);

// 堡垒指数: per branch, the points its members (home_branch, now) earned in the month.
struct BranchMonth {
    std::int64_t rank = 0;
    std::string branch;
    std::int64_t members = 0; // members of the branch
    std::int64_t active = 0;  // of those, earned anything in the month
    std::int64_t earned = 0;
};
BranchMonth branch_month(const Model& model, std::string_view branch, Month month);
// Every grid in the subtree (empty = all) that has members, most points first, ties by grid id;
// equal points share a rank.
std::vector<BranchMonth> fortress_index(const Model& model, std::string_view grid, Month month);

// ---- JSON for the HTTP layer; without personal data (dashboard) names and free text are left out ----
nlohmann::json to_json(const MemberSummary& s, bool with_personal_data);
nlohmann::json to_json(const MemberDetail& d, bool with_personal_data);
nlohmann::json to_json(const FlowEntry& f, bool with_personal_data);
nlohmann::json to_json(const LeaderboardEntry& e, bool with_personal_data);
nlohmann::json to_json(const Leaderboard& l, bool with_personal_data);
nlohmann::json to_json(const BranchMonth& b);
nlohmann::json to_json(const MemberMove& m);
nlohmann::json to_json(const ServiceRecord& s);
nlohmann::json to_json(const LedgerLine& l, bool with_personal_data);
// {"items": [...], "total": n, "next": cursor|null}
template <class T> nlohmann::json to_json(const Page<T>& p, bool with_personal_data);
extern template nlohmann::json to_json(const Page<MemberSummary>&, bool);
extern template nlohmann::json to_json(const Page<FlowEntry>&, bool);

} // namespace gridloop::projections
