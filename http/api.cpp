// Routing, authentication, the write path and the read endpoints of API v1.
#include "http/api.hpp"

#include "engine/thread_name.hpp"
#include "engine/verify.hpp"
#include "events/json_writer.hpp"
#include "http/access.hpp"
#include "http/open311.hpp"
#include "http/views.hpp"
#include "projections/members.hpp"
#include "projections/metrics.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <future>
#include <iterator>
#include <list>
#include <optional>
#include <set>
#include <thread>

namespace gridloop::http {

using nlohmann::json;
using projections::Model;
using events::Instant;

// ---------------------------------------------------------------- small pieces

int status_of(events::errc code) {
    using events::errc;
    switch (code) {
    case errc::bad_request: return 400;
    case errc::unauthorized: return 401;
    case errc::forbidden: return 403;
    case errc::not_found: return 404;
    case errc::method_not_allowed: return 405;
    case errc::conflict: return 409;
    case errc::too_large: return 413;
    case errc::unprocessable: return 422;
    case errc::unavailable: return 503;
    }
    return 500;
}

namespace {

const char* title_of(int status) {
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Response ok_json(const json& j, int status = 200) {
    Response r;
    r.status = status;
    r.body = dump(j);
    return r;
}

std::optional<int> hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') out += ' ';
        else if (s[i] != '%') out += s[i];
        else {
            if (i + 2 >= s.size()) return std::nullopt;
            auto hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
            if (!hi || !lo) return std::nullopt;
            out += static_cast<char>(*hi << 4 | *lo);
            i += 2;
        }
    }
    return out;
}

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < path.size()) {
        if (path[i] == '/') {
            ++i;
            continue;
        }
        auto j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        out.emplace_back(path.substr(i, j - i));
        i = j;
    }
    return out;
}

} // namespace

Response problem(int status, const std::string& detail, const std::string& instance) {
    json j{{"type", "about:blank"}, {"title", title_of(status)}, {"status", status}, {"detail", detail}};
    if (!instance.empty()) j["instance"] = instance;
    Response r;
    r.status = status;
    r.content_type = "application/problem+json";
    r.body = dump(j);
    if (status == 503) r.headers.emplace_back("Retry-After", retry_after_503);
    return r;
}

std::optional<std::map<std::string, std::string>> parse_query(std::string_view q) {
    std::map<std::string, std::string> out;
    while (!q.empty()) {
        auto amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq));
        auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        if (!key || !value) return std::nullopt;
        out[*key] = *value;
    }
    return out;
}

// ---------------------------------------------------------------- hub and stats

std::uint64_t Hub::subscribe(Sink sink) {
    std::lock_guard lock(mutex_);
    sinks_.emplace(next_, std::move(sink));
    return next_++;
}
void Hub::unsubscribe(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    sinks_.erase(id);
}
std::size_t Hub::size() const {
    std::lock_guard lock(mutex_);
    return sinks_.size();
}
void Hub::publish(const std::vector<events::RawEnvelope>& rows) {
    std::lock_guard lock(mutex_);
    for (auto& [_, sink] : sinks_) sink(rows);
}

void RequestStats::count(const std::string& route, int status) {
    std::lock_guard lock(mutex_);
    ++counts_[{route, status}];
}
std::map<std::pair<std::string, int>, std::uint64_t> RequestStats::snapshot() const {
    std::lock_guard lock(mutex_);
    return counts_;
}

// ---------------------------------------------------------------- routing

namespace {

enum class Access {
    open,       // no token needed
    read,       // any valid token
    raw,        // raw events and audit: admin, auditor
    write,      // posting events: every role but auditor and dashboard
};

struct Ctx {
    const Request& req;
    std::string path;
    std::map<std::string, std::string> query;
    std::vector<std::string> params;
    Principal who;
    std::function<void(Response)> done;
};

} // namespace

struct Api::Impl {
    engine::Engine& engine;
    Api& api;
    Options options;

    // The engine keeps its commit observers for its whole life; this link lets the one registered
    // by the API go quiet when the API is destroyed before the engine.
    struct CommitLink {
        std::mutex mutex;
        Hub* hub = nullptr;
    };
    std::shared_ptr<CommitLink> link = std::make_shared<CommitLink>();
    ~Impl() {
        {
            std::lock_guard lock(jobs_mutex);
            jobs_stopping = true;
        }
        jobs_cv.notify_all();
        if (background.joinable()) background.join();
        std::lock_guard lock(link->mutex);
        link->hub = nullptr;
    }

    using Handler = void (Impl::*)(Ctx&);
    struct Route {
        const char* method;
        const char* pattern;
        Access access;
        Handler handler;
        std::vector<std::string> segments;
    };
    // The one table of routes: dispatch, metrics labels and the OpenAPI test all read it.
    static const std::vector<Route>& route_table();
    const std::vector<Route>& routes = route_table();

    // Past models for as_of, most recent use first. One is folded at a time: at 10M events a model
    // is 2 GB and seconds of both cores, so concurrent folds could exhaust memory. Folds run on the
    // background thread, never on the caller's: a caller is an HTTP thread, and a fold (or a wait
    // for one) there would stop every connection it serves for seconds. A request whose model is not
    // cached is queued for that thread, which folds it and answers the request (and every other one
    // queued for the same position) from the cache; one for another position meanwhile is answered
    // 503 (retry).
    std::mutex cache_mutex;
    using Cached = std::list<std::pair<std::int64_t, std::shared_ptr<const Model>>>; // past models by position
    Cached cache; // newest first
    std::optional<std::int64_t> folding; // the position queued or being folded
    std::atomic<std::uint64_t> as_of_folds{0}, as_of_busy{0};
    // The background thread: requests that take seconds (an as_of fold, a verification of the hash
    // chain) are queued for it and handled there again, so that no HTTP thread waits on them.
    std::mutex jobs_mutex;
    std::condition_variable jobs_cv;
    std::deque<std::pair<Request, std::function<void(Response)>>> jobs; // in arrival order
    bool jobs_stopping = false;
    bool verifying = false; // a verification is queued or under way (one at a time)
    std::thread background; // started by the first request queued for it
    static thread_local bool on_background_thread;

    Impl(engine::Engine& e, Api& a, Options o) : engine(e), api(a), options(o) {}

    // ------------------------------------------------ dispatch

