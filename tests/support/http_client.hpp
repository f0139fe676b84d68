// A tiny blocking HTTP/1.1 client on POSIX sockets for the server tests: arbitrary bytes out, whole
// responses (Content-Length, chunked or until close) and Server-Sent Events in, every wait bounded.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridloop::testing {

using namespace std::chrono_literals;
using Deadline = std::chrono::steady_clock::time_point;

inline Deadline deadline_in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

struct HttpResponse {
    int status = 0;
    std::string status_line;
    std::map<std::string, std::string> headers; // lower-case names; repeated fields joined with ", "
    std::string body;                           // decoded (chunks joined)
    bool chunked = false;

    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// One Server-Sent Events message: `comment` holds a ": ..." line's text when the message is a comment.
struct SseMessage {
    std::string id, data, comment, retry;
};

inline std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return s;
}

class Connection {
public:
    // Connects to 127.0.0.1:port; throws std::runtime_error when the connection cannot be made.
    // A small receive_buffer (bytes) makes a client that does not read push back on the server soon.
    explicit Connection(unsigned short port, int receive_buffer = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            const int e = errno;
            ::close(fd_);
            fd_ = -1;
            throw std::runtime_error(std::string("connect: ") + std::strerror(e));
        }
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~Connection() { close(); }
    Connection(Connection&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)), eof_(o.eof_) {}
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void close() {
        if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    }
    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

    // Sends every byte; false when the peer has closed or reset the connection (no SIGPIPE).
    bool send(std::string_view bytes, Deadline until = deadline_in(10s)) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                bytes.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!wait(POLLOUT, until)) return false;
                continue;
            }
            return false;
        }
        return true;
    }

    // Reads one response. nullopt when the connection closes or the deadline passes before it is whole.
    std::optional<HttpResponse> read_response(Deadline until = deadline_in(10s), bool head_request = false) {
        auto r = read_head(until);
        if (!r) return std::nullopt;
        if (head_request || r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200)) return r;
        if (r->chunked) {
            for (;;) {
                auto c = read_chunk(until);
                if (!c) return std::nullopt;
                if (c->empty()) break;
                r->body += *c;
            }
            return r;
        }
        if (auto cl = r->header("content-length"); !cl.empty()) {
            const std::size_t n = std::stoul(cl);
            while (buf_.size() < n)
                if (!fill(until)) return std::nullopt;
            r->body = buf_.substr(0, n);
            buf_.erase(0, n);
            return r;
        }
        while (fill(until)) {
        }
        if (!eof_) return std::nullopt; // timed out before the close that ends the body
        r->body = std::exchange(buf_, {});
        return r;
    }

    // Reads the status line and the headers only.
    std::optional<HttpResponse> read_head(Deadline until = deadline_in(10s)) {
        std::size_t end;
        while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
            if (!fill(until)) return std::nullopt;
        HttpResponse r;
        const std::string head = buf_.substr(0, end);
        buf_.erase(0, end + 4);
        std::size_t line_end = head.find("\r\n");
        r.status_line = head.substr(0, line_end);
        if (r.status_line.size() < 12 || r.status_line.compare(0, 7, "HTTP/1.") != 0) return std::nullopt;
        r.status = std::stoi(r.status_line.substr(9, 3));
        while (line_end != std::string::npos) {
            const std::size_t start = line_end + 2;
            line_end = head.find("\r\n", start);
            const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            auto& slot = r.headers[lower(line.substr(0, colon))];
            slot += (slot.empty() ? "" : ", ") + value;
        }
        r.chunked = lower(r.header("transfer-encoding")).find("chunked") != std::string::npos;
        return r;
    }

    // One chunk's data of a chunked body; "" for the last chunk; nullopt on close or timeout.
    std::optional<std::string> read_chunk(Deadline until = deadline_in(10s)) {
        std::size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos)
            if (!fill(until)) return std::nullopt;
        const std::size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
        while (buf_.size() < eol + 2 + size + 2)
            if (!fill(until)) return std::nullopt;
        std::string data = buf_.substr(eol + 2, size);
        buf_.erase(0, eol + 2 + size + 2); // a last chunk has no trailers here
        return data;
    }

    // The next Server-Sent Events message of a chunked event stream whose headers were read.
    std::optional<SseMessage> read_sse(Deadline until) {
        std::size_t end;
        while ((end = sse_.find("\n\n")) == std::string::npos) {
            auto c = read_chunk(until);
            if (!c || c->empty()) return std::nullopt;
            sse_ += *c;
        }
        const std::string block = sse_.substr(0, end);
        sse_.erase(0, end + 2);
        SseMessage m;
        std::size_t pos = 0;
        while (pos <= block.size()) {
            std::size_t nl = block.find('\n', pos);
            if (nl == std::string::npos) nl = block.size();
            const std::string line = block.substr(pos, nl - pos);
            pos = nl + 1;
            if (line.empty()) continue;
            const auto colon = line.find(':');
            const std::string field = line.substr(0, colon);
            std::string value = colon == std::string::npos ? std::string() : line.substr(colon + 1);
            if (!value.empty() && value.front() == ' ') value.erase(0, 1);
            if (field.empty()) m.comment = value;
            else if (field == "id") m.id = value;
            else if (field == "data") m.data += (m.data.empty() ? "" : "\n") + value;
            else if (field == "retry") m.retry = value;
        }
        return m;
    }

    // True when the peer closes (EOF or reset) before the deadline; bytes that arrive meanwhile are kept.
    bool closed_by_peer(Deadline until) {
        while (fill(until)) {
        }
        return eof_;
    }

    bool eof() const { return eof_; }
    const std::string& pending() const { return buf_; }

private:
    bool wait(short events, Deadline until) {
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
            if (left <= 0) return false;
            pollfd p{fd_, events, 0};
            const int n = ::poll(&p, 1, static_cast<int>(left));
            if (n > 0) return true;
            if (n < 0 && errno != EINTR) return false;
        }
    }

    // Appends what arrives before the deadline; false on timeout, close or reset.
    bool fill(Deadline until) {
        if (eof_ || fd_ < 0) return false;
        if (!wait(POLLIN, until)) return false;
        char tmp[16384];
        for (;;) {
            const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
            if (n > 0) {
                buf_.append(tmp, static_cast<std::size_t>(n));
                return true;
            }
            if (n < 0 && errno == EINTR) continue;
            eof_ = true; // 0 = orderly close; ECONNRESET and friends end it as well
            return false;
        }
    }

    int fd_ = -1;
    std::string buf_;
    std::string sse_;
    bool eof_ = false;
};

// The bytes of a request; adds Host and, when there is a body or the method is POST, Content-Length.
inline std::string request_text(const std::string& method, const std::string& target, const std::string& body = {},
                                const std::vector<std::pair<std::string, std::string>>& headers = {}, bool keep_alive = true) {
    std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
    if (!body.empty() || method == "POST") out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (!keep_alive) out += "Connection: close\r\n";
    out += "\r\n";
    return out + body;
}

// One request on a fresh connection. nullopt when no whole response arrives in time.
inline std::optional<HttpResponse> fetch(unsigned short port, const std::string& method, const std::string& target, const std::string& body = {},
                                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                                         std::chrono::milliseconds timeout = 10s) {
    Connection c(port);
    const auto until = deadline_in(timeout);
    if (!c.send(request_text(method, target, body, headers, false), until)) return std::nullopt;
    return c.read_response(until, method == "HEAD");
}

} // namespace gridloop::testing
