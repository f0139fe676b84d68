// Writes the fuzz targets' seed corpora, all taken from the sample town, into DIR/events, DIR/http
// and DIR/import: usage `gridloop_fuzz_seeds DIR`.
#include "engine/store.hpp"
#include "events/envelope.hpp"
#include "fuzz/support.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

using namespace gridloop;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

class Corpus {
public:
    explicit Corpus(fs::path dir) : dir_(std::move(dir)) {
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void add(const std::string& name, const std::string& bytes) {
        char prefix[16];
        std::snprintf(prefix, sizeof prefix, "%03d-", n_++);
        std::ofstream f(dir_ / (prefix + name), std::ios::binary);
        f << bytes;
        if (!f) throw std::runtime_error("cannot write " + (dir_ / (prefix + name)).string());
    }
    int size() const { return n_; }

private:
    fs::path dir_;
    int n_ = 0;
};

std::string request(const std::string& method, const std::string& target, const std::string& token, const std::string& body = {},
                    std::map<std::string, std::string> headers = {}) {
    http::Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    if (!body.empty()) r.headers["content-type"] = "application/json";
    return fuzz::request_text(r);
}

const std::string& token_of(const std::string& role) {
    for (const auto& t : fuzz::tokens())
        if (t.role == role) return t.token;
    throw std::logic_error("no token for " + role);
}

// The first id of each kind the preloaded part of the town defines.
struct Ids {
    std::map<std::string, std::string> grid_by_level;
    std::string dept, member, branch, case_id;
};
Ids ids_of(const std::vector<samples::Step>& steps) {
    Ids ids;
    for (const auto& s : steps) {
        const auto& type = s.posted.at("type").get_ref<const std::string&>();
        const auto& d = s.posted.at("data");
        if (type == "GridDefined") ids.grid_by_level.emplace(d.at("level"), d.at("grid_id"));
        if (type == "DepartmentRegistered" && ids.dept.empty()) ids.dept = d.at("dept_id");
        if (type == "MemberRegistered" && ids.member.empty()) {
            ids.member = d.at("member_id");
            ids.branch = d.at("home_branch");
        }
        if (type == "IssueReported" && ids.case_id.empty()) ids.case_id = d.at("case_id");
    }
    return ids;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: gridloop_fuzz_seeds DIR\n");
        return 2;
    }
    const fs::path out = argv[1];
    const auto& steps = fuzz::town();
    const std::vector<samples::Step> preloaded(steps.begin(), steps.begin() + fuzz::preloaded_steps);
    const std::string db = fuzz::scratch_path("seeds");
    fuzz::write_town_log(db, fuzz::preloaded_steps);
    std::vector<events::RawEnvelope> log;
    engine::StoreReader(db).scan(0, INT64_MAX, [&](const events::RawEnvelope& r) {
        log.push_back(r);
        return true;
    });
    fuzz::remove_db(db);

    // The decoder: two posted events and two stored envelopes of every type the town holds.
    Corpus ev(out / "events");
    std::map<std::string, int> posted_seen, stored_seen;
    for (const auto& s : steps) {
        const std::string type = s.posted.at("type");
        if (posted_seen[type]++ < 2) ev.add("posted-" + type + ".json", s.posted.dump());
    }
    for (const auto& r : log)
        if (stored_seen[r.type]++ < 2) ev.add("envelope-" + r.type + ".json", events::envelope_text(r));