    static bool matches(const Route& r, const std::vector<std::string>& segs, std::vector<std::string>* params) {
        if (r.segments.size() != segs.size()) return false;
        std::vector<std::string> p;
        for (std::size_t i = 0; i < segs.size(); ++i) {
            if (r.segments[i].front() == '{') p.push_back(segs[i]);
            else if (r.segments[i] != segs[i]) return false;
        }
        if (params) *params = std::move(p);
        return true;
    }

    const Route* find_route(const std::string& method, const std::vector<std::string>& segs, std::vector<std::string>* params,
                            std::string* allow) const {
        const Route* found = nullptr;
        for (const auto& r : routes) {
            if (!matches(r, segs, nullptr)) continue;
            if (allow) *allow += (allow->empty() ? "" : ", ") + std::string(r.method);
            if (r.method == method || (method == "HEAD" && std::string_view(r.method) == "GET")) {
                found = &r;
                matches(r, segs, params);
            }
        }
        return found;
    }

    bool allowed(Access a, Role role) const {
        switch (a) {
        case Access::open:
        case Access::read: return true;
        case Access::raw: return role == Role::admin || role == Role::auditor;
        case Access::write: return role != Role::auditor && role != Role::dashboard;
        }
        return false;
    }

    void handle(const Request& req, std::function<void(Response)> done) {
        const auto qpos = req.target.find('?');
        const std::string path = req.target.substr(0, qpos);
        auto query = parse_query(qpos == std::string::npos ? std::string_view{} : std::string_view(req.target).substr(qpos + 1));
        // Open311 reads its own query string, and refuses it in its own error format.
        if (!query && !path.starts_with("/open311/")) return done(problem(400, "the query string has a malformed percent-encoding", path));
        const auto segs = split_path(path);
        std::vector<std::string> params;
        std::string allow;
        const Route* route = find_route(req.method, segs, &params, &allow);
        if (!route) {
            if (allow.empty()) return done(problem(404, "no such resource: " + path, path));
            Response r = problem(405, req.method + " is not allowed on " + path + " (allowed: " + allow + ")", path);
            r.headers.emplace_back("Allow", allow);
            return done(std::move(r));
        }
        for (const auto& p : params)
            if (p.empty() || p.size() > 200) return done(problem(404, "no such resource: " + path, path));
        Ctx ctx{req, path, std::move(query).value_or(std::map<std::string, std::string>{}), std::move(params), Principal{}, std::move(done)};
        if (route->access != Access::open) {
            auto who = authenticate(req);
            // EventSource cannot send headers: /v1/subscribe alone also takes ?access_token=.
            if (auto t = ctx.query.find("access_token"); t != ctx.query.end() && route->handler == &Impl::subscribe && req.header("authorization").empty())
                who = api.auth_ ? api.auth_->find(t->second) : std::nullopt;
            if (!who) {
                Response r = problem(401, req.header("authorization").empty() ? "an Authorization: Bearer token is required"
                                                                              : "the bearer token is not valid",
                                     path);
                r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"gridloop\"");
                return ctx.done(std::move(r));
            }
            // Every answer to an authenticated request names its subject in the access log.
            ctx.done = [done = std::move(ctx.done), subject = who->subject](Response r) {
                r.subject = subject;
                done(std::move(r));
            };
            if (!allowed(route->access, who->role))
                return ctx.done(problem(403, "role " + std::string(to_string(who->role)) + " may not " +
                                                 (route->access == Access::write ? "post events" : "read raw events or the audit endpoints"),
                                        path));
            ctx.who = std::move(*who);
        }
        (this->*(route->handler))(ctx);
    }

    // handle(), with what escapes it answered: an unavailable log 503, anything else 500.
    void handle_guarded(const Request& req, std::function<void(Response)> done) {
        try {
            handle(req, done);
        } catch (const engine::StoreError& e) {
            done(problem(503, std::string("the event log is unavailable: ") + e.what()));
        } catch (const std::exception&) {
            // A bug or an infrastructure failure: say nothing about it to the client.
            done(problem(500, "internal error"));
        }
    }

    std::optional<Principal> authenticate(const Request& req) const {
        const std::string h = req.header("authorization");
        constexpr std::string_view scheme = "Bearer ";
        if (h.size() > scheme.size() && std::equal(scheme.begin(), scheme.end(), h.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            }))
            return api.auth_ ? api.auth_->find(std::string_view(h).substr(scheme.size())) : std::nullopt;
        return std::nullopt;
    }

    // ------------------------------------------------ query parameters

    std::optional<std::string> param(Ctx& c, const char* name) {
        auto it = c.query.find(name);
        if (it == c.query.end()) return std::nullopt;
        return it->second;
    }

    // A whole number parameter in [lo, hi]; sends 400 and returns false when malformed.
    bool number(Ctx& c, const char* name, std::int64_t lo, std::int64_t hi, std::optional<std::int64_t>& out) {
        auto v = param(c, name);
        if (!v) return true;
        std::int64_t n = 0;
        bool ok = !v->empty() && v->size() <= 18;
        for (char ch : *v) ok = ok && ch >= '0' && ch <= '9';
        if (ok) n = std::stoll(*v);
        if (!ok || n < lo || n > hi) {
            c.done(problem(400, std::string(name) + " must be a whole number between " + std::to_string(lo) + " and " + std::to_string(hi),
                           c.path));
            return false;
        }
        out = n;
        return true;
    }

    // The model to answer from: live, or folded up to as_of (cached), with the view's time.
    struct View {
        std::shared_ptr<const Model> past; // set for as_of
        Instant now{};
        Cached evicted; // past models this request pushed out of the cache: freed once it is answered
    };
    bool view_for(Ctx& c, std::optional<View>& out) {
        std::optional<std::int64_t> as_of;
        const auto head = engine.head().position;
        if (!number(c, "as_of", 1, std::numeric_limits<std::int64_t>::max(), as_of)) return false;
        View v;
        if (!as_of) {
            v.now = engine.clock().now();
            out = v;
            return true;
        }
        if (*as_of > head) {
            c.done(problem(422, "as_of " + std::to_string(*as_of) + " is past the head position " + std::to_string(head), c.path));
            return false;
        }
        if (on_background_thread) {
            v.past = past_model(*as_of, v.evicted);
        } else {
            std::unique_lock lock(cache_mutex);
            v.past = cached(*as_of);
            if (!v.past) {
                if (folding && *folding != *as_of) {
                    ++as_of_busy;
                    lock.unlock();
                    c.done(problem(503, "another as_of view is being folded from the log; retry in a few seconds", c.path));
                    return false;
                }
                folding = *as_of;
                lock.unlock();
                // The background thread folds it while handling the request again. However that is
                // answered (before the fold when the token was revoked meanwhile, say), the position
                // is no longer reserved from then on.
                c.done = [this, position = *as_of, done = std::move(c.done)](Response r) {
                    {
                        std::lock_guard reserved(cache_mutex);
                        if (folding == position) folding.reset();
                    }
                    done(std::move(r));
                };
                defer(c);
                return false;
            }
        }
        v.now = v.past->recorded_at();
        out = v;
        return true;
    }

    // The cached model at `position`, now the most recently used; null when there is none. The
    // caller holds cache_mutex.
    std::shared_ptr<const Model> cached(std::int64_t position) {
        for (auto it = cache.begin(); it != cache.end(); ++it)
            if (it->first == position) {
                cache.splice(cache.begin(), cache, it);
                return it->second;
            }
        return nullptr;
    }

    // On the background thread: the model at `position`, cached or folded here (and then cached, pushing
    // the least recently used out into `evicted`). A failed fold throws.
    std::shared_ptr<const Model> past_model(std::int64_t position, Cached& evicted) {
        {
            std::lock_guard lock(cache_mutex);
            if (auto model = cached(position)) return model;
            if (!folding) folding = position;
            ++as_of_folds;
        }
        std::shared_ptr<const Model> model;
        try {
            model = std::make_shared<const Model>(engine.model_at(position));
        } catch (...) {
            std::lock_guard lock(cache_mutex);
            if (folding == position) folding.reset();
            throw;
        }
        std::lock_guard lock(cache_mutex);
        if (folding == position) folding.reset();
        cache.emplace_front(position, model);
        std::size_t cases = 0, kept = 0;
        for (const auto& [_, m] : cache) {
            cases += m->cases().size();
            if (kept > 0 && (kept == options.as_of_cache || cases > options.as_of_cache_cases)) break;
            ++kept;
        }
        evicted.splice(evicted.end(), cache, std::next(cache.begin(), static_cast<std::ptrdiff_t>(kept)), cache.end());
        return model;
    }

    // Queues the request for the background thread, which handles it again from the start.
    void defer(Ctx& c) {
        std::lock_guard lock(jobs_mutex);
        if (!background.joinable()) background = std::thread([this] {
            engine::name_this_thread("gl-background");
            background_loop();
        });
        jobs.emplace_back(c.req, std::move(c.done));
        jobs_cv.notify_one();
    }

    void background_loop() {
        on_background_thread = true;
        std::unique_lock lock(jobs_mutex);
        for (;;) {
            jobs_cv.wait(lock, [this] { return jobs_stopping || !jobs.empty(); });
            if (jobs.empty()) return;
            auto [req, done] = std::move(jobs.front());
            jobs.pop_front();
            const bool stopping = jobs_stopping;
            lock.unlock();
            if (stopping) done(problem(503, "the server is stopping", req.target.substr(0, req.target.find('?'))));
            else handle_guarded(req, std::move(done));
            lock.lock();
        }
    }

    // Runs f(model, now) on the right model and sends what it returns.
    template <class F> void answer(Ctx& c, F&& f) {
        std::optional<View> v;
        if (!view_for(c, v)) return;
        Response r = v->past ? f(*v->past, v->now) : engine.read([&](const Model& m) { return f(m, std::max(v->now, m.recorded_at())); });
        c.done(std::move(r));
        v.reset(); // after the answer is on its way: freeing an evicted model of a long log takes seconds
    }

    // One read connection per thread.
    const engine::StoreReader& reader() { return engine::StoreReader::for_this_thread(engine.path()); }

    bool personal(const Ctx& c) const { return c.who.role != Role::dashboard; }

    // For a scoped principal a missing target and one outside the scope answer alike (403), so
    // probing reveals nothing; others get 404 for a missing target.
    Response not_visible(const Ctx& c, const std::string& what, bool exists) const {
        if (sees_everything(c.who) && !exists) return problem(404, "unknown " + what, c.path);
        return problem(403, what + " is not within your scope (" + std::string(to_string(c.who.role)) + ")", c.path);
    }
    // The grid a subtree view is about: the one asked for, or the principal's only scope grid.
    std::optional<std::string> subtree_of(const Ctx& c, const std::string& asked) const {
        if (!asked.empty() || sees_everything(c.who)) return asked;
        if (c.who.scope.size() == 1) return c.who.scope.front();
        return std::nullopt;
    }

    // ------------------------------------------------ handlers (bodies in views.cpp and below)
    void post_events(Ctx& c);
    void get_events(Ctx& c);
    void get_stream(Ctx& c);
    void subscribe(Ctx& c);
    void list_cases(Ctx& c);
    void get_case(Ctx& c);
    void list_grids(Ctx& c);
    void get_grid(Ctx& c);
    void grid_stats(Ctx& c);
    void grid_stars(Ctx& c);
    void department_queue(Ctx& c);
    void list_members(Ctx& c);
    void get_member(Ctx& c);
    void branch_outflow(Ctx& c);
    void branch_inflow(Ctx& c);
    void leaderboard(Ctx& c);
    void branch_points(Ctx& c);
    template <class F> void points_view(Ctx& c, F&& f);
    void audit_head(Ctx& c);
    void audit_verify(Ctx& c);
    void healthz(Ctx& c);
    void metrics(Ctx& c);
    void openapi(Ctx& c);
    void dashboard(Ctx& c);
    // Open311 GeoReport v2 (http/open311.cpp): its own api_key, formats and errors.
    void open311(Ctx& c) { handle_open311(engine, api.auth_.get(), authenticate(c.req), c.req, std::move(c.done)); }
};

