// `gridloop serve` as a process: refusing to start without good tokens, serving, reloading tokens on
// SIGHUP, and draining on SIGTERM with every acknowledged event in the log afterwards.
#include "tests/support/engine_fixture.hpp"
#include "tests/support/http_client.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

using namespace gridloop;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::Connection;
using testing::deadline_in;
using testing::Deadline;

namespace {

const std::string gridloop_binary = std::string(GRIDLOOP_BINARY_DIR) + "/cli/gridloop";

// A child process with its stdout and stderr captured; killed on destruction if still running.
class Child {
public:
    explicit Child(const std::vector<std::string>& args) {
        int out[2], err[2];
        REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
        REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::dup2(out[1], 1);
            ::dup2(err[1], 2);
            std::vector<char*> argv;
            argv.push_back(const_cast<char*>(gridloop_binary.c_str()));
            for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            ::execv(gridloop_binary.c_str(), argv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        ::close(err[1]);
        out_ = out[0];
        err_ = err[0];
        ::fcntl(out_, F_SETFL, O_NONBLOCK);
        ::fcntl(err_, F_SETFL, O_NONBLOCK);
    }
    ~Child() {
        if (!status_) {
            ::kill(pid_, SIGKILL);
            int st;
            ::waitpid(pid_, &st, 0);
        }
        ::close(out_);
        ::close(err_);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int sig) { ::kill(pid_, sig); }

    // Drains the pipes until stdout holds `needle` or the deadline passes.
    bool wait_for_output(const std::string& needle, Deadline until) {
        while (out_text_.find(needle) == std::string::npos) {
            if (std::chrono::steady_clock::now() >= until || !pump(until)) return out_text_.find(needle) != std::string::npos;
        }
        return true;
    }
    bool wait_for_error(const std::string& needle, Deadline until) {
        while (err_text_.find(needle) == std::string::npos) {
            if (std::chrono::steady_clock::now() >= until || !pump(until)) return err_text_.find(needle) != std::string::npos;
        }
        return true;
    }

    // The exit code (128 + signal when killed), or nullopt if it is still running at the deadline.
    std::optional<int> wait(Deadline until) {
        while (!status_) {
            int st = 0;
            const pid_t r = ::waitpid(pid_, &st, WNOHANG);
            if (r == pid_) {
                status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                break;
            }
            if (std::chrono::steady_clock::now() >= until) return std::nullopt;
            pump(std::min(until, deadline_in(20ms)));
        }
        while (pump(deadline_in(0ms))) {
        }
        return status_;
    }

    const std::string& out() const { return out_text_; }
    const std::string& err() const { return err_text_; }

private:
    // Reads what is available on either pipe, waiting until the deadline; false when nothing came.
    bool pump(Deadline until) {
        pollfd p[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
        const auto left = std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count());
        if (::poll(p, 2, static_cast<int>(left)) <= 0) return false;
        bool got = false;
        char buf[8192];
        for (int i = 0; i < 2; ++i) {
            if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
            const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
            if (n > 0) {
                (i == 0 ? out_text_ : err_text_).append(buf, static_cast<std::size_t>(n));
                got = true;
            }
        }
        return got;
    }

    pid_t pid_ = -1;
    int out_ = -1, err_ = -1;
    std::string out_text_, err_text_;
    std::optional<int> status_;
};

struct Ran {
    int code;
    std::string out, err;
};
Ran run(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 30s) {
    Child c(args);
    auto code = c.wait(deadline_in(timeout));
    REQUIRE_MESSAGE(code.has_value(), "gridloop did not finish in time: " << c.err());
    return {*code, c.out(), c.err()};
}

struct TempFiles {
    std::string db = testing::temp_db("gridloop-serve");
    std::string tokens = db + ".tokens.json";
    ~TempFiles() {
        testing::remove_db(db);
        std::filesystem::remove(tokens);
    }
    void write_tokens(const std::string& text) const {
        std::ofstream f(tokens + ".tmp");
        f << text;
        f.close();
        std::filesystem::rename(tokens + ".tmp", tokens);
    }
};

const std::string admin = "process-admin-token-0001";
const std::string tokens_text = R"([{"token": "process-admin-token-0001", "subject": "root", "role": "admin"}])";

// Starts `gridloop serve` on a free port and returns the port it printed.
unsigned short start_serving(Child& c) {
    REQUIRE_MESSAGE(c.wait_for_output("/ (head position", deadline_in(20s)), "serve did not start: " << c.out() << c.err());
    const auto at = c.out().find("http://127.0.0.1:");
    REQUIRE(at != std::string::npos);
    return static_cast<unsigned short>(std::stoi(c.out().substr(at + 17)));
}

std::optional<testing::HttpResponse> call(unsigned short port, const std::string& method, const std::string& target, const std::string& body = {},
                                          const std::string& token = admin) {
    try {
        return testing::fetch(port, method, target, body, {{"Authorization", "Bearer " + token}}, 5s);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

json ev(const std::string& type, json data) { return {{"type", type}, {"data", std::move(data)}}; }

const json org{{"events", json::array({
                    ev("GridDefined", {{"grid_id", "t"}, {"name", "宝华镇"}, {"level", "town"}, {"parent_id", nullptr}}),
                    ev("GridDefined", {{"grid_id", "c"}, {"name", "新城社区"}, {"level", "community"}, {"parent_id", "t"}}),
                    ev("GridDefined", {{"grid_id", "g"}, {"name", "第一网格"}, {"level", "grid"}, {"parent_id", "c"}}),
                    ev("GridDefined", {{"grid_id", "m1"}, {"name", "一号楼"}, {"level", "micro"}, {"parent_id", "g"}}),
                })}};

} // namespace

TEST_SUITE("http") {

TEST_CASE("process: serve refuses to start without --tokens or with a malformed tokens file") {
    REQUIRE_MESSAGE(std::filesystem::exists(gridloop_binary), gridloop_binary << " is not built");
    TempFiles files;
    auto r = run({"serve", "--db", files.db, "--listen", "127.0.0.1:0"});
    CHECK(r.code != 0);
    CHECK(r.err.find("--tokens") != std::string::npos);
    CHECK(!std::filesystem::exists(files.db));

    struct Bad {
        std::string text, names;
    };
    const std::vector<Bad> bad{
        {"not json", "not JSON"},
        {R"({"token": "process-admin-token-0001"})", "array"},
        {R"([{"token": "short", "subject": "root", "role": "admin"}])", "tokens[0]"},
        {R"([{"token": "process-admin-token-0001", "subject": "root", "role": "admin"},
             {"token": "process-other-token-0002", "subject": "x", "role": "emperor"}])", "tokens[1]"},
        {R"([{"token": "process-admin-token-0001", "subject": "root", "role": "admin"},
             {"token": "process-admin-token-0001", "subject": "y", "role": "auditor"}])", "tokens[1]"},
        {R"([{"token": "process-admin-token-0001", "subject": "Root User", "role": "admin"}])", "subject"},
        {R"([{"token": "process-admin-token-0001", "token_sha256": "00", "subject": "root", "role": "admin"}])", "token_sha256"},
        {R"([{"token": "process-admin-token-0001", "subject": "root", "role": "admin", "scopes": ["t"]}])", "scopes"},
    };
    for (const auto& b : bad) {
        CAPTURE(b.text);
        files.write_tokens(b.text);
        r = run({"serve", "--db", files.db, "--listen", "127.0.0.1:0", "--tokens", files.tokens});
        CHECK(r.code != 0);
        CHECK_MESSAGE(r.err.find(b.names) != std::string::npos, "stderr should name " << b.names << ": " << r.err);
        CHECK_MESSAGE(r.err.find(files.tokens) != std::string::npos, "stderr should name the file: " << r.err);
        CHECK(r.out.find("serving") == std::string::npos);
    }
    r = run({"serve", "--db", files.db, "--listen", "127.0.0.1:0", "--tokens", files.tokens + ".missing"});
    CHECK(r.code != 0);
    CHECK(r.err.find(files.tokens + ".missing") != std::string::npos);
    CHECK(!std::filesystem::exists(files.db));
}

TEST_CASE("process: serve with a tokens file serves, logs, reloads tokens on SIGHUP and stops on SIGINT") {
    REQUIRE(std::filesystem::exists(gridloop_binary));
    TempFiles files;
    files.write_tokens(tokens_text);
    Child c({"serve", "--db", files.db, "--listen", "127.0.0.1:0", "--tokens", files.tokens});
    const auto port = start_serving(c);
    auto r = call(port, "GET", "/healthz");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    r = call(port, "POST", "/v1/events", org.dump());
    REQUIRE(r.has_value());
    CHECK(r->status == 201);
    r = call(port, "GET", "/v1/grids/t", {}, "wrong-token-000000000000");
    REQUIRE(r.has_value());
    CHECK(r->status == 401);
    // One access log line per request.
    CHECK(c.wait_for_error("POST /v1/events 201", deadline_in(5s)));

    // SIGHUP re-reads the file: the new token works, the old one no longer does.
    const std::string next = "process-next-token-00002";
    files.write_tokens(R"([{"token": ")" + next + R"(", "subject": "root", "role": "admin"}])");
    c.signal(SIGHUP);
    CHECK(c.wait_for_error("reloaded", deadline_in(5s)));
    r = call(port, "GET", "/v1/grids/t", {}, next);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    r = call(port, "GET", "/v1/grids/t", {}, admin);
    REQUIRE(r.has_value());
    CHECK(r->status == 401);
    // A broken file keeps the tokens in force.
    files.write_tokens("[{]");
    c.signal(SIGHUP);
    CHECK(c.wait_for_error("kept the old tokens", deadline_in(5s)));
    r = call(port, "GET", "/v1/grids/t", {}, next);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);

