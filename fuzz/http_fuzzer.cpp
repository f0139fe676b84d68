// libFuzzer target: the HTTP API at handler level (Api::handle_now, no sockets) over a real engine
// whose log holds the start of the sample town. An input is a request as text (see support.hpp).
//
// Invariants: no answer is a 5xx (500 is a bug caught by the API, 503 a storage failure); a JSON
// answer is JSON; an answer of 4xx, and any GET, appends nothing. After an input that appended,
// the log is put back to the town, so every input meets the same state.
#include "engine/engine.hpp"
#include "fuzz/support.hpp"
#include "http/api.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>

using namespace gridloop;
using nlohmann::json;

namespace {

struct World {
    std::string town_db = fuzz::scratch_path("http-town");
    std::string db = fuzz::scratch_path("http");
    std::unique_ptr<engine::ManualClock> clock;
    std::shared_ptr<http::Authenticator> auth = std::make_shared<http::Authenticator>(http::Tokens::parse(fuzz::tokens_json()));
    std::unique_ptr<engine::Engine> engine;
    std::unique_ptr<http::Api> api;

    World() {
        // An hour after the town's last preloaded step, a working Monday or not: reads see open cases.
        clock = std::make_unique<engine::ManualClock>(fuzz::write_town_log(town_db, fuzz::preloaded_steps) + std::chrono::hours(1));
        reset();
    }
    ~World() {
        api.reset();
        engine.reset();
        fuzz::remove_db(db);
        fuzz::remove_db(town_db);
    }
    void reset() {
        api.reset();
        engine.reset();
        fuzz::copy_db(town_db, db);
        engine = std::make_unique<engine::Engine>(db, *clock);
        api = std::make_unique<http::Api>(*engine, auth);
    }
};

World* world = nullptr;

bool json_type(const std::string& content_type) {
    return content_type == "application/json" || content_type == "application/problem+json";
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    world = new World; // lives as long as the process: libFuzzer exits without unwinding
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(bytes), size);
    const http::Request req = fuzz::parse_request(input);
    const auto before = world->engine->head().position;

    // A thread of its own per request: the API's read connections are per thread, and must not
    // outlive a reset of the file they read.
    http::Response r;
    std::string chunks_problem;
    std::thread([&] {
        r = world->api->handle_now(req);
        if (!r.stream) return;
        std::string chunk;
        for (int i = 0; i < 64 && r.stream(chunk); ++i) {
            std::size_t start = 0;
            while (start < chunk.size()) {
                const auto nl = chunk.find('\n', start);
                if (nl == std::string::npos) {
                    chunks_problem = "an NDJSON chunk does not end with a newline";
                    return;
                }
                if (json::parse(chunk.substr(start, nl - start), nullptr, false).is_discarded()) {
                    chunks_problem = "an NDJSON line is not JSON";
                    return;
                }
                start = nl + 1;
            }
        }
    }).join();

    const auto after = world->engine->head().position;
    if (r.status < 100 || r.status >= 500) fuzz::fail("status " + std::to_string(r.status) + ": " + r.body, input);
    if (!chunks_problem.empty()) fuzz::fail(chunks_problem, input);
    if (!r.stream && json_type(r.content_type) && json::parse(r.body, nullptr, false).is_discarded())
        fuzz::fail("a " + r.content_type + " answer is not JSON: " + r.body.substr(0, 200), input);
    if (r.status >= 400 && after != before)
        fuzz::fail("a " + std::to_string(r.status) + " answer appended " + std::to_string(after - before) + " events", input);
    if (req.method != "POST" && after != before) fuzz::fail(req.method + " appended events", input);
    if (after < before) fuzz::fail("the head went back", input);
    if (after != before) world->reset();
    return 0;
}