const std::vector<Api::Impl::Route>& Api::Impl::route_table() {
    static const std::vector<Route> table = [] {
        std::vector<Route> t{
            {"POST", "/v1/events", Access::write, &Impl::post_events, {}},
            {"GET", "/v1/events", Access::raw, &Impl::get_events, {}},
            {"GET", "/v1/streams/{stream}", Access::raw, &Impl::get_stream, {}},
            {"GET", "/v1/subscribe", Access::read, &Impl::subscribe, {}},
            {"GET", "/v1/cases", Access::read, &Impl::list_cases, {}},
            {"GET", "/v1/cases/{id}", Access::read, &Impl::get_case, {}},
            {"GET", "/v1/grids", Access::read, &Impl::list_grids, {}},
            {"GET", "/v1/grids/{id}", Access::read, &Impl::get_grid, {}},
            {"GET", "/v1/grids/{id}/stats", Access::read, &Impl::grid_stats, {}},
            {"GET", "/v1/grids/{id}/stars", Access::read, &Impl::grid_stars, {}},
            {"GET", "/v1/departments/{id}/queue", Access::read, &Impl::department_queue, {}},
            {"GET", "/v1/members", Access::read, &Impl::list_members, {}},
            {"GET", "/v1/members/{id}", Access::read, &Impl::get_member, {}},
            {"GET", "/v1/branches/{id}/outflow", Access::read, &Impl::branch_outflow, {}},
            {"GET", "/v1/branches/{id}/inflow", Access::read, &Impl::branch_inflow, {}},
            {"GET", "/v1/points/leaderboard", Access::read, &Impl::leaderboard, {}},
            {"GET", "/v1/points/branches", Access::read, &Impl::branch_points, {}},
            {"GET", "/v1/audit/head", Access::raw, &Impl::audit_head, {}},
            {"GET", "/v1/audit/verify", Access::raw, &Impl::audit_verify, {}},
            {"GET", "/healthz", Access::open, &Impl::healthz, {}},
            {"GET", "/metrics", Access::open, &Impl::metrics, {}},
            {"GET", "/openapi.json", Access::open, &Impl::openapi, {}},
            {"GET", "/", Access::open, &Impl::dashboard, {}},
            {"GET", "/open311/v2/discovery.json", Access::open, &Impl::open311, {}},
            {"GET", "/open311/v2/discovery.xml", Access::open, &Impl::open311, {}},
            {"GET", "/open311/v2/services.json", Access::open, &Impl::open311, {}},
            {"GET", "/open311/v2/services.xml", Access::open, &Impl::open311, {}},
            {"GET", "/open311/v2/services/{code}", Access::open, &Impl::open311, {}},
            {"GET", "/open311/v2/requests.json", Access::open, &Impl::open311, {}},
            {"GET", "/open311/v2/requests.xml", Access::open, &Impl::open311, {}},
            {"POST", "/open311/v2/requests.json", Access::open, &Impl::open311, {}},
            {"POST", "/open311/v2/requests.xml", Access::open, &Impl::open311, {}},
            {"GET", "/open311/v2/requests/{id}", Access::open, &Impl::open311, {}},
        };
        for (auto& r : t) r.segments = split_path(r.pattern);
        return t;
    }();
    return table;
}