    // The API: the steps that follow the preloaded ones, posted by their own role where a token
    // has it, one batch, and every read route with the town's ids.
    Corpus web(out / "http");
    std::map<std::string, std::string> role_of_subject;
    for (const auto& t : json::parse(fuzz::tokens_json())) role_of_subject[t.at("subject")] = t.at("role");
    for (std::size_t i = fuzz::preloaded_steps; i < fuzz::preloaded_steps + 40 && i < steps.size(); ++i) {
        const auto& s = steps[i];
        const auto role = role_of_subject.count(s.actor) ? role_of_subject[s.actor] : "admin";
        web.add("post-" + s.posted.at("type").get<std::string>(), request("POST", "/v1/events", token_of(role), s.posted.dump()));
    }
    {
        json batch = json::array();
        for (std::size_t i = fuzz::preloaded_steps; i < fuzz::preloaded_steps + 3; ++i) batch.push_back(steps[i].posted);
        web.add("post-batch", request("POST", "/v1/events", token_of("admin"), json{{"events", batch}}.dump()));
    }
    // One event of every type the town posts, posted again (a retry, or a conflict once mutated),
    // and a policy with a report after it in one batch: the report's due time uses the new limits.
    std::set<std::string> reposted;
    for (const auto& s : preloaded)
        if (reposted.insert(s.posted.at("type").get<std::string>()).second)
            web.add("repost-" + s.posted.at("type").get<std::string>(), request("POST", "/v1/events", token_of("admin"), s.posted.dump()));
    for (const auto& s : preloaded) {
        if (s.posted.at("type") != "PolicySet") continue;
        json policy = s.posted, report;
        policy.erase("event_id");
        for (std::size_t i = fuzz::preloaded_steps; i < steps.size() && report.is_null(); ++i)
            if (steps[i].posted.at("type") == "IssueReported") report = steps[i].posted;
        web.add("post-policy-then-report", request("POST", "/v1/events", token_of("admin"), json{{"events", {policy, report}}}.dump()));
        break;
    }
    const Ids ids = ids_of(preloaded);
    const std::string town = ids.grid_by_level.at("town"), micro = ids.grid_by_level.at("micro");
    const std::vector<std::string> reads{
        "/v1/cases",
        "/v1/cases?state=open&limit=5",
        "/v1/cases?grid=" + micro + "&overdue=true&rung=worker",
        "/v1/cases?dept=" + ids.dept + "&cursor=" + ids.case_id,
        "/v1/cases/" + ids.case_id,
        "/v1/cases/" + ids.case_id + "?as_of=300",
        "/v1/grids",
        "/v1/grids/" + town,
        "/v1/grids/" + town + "/stats?from=2026-05-01&to=2026-06-30",
        "/v1/grids/" + micro + "/stats?as_of=400",
        "/v1/grids/" + town + "/stars?period=2026-06",
        "/v1/departments/" + ids.dept + "/queue",
        "/v1/members?grid=" + micro + "&lost_contact=true&limit=3",
        "/v1/members/" + ids.member,
        "/v1/branches/" + ids.branch + "/outflow?month=2026-06",
        "/v1/branches/" + ids.branch + "/inflow",
        "/v1/points/leaderboard?limit=5&scope=" + town,
        "/v1/points/branches",
        "/v1/audit/head?as_of=10",
        "/v1/audit/verify?from=1&to=50",
        "/v1/events?after=10&limit=5",
        "/v1/streams/case-" + ids.case_id + "?as_of=500",
        "/v1/subscribe?after=5",
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/",
    };
    for (const auto& target : reads) web.add("get", request("GET", target, token_of("admin")));
    for (const auto& t : fuzz::tokens())
        if (t.role != "admin") web.add("get-as-" + t.role, request("GET", "/v1/cases?limit=3", t.token));
    web.add("get-ndjson", request("GET", "/v1/events?after=100&limit=20", token_of("auditor"), {}, {{"accept", "application/x-ndjson"}}));
    web.add("get-sse-token", request("GET", "/v1/subscribe?access_token=" + token_of("dashboard"), {}, {}, {{"last-event-id", "42"}}));
    web.add("no-token", request("POST", "/v1/events", {}, steps[fuzz::preloaded_steps].posted.dump()));
    web.add("delete", request("DELETE", "/v1/events", token_of("admin")));

    // The importer: exported envelopes from position 1, posted events, and both in one file.
    Corpus imp(out / "import");
    auto lines = [](auto first, auto last, auto text) {
        std::string s;
        for (auto it = first; it != last; ++it) s += text(*it) + "\n";
        return s;
    };
    auto envelope = [](const events::RawEnvelope& r) { return events::envelope_text(r); };
    auto posted = [](const samples::Step& s) { return s.posted.dump(); };
    imp.add("envelopes.ndjson", lines(log.begin(), log.begin() + 40, envelope));
    imp.add("posted.ndjson", lines(steps.begin(), steps.begin() + 40, posted));
    imp.add("mixed.ndjson", lines(log.begin(), log.begin() + 10, envelope) + lines(steps.begin() + 10, steps.begin() + 20, posted));

    std::printf("seeds: %d events, %d http, %d import in %s\n", ev.size(), web.size(), imp.size(), out.c_str());
    return 0;
}
