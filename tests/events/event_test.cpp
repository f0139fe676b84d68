// Strict decoding of posted events: what is accepted, and what is refused with which status and message.
#include "events/envelope.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <set>

using namespace gridloop::events;
using nlohmann::json;

namespace {

Result<Posted> posted(const json& j) { return decode_posted(j); }

json report() {
    return {{"type", "IssueReported"},
            {"data",
             {{"case_id", "c-0001"}, {"category", "illegal_parking"}, {"description", "车辆占用消防通道"}, {"source", "patrol"}, {"grid_id", "m-01"}}}};
}

// The decoder reads nlohmann's DOM for requests and simdjson's for stored rows: on the same data
// both must reach the same event or the same error.
void same_on_both_parsers(const json& j) {
    if (!j.is_object() || !j.contains("type") || !j.at("type").is_string() || !j.contains("data")) return;
    const auto type = j.at("type").get<std::string>();
    const json& data = j.at("data");
    const auto dom = decode_event(type, data);
    const auto text = decode_stored(type, data.dump());
    REQUIRE_MESSAGE(bool(dom) == bool(text), j.dump(), " → ", dom ? text.error().message : dom.error().message);
    if (dom) {
        CHECK_MESSAGE(*dom == *text, j.dump());
    } else {
        CHECK_MESSAGE(dom.error().code == text.error().code, j.dump());
        CHECK_MESSAGE(dom.error().message == text.error().message, j.dump());
    }
}

void refused(const json& j, errc code, const std::string& fragment) {
    auto r = posted(j);
    REQUIRE_MESSAGE(!r, j.dump());
    CHECK_MESSAGE(r.error().code == code, r.error().message);
    CHECK_MESSAGE(r.error().message.find(fragment) != std::string::npos, r.error().message);
    same_on_both_parsers(j);
}

} // namespace

