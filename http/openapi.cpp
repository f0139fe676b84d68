// The OpenAPI 3.1 document, generated from one table of the endpoints.
#include "http/views.hpp"

namespace gridloop::http {
namespace {

using nlohmann::json;

struct Param {
    const char* name;
    const char* in; // path, query, header, or form (a field of an x-www-form-urlencoded body)
    const char* type;
    const char* description;
};

struct Endpoint {
    const char* method;
    std::string path;
    const char* summary;
    std::vector<Param> params;
    std::vector<std::pair<int, const char*>> responses;
    const char* body = nullptr; // request body schema ref
    bool open = false;          // no token
    bool open311 = false;       // JSON or XML as the path says; errors are [{code, description}]
};

const Param as_of{"as_of", "query", "integer", "answer from positions 1..P alone, the clock read as the recorded_at of P (a projection view answers 503 with Retry-After while another past position is being folded)"};
const Param limit{"limit", "query", "integer", "page size"};
const Param cursor{"cursor", "query", "string", "next_cursor of the previous page"};

std::vector<Endpoint> endpoints() {
    return {
        {"post", "/v1/events", "Append one event, or {\"events\": [...]} atomically (all or none)", {},
         {{201, "appended: the envelope, or {\"events\": [envelopes]}"}, {200, "a retry of events already stored: the original envelopes"},
          {400, "not JSON (a NUL byte outside strings included), nested deeper than 32 levels, a number malformed or out of range (integers "
                "fit in 64 bits), a field missing or of the wrong type"},
          {401, "no or bad token"}, {403, "outside the token's role or scope"},
          {409, "version conflict, event_id reused with other content, or a transition the case does not accept"},
          {413, "body over 1 MiB or too many events"}, {422, "well-formed but invalid (a key given twice in one object included)"}, {503, "the log cannot be written (Retry-After: 5; retry with the same event_id)"}},
         "PostBody"},
        {"get", "/v1/events", "Envelopes in position order (Accept: application/x-ndjson streams them)",
         {{"after", "query", "integer", "start after this position"}, limit, as_of}, {{200, "{events, next_after, head}"}}},
        {"get", "/v1/streams/{stream}", "One stream's envelopes", {{"stream", "path", "string", "grid-<id>, case-<id>, ..."}, as_of},
         {{200, "{stream, version, events}"}, {404, "no such stream"}}},
        {"get", "/v1/subscribe",
         "Server-Sent Events: id = position; catch-up from after / Last-Event-ID, then live. admin and auditor get whole envelopes; "
         "every other role gets notifications without event data (data: {position, type}) to re-fetch its views",
         {{"after", "query", "integer", "start after this position"}, {"Last-Event-ID", "header", "integer", "resume after this position"},
          {"access_token", "query", "string", "the bearer token, for EventSource (which sends no headers); accepted on this path only"}},
         {{200, "text/event-stream"}}},
        {"get", "/v1/cases", "Cases (grid = whole subtree), ordered by case_id",
         {{"grid", "query", "string", "grid subtree"}, {"state", "query", "string", "open|handled|fed_back|closed|dismissed"},
          {"rung", "query", "string", "worker|micro_head|grid|community|town|department"}, {"dept", "query", "string", "department"},
          {"overdue", "query", "boolean", "open past due_at"}, limit, cursor, as_of},
         {{200, "{cases, next_cursor}"}, {404, "unknown grid or department"}}},
        {"get", "/v1/cases/{case_id}", "One case with its timeline", {{"case_id", "path", "string", "case id"}, as_of},
         {{200, "case_id, state, rung, grid_id, dept_id, round, due_at, overdue, returns, timeline"}, {404, "unknown case"}}},
        {"get", "/v1/grids", "The grid tree and the departments", {as_of}, {{200, "{grids: nested, departments: [{dept_id, name, kind, serves}], today: YYYY-MM-DD, month: YYYY-MM, timezone} "
                "(today and month on the town's calendar, at the view's time)"}}},
        {"get", "/v1/grids/{grid_id}", "One grid with its children", {{"grid_id", "path", "string", "grid id"}, as_of},
         {{200, "grid"}, {404, "unknown grid"}}},
        {"get", "/v1/grids/{grid_id}/stats", "The contract's metrics for the subtree, cohort by report time in [from, to)",
         {{"grid_id", "path", "string", "grid id"}, {"from", "query", "string", "RFC 3339 or YYYY-MM-DD (local)"},
          {"to", "query", "string", "RFC 3339 or YYYY-MM-DD (local)"}, as_of},
         {{200, "metrics; rates are null on a zero denominator; open_by_rung {rung: {open, overdue}}; top_categories [{category, count}] "
                "(top 10 of the cohort); daily [{date, reported, closed, overdue}] per local day of [from, to) (default: the last 30 days, "
                "at most 366): reports, closings and rungs that ran out on that day, whichever period the case was reported in"},
          {404, "unknown grid"}}},
        {"get", "/v1/grids/{grid_id}/stars",
         "Star rating (1-5) per micro-grid with the metrics behind it: score = mean of closure, on-time, satisfaction and solve rates "
         "(those not null) x 100; thresholds PolicySet.stars (default [60, 70, 80, 90] for 2..5 stars); no rate, no stars (null)",
         {{"grid_id", "path", "string", "grid id"}, {"period", "query", "string", "YYYY-MM (default: this month)"}, as_of},
         {{200, "{micro_grids: [{grid_id, stars, score, metrics}]}"}, {404, "unknown grid"}}},
        {"get", "/v1/departments/{dept_id}/queue", "Open cases on the department, oldest due_at first",
         {{"dept_id", "path", "string", "department id"}, {"grid", "query", "string", "only cases reported in this grid's subtree"}, as_of},
         {{200, "{dept_id, cases}"}, {404, "unknown department or grid"}}},
        {"get", "/v1/members", "Members living in the subtree",
         {{"grid", "query", "string", "grid subtree"}, {"category", "query", "string", "member category"},
          {"lost_contact", "query", "boolean", "失联 at the view's time"}, limit, cursor, as_of},
         {{200, "{items, total, next}"}, {404, "unknown grid"}}},
        {"get", "/v1/members/{member_id}", "One member: branch, residence, points, contact, history, services, ledger",
         {{"member_id", "path", "string", "member id"}, as_of}, {{200, "member"}, {404, "unknown member"}}},
        {"get", "/v1/branches/{grid_id}/outflow", "Members of the branch living outside its subtree (流出)",
         {{"grid_id", "path", "string", "branch grid"}, {"scope", "query", "string", "own (default) or subtree"}, limit, cursor, as_of},
         {{200, "{items, total, next, branch}"}, {404, "unknown grid"}}},
        {"get", "/v1/branches/{grid_id}/inflow", "Members living in the subtree whose branch is elsewhere (流入)",
         {{"grid_id", "path", "string", "branch grid"}, limit, cursor, as_of}, {{200, "{items, total, next, branch}"}, {404, "unknown grid"}}},
        {"get", "/v1/points/leaderboard", "Members by points earned in the month (先锋指数)",
         {{"grid", "query", "string", "grid subtree"}, {"month", "query", "string", "YYYY-MM (default: this month)"}, limit, as_of},
         {{200, "leaderboard"}, {404, "unknown grid"}}},
        {"get", "/v1/points/branches", "Points earned by each branch's members in the month (堡垒指数)",
         {{"grid", "query", "string", "grid subtree"}, {"month", "query", "string", "YYYY-MM (default: this month)"}, as_of},
         {{200, "{grid, month, branches: [{rank, branch, members, active, earned}]}"}, {404, "unknown grid"}}},
        {"get", "/v1/audit/head", "The chain head", {as_of}, {{200, "{position, hash, recorded_at}"}}},
        {"get", "/v1/audit/verify", "Recompute the chain",
         {{"from", "query", "integer", "first position"}, {"to", "query", "integer", "last position"}},
         {{200, "{ok, checked, first_bad_position, problem}"}, {503, "another verification is under way (Retry-After: 5; one at a time)"}}},
        {"get", "/healthz", "Liveness", {}, {{200, "{status, position}"}}, nullptr, true},
        {"get", "/metrics", "Prometheus text format", {}, {{200, "metrics"}}, nullptr, true},
        {"get", "/openapi.json", "This document", {}, {{200, "OpenAPI 3.1"}}, nullptr, true},
        {"get", "/", "The dashboard page", {}, {{200, "text/html"}}, nullptr, true},
    };
}

// Open311 GeoReport v2 (http/open311.cpp): each resource as .json and .xml, a token as api_key.
std::vector<Endpoint> open311_endpoints() {
    const Param key{"api_key", "form", "string", "a gridloop token (or Authorization: Bearer; never in the URL); none or an invalid one is 403"};
    const Param town{"jurisdiction_id", "query", "string", "optional: a town's grid id; an unknown one is 404"};
    const std::vector<std::pair<int, const char*>> refusals{
        {400, "malformed input, [{code, description}]"}, {403, "no or invalid api_key, or outside its role or scope"}, {404, "unknown service, request or jurisdiction"}};
    auto with = [&](std::vector<std::pair<int, const char*>> ok) {
        ok.insert(ok.end(), refusals.begin(), refusals.end());
        return ok;
    };
    std::vector<Endpoint> list;
    for (const std::string ext : {".json", ".xml"}) {
        const std::string base = "/open311/v2/";
        list.push_back({"get", base + "discovery" + ext, "Open311 service discovery", {}, {{200, "discovery"}}, nullptr, true, true});
        list.push_back({"get", base + "services" + ext, "Open311 services: the categories of the cases in the log", {town},
                        with({{200, "services"}}), nullptr, true, true});
        list.push_back({"get", base + "requests" + ext,
                        "Open311 service requests, newest first: at most 1000 within 90 days (from start_date, to end_date, else the "
                        "latest); service_request_id overrides the other filters. A dashboard token gets no description, notes, media "
                        "or coordinates",
                        {town, {"service_request_id", "query", "string", "comma-separated ids"},
                         {"service_code", "query", "string", "comma-separated codes"}, {"start_date", "query", "string", "W3C date-time"},
                         {"end_date", "query", "string", "W3C date-time"}, {"status", "query", "string", "open, closed (comma-separated)"}},
                        with({{200, "service_requests"}}), nullptr, false, true});
        list.push_back({"post", base + "requests" + ext,
                        "Open311: report a request (application/x-www-form-urlencoded) as an IssueReported with source resident; "
                        "email, first_name, last_name, phone, device_id and account_id are accepted and not kept",
                        {key, town, {"service_code", "form", "string", "required: a service code"},
                         {"lat", "form", "number", "WGS84, with long"}, {"long", "form", "number", "WGS84, with lat"},
                         {"address_id", "form", "string", "a micro-grid id"},
                         {"address_string", "form", "string", "a micro-grid's name, then its parents' names, comma-separated"},
                         {"description", "form", "string", "up to 4,000 characters"}, {"media_url", "form", "string", "an http(s) URL"},
                         {"attribute[severity]", "form", "string", "normal, urgent or major"}},
                        with({{200, "service_requests: [{service_request_id, service_notice, account_id}]"}}), nullptr, false, true});
    }
    list.push_back({"get", "/open311/v2/services/{code}", "Open311 service definition: its attributes",
                    {{"code", "path", "string", "service code and format, e.g. garbage.json"}, town}, with({{200, "service_definition"}}),
                    nullptr, true, true});
    list.push_back({"get", "/open311/v2/requests/{id}", "Open311 service request",
                    {{"id", "path", "string", "service_request_id and format, e.g. o311-1f2e3d4c5b6a7980.xml"}, town},
                    with({{200, "service_requests with the one request"}}), nullptr, false, true});
    return list;
}

json build() {
    json paths = json::object();
    auto all = endpoints();
    for (auto& e : open311_endpoints()) all.push_back(std::move(e));
    for (const auto& e : all) {
        json op{{"summary", e.summary}, {"responses", json::object()}};
        json ps = json::array(), form = json::object(); // form: the fields of an x-www-form-urlencoded body
        for (const auto& p : e.params) {
            if (std::string_view(p.in) == "form") form[p.name] = {{"type", p.type}, {"description", p.description}};
            else
                ps.push_back({{"name", p.name},
                              {"in", p.in},
                              {"required", std::string_view(p.in) == "path"},
                              {"description", p.description},
                              {"schema", {{"type", p.type}}}});
        }
        if (!ps.empty()) op["parameters"] = std::move(ps);
        if (!form.empty())
            op["requestBody"] = {{"required", true},
                                 {"content", {{"application/x-www-form-urlencoded", {{"schema", {{"type", "object"}, {"properties", form}}}}}}}};
        for (const auto& [code, desc] : e.responses) {
            json r{{"description", desc}};
            r["content"] = e.open311    ? json{{"application/json", json::object()}, {"text/xml", json::object()}}
                           : code >= 400 ? json{{"application/problem+json", {{"schema", {{"$ref", "#/components/schemas/Problem"}}}}}}
                                         : json{{"application/json", json::object()}};
            op["responses"][std::to_string(code)] = std::move(r);
        }
        if (e.open) {
            op["security"] = json::array();
        } else if (!e.open311) { // Open311 lists its own 403 and never answers 401
            op["responses"]["401"] = {{"description", "no or bad token"}};
            op["responses"]["403"] = {{"description", "outside the token's role or scope"}};
        }
        if (e.body)
            op["requestBody"] = {{"required", true},
                                 {"content", {{"application/json", {{"schema", {{"$ref", std::string("#/components/schemas/") + e.body}}}}}}}};
        paths[e.path][e.method] = std::move(op);
    }
    const json posted{{"type", "object"},
                      {"required", {"type", "data"}},
                      {"properties",
                       {{"type", {{"type", "string"}}},
                        {"data", {{"type", "object"}}},
                        {"event_id", {{"type", "string"}, {"maxLength", 64}}},
                        {"occurred_at", {{"type", "string"}, {"format", "date-time"}}},
                        {"expected_version", {{"type", "integer"}, {"minimum", 0}}}}}};
    return {{"openapi", "3.1.0"},
            {"info", {{"title", "gridloop"}, {"version", "1"}, {"description", "Event-sourced issue dispatch for grid-based community governance"}}},
            {"paths", std::move(paths)},
            {"security", json::array({{{"bearer", json::array()}}})},
            {"components",
             {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
              {"schemas",
               {{"Posted", posted},
                {"PostBody",
                 {{"oneOf",
                   json::array({{{"$ref", "#/components/schemas/Posted"}},
                                {{"type", "object"},
                                 {"required", {"events"}},
                                 {"properties", {{"events", {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/Posted"}}}}}}}}})}}},
                {"Problem",
                 {{"type", "object"},
                  {"properties",
                   {{"type", {{"type", "string"}}},
                    {"title", {{"type", "string"}}},
                    {"status", {{"type", "integer"}}},
                    {"detail", {{"type", "string"}}},
                    {"instance", {{"type", "string"}}}}}}}}}}}};
}

} // namespace

const std::string& openapi_document() {
    static const std::string doc = build().dump(2);
    return doc;
}

} // namespace gridloop::http
