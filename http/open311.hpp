// Open311 GeoReport v2 under /open311/v2/: service discovery, services, service definitions and
// service requests (reported through the engine like any other IssueReported), in JSON and XML.
#pragma once

#include "http/auth.hpp"
#include "http/message.hpp"

#include <functional>
#include <optional>

namespace gridloop::engine {
class Engine;
}

namespace gridloop::http {

// Answers one request to a path under /open311/v2/ (the router's table names which); `done` is
// called exactly once, possibly later on the engine's writer thread. The caller is the
// principal of a valid `api_key` parameter, else `bearer` (the request's Authorization header,
// already checked by the router); requests need one, discovery and services do not. Every refusal
// is the spec's array of {code, description}: 400, 403, 404 (503 when the log cannot be read or
// written), never 500.
void handle_open311(engine::Engine& engine, const Authenticator* auth, std::optional<Principal> bearer, const Request& req,
                    std::function<void(Response)> done);

} // namespace gridloop::http
