// Listener and sessions: one strand per connection, async read → API → async write.
#include "http/server.hpp"

#include "engine/thread_name.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <thread>

namespace gridloop::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class Session;

} // namespace

struct Server::Impl {
    Api& api;
    ServerOptions options;
    net::io_context ioc;
    tcp::acceptor acceptor{ioc};
    net::signal_set signals{ioc};
    std::vector<std::thread> threads;
    std::atomic<bool> stopping{false};
    std::mutex sessions_mutex;
    std::set<std::weak_ptr<Session>, std::owner_less<std::weak_ptr<Session>>> sessions;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;

    Impl(Api& a, ServerOptions o) : api(a), options(std::move(o)) {}
    void listen();
    void do_accept();
    void shutdown();
    void run_io() { // on a thread of the server's own
        engine::name_this_thread("gl-http");
        ioc.run();
    }
    std::mutex log_mutex; // access log lines, and on_reload's report to the same stream
    void log(const std::string& line) {
        if (!options.access_log) return;
        std::lock_guard lock(log_mutex);
        *options.access_log << line << '\n' << std::flush;
    }
};

namespace {

std::string now_text() { return events::format_time(std::chrono::time_point_cast<events::Millis>(std::chrono::system_clock::now())); }

// The status line and header fields of a response, as one string: written here rather than by
// Beast's serializer, which cost a third of the instructions of a small request. `length` is the
// Content-Length; none means a streamed body: chunked, or for HTTP/1.0 (which has no chunks) ended
// by closing the connection. A CR, LF or NUL in a value becomes a space, so no value can end the
// header early.
std::string response_head(int status, unsigned version, bool keep_alive, std::string_view content_type,
                          std::span<const std::pair<std::string, std::string>> fields, std::optional<std::size_t> length) {
    std::string h;
    h.reserve(128 + content_type.size());
    const auto field = [&h](std::string_view name, std::string_view value) {
        h.append(name).append(": ");
        const std::size_t at = h.size();
        h.append(value);
        std::replace_if(h.begin() + static_cast<std::ptrdiff_t>(at), h.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; }, ' ');
        h += "\r\n";
    };
    h += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    h += std::to_string(status);
    h += ' ';
    h += bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
    h += "\r\n";
    field("Server", "gridloop");
    field("Content-Type", content_type);
    for (const auto& [name, value] : fields) field(name, value);
    // HTTP/1.1 keeps a connection open unless told, HTTP/1.0 closes it unless told.
    if (version == 10 && keep_alive) field("Connection", "keep-alive");
    if (version != 10 && !keep_alive) field("Connection", "close");
    if (length) field("Content-Length", std::to_string(*length));
    else if (version != 10) field("Transfer-Encoding", "chunked");
    h += "\r\n";
    return h;
}

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket&& socket, Server::Impl& server) : stream_(std::move(socket)), server_(server), heartbeat_(stream_.get_executor()) {}

    ~Session() {
        if (hub_id_) server_.api.hub().unsubscribe(hub_id_);
        --server_.api.stats().connections;
    }

    void start() {
        ++server_.api.stats().connections;
        net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
    }

    // Called by the server on shutdown: idle connections close now, busy ones after their response.
    void stop() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
            self->closing_ = true;
            // do_close also cancels an event stream's heartbeat timer, which would otherwise hold
            // the server's threads until it fires. A chunked stream is cut as well (it would end
            // without its last chunk anyway) rather than wait up to write_timeout on a slow reader.
            if (self->reading_ || self->sse_ || self->source_) self->do_close();
        });
    }