// ---------------------------------------------------------------- Api

Api::Api(engine::Engine& engine, std::shared_ptr<Authenticator> auth, Options options)
    : engine_(engine), auth_(std::move(auth)), options_(options), impl_(std::make_unique<Impl>(engine, *this, options)) {
    impl_->link->hub = &hub_;
    engine_.on_commit([link = impl_->link](const std::vector<events::Envelope>&, const std::vector<events::RawEnvelope>& rows) {
        std::lock_guard lock(link->mutex);
        if (link->hub) link->hub->publish(rows);
    });
}

thread_local bool Api::Impl::on_background_thread = false;

Api::~Api() = default;

void Api::handle(const Request& req, std::function<void(Response)> done) {
    auto counted = [this, route = route_of(req), done = std::move(done)](Response r) {
        stats_.count(route, r.status);
        done(std::move(r));
    };
    impl_->handle_guarded(req, std::move(counted));
}

Response Api::handle_now(const Request& req) {
    std::promise<Response> p;
    auto f = p.get_future();
    handle(req, [&p](Response r) { p.set_value(std::move(r)); });
    return f.get();
}

std::string Api::route_of(const Request& req) {
    const auto segs = split_path(req.target.substr(0, req.target.find('?')));
    for (const auto& r : Impl::route_table())
        if (Impl::matches(r, segs, nullptr)) return req.method + " " + r.pattern;
    return req.method + " (unmatched)";
}

// ---------------------------------------------------------------- write path

void Api::Impl::post_events(Ctx& c) {
    auto body = events::decode_posted_body(c.req.body, options.max_batch);
    if (!body) return c.done(problem(status_of(body.error().code), body.error().message, c.path));
    const bool batch = body->batch;
    std::vector<events::Posted> posted = std::move(body->events);
    auto authorize = [who = c.who](const engine::View& state, const events::Event& e) -> std::optional<events::Error> {
        if (auto rule = forbidden_post(who, state, e)) return events::Error{events::errc::forbidden, *rule};
        return std::nullopt;
    };
    engine.submit(engine::Submission{std::move(posted), c.who.subject, std::nullopt, std::move(authorize)},
                  [done = std::move(c.done), batch, path = c.path](events::Result<engine::Appended> r) {
                      if (!r) return done(problem(status_of(r.error().code), r.error().message, path));
                      const int status = r->created ? 201 : 200;
                      Response resp;
                      resp.status = status;
                      if (batch) {
                          resp.body = "{\"events\":[";
                          for (std::size_t i = 0; i < r->envelopes.size(); ++i) {
                              if (i) resp.body += ',';
                              events::append_envelope_text(resp.body, r->envelopes[i]);
                          }
                          resp.body += "]}";
                      } else {
                          resp.body = events::envelope_text(r->envelopes.front());
                          resp.headers.emplace_back("Location", "/v1/streams/" + r->envelopes.front().stream);
                      }
                      done(std::move(resp));
                  });
}

// ---------------------------------------------------------------- raw events and audit

