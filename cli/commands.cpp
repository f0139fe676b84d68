// gridloop import, export, verify, replay, generate and demo.
#include "cli/commands.hpp"

#include "cli/load.hpp"
#include "engine/verify.hpp"
#include "http/server.hpp"
#include "projections/metrics.hpp"
#include "projections/snapshot.hpp"
#include "samples/synth.hpp"
#include "samples/town.hpp"

#include <nlohmann/json.hpp>

#include <openssl/rand.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

namespace gridloop::cli {
namespace {

using nlohmann::json;

struct Usage {
    const char* name;
    const char* synopsis;
    const char* help;
};

const Usage usages[] = {
    {"serve", "gridloop serve --db FILE --listen HOST:PORT --tokens FILE [--threads N] [--quiet] [--snapshot-every N] [--snapshot-keep N] [--no-snapshots]",
     "Serves the HTTP API v1 and the dashboard on HOST:PORT from the log in FILE (created when absent).\n"
     "The tokens file is a JSON array of {\"token\" | \"token_sha256\", \"subject\", \"role\", \"scope\"};\n"
     "the server refuses to start without one, re-reads it on SIGHUP, and drains and exits 0 on SIGTERM/SIGINT.\n"
     "--quiet turns the access log off. The read model starts from the newest usable snapshot in\n"
     "FILE.snapshots/ and folds only the events after it; a snapshot is taken every N events (default\n"
     "1000000, 0 = never; written by a child process at a lower CPU priority, so serving goes on meanwhile) and at a clean stop,\n"
     "keeping --snapshot-keep of them spread over the log, the newest always (default 8, 0 = all);\n"
     "--no-snapshots folds the whole log and takes none."},
    {"import", "gridloop import --db FILE [--actor SUBJECT] EVENTS.ndjson",
     "Appends the events of an NDJSON file (`-` = standard input). A line is either an exported\n"
     "envelope (kept exactly: position, hashes, times, actor; it must continue the chain) or a posted\n"
     "event {\"type\", \"data\", \"event_id\"?, ...} decided like any request, posted as SUBJECT\n"
     "(default \"admin\"). Refused lines are reported with their number; exit 1 if any was refused."},
    {"export", "gridloop export --db FILE [--after P]",
     "Writes the envelopes after position P (default 0) as NDJSON, in position order."},
    {"verify", "gridloop verify --db FILE [--from P] [--to P]",
     "Recomputes the SHA-256 hash chain. Exit 0 when intact; exit 1 naming the first bad position."},
    {"replay", "gridloop replay --db FILE [--as-of P] [--json]",
     "Folds positions 1..P (default: all) and prints the grid tree's statistics as they stood then,\n"
     "with the clock read as the recorded_at of P."},
    {"snapshot", "gridloop snapshot --db FILE [--as-of P] [--keep N]",
     "Saves the read model as of position P (default: the head) into FILE.snapshots/, folding from the\n"
     "newest usable snapshot before it, so that start-up and as_of reads at or after P fold only the\n"
     "events after it (e.g. ahead of an audit of that period). Keeps N spread over the log, the newest\n"
     "always (default 8, 0 = all)."},
    {"backup", "gridloop backup --db FILE --out FILE",
     "Copies the log into a new file with SQLite's online backup API while a server may go on writing,\n"
     "then verifies the copy's hash chain. Exit 1 when the copy does not verify."},
    {"generate", "gridloop generate --db FILE --events N [--seed S] [--towns T]",
     "Writes a deterministic synthetic city's log of about N events (for benchmarks) into a new FILE.\n"
     "By default towns of 6 to 30 communities are added until the city is placed; --towns T spreads\n"
     "the same micro-grids over exactly T towns (--towns 1: one town holds every case)."},
    {"demo", "gridloop demo [--db FILE] [--listen HOST:PORT] [--no-serve]",
     "Builds the sample town (宝华镇) into a fresh FILE (default gridloop-demo.db), prints its figures,\n"
     "writes a fresh random token per role into FILE.tokens.json and serves it (default 127.0.0.1:8080),\n"
     "printing the dashboard URL and ready curl lines. --no-serve stops after the figures."},
};

void print_usage(std::ostream& out) {
    out << "gridloop — event-sourced issue dispatch for grid-based community governance\n\nusage:\n";
    for (const auto& u : usages) out << "  " << u.synopsis << "\n";
    out << "\n`gridloop COMMAND --help` explains one command.\n";
}

// Options `--name value` and `--flag`, then positionals.
class Args {
public:
    Args(const std::vector<std::string>& args, std::initializer_list<const char*> valued, std::initializer_list<const char*> flags) {
        for (std::size_t i = 0; i < args.size(); ++i) {
            const std::string& a = args[i];
            if (a.size() > 2 && a.rfind("--", 0) == 0) {
                const std::string name = a.substr(2);
                if (std::find_if(valued.begin(), valued.end(), [&](const char* v) { return name == v; }) != valued.end()) {
                    if (i + 1 >= args.size()) {
                        error_ = "--" + name + " needs a value";
                        return;
                    }
                    options_[name] = args[++i];
                } else if (std::find_if(flags.begin(), flags.end(), [&](const char* v) { return name == v; }) != flags.end()) {
                    options_[name] = "";
                } else {
                    error_ = "unknown option " + a;
                    return;
                }
            } else {
                positional_.push_back(a);
            }
        }
    }
    const std::string& error() const { return error_; }
    bool has(const std::string& k) const { return options_.count(k) > 0; }
    std::optional<std::string> get(const std::string& k) const {
        auto it = options_.find(k);
        return it == options_.end() ? std::nullopt : std::optional(it->second);
    }
    std::optional<std::int64_t> number(const std::string& k, std::string& problem) const {
        auto v = get(k);
        if (!v) return std::nullopt;
        try {
            std::size_t used = 0;
            const long long n = std::stoll(*v, &used);
            if (used == v->size() && n >= 0) return n;
        } catch (const std::exception&) {
        }
        problem = "--" + k + " must be a whole number, not \"" + *v + "\"";
        return std::nullopt;
    }
    const std::vector<std::string>& positional() const { return positional_; }

private:
    std::map<std::string, std::string> options_;
    std::vector<std::string> positional_;
    std::string error_;
};

// A progress line on a terminal, nothing otherwise.
class ProgressLine {
public:
    ProgressLine(std::ostream& err, std::string what) : err_(err), what_(std::move(what)), tty_(isatty(STDERR_FILENO)) {}
    ~ProgressLine() {
        if (tty_ && shown_) err_ << "\n";
    }
    void operator()(std::int64_t done, std::int64_t total) {
        if (!tty_) return;
        shown_ = true;
        err_ << "\r" << what_ << " " << done;
        if (total > 0) err_ << " / " << total << " (" << done * 100 / total << "%)";
        err_ << std::flush;
    }

private:
    std::ostream& err_;
    std::string what_;
    bool tty_;
    bool shown_ = false;
};

std::string pct(std::optional<double> r) {
    if (!r) return "—";
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << *r * 100 << "%";
    return s.str();
}

// The grid tree with each node's figures: what `replay` and `demo` print.
void print_tree(const projections::Model& model, events::Instant now, std::ostream& out) {
    out << "as of position " << model.position() << " (" << (model.position() ? events::format_time(now) : "empty log") << ")\n";
    out << std::left << std::setw(44) << "grid" << std::right << std::setw(9) << "reported" << std::setw(7) << "open" << std::setw(8)
        << "overdue" << std::setw(9) << "closure" << std::setw(8) << "solve" << std::setw(9) << "on-time" << std::setw(8) << "satisf."
        << std::setw(8) << "reopen" << std::setw(9) << "in-grid" << std::setw(9) << "members" << std::setw(6) << "lost" << "\n";
    std::function<void(const std::string&, int)> walk = [&](const std::string& id, int depth) {
        const auto* g = model.grid(id);
        const auto m = projections::compute_metrics(model, id, {}, now);
        std::string label = std::string(static_cast<std::size_t>(depth) * 2, ' ') + id + " (" + std::string(events::to_string(g->level)) + ")";
        out << std::left << std::setw(44) << label << std::right << std::setw(9) << m.reported << std::setw(7) << m.open << std::setw(8)
            << m.overdue << std::setw(9) << pct(m.closure_rate()) << std::setw(8) << pct(m.solve_rate()) << std::setw(9)
            << pct(m.on_time_rate()) << std::setw(8) << pct(m.satisfaction_rate()) << std::setw(8) << pct(m.reopen_rate())
            << std::setw(9) << pct(m.in_grid_rate()) << std::setw(9) << m.members << std::setw(6) << m.lost_contact << "\n";
        if (g->level == events::Level::micro) return;
        for (const auto& child : g->children) walk(child, depth + 1);
    };
    for (const auto& root : model.roots()) walk(root, 0);
}

json tree_json(const projections::Model& model, events::Instant now) {
    json grids = json::array();
    for (const auto& root : model.roots())
        for (const auto& id : model.subtree(root))
            grids.push_back({{"grid_id", id}, {"metrics", projections::to_json(projections::compute_metrics(model, id, {}, now))}});
    return {{"position", model.position()}, {"as_of", model.position() ? events::format_time(now) : ""}, {"grids", grids}};
}

bool needs_help(const std::vector<std::string>& args) {
    return std::find(args.begin(), args.end(), "--help") != args.end() || std::find(args.begin(), args.end(), "-h") != args.end();
}

int usage_error(std::ostream& err, const Usage& u, const std::string& problem) {
    err << "gridloop " << u.name << ": " << problem << "\nusage: " << u.synopsis << "\n";
    return 2;
}

int cmd_import(const Args& a, std::ostream& out, std::ostream& err, const Usage& u) {
    auto db = a.get("db");
    if (!db || a.positional().size() != 1) return usage_error(err, u, "needs --db FILE and one EVENTS.ndjson");
    const std::string path = a.positional()[0];
    std::ifstream file;
    std::istream* in = &std::cin;
    if (path != "-") {
        file.open(path);
        if (!file) return usage_error(err, u, "cannot read " + path);
        in = &file;
    }
    engine::SystemClock clock;
    engine::Engine engine(*db, clock);
    const std::string actor = a.get("actor").value_or("admin");
    ProgressLine progress(err, "imported lines");
    std::int64_t line_no = 0, appended = 0, refused = 0;
    std::vector<events::RawEnvelope> envelopes;
    std::vector<engine::Submission> posted;
    std::vector<std::int64_t> posted_lines;
    auto flush_envelopes = [&] {
        if (envelopes.empty()) return true;
        auto r = engine.import_envelopes(envelopes);
        envelopes.clear();
        if (!r) {
            err << "gridloop import: " << r.error().message << "\n";
            return false;
        }
        appended += *r;
        return true;
    };
    auto flush_posted = [&] {
        if (posted.empty()) return;
        auto results = engine.append_many(std::move(posted));
        for (std::size_t i = 0; i < results.size(); ++i) {
            if (results[i]) {
                if (results[i]->created) appended += static_cast<std::int64_t>(results[i]->envelopes.size());
            } else {
                ++refused;
                err << "line " << posted_lines[i] << ": " << results[i].error().message << "\n";
            }
        }
        posted.clear();
        posted_lines.clear();
    };
    std::string line;
    while (std::getline(*in, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded()) {
            ++refused;
            err << "line " << line_no << ": not JSON\n";
            continue;
        }
        if (j.is_object() && j.contains("hash") && j.contains("position")) {
            flush_posted();
            auto raw = events::raw_from_json(j);
            if (!raw) {
                err << "line " << line_no << ": " << raw.error().message << "\n";
                return 1;
            }
            envelopes.push_back(std::move(*raw));
            if (envelopes.size() >= 4096 && !flush_envelopes()) return 1;
        } else {
            if (!flush_envelopes()) return 1;
            auto p = events::decode_posted(j);
            if (!p) {
                ++refused;
                err << "line " << line_no << ": " << p.error().message << "\n";
                continue;
            }
            posted.push_back(engine::Submission{{std::move(*p)}, actor, std::nullopt});
            posted_lines.push_back(line_no);
            if (posted.size() >= 1024) flush_posted();
        }
        if (line_no % 8192 == 0) progress(line_no, 0);
    }
    flush_posted();
    if (!flush_envelopes()) return 1;
    out << "imported " << appended << " events from " << line_no << " lines; " << refused << " refused; head position "
        << engine.head().position << "\n";
    return refused ? 1 : 0;
}

int cmd_export(const Args& a, std::ostream& out, std::ostream& err, const Usage& u) {
    auto db = a.get("db");
    if (!db) return usage_error(err, u, "needs --db FILE");
    std::string problem;
    const auto after = a.number("after", problem);
    if (!problem.empty()) return usage_error(err, u, problem);
    engine::StoreReader store(*db);
    store.scan(after.value_or(0), INT64_MAX, [&](const events::RawEnvelope& r) {
        out << events::envelope_text(r) << '\n';
        return static_cast<bool>(out);
    });
    out.flush();
    return 0;
}

int cmd_verify(const Args& a, std::ostream& out, std::ostream& err, const Usage& u) {
    auto db = a.get("db");
    if (!db) return usage_error(err, u, "needs --db FILE");
    std::string problem;
    const auto from = a.number("from", problem);
    const auto to = a.number("to", problem);
    if (!problem.empty()) return usage_error(err, u, problem);
    engine::StoreReader store(*db);
    ProgressLine progress(err, "verified");
    const auto r = engine::verify(store, from.value_or(1), to.value_or(0), std::ref(progress));
    if (r.ok) {
        const auto head = store.head();
        out << "ok: " << r.checked << " events verified; head position " << head.position << " hash " << head.hash << "\n";
        return 0;
    }
    // The problem usually names the position itself ("position 17: hash does not match its content").
    const std::string prefix = "position " + std::to_string(r.first_bad_position.value_or(0)) + ": ";
    const std::string what = r.problem.rfind(prefix, 0) == 0 ? r.problem.substr(prefix.size()) : r.problem;
    out << "BROKEN at position " << r.first_bad_position.value_or(0) << ": " << what << " (" << r.checked
        << " events checked)\n";
    return 1;
}

int cmd_replay(const Args& a, std::ostream& out, std::ostream& err, const Usage& u) {
    auto db = a.get("db");
    if (!db) return usage_error(err, u, "needs --db FILE");
    std::string problem;
    const auto as_of = a.number("as-of", problem);
    if (!problem.empty()) return usage_error(err, u, problem);
    engine::StoreReader store(*db);
    const auto head = store.head().position;
    if (as_of && *as_of > head) return usage_error(err, u, "--as-of " + std::to_string(*as_of) + " is past the head position " + std::to_string(head));
    ProgressLine progress(err, "folded");
    // The process ends after this command: the model is left for it to drop (held by a plain static
    // pointer, so still reachable) rather than freed node by node, which takes seconds on a long log.
    // A process that runs several commands (tests) frees the previous one.
    static projections::Model* replayed = nullptr;
    delete std::exchange(replayed, new projections::Model(engine::fold(store, as_of.value_or(head), std::ref(progress))));
    const projections::Model& model = *replayed;
    if (a.has("json")) out << tree_json(model, model.recorded_at()).dump(2) << "\n";
    else print_tree(model, model.recorded_at(), out);
    return 0;
}

int cmd_snapshot(const Args& a, std::ostream& out, std::ostream& err, const Usage& u) {
    auto db = a.get("db");
    if (!db) return usage_error(err, u, "needs --db FILE");
    std::string problem;
    const auto as_of = a.number("as-of", problem);
    const auto keep = a.number("keep", problem);
    if (!problem.empty()) return usage_error(err, u, problem);
    const engine::StoreReader store(*db); // read-only: a missing file is refused, never created
    const std::int64_t head = store.head().position, at = as_of.value_or(head);
    if (at > head) return usage_error(err, u, "--as-of " + std::to_string(at) + " is past the head position " + std::to_string(head));
    if (at == 0) {
        out << "the log is empty: nothing to save\n";
        return 0;
    }
    const engine::Snapshots snapshots(*db);
    std::vector<std::string> notes;
    projections::Model model = snapshots.load_newest(store, at, notes).value_or(projections::Model{});
    for (const auto& note : notes) err << "gridloop snapshot: " << note << "\n";
    if (model.position() == at) {
        out << "a snapshot at position " << at << " is already saved in " << snapshots.dir().string() << "\n";
        return 0;
    }
    ProgressLine progress(err, "folded");
    engine::fold_onto(model, store, at, std::ref(progress));
    projections::snapshot::Parts parts;
    projections::save(model, parts);
    const auto file = snapshots.write(at, model.head_hash(), parts, keep ? static_cast<std::size_t>(*keep) : engine::SnapshotOptions{}.keep);
    out << "saved the model at position " << at << " to " << file.string() << " (" << std::filesystem::file_size(file) << " bytes)\n";
    return 0;
}

int cmd_backup(const Args& a, std::ostream& out, std::ostream& err, const Usage& u) {
    auto db = a.get("db"), to = a.get("out");
    if (!db || !to) return usage_error(err, u, "needs --db FILE and --out FILE");
    const auto head = engine::StoreReader(*db).backup(*to);
    const auto r = engine::verify(engine::StoreReader(*to));
    if (!r.ok) {
        out << "backup " << *to << " does not verify: " << r.problem << "\n";
        return 1;
    }
    out << "backed up " << head.position << " events to " << *to << " (head hash " << head.hash << "); verified\n";
    return 0;
}

// A file that must not exist yet (generate) or may be replaced (demo).
bool fresh_file(const std::string& path, bool replace, std::ostream& err) {
    namespace fs = std::filesystem;
    if (fs::exists(path)) {
        if (!replace) {
            err << "gridloop: " << path << " exists; give a new file\n";
            return false;
        }
        for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
    }
    return true;
}

int report_load(const LoadResult& r, std::ostream& err) {
    for (const auto& line : r.refused) err << "refused " << line << "\n";
    return r.refused.empty() ? 0 : 1;
}

int cmd_generate(const Args& a, std::ostream& out, std::ostream& err, const Usage& u) {
    auto db = a.get("db");
    std::string problem;
    const auto n = a.number("events", problem);
    const auto seed = a.number("seed", problem);
    const auto towns = a.number("towns", problem);
    if (!problem.empty()) return usage_error(err, u, problem);
    if (!db || !n) return usage_error(err, u, "needs --db FILE and --events N");
    if (towns && *towns == 0) return usage_error(err, u, "--towns must be at least 1");
    if (!fresh_file(*db, false, err)) return 2;
    engine::SystemClock clock;
    engine::Engine engine(*db, clock);
    samples::Synth synth(
        {static_cast<std::uint64_t>(*n), static_cast<std::uint64_t>(seed.value_or(1)), static_cast<std::uint64_t>(towns.value_or(0))});
    ProgressLine progress(err, "generated");
    const auto r = load(engine, [&](samples::Step& s) { return synth.next(s); }, 4096, [&](std::int64_t done, std::int64_t) { progress(done, *n); });
    out << "generated " << r.appended << " events into " << *db << " (head " << engine.head().position << ")\n";
    return report_load(r, err);
}

// "HOST:PORT" → address and port.
std::optional<std::pair<std::string, unsigned short>> parse_listen(const std::string& s) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    std::string host = s.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    try {
        std::size_t used = 0;
        const int port = std::stoi(s.substr(colon + 1), &used);
        if (used != s.size() - colon - 1 || port < 0 || port > 65535) return std::nullopt;
        return std::pair{host, static_cast<unsigned short>(port)};
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// Serves until SIGINT/SIGTERM; returns the exit code.
int serve(engine::Engine& engine, const std::string& tokens_path, const std::string& host, unsigned short port, int threads, bool quiet,
          std::ostream& out, std::ostream& err, const std::function<void(unsigned short)>& on_listening = {}) {
    auto auth = std::make_shared<http::Authenticator>(http::Tokens::load(tokens_path));
    http::Api api(engine, auth);
    http::ServerOptions options;
    options.address = host;
    options.port = port;
    options.threads = threads;
    options.access_log = quiet ? nullptr : &err;
    options.on_reload = [auth, tokens_path, &err] {
        try {
            auth->replace(http::Tokens::load(tokens_path));
            err << "gridloop serve: reloaded " << tokens_path << "\n";
        } catch (const std::exception& e) {
            err << "gridloop serve: kept the old tokens: " << e.what() << "\n";
        }
    };
    http::Server server(api, options);
    // The engine's own time-outs: what ran out while the server was down at once, then each on time.
    engine::Scheduler scheduler(engine);
    scheduler.start();
    out << "gridloop serving " << engine.path() << " on http://" << host << ":" << server.port() << "/ (head position "
        << engine.head().position << ")" << std::endl;
    if (on_listening) on_listening(server.port());
    server.run();
    out << "gridloop: stopped; head position " << engine.head().position << std::endl;
    return 0;
}

int cmd_serve(const Args& a, std::ostream& out, std::ostream& err, const Usage& u) {
    auto db = a.get("db"), listen = a.get("listen"), tokens = a.get("tokens");
    if (!db || !listen) return usage_error(err, u, "needs --db FILE and --listen HOST:PORT");
    if (!tokens) return usage_error(err, u, "refusing to start without --tokens FILE (see --help)");
    auto where = parse_listen(*listen);
    if (!where) return usage_error(err, u, "--listen must be HOST:PORT, not \"" + *listen + "\"");
    std::string problem;
    const auto threads = a.number("threads", problem);
    const auto every = a.number("snapshot-every", problem);
    const auto keep = a.number("snapshot-keep", problem);
    if (!problem.empty()) return usage_error(err, u, problem);
    http::Tokens::load(*tokens); // a malformed file stops the start before the log is opened
    engine::SnapshotOptions snapshots;
    if (every) snapshots.every = *every;
    if (keep) snapshots.keep = static_cast<std::size_t>(*keep);
    if (a.has("no-snapshots")) snapshots = {false, 0, 0};
    engine::SystemClock clock;
    ProgressLine progress(err, "folded");
    engine::Engine engine(*db, clock, std::ref(progress), snapshots);
    for (const auto& note : engine.start_notes()) err << "gridloop serve: " << note << "\n";
    if (engine.started_from() > 0)
        err << "gridloop serve: started from the snapshot at position " << engine.started_from() << ", folded "
            << engine.head().position - engine.started_from() << " events after it\n";
    return serve(engine, *tokens, where->first, where->second, static_cast<int>(threads.value_or(2)), a.has("quiet"), out, err);
}

std::string random_token() {
    unsigned char bytes[24];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no randomness for tokens");
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (unsigned char b : bytes) s += {digits[b >> 4], digits[b & 15]};
    return s;
}

// One fresh token per role; subjects and scopes are real persons and grids of the town.
json demo_tokens(const projections::Model& m) {
    json tokens = json::array();
    auto add = [&](const std::string& role, const std::string& subject, json scope) {
        tokens.push_back({{"token", random_token()}, {"subject", subject}, {"role", role}, {"scope", std::move(scope)}});
    };
    add("admin", "admin", json::array());
    for (auto role : {events::PersonRole::worker, events::PersonRole::micro_head, events::PersonRole::grid_head,
                      events::PersonRole::town_head, events::PersonRole::department_staff}) {
        for (const auto& [id, p] : m.persons()) {
            if (p.role != role) continue;
            add(std::string(events::to_string(role)), id, json::array({p.grid_id ? *p.grid_id : p.dept_id.value_or("")}));
            break;
        }
    }
    add("auditor", "auditor", json::array());
    add("dashboard", "dashboard", json::array());
    return tokens;
}

int cmd_demo(const Args& a, std::ostream& out, std::ostream& err, const Usage& u) {
    const std::string db = a.get("db").value_or("gridloop-demo.db");
    if (!fresh_file(db, true, err)) return 2;
    engine::SystemClock clock;
    engine::Engine engine(db, clock);
    const auto steps = samples::sample_town();
    std::size_t i = 0;
    const auto r = load(engine, [&](samples::Step& s) {
        if (i == steps.size()) return false;
        s = steps[i++];
        return true;
    });
    if (int code = report_load(r, err)) return code;
    out << "built the sample town into " << db << ": " << r.appended << " events, " << r.timeouts
        << " of them time-outs the engine wrote (cases that climbed by themselves)\n\n";
    engine.read([&](const projections::Model& m) { print_tree(m, clock.now(), out); });
    if (a.has("no-serve")) return 0;
    auto where = parse_listen(a.get("listen").value_or("127.0.0.1:8080"));
    if (!where) return usage_error(err, u, "--listen must be HOST:PORT");
    const json tokens = engine.read([](const projections::Model& m) { return demo_tokens(m); });
    const std::string tokens_path = db + ".tokens.json";
    {
        std::ofstream f(tokens_path);
        f << tokens.dump(2) << "\n";
        if (!f) return usage_error(err, u, "cannot write " + tokens_path);
    }
    return serve(engine, tokens_path, where->first, where->second, 2, true, out, err, [&](unsigned short port) {
        const std::string base = "http://" + where->first + ":" + std::to_string(port);
        std::string kiosk;
        for (const auto& t : tokens)
            if (t["role"] == "dashboard") kiosk = base + "/?token=" + t["token"].get<std::string>();
        out << "\ndashboard: " << base << "/ (paste a token), or as a kiosk with the dashboard token: " << kiosk << "\ntokens (" << tokens_path
            << "):\n";
        for (const auto& t : tokens)
            out << "  " << std::left << std::setw(17) << t["role"].get<std::string>() << t["token"].get<std::string>() << "  subject "
                << t["subject"].get<std::string>() << (t["scope"].empty() ? "" : " scope " + t["scope"][0].get<std::string>()) << "\n";
        const std::string admin = tokens[0]["token"];
        out << "\ntry:\n"
            << "  curl -s " << base << "/v1/grids/baohua/stats -H 'Authorization: Bearer " << admin << "'\n"
            << "  curl -s " << base << "/v1/cases?overdue=true -H 'Authorization: Bearer " << admin << "'\n"
            << "  curl -s -X POST " << base << "/v1/events -H 'Authorization: Bearer " << admin << "' -H 'Content-Type: application/json' \\\n"
            << "       -d '{\"type\":\"IssueReported\",\"data\":{\"case_id\":\"c-demo-1\",\"category\":\"garbage\",\"description\":\"楼道堆放杂物\","
               "\"source\":\"patrol\",\"grid_id\":\"xc-jinxiu-1\"}}'\n"
            << "  curl -sN " << base << "/v1/subscribe?after=" << engine.head().position << " -H 'Authorization: Bearer " << admin << "'\n"
            << "Ctrl-C stops the server." << std::endl;
    });
}

} // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        print_usage(args.empty() ? err : out);
        return args.empty() ? 2 : 0;
    }
    const Usage* usage = nullptr;
    for (const auto& u : usages)
        if (args[0] == u.name) usage = &u;
    if (!usage) {
        err << "gridloop: unknown command \"" << args[0] << "\"\n";
        print_usage(err);
        return 2;
    }
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (needs_help(rest)) {
        out << "usage: " << usage->synopsis << "\n\n" << usage->help << "\n";
        return 0;
    }
    const Args parsed(rest, {"db", "out", "actor", "after", "from", "to", "as-of", "events", "seed", "towns", "listen", "tokens", "threads", "snapshot-every", "snapshot-keep", "keep"},
                      {"json", "no-serve", "quiet", "no-snapshots"});
    if (!parsed.error().empty()) return usage_error(err, *usage, parsed.error());
    using Command = int (*)(const Args&, std::ostream&, std::ostream&, const Usage&);
    static const std::map<std::string, Command> commands{
        {"serve", cmd_serve},   {"import", cmd_import},     {"export", cmd_export}, {"verify", cmd_verify},     {"backup", cmd_backup},
        {"snapshot", cmd_snapshot}, {"replay", cmd_replay}, {"generate", cmd_generate}, {"demo", cmd_demo}};
    try {
        return commands.at(usage->name)(parsed, out, err, *usage);
    } catch (const std::exception& e) {
        err << "gridloop " << usage->name << ": " << e.what() << "\n";
        return 1;
    }
}

} // namespace gridloop::cli