private:
    // ---- requests
    void do_read() {
        if (closing_) return do_close();
        parser_.emplace();
        parser_->body_limit(server_.options.body_limit);
        parser_->header_limit(static_cast<std::uint32_t>(server_.options.header_limit));
        stream_.expires_after(requests_ ? server_.options.idle_timeout : server_.options.read_timeout);
        reading_ = true;
        bhttp::async_read_header(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_header, shared_from_this()));
    }

    void on_header(beast::error_code ec, std::size_t) {
        if (!ec) {
            // The headers are in: the rest must come within the read timeout.
            stream_.expires_after(server_.options.read_timeout);
            return bhttp::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
        }
        on_read(ec, 0);
    }

    void on_read(beast::error_code ec, std::size_t) {
        reading_ = false;
        if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
            ec == net::error::connection_reset || ec == net::error::eof)
            return do_close();
        if (ec == bhttp::error::body_limit)
            return send_error(413, "the body is larger than " + std::to_string(server_.options.body_limit) + " bytes");
        if (ec == bhttp::error::header_limit)
            return send_error(431, "the request headers are larger than " + std::to_string(server_.options.header_limit) + " bytes");
        if (ec) return send_error(400, "malformed HTTP request: " + ec.message());
        ++requests_;
        started_ = std::chrono::steady_clock::now();
        auto& msg = parser_->get();
        Request req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        req.body = std::move(msg.body());
        for (const auto& f : msg) {
            std::string name(f.name_string());
            for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            req.headers[name] = std::string(f.value());
        }
        keep_alive_ = msg.keep_alive();
        head_ = msg.method() == bhttp::verb::head;
        version_ = msg.version();
        if (server_.options.access_log) log_prefix_ = req.method + " " + redacted(req.target).substr(0, 200);
        // Counted as work, so that run() does not return (and the API is not destroyed) while the
        // engine still owes this request its answer. The engine's completion thread may drop the last
        // references to the session and the work together: Owed releases the session first, so a
        // session is never destroyed after its server.
        struct Owed {
            decltype(net::prefer(server_.ioc.get_executor(), net::execution::outstanding_work.tracked)) work;
            std::shared_ptr<Session> self; // declared last, destroyed first
        };
        auto owed = std::make_shared<Owed>(Owed{net::prefer(server_.ioc.get_executor(), net::execution::outstanding_work.tracked), shared_from_this()});
        server_.api.handle(req, [owed](Response r) {
            net::dispatch(owed->self->stream_.get_executor(), [owed, r = std::move(r)]() mutable { owed->self->respond(std::move(r)); });
        });
    }

    void send_error(int status, const std::string& detail) {
        keep_alive_ = false;
        version_ = 11;
        log_prefix_ = "- -";
        respond(problem(status, detail));
    }

    // ---- responses
    void respond(Response r) {
        status_ = r.status;
        subject_ = r.subject.empty() ? "-" : r.subject;
        if (server_.stopping) keep_alive_ = false;
        if (head_) {
            // HEAD: the headers only; a stream's body would desynchronise the connection.
            r.sse.reset();
            r.stream = nullptr;
        }
        if (r.sse) return start_sse(r.sse->after, r.sse->notify_only);
        if (r.stream) return start_chunked(std::move(r));
        // HEAD: the Content-Length of the GET answer, without its body.
        head_text_ = response_head(r.status, version_, keep_alive_, r.content_type, r.headers, r.body.size());
        body_ = head_ ? std::string() : std::move(r.body);
        bytes_ = body_.size();
        stream_.expires_after(server_.options.write_timeout);
        net::async_write(stream_, std::array{net::buffer(head_text_), net::buffer(body_)},
                         [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
    }

    void on_write(beast::error_code ec) {
        access_log();
        if (ec || !keep_alive_) return do_close();
        do_read();
    }

    void access_log() {
        if (!server_.options.access_log) return; // --quiet: not even built
        const auto ms = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_).count() / 1000.0;
        server_.log(now_text() + " " + remote() + " " + subject_ + " " + log_prefix_ + " " + std::to_string(status_) + " " + std::to_string(bytes_) + " " +
                    std::to_string(ms) + "ms");
    }

    std::string remote() {
        beast::error_code ec;
        auto ep = stream_.socket().remote_endpoint(ec);
        return ec ? "-" : ep.address().to_string();
    }

    // ---- chunked bodies (NDJSON) and event streams share the header writer. HTTP/1.0 has no chunks:
    // its stream is the bytes themselves, ended by closing the connection (so a cut stream cannot be
    // told from a whole one, as with any HTTP/1.0 body without a length).
    bool chunked() const { return version_ != 10; }

    void write_stream_header(const std::string& content_type, std::function<void()> next) {
        static const std::pair<std::string, std::string> no_cache[] = {{"Cache-Control", "no-cache"}};
        if (!chunked()) keep_alive_ = false;
        head_text_ = response_head(200, version_, keep_alive_, content_type, no_cache, std::nullopt);
        stream_.expires_after(server_.options.write_timeout);
        net::async_write(stream_, net::buffer(head_text_), [self = shared_from_this(), next = std::move(next)](beast::error_code ec, std::size_t) {
            if (ec) return self->do_close();
            next();
        });
    }

    void write_chunk(std::string data, std::function<void()> next) {
        chunk_ = std::move(data);
        bytes_ += chunk_.size();
        stream_.expires_after(server_.options.write_timeout);
        auto then = [self = shared_from_this(), next = std::move(next)](beast::error_code ec, std::size_t) {
            if (ec) return self->do_close();
            next();
        };
        if (chunked()) net::async_write(stream_, bhttp::make_chunk(net::buffer(chunk_)), std::move(then));
        else net::async_write(stream_, net::buffer(chunk_), std::move(then));
    }

    void start_chunked(Response r) {
        source_ = std::move(r.stream);
        write_stream_header(r.content_type, [this] { next_chunk(); });
    }

    void next_chunk() {
        // Stopping: end without the last chunk, so the client sees a cut stream, never a complete-looking short one.
        if (server_.stopping) return do_close();
        std::string data;
        bool more = false;
        try {
            more = source_(data);
        } catch (const std::exception&) {
            more = false; // the body ends early; the missing last-chunk tells the client
            return do_close();
        }
        if (!more) {
            chunk_.clear();
            if (!chunked()) {
                source_ = nullptr;
                return on_write({}); // the close ends the body
            }
            return net::async_write(stream_, bhttp::make_chunk_last(), [self = shared_from_this()](beast::error_code ec, std::size_t) {
                self->source_ = nullptr;
                self->on_write(ec);
            });
        }
        if (data.empty()) return next_chunk();
        write_chunk(std::move(data), [this] { next_chunk(); });
    }

    // ---- Server-Sent Events: subscribe first, catch up from the store, then go live without a gap
    void start_sse(std::int64_t after, bool notify_only) {
        sse_ = true;
        notify_only_ = notify_only;
        last_sent_ = after;
        // Live envelopes only queue until the catch-up from the store is done: sent earlier, they
        // would overtake the catch-up and advance last_sent_ past events not yet sent.
        catching_up_ = true;
        std::weak_ptr<Session> weak = shared_from_this();
        hub_id_ = server_.api.hub().subscribe([weak, this](const std::vector<events::RawEnvelope>& rows) {
            auto self = weak.lock();
            if (!self) return;
            {
                std::lock_guard lock(live_mutex_);
                for (const auto& r : rows) live_.emplace_back(r.position, sse_message(r, notify_only_));
                if (live_.size() > server_.options.sse_backlog) overflow_ = true;
            }
            net::post(stream_.get_executor(), [self] { self->pump(); });
        });
        log_prefix_ += " (sse)";
        write_stream_header("text/event-stream", [this] {
            write_chunk("retry: 2000\n\n", [this] { catch_up(); });
            schedule_heartbeat();
        });
    }

    static std::string sse_message(const events::RawEnvelope& r, bool notify_only) {
        if (notify_only)
            return "id: " + std::to_string(r.position) + "\ndata: {\"position\":" + std::to_string(r.position) + ",\"type\":\"" + r.type + "\"}\n\n";
        return "id: " + std::to_string(r.position) + "\ndata: " + events::envelope_text(r) + "\n\n";
    }

    // The target as logged: tokens in the query (`access_token` for EventSource, the dashboard
    // page's kiosk `token`) are not written out.
    static std::string redacted(const std::string& target) {
        std::string t = target;
        for (const std::string_view name : {"access_token=", "token=", "api_key="})
            for (std::size_t at = t.find(name); at != std::string::npos; at = t.find(name, at + 1)) {
                if (at == 0 || (t[at - 1] != '?' && t[at - 1] != '&')) continue;
                const auto start = at + name.size(), end = t.find('&', start);
                t.replace(start, (end == std::string::npos ? t.size() : end) - start, "***");
            }
        return t;
    }

    void catch_up() {
        // One page from the store per write; live envelopes queue meanwhile.
        std::string page;
        std::int64_t last = last_sent_;
        try {
            engine::StoreReader::for_this_thread(server_.api.engine().path()).scan(last_sent_, last_sent_ + 500, [&](const events::RawEnvelope& r) {
                page += sse_message(r, notify_only_);
                last = r.position;
                return true;
            });
        } catch (const std::exception&) {
            return do_close();
        }
        if (page.empty()) {
            catching_up_ = false;
            return pump();
        }
        last_sent_ = last;
        write_chunk(std::move(page), [this] { catch_up(); });
    }

    void pump() {
        if (writing_live_ || catching_up_ || !sse_ || closed_) return;
        std::string out;
        {
            std::lock_guard lock(live_mutex_);
            if (overflow_) {
                // Too far behind: close; the client resumes from Last-Event-ID.
                live_.clear();
                return do_close();
            }
            for (auto& [pos, msg] : live_)
                if (pos > last_sent_) {
                    out += msg;
                    last_sent_ = pos;
                }
            live_.clear();
        }
        if (out.empty()) return;
        writing_live_ = true;
        write_chunk(std::move(out), [this] {
            writing_live_ = false;
            pump();
        });
    }

    void schedule_heartbeat() {
        heartbeat_.expires_after(server_.options.heartbeat);
        heartbeat_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (ec || self->closed_) return;
            if (!self->writing_live_ && !self->catching_up_) {
                self->writing_live_ = true;
                self->write_chunk(": heartbeat\n\n", [self] {
                    self->writing_live_ = false;
                    self->pump();
                });
            }
            self->schedule_heartbeat();
        });
    }

    void do_close() {
        if (closed_) return;
        closed_ = true;
        if (hub_id_) {
            server_.api.hub().unsubscribe(hub_id_);
            hub_id_ = 0;
        }
        heartbeat_.cancel();
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream_.close();
    }

    beast::tcp_stream stream_;
    Server::Impl& server_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    bool keep_alive_ = false, head_ = false, reading_ = false, closing_ = false, closed_ = false;
    unsigned version_ = 11;
    std::uint64_t requests_ = 0;
    int status_ = 0;
    std::size_t bytes_ = 0;
    std::string subject_ = "-";
    std::string log_prefix_;
    std::chrono::steady_clock::time_point started_{};

    std::string head_text_, body_; // the response being written (one at a time)
    std::string chunk_;
    ChunkSource source_;

    bool sse_ = false, catching_up_ = false, writing_live_ = false, notify_only_ = false;
    std::int64_t last_sent_ = 0;
    std::uint64_t hub_id_ = 0;
    std::mutex live_mutex_;
    std::deque<std::pair<std::int64_t, std::string>> live_;
    bool overflow_ = false;
    net::steady_timer heartbeat_;
};

} // namespace

