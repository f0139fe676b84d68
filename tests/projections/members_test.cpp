// The member views on small hand-made logs, folded purely (no engine, no store): dual management,
// outflow and inflow, lost contact at its threshold, the points bank by local month, and history.
#include "projections/members.hpp"
#include "tests/support/hand_log.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

using namespace gridloop;
using namespace gridloop::events;
using namespace gridloop::projections;
using nlohmann::json;

namespace {

Instant at(const std::string& local) { return testing::shanghai(local); }

struct Log : testing::HandLog {
    void grid(const std::string& id, const std::string& level, const std::string& parent) {
        add("2026-01-01T08:00:00", "GridDefined",
            {{"grid_id", id}, {"name", id}, {"level", level}, {"parent_id", parent.empty() ? json(nullptr) : json(parent)}});
    }
    void member(const std::string& t, const std::string& id, const std::string& category, const std::string& branch, const std::string& residence) {
        add(t, "MemberRegistered",
            {{"member_id", id}, {"name", "name of " + id}, {"category", category}, {"home_branch", branch}, {"residence_grid", residence}});
    }
    void relocate(const std::string& t, const std::string& id, const std::string& to) { add(t, "MemberRelocated", {{"member_id", id}, {"to_grid", to}}); }
    void transfer(const std::string& t, const std::string& id, const std::string& to) {
        add(t, "MembershipTransferred", {{"member_id", id}, {"to_branch", to}});
    }
    void award(const std::string& t, const std::string& id, std::int64_t points) {
        add(t, "PointsAwarded", {{"member_id", id}, {"points", points}, {"reason", "volunteer"}});
    }
    void redeem(const std::string& t, const std::string& id, std::int64_t points) {
        add(t, "PointsRedeemed", {{"member_id", id}, {"points", points}, {"item", "rice"}});
    }
};

// Town t: community ca (branch grids ga1 with micros ma1, ma2; ga2 with micro ma3) and community
// cb (branch grid gb1 with micro mb1; micro mb2 directly under cb). Another town u with community
// cu and micro mu1.
Log town() {
    Log log;
    log.grid("t", "town", "");
    log.grid("ca", "community", "t");
    log.grid("ga1", "grid", "ca");
    log.grid("ma1", "micro", "ga1");
    log.grid("ma2", "micro", "ga1");
    log.grid("ga2", "grid", "ca");
    log.grid("ma3", "micro", "ga2");
    log.grid("cb", "community", "t");
    log.grid("gb1", "grid", "cb");
    log.grid("mb1", "micro", "gb1");
    log.grid("mb2", "micro", "cb");
    log.grid("u", "town", "");
    log.grid("cu", "community", "u");
    log.grid("mu1", "micro", "cu");
    return log;
}

std::vector<std::string> ids(const auto& items) {
    std::vector<std::string> out;
    for (const auto& x : items) {
        if constexpr (std::is_pointer_v<std::decay_t<decltype(x)>>) out.push_back(x->member_id);
        else out.push_back(x.member_id);
    }
    return out;
}

MemberFilter living_in(std::string grid, std::optional<MemberCategory> category = std::nullopt, std::optional<bool> lost = std::nullopt) {
    MemberFilter f;
    f.grid = std::move(grid);
    f.category = category;
    f.lost_contact = lost;
    return f;
}
PageRequest after(std::string id, std::size_t limit) {
    PageRequest p;
    p.after = std::move(id);
    p.limit = limit;
    return p;
}
using Ids = std::vector<std::string>;

} // namespace