TEST_SUITE("events") {
TEST_CASE("every event type decodes and re-encodes to the same canonical data") {
    const json samples[] = {
        {{"type", "GridDefined"}, {"data", {{"grid_id", "town"}, {"name", "宝华镇"}, {"level", "town"}, {"parent_id", nullptr}}}},
        {{"type", "GridDefined"},
         {"data",
          {{"grid_id", "m-01"}, {"name", "一号楼群"}, {"level", "micro"}, {"parent_id", "g-1"}, {"station", "初心驿站"},
           {"boundary", {{"type", "Polygon"}, {"coordinates", {{{119.1, 32.1}, {119.2, 32.1}, {119.2, 32.2}, {119.1, 32.1}}}}}}}}},
        {{"type", "DepartmentRegistered"}, {"data", {{"dept_id", "police"}, {"name", "派出所"}, {"kind", "police"}, {"serves", {"town"}}}}},
        {{"type", "PersonAssigned"}, {"data", {{"person_id", "p-1"}, {"name", "王芳"}, {"role", "worker"}, {"grid_id", "m-01"}, {"team", "work"}}}},
        {{"type", "PolicySet"},
         {"data",
          {{"limits", {{"worker", "PT4H"}, {"town", "P5D"}}}, {"start_rung", {{"major", "community"}}}, {"max_returns", 2},
           {"lost_contact_after", "P90D"}, {"satisfied_threshold", 0.8}, {"stars", {60.0, 70.0, 80.0, 90.0}}}}},
        {{"type", "CalendarSet"},
         {"data",
          {{"timezone", "Asia/Shanghai"}, {"workdays", {1, 2, 3, 4, 5}}, {"work_hours", {"09:00", "17:00"}},
           {"holidays", {"2026-10-01"}}, {"makeup_workdays", {"2026-10-10"}}}}},
        {{"type", "MemberRegistered"},
         {"data", {{"member_id", "mb-1"}, {"name", "李明"}, {"category", "mobile"}, {"home_branch", "g-1"}, {"residence_grid", "m-01"}}}},
        {{"type", "MemberRelocated"}, {"data", {{"member_id", "mb-1"}, {"to_grid", "m-02"}, {"reason", "工作调动"}}}},
        {{"type", "MemberReportedIn"}, {"data", {{"member_id", "mb-1"}, {"grid_id", "m-02"}}}},
        {{"type", "MemberContacted"}, {"data", {{"member_id", "mb-1"}, {"by", "p-1"}, {"channel", "phone"}}}},
        {{"type", "MembershipTransferred"}, {"data", {{"member_id", "mb-1"}, {"to_branch", "g-2"}}}},
        {{"type", "PointsAwarded"}, {"data", {{"member_id", "mb-1"}, {"points", 5}, {"reason", "volunteer"}, {"case_id", "c-1"}}}},
        {{"type", "PointsRedeemed"}, {"data", {{"member_id", "mb-1"}, {"points", 3}, {"item", "rice"}}}},
        report(),
        {{"type", "IssueReported"},
         {"data",
          {{"case_id", "c-0002"}, {"category", "garbage"}, {"description", "第一行\n\"引号\"\t\\"}, {"source", "camera"},
           {"location", {{"lat", 32.125}, {"lng", 119.0}}}, {"severity", "urgent"}, {"reporter", "居民"}, {"media", {"a.jpg", "b.jpg"}}}}},
        {{"type", "PersonAssigned"}, {"data", {{"person_id", "p-2"}, {"name", "赵"}, {"role", "department_staff"}, {"dept_id", "police"}}}},
        {{"type", "SatisfactionRated"},
         {"data", {{"case_id", "c-1"}, {"rating", "unsatisfied"}, {"solved", "no"}, {"rater", "resident"}, {"comment", "还是没修好"}}}},
        {{"type", "IssueDiscussed"}, {"data", {{"case_id", "c-1"}, {"participants", {"p-1", "p-2"}}, {"teams", {"work", "volunteer"}}, {"decision", "联合处置"}}}},
        {{"type", "IssueEscalated"}, {"data", {{"case_id", "c-1"}, {"to_rung", "department"}, {"dept_id", "police"}, {"reason", "需执法"}, {"auto", false}}}},
        {{"type", "IssueReturned"}, {"data", {{"case_id", "c-1"}, {"dept_id", "police"}, {"reason", "not ours"}}}},
        {{"type", "IssueSupervised"}, {"data", {{"case_id", "c-1"}, {"by", "p-9"}, {"note", "督办"}}}},
        {{"type", "IssueHandled"}, {"data", {{"case_id", "c-1"}, {"handler", "p-1"}, {"result", "已清理"}, {"volunteers", {"mb-1"}}}}},
        {{"type", "FeedbackGiven"}, {"data", {{"case_id", "c-1"}, {"to", "resident"}, {"content", "已处理"}}}},
        {{"type", "SatisfactionRated"}, {"data", {{"case_id", "c-1"}, {"rating", "satisfied"}, {"solved", "yes"}, {"rater", "resident"}}}},
        {{"type", "IssueDismissed"}, {"data", {{"case_id", "c-1"}, {"reason", "duplicate"}, {"note", "same as c-0"}}}},
    };
    std::set<std::string> seen;
    for (const auto& j : samples) {
        auto r = posted(j);
        const std::string why = j.dump() + " → " + (r ? std::string() : r.error().message);
        REQUIRE_MESSAGE(r, why);
        CHECK(type_name(r->event) == j.at("type").get<std::string>());
        CHECK(encode_data(r->event) == canonical_json(j.at("data")));
        same_on_both_parsers(j);
        seen.insert(j.at("type").get<std::string>());
    }
    CHECK(seen.size() == event_types().size());
}

TEST_CASE("streams follow the subject of the event") {
    CHECK(stream_of(posted(report())->event) == "case-c-0001");
    CHECK(stream_of(GridDefined{"g", "n", Level::town, {}, {}, {}}) == "grid-g");
    CHECK(stream_of(PointsAwarded{"mb-1", 3, "r", "c-1"}) == "member-mb-1");
    CHECK(stream_of(PolicySet{}) == "policy");
    CHECK(stream_of(CalendarSet{}) == "policy");
    CHECK(stream_of(PersonAssigned{}) == "person-");
}

TEST_CASE("durations are normalised: whole seconds become ISO 8601") {
    auto r = posted({{"type", "PolicySet"}, {"data", {{"limits", {{"worker", 3600}}}}}});
    REQUIRE(r);
    CHECK(json::parse(encode_data(r->event)).at("limits").at("worker") == "PT1H");
}

TEST_CASE("decode errors name the field and pick the status") {
    SUBCASE("not an object / missing type") {
        refused(json::array(), errc::bad_request, "JSON object");
        refused({{"data", json::object()}}, errc::bad_request, "event.type is required");
    }
    SUBCASE("unknown type is 422 and lists the known ones") { refused({{"type", "IssueSolved"}, {"data", json::object()}}, errc::unprocessable, "IssueReported"); }
    SUBCASE("missing required field is 400") {
        json j = report();
        j["data"].erase("category");
        refused(j, errc::bad_request, "data.category is required");
    }
    SUBCASE("wrong JSON type is 400") {
        json j = report();
        j["data"]["description"] = 42;
        refused(j, errc::bad_request, "data.description must be a string, not a number");
    }
    SUBCASE("bad enum is 422 and names the choices") {
        json j = report();
        j["data"]["source"] = "twitter";
        refused(j, errc::unprocessable, "data.source: \"twitter\" is not one of \"patrol\"");
    }
    SUBCASE("bad id is 422") {
        json j = report();
        j["data"]["case_id"] = "C 1";
        refused(j, errc::unprocessable, "data.case_id");
        j["data"]["case_id"] = std::string(65, 'a');
        refused(j, errc::unprocessable, "not a valid id");
    }
    SUBCASE("unknown fields in data are 422 and named") {
        json j = report();
        j["data"]["priority"] = 1;
        j["data"]["zzz"] = true;
        refused(j, errc::unprocessable, "data.priority, data.zzz");
    }
    SUBCASE("unknown top-level field") {
        json j = report();
        j["colour"] = "red";
        refused(j, errc::unprocessable, "event.colour");
    }
    SUBCASE("grid_id or location") {
        json j = report();
        j["data"].erase("grid_id");
        refused(j, errc::bad_request, "data.grid_id or data.location");
        j["data"]["location"] = {{"lat", 95.0}, {"lng", 0}};
        refused(j, errc::unprocessable, "outside");
        j["data"]["location"] = {{"lat", "x"}, {"lng", 0}};
        refused(j, errc::bad_request, "data.location.lat must be a number");
    }
    SUBCASE("escalation to a department needs the department") {
        refused({{"type", "IssueEscalated"}, {"data", {{"case_id", "c"}, {"to_rung", "department"}, {"reason", "r"}}}}, errc::bad_request,
                "data.dept_id is required");
        refused({{"type", "IssueEscalated"}, {"data", {{"case_id", "c"}, {"to_rung", "town"}, {"reason", "r"}, {"dept_id", "d"}}}},
                errc::unprocessable, "only allowed");
    }
    SUBCASE("points must be positive whole numbers") {
        refused({{"type", "PointsAwarded"}, {"data", {{"member_id", "m"}, {"points", 0}, {"reason", "r"}}}}, errc::unprocessable, "data.points");
        refused({{"type", "PointsAwarded"}, {"data", {{"member_id", "m"}, {"points", 1.5}, {"reason", "r"}}}}, errc::bad_request, "integer");
        refused({{"type", "PointsRedeemed"}, {"data", {{"member_id", "m"}, {"points", -3}, {"item", "r"}}}}, errc::unprocessable, "data.points");
    }
    SUBCASE("grids: parent rules and polygon shape") {
        refused({{"type", "GridDefined"}, {"data", {{"grid_id", "t"}, {"name", "n"}, {"level", "town"}, {"parent_id", "x"}}}},
                errc::unprocessable, "must be null for a town");
        refused({{"type", "GridDefined"}, {"data", {{"grid_id", "m"}, {"name", "n"}, {"level", "micro"}, {"parent_id", nullptr}}}},
                errc::unprocessable, "parent_id is required");
        refused({{"type", "GridDefined"},
                 {"data", {{"grid_id", "m"}, {"name", "n"}, {"level", "micro"}, {"parent_id", "g"},
                           {"boundary", {{"type", "Polygon"}, {"coordinates", {{{0, 0}, {1, 0}, {1, 1}, {0, 1}}}}}}}}},
                errc::unprocessable, "not closed");
    }
    SUBCASE("policy and calendar values") {
        refused({{"type", "PolicySet"}, {"data", {{"limits", {{"mayor", "P1D"}}}}}}, errc::unprocessable, "data.limits: \"mayor\"");
        refused({{"type", "PolicySet"}, {"data", {{"limits", {{"worker", "P1M"}}}}}}, errc::unprocessable, "data.limits.worker");
        refused({{"type", "PolicySet"}, {"data", {{"limits", json::object()}, {"start_rung", {{"major", "department"}}}}}},
                errc::unprocessable, "cannot start");
        refused({{"type", "CalendarSet"},
                 {"data", {{"timezone", "Asia/Shanghai"}, {"workdays", {1, 8}}, {"work_hours", {"09:00", "17:00"}}}}},
                errc::unprocessable, "data.workdays[1]");
        refused({{"type", "CalendarSet"},
                 {"data", {{"timezone", "Asia/Shanghai"}, {"workdays", {1}}, {"work_hours", {"17:00", "09:00"}}}}},
                errc::unprocessable, "start must be before");
        refused({{"type", "CalendarSet"},
                 {"data", {{"timezone", "Asia/Shanghai"}, {"workdays", {1}}, {"work_hours", {"09:00", "17:00"}}, {"holidays", {"2026-02-30"}}}}},
                errc::unprocessable, "data.holidays[0]");
    }
    SUBCASE("envelope fields") {
        json j = report();
        j["occurred_at"] = "yesterday";
        refused(j, errc::unprocessable, "event.occurred_at");
        j = report();
        j["expected_version"] = -1;
        refused(j, errc::unprocessable, "expected_version");
        j = report();
        j["event_id"] = "has space";
        refused(j, errc::unprocessable, "event_id");
    }
}
}
