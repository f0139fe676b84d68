// Open311 GeoReport v2 under /open311/v2/ (Api::handle_now, and once over a real socket): every
// resource in JSON and XML, in the shapes of the spec's examples and of the JSON Schemas in
// ../shared/open311; the form's decoding; api_key under the same role and scope rules as
// POST /v1/events; routing by coordinates and by address; the filters and default window of GET
// requests; the /v1 read rules; and refusals that append nothing and never answer 500.
#include "http/api.hpp"
#include "http/server.hpp"
#include "tests/support/engine_fixture.hpp"
#include "tests/support/http_client.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <sstream>

using namespace gridloop;
using namespace std::chrono_literals;
using nlohmann::json;
using nlohmann::ordered_json;
using testing::EngineFixture;
namespace pt = boost::property_tree;

namespace {

const std::string admin = "o311-admin-token-000001";
const std::string worker = "o311-worker-token-00001"; // scope m1
const std::string dashboard = "o311-dash-token-0000001";
const std::string auditor = "o311-audit-token-000001";
const std::string staff = "o311-staff-token-000001"; // department d

const char* const tokens_text = R"([
  {"token": "o311-admin-token-000001", "subject": "root",   "role": "admin"},
  {"token": "o311-worker-token-00001", "subject": "p-017",  "role": "worker", "scope": ["m1"]},
  {"token": "o311-dash-token-0000001", "subject": "screen", "role": "dashboard"},
  {"token": "o311-audit-token-000001", "subject": "aud",    "role": "auditor"},
  {"token": "o311-staff-token-000001", "subject": "p-ds",   "role": "department_staff", "scope": ["d"]}
])";

// Points: inside m1, inside m2, inside m3, in grid g but in no micro-grid (about 1.1 km north of m2).
constexpr double in_m1[] = {32.105, 119.105}, in_m2[] = {32.115, 119.105}, in_m3[] = {32.105, 119.175}, in_gap[] = {32.13, 119.105};

// [lng0, lng1] × [lat0, lat1] as a GeoJSON Polygon.
json box(double lng0, double lat0, double lng1, double lat1) {
    auto pt = [](double lng, double lat) { return json::array({lng, lat}); };
    return {{"type", "Polygon"},
            {"coordinates", json::array({json::array({pt(lng0, lat0), pt(lng1, lat0), pt(lng1, lat1), pt(lng0, lat1), pt(lng0, lat0)})})}};
}

// Percent-encodes all but the unreserved characters, as a form encoder does.
std::string enc(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else out += {'%', hex[c >> 4], hex[c & 15]};
    }
    return out;
}

using Fields = std::vector<std::pair<std::string, std::string>>;
std::string form(const Fields& fields) {
    std::string out;
    for (const auto& [k, v] : fields) out += (out.empty() ? "" : "&") + enc(k) + "=" + enc(v);
    return out;
}
std::string num(double v) { return json(v).dump(); }

// A report by coordinates, as a resident's app sends it.
Fields at(const double (&p)[2], const std::string& key = admin, const std::string& code = "garbage") {
    return {{"api_key", key}, {"service_code", code}, {"lat", num(p[0])}, {"long", num(p[1])}, {"description", "楼道口堆放垃圾"}};
}
Fields with(Fields f, const std::string& key, const std::string& value) {
    f.emplace_back(key, value);
    return f;
}
Fields without(Fields f, const std::string& key) {
    std::erase_if(f, [&](const auto& kv) { return kv.first == key; });
    return f;
}

struct Fixture : EngineFixture {
    std::shared_ptr<http::Authenticator> auth = std::make_shared<http::Authenticator>(http::Tokens::parse(tokens_text));
    http::Api api{*engine, auth};

    // Town t → community c → grid g → micro-grids m1 一号楼 and m2 二号楼; m3, also named 一号楼,
    // directly under c; department d serves c. Boundaries around 119.1E 32.1N: m1 the cell
    // [119.10, 119.11] × [32.10, 32.11], m2 the cell north of it, m3 [119.17, 119.18] × [32.10, 32.11];
    // grid g runs on north of m2 to 32.15 with no micro-grid there. One case of garbage in m1 and
    // one of noise in m2: the log's two categories, so the two services.
    Fixture() {
        auto grid = [](const char* id, const char* name, const char* level, json parent, json boundary) {
            return ev("GridDefined", {{"grid_id", id}, {"name", name}, {"level", level}, {"parent_id", parent}, {"boundary", boundary}});
        };
        REQUIRE(post_all(json::array({
            grid("t", "宝华镇", "town", nullptr, box(119.10, 32.10, 119.20, 32.20)),
            grid("c", "新城社区", "community", "t", box(119.10, 32.10, 119.18, 32.16)),
            grid("g", "第一网格", "grid", "c", box(119.10, 32.10, 119.11, 32.15)),
            grid("m1", "一号楼", "micro", "g", box(119.10, 32.10, 119.11, 32.11)),
            grid("m2", "二号楼", "micro", "g", box(119.10, 32.11, 119.11, 32.12)),
            grid("m3", "一号楼", "micro", "c", box(119.17, 32.10, 119.18, 32.11)),
            ev("DepartmentRegistered", {{"dept_id", "d"}, {"name", "城管中队"}, {"kind", "city_management"}, {"serves", {"c"}}}),
        })));
        REQUIRE(post(report("k-garbage", "m1")));
        REQUIRE(post(noise("k-noise", "m2")));
    }
    static json noise(const std::string& id, const std::string& grid) {
        return ev("IssueReported",
                  {{"case_id", id}, {"category", "noise"}, {"description", "夜间噪音"}, {"source", "hotline"}, {"grid_id", grid}});
    }

