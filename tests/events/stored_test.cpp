// Stored rows are decoded from their text with simdjson (decode_stored), requests from nlohmann's DOM
// (decode_event): one decoder behind both, so every outcome and message must agree.
#include "events/envelope.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace gridloop::events;
using nlohmann::json;

namespace {

// Returns the outcome's message ("" when it decoded) after checking that both parsers agree.
std::string agree(const std::string& type, const json& data) {
    const auto dom = decode_event(type, data);
    const auto text = decode_stored(type, data.dump());
    const std::string shown = type + " " + data.dump().substr(0, 300);
    REQUIRE_MESSAGE(bool(dom) == bool(text), shown, " → ", dom ? text.error().message : dom.error().message);
    if (dom) {
        CHECK_MESSAGE(*dom == *text, shown);
        return "";
    }
    CHECK_MESSAGE(dom.error().code == text.error().code, shown);
    CHECK_MESSAGE(dom.error().message == text.error().message, shown);
    return dom.error().message;
}

json with(json base, const std::string& key, json value) {
    if (value.is_null() && base.contains(key)) base.erase(key);
    else base[key] = std::move(value);
    return base;
}

const json report = {{"case_id", "c-1"}, {"category", "parking"}, {"description", "车辆占用消防通道"}, {"source", "patrol"}, {"grid_id", "m-01"}};
const json award = {{"member_id", "mb-1"}, {"points", 5}, {"reason", "volunteer"}};
const json policy = {{"limits", {{"worker", "PT4H"}}}};
const json calendar = {{"timezone", "Asia/Shanghai"}, {"workdays", {1, 2, 3, 4, 5}}, {"work_hours", {"09:00", "17:00"}}};
const json grid = {{"grid_id", "m-01"}, {"name", "一号楼群"}, {"level", "micro"}, {"parent_id", "g-1"}};
const json dept = {{"dept_id", "police"}, {"name", "派出所"}, {"kind", "police"}, {"serves", {"town"}}};
const json big_unsigned = json(18446744073709551615ULL);

json square(json ring) { return {{"type", "Polygon"}, {"coordinates", {std::move(ring)}}}; }

std::vector<std::string> ids(int n) {
    std::vector<std::string> v;
    for (int i = 0; i < n; ++i) v.push_back("p-" + std::to_string(i));
    return v;
}

} // namespace

