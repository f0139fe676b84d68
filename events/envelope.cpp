// Envelope forms, canonical bytes and the hash chain.
#include "events/envelope.hpp"

#include "events/json_writer.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace gridloop::events {
namespace {

using nlohmann::json;

std::string to_hex(const unsigned char* p, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(n * 2, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    return out;
}

// The value of each lowercase hex digit; -1 for every other byte.
constexpr auto hex_values = [] {
    std::array<signed char, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 16; ++i) t[static_cast<unsigned char>("0123456789abcdef"[i])] = static_cast<signed char>(i);
    return t;
}();

// Every row's chain hash reads its prev_hash, and the store checks both hashes of every row: a table
// lookup per digit and one test at the end, no branch on the digits (which cost as much as the rest
// of those checks).
bool from_hex(std::string_view hex, unsigned char* out, std::size_t n) {
    if (hex.size() != n * 2) return false;
    int bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const int hi = hex_values[static_cast<unsigned char>(hex[2 * i])];
        const int lo = hex_values[static_cast<unsigned char>(hex[2 * i + 1])];
        bad |= hi | lo; // negative once any digit is not one
        out[i] = static_cast<unsigned char>(hi << 4 | (lo & 15));
    }
    return bad >= 0;
}

// SHA-256 of the concatenated parts, lowercase hex. The algorithm is fetched once and each thread
// reuses one context: fetching and allocating per call cost more than hashing an envelope.
std::string sha256_parts(std::initializer_list<std::string_view> parts) {
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!md || !ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) throw std::runtime_error("SHA-256 is unavailable");
    for (std::string_view p : parts) EVP_DigestUpdate(ctx.get(), p.data(), p.size());
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), out, &len);
    return to_hex(out, len);
}

// The canonical envelope, keys in sorted order, written by hand so that `data` is spliced in as
// stored: any change to its bytes shows in the hash. Appends to `out`.
void write_envelope(std::string& out, const RawEnvelope& r, bool with_hashes) {
    char position[24], version[24];
    const auto digits = [](char (&buf)[24], std::int64_t v) {
        return std::string_view(buf, static_cast<std::size_t>(std::to_chars(std::begin(buf), std::end(buf), v).ptr - buf));
    };
    struct Member {
        std::string_view key; // with its quotes, colon and the comma or brace before it
        std::string_view value;
        bool quoted; // a string to be written as JSON; otherwise JSON text already
        bool hash = false; // hash or prev_hash, left out of the hashed body
    };
    const Member all[] = {
        {"{\"actor\":", r.actor, true},
        {",\"data\":", r.data, false},
        {",\"event_id\":", r.event_id, true},
        {",\"hash\":", r.hash, true, true},
        {",\"occurred_at\":", r.occurred_at, true},
        {",\"position\":", digits(position, r.position), false},
        {",\"prev_hash\":", r.prev_hash, true, true},
        {",\"recorded_at\":", r.recorded_at, true},
        {",\"stream\":", r.stream, true},
        {",\"type\":", r.type, true},
        {",\"version\":", digits(version, r.version), false},
    };
    const auto wanted = [&](const Member& m) { return with_hashes || !m.hash; };
    // Almost always every string is plain: the size is known, and the members are copied in one go.
    std::size_t size = 1;
    bool plain = true;
    for (const Member& m : all)
        if (wanted(m)) {
            size += m.key.size() + m.value.size() + (m.quoted ? 2 : 0);
            plain = plain && (!m.quoted || json_plain(m.value));
        }
    if (plain) {
        const std::size_t at = out.size();
        out.resize(at + size);
        char* p = out.data() + at;
        const auto put = [&](std::string_view s) { p = std::copy(s.begin(), s.end(), p); };
        for (const Member& m : all)
            if (wanted(m)) {
                put(m.key);
                if (m.quoted) *p++ = '"';
                put(m.value);
                if (m.quoted) *p++ = '"';
            }
        *p = '}';
        return;
    }
    out.reserve(out.size() + size + 64);
    for (const Member& m : all)
        if (wanted(m)) {
            out += m.key;
            if (m.quoted) put_json_string(out, m.value);
            else out += m.value;
        }
    out += '}';
}

std::string write_envelope(const RawEnvelope& r, bool with_hashes) {
    std::string out;
    write_envelope(out, r, with_hashes);
    return out;
}

// Whether no array or object inside `j` lies more than `limit` levels deep (j itself is level 1),
// found without recursion: writing a value recurses once per level, so the data of an imported
// line of a million brackets would overflow the stack.
bool nesting_within(const json& j, std::size_t limit) {
    std::vector<std::pair<const json*, std::size_t>> todo{{&j, 1}};
    while (!todo.empty()) {
        const auto [v, depth] = todo.back();
        todo.pop_back();
        if (!v->is_structured()) continue;
        if (depth > limit) return false;
        for (const auto& child : *v) todo.emplace_back(&child, depth + 1);
    }
    return true;
}

} // namespace

const std::string& zero_hash() {
    static const std::string z(64, '0');
    return z;
}

