// POST /v1/events bodies are parsed with simdjson (decode_posted_body). They were parsed with
// nlohmann's json::parse and decoded with decode_posted on its DOM: `by_nlohmann` below is that path,
// as http/api.cpp had it. Both must reach the same events or the same error (status and message) for
// every body, except where the simdjson path refuses on purpose what nlohmann let through: a key given
// twice in one object (nlohmann kept the last), an integer beyond 64 bits (nlohmann read it as the
// nearest double) and a NUL byte outside strings (nlohmann's lexer took it for the end of the text
// and ignored whatever followed). A number that is malformed or out of range is refused by name.
#include "events/event.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace gridloop::events;
using nlohmann::json;

namespace {

// ---- the former path of http/api.cpp (Api::Impl::post_events), kept as the reference ----

Result<PostedBody> by_nlohmann(const std::string& text, std::size_t max_batch) {
    if (!nesting_within(text, 32)) return bad_request("the body is nested deeper than 32 levels");
    const json body = json::parse(text, nullptr, false);
    if (body.is_discarded()) return bad_request("the body is not JSON (or not valid UTF-8)");
    if (!body.is_object()) return bad_request("the body must be an event object or {\"events\": [...]}");
    PostedBody out;
    out.batch = body.contains("events") && !body.contains("type");
    if (out.batch) {
        if (body.size() != 1) return unprocessable("a batch body has only the field \"events\"");
        const auto& list = body.at("events");
        if (!list.is_array()) return bad_request("events must be an array");
        if (list.empty()) return unprocessable("events must not be empty");
        if (list.size() > max_batch) return Error{errc::too_large, "a batch holds at most " + std::to_string(max_batch) + " events"};
        for (std::size_t i = 0; i < list.size(); ++i) {
            auto p = decode_posted(list[i]);
            if (!p) return Error{p.error().code, "events[" + std::to_string(i) + "]: " + p.error().message};
            out.events.push_back(std::move(*p));
        }
    } else {
        auto p = decode_posted(body);
        if (!p) return p.error();
        out.events.push_back(std::move(*p));
    }
    return out;
}

// Whether nlohmann sees some object of the text give a key twice (it keeps the last).
bool repeats_a_key(const std::string& text) {
    std::vector<std::set<std::string>> open;
    bool repeated = false;
    const json parsed = json::parse(
        text,
        [&](int, json::parse_event_t ev, json& parsed) {
            if (ev == json::parse_event_t::object_start) open.emplace_back();
            else if (ev == json::parse_event_t::object_end && !open.empty()) open.pop_back();
            else if (ev == json::parse_event_t::key && !open.empty() && !open.back().insert(parsed.get<std::string>()).second) repeated = true;
            return true;
        },
        false);
    (void)parsed;
    return repeated;
}

std::string show(std::string_view text) { return json(std::string(text.substr(0, 300))).dump(-1, ' ', true, json::error_handler_t::replace); }

bool same_posted(const Posted& a, const Posted& b) {
    // The canonical text tells -0.0 from 0.0, which == does not.
    return a.event == b.event && encode_data(a.event) == encode_data(b.event) && a.event_id == b.event_id &&
           a.occurred_at == b.occurred_at && a.expected_version == b.expected_version && a.actor == b.actor;
}

// Where the simdjson path refuses on purpose: a NUL byte, or a run of 19 digits or more (a candidate
// integer beyond 64 bits). Such texts are compared only when both paths refuse them or neither does.
bool may_differ(const std::string& text) {
    if (text.find('\0') != std::string::npos) return true;
    std::size_t run = 0;
    for (char c : text)
        if ((run = c >= '0' && c <= '9' ? run + 1 : 0) >= 19) return true;
    return false;
}
const std::string not_json = "the body is not JSON (or not valid UTF-8)";
const std::string bad_number = "the body has a number that is malformed or out of range (integers must fit in 64 bits)";

// Checks that both paths agree on `text`; returns the error message ("" when it decoded).
std::string agree(const std::string& text, std::size_t max_batch = 1000) {
    const auto old = by_nlohmann(text, max_batch);
    const auto now = decode_posted_body(text, max_batch);
    if (!now && now.error().message == bad_number) { // a number refused by name, where nlohmann said "not JSON" or took a big integer as a double
        CHECK(now.error().code == errc::bad_request);
        CHECK_MESSAGE((may_differ(text) || (!old && old.error().message == not_json)), show(text));
        return now.error().message;
    }
    if (may_differ(text) && !now && now.error().message == not_json) {
        CHECK(now.error().code == errc::bad_request);
        return now.error().message;
    }
    REQUIRE_MESSAGE(bool(old) == bool(now), show(text), " → ", old ? now.error().message : old.error().message);
    if (old) {
        CHECK_MESSAGE(old->batch == now->batch, show(text));
        REQUIRE_MESSAGE(old->events.size() == now->events.size(), show(text));
        for (std::size_t i = 0; i < old->events.size(); ++i) CHECK_MESSAGE(same_posted(old->events[i], now->events[i]), show(text), " event ", i);
        return "";
    }
    CHECK_MESSAGE(old.error().code == now.error().code, show(text), " → ", now.error().message);
    CHECK_MESSAGE(old.error().message == now.error().message, show(text));
    return now.error().message;
}

// The simdjson path's error on `text` (which must be refused).
Error refused(const std::string& text, std::size_t max_batch = 1000) {
    const auto now = decode_posted_body(text, max_batch);
    REQUIRE_MESSAGE(!now, show(text));
    return now.error();
}

const json report = {{"type", "IssueReported"},
                     {"event_id", "phone-1"},
                     {"data", {{"case_id", "c-1"}, {"category", "parking"}, {"description", "车辆占用消防通道"}, {"source", "patrol"}, {"grid_id", "m-01"}}}};

json ev(const std::string& type, json data) { return {{"type", type}, {"data", std::move(data)}}; }

// One of every event type, some with every optional field.
std::vector<json> samples() {
    return {
        ev("GridDefined", {{"grid_id", "town"}, {"name", "宝华镇"}, {"level", "town"}, {"parent_id", nullptr}}),
        ev("GridDefined", {{"grid_id", "m-01"}, {"name", "一号楼群"}, {"level", "micro"}, {"parent_id", "g-1"}, {"station", "初心驿站"},
                           {"boundary", {{"type", "Polygon"}, {"coordinates", {{{119.1, 32.1}, {119.2, 32.1}, {119.2, 32.2}, {119.1, 32.1}}}}}}}),
        ev("DepartmentRegistered", {{"dept_id", "police"}, {"name", "派出所"}, {"kind", "police"}, {"serves", {"town"}}}),
        ev("PersonAssigned", {{"person_id", "p-1"}, {"name", "王芳"}, {"role", "worker"}, {"grid_id", "m-01"}, {"team", "work"}}),
        ev("PolicySet", {{"limits", {{"worker", "PT4H"}, {"town", "P5D"}}}, {"start_rung", {{"major", "community"}}}, {"max_returns", 2},
                         {"lost_contact_after", "P90D"}, {"satisfied_threshold", 0.8}, {"stars", {60.0, 70.0, 80.5, 90.0}}}),
        ev("CalendarSet", {{"timezone", "Asia/Shanghai"}, {"workdays", {1, 2, 3, 4, 5}}, {"work_hours", {"09:00", "17:00"}},
                           {"holidays", {"2026-10-01"}}, {"makeup_workdays", {"2026-10-10"}}}),
        ev("MemberRegistered", {{"member_id", "mb-1"}, {"name", "李明"}, {"category", "mobile"}, {"home_branch", "g-1"}, {"residence_grid", "m-01"}}),
        ev("MemberRelocated", {{"member_id", "mb-1"}, {"to_grid", "m-02"}, {"reason", "工作调动"}}),
        ev("MemberReportedIn", {{"member_id", "mb-1"}, {"grid_id", "m-02"}}),
        ev("MemberContacted", {{"member_id", "mb-1"}, {"by", "p-1"}, {"channel", "phone"}}),
        ev("MembershipTransferred", {{"member_id", "mb-1"}, {"to_branch", "g-2"}}),
        ev("PointsAwarded", {{"member_id", "mb-1"}, {"points", 5}, {"reason", "volunteer"}, {"case_id", "c-1"}}),
        ev("PointsRedeemed", {{"member_id", "mb-1"}, {"points", 3}, {"item", "rice"}}),
        report,
        {{"type", "IssueReported"},
         {"event_id", "e-2"},
         {"occurred_at", "2026-11-21T09:14:00+08:00"},
         {"expected_version", 0},
         {"actor", "p-1"},
         {"data", {{"case_id", "c-2"}, {"category", "noise"}, {"description", "夜间噪音 \"quoted\" \\ \n ☃ 😀"}, {"source", "hotline"},
                   {"location", {{"lat", 32.123456789012345}, {"lng", 119.98765432109876}}}, {"severity", "major"}, {"reporter", "r"},
                   {"media", {"https://a/b.jpg"}}}}},
        ev("IssueDiscussed", {{"case_id", "c-1"}, {"participants", {"p-1", "p-2"}}, {"teams", {"work", "volunteer"}}, {"decision", "联合处置"}}),
        ev("IssueEscalated", {{"case_id", "c-1"}, {"to_rung", "department"}, {"dept_id", "police"}, {"reason", "需执法"}, {"auto", false}}),
        ev("IssueReturned", {{"case_id", "c-1"}, {"dept_id", "police"}, {"reason", "not ours"}}),
        ev("IssueSupervised", {{"case_id", "c-1"}, {"by", "p-9"}, {"note", "督办"}}),
        ev("IssueHandled", {{"case_id", "c-1"}, {"handler", "p-1"}, {"result", "已清理"}, {"volunteers", {"mb-1"}}}),
        ev("FeedbackGiven", {{"case_id", "c-1"}, {"to", "resident"}, {"content", "已处理"}}),
        ev("SatisfactionRated", {{"case_id", "c-1"}, {"rating", "satisfied"}, {"solved", "yes"}, {"rater", "resident"}}),
        ev("IssueDismissed", {{"case_id", "c-1"}, {"reason", "duplicate"}, {"note", "same as c-0"}}),
    };
}

// `text` with its first `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, from);
    return text.replace(at, from.size(), to);
}