    http::Response call(const std::string& method, const std::string& target, const std::string& body = {},
                        std::map<std::string, std::string> headers = {}) {
        return api.handle_now(http::Request{method, target, body, std::move(headers)});
    }
    // GET with the token in the Authorization header (none when empty): a URL is no place for a token.
    http::Response get(const std::string& target, const std::string& key = admin) {
        if (key.empty()) return call("GET", target);
        return call("GET", target, {}, {{"authorization", "Bearer " + key}});
    }
    http::Response post_form(const std::string& body, const std::string& ext = "json") {
        return call("POST", "/open311/v2/requests." + ext, body, {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}});
    }
    http::Response post_form(const Fields& fields, const std::string& ext = "json") { return post_form(form(fields), ext); }
    std::int64_t head() const { return engine->head().position; }

    // Posts a report that must be accepted; returns its service_request_id.
    std::string create(const Fields& fields) { return create(form(fields)); }
    std::string create(const std::string& body) {
        const auto r = post_form(body);
        INFO(r.status << " " << r.body);
        REQUIRE(r.status == 200);
        return ordered_json::parse(r.body).at(0).at("service_request_id").get<std::string>();
    }
    // The case as /v1 shows it to the admin.
    json v1_case(const std::string& id) {
        const auto r = call("GET", "/v1/cases/" + id, {}, {{"authorization", "Bearer " + admin}});
        REQUIRE(r.status == 200);
        return json::parse(r.body);
    }
    // The stored IssueReported envelope of a case.
    json reported(const std::string& id) {
        const auto r = call("GET", "/v1/streams/case-" + id, {}, {{"authorization", "Bearer " + admin}});
        REQUIRE(r.status == 200);
        return json::parse(r.body).at("events").at(0);
    }
    ordered_json get_json(const std::string& target, const std::string& key = admin) {
        const auto r = get(target, key);
        INFO(target << " → " << r.status << " " << r.body.substr(0, 400));
        REQUIRE(r.status == 200);
        REQUIRE(r.content_type == "application/json; charset=utf-8");
        return ordered_json::parse(r.body);
    }
    std::set<std::string> ids_of(const std::string& target, const std::string& key = admin) {
        std::set<std::string> ids;
        for (const auto& r : get_json(target, key)) ids.insert(r.at("service_request_id").get<std::string>());
        return ids;
    }
    void close_case(const std::string& id) {
        clock.advance(1h);
        REQUIRE(post(ev("IssueHandled", {{"case_id", id}, {"handler", "p-017"}, {"result", "已清理"}})));
        clock.advance(1h);
        REQUIRE(post(ev("FeedbackGiven", {{"case_id", id}, {"to", "resident-7"}, {"content", "已告知反映人"}})));
        clock.advance(1h);
        REQUIRE(post(ev("SatisfactionRated", {{"case_id", id}, {"rating", "satisfied"}, {"solved", "yes"}, {"rater", "resident-7"}})));
    }
};

// ------------------------------------------------------------------ shapes

pt::ptree xml_of(const http::Response& r) {
    INFO(r.body.substr(0, 400));
    REQUIRE(r.content_type == "text/xml; charset=utf-8");
    REQUIRE(r.body.rfind("<?xml version=\"1.0\" encoding=\"utf-8\"?>", 0) == 0);
    std::istringstream in(r.body);
    pt::ptree tree;
    pt::read_xml(in, tree);
    REQUIRE(tree.size() == 1); // one root element
    return tree;
}

// The spec's element names for the items of each list.
const std::map<std::string, std::string> item_of{{"services", "service"},     {"service_requests", "request"}, {"errors", "error"},
                                                 {"attributes", "attribute"}, {"values", "value"},             {"endpoints", "endpoint"},
                                                 {"formats", "format"}};

// The XML element holds what the JSON value holds: an object's fields as child elements in the same
// order, a list's items as <item> elements named after it, scalars as text (null as empty).
void same_shape(const ordered_json& j, const pt::ptree& node, const std::string& name) {
    CAPTURE(name);
    if (j.is_array()) {
        REQUIRE(item_of.count(name));
        CHECK(node.size() == j.size());
        std::size_t i = 0;
        for (const auto& [child, sub] : node) {
            CHECK(child == item_of.at(name));
            if (i < j.size()) same_shape(j[i], sub, child);
            ++i;
        }
    } else if (j.is_object()) {
        std::vector<std::string> keys, elements;
        for (const auto& [k, v] : j.items()) keys.push_back(k);
        for (const auto& [child, sub] : node) elements.push_back(child);
        CHECK(elements == keys);
        for (const auto& [child, sub] : node)
            if (j.contains(child)) same_shape(j.at(child), sub, child);
    } else {
        CHECK(node.empty());
        const std::string text = node.data();
        if (j.is_null()) CHECK(text.empty());
        else if (j.is_string()) CHECK(text == j.get<std::string>());
        else if (j.is_boolean()) CHECK(text == (j.get<bool>() ? "true" : "false"));
        else CHECK(std::stod(text) == doctest::Approx(j.get<double>()));
    }
}

// GET in both formats: the JSON, and the XML of the same answer checked against it under `root`.
ordered_json both_formats(Fixture& f, const std::string& path_without_ext, const std::string& query, const std::string& root,
                          const std::string& key = admin) {
    const ordered_json j = f.get_json(path_without_ext + ".json" + query, key);
    const auto x = f.get(path_without_ext + ".xml" + query, key);
    REQUIRE(x.status == 200);
    const auto tree = xml_of(x);
    REQUIRE(tree.count(root) == 1);
    same_shape(j, tree.get_child(root), root);
    return j;
}

// A refusal in the spec's error format, in the response's own format: [{code, description}].
void check_errors(const http::Response& r, int status, const std::string& description_has = {}) {
    INFO("answer: " << r.status << " " << r.body.substr(0, 400));
    CHECK(r.status == status);
    std::vector<std::pair<std::string, std::string>> errors; // code, description
    if (r.content_type.rfind("text/xml", 0) == 0) {
        const auto tree = xml_of(r);
        REQUIRE(tree.count("errors") == 1);
        for (const auto& [name, e] : tree.get_child("errors")) {
            CHECK(name == "error");
            errors.emplace_back(e.get<std::string>("code"), e.get<std::string>("description"));
        }
    } else {
        REQUIRE(r.content_type == "application/json; charset=utf-8");
        const json j = json::parse(r.body, nullptr, false);
        REQUIRE(j.is_array());
        for (const auto& e : j) {
            REQUIRE(e.size() == 2);
            CHECK(e.at("code").is_number_integer());
            errors.emplace_back(e.at("code").dump(), e.at("description").get<std::string>());
        }
    }
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].first == std::to_string(status));
    CHECK(!errors[0].second.empty());
    if (!description_has.empty())
        CHECK_MESSAGE(errors[0].second.find(description_has) != std::string::npos, "description should name \"" << description_has << "\"");
}

// A refused POST: the status in the error format, and nothing appended.
void refused(Fixture& f, const std::string& body, int status, const std::string& description_has = {}, const std::string& ext = "json") {
    const auto before = f.head();
    INFO("form: " << body.substr(0, 200));
    check_errors(f.post_form(body, ext), status, description_has);
    CHECK(f.head() == before);
}
void refused(Fixture& f, const Fields& fields, int status, const std::string& description_has = {}, const std::string& ext = "json") {
    refused(f, form(fields), status, description_has, ext);
}

// The JSON Schemas of ../shared/open311 for the keywords they use (type, anyOf, required,
// properties, enum, items, maxLength, $ref to a sibling file). Skipped, visibly, where absent.
struct Schemas {
    std::filesystem::path dir = std::filesystem::path(GRIDLOOP_SOURCE_DIR) / ".." / "shared" / "open311";
    bool present() const { return std::filesystem::exists(dir / "request.json"); }

