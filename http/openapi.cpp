// The OpenAPI 3.1 document, generated from one table of the endpoints.
#include "http/views.hpp"

namespace gridloop::http {
namespace {

using nlohmann::json;

struct Param {
    const char* name;
    const char* in; // path, query, header
    const char* type;
    const char* description;
};

struct Endpoint {
    const char* method;
    const char* path;
    const char* summary;
    std::vector<Param> params;
    std::vector<std::pair<int, const char*>> responses;
    const char* body = nullptr; // request body schema ref
    bool open = false;          // no token
};

const Param as_of{"as_of", "query", "integer", "answer from positions 1..P alone, the clock read as the recorded_at of P"};
const Param limit{"limit", "query", "integer", "page size"};
const Param cursor{"cursor", "query", "string", "next_cursor of the previous page"};

std::vector<Endpoint> endpoints() {
    return {
        {"post", "/v1/events", "Append one event, or {\"events\": [...]} atomically (all or none)", {},
         {{201, "appended: the envelope, or {\"events\": [envelopes]}"}, {200, "a retry of events already stored: the original envelopes"},
          {400, "not JSON, a field missing or of the wrong type"}, {401, "no or bad token"}, {403, "outside the token's role or scope"},
          {409, "version conflict, event_id reused with other content, or a transition the case does not accept"},
          {413, "body over 1 MiB or too many events"}, {422, "well-formed but invalid"}, {503, "the log cannot be written"}},
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
         {{200, "{ok, checked, first_bad_position, problem}"}}},
        {"get", "/healthz", "Liveness", {}, {{200, "{status, position}"}}, nullptr, true},
        {"get", "/metrics", "Prometheus text format", {}, {{200, "metrics"}}, nullptr, true},
        {"get", "/openapi.json", "This document", {}, {{200, "OpenAPI 3.1"}}, nullptr, true},
        {"get", "/", "The dashboard page", {}, {{200, "text/html"}}, nullptr, true},
    };
}

json build() {
    json paths = json::object();
    for (const auto& e : endpoints()) {
        json op{{"summary", e.summary}, {"responses", json::object()}};
        if (!e.params.empty()) {
            json ps = json::array();
            for (const auto& p : e.params)
                ps.push_back({{"name", p.name},
                              {"in", p.in},
                              {"required", std::string_view(p.in) == "path"},
                              {"description", p.description},
                              {"schema", {{"type", p.type}}}});
            op["parameters"] = std::move(ps);
        }
        for (const auto& [code, desc] : e.responses) {
            json r{{"description", desc}};
            r["content"] = code >= 400 ? json{{"application/problem+json", {{"schema", {{"$ref", "#/components/schemas/Problem"}}}}}}
                                       : json{{"application/json", json::object()}};
            op["responses"][std::to_string(code)] = std::move(r);
        }
        if (!e.open) {
            op["responses"]["401"] = {{"description", "no or bad token"}};
            op["responses"]["403"] = {{"description", "outside the token's role or scope"}};
        } else {
            op["security"] = json::array();
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
