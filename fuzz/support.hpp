// What the fuzz targets and the seed generator share: the sample town's log, the tokens, the text
// form of a request and scratch database files.
#pragma once

#include "events/time.hpp"
#include "http/message.hpp"
#include "samples/step.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gridloop::fuzz {

// The sample town's steps (samples/town.cpp), built once.
const std::vector<samples::Step>& town();

// The HTTP target's log holds the town's first steps: its whole organisation, its party members
// and its first cases, so that seeds can act on real grids, cases and members.
inline constexpr std::size_t preloaded_steps = 700;

// Writes the first `steps` steps of the town (with the engine's own time-outs) into a new log at
// `path`; returns the instant of the last step. Throws when a step is refused.
events::Instant write_town_log(const std::string& path, std::size_t steps);

// The tokens file the HTTP target authenticates with: admin, auditor, dashboard, and one person of
// the town per role of the contract, scoped to that person's grid or department.
struct Token {
    std::string token, role;
};
const std::vector<Token>& tokens();
std::string tokens_json();

// A request as text: `METHOD TARGET`, then `name: value` header lines, a blank line and the body.
// Anything that does not fit is taken as it comes (a missing blank line: no body), so every input
// is some request.
http::Request parse_request(std::string_view text);
std::string request_text(const http::Request& r);

// A path under the temp directory, unique to this process and stem.
std::string scratch_path(const std::string& stem);
// Removes a database with its WAL and shared-memory files.
void remove_db(const std::string& path);
// Replaces `to` (and its WAL files) with a copy of the closed database `from`.
void copy_db(const std::string& from, const std::string& to);

// Stops the fuzzer with a message when an invariant fails: libFuzzer saves the input as a crash.
[[noreturn]] void fail(const std::string& what, std::string_view input);

} // namespace gridloop::fuzz
