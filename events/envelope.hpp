// The stored envelope of an event, its JSON, canonical form and place in the SHA-256 hash chain.
#pragma once

#include "events/event.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gridloop::events {

// An envelope with its event decoded.
struct Envelope {
    std::int64_t position = 0;
    std::string stream;
    std::int64_t version = 0;
    std::string event_id;
    Event event;
    Instant occurred_at{}, recorded_at{};
    std::string actor;
    std::string prev_hash, hash; // lowercase hex, 64 characters
    std::string_view type() const { return type_name(event); }
};

// An envelope exactly as stored: times as their output text, `data` as canonical JSON text. This is
// what the hash covers, so verification and export never need to decode events.
struct RawEnvelope {
    std::int64_t position = 0;
    std::string stream;
    std::int64_t version = 0;
    std::string event_id, type, occurred_at, recorded_at, actor;
    std::string data; // canonical JSON text of the event's data
    std::string prev_hash, hash;
    friend bool operator==(const RawEnvelope&, const RawEnvelope&) = default;
};

// A stored row seen where it lies (views into the store's buffers, valid while that row is read): for
// decoding rows without copying them first.
struct RawView {
    std::int64_t position = 0;
    std::string_view stream;
    std::int64_t version = 0;
    std::string_view event_id, type, occurred_at, recorded_at, actor, data, prev_hash, hash;
};
RawView view_of(const RawEnvelope& r);

// 64 zeros: the prev_hash of position 1.
const std::string& zero_hash();

// Keys sorted, no insignificant space, UTF-8 (invalid sequences replaced, never thrown).
std::string canonical_json(const nlohmann::json& j);

RawEnvelope to_raw(const Envelope& e);
// The same with the data text already written: it must be encode_data(e.event).
RawEnvelope to_raw(const Envelope& e, std::string data);
// Decodes the stored data strictly; an error names the position.
Result<Envelope> from_raw(const RawEnvelope& r);
// The same into `out`, whose strings keep their capacity (for loops decoding row after row); returns
// the error instead, leaving `out` unspecified.
std::optional<Error> from_raw(const RawEnvelope& r, Envelope& out);
std::optional<Error> from_raw(const RawView& r, Envelope& out);

// The exact bytes hashed after prev_hash: the canonical envelope without prev_hash and hash, with
// the stored data text taken byte for byte.
std::string hashed_body(const RawEnvelope& r);

// sha256(prev_hash bytes ‖ hashed_body(r)), lowercase hex. Does not read r.hash. Returns an empty
// string when r.prev_hash is not 64 lowercase hex digits.
std::string chain_hash(const RawEnvelope& r);

// SHA-256 of arbitrary bytes, lowercase hex.
std::string sha256_hex(std::string_view bytes);
// Whether `text` is 64 lowercase hex digits, as every prev_hash and hash is.
bool is_hash_hex(std::string_view text);

// The envelope as one line of JSON (the export and API form; canonical, with prev_hash and hash).
std::string envelope_text(const RawEnvelope& r);
// envelope_text(r), appended to `out`.
void append_envelope_text(std::string& out, const RawEnvelope& r);
nlohmann::json to_json(const RawEnvelope& r);

// Parses an exported envelope: every field present and of its type, nothing else.
Result<RawEnvelope> raw_from_json(const nlohmann::json& j);

} // namespace gridloop::events