TEST_SUITE("projections") {

TEST_CASE("members: relocation keeps the branch, transfer keeps the residence") {
    Log log = town();
    log.member("2026-02-01T10:00:00", "m1", "retired", "ga1", "ma1");
    log.relocate("2026-03-01T10:00:00", "m1", "mb1");
    auto d = member_detail(log.model, "m1", at("2026-03-02T00:00:00"));
    REQUIRE(d);
    CHECK(d->summary.residence_grid == "mb1");
    CHECK(d->summary.home_branch == "ga1");

    log.transfer("2026-04-01T10:00:00", "m1", "gb1");
    d = member_detail(log.model, "m1", at("2026-04-02T00:00:00"));
    REQUIRE(d);
    CHECK(d->summary.residence_grid == "mb1");
    CHECK(d->summary.home_branch == "gb1");

    REQUIRE(d->history.size() == 2);
    CHECK_FALSE(d->history[0].branch);
    CHECK(d->history[0].from == "ma1");
    CHECK(d->history[0].to == "mb1");
    CHECK(d->history[0].position == log.envelopes[log.envelopes.size() - 2].position);
    CHECK(d->history[1].branch);
    CHECK(d->history[1].from == "ga1");
    CHECK(d->history[1].to == "gb1");

    // The indexes follow both changes.
    CHECK(ids(log.model.members_of_branch("ga1")).empty());
    CHECK(ids(log.model.members_of_branch("gb1")) == Ids{"m1"});
    CHECK(ids(list_members(log.model, living_in("ga1"), at("2026-04-02T00:00:00")).items).empty());
    CHECK(ids(list_members(log.model, living_in("cb"), at("2026-04-02T00:00:00")).items) == Ids{"m1"});
    CHECK_FALSE(member_detail(log.model, "nobody", at("2026-04-02T00:00:00")));
}

TEST_CASE("members: as_at before and after a move, and as_of by folding a prefix") {
    Log log = town();
    log.member("2026-02-01T10:00:00", "m1", "mobile", "ga1", "ma1");
    const auto before_move = static_cast<std::int64_t>(log.envelopes.size());
    log.relocate("2026-03-01T10:00:00", "m1", "mu1");
    log.transfer("2026-03-15T10:00:00", "m1", "cu");
    const Member& m = *log.model.member("m1");

    CHECK_FALSE(as_at(m, at("2026-02-01T09:59:59.999")));
    CHECK(as_at(m, at("2026-02-01T10:00:00")) == Placement{"ma1", "ga1"});
    CHECK(as_at(m, at("2026-03-01T09:59:59.999")) == Placement{"ma1", "ga1"});
    CHECK(as_at(m, at("2026-03-01T10:00:00")) == Placement{"mu1", "ga1"});
    CHECK(as_at(m, at("2026-03-15T09:00:00")) == Placement{"mu1", "ga1"});
    CHECK(as_at(m, at("2026-03-15T10:00:00")) == Placement{"mu1", "cu"});
    CHECK(as_at(m, at("2027-01-01T00:00:00")) == Placement{"mu1", "cu"});

    // as_of: the log up to the registration still has the old residence and branch.
    const Model old = log.prefix(before_move);
    auto d = member_detail(old, "m1", at("2026-02-02T00:00:00"));
    REQUIRE(d);
    CHECK(d->summary.residence_grid == "ma1");
    CHECK(d->summary.home_branch == "ga1");
    CHECK(d->history.empty());
    CHECK(ids(list_members(old, living_in("ga1"), at("2026-02-02T00:00:00")).items) == Ids{"m1"});
    CHECK(ids(list_members(old, living_in("u"), at("2026-02-02T00:00:00")).items).empty());
    CHECK(ids(outflow(old, "ga1").items).empty());
    // And one event later, after the relocation.
    const Model moved = log.prefix(before_move + 1);
    CHECK(member_detail(moved, "m1", at("2026-03-02T00:00:00"))->summary.residence_grid == "mu1");
    CHECK(ids(outflow(moved, "ga1").items) == Ids{"m1"});
}

TEST_CASE("members: outflow and inflow after a chain of moves A -> B -> C and back") {
    Log log = town();
    // x: branch ga1, living in ma1 (inside ga1).
    log.member("2026-02-01T10:00:00", "x", "in_service", "ga1", "ma1");
    // y: branch ga2 (another branch of ca), living in mb2.
    log.member("2026-02-01T10:00:00", "y", "mobile", "ga2", "mb2");
    // z: branch cu in the other town, living in ma2.
    log.member("2026-02-01T10:00:00", "z", "farmer", "cu", "ma2");
    const auto now = at("2026-09-01T00:00:00");

    CHECK(ids(outflow(log.model, "ga1").items).empty());
    CHECK(ids(outflow(log.model, "ga2").items) == Ids{"y"});
    CHECK(ids(inflow(log.model, "ga1").items) == Ids{"z"});
    CHECK(ids(inflow(log.model, "cb").items) == Ids{"y"});
    CHECK(ids(inflow(log.model, "t").items) == Ids{"z"});

    // A -> B: x moves to ma3, still inside community ca but outside branch grid ga1.
    log.relocate("2026-03-01T10:00:00", "x", "ma3");
    const auto out_at = log.envelopes.back().position;
    auto out = outflow(log.model, "ga1");
    REQUIRE(out.items.size() == 1);
    CHECK(out.items[0].member_id == "x");
    CHECK(out.items[0].residence_grid == "ma3");
    CHECK(out.items[0].since == at("2026-03-01T10:00:00"));
    CHECK(out.items[0].since_position == out_at);
    CHECK(ids(inflow(log.model, "ga2").items) == Ids{"x"});
    CHECK(ids(inflow(log.model, "ca").items) == Ids{"z"}); // x's branch is inside ca
    // B -> C: x moves to mb1 in the other community; still out of ga1 since the first move.
    log.relocate("2026-04-01T10:00:00", "x", "mb1");
    out = outflow(log.model, "ga1");
    REQUIRE(out.items.size() == 1);
    CHECK(out.items[0].since == at("2026-03-01T10:00:00"));
    CHECK(out.items[0].since_position == out_at);
    CHECK(ids(inflow(log.model, "ga2").items).empty());
    auto in = inflow(log.model, "cb");
    CHECK(ids(in.items) == Ids{"x", "y"});
    CHECK(in.items[0].since == at("2026-04-01T10:00:00"));
    CHECK(in.items[1].since == at("2026-02-01T10:00:00"));
    CHECK_FALSE(in.items[1].since_position);
    // ca's own members: none (x and y belong to its branch grids); with the subtree scope both.
    CHECK(ids(outflow(log.model, "ca").items).empty());
    CHECK(ids(outflow(log.model, "ca", BranchScope::subtree).items) == Ids{"x", "y"});
    CHECK(ids(outflow(log.model, "t", BranchScope::subtree).items).empty()); // nobody left town t
    // ... and back to A: no longer out.
    log.relocate("2026-05-01T10:00:00", "x", "ma2");
    CHECK(ids(outflow(log.model, "ga1").items).empty());
    CHECK(ids(inflow(log.model, "cb").items) == Ids{"y"});
    CHECK(ids(outflow(log.model, "ca", BranchScope::subtree).items) == Ids{"y"});

    // Transfers change the picture too: z joins ga1, so z is no inflow any more; x moves to mb1
    // and transfers to cb (at home there), then leaves for the other town: cb's outflow from then.
    log.transfer("2026-06-01T10:00:00", "z", "ga1");
    CHECK(ids(inflow(log.model, "ga1").items).empty());
    CHECK(ids(inflow(log.model, "t").items).empty());
    log.relocate("2026-07-01T10:00:00", "x", "mb1");
    log.transfer("2026-07-02T10:00:00", "x", "cb");
    CHECK(ids(outflow(log.model, "ga1").items).empty());
    CHECK(ids(outflow(log.model, "cb").items).empty());
    log.relocate("2026-08-01T10:00:00", "x", "mu1");
    out = outflow(log.model, "cb");
    REQUIRE(out.items.size() == 1);
    CHECK(out.items[0].since == at("2026-08-01T10:00:00"));
    // u receives x (and y is still in cb).
    in = inflow(log.model, "u");
    REQUIRE(in.items.size() == 1);
    CHECK(in.items[0].member_id == "x");
    CHECK(in.items[0].home_branch == "cb");
    CHECK(in.items[0].since == at("2026-08-01T10:00:00"));
    // A member who joins a branch while living outside it is out since the transfer.
    log.transfer("2026-08-15T10:00:00", "y", "cu");
    out = outflow(log.model, "cu");
    REQUIRE(out.items.size() == 1);
    CHECK(out.items[0].member_id == "y");
    CHECK(out.items[0].since == at("2026-08-15T10:00:00"));
    CHECK(list_members(log.model, living_in("t"), now).total == 2); // y in mb2, z in ma2
    CHECK(outflow(log.model, "nowhere").items.empty());
    CHECK(inflow(log.model, "nowhere").items.empty());
}

TEST_CASE("members: lost contact flips exactly at the threshold") {
    Log log = town();
    log.member("2026-01-10T10:00:00", "a", "retired", "ga1", "ma1");
    log.member("2026-01-10T10:00:00", "b", "retired", "ga1", "ma1");
    log.add("2026-02-01T10:00:00", "MemberContacted", {{"member_id", "b"}, {"by", "p1"}, {"channel", "phone"}});
    log.member("2026-02-01T12:00:00", "c", "mobile", "ga1", "ma2");
    log.add("2026-03-01T12:00:00", "MemberReportedIn", {{"member_id", "c"}, {"grid_id", "ma2"}});
    // A relocation, a transfer or points are not contact.
    log.relocate("2026-03-05T10:00:00", "a", "ma2");
    log.award("2026-03-06T10:00:00", "a", 5);

    const Instant a_lost = at("2026-01-10T10:00:00") + std::chrono::hours(24 * 90);
    SUBCASE("registration starts the clock; 90 days of 24 hours") {
        auto before = lost_contact_members(log.model, "t", a_lost - std::chrono::milliseconds(1));
        CHECK(ids(before.items).empty());
        auto at_threshold = lost_contact_members(log.model, "t", a_lost);
        REQUIRE(ids(at_threshold.items) == Ids{"a"});
        CHECK(at_threshold.items[0].days_since_contact == 90);
        CHECK(at_threshold.items[0].lost_contact_at == a_lost);
        const auto s = summarize(*log.model.member("a"), log.model.config(), a_lost - std::chrono::milliseconds(1));
        CHECK_FALSE(s.lost_contact);
        CHECK(s.days_since_contact == 89);
    }
    SUBCASE("contact and report-in restart it") {
        const Instant b_lost = at("2026-02-01T10:00:00") + std::chrono::hours(24 * 90);
        const Instant c_lost = at("2026-03-01T12:00:00") + std::chrono::hours(24 * 90);
        CHECK(ids(lost_contact_members(log.model, "t", b_lost - std::chrono::milliseconds(1)).items) == Ids{"a"});
        CHECK(ids(lost_contact_members(log.model, "t", b_lost).items) == Ids{"a", "b"});
        CHECK(ids(lost_contact_members(log.model, "t", c_lost - std::chrono::milliseconds(1)).items) == Ids{"a", "b"});
        CHECK(ids(lost_contact_members(log.model, "t", c_lost).items) == Ids{"a", "b", "c"});
        CHECK(ids(list_members(log.model, living_in("t", std::nullopt, false), b_lost).items) == Ids{"c"});
        // The subtree is the residence's: a lives in ma2 now.
        CHECK(ids(lost_contact_members(log.model, "ma2", c_lost).items) == Ids{"a", "c"});
        CHECK(ids(lost_contact_members(log.model, "ma1", c_lost).items) == Ids{"b"});
    }
    SUBCASE("a policy's lost_contact_after replaces the default") {
        log.add("2026-03-07T10:00:00", "PolicySet", {{"limits", json::object()}, {"lost_contact_after", "P30D"}});
        const Instant c30 = at("2026-03-01T12:00:00") + std::chrono::hours(24 * 30);
        CHECK(ids(lost_contact_members(log.model, "t", c30 - std::chrono::milliseconds(1)).items) == Ids{"a", "b"});
        CHECK(ids(lost_contact_members(log.model, "t", c30).items) == Ids{"a", "b", "c"});
    }
}

TEST_CASE("members: list by subtree and category, paged by member_id") {
    Log log = town();
    // Registered out of id order, and the subtree walk meets ma1 (m4..m9) before mb1 (m1..m3).
    for (int i = 9; i >= 1; --i)
        log.member("2026-02-01T10:00:00", "m" + std::to_string(i), i % 3 == 0 ? "retired" : "mobile", "ga1", i >= 4 ? "ma1" : "mb1");
    const auto now = at("2026-02-02T00:00:00");
    CHECK(ids(list_members(log.model, living_in("ca"), now).items) == Ids{"m4", "m5", "m6", "m7", "m8", "m9"});
    CHECK(ids(list_members(log.model, living_in("mb1"), now).items) == Ids{"m1", "m2", "m3"});
    CHECK(ids(list_members(log.model, living_in("t", MemberCategory::retired), now).items) == Ids{"m3", "m6", "m9"});
    CHECK(ids(list_members(log.model, living_in("ca", MemberCategory::farmer), now).items).empty());
    CHECK(list_members(log.model, living_in("nowhere"), now).total == 0);

    for (const std::string grid : {"t", ""}) {
        CAPTURE(grid);
        auto p1 = list_members(log.model, living_in(grid), now, after("", 4));
        CHECK(ids(p1.items) == Ids{"m1", "m2", "m3", "m4"});
        CHECK(p1.total == 9);
        REQUIRE(p1.next);
        auto p2 = list_members(log.model, living_in(grid), now, after(*p1.next, 4));
        CHECK(ids(p2.items) == Ids{"m5", "m6", "m7", "m8"});
        REQUIRE(p2.next);
        auto p3 = list_members(log.model, living_in(grid), now, after(*p2.next, 4));
        CHECK(ids(p3.items) == Ids{"m9"});
        CHECK_FALSE(p3.next);
        auto exact = list_members(log.model, living_in(grid), now, after("m5", 4));
        CHECK(ids(exact.items) == Ids{"m6", "m7", "m8", "m9"});
        CHECK_FALSE(exact.next);
    }
}

TEST_CASE("members: points never negative, months in the calendar's zone") {
    Log log = town();
    log.member("2026-10-01T10:00:00", "m1", "retired", "ga1", "ma1");
    log.award("2026-10-20T10:00:00", "m1", 10);
    log.redeem("2026-10-25T10:00:00", "m1", 10); // down to exactly zero
    log.award("2026-10-31T23:30:00", "m1", 7);   // 15:30Z: October in Shanghai
    log.award("2026-11-01T00:30:00", "m1", 3);   // still October 31 in UTC, November in Shanghai
    log.redeem("2026-11-02T10:00:00", "m1", 4);

    auto d = member_detail(log.model, "m1", at("2026-11-03T00:00:00"));
    REQUIRE(d);
    CHECK(d->summary.points == 6);
    CHECK(d->earned == 20);
    CHECK(d->redeemed == 14);
    CHECK(d->earned - d->redeemed == d->summary.points);
    REQUIRE(d->ledger.size() == 5);
    std::vector<std::int64_t> balances;
    for (const auto& l : d->ledger) balances.push_back(l.balance);
    CHECK(balances == std::vector<std::int64_t>{10, 0, 7, 10, 6});
    CHECK(std::ranges::all_of(balances, [](std::int64_t b) { return b >= 0; }));

    REQUIRE(d->months.size() == 2);
    CHECK(format_month(d->months[0].month) == "2026-10");
    CHECK(d->months[0].earned == 17);
    CHECK(d->months[0].redeemed == 10);
    CHECK(format_month(d->months[1].month) == "2026-11");
    CHECK(d->months[1].earned == 3);
    CHECK(d->months[1].redeemed == 4);

    const Calendar& cal = log.model.config().calendar;
    CHECK(month_of(at("2026-10-31T23:59:59.999"), cal) == Month{2026, 10});
    CHECK(month_of(at("2026-11-01T00:00:00"), cal) == Month{2026, 11});
    const Span oct = month_span(Month{2026, 10}, cal);
    CHECK(oct.from == at("2026-10-01T00:00:00"));
    CHECK(oct.to == at("2026-11-01T00:00:00"));
    CHECK(points_in(*log.model.member("m1"), oct).earned == 17);
    const Span dec = month_span(Month{2026, 12}, cal);
    CHECK(dec.to == at("2027-01-01T00:00:00"));

    SUBCASE("another zone moves the boundary") {
        log.add("2026-11-03T00:00:00", "CalendarSet",
                {{"timezone", "UTC"}, {"workdays", {1, 2, 3, 4, 5}}, {"work_hours", {"09:00", "17:00"}}, {"holidays", json::array()},
                 {"makeup_workdays", json::array()}});
        const auto months = points_by_month(*log.model.member("m1"), log.model.config().calendar);
        REQUIRE(months.size() == 2);
        CHECK(months[0].earned == 20); // the 00:30+08:00 award is October 31 in UTC
        CHECK(months[1].earned == 0);
    }
}

TEST_CASE("members: parse_month") {
    CHECK(parse_month("2026-10") == Month{2026, 10});
    CHECK(parse_month("2026-01") == Month{2026, 1});
    CHECK_FALSE(parse_month("2026-13"));
    CHECK_FALSE(parse_month("2026-00"));
    CHECK_FALSE(parse_month("2026-1"));
    CHECK_FALSE(parse_month("2026/10"));
    CHECK_FALSE(parse_month("2026-10-01"));
    CHECK_FALSE(parse_month("+026-10"));
    CHECK(format_month(Month{2026, 3}) == "2026-03");
}

TEST_CASE("members: vanguard leaderboard and fortress index for a month") {
    Log log = town();
    log.member("2026-09-01T10:00:00", "b", "retired", "ga1", "ma1");
    log.member("2026-09-01T10:00:00", "a", "retired", "ga1", "ma2");
    log.member("2026-09-01T10:00:00", "c", "mobile", "ga2", "ma3");
    log.member("2026-09-01T10:00:00", "d", "mobile", "gb1", "mb1");
    log.member("2026-09-01T10:00:00", "e", "farmer", "ga1", "mu1"); // lives in the other town
    log.award("2026-09-30T23:59:00", "a", 50);                      // September
    log.award("2026-10-01T00:00:00", "b", 5);                       // October, from local midnight
    log.award("2026-10-10T10:00:00", "a", 8);
    log.award("2026-10-11T10:00:00", "b", 3);                       // b: 8, tie with a
    log.award("2026-10-12T10:00:00", "c", 10);
    log.award("2026-10-13T10:00:00", "d", 2);
    log.award("2026-10-14T10:00:00", "e", 20);
    log.redeem("2026-10-20T10:00:00", "c", 10); // redemptions do not lower what was earned
    log.award("2026-11-01T00:00:00", "d", 100); // November

    const Month oct{2026, 10};
    auto board = vanguard_leaderboard(log.model, "t", oct);
    CHECK(board.members == 4);
    REQUIRE(board.entries.size() == 4);
    CHECK(ids(board.entries) == Ids{"c", "a", "b", "d"});
    CHECK(board.entries[0].earned == 10);
    CHECK(board.entries[1].earned == 8);
    CHECK(board.entries[2].earned == 8);
    CHECK(board.entries[0].rank == 1);
    CHECK(board.entries[1].rank == 2);
    CHECK(board.entries[2].rank == 2);
    CHECK(board.entries[3].rank == 4);

    auto top2 = vanguard_leaderboard(log.model, "t", oct, 2);
    CHECK(ids(top2.entries) == Ids{"c", "a"});
    CHECK(ids(vanguard_leaderboard(log.model, "ga1", oct).entries) == Ids{"a", "b"});
    CHECK(ids(vanguard_leaderboard(log.model, "", oct).entries) == Ids{"e", "c", "a", "b", "d"});
    auto sep = vanguard_leaderboard(log.model, "t", Month{2026, 9});
    CHECK(ids(sep.entries) == Ids{"a"});
    CHECK(sep.entries[0].earned == 50);
    CHECK(vanguard_leaderboard(log.model, "nowhere", oct).entries.empty());

    // 堡垒指数: by home branch, wherever the members live (e lives in u but belongs to ga1).
    auto forts = fortress_index(log.model, "t", oct);
    REQUIRE(forts.size() == 3);
    CHECK(forts[0].branch == "ga1");
    CHECK(forts[0].members == 3);
    CHECK(forts[0].active == 3);
    CHECK(forts[0].earned == 8 + 8 + 20);
    CHECK(forts[1].branch == "ga2");
    CHECK(forts[1].earned == 10);
    CHECK(forts[2].branch == "gb1");
    CHECK(forts[2].earned == 2);
    CHECK(forts[2].rank == 3);
    auto nov = fortress_index(log.model, "t", Month{2026, 11});
    REQUIRE(nov.size() == 3);
    CHECK(nov[0].branch == "gb1");
    CHECK(nov[0].earned == 100);
    CHECK(nov[1].branch == "ga1"); // ties at 0 by grid id
    CHECK(nov[1].rank == 2);
    CHECK(nov[2].branch == "ga2");
    CHECK(nov[2].rank == 2);
    CHECK(nov[1].active == 0);
    auto one = branch_month(log.model, "ga1", oct);
    CHECK(one.members == 3);
    CHECK(one.earned == 36);
}

TEST_CASE("members: service records and the JSON without personal data") {
    Log log = town();
    log.member("2026-09-01T10:00:00", "m1", "retired", "ga1", "ma1");
    log.add("2026-09-02T10:00:00", "IssueReported",
            {{"case_id", "k1"}, {"category", "garbage"}, {"description", "d"}, {"source", "patrol"}, {"grid_id", "ma1"}});
    log.add("2026-09-02T11:00:00", "IssueHandled", {{"case_id", "k1"}, {"handler", "h"}, {"result", "done"}, {"volunteers", {"m1"}}});
    log.add("2026-09-02T12:00:00", "PointsAwarded", {{"member_id", "m1"}, {"points", 5}, {"reason", "helped on k1"}, {"case_id", "k1"}});
    log.relocate("2026-09-03T10:00:00", "m1", "mb1");

    auto d = member_detail(log.model, "m1", at("2026-09-04T00:00:00"));
    REQUIRE(d);
    REQUIRE(d->services.size() == 1);
    CHECK(d->services[0].case_id == "k1");

    const json full = to_json(*d, true);
    CHECK(full.at("name") == "name of m1");
    CHECK(full.at("member_id") == "m1");
    CHECK(full.at("points") == 5);
    CHECK(full.at("residence_grid") == "mb1");
    CHECK(full.at("home_branch") == "ga1");
    CHECK(full.at("category") == "retired");
    CHECK(full.at("last_contact_at") == "2026-09-01T02:00:00.000Z");
    CHECK(full.at("lost_contact") == false);
    CHECK(full.at("ledger").at(0).at("note") == "helped on k1");
    CHECK(full.at("ledger").at(0).at("case_id") == "k1");
    CHECK(full.at("history").at(0) == json{{"position", 19}, {"at", "2026-09-03T02:00:00.000Z"}, {"change", "residence"}, {"from", "ma1"}, {"to", "mb1"}});
    CHECK(full.at("services").at(0).at("case_id") == "k1");
    CHECK(full.at("months").at(0) == json{{"month", "2026-09"}, {"earned", 5}, {"redeemed", 0}});

    const json dash = to_json(*d, false);
    CHECK_FALSE(dash.contains("name"));
    CHECK_FALSE(dash.at("ledger").at(0).contains("note"));
    CHECK(dash.at("points") == 5);
    CHECK(dash.dump().find("name of") == std::string::npos);
    CHECK(dash.dump().find("helped") == std::string::npos);

    const json page = to_json(outflow(log.model, "ga1"), false);
    REQUIRE(page.at("items").size() == 1);
    CHECK(page.at("total") == 1);
    CHECK(page.at("next").is_null());
    CHECK(page.at("items").at(0).at("since") == "2026-09-03T02:00:00.000Z");
    CHECK(page.at("items").at(0).at("since_position") == 19);
    CHECK_FALSE(page.at("items").at(0).contains("name"));
    const json board = to_json(vanguard_leaderboard(log.model, "t", Month{2026, 9}), false);
    CHECK(board.at("month") == "2026-09");
    CHECK(board.at("entries").at(0).at("earned") == 5);
    CHECK_FALSE(board.at("entries").at(0).contains("name"));
}

} // TEST_SUITE