    json load(const std::string& file) const {
        std::ifstream in(dir / file);
        return json::parse(in);
    }
    // What is wrong with v, or "" when it is valid.
    std::string check(const json& v, const json& s, const std::string& at) const {
        if (s.contains("$ref")) return check(v, load(s.at("$ref")), at);
        if (s.contains("anyOf")) {
            for (const auto& alt : s.at("anyOf"))
                if (check(v, alt, at).empty()) return "";
            return at + ": matches none of anyOf";
        }
        if (s.contains("type")) {
            static const std::map<std::string, bool (json::*)() const noexcept> is{
                {"string", &json::is_string}, {"number", &json::is_number},   {"integer", &json::is_number_integer},
                {"boolean", &json::is_boolean}, {"array", &json::is_array}, {"object", &json::is_object}, {"null", &json::is_null}};
            if (!(v.*is.at(s.at("type").get<std::string>()))()) return at + ": not " + s.at("type").get<std::string>();
        }
        if (s.contains("enum") && std::find(s.at("enum").begin(), s.at("enum").end(), v) == s.at("enum").end()) return at + ": not in enum";
        if (s.contains("maxLength") && v.is_string()) {
            const auto& text = v.get_ref<const std::string&>();
            const auto chars = std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
            if (chars > s.at("maxLength").get<long>()) return at + ": longer than maxLength";
        }
        if (v.is_object()) {
            for (const auto& key : s.value("required", json::array()))
                if (!v.contains(key.get<std::string>())) return at + ": lacks " + key.get<std::string>();
            const json properties = s.value("properties", json::object());
            for (const auto& [key, sub] : properties.items())
                if (v.contains(key))
                    if (auto e = check(v.at(key), sub, at + "." + key); !e.empty()) return e;
        }
        if (v.is_array() && s.contains("items"))
            for (std::size_t i = 0; i < v.size(); ++i)
                if (auto e = check(v[i], s.at("items"), at + "[" + std::to_string(i) + "]"); !e.empty()) return e;
        return "";
    }
    void validate(const ordered_json& v, const std::string& file) const {
        if (!present()) {
            MESSAGE("skipped: no JSON Schemas at " << dir.string());
            return;
        }
        const auto problem = check(json::parse(v.dump()), load(file), file);
        CHECK_MESSAGE(problem.empty(), problem);
    }
};

const std::regex w3c_time(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$)");

} // namespace

