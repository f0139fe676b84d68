// The HTTP/1.1 server on Boost.Beast: connections, limits, timeouts, streaming, graceful shutdown.
#pragma once

#include "http/api.hpp"

#include <chrono>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

namespace gridloop::http {

struct ServerOptions {
    std::string address = "127.0.0.1";
    unsigned short port = 8080; // 0 = any free port
    int threads = 2;
    std::size_t max_connections = 512;
    std::size_t body_limit = 1 << 20;   // 1 MiB → 413 beyond
    std::size_t header_limit = 16 << 10; // 16 KiB → 431 beyond
    std::chrono::milliseconds read_timeout{15000};  // a request must arrive whole within this
    std::chrono::milliseconds idle_timeout{60000};  // a keep-alive connection may idle this long
    std::chrono::milliseconds write_timeout{30000}; // a client must take each response part within this
    std::chrono::milliseconds heartbeat{15000};     // SSE comment line while idle
    std::size_t sse_backlog = 20000;                // envelopes a slow subscriber may fall behind before it is dropped
    std::ostream* access_log = nullptr;             // one line per request when set
    std::function<void()> on_reload;                // SIGHUP; runs under the access log's lock, so it may write to that stream
};

class Server {
public:
    Server(Api& api, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // The bound port (useful with port 0). Throws std::system_error if the address cannot be bound.
    unsigned short port() const;
    // Serves on the calling thread plus options.threads - 1 others until stop() or SIGINT/SIGTERM;
    // then stops accepting, lets in-flight requests finish, closes streams and returns.
    void run();
    // Serves on background threads (tests); stop() or the destructor ends it.
    void start();
    // Graceful stop; safe from any thread and from a signal handler's strand.
    void stop();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace gridloop::http