void Server::Impl::listen() {
    beast::error_code ec;
    const auto address = net::ip::make_address(options.address, ec);
    if (ec) throw std::system_error(ec, "bad listen address " + options.address);
    const tcp::endpoint ep{address, options.port};
    acceptor.open(ep.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(net::socket_base::max_listen_connections);
}

void Server::Impl::do_accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || stopping) return;
        if (!ec) {
            if (static_cast<std::size_t>(api.stats().connections.load()) >= options.max_connections) {
                // Over the cap: a short 503 and close, never a crash.
                ++api.stats().refused_connections;
                auto s = std::make_shared<tcp::socket>(std::move(socket));
                static const std::string text = [] {
                    Response r = problem(503, "too many connections");
                    r.headers = {{"Retry-After", "1"}};
                    return response_head(r.status, 11, false, r.content_type, r.headers, r.body.size()) + r.body;
                }();
                net::async_write(*s, net::buffer(text), [s](beast::error_code, std::size_t) {
                    beast::error_code ignored;
                    s->shutdown(tcp::socket::shutdown_both, ignored);
                });
            } else {
                auto session = std::make_shared<Session>(std::move(socket), *this);
                {
                    std::lock_guard lock(sessions_mutex);
                    for (auto it = sessions.begin(); it != sessions.end();) it = it->expired() ? sessions.erase(it) : std::next(it);
                    sessions.insert(session);
                }
                session->start();
            }
        }
        do_accept();
    });
}