TEST_SUITE("http") {

// ------------------------------------------------------------------ discovery and services

TEST_CASE("open311: service discovery in JSON and XML") {
    Fixture f;
    const auto d = both_formats(f, "/open311/v2/discovery", "", "discovery", "");
    for (const char* key : {"changeset", "contact", "key_service"}) CHECK(d.at(key).is_string());
    CHECK(events::parse_time(d.at("changeset").get<std::string>()));
    REQUIRE(d.at("endpoints").size() == 1);
    const auto& e = d.at("endpoints").at(0);
    CHECK(e.at("specification") == "http://wiki.open311.org/GeoReport_v2");
    CHECK(e.at("url") == "/open311/v2"); // no Host header: relative
    CHECK(e.at("type") == "production");
    CHECK(e.at("formats") == ordered_json::array({"text/xml", "application/json"}));
    CHECK(e.at("changeset") == d.at("changeset"));

    const auto r = f.call("GET", "/open311/v2/discovery.json", {}, {{"host", "gridloop.example:8080"}});
    CHECK(ordered_json::parse(r.body).at("endpoints").at(0).at("url") == "http://gridloop.example:8080/open311/v2");
    const auto bad_host = f.call("GET", "/open311/v2/discovery.json", {}, {{"host", "a b<c>"}});
    CHECK(ordered_json::parse(bad_host.body).at("endpoints").at(0).at("url") == "/open311/v2");
}

TEST_CASE("open311: the services are the log's categories, in JSON and XML, with no token needed") {
    Fixture f;
    const Schemas schemas;
    const auto services = both_formats(f, "/open311/v2/services", "", "services", "");
    schemas.validate(services, "services.json");
    REQUIRE(services.size() == 2);
    CHECK(services.at(0).at("service_code") == "garbage");
    CHECK(services.at(1).at("service_code") == "noise");
    for (const auto& s : services) {
        CHECK(s.at("service_code").is_string()); // ids as strings
        CHECK(s.at("metadata") == true);
        CHECK(s.at("type") == "realtime");
    }
    // A category becomes a service once a case is reported in it.
    REQUIRE(f.post(EngineFixture::ev("IssueReported", {{"case_id", "k-light"}, {"category", "street_light"}, {"description", "路灯不亮"},
                                                       {"source", "patrol"}, {"grid_id", "m1"}})));
    CHECK(f.get_json("/open311/v2/services.json", "").size() == 3);
    // jurisdiction_id, when given, must be a town.
    CHECK(f.get_json("/open311/v2/services.json?jurisdiction_id=t", "").size() == 3);
    check_errors(f.get("/open311/v2/services.json?jurisdiction_id=nowhere", ""), 404, "jurisdiction_id \"nowhere\" not found");
    check_errors(f.get("/open311/v2/services.xml?jurisdiction_id=c", ""), 404, "jurisdiction_id");
    check_errors(f.get("/open311/v2/services.json?jurisdiction_id=t&jurisdiction_id=t", ""), 400, "more than once");
}

TEST_CASE("open311: a service definition gives its attributes, and an unknown service is 404") {
    Fixture f;
    const auto d = both_formats(f, "/open311/v2/services/garbage", "", "service_definition", "");
    Schemas().validate(d, "service-definition.json");
    CHECK(d.at("service_code") == "garbage");
    REQUIRE(d.at("attributes").size() == 1);
    const auto& a = d.at("attributes").at(0);
    CHECK(a.at("code") == "severity");
    CHECK(a.at("datatype") == "singlevaluelist");
    CHECK(a.at("required") == false);
    CHECK(a.at("variable") == true);
    CHECK(a.at("order") == 1);
    std::vector<std::string> keys;
    for (const auto& v : a.at("values")) keys.push_back(v.at("key"));
    CHECK(keys == std::vector<std::string>{"normal", "urgent", "major"});

    check_errors(f.get("/open311/v2/services/nope.json", ""), 404, "service_code \"nope\" not found");
    check_errors(f.get("/open311/v2/services/nope.xml", ""), 404, "service_code \"nope\" not found");
    check_errors(f.get("/open311/v2/services/garbage", ""), 404, ".json or .xml");
    check_errors(f.get("/open311/v2/services/garbage.csv", ""), 404, ".json or .xml");
    check_errors(f.get("/open311/v2/services/garbage.xml?jurisdiction_id=x", ""), 404, "jurisdiction_id");
}

// ------------------------------------------------------------------ creating requests

TEST_CASE("open311: POST by coordinates appends one IssueReported from a resident, read back in JSON and XML") {
    Fixture f;
    const auto before = f.head();
    const Fields fields{{"api_key", worker},
                        {"service_code", "garbage"},
                        {"lat", num(in_m1[0])},
                        {"long", num(in_m1[1])},
                        {"description", "楼道口堆放垃圾，影响通行\n请尽快清理"},
                        {"media_url", "https://img.example/1.jpg"},
                        {"attribute[severity]", "urgent"},
                        {"email", "resident@mail.example"},
                        {"first_name", "秀英"},
                        {"last_name", "王"},
                        {"phone", "13800138000"},
                        {"device_id", "device-7f3a"},
                        {"account_id", "acct-99881"}};
    const auto r = f.post_form(fields);
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(r.content_type == "application/json; charset=utf-8");
    const auto answer = ordered_json::parse(r.body);
    REQUIRE(answer.is_array());
    REQUIRE(answer.size() == 1);
    const auto& created = answer.at(0);
    std::vector<std::string> keys;
    for (const auto& [key, v] : created.items()) keys.push_back(key);
    CHECK(keys == std::vector<std::string>{"service_request_id", "service_notice", "account_id"});
    const std::string id = created.at("service_request_id");
    CHECK(std::regex_match(id, std::regex("o311-[0-9a-f]{16}")));
    CHECK(created.at("service_notice").get<std::string>().find("一号楼 (m1)") != std::string::npos);
    CHECK(created.at("account_id").is_null());
    REQUIRE(!r.headers.empty());
    CHECK(r.headers[0] == std::pair<std::string, std::string>{"Location", "/open311/v2/requests/" + id + ".json"});
    CHECK(f.head() == before + 1);

    // Stored as any IssueReported: the token's subject as actor, routed to m1, and no personal field.
    const json env = f.reported(id);
    CHECK(env.at("type") == "IssueReported");
    CHECK(env.at("actor") == "p-017");
    const json& data = env.at("data");
    CHECK(data == json{{"case_id", id},
                       {"category", "garbage"},
                       {"description", "楼道口堆放垃圾，影响通行\n请尽快清理"},
                       {"source", "resident"},
                       {"grid_id", "m1"},
                       {"location", {{"lat", in_m1[0]}, {"lng", in_m1[1]}}},
                       {"severity", "urgent"},
                       {"media", {"https://img.example/1.jpg"}}});
    const std::string log = f.call("GET", "/v1/events", {}, {{"authorization", "Bearer " + admin}}).body;
    for (const char* personal : {"resident@mail.example", "秀英", "13800138000", "device-7f3a", "acct-99881"})
        CHECK_MESSAGE(log.find(personal) == std::string::npos, personal << " is in the log");

    // Read back.
    const auto list = both_formats(f, "/open311/v2/requests/" + id, "", "service_requests", worker);
    Schemas().validate(list, "requests.json");
    REQUIRE(list.size() == 1);
    const auto& got = list.at(0);
    const json k = f.v1_case(id);
    CHECK(got.at("service_request_id") == id);
    CHECK(got.at("status") == "open");
    CHECK(got.at("status_notes").is_null());
    CHECK(got.at("service_code") == "garbage");
    CHECK(got.at("service_name") == "garbage");
    CHECK(got.at("description") == "楼道口堆放垃圾，影响通行\n请尽快清理");
    CHECK(got.at("agency_responsible").is_null());
    CHECK(got.at("expected_datetime") == k.at("due_at"));
    CHECK(got.at("requested_datetime") == k.at("reported_at"));
    CHECK(got.at("updated_datetime") == k.at("reported_at"));
    for (const char* t : {"requested_datetime", "updated_datetime", "expected_datetime"})
        CHECK(std::regex_match(got.at(t).get<std::string>(), w3c_time));
    CHECK(got.at("address") == "一号楼, 第一网格, 新城社区, 宝华镇");
    CHECK(got.at("address_id") == "m1");
    CHECK(got.at("lat") == in_m1[0]);
    CHECK(got.at("long") == in_m1[1]);
    CHECK(got.at("media_url") == "https://img.example/1.jpg");

    // The XML answer to a POST: <service_requests><request>…<account_id/></request></service_requests>.
    const auto x = f.post_form(at(in_m1), "xml");
    REQUIRE(x.status == 200);
    const auto tree = xml_of(x);
    const auto& request = tree.get_child("service_requests").get_child("request");
    std::vector<std::string> names;
    for (const auto& [name, v] : request) names.push_back(name);
    CHECK(names == std::vector<std::string>{"service_request_id", "service_notice", "account_id"});
    CHECK(request.get<std::string>("account_id").empty());
    CHECK(f.v1_case(request.get<std::string>("service_request_id")).at("grid_id") == "m1");
    CHECK(f.head() == before + 2);
}

TEST_CASE("open311: the form is decoded as the API decodes a query: percent-encoding, '+', repeated keys, bad encoding") {
    Fixture f;
    const std::string base = "api_key=" + admin + "&service_code=garbage&address_id=m1";
    // '+' is a space and %2B a plus; UTF-8 percent-encoded; names are decoded as well.
    auto id = f.create(base + "&description=a+b%2Bc%20d%E5%9E%83%E5%9C%BE&attribute%5Bseverity%5D=major");
    CHECK(f.reported(id).at("data").at("description") == "a b+c d垃圾");
    CHECK(f.reported(id).at("data").at("severity") == "major");
    // An empty value is no value (the spec's "optional"): the description falls back to the service code.
    id = f.create(base + "&description=&lat=&long=&email=");
    CHECK(f.reported(id).at("data").at("description") == "garbage");
    CHECK(f.reported(id).at("data").at("grid_id") == "m1");
    // Fields may come in the query string too (the spec's swagger puts them there), but never the token:
    // access logs record URLs.
    CHECK(f.call("POST", "/open311/v2/requests.json?service_code=noise", "api_key=" + admin + "&address_id=m2").status == 200);
    const auto before_url = f.head();
    check_errors(f.call("POST", "/open311/v2/requests.json?api_key=" + admin, "service_code=noise&address_id=m2"), 403,
                 "api_key must not be sent in the URL");
    check_errors(f.call("GET", "/open311/v2/requests.xml?api_key=" + admin), 403, "Authorization: Bearer");
    check_errors(f.call("GET", "/open311/v2/services.json?api_key="), 403, "must not be sent in the URL");
    CHECK(f.head() == before_url);

    refused(f, base + "&description=x&description=y", 400, "description is given more than once");
    refused(f, base + "&api_key=" + admin, 400, "api_key is given more than once");
    for (const char* bad : {"&description=%zz", "&description=%4", "&description=%", "&%zz=1"})
        refused(f, base + bad, 400, "malformed percent-encoding");
    refused(f, base + "&description=%FF%FE", 400, "description is not UTF-8 text");
    refused(f, base + "&description=%C0%AF", 400, "not UTF-8"); // an overlong '/'
    refused(f, base + "&description=%ED%A0%80", 400, "not UTF-8"); // a surrogate
    refused(f, base + "&description=a%01b", 400, "control characters");
    refused(f, base + "&%FF=1", 400, "a parameter name is not UTF-8 text");
    // Tab and line breaks are text.
    CHECK(f.post_form(base + "&description=a%09b%0D%0Ac").status == 200);

    const auto before = f.head();
    check_errors(f.call("POST", "/open311/v2/requests.json", base, {{"content-type", "multipart/form-data; boundary=x"}}), 400,
                 "application/x-www-form-urlencoded");
    check_errors(f.call("POST", "/open311/v2/requests.xml", base, {{"content-type", "application/json"}}), 400, "x-www-form-urlencoded");
    CHECK(f.head() == before);
    // A malformed query string on a read is refused in Open311's format too, not as problem+json.
    check_errors(f.get("/open311/v2/requests.json?status=%zz"), 400, "malformed percent-encoding");
    check_errors(f.get("/open311/v2/services.xml?x=%E5%9E", ""), 400, "x is not UTF-8 text");
}

TEST_CASE("open311: api_key is a gridloop token under the same role and scope rules as POST /v1/events") {
    Fixture f;
    refused(f, without(at(in_m1), "api_key"), 403, "api_key is required");
    refused(f, without(at(in_m1), "api_key"), 403, "api_key is required", "xml");
    refused(f, with(without(at(in_m1), "api_key"), "api_key", admin + "x"), 403, "api_key is not valid");
    refused(f, with(without(at(in_m1), "api_key"), "api_key", ""), 403, "api_key is required");
    // Roles that may not post events, and a worker outside the scope: refused as /v1/events refuses them.
    const auto v1 = [&](const std::string& token, const std::string& grid) {
        return f.call("POST", "/v1/events", EngineFixture::report("k-v1", grid).dump(), {{"authorization", "Bearer " + token}}).status;
    };
    refused(f, at(in_m1, dashboard), 403, "dashboard");
    CHECK(v1(dashboard, "m1") == 403);
    refused(f, at(in_m1, auditor), 403, "auditor");
    CHECK(v1(auditor, "m1") == 403);
    refused(f, at(in_m1, staff), 403, "department staff");
    CHECK(v1(staff, "m1") == 403);
    refused(f, at(in_m2, worker), 403, "not within your scope");
    CHECK(v1(worker, "m2") == 403);
    refused(f, with(without(at(in_m2), "lat"), "address_id", "m2"), 400, "lat and long go together");
    // Within its scope the worker reports, and so does the admin anywhere; a bearer header serves as well.
    CHECK(f.post_form(at(in_m1, worker)).status == 200);
    CHECK(f.post_form(at(in_m3, admin)).status == 200);
    const auto bearer = f.call("POST", "/open311/v2/requests.json", form(without(at(in_m1), "api_key")),
                               {{"authorization", "Bearer " + worker}, {"content-type", "application/x-www-form-urlencoded"}});
    CHECK(bearer.status == 200);
    check_errors(f.call("POST", "/open311/v2/requests.json", form(without(at(in_m1), "api_key")), {{"authorization", "Bearer nope-nope-nope"}}),
                 403, "bearer token is not valid");
}

TEST_CASE("open311: where it is: coordinates, address_id or address_string, and a point in no micro-grid names the nearest") {
    Fixture f;
    const auto gap = f.post_form(at(in_gap));
    check_errors(gap, 400, "lies in no micro-grid; the nearest is 二号楼 (m2), ");
    std::smatch m;
    const std::string text = json::parse(gap.body).at(0).at("description");
    REQUIRE(std::regex_search(text, m, std::regex(R"(, (\d+) m away)")));
    CHECK(std::stoi(m[1]) > 1000); // 0.01° of latitude north of m2: about 1.1 km
    CHECK(std::stoi(m[1]) < 1200);
    refused(f, at(in_gap), 400, "give address_id", "xml");
    refused(f, with(with(without(without(at(in_m1), "lat"), "long"), "lat", "31"), "long", "119.105"), 400, "the nearest is 一号楼 (m1)");

    auto grid_of = [&](const Fields& fields) { return f.v1_case(f.create(fields)).at("grid_id").get<std::string>(); };
    const Fields placeless = without(without(at(in_m1), "lat"), "long");
    CHECK(grid_of(at(in_m2)) == "m2");
    CHECK(grid_of(at(in_m3)) == "m3");
    CHECK(grid_of(with(placeless, "address_id", "m2")) == "m2");
    CHECK(grid_of(with(placeless, "address_string", "二号楼")) == "m2");
    CHECK(grid_of(with(placeless, "address_string", " 一号楼 , 第一网格 ")) == "m1");
    CHECK(grid_of(with(placeless, "address_string", "一号楼，新城社区")) == "m3"); // a full-width comma
    // The address a request shows can be posted back.
    const auto shown = f.get_json("/open311/v2/requests/k-garbage.json").at(0).at("address").get<std::string>();
    CHECK(grid_of(with(placeless, "address_string", shown)) == "m1");
    // Coordinates come first, then address_id, then address_string.
    CHECK(grid_of(with(with(at(in_m2), "address_id", "m1"), "address_string", "一号楼, 第一网格")) == "m2");
    CHECK(grid_of(with(with(placeless, "address_id", "m2"), "address_string", "一号楼, 第一网格")) == "m2");

    refused(f, placeless, 400, "a location is required");
    refused(f, with(placeless, "address_id", "g"), 400, "address_id \"g\" is not a micro-grid id");
    refused(f, with(placeless, "address_id", "nope"), 400, "is not a micro-grid id");
    refused(f, with(placeless, "address_string", "一号楼"), 400, "fits 2 micro-grids (m1, m3)");
    refused(f, with(placeless, "address_string", "三号楼"), 400, "names no micro-grid");
    refused(f, with(placeless, "address_string", " , ，"), 400, "names no place");
    refused(f, without(at(in_m1), "long"), 400, "lat and long go together");
    for (const char* lat : {"abc", "91", "-90.5", "nan", "inf", "1e999", "32.1x", "+32.1", "0x20"})
        refused(f, with(without(at(in_m1), "lat"), "lat", lat), 400, "WGS84 decimal degrees");
    refused(f, with(without(at(in_m1), "long"), "long", "181"), 400, "WGS84");
    // A jurisdiction is a town, and the place must lie in it.
    CHECK(f.post_form(with(at(in_m1), "jurisdiction_id", "t")).status == 200);
    refused(f, with(at(in_m1), "jurisdiction_id", "nowhere"), 404, "jurisdiction_id \"nowhere\" not found");
    REQUIRE(f.post(EngineFixture::ev("GridDefined", {{"grid_id", "t2"}, {"name", "邻镇"}, {"level", "town"}, {"parent_id", nullptr}})));
    refused(f, with(at(in_m1), "jurisdiction_id", "t2"), 400, "outside jurisdiction t2");
}

TEST_CASE("open311: limits and unknowns: description, media_url, attributes, fields, services") {
    Fixture f;
    CHECK(f.post_form(with(without(at(in_m1), "description"), "description", std::string(4000, 'x'))).status == 200);
    refused(f, with(without(at(in_m1), "description"), "description", std::string(4001, 'x')), 400, "longer than 4,000 characters");
    // The spec counts characters; the log's own limit is 4000 bytes (1333 Chinese characters).
    std::string chinese;
    for (int i = 0; i < 1333; ++i) chinese += "垃";
    CHECK(f.post_form(with(without(at(in_m1), "description"), "description", chinese)).status == 200);
    refused(f, with(without(at(in_m1), "description"), "description", chinese + "垃"), 400, "data.description is longer than 4000 bytes");

    refused(f, with(at(in_m1), "media_url", "ftp://img.example/1.jpg"), 400, "media_url must be an http or https URL");
    refused(f, with(at(in_m1), "media_url", "javascript:alert(1)"), 400, "media_url");
    refused(f, with(at(in_m1), "media_url", "http://img.example/a b.jpg"), 400, "media_url");
    refused(f, with(at(in_m1), "media_url", "https://img.example/" + std::string(2000, 'a')), 400, "at most 2000 bytes");
    refused(f, with(at(in_m1), "attribute[color]", "red"), 400, "one attribute, severity");
    refused(f, with(at(in_m1), "attribute[severity][]", "major"), 400, "one attribute, severity");
    refused(f, with(at(in_m1), "attribute[severity]", "extreme"), 400, "attribute[severity] must be one of \"normal\", \"urgent\", \"major\"");
    refused(f, with(at(in_m1), "colour", "red"), 400, "unknown parameter colour");
    refused(f, without(at(in_m1), "service_code"), 400, "service_code is required");
    refused(f, with(without(at(in_m1), "service_code"), "service_code", "nope"), 404, "service_code \"nope\" not found");
    refused(f, with(without(at(in_m1), "service_code"), "service_code", "nope"), 404, "service_code \"nope\" not found", "xml");
    const auto id = f.create(with(at(in_m1), "attribute[severity]", ""));
    CHECK_FALSE(f.reported(id).at("data").contains("severity"));
}

// ------------------------------------------------------------------ reading requests

TEST_CASE("open311: status, notes, agency and times follow the case") {
    Fixture f;
    const auto id = f.create(at(in_m1));
    auto get = [&] { return f.get_json("/open311/v2/requests/" + id + ".json").at(0); };
    CHECK(get().at("status") == "open");
    CHECK(get().at("agency_responsible").is_null());

    f.clock.advance(2h);
    REQUIRE(f.post(EngineFixture::ev("IssueEscalated",
                                     {{"case_id", id}, {"to_rung", "department"}, {"dept_id", "d"}, {"reason", "需要执法"}, {"auto", false}})));
    auto r = get();
    CHECK(r.at("agency_responsible") == "城管中队");
    CHECK(r.at("expected_datetime") == f.v1_case(id).at("due_at"));
    CHECK(r.at("updated_datetime") == f.v1_case(id).at("timeline").back().at("recorded_at"));
    CHECK(r.at("updated_datetime") != r.at("requested_datetime"));

    f.close_case(id);
    r = get();
    CHECK(r.at("status") == "closed");
    CHECK(r.at("status_notes") == "已告知反映人"); // the latest of handling and feedback
    CHECK(r.at("expected_datetime").is_null());
    CHECK(r.at("agency_responsible") == "城管中队");
    CHECK(r.at("updated_datetime") == f.v1_case(id).at("timeline").back().at("recorded_at")); // when it was closed

    REQUIRE(f.post(EngineFixture::ev("IssueDismissed", {{"case_id", "k-noise"}, {"reason", "duplicate"}, {"note", "与k-garbage重复"}})));
    r = f.get_json("/open311/v2/requests/k-noise.json").at(0);
    CHECK(r.at("status") == "closed");
    CHECK(r.at("status_notes") == "dismissed (duplicate): 与k-garbage重复");
    // Handled but not yet rated is still open for the resident.
    REQUIRE(f.post(EngineFixture::ev("IssueHandled", {{"case_id", "k-garbage"}, {"handler", "p-017"}, {"result", "已清运"}})));
    r = f.get_json("/open311/v2/requests/k-garbage.json").at(0);
    CHECK(r.at("status") == "open");
    CHECK(r.at("status_notes") == "已清运");
    CHECK(r.at("expected_datetime").is_null());
}

TEST_CASE("open311: GET requests: ids, services, statuses and dates, within 90 days") {
    Fixture f; // k-garbage and k-noise reported now (T0)
    const auto t0 = f.clock.now();
    f.clock.advance(std::chrono::days{100});
    const auto a = f.create(at(in_m1));
    f.clock.advance(1min);
    const auto b = f.create(at(in_m2, admin, "noise"));
    f.clock.advance(1min);
    const auto c = f.create(at(in_m1));
    f.close_case(c);
    const std::string now = events::format_time(f.clock.now());
    auto t = [](events::Instant i) { return enc(events::format_time(i)); };

    // The default window is the most recent 90 days, newest first.
    const auto recent = both_formats(f, "/open311/v2/requests", "", "service_requests");
    Schemas().validate(recent, "requests.json");
    std::vector<std::string> order;
    for (const auto& r : recent) order.push_back(r.at("service_request_id"));
    CHECK(order == std::vector<std::string>{c, b, a});
    using Ids = std::set<std::string>;
    CHECK(f.ids_of("/open311/v2/requests.json?end_date=" + enc(now)) == Ids{a, b, c});
    CHECK(f.ids_of("/open311/v2/requests.json?start_date=" + t(t0 - 1h) + "&end_date=" + t(t0 + 1h)) == Ids{"k-garbage", "k-noise"});
    CHECK(f.ids_of("/open311/v2/requests.json?start_date=" + t(t0 - 1h)) == Ids{"k-garbage", "k-noise"}); // 90 days from it
    CHECK(f.ids_of("/open311/v2/requests.json?start_date=" + t(t0 + std::chrono::days{95})) == Ids{a, b, c});
    CHECK(f.ids_of("/open311/v2/requests.json?start_date=" + t(t0 - 1h) + "&end_date=" + t(t0 - 1h + std::chrono::days{90})) ==
          Ids{"k-garbage", "k-noise"});
    check_errors(f.get("/open311/v2/requests.json?start_date=" + t(t0 - 1h) + "&end_date=" + t(t0 + std::chrono::days{90})), 400,
                 "at most 90 days");
    check_errors(f.get("/open311/v2/requests.xml?start_date=" + t(t0) + "&end_date=" + t(t0 - 1s)), 400, "end_date is before start_date");
    check_errors(f.get("/open311/v2/requests.json?start_date=2026-11-16"), 400, "start_date must be a W3C date-time");
    check_errors(f.get("/open311/v2/requests.json?end_date=2026-11-16T09:00:00+08:00"), 400, "encode + as %2B");
    CHECK(f.get("/open311/v2/requests.json?end_date=2026-11-16T09:00:00%2B08:00").status == 200);

    // Services and statuses, comma-separated or repeated.
    CHECK(f.ids_of("/open311/v2/requests.json?service_code=noise") == Ids{b});
    CHECK(f.ids_of("/open311/v2/requests.json?service_code=garbage,noise") == Ids{a, b, c});
    CHECK(f.ids_of("/open311/v2/requests.json?service_code=garbage&service_code=noise") == Ids{a, b, c});
    CHECK(f.ids_of("/open311/v2/requests.json?service_code=nope") == Ids{});
    CHECK(f.ids_of("/open311/v2/requests.json?status=closed") == Ids{c});
    CHECK(f.ids_of("/open311/v2/requests.json?status=open") == Ids{a, b});
    CHECK(f.ids_of("/open311/v2/requests.json?status=open,closed") == Ids{a, b, c});
    check_errors(f.get("/open311/v2/requests.json?status=pending"), 400, "status must be open or closed");
    // service_request_id overrides every other argument; unknown ids are left out.
    CHECK(f.ids_of("/open311/v2/requests.json?service_request_id=k-garbage,k-noise,zz&status=closed&service_code=x") ==
          Ids{"k-garbage", "k-noise"});
    CHECK(f.ids_of("/open311/v2/requests.json?service_request_id=" + a + "&service_request_id=k-noise") == Ids{a, "k-noise"});
    // A jurisdiction narrows the list to a town.
    CHECK(f.ids_of("/open311/v2/requests.json?jurisdiction_id=t") == Ids{a, b, c});
    check_errors(f.get("/open311/v2/requests.json?jurisdiction_id=g"), 404, "jurisdiction_id \"g\" not found");
    check_errors(f.get("/open311/v2/requests/" + a + ".json?jurisdiction_id=g"), 404, "jurisdiction_id");
}

TEST_CASE("open311: GET requests answers at most the first 1000, newest first") {
    Fixture f;
    json batch = json::array();
    for (int i = 0; i < 1004; ++i) batch.push_back(EngineFixture::report("bulk-" + std::to_string(1000 + i), i % 2 ? "m1" : "m2"));
    f.clock.advance(1h);
    REQUIRE(f.post_all(batch));
    f.clock.advance(1h);
    const auto last = f.create(at(in_m1));
    const auto list = f.get_json("/open311/v2/requests.json");
    REQUIRE(list.size() == 1000);
    CHECK(list.at(0).at("service_request_id") == last);
    for (std::size_t i = 1; i < list.size(); ++i) CHECK(list[i - 1].at("requested_datetime") >= list[i].at("requested_datetime"));
    // The batch was reported at one time: of its 1004, the 999 first by case_id (the newest-first scan meets them last).
    for (std::size_t i = 1; i < list.size(); ++i) CHECK(list[i].at("service_request_id") == "bulk-" + std::to_string(999 + i));
    CHECK(f.get_json("/open311/v2/requests.json", dashboard).size() == 1000);
    const auto closed = f.get_json("/open311/v2/requests.json?status=closed");
    CHECK(closed.empty());
    std::string many;
    for (int i = 0; i < 1001; ++i) many += "k" + std::to_string(i) + ",";
    check_errors(f.get("/open311/v2/requests.json?service_request_id=" + many), 400, "at most 1000");
}

TEST_CASE("open311: reads follow the /v1 case rules, and a dashboard sees no personal data or free text") {
    Fixture f;
    const auto mine = f.create(with(at(in_m1, worker), "media_url", "https://img.example/2.jpg"));
    const auto other = f.create(at(in_m3));
    REQUIRE(f.post(EngineFixture::ev("IssueEscalated",
                                     {{"case_id", other}, {"to_rung", "department"}, {"dept_id", "d"}, {"reason", "需要执法"}, {"auto", false}})));
    const std::string all = "/open311/v2/requests.json?service_request_id=k-garbage,k-noise," + mine + "," + other;
    auto v1_ids = [&](const std::string& token) {
        std::set<std::string> ids;
        const json cases = json::parse(f.call("GET", "/v1/cases", {}, {{"authorization", "Bearer " + token}}).body).at("cases");
        for (const auto& k : cases) ids.insert(k.at("case_id"));
        return ids;
    };
    for (const auto& token : {admin, worker, dashboard, auditor, staff}) {
        CAPTURE(token);
        CHECK(f.ids_of(all, token) == v1_ids(token));
        CHECK(f.ids_of("/open311/v2/requests.json", token) == v1_ids(token));
    }
    CHECK(f.ids_of(all, worker) == std::set<std::string>{"k-garbage", mine});
    CHECK(f.ids_of(all, staff) == std::set<std::string>{other});

    // One request: outside the scope and missing look alike to a scoped caller, as on /v1/cases/{id}.
    check_errors(f.get("/open311/v2/requests/k-noise.json", worker), 403, "not within your scope (worker)");
    check_errors(f.get("/open311/v2/requests/zz.json", worker), 403, "not within your scope (worker)");
    CHECK(f.call("GET", "/v1/cases/zz", {}, {{"authorization", "Bearer " + worker}}).status == 403);
    check_errors(f.get("/open311/v2/requests/zz.json"), 404, "service_request_id \"zz\" not found");
    check_errors(f.get("/open311/v2/requests/zz.xml", dashboard), 404, "not found");
    check_errors(f.get("/open311/v2/requests/" + mine + ".json", ""), 403, "api_key is required");
    check_errors(f.get("/open311/v2/requests.xml", "bogus-token-000000000"), 403, "bearer token is not valid");
    CHECK(f.get_json("/open311/v2/requests/" + mine + ".json", worker).at(0).at("description") == "楼道口堆放垃圾");

    // A dashboard sees the requests without anything a person typed, nor where exactly.
    for (const auto& r : f.get_json(all, dashboard)) {
        for (const char* hidden : {"description", "status_notes", "media_url", "lat", "long"}) CHECK(r.at(hidden).is_null());
        CHECK(r.at("service_code").is_string());
        CHECK(r.at("address_id").is_string());
    }
    const auto x = f.get("/open311/v2/requests/" + mine + ".xml", dashboard);
    CHECK(x.body.find("楼道口") == std::string::npos);
    CHECK(x.body.find("img.example") == std::string::npos);
    const auto seen = f.get_json("/open311/v2/requests/" + mine + ".json", auditor).at(0);
    CHECK(seen.at("media_url") == "https://img.example/2.jpg");
    CHECK(seen.at("lat") == in_m1[0]);
}

TEST_CASE("open311: over the sample town every request reads in JSON and XML, and a dashboard sees none of its free text") {
    const testing::DemoTown town;
    REQUIRE(town.ok());
    const std::string& db = town.db();

    // What residents and staff typed, by case.
    std::map<std::string, std::string> description;
    std::set<std::string> categories, free_text;
    {
        engine::StoreReader reader(db);
        reader.scan(0, reader.head().position, [&](const events::RawEnvelope& e) {
            const json d = json::parse(e.data);
            if (e.type == "IssueReported") {
                description[d.at("case_id")] = d.at("description");
                categories.insert(d.at("category").get<std::string>());
            }
            for (const char* field : {"description", "result", "content"})
                if (d.contains(field) && d.at(field).is_string()) free_text.insert(d.at(field).get<std::string>());
            return true;
        });
    }
    REQUIRE(description.size() > 100);

    engine::ManualClock clock; // the views read the clock as the log's last time
    engine::Engine engine(db, clock);
    http::Api api(engine, std::make_shared<http::Authenticator>(http::Tokens::parse(tokens_text)));
    auto get = [&](const std::string& target, const std::string& key) {
        return api.handle_now(http::Request{"GET", target, {}, {{"authorization", "Bearer " + key}}});
    };
    std::set<std::string> services;
    for (const auto& s : ordered_json::parse(api.handle_now(http::Request{"GET", "/open311/v2/services.json", {}, {}}).body))
        services.insert(s.at("service_code").get<std::string>());
    CHECK(services == categories);

    // Every string a dashboard is shown, from both formats.
    std::set<std::string> shown;
    std::function<void(const pt::ptree&)> texts = [&](const pt::ptree& node) {
        shown.insert(node.data());
        for (const auto& [name, child] : node) texts(child);
    };
    std::size_t read = 0;
    std::vector<std::string> ids;
    for (const auto& [id, text] : description) ids.push_back(id);
    for (std::size_t at = 0; at < ids.size(); at += 1000) {
        std::string list;
        for (std::size_t i = at; i < std::min(ids.size(), at + 1000); ++i) list += ids[i] + ",";
        const std::string target = "/open311/v2/requests.json?service_request_id=" + list;
        const auto full = ordered_json::parse(get(target, admin).body);
        Schemas().validate(full, "requests.json");
        for (const auto& r : full) {
            CHECK(r.at("description") == description.at(r.at("service_request_id")));
            ++read;
        }
        const auto j = get(target, dashboard), x = get("/open311/v2/requests.xml?service_request_id=" + list, dashboard);
        REQUIRE(j.status == 200);
        REQUIRE(x.status == 200);
        same_shape(ordered_json::parse(j.body), xml_of(x).get_child("service_requests"), "service_requests");
        std::function<void(const ordered_json&)> strings = [&](const ordered_json& v) {
            if (v.is_string()) shown.insert(v.get<std::string>());
            if (v.is_structured())
                for (const auto& child : v) strings(child);
        };
        strings(ordered_json::parse(j.body));
        texts(xml_of(x));
    }
    CHECK(read == ids.size());
    std::size_t leaked = 0;
    for (const auto& t : free_text) leaked += shown.count(t);
    CHECK(leaked == 0);
    MESSAGE("sample town: " << read << " requests read in both formats; " << shown.size() << " strings a dashboard saw, none of "
                            << free_text.size() << " free texts");
}

// ------------------------------------------------------------------ routing and robustness

TEST_CASE("open311: routes and metrics labels, and nothing makes it answer 500 or append") {
    Fixture f;
    CHECK(http::Api::route_of(http::Request{"GET", "/open311/v2/services/garbage.xml?x=1", "", {}}) == "GET /open311/v2/services/{code}");
    CHECK(http::Api::route_of(http::Request{"POST", "/open311/v2/requests.xml", "", {}}) == "POST /open311/v2/requests.xml");
    CHECK(f.call("DELETE", "/open311/v2/requests.json").status == 405);
    CHECK(f.call("POST", "/open311/v2/services.json", form(at(in_m1))).status == 405);
    CHECK(f.call("GET", "/open311/v2/requests.csv").status == 404);
    CHECK(f.call("HEAD", "/open311/v2/services.json").status == 200);

    // Odd bytes everywhere: every answer is a 4xx in the spec's format, and nothing is appended.
    const auto before = f.head();
    std::mt19937 rng(311);
    const std::string alphabet = "&=%+[],.;:/?#\"'<>\\ \t\r\n\x01\x7f\xc3\xa9\xe5\x9e\x83\xff\xfe" "0123456789abcdefABCDEF_-";
    auto junk = [&](std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
        return s;
    };
    const std::vector<std::string> targets{"/open311/v2/requests.json", "/open311/v2/requests.xml", "/open311/v2/services.json",
                                           "/open311/v2/discovery.xml"};
    for (int i = 0; i < 400; ++i) {
        const std::string target = targets[i % targets.size()] + "?" + junk(rng() % 40);
        const bool post = target.find("requests") != std::string::npos && i % 2;
        const std::string body = post ? "api_key=" + worker + "&service_code=nope&" + junk(rng() % 120) : std::string();
        const auto r = f.call(post ? "POST" : "GET", target, body, {{"content-type", "application/x-www-form-urlencoded"}});
        INFO(target << " " << body << " → " << r.status << " " << r.body.substr(0, 200));
        CHECK(r.status < 500);
        if (r.status >= 400) check_errors(r, r.status);
        const auto id = f.call("GET", "/open311/v2/requests/" + enc(junk(rng() % 30)) + ".xml", {}, {{"authorization", "Bearer " + admin}});
        CHECK((id.status == 404 || id.status == 400));
    }
    CHECK(f.head() == before);
}

TEST_CASE("open311: over a real socket, a form POST and both formats") {
    Fixture f;
    http::ServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    auto server = std::make_unique<http::Server>(f.api, o);
    server->start();
    const auto port = server->port();
    const auto created = testing::fetch(port, "POST", "/open311/v2/requests.json", form(at(in_m1, worker)),
                                        {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}});
    REQUIRE(created.has_value());
    INFO(created->body);
    REQUIRE(created->status == 200);
    CHECK(created->header("content-type") == "application/json; charset=utf-8");
    const std::string id = json::parse(created->body).at(0).at("service_request_id");
    const auto read = testing::fetch(port, "GET", "/open311/v2/requests/" + id + ".xml", {}, {{"Authorization", "Bearer " + worker}});
    REQUIRE(read.has_value());
    CHECK(read->status == 200);
    CHECK(read->header("content-type") == "text/xml; charset=utf-8");
    CHECK(read->body.find("<service_request_id>" + id + "</service_request_id>") != std::string::npos);
    const auto discovery = testing::fetch(port, "GET", "/open311/v2/discovery.json");
    REQUIRE(discovery.has_value());
    CHECK(json::parse(discovery->body).at("endpoints").at(0).at("url") == "http://127.0.0.1/open311/v2");
    const auto refused = testing::fetch(port, "POST", "/open311/v2/requests.xml", "service_code=garbage",
                                        {{"Content-Type", "application/x-www-form-urlencoded"}});
    REQUIRE(refused.has_value());
    CHECK(refused->status == 403);
    CHECK(refused->body.find("<errors><error><code>403</code>") != std::string::npos);
    server.reset();
}

} // TEST_SUITE