    c.signal(SIGINT);
    const auto code = c.wait(deadline_in(10s));
    REQUIRE_MESSAGE(code.has_value(), "serve did not stop on SIGINT");
    CHECK_MESSAGE(*code == 0, c.err());
    CHECK(c.out().find("stopped; head position 4") != std::string::npos);
}

TEST_CASE("process: SIGTERM with posts in flight exits 0 and every acknowledged event is in the log") {
    REQUIRE(std::filesystem::exists(gridloop_binary));
    TempFiles files;
    files.write_tokens(tokens_text);
    Child c({"serve", "--db", files.db, "--listen", "127.0.0.1:0", "--tokens", files.tokens, "--quiet"});
    const auto port = start_serving(c);
    auto r = call(port, "POST", "/v1/events", org.dump());
    REQUIRE(r.has_value());
    REQUIRE(r->status == 201);

    // An event stream stays open through the shutdown.
    Connection sse(port);
    REQUIRE(sse.send(testing::request_text("GET", "/v1/subscribe?after=0", {}, {{"Authorization", "Bearer " + admin}})));
    REQUIRE(sse.read_head(deadline_in(5s)).has_value());

    std::mutex mutex;
    std::map<std::string, std::int64_t> acknowledged; // event_id → position
    std::atomic<int> count{0};
    const auto give_up = deadline_in(30s);
    std::vector<std::future<int>> posters;
    for (int t = 0; t < 6; ++t)
        posters.push_back(std::async(std::launch::async, [&, t] {
            int failures = 0;
            for (int i = 0; std::chrono::steady_clock::now() < give_up; ++i) {
                std::optional<Connection> conn;
                try {
                    conn.emplace(port);
                } catch (const std::exception&) {
                    return failures; // refused: the server is gone
                }
                // Keep-alive until the server closes the connection.
                for (;; ++i) {
                    json e = ev("IssueReported", {{"case_id", "k-" + std::to_string(t) + "-" + std::to_string(i)}, {"category", "noise"},
                                                  {"description", "x"}, {"source", "patrol"}, {"grid_id", "m1"}});
                    const std::string id = "ev-" + std::to_string(t) + "-" + std::to_string(i);
                    e["event_id"] = id;
                    if (!conn->send(testing::request_text("POST", "/v1/events", e.dump(), {{"Authorization", "Bearer " + admin}}))) break;
                    auto resp = conn->read_response(deadline_in(10s));
                    if (!resp) break;
                    if (resp->status / 100 == 2) {
                        std::lock_guard lock(mutex);
                        acknowledged[id] = json::parse(resp->body).at("position").get<std::int64_t>();
                        ++count;
                    } else {
                        ++failures; // 503 while stopping is fine; it is simply not acknowledged
                    }
                    if (resp->header("connection") == "close") break;
                }
            }
            return failures;
        }));
    const auto until = deadline_in(20s);
    while (count < 300 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
    REQUIRE(count >= 300);
    c.signal(SIGTERM);
    const auto code = c.wait(deadline_in(10s));
    REQUIRE_MESSAGE(code.has_value(), "serve did not stop within 10 s of SIGTERM");
    CHECK_MESSAGE(*code == 0, c.err());
    for (auto& p : posters) p.get();
    CHECK(sse.closed_by_peer(deadline_in(2s)));

    // Everything acknowledged is in the log, at the position that was acknowledged.
    const auto exported = run({"export", "--db", files.db});
    REQUIRE(exported.code == 0);
    std::map<std::string, std::int64_t> logged;
    std::istringstream lines(exported.out);
    std::string line;
    while (std::getline(lines, line))
        if (!line.empty()) {
            const json e = json::parse(line);
            logged[e.at("event_id").get<std::string>()] = e.at("position").get<std::int64_t>();
        }
    std::size_t missing = 0;
    for (const auto& [id, pos] : acknowledged) {
        auto it = logged.find(id);
        if (it == logged.end() || it->second != pos) ++missing;
    }
    CHECK(missing == 0);
    CHECK(acknowledged.size() >= 300);
    CHECK(logged.size() >= acknowledged.size() + 4);
    const auto verified = run({"verify", "--db", files.db});
    CHECK(verified.code == 0);
    CHECK(verified.out.find("ok") != std::string::npos);
}

} // TEST_SUITE
