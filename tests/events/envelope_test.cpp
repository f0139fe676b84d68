// Canonical JSON and the hash chain, checked against independently written expectations.
#include "events/envelope.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <thread>

using namespace gridloop::events;
using nlohmann::json;

namespace {

Envelope sample(std::int64_t position, const std::string& prev) {
    Envelope e;
    e.position = position;
    e.event = IssueDismissed{"c-" + std::to_string(position), DismissReason::duplicate, "重复 \"quoted\""};
    e.stream = stream_of(e.event);
    e.version = 2;
    e.event_id = "ev-" + std::to_string(position);
    e.occurred_at = *parse_time("2026-11-21T09:14:00+08:00");
    e.recorded_at = *parse_time("2026-11-21T09:15:00.5+08:00");
    e.actor = "p-017";
    e.prev_hash = prev;
    return e;
}

} // namespace

TEST_SUITE("events") {
TEST_CASE("canonical JSON sorts keys and drops insignificant space") {
    CHECK(canonical_json(json::parse(R"({"b": 1, "a": {"z": [1, 2], "y": "é"}})")) == R"({"a":{"y":"é","z":[1,2]},"b":1})");
}

TEST_CASE("the hashed body is the canonical envelope without its hashes") {
    RawEnvelope r = to_raw(sample(1, zero_hash()));
    const std::string expected =
        R"({"actor":"p-017","data":{"case_id":"c-1","note":"重复 \"quoted\"","reason":"duplicate"},"event_id":"ev-1",)"
        R"("occurred_at":"2026-11-21T01:14:00.000Z","position":1,"recorded_at":"2026-11-21T01:15:00.500Z","stream":"case-c-1",)"
        R"("type":"IssueDismissed","version":2})";
    CHECK(hashed_body(r) == expected);
    // The body is exactly what a generic canonical serialiser makes of the envelope.
    json j = to_json(r);
    j.erase("hash");
    j.erase("prev_hash");
    CHECK(canonical_json(j) == expected);
}

TEST_CASE("hash = sha256(prev_hash bytes ‖ body)") {
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    RawEnvelope r = to_raw(sample(1, zero_hash()));
    const std::string bytes = std::string(32, '\0') + hashed_body(r);
    CHECK(chain_hash(r) == sha256_hex(bytes));
    r.prev_hash = "xyz";
    CHECK(chain_hash(r).empty());
}

TEST_CASE("a hash is 64 lowercase hex digits, whatever byte stands anywhere else") {
    const std::string good = sha256_hex("abc");
    CHECK(is_hash_hex(good));
    CHECK(is_hash_hex(zero_hash()));
    CHECK_FALSE(is_hash_hex(good.substr(1)));
    CHECK_FALSE(is_hash_hex(good + "0"));
    CHECK_FALSE(is_hash_hex(""));
    for (int byte = 0; byte < 256; ++byte) {
        const char c = static_cast<char>(byte);
        const bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        for (const std::size_t at : {std::size_t{0}, std::size_t{1}, std::size_t{31}, std::size_t{62}, std::size_t{63}}) {
            std::string h = good;
            h[at] = c;
            CHECK_MESSAGE(is_hash_hex(h) == digit, "byte ", byte, " at ", at);
            // The chain hash reads prev_hash with the same rule: a bad digit makes no hash at all.
            RawEnvelope r = to_raw(sample(1, h));
            CHECK(chain_hash(r).empty() == !digit);
        }
    }
    // Each digit keeps its value: the hash over prev bytes 0x01..0x20 is sha256 of exactly those bytes.
    std::string prev, bytes;
    for (int i = 1; i <= 32; ++i) {
        prev += "0123456789abcdef"[i >> 4];
        prev += "0123456789abcdef"[i & 15];
        bytes += static_cast<char>(i);
    }
    RawEnvelope r = to_raw(sample(1, prev));
    CHECK(chain_hash(r) == sha256_hex(bytes + hashed_body(r)));
}

TEST_CASE("any change to a hashed field changes the hash") {
    RawEnvelope r = to_raw(sample(3, std::string(64, 'a')));
    const std::string h = chain_hash(r);
    auto changed = [&](auto mutate) {
        RawEnvelope x = r;
        mutate(x);
        return chain_hash(x) != h;
    };
    CHECK(changed([](RawEnvelope& x) { x.data[5] = 'C'; }));
    CHECK(changed([](RawEnvelope& x) { x.data = " " + x.data; })); // even whitespace
    CHECK(changed([](RawEnvelope& x) { x.actor = "p-018"; }));
    CHECK(changed([](RawEnvelope& x) { x.position = 4; }));
    CHECK(changed([](RawEnvelope& x) { x.version = 3; }));
    CHECK(changed([](RawEnvelope& x) { x.prev_hash[0] = 'b'; }));
    CHECK(changed([](RawEnvelope& x) { x.recorded_at = "2026-11-21T01:15:00.501Z"; }));
    CHECK(changed([](RawEnvelope& x) { x.type = "IssueHandled"; }));
}

TEST_CASE("raw and decoded envelopes round-trip, and export text parses back") {
    Envelope e = sample(7, zero_hash());
    RawEnvelope r = to_raw(e);
    r.hash = chain_hash(r);
    auto back = from_raw(r);
    REQUIRE(back);
    CHECK(to_raw(*back) == r);
    const std::string text = envelope_text(r);
    CHECK(text == canonical_json(to_json(r)));
    auto again = raw_from_json(json::parse(text));
    REQUIRE(again);
    CHECK(*again == r);
    json broken = json::parse(text);
    broken.erase("hash");
    CHECK(!raw_from_json(broken));
    r.data = "{not json";
    CHECK(!from_raw(r));
}

TEST_CASE("envelope text escapes exactly as the generic serialiser, whatever the strings hold") {
    RawEnvelope r = to_raw(sample(5, zero_hash()));
    r.hash = chain_hash(r);
    const std::string plain = envelope_text(r);
    CHECK(plain == canonical_json(to_json(r)));
    for (const std::string& odd : {std::string("quote\"in"), std::string("back\\slash"), std::string("tab\there"), std::string("nul\0x", 5),
                                  std::string("del\x7f"), std::string("网格员"), std::string("bad\xff\xfeutf8"), std::string(""), std::string(" ~"),
                                  // past the first eight bytes, which are checked a word at a time
                                  std::string("a-long-plain-prefix\"quote"), std::string("a-long-plain-prefix\x1f"),
                                  std::string("a-long-plain-prefix-网格员"), std::string("a-long-plain-prefix\\")}) {
        for (std::string RawEnvelope::*field : {&RawEnvelope::actor, &RawEnvelope::event_id, &RawEnvelope::stream, &RawEnvelope::type,
                                                &RawEnvelope::occurred_at, &RawEnvelope::recorded_at, &RawEnvelope::hash}) {
            RawEnvelope x = r;
            x.*field = odd;
            CHECK(envelope_text(x) == canonical_json(to_json(x)));
            json j = to_json(x);
            j.erase("hash");
            j.erase("prev_hash");
            CHECK(hashed_body(x) == canonical_json(j));
        }
    }
}

TEST_CASE("the hash of one envelope does not depend on what was hashed before it on the thread") {
    const RawEnvelope a = to_raw(sample(1, zero_hash())), b = to_raw(sample(2, std::string(64, 'f')));
    const std::string ha = chain_hash(a), hb = chain_hash(b);
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(chain_hash(a) == ha);
    CHECK(chain_hash(b) == hb);
    CHECK(ha != hb);
    std::string other;
    std::thread([&] { other = chain_hash(b); }).join();
    CHECK(other == hb);
}
}