// A report's text with `"field":<value>` added to its data (a raw JSON value, any text).
std::string report_with(const std::string& field, const std::string& value) {
    return replaced(report.dump(), "\"case_id\"", "\"" + field + "\":" + value + ",\"case_id\"");
}

std::string batch_of(const std::vector<std::string>& items) {
    std::string s = "{\"events\":[";
    for (std::size_t i = 0; i < items.size(); ++i) s += (i ? "," : "") + items[i];
    return s + "]}";
}

} // namespace

TEST_SUITE("events") {

TEST_CASE("posted bodies: every event type, alone and in a batch, as nlohmann's path decoded them") {
    std::vector<std::string> all;
    for (const json& j : samples()) {
        CHECK(agree(j.dump()) == "");
        all.push_back(j.dump());
    }
    CHECK(agree(batch_of(all)) == "");
    const auto one = decode_posted_body(batch_of({report.dump()}), 1000);
    REQUIRE(one);
    CHECK(one->batch);
    const auto single = decode_posted_body(report.dump(), 1000);
    REQUIRE(single);
    CHECK(!single->batch);
    CHECK(single->events.size() == 1);
    CHECK(single->events[0].event_id == "phone-1");

    // The same events written in other forms: whitespace, member order, escapes, a byte-order mark.
    CHECK(agree(report.dump(2)) == "");
    CHECK(agree("\r\n\t " + report.dump() + " \n") == "");
    CHECK(agree(R"({"data":{"source":"patrol","grid_id":"m-01","description":"d","category":"c","case_id":"c-1"},"type":"IssueReported"})") == "");
    CHECK(agree(R"({"ty\u0070e":"IssueReported","data":{"case_id":"c\u002d1","category":"c",)"
                R"("description":"\u8f66\ud83d\ude00\/","source":"patrol","grid_id":"m-01"}})") == "");
    CHECK(agree("\xEF\xBB\xBF" + report.dump()) == "");
    // Brackets inside strings are no nesting.
    CHECK(agree(report_with("x", "\"" + std::string(40, '[') + "\\\"" + std::string(40, '{') + "\"")) == "unknown field(s): data.x");
}

TEST_CASE("posted bodies: the body-level problems keep their status and message") {
    CHECK(agree("") == "the body is not JSON (or not valid UTF-8)");
    for (const char* text : {"{", "not json", " ", "{\"type\":", "{}}", "{} {}", "[1,]", "{\"a\":1,}", "nul", "'x'", "{\"a\" 1}", "\f{}", "{}\f",
                             "\xEF\xBB\xBF\xEF\xBB\xBF{}", " \xEF\xBB\xBF{}", "{\"a\":1}\xEF\xBB\xBF", "\xEF\xBB{}", "{/*c*/}", "{\"a\":tru}"})
        CHECK(agree(text) == "the body is not JSON (or not valid UTF-8)");
    CHECK(agree(report.dump() + "}") == "the body is not JSON (or not valid UTF-8)");
    CHECK(agree(report.dump() + "x") == "the body is not JSON (or not valid UTF-8)");
    // A NUL byte outside strings is not JSON (nlohmann's lexer took it for the end of the text).
    const std::string nul(1, '\0');
    CHECK(agree(report.dump() + nul) == not_json);
    CHECK(agree(report.dump() + nul + "garbage\xff" + nul + "{[") == not_json);
    CHECK(agree(batch_of({report.dump()}) + nul + "]") == not_json);
    CHECK(agree(report.dump() + nul + std::string(40, '[')) == "the body is nested deeper than 32 levels");
    CHECK(agree(report_with("x", "99999999999999999999999") + nul + "}") == bad_number);
    CHECK(agree("{\"a\\\"" + nul + "\":1}") == "the body is not JSON (or not valid UTF-8)");
    for (const std::string& text : {nul, nul + "{}", "{" + nul + "}", "tr" + nul + "ue", "[1" + nul + "]", "\xEF\xBB\xBF" + nul, "\xEF" + nul})
        CHECK((agree(text) == not_json || agree(text) == bad_number));
    CHECK(agree("12" + nul + "3") == bad_number);
    CHECK(agree("{}" + nul) == not_json);
    for (const char* text : {"[1, 2]", "\"IssueReported\"", "5", "null", "true", "[]", "[{}]"})
        CHECK(agree(text) == "the body must be an event object or {\"events\": [...]}");
    CHECK(agree("{}") == "event.type is required");
    CHECK(agree(R"({"events": []})") == "events must not be empty");
    CHECK(agree(R"({"events": {}})") == "events must be an array");
    CHECK(agree(R"({"events": null})") == "events must be an array");
    CHECK(agree(R"({"events": "x"})") == "events must be an array");
    CHECK(agree(R"({"events": [], "extra": 1})") == "a batch body has only the field \"events\"");
    CHECK(agree(R"({"extra": 1, "events": [1]})") == "a batch body has only the field \"events\"");
    // With a type it is one event, and `events` an unknown field of it.
    CHECK(agree(R"({"type": "IssueReported", "events": [], "data": {}})") == "unknown field(s): event.events");
    const std::string three = batch_of({report.dump(), report.dump(), report.dump()});
    CHECK(agree(three, 3) == "");
    CHECK(agree(three, 2) == "a batch holds at most 2 events");
    CHECK(refused(three, 2).code == errc::too_large);
    // Errors inside a batch name the event.
    CHECK(agree(batch_of({report.dump(), "5"})) == "events[1]: an event must be a JSON object");
    CHECK(agree(batch_of({report.dump(), "[]", "{}"})) == "events[1]: an event must be a JSON object");
    CHECK(agree(batch_of({report.dump(), ev("IssueSolved", json::object()).dump()})).rfind("events[1]: type: \"IssueSolved\" is not an event type", 0) == 0);
    CHECK(agree(batch_of({report.dump(), report.dump(), report_with("colour", "1")})) == "events[2]: unknown field(s): data.colour");
    // The first refused event is named, whatever follows.
    CHECK(agree(batch_of({report_with("b", "1"), "5"})) == "events[0]: unknown field(s): data.b");
}

TEST_CASE("posted bodies: nesting deeper than 32 levels is refused first, JSON or not") {
    const std::string too_deep = "the body is nested deeper than 32 levels";
    CHECK(agree(std::string(33, '[') + std::string(33, ']')) == too_deep);
    CHECK(agree(std::string(100000, '[')) == too_deep);
    CHECK(agree(std::string(100000, '{')) == too_deep);
    CHECK(agree(std::string(33, '[') + "\xff") == too_deep);
    CHECK(agree("{\"events\":[" + std::string(100000, '[') + "]}") == too_deep);
    CHECK(agree(std::string(32, '[') + std::string(32, ']')) == "the body must be an event object or {\"events\": [...]}");
    // Inside data: the body is level 1, data level 2. simdjson's own limit refuses a non-empty
    // container at its depth; such a body is read again without it.
    for (const std::string inner : {"", "1", "[]", "{}", "{\"a\":1}", "99999999999999999999999"}) {
        for (int levels : {29, 30, 31}) {
            CAPTURE(inner);
            CAPTURE(levels);
            const std::string body = report_with("x", std::string(levels, '[') + inner + std::string(levels, ']'));
            const bool deep = levels + 2 + (inner.starts_with("[") || inner.starts_with("{") ? 1 : 0) > 32;
            CHECK(agree(body) == (deep ? too_deep : inner.size() > 18 ? bad_number : "unknown field(s): data.x"));
        }
    }
    std::string objects;
    for (int i = 0; i < 31; ++i) objects += "{\"a\":";
    CHECK(agree(objects + "1" + std::string(31, '}')) == "event.type is required");
    CHECK(agree(objects + "{\"b\":2}" + std::string(31, '}')) == "event.type is required");
    CHECK(agree(objects + "{\"b\":[]}" + std::string(31, '}')) == too_deep);
    // A nested body that is not JSON either is refused for its nesting, as before.
    CHECK(agree(std::string(31, '[') + "[1,]" + std::string(31, ']')) == "the body is not JSON (or not valid UTF-8)");
    CHECK(agree(std::string(31, '[') + "[[1,]" + std::string(31, ']')) == too_deep);
}

TEST_CASE("posted bodies: invalid UTF-8 and lone surrogates are not JSON") {
    const std::string valid = report.dump();
    for (const std::string& bad : std::vector<std::string>{"\x80", "\xc0\xaf", "\xe5\xa4", "\xff\xfe", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
                                  "\\ud800", "\\udc00", "\\ud800\\u0041", "\\udbff\\ud800", "\\ud800x", "\\uDFFF", "\\u12", "\\x", "\x01", "\x1f",
                                  std::string(1, '\0')}) {
        CAPTURE(show(bad));
        CHECK(agree(replaced(valid, "车辆占用消防通道", bad)) == "the body is not JSON (or not valid UTF-8)");
        CHECK(agree(replaced(valid, "event_id", bad)) == "the body is not JSON (or not valid UTF-8)");
        CHECK(agree(valid + bad) == not_json);
    }
    // Valid: a surrogate pair, an escaped NUL, the highest code point, a noncharacter.
    for (const std::string fine : {"\\ud83d\\ude00", "a\\u0000b", "\xf4\x8f\xbf\xbf", "\xef\xbf\xbe", "\\uffff", "\x7f"}) {
        CAPTURE(show(fine));
        CHECK(agree(replaced(valid, "车辆占用消防通道", fine)) == "");
    }
    // In a key: named as it is.
    CHECK(agree(report_with("a\\u0000b", "1")) == std::string("unknown field(s): data.a\0b", 26));
}

TEST_CASE("posted bodies: numbers are classified as nlohmann classified them") {
    const std::vector<std::string> numbers = {
        "0", "-0", "5", "-5", "0.0", "-0.0", "-0e0", "0e5", "1.0", "1e2", "1E+2", "1e-2", "2.5", "1.5e0", "100", "101",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "18446744073709551616", "99999999999999999999999", "-99999999999999999999999",
        "123456789012345678901234567890", "1e400", "-1e400", "1e-400", "1e-99999999999", "0.0000000000000000000000001",
        "1.7976931348623157e308", "1.7976931348623159e308", "4.9e-324", "31622400", "31622401", "100000000001",
        "3.141592653589793238462643383279502884197169399375105820974944592307816406286", "-01", "01", "1.", ".5", "+1", "1e", "-", "--1",
        "0x10", "Infinity", "NaN", "1_000", "\"5\"", "true", "null", "[]", "{}"};
    for (const auto& n : numbers) {
        CAPTURE(n);
        agree(report_with("x", n));
        agree(replaced(report.dump(), "\"type\"", "\"expected_version\":" + n + ",\"type\""));
        agree(R"({"type":"PointsAwarded","data":{"member_id":"m","reason":"r","points":)" + n + "}}");
        agree(R"({"type":"IssueReported","data":{"case_id":"a","category":"c","description":"d","source":"patrol","location":{"lat":)" + n +
              R"(,"lng":)" + n + "}}}");
        agree(R"({"type":"PolicySet","data":{"limits":{"worker":)" + n + "}}}");
        agree(R"({"type":"PolicySet","data":{"limits":{"worker":"PT1H"},"max_returns":)" + n + ",\"satisfied_threshold\":" + n +
              ",\"lost_contact_after\":" + n + ",\"stars\":[" + n + ",70,80,90]}}");
        agree(R"({"type":"CalendarSet","data":{"timezone":"UTC","workdays":[1,)" + n + R"(],"work_hours":["09:00","17:00"]}})");
        agree(R"({"type":"GridDefined","data":{"grid_id":"m","name":"n","level":"micro","parent_id":"g","boundary":{"type":"Polygon","coordinates":[[[)" +
              n + ",0],[1,0],[1,1],[" + n + ",0]]]}}}");
        agree(batch_of({report.dump(), report_with("x", "[" + n + "," + n + "]")}));
    }
    // The messages the tests of the API look for.
    CHECK(agree(replaced(report.dump(), "\"type\"", "\"expected_version\":-0,\"type\"")) == "");
    CHECK(agree(replaced(report.dump(), "\"type\"", "\"expected_version\":1.0,\"type\"")) == "event.expected_version must be an integer, not a fractional number");
    CHECK(agree(replaced(report.dump(), "\"type\"", "\"expected_version\":18446744073709551615,\"type\"")) == "event.expected_version is too large");
    CHECK(agree(replaced(report.dump(), "\"type\"", "\"expected_version\":18446744073709551616,\"type\"")) == bad_number);
    CHECK(agree(replaced(report.dump(), "\"type\"", "\"expected_version\":1e400,\"type\"")) == bad_number);
    // Only numbers outside strings are numbers.
    CHECK(agree(report_with("x", "\"99999999999999999999999\",\"y\":1,\"z\":\"\\\"99999999999999999999999\"")) ==
          "unknown field(s): data.x, data.y, data.z");
    CHECK(agree(report_with("x", "\"99999999999999999999999\",\"y\":99999999999999999999999")) == bad_number);
    CHECK(agree(report_with("x", "99999999999999999999999") + "x") == "the body is not JSON (or not valid UTF-8)");
    CHECK(agree(report_with("x", "99999999999999999999999x")) == bad_number);
    CHECK(agree(report_with("x", "[99999999999999999999999,true1]")) == bad_number);
    CHECK(agree(report_with("x", "099999999999999999999999")) == bad_number);
    CHECK(agree(report_with("x", std::string(400, '9'))) == bad_number);
}

TEST_CASE("posted bodies: members are visited in key order, as in nlohmann's DOM") {
    // Unknown fields are listed, and the first bad key of a map found, in the order of the keys.
    CHECK(agree(report_with("zeta", "1").replace(1, 0, "\"mood\":1,\"alpha\":2,")) == "unknown field(s): event.alpha, event.mood");
    CHECK(agree(report_with("zeta", "1,\"Zeta\":2,\"alpha\":3,\"é\":4,\"\\u0001\":5,\"z\\u0000\":6")) ==
          "unknown field(s): data.\x01, data.Zeta, data.alpha, data.z" + std::string(1, '\0') + ", data.zeta, data.é");
    CHECK(agree(R"({"type":"PolicySet","data":{"limits":{"worker":"P1D","mayor":"P1D","chief":"P1D"}}})").rfind("data.limits: \"chief\" is not one of", 0) == 0);
    CHECK(agree(R"({"type":"PolicySet","data":{"limits":{"worker":"P1D","town":0,"grid":"PT0S"}}})") == "data.limits.grid must be longer than zero");
    CHECK(agree(R"({"type":"PolicySet","data":{"limits":{"worker":"P1D"},"start_rung":{"urgent":"x","major":"y"}}})").rfind("data.start_rung.major: \"y\"", 0) == 0);
    std::string many = "{\"type\":\"PolicySet\",\"data\":{\"limits\":{";
    for (int i = 40; i > 0; --i) many += "\"k" + std::to_string(i) + "\":\"P1D\",";
    CHECK(agree(many + "\"worker\":\"P1D\"}}}").rfind("data.limits: \"k1\" is not one of", 0) == 0);
    std::string fields = report.dump();
    for (int i = 30; i > 0; --i) fields = replaced(fields, "\"case_id\"", "\"f" + std::to_string(i) + "\":0,\"case_id\"");
    CHECK(agree(fields).rfind("unknown field(s): data.f1, data.f10, data.f11,", 0) == 0);
}

TEST_CASE("posted bodies: a key given twice is refused by name (nlohmann kept the last)") {
    struct Case {
        std::string body, message;
    };
    const std::string r = report.dump();
    const std::vector<Case> cases = {
        {replaced(r, "\"type\"", "\"type\":\"IssueDismissed\",\"type\""), "event.type is given more than once"},
        {replaced(r, "\"type\"", "\"ty\\u0070e\":\"IssueDismissed\",\"type\""), "event.type is given more than once"},
        {replaced(r, "\"type\"", "\"event_id\":\"x\",\"type\""), "event.event_id is given more than once"},
        {replaced(r, "\"type\"", "\"data\":{},\"type\""), "event.data is given more than once"},
        {replaced(r, "\"type\"", "\"colour\":1,\"colour\":2,\"type\""), "event.colour is given more than once"},
        {report_with("case_id", "\"c-2\""), "data.case_id is given more than once"},
        {report_with("location", R"({"lat":1,"lng":2,"lat":3})"), "data.location.lat is given more than once"},
        {report_with("media", R"(["a",{"u":1,"u":1}])"), "data.media[1].u is given more than once"},
        {replaced(r, "\"type\"", "\"actor\":{\"a\":[{},{\"b\":1,\"b\":2}]},\"type\""), "event.actor.a[1].b is given more than once"},
        {R"({"type":"PolicySet","data":{"limits":{"worker":"P1D","worker":"P2D"}}})", "data.limits.worker is given more than once"},
        {R"({"type":"GridDefined","data":{"grid_id":"m","name":"n","level":"micro","parent_id":"g","boundary":{"type":"Polygon","type":"Polygon","coordinates":[]}}})",
         "data.boundary.type is given more than once"},
        // The first repeat in the text: one inside a value comes before a repeat of a later key.
        {report_with("x", R"({"y":1,"y":2},"category":"c")"), "data.x.y is given more than once"},
        {report_with("category", R"("c","category":"d","x":{"y":1,"y":2})"), "data.category is given more than once"},
        // In a batch, after the events before it.
        {batch_of({r, report_with("grid_id", "\"m-02\"")}), "events[1]: data.grid_id is given more than once"},
        {R"({"events":[],"events":[]})", "events is given more than once"},
        {batch_of({r}).replace(1, 0, "\"events\":5,"), "events is given more than once"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.body);
        REQUIRE(repeats_a_key(c.body));
        const Error e = refused(c.body);
        CHECK(e.code == errc::unprocessable);
        CHECK(e.message == c.message);
    }
    // Many keys in one object.
    std::string many = report.dump();
    for (int i = 0; i < 40; ++i) many = replaced(many, "\"case_id\"", "\"f" + std::to_string(i) + "\":0,\"case_id\"");
    CHECK(refused(replaced(many, "\"case_id\"", "\"f7\":1,\"case_id\"")).message == "data.f7 is given more than once");
    // Where the old path refused the body before reading the repeat, the outcome is the same.
    for (const std::string& same : std::vector<std::string>{R"({"events":[1],"x":1,"x":2})", "[{\"a\":1,\"a\":2}]",
                                                            batch_of({report_with("b", "1"), report_with("case_id", "\"x\"")}),
                                                            std::string(40, '[') + "{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2"}) {
        CAPTURE(same);
        agree(same);
    }
}

// Random edits of valid bodies, both paths compared: found the parser differences above.
TEST_CASE("posted bodies: both paths agree on random edits of valid bodies") {
    std::vector<std::string> seeds;
    for (const json& j : samples()) seeds.push_back(j.dump());
    seeds.push_back(batch_of({report.dump(), samples()[4].dump()}));
    const std::vector<std::string> tokens = {"{", "}", "[", "]", ",", ":", "\"", "\\", "-0", "-", "0", "1", "e", ".", " ", "\"a\":1,", "null",
                                             "true", "99999999999999999999999", "18446744073709551616", "1e400", "\\u", "\\ud800", "\xff", "\xe5",
                                             "\xEF\xBB\xBF", std::string(1, '\0'), "\"events\"", "\"type\"", "1.5", "\"x\"", "{\"events\":["};
    std::mt19937_64 rng(20261121);
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    int compared = 0;
    const int rounds = 10000;
    for (int round = 0; round < rounds; ++round) {
        std::string s = seeds[pick(seeds.size())];
        for (std::size_t edits = 1 + pick(3); edits > 0; --edits) {
            const std::size_t at = pick(s.size() + 1);
            switch (pick(4)) {
            case 0: s.insert(at, tokens[pick(tokens.size())]); break;
            case 1: s.erase(at, 1 + pick(4)); break;
            case 2:
                if (at < s.size()) s[at] = static_cast<char>(rng());
                break;
            default: {
                const std::size_t from = pick(s.size() + 1);
                s.insert(at, s.substr(from, pick(40)));
            }
            }
        }
        if (repeats_a_key(s)) {
            // Refused: for the repeat, or for a problem found before it.
            const auto now = decode_posted_body(s, 1000);
            CHECK_MESSAGE(!now, show(s));
            continue;
        }
        agree(s, 2);
        ++compared;
    }
    CHECK(compared > rounds / 2);

    // Number-like tokens where the decoder reads integers and fractions.
    const std::string alphabet = "0123456789000999-+.eE";
    for (int round = 0; round < 3000; ++round) {
        std::string n;
        for (std::size_t len = 1 + pick(1 + pick(25)); len > 0; --len) n += alphabet[pick(alphabet.size())];
        CAPTURE(n);
        agree(replaced(report.dump(), "\"type\"", "\"expected_version\":" + n + ",\"type\""));
        agree(R"({"type":"PolicySet","data":{"limits":{"worker":)" + n + R"(},"satisfied_threshold":)" + n + R"(,"stars":[)" + n + ",1,2,3]}}");
        agree(R"({"type":"IssueReported","data":{"case_id":"a","category":"c","description":"d","source":"patrol","location":{"lat":)" + n +
              R"(,"lng":-)" + n + "}}}");
    }
}
}
