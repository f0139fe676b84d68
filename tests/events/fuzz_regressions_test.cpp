// Inputs that broke the event and envelope decoders, found while fuzzing them (fuzz/), kept as tests.
#include "events/envelope.hpp"
#include "events/event.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using namespace gridloop::events;
using nlohmann::json;

namespace {

// An exported envelope, every field right, whose data is `data_text`.
json envelope_with_data(const std::string& data_text) {
    json j = json::parse(R"({"position": 1, "stream": "grid-t", "version": 1, "event_id": "e-1", "type": "GridDefined",
        "occurred_at": "2026-11-16T01:00:00.000Z", "recorded_at": "2026-11-16T01:00:00.000Z", "actor": "admin",
        "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000",
        "hash": "0000000000000000000000000000000000000000000000000000000000000000"})");
    j["data"] = json::parse(data_text);
    return j;
}

std::string nested(std::size_t levels) { return R"({"a":)" + std::string(levels, '[') + std::string(levels, ']') + "}"; }

} // namespace

TEST_SUITE("events") {

// Found while writing fuzz/import_fuzzer.cpp (the API caps a body's nesting at 32 before parsing;
// the importer had no cap): an NDJSON line holding an envelope whose data was nested a few hundred
// thousand levels deep crashed `gridloop import` with a stack overflow, in the recursive writing of
// the data's canonical form. Such data is now refused before it is written.
TEST_CASE("an envelope whose data is nested too deep is refused, not written") {
    auto deep = raw_from_json(envelope_with_data(nested(300'000)));
    REQUIRE(!deep);
    CHECK(deep.error().code == errc::unprocessable);
    CHECK(deep.error().message == "envelope.data is nested deeper than 32 levels");

    // The limit counts the data object as level 1: 31 arrays inside it pass, 32 do not.
    CHECK(raw_from_json(envelope_with_data(nested(31))));
    CHECK(!raw_from_json(envelope_with_data(nested(32))));
}

// Found while choosing the HTTP target's seeds (how far can a mutated PolicySet limit reach?): a
// limit of P9999999999W was accepted, and the next report's due time walked the calendar week by
// week for hours, holding the single writer (and so every write) up. A limit is now at most P366D,
// however it is written.
TEST_CASE("a time limit longer than a year is refused") {
    auto policy = [](json limit) { return decode_event("PolicySet", {{"limits", {{"worker", std::move(limit)}}}}); };
    for (const json& too_long : {json("P9999999999W"), json("P367D"), json("P366DT1S"), json("PT8785H"), json(31'622'401), json(100'000'000'000)}) {
        CAPTURE(too_long.dump());
        auto r = policy(too_long);
        REQUIRE(!r);
        CHECK(r.error().code == errc::unprocessable);
        CHECK(r.error().message == "data.limits.worker must be at most P366D");
    }
    for (const json& fine : {json("P366D"), json("PT8784H"), json("P52W"), json(31'622'400), json("P1D")}) {
        CAPTURE(fine.dump());
        CHECK(policy(fine));
    }
}

}