void Api::Impl::get_events(Ctx& c) {
    std::optional<std::int64_t> after, limit, as_of;
    if (!number(c, "after", 0, std::numeric_limits<std::int64_t>::max(), after) || !number(c, "limit", 1, 1'000'000'000, limit) ||
        !number(c, "as_of", 1, std::numeric_limits<std::int64_t>::max(), as_of))
        return;
    const std::int64_t head = engine.head().position;
    if (as_of && *as_of > head) return c.done(problem(422, "as_of " + std::to_string(*as_of) + " is past the head position " + std::to_string(head), c.path));
    const std::int64_t last = as_of.value_or(head);
    const std::int64_t from = after.value_or(0);
    const bool ndjson = c.req.header("accept").find("application/x-ndjson") != std::string::npos;
    if (ndjson) {
        // Streamed page by page from this thread's read connection, up to `limit` (no default cap).
        struct Cursor {
            std::int64_t next, last, left;
        };
        auto cur = std::make_shared<Cursor>(Cursor{from, last, limit.value_or(std::numeric_limits<std::int64_t>::max())});
        const std::string path = engine.path();
        Response r;
        r.content_type = "application/x-ndjson";
        r.stream = [cur, path](std::string& chunk) {
            const auto& rd = engine::StoreReader::for_this_thread(path);
            chunk.clear();
            if (cur->left <= 0 || cur->next >= cur->last) return false;
            const std::int64_t upto = std::min(cur->last, cur->next + std::min<std::int64_t>(cur->left, 2000));
            rd.scan(cur->next, upto, [&](const events::RawEnvelope& e) {
                events::append_envelope_text(chunk, e);
                chunk += '\n';
                return true;
            });
            cur->left -= upto - cur->next;
            cur->next = upto;
            return true;
        };
        return c.done(std::move(r));
    }
    const std::int64_t page = std::min<std::int64_t>(limit.value_or(100), static_cast<std::int64_t>(options.max_page));
    std::string out = "{\"events\":[";
    std::int64_t n = 0, last_seen = from;
    reader().scan(from, std::min(last, from + page), [&](const events::RawEnvelope& e) {
        if (n++) out += ',';
        events::append_envelope_text(out, e);
        last_seen = e.position;
        return true;
    });
    out += "],\"next_after\":";
    out += last_seen < last ? std::to_string(last_seen) : "null";
    out += ",\"head\":" + std::to_string(last) + "}";
    Response r;
    r.body = std::move(out);
    c.done(std::move(r));
}

void Api::Impl::get_stream(Ctx& c) {
    std::optional<std::int64_t> as_of;
    if (!number(c, "as_of", 1, std::numeric_limits<std::int64_t>::max(), as_of)) return;
    if (const auto head = engine.head().position; as_of && *as_of > head)
        return c.done(problem(422, "as_of " + std::to_string(*as_of) + " is past the head position " + std::to_string(head), c.path));
    const std::string& name = c.params[0];
    const auto rows = reader().stream(name, as_of.value_or(std::numeric_limits<std::int64_t>::max()));
    if (rows.empty()) return c.done(problem(404, "no stream " + name + (as_of ? " as of " + std::to_string(*as_of) : ""), c.path));
    std::string out = "{\"stream\":" + json(name).dump() + ",\"version\":" + std::to_string(rows.back().version) + ",\"events\":[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (i) out += ',';
        events::append_envelope_text(out, rows[i]);
    }
    Response r;
    r.body = out + "]}";
    c.done(std::move(r));
}

void Api::Impl::subscribe(Ctx& c) {
    std::optional<std::int64_t> after;
    if (!number(c, "after", 0, std::numeric_limits<std::int64_t>::max(), after)) return;
    const std::string last_id = c.req.header("last-event-id");
    if (!last_id.empty()) {
        // A reconnecting EventSource resumes after the last id it saw.
        bool digits = last_id.size() <= 18;
        for (char ch : last_id) digits = digits && ch >= '0' && ch <= '9';
        if (!digits) return c.done(problem(400, "Last-Event-ID must be a position", c.path));
        after = std::stoll(last_id);
    }
    Response r;
    r.content_type = "text/event-stream";
    // Roles without raw access (dashboards, scoped roles) get notifications without event data.
    r.sse = SseStart{after.value_or(0), !allowed(Access::raw, c.who.role)};
    c.done(std::move(r));
}

void Api::Impl::audit_head(Ctx& c) {
    std::optional<std::int64_t> as_of;
    if (!number(c, "as_of", 1, std::numeric_limits<std::int64_t>::max(), as_of)) return;
    const auto head = engine.head();
    if (as_of && *as_of > head.position) return c.done(problem(422, "as_of is past the head position " + std::to_string(head.position), c.path));
    if (!as_of || *as_of == head.position)
        return c.done(ok_json({{"position", head.position}, {"hash", head.hash}, {"recorded_at", head.recorded_at}}));
    auto e = reader().at(*as_of);
    c.done(ok_json({{"position", e->position}, {"hash", e->hash}, {"recorded_at", e->recorded_at}}));
}

void Api::Impl::audit_verify(Ctx& c) {
    std::optional<std::int64_t> from, to;
    if (!number(c, "from", 1, std::numeric_limits<std::int64_t>::max(), from) || !number(c, "to", 1, std::numeric_limits<std::int64_t>::max(), to))
        return;
    // Seconds per million events: on the background thread, one verification at a time.
    if (!on_background_thread) {
        {
            std::lock_guard lock(jobs_mutex);
            if (verifying) return c.done(problem(503, "another verification of the log is under way; retry when it is done", c.path));
            verifying = true;
        }
        // However it is answered, the next one may start from then on.
        c.done = [this, done = std::move(c.done)](Response r) {
            {
                std::lock_guard lock(jobs_mutex);
                verifying = false;
            }
            done(std::move(r));
        };
        return defer(c);
    }
    const auto r = engine::verify(reader(), from.value_or(1), to.value_or(0));
    c.done(ok_json({{"ok", r.ok},
                    {"checked", r.checked},
                    {"first_bad_position", r.first_bad_position ? json(*r.first_bad_position) : json(nullptr)},
                    {"problem", r.ok ? json(nullptr) : json(r.problem)}}));
}

// ---------------------------------------------------------------- operations

void Api::Impl::healthz(Ctx& c) {
    const auto head = engine.head();
    c.done(ok_json({{"status", "ok"}, {"position", head.position}}));
}