TEST_SUITE("events") {
TEST_CASE("stored data decodes with simdjson exactly as with nlohmann's DOM") {
    SUBCASE("numbers") {
        for (const json& points : {json(5), json(0), json(-3), json(1.5), json(1000000), json(1000001), big_unsigned,
                                   json(9223372036854775807LL), json("5"), json(true), json::array(), json(nullptr), json(-0.0)})
            agree("PointsAwarded", with(award, "points", points));
        CHECK(agree("PointsAwarded", with(award, "points", big_unsigned)) == "data.points is too large");
        CHECK(agree("PointsAwarded", with(award, "points", 1.5)) == "data.points must be an integer, not a fractional number");
        for (const json& v : {json(3600), json(-1), json(1000.0), big_unsigned, json(100000000001LL), json("P400D"), json("PT0S"),
                              json("P1M"), json(true)})
            agree("PolicySet", {{"limits", {{"worker", v}}}});
        for (const json& v : {json(0.5), json(2), json("x"), json(1), json(0)}) agree("PolicySet", with(policy, "satisfied_threshold", v));
        for (const json& v : {json(5), json(101), big_unsigned, json(-1), json(2.0)}) agree("PolicySet", with(policy, "max_returns", v));
        for (const json& v : {json("P0D"), json("P90D"), json(90), json(0), json(-5), json(1.5)})
            agree("PolicySet", with(policy, "lost_contact_after", v));
        for (const json& v : {json{60, 70, 80, 90}, json{60, 70, 80}, json{"a"}, json{90, 80, 70, 60}, json{60.5, 70, 80.25, 100},
                              json{big_unsigned, 1, 2, 3}, json::object()})
            agree("PolicySet", with(policy, "stars", v));
        agree("PolicySet", with(policy, "start_rung", {{"major", 3}}));
        agree("PolicySet", with(policy, "start_rung", {{"major", "town"}, {"urgent", "grid"}}));
        agree("PolicySet", with(policy, "start_rung", {{"bogus", "town"}}));
        agree("PolicySet", {{"limits", {{"worker", "PT4H"}, {"town", "P5D"}, {"mayor", "P1D"}}}});
        // Fractions are read to the same double.
        agree("IssueReported", with(report, "location", {{"lat", 31.123456789012345}, {"lng", 120.98765432109876}}));
        agree("IssueReported", with(report, "location", {{"lat", 1e-7}, {"lng", -179.99999999999997}}));
    }
    SUBCASE("calendars") {
        for (const json& v : {json{1, 1}, json{1, big_unsigned}, json{1.0}, json{"1"}, json{0}, json{7, 1}, json::array()})
            agree("CalendarSet", with(calendar, "workdays", v));
        for (const json& v : {json{"09:00"}, json{1, 2}, json{"24:00", "25:00"}, json{"09:00", "24:00"}, json{"17:00", "09:00"},
                              json{"09:00", "17:00", "18:00"}, json("09:00")})
            agree("CalendarSet", with(calendar, "work_hours", v));
        for (const json& v : {json{5}, json{"2026-10-01", "2026-10-01"}, json{"2026-02-30"}, json{"2026-10-01T00:00:00Z"}})
            agree("CalendarSet", with(calendar, "holidays", v));
        agree("CalendarSet", with(calendar, "makeup_workdays", {"2026-10-10", "2026-09-27"}));
        agree("CalendarSet", with(calendar, "timezone", std::string(65, 'x')));
    }
    SUBCASE("grids and departments") {
        for (const json& b : {square({{0, 0}, {1, 0}, {1, 1}, {0, 0}}), square({{0, 0}, {1, 0}, {0, 0}}), square({{0, 0}, {1, 0}, {1, 1}, {0, 1}}),
                              square({{0}, {1, 0}, {1, 1}, {0, 0}}), square({{"a", 0}, {1, 0}, {1, 1}, {"a", 0}}),
                              square({{200, 0}, {1, 0}, {1, 1}, {200, 0}}), json{{"type", "Square"}, {"coordinates", json::array()}},
                              json{{"type", "Polygon"}}, json{{"type", "Polygon"}, {"coordinates", json::array()}},
                              json{{"type", "Polygon"}, {"coordinates", {{{0, 0}, {1, 0}, {1, 1}, {0, 0}}, "ring"}}}, json("polygon")})
            agree("GridDefined", with(grid, "boundary", b));
        agree("GridDefined", with(grid, "station", std::string(201, 's')));
        agree("GridDefined", with(with(grid, "level", "town"), "parent_id", nullptr));
        agree("GridDefined", with(grid, "level", "town"));
        for (const json& v : {json::array(), json{"a", "a"}, json{1}, json{"BAD"}, json(ids(20)), json(ids(10001))})
            agree("DepartmentRegistered", with(dept, "serves", v));
        auto repeated = ids(20);
        repeated.push_back("p-3");
        CHECK(agree("DepartmentRegistered", with(dept, "serves", repeated)) == "data.serves[20] repeats \"p-3\"");
        CHECK(agree("DepartmentRegistered", with(dept, "serves", {"a", "b", "a"})) == "data.serves[2] repeats \"a\"");
    }
    SUBCASE("reports, discussions, escalations") {
        agree("IssueReported", with(report, "location", {{"lat", 1}, {"lng", 2}, {"alt", 3}}));
        agree("IssueReported", with(report, "location", {{"lng", 2}}));
        agree("IssueReported", with(with(report, "grid_id", nullptr), "location", {{"lat", 95}, {"lng", 2}}));
        agree("IssueReported", with(report, "grid_id", nullptr));
        for (const json& v : {json{"", "x"}, json{1}, json{"https://a/b.jpg"}, json(std::vector<std::string>(2, std::string(2001, 'u')))})
            agree("IssueReported", with(report, "media", v));
        agree("IssueReported", with(report, "severity", "apocalyptic"));
        agree("IssueReported", with(report, "reporter", std::string(201, 'r')));
        agree("IssueReported", with(report, "description", "line\nbreak \"quoted\" \\ \u0001 tab\t 中文 ☃ 😀"));
        agree("IssueReported", with(report, "description", ""));
        agree("IssueReported", with(report, "description", std::string(4001, 'd')));
        agree("IssueReported", with(with(report, "priority", 1), "zzz", true));
        const json discussed = {{"case_id", "c-1"}, {"participants", {"p-1", "p-2"}}, {"decision", "联合处置"}};
        for (const json& v : {json{1}, json{"bogus"}, json{"work", "volunteer"}, json("work")}) agree("IssueDiscussed", with(discussed, "teams", v));
        agree("IssueDiscussed", with(discussed, "participants", json::array()));
        const json escalated = {{"case_id", "c-1"}, {"to_rung", "town"}, {"reason", "r"}};
        for (const json& v : {json("yes"), json(true), json(false), json(1)}) agree("IssueEscalated", with(escalated, "auto", v));
        agree("IssueEscalated", with(escalated, "to_rung", "department"));
        agree("IssueEscalated", with(escalated, "dept_id", "police"));
    }
    SUBCASE("types and shapes") {
        agree("IssueSolved", json::object());
        agree("IssueReported", json::array());
        agree("IssueReported", nullptr);
        agree("IssueReported", "text");
        for (const auto& type : event_types()) agree(std::string(type), json::object());
    }
}

TEST_CASE("stored data that simdjson alone can tell apart is refused") {
    CHECK(decode_stored("IssueReported", "{not json").error().message == "stored data is not JSON");
    CHECK(decode_stored("IssueReported", "").error().code == errc::unprocessable);
    // Canonical data never repeats a key; nlohmann's DOM would keep the last one, the stored path refuses.
    const auto twice = decode_stored("MemberReportedIn", R"({"grid_id":"m-1","member_id":"mb-1","member_id":"mb-2"})");
    REQUIRE(!twice);
    CHECK(twice.error().message == "data.member_id is given more than once");
    // Integers beyond 64 bits are fractions to nlohmann and not JSON to simdjson: refused either way.
    CHECK(!decode_stored("PointsAwarded", R"({"member_id":"mb-1","points":100000000000000000000,"reason":"r"})"));
    CHECK(decode_stored("MemberReportedIn", R"({"grid_id":"m-1","member_id":"mb-1"})"));
}

TEST_CASE("from_raw names the position of a row that does not decode") {
    RawEnvelope r{7, "case-c-1", 1, "e-7", "IssueReported", "2026-11-21T01:14:00.000Z", "2026-11-21T01:14:00.500Z", "p-1",
                  report.dump(), zero_hash(), std::string(64, 'a')};
    REQUIRE(from_raw(r));
    r.data = "{not json";
    CHECK(from_raw(r).error().message == "position 7: stored data is not JSON");
    r.data = with(report, "source", "twitter").dump();
    CHECK(from_raw(r).error().message.rfind("position 7: data.source: \"twitter\" is not one of", 0) == 0);
    r.data = report.dump();
    r.recorded_at = "yesterday";
    CHECK(from_raw(r).error().message == "position 7: stored times are not RFC 3339");
}
}