void Server::Impl::shutdown() {
    if (stopping.exchange(true)) return;
    net::post(ioc, [this] {
        beast::error_code ec;
        acceptor.close(ec);
        signals.cancel(ec);
        std::lock_guard lock(sessions_mutex);
        for (auto& w : sessions)
            if (auto s = w.lock()) s->stop();
        work.reset();
    });
}

Server::Server(Api& api, ServerOptions options) : impl_(std::make_unique<Impl>(api, std::move(options))) { impl_->listen(); }

Server::~Server() {
    stop();
    for (auto& t : impl_->threads)
        if (t.joinable()) t.join();
}

unsigned short Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::run() {
    auto& s = *impl_;
    s.signals.add(SIGINT);
    s.signals.add(SIGTERM);
    s.signals.add(SIGHUP);
    std::function<void()> wait = [&] {
        s.signals.async_wait([&](beast::error_code ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                if (s.options.on_reload) {
                    // Under the access log's lock: what it reports goes to the same stream, which
                    // session threads write at the same time (ThreadSanitizer saw the race).
                    std::lock_guard lock(s.log_mutex);
                    s.options.on_reload();
                }
                return wait();
            }
            s.shutdown();
        });
    };
    wait();
    s.work.emplace(s.ioc.get_executor());
    s.do_accept();
    for (int i = 1; i < s.options.threads; ++i) s.threads.emplace_back([&] { s.run_io(); });
    s.ioc.run();
    for (auto& t : s.threads) t.join();
    s.threads.clear();
}

void Server::start() {
    auto& s = *impl_;
    s.work.emplace(s.ioc.get_executor());
    s.do_accept();
    for (int i = 0; i < std::max(1, s.options.threads); ++i) s.threads.emplace_back([&] { s.run_io(); });
}

void Server::stop() { impl_->shutdown(); }

} // namespace gridloop::http