void Api::Impl::metrics(Ctx& c) {
    std::string out;
    out += "# HELP gridloop_http_requests_total HTTP requests by route and status.\n# TYPE gridloop_http_requests_total counter\n";
    for (const auto& [key, n] : api.stats_.snapshot())
        out += "gridloop_http_requests_total{route=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
    auto histogram = [&](const char* name, const char* help, const auto& h) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " histogram\n";
        for (std::size_t i = 0; i < h.bounds().size(); ++i) {
            std::ostringstream le;
            le << h.bounds()[i];
            out += std::string(name) + "_bucket{le=\"" + le.str() + "\"} " + std::to_string(h.at_most(i)) + "\n";
        }
        out += std::string(name) + "_bucket{le=\"+Inf\"} " + std::to_string(h.count()) + "\n";
        std::ostringstream sum;
        sum << h.sum();
        out += std::string(name) + "_sum " + sum.str() + "\n" + name + "_count " + std::to_string(h.count()) + "\n";
    };
    const auto& s = engine.stats();
    histogram("gridloop_commit_seconds", "Time to append and durably commit one group of events.", s.commit_seconds);
    histogram("gridloop_append_batch_events", "Events per committed group.", s.batch_events);
    auto gauge = [&](const char* name, const char* type, const char* help, auto v) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + std::to_string(v) + "\n";
    };
    gauge("gridloop_refused_events_total", "counter", "Requests refused by decide.", s.refused.load());
    gauge("gridloop_storage_failures_total", "counter", "Commits that failed in storage.", s.storage_failures.load());
    gauge("gridloop_event_id_lookups_total", "counter",
          "Retry checks that read the log because the event_id may be in it (the others were answered from memory).", s.id_lookups.load());
    gauge("gridloop_snapshots_total", "counter", "Snapshots of the read model taken since start.", s.snapshots.load());
    gauge("gridloop_snapshot_failures_total", "counter", "Snapshots that could not be taken (the log is unaffected).", s.snapshot_failures.load());
    gauge("gridloop_started_from_position", "gauge", "Position of the snapshot the model started from (0: the whole log was folded).",
          engine.started_from());
    gauge("gridloop_subscribers", "gauge", "Open event-stream subscriptions.", api.hub_.size());
    gauge("gridloop_connections", "gauge", "Open HTTP connections.", api.stats_.connections.load());
    gauge("gridloop_refused_connections_total", "counter", "Connections refused over the cap.", api.stats_.refused_connections.load());
    gauge("gridloop_head_position", "gauge", "Position of the last committed event.", engine.head().position);
    gauge("gridloop_as_of_folds_total", "counter", "Past models folded for as_of (one at a time).", as_of_folds.load());
    gauge("gridloop_as_of_busy_total", "counter", "as_of requests answered 503 while another position was being folded.", as_of_busy.load());
    Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = std::move(out);
    c.done(std::move(r));
}

void Api::Impl::openapi(Ctx& c) {
    Response r;
    r.body = openapi_document();
    c.done(std::move(r));
}

void Api::Impl::dashboard(Ctx& c) {
    Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = dashboard_page();
    c.done(std::move(r));
}

// ---------------------------------------------------------------- projections

namespace {

std::optional<bool> parse_bool(const std::string& s) {
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
    return std::nullopt;
}

// The cases a listing of `page` has to look at, when a small set is known to hold every case it can
// show: those reported in the subtree of the grid asked for, else of the caller's scope; those that
// have been on the department asked for, else on the departments of a department's staff; or the
// open cases already due when only overdue ones are asked for; the smallest of these. nullopt: walk every
// case in id order. Gathering costs a step per case of the set; the walk, about page × all ÷ set
// steps when the other filters keep most of the set, each dearer (a map node, a scope check): the
// set is taken while set² ≤ 4 × page × all. A worker's list of their micro-grid's cases no longer
// walks the whole city's, and a town's first page is still found by walking.
std::optional<std::vector<const projections::Case*>> fewer_cases(const Model& m, const Principal& who, const std::optional<std::string>& grid,
                                                                const std::optional<std::string>& dept, bool overdue_only, Instant now,
                                                                std::size_t page) {
    const auto most = static_cast<std::size_t>(std::sqrt(4.0 * static_cast<double>(page) * static_cast<double>(m.cases().size())));
    std::optional<std::vector<const projections::Case*>> fewest;
    std::vector<std::string> roots;
    if (grid) roots = {*grid};
    else if (!sees_everything(who) && who.role != Role::department_staff) roots = who.scope;
    if (!roots.empty()) {
        std::set<std::string> grids; // scopes may nest: each grid once
        for (const auto& root : roots)
            for (auto& g : m.subtree(root)) grids.insert(std::move(g));
        std::vector<const projections::Case*> in;
        bool few = true;
        for (auto g = grids.begin(); g != grids.end() && few; ++g) {
            const auto& listed = m.cases_in(*g);
            few = in.size() + listed.size() <= most;
            if (few) in.insert(in.end(), listed.begin(), listed.end());
        }
        if (few) fewest = std::move(in);
    }
    std::vector<std::string> depts;
    if (dept) depts = {*dept};
    else if (who.role == Role::department_staff) depts = who.scope;
    if (!depts.empty()) {
        std::vector<const projections::Case*> in;
        const std::size_t at_most = fewest ? fewest->size() : most;
        bool few = true;
        for (auto d = depts.begin(); d != depts.end() && few; ++d) {
            const auto& listed = m.cases_of_department(*d);
            few = in.size() + listed.size() <= at_most;
            if (few) in.insert(in.end(), listed.begin(), listed.end());
        }
        if (few) {
            std::sort(in.begin(), in.end()); // a case on two of the departments, once
            in.erase(std::unique(in.begin(), in.end()), in.end());
            fewest = std::move(in);
        }
    }
    if (overdue_only) {
        std::vector<const projections::Case*> due;
        const std::size_t fewer_than = fewest ? fewest->size() : most + 1;
        bool few = true;
        projections::each_due_by(m.open_by_due(), now, [&](const projections::OpenDue& o) {
            few = due.size() + 1 < fewer_than;
            if (few) due.push_back(o.c);
            return few;
        });
        if (few) fewest = std::move(due);
    }
    return fewest;
}

// A period bound: RFC 3339, or a local date YYYY-MM-DD (its midnight in the calendar's zone).
std::optional<Instant> parse_bound(const std::string& s, const projections::Calendar& cal) {
    if (auto t = events::parse_time(s)) return t;
    if (auto d = projections::parse_date(s)) return cal.midnight(*d);
    return std::nullopt;
}

} // namespace