std::string canonical_json(const json& j) {
    // nlohmann's object is a std::map: keys come out sorted by bytes, which for UTF-8 is code point order.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

RawEnvelope to_raw(const Envelope& e) { return to_raw(e, encode_data(e.event)); }

RawEnvelope to_raw(const Envelope& e, std::string data) {
    return RawEnvelope{e.position,  e.stream,    e.version,       e.event_id,  std::string(e.type()), format_time(e.occurred_at),
                       format_time(e.recorded_at), e.actor, std::move(data), e.prev_hash, e.hash};
}

RawView view_of(const RawEnvelope& r) {
    return {r.position, r.stream, r.version, r.event_id, r.type, r.occurred_at, r.recorded_at, r.actor, r.data, r.prev_hash, r.hash};
}

std::optional<Error> from_raw(const RawEnvelope& r, Envelope& out) { return from_raw(view_of(r), out); }

std::optional<Error> from_raw(const RawView& r, Envelope& out) {
    auto where = [&](const std::string& message) { return "position " + std::to_string(r.position) + ": " + message; };
    auto ev = decode_stored(r.type, r.data);
    if (!ev) return Error{ev.error().code, where(ev.error().message)};
    auto occ = parse_time(r.occurred_at), rec = parse_time(r.recorded_at);
    if (!occ || !rec) return unprocessable(where("stored times are not RFC 3339"));
    out.position = r.position;
    out.stream.assign(r.stream);
    out.version = r.version;
    out.event_id.assign(r.event_id);
    out.event = std::move(ev.value());
    out.occurred_at = *occ;
    out.recorded_at = *rec;
    out.actor.assign(r.actor);
    out.prev_hash.assign(r.prev_hash);
    out.hash.assign(r.hash);
    return std::nullopt;
}

Result<Envelope> from_raw(const RawEnvelope& r) {
    Envelope e;
    if (auto error = from_raw(r, e)) return std::move(*error);
    return e;
}

std::string hashed_body(const RawEnvelope& r) { return write_envelope(r, false); }

std::string chain_hash(const RawEnvelope& r) {
    unsigned char prev[32];
    if (!from_hex(r.prev_hash, prev, sizeof prev)) return {};
    thread_local std::string body; // the writer hashes every row: its capacity is kept from row to row
    body.clear();
    write_envelope(body, r, false);
    return sha256_parts({std::string_view(reinterpret_cast<const char*>(prev), sizeof prev), body});
}

std::string sha256_hex(std::string_view bytes) { return sha256_parts({bytes}); }

bool is_hash_hex(std::string_view text) {
    unsigned char bytes[32];
    return from_hex(text, bytes, sizeof bytes);
}

std::string envelope_text(const RawEnvelope& r) { return write_envelope(r, true); }

void append_envelope_text(std::string& out, const RawEnvelope& r) { write_envelope(out, r, true); }

json to_json(const RawEnvelope& r) {
    json data = json::parse(r.data, nullptr, false);
    return json{{"position", r.position}, {"stream", r.stream},   {"version", r.version},
                {"event_id", r.event_id}, {"type", r.type},       {"occurred_at", r.occurred_at},
                {"recorded_at", r.recorded_at}, {"actor", r.actor}, {"data", std::move(data)},
                {"prev_hash", r.prev_hash}, {"hash", r.hash}};
}

Result<RawEnvelope> raw_from_json(const json& j) {
    if (!j.is_object()) return bad_request("an envelope must be a JSON object");
    static const char* const keys[] = {"position",    "stream", "version", "event_id",  "type", "occurred_at",
                                       "recorded_at", "actor",  "data",    "prev_hash", "hash"};
    for (const char* k : keys)
        if (!j.contains(k)) return bad_request(std::string("envelope.") + k + " is required");
    if (j.size() != std::size(keys)) return unprocessable("envelope has unknown fields");
    RawEnvelope r;
    for (auto [k, out] : {std::pair{"position", &r.position}, {"version", &r.version}}) {
        const auto& v = j.at(k);
        if (!v.is_number_integer() || v.get<std::int64_t>() < 1) return bad_request(std::string("envelope.") + k + " must be a positive integer");
        *out = v.get<std::int64_t>();
    }
    for (auto [k, out] : {std::pair{"stream", &r.stream}, {"event_id", &r.event_id}, {"type", &r.type},
                          {"occurred_at", &r.occurred_at}, {"recorded_at", &r.recorded_at}, {"actor", &r.actor},
                          {"prev_hash", &r.prev_hash}, {"hash", &r.hash}}) {
        const auto& v = j.at(k);
        if (!v.is_string()) return bad_request(std::string("envelope.") + k + " must be a string");
        *out = v.get<std::string>();
    }
    if (!j.at("data").is_object()) return bad_request("envelope.data must be an object");
    if (!nesting_within(j.at("data"), 32)) return unprocessable("envelope.data is nested deeper than 32 levels");
    r.data = canonical_json(j.at("data"));
    return r;
}

} // namespace gridloop::events
