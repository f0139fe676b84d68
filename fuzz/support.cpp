// The sample town's log, the tokens, requests as text and scratch files for the fuzz targets.
#include "fuzz/support.hpp"

#include "cli/load.hpp"
#include "engine/engine.hpp"
#include "samples/town.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace gridloop::fuzz {

using nlohmann::json;

const std::vector<samples::Step>& town() {
    static const std::vector<samples::Step> steps = samples::sample_town();
    return steps;
}

events::Instant write_town_log(const std::string& path, std::size_t steps) {
    remove_db(path);
    const auto& all = town();
    steps = std::min(steps, all.size());
    engine::ManualClock clock(all[steps - 1].at);
    engine::Engine engine(path, clock);
    std::size_t i = 0;
    const auto r = cli::load(engine, [&](samples::Step& s) {
        if (i == steps) return false;
        s = all[i++];
        return true;
    });
    if (!r.refused.empty()) throw std::runtime_error("the sample town was refused: " + r.refused.front());
    return all[steps - 1].at;
}

const std::vector<Token>& tokens() {
    static const std::vector<Token> list = [] {
        std::vector<Token> out{{"fuzz-admin-token-00000", "admin"}, {"fuzz-auditor-token-0000", "auditor"},
                               {"fuzz-dashboard-token-00", "dashboard"}};
        for (const char* role : {"worker", "micro_head", "grid_head", "town_head", "department_staff"})
            out.push_back({std::string("fuzz-") + role + "-token-0000", role});
        return out;
    }();
    return list;
}

std::string tokens_json() {
    // Each person role is given to the first person of the town who holds it, scoped like them.
    json entries = json::array();
    for (const auto& t : tokens()) {
        json e{{"token", t.token}, {"role", t.role}, {"subject", t.role}};
        if (t.role != "admin" && t.role != "auditor" && t.role != "dashboard") {
            for (const auto& s : town()) {
                const auto& p = s.posted;
                if (p.at("type") != "PersonAssigned" || p.at("data").at("role") != t.role) continue;
                const auto& d = p.at("data");
                e["subject"] = d.at("person_id");
                e["scope"] = json::array({d.contains("grid_id") ? d.at("grid_id") : d.at("dept_id")});
                break;
            }
        }
        entries.push_back(std::move(e));
    }
    return entries.dump();
}

http::Request parse_request(std::string_view text) {
    http::Request r;
    auto line = [&text]() {
        const auto nl = text.find('\n');
        std::string_view l = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        return l;
    };
    const std::string_view first = line();
    const auto sp = first.find(' ');
    r.method = std::string(first.substr(0, sp));
    r.target = sp == std::string_view::npos ? std::string() : std::string(first.substr(sp + 1));
    while (!text.empty()) {
        const std::string_view h = line();
        if (h.empty()) {
            r.body = std::string(text);
            break;
        }
        const auto colon = h.find(':');
        std::string name(h.substr(0, colon));
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string_view value = colon == std::string_view::npos ? std::string_view{} : h.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        r.headers[name] = std::string(value);
    }
    return r;
}

std::string request_text(const http::Request& r) {
    std::string out = r.method + " " + r.target + "\n";
    for (const auto& [name, value] : r.headers) out += name + ": " + value + "\n";
    return out + "\n" + r.body;
}

std::string scratch_path(const std::string& stem) {
    return (std::filesystem::temp_directory_path() / ("gridloop-fuzz-" + stem + "-" + std::to_string(::getpid()) + ".db")).string();
}

void remove_db(const std::string& path) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix, ec);
}

void copy_db(const std::string& from, const std::string& to) {
    remove_db(to);
    std::filesystem::copy_file(from, to);
}

void fail(const std::string& what, std::string_view input) {
    std::fprintf(stderr, "\n*** invariant broken: %s\n*** input (%zu bytes): %.*s\n", what.c_str(), input.size(),
                 static_cast<int>(std::min<std::size_t>(input.size(), 2000)), input.data());
    std::abort();
}

} // namespace gridloop::fuzz