void Api::Impl::list_cases(Ctx& c) {
    std::optional<std::int64_t> limit;
    if (!number(c, "limit", 1, static_cast<std::int64_t>(options.max_page), limit)) return;
    std::optional<events::CaseState> state;
    std::optional<events::Rung> rung;
    std::optional<bool> overdue;
    if (auto s = param(c, "state"); s && !(state = events::parse_enum<events::CaseState>(*s)))
        return c.done(problem(400, "state must be one of " + events::enum_choices<events::CaseState>(), c.path));
    if (auto s = param(c, "rung"); s && !(rung = events::parse_enum<events::Rung>(*s)))
        return c.done(problem(400, "rung must be one of " + events::enum_choices<events::Rung>(), c.path));
    if (auto s = param(c, "overdue"); s && !(overdue = parse_bool(*s))) return c.done(problem(400, "overdue must be true or false", c.path));
    const auto grid = param(c, "grid"), dept = param(c, "dept"), cursor = param(c, "cursor");
    answer(c, [&](const Model& m, Instant now) {
        if (grid && !sees_grid(c.who, m, *grid)) return not_visible(c, "grid " + *grid, m.grid(*grid));
        if (grid && !m.grid(*grid)) return problem(404, "unknown grid " + *grid, c.path);
        if (dept && !sees_department(c.who, *dept)) return not_visible(c, "department " + *dept, m.department(*dept));
        if (dept && !m.department(*dept)) return problem(404, "unknown department " + *dept, c.path);
        const bool everything = sees_everything(c.who);
        const auto shown = [&](const projections::Case& k) {
            return !(state && k.state != *state) && !(rung && k.rung != *rung) && !(dept && k.dept_id != *dept) &&
                   !(overdue && k.overdue(now) != *overdue) && !(grid && !m.within(k.grid_id, *grid)) && (everything || sees_case(c.who, m, k));
        };
        // The page: the first n shown after the cursor in case_id order, and whether more follow.
        const auto n = static_cast<std::size_t>(limit.value_or(100));
        std::vector<const projections::Case*> page;
        if (auto fewer = fewer_cases(m, c.who, grid, dept, overdue == true, now, n + 1)) {
            std::erase_if(*fewer, [&](const auto* k) { return (cursor && k->case_id <= *cursor) || !shown(*k); });
            const auto by_id = [](const auto* a, const auto* b) { return a->case_id < b->case_id; };
            const auto end = fewer->begin() + static_cast<std::ptrdiff_t>(std::min(fewer->size(), n + 1));
            std::partial_sort(fewer->begin(), end, fewer->end(), by_id);
            page.assign(fewer->begin(), end);
        } else {
            const auto& all = m.cases();
            for (auto it = cursor ? all.upper_bound(*cursor) : all.begin(); it != all.end() && page.size() <= n; ++it)
                if (shown(it->second)) page.push_back(&it->second);
        }
        std::optional<std::string> next;
        if (page.size() > n) {
            page.pop_back();
            next = page.back()->case_id;
        }
        json items = json::array();
        for (const auto* k : page) items.push_back(case_json(m, *k, now, false));
        return ok_json({{"cases", std::move(items)}, {"next_cursor", next ? json(*next) : json(nullptr)}});
    });
}

void Api::Impl::get_case(Ctx& c) {
    answer(c, [&](const Model& m, Instant now) {
        const auto* k = m.find_case(c.params[0]);
        if (!k || !sees_case(c.who, m, *k)) return not_visible(c, "case " + c.params[0], k);
        return ok_json(case_json(m, *k, now, true));
    });
}

void Api::Impl::list_grids(Ctx& c) {
    answer(c, [&](const Model& m, Instant now) {
        json j = grid_tree(m);
        // The town's own today and month, so that a page in another time zone asks for the right days.
        const auto& calendar = m.config().calendar;
        j["today"] = projections::format_date(calendar.local_day(now));
        j["month"] = projections::format_month(projections::month_of(now, calendar));
        j["timezone"] = calendar.spec().timezone;
        return ok_json(j);
    });
}

void Api::Impl::get_grid(Ctx& c) {
    answer(c, [&](const Model& m, Instant) {
        const auto* g = m.grid(c.params[0]);
        if (!g) return problem(404, "unknown grid " + c.params[0], c.path);
        return ok_json(grid_json(m, *g));
    });
}

void Api::Impl::grid_stats(Ctx& c) {
    const auto from = param(c, "from"), to = param(c, "to");
    answer(c, [&](const Model& m, Instant now) {
        if (!reads_grid_views(c.who) || !sees_grid(c.who, m, c.params[0])) return not_visible(c, "grid " + c.params[0], m.grid(c.params[0]));
        if (!m.grid(c.params[0])) return problem(404, "unknown grid " + c.params[0], c.path);
        projections::Period period;
        if (from && !(period.from = parse_bound(*from, m.config().calendar)))
            return problem(400, "from must be an RFC 3339 time or a date YYYY-MM-DD", c.path);
        if (to && !(period.to = parse_bound(*to, m.config().calendar)))
            return problem(400, "to must be an RFC 3339 time or a date YYYY-MM-DD", c.path);
        // Written straight as text, not through a DOM: the same bytes (the metrics' own writer merges
        // these members in key order), at a fraction of the cost for the view dashboards poll.
        const auto metrics = projections::compute_metrics(m, c.params[0], period, now);
        const auto [first, last] = projections::series_days(period, now, m.config().calendar);
        std::string daily, grid_id, from_text = "null", to_text = "null", evaluated_at;
        projections::write_json(daily, projections::daily_series(m, c.params[0], first, last, now));
        events::put_json_string(grid_id, c.params[0]);
        if (period.from) from_text.clear(), events::put_json_string(from_text, events::format_time(*period.from));
        if (period.to) to_text.clear(), events::put_json_string(to_text, events::format_time(*period.to));
        events::put_json_string(evaluated_at, events::format_time(now));
        const projections::JsonMember extra[] = {
            {"daily", daily}, {"evaluated_at", evaluated_at}, {"from", from_text}, {"grid_id", grid_id}, {"to", to_text}};
        Response r;
        r.body.reserve(daily.size() + 2048);
        projections::write_json(r.body, metrics, extra);
        return r;
    });
}

void Api::Impl::grid_stars(Ctx& c) {
    const auto period = param(c, "period");
    answer(c, [&](const Model& m, Instant now) {
        const auto* g = m.grid(c.params[0]);
        if (!reads_grid_views(c.who) || !sees_grid(c.who, m, c.params[0])) return not_visible(c, "grid " + c.params[0], g);
        if (!g) return problem(404, "unknown grid " + c.params[0], c.path);
        const auto month = period ? projections::parse_month(*period) : std::optional(projections::month_of(now, m.config().calendar));
        if (!month) return problem(400, "period must be a month YYYY-MM", c.path);
        const auto span = projections::month_span(*month, m.config().calendar);
        json j = stars_json(m, *g, projections::Period{span.from, span.to}, now);
        j["period"] = projections::format_month(*month);
        return ok_json(j);
    });
}

void Api::Impl::department_queue(Ctx& c) {
    const auto grid = param(c, "grid");
    answer(c, [&](const Model& m, Instant now) {
        if (!sees_department(c.who, c.params[0])) return not_visible(c, "department " + c.params[0], m.department(c.params[0]));
        if (!m.department(c.params[0])) return problem(404, "unknown department " + c.params[0], c.path);
        if (grid && !m.grid(*grid)) return problem(404, "unknown grid " + *grid, c.path);
        json items = json::array();
        for (const auto* k : m.department_queue(c.params[0]))
            if (sees_case(c.who, m, *k) && (!grid || m.within(k->grid_id, *grid))) items.push_back(case_json(m, *k, now, false));
        return ok_json({{"dept_id", c.params[0]}, {"cases", std::move(items)}});
    });
}

void Api::Impl::list_members(Ctx& c) {
    std::optional<std::int64_t> limit;
    if (!number(c, "limit", 1, static_cast<std::int64_t>(options.max_page), limit)) return;
    projections::MemberFilter filter;
    if (auto s = param(c, "category"); s && !(filter.category = events::parse_enum<events::MemberCategory>(*s)))
        return c.done(problem(400, "category must be one of " + events::enum_choices<events::MemberCategory>(), c.path));
    if (auto s = param(c, "lost_contact"); s && !(filter.lost_contact = parse_bool(*s)))
        return c.done(problem(400, "lost_contact must be true or false", c.path));
    const auto grid = subtree_of(c, param(c, "grid").value_or(""));
    if (!grid) return c.done(problem(400, "grid is required: your scope holds several grids", c.path));
    filter.grid = *grid;
    const projections::PageRequest page{param(c, "cursor").value_or(""), static_cast<std::size_t>(limit.value_or(100))};
    answer(c, [&](const Model& m, Instant now) {
        if (!reads_grid_views(c.who) || (!filter.grid.empty() && !sees_grid(c.who, m, filter.grid)))
            return not_visible(c, "grid " + filter.grid, m.grid(filter.grid));
        if (!filter.grid.empty() && !m.grid(filter.grid)) return problem(404, "unknown grid " + filter.grid, c.path);
        return ok_json(projections::to_json(projections::list_members(m, filter, now, page), personal(c)));
    });
}

void Api::Impl::get_member(Ctx& c) {
    answer(c, [&](const Model& m, Instant now) {
        const auto* member = m.member(c.params[0]);
        if (!member || !sees_member(c.who, m, *member)) return not_visible(c, "member " + c.params[0], member);
        auto d = projections::member_detail(m, c.params[0], now);
        return ok_json(projections::to_json(*d, personal(c)));
    });
}

void Api::Impl::branch_outflow(Ctx& c) {
    std::optional<std::int64_t> limit;
    if (!number(c, "limit", 1, static_cast<std::int64_t>(options.max_page), limit)) return;
    const auto scope_text = param(c, "scope").value_or("own");
    if (scope_text != "own" && scope_text != "subtree") return c.done(problem(400, "scope must be own or subtree", c.path));
    const auto scope = scope_text == "own" ? projections::BranchScope::own : projections::BranchScope::subtree;
    const projections::PageRequest page{param(c, "cursor").value_or(""), static_cast<std::size_t>(limit.value_or(100))};
    answer(c, [&](const Model& m, Instant) {
        if (!reads_grid_views(c.who) || !sees_grid(c.who, m, c.params[0])) return not_visible(c, "branch " + c.params[0], m.grid(c.params[0]));
        if (!m.grid(c.params[0])) return problem(404, "unknown branch " + c.params[0], c.path);
        json j = projections::to_json(projections::outflow(m, c.params[0], scope, page), personal(c));
        j["branch"] = c.params[0];
        return ok_json(j);
    });
}

void Api::Impl::branch_inflow(Ctx& c) {
    std::optional<std::int64_t> limit;
    if (!number(c, "limit", 1, static_cast<std::int64_t>(options.max_page), limit)) return;
    const projections::PageRequest page{param(c, "cursor").value_or(""), static_cast<std::size_t>(limit.value_or(100))};
    answer(c, [&](const Model& m, Instant) {
        if (!reads_grid_views(c.who) || !sees_grid(c.who, m, c.params[0])) return not_visible(c, "branch " + c.params[0], m.grid(c.params[0]));
        if (!m.grid(c.params[0])) return problem(404, "unknown branch " + c.params[0], c.path);
        json j = projections::to_json(projections::inflow(m, c.params[0], page), personal(c));
        j["branch"] = c.params[0];
        return ok_json(j);
    });
}

// A points view of a grid subtree (the scope's grid when none is asked) and a month (this one
// when none is asked): checks both, then answers f(model, grid, month).
template <class F> void Api::Impl::points_view(Ctx& c, F&& f) {
    const auto asked = subtree_of(c, param(c, "grid").value_or(""));
    if (!asked) return c.done(problem(400, "grid is required: your scope holds several grids", c.path));
    const std::string grid = *asked;
    const auto month_text = param(c, "month");
    answer(c, [&](const Model& m, Instant now) {
        if (!reads_grid_views(c.who) || (!grid.empty() && !sees_grid(c.who, m, grid))) return not_visible(c, "grid " + grid, m.grid(grid));
        if (!grid.empty() && !m.grid(grid)) return problem(404, "unknown grid " + grid, c.path);
        const auto month = month_text ? projections::parse_month(*month_text) : std::optional(projections::month_of(now, m.config().calendar));
        if (!month) return problem(400, "month must be YYYY-MM", c.path);
        return f(m, grid, *month);
    });
}

void Api::Impl::leaderboard(Ctx& c) {
    std::optional<std::int64_t> limit;
    if (!number(c, "limit", 1, static_cast<std::int64_t>(options.max_page), limit)) return;
    points_view(c, [&](const Model& m, const std::string& grid, projections::Month month) {
        return ok_json(projections::to_json(projections::vanguard_leaderboard(m, grid, month, static_cast<std::size_t>(limit.value_or(100))),
                                            personal(c)));
    });
}

void Api::Impl::branch_points(Ctx& c) {
    points_view(c, [&](const Model& m, const std::string& grid, projections::Month month) {
        json branches = json::array();
        for (const auto& b : projections::fortress_index(m, grid, month)) branches.push_back(projections::to_json(b));
        return ok_json({{"grid", grid.empty() ? json(nullptr) : json(grid)}, {"month", projections::format_month(month)}, {"branches", std::move(branches)}});
    });
}

} // namespace gridloop::http
