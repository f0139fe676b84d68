// simdjson's DOM as the strict decoder's JSON value: the fast paths for stored rows (decode_stored)
// and for the bodies of POST /v1/events (decode_posted_body).
#include "events/decoder.hpp"
#include "events/event.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace gridloop::events {
namespace {

namespace dom = simdjson::dom;

// KeyOrder: each_member visits the members sorted by key, as nlohmann's DOM does (decoder.hpp).
// Stored rows are canonical text, their keys already in that order: they do without the sorting.
template <bool KeyOrder> class SimdValue {
public:
    explicit SimdValue(dom::element e) : e_(e) {}

    decoder::Kind kind() const {
        using decoder::Kind;
        switch (e_.type()) {
        case dom::element_type::ARRAY: return Kind::array;
        case dom::element_type::OBJECT: return Kind::object;
        case dom::element_type::INT64: return Kind::integer;
        case dom::element_type::UINT64:
            return e_.get_uint64().value_unsafe() > static_cast<std::uint64_t>(INT64_MAX) ? Kind::big_unsigned : Kind::integer;
        case dom::element_type::DOUBLE: return Kind::floating;
        case dom::element_type::STRING: return Kind::string;
        case dom::element_type::BOOL: return Kind::boolean;
        case dom::element_type::NULL_VALUE: return Kind::null;
        }
        return Kind::null;
    }
    std::string_view str() const { return e_.get_string().value_unsafe(); }
    std::int64_t int64() const {
        return e_.type() == dom::element_type::UINT64 ? static_cast<std::int64_t>(e_.get_uint64().value_unsafe())
                                                      : e_.get_int64().value_unsafe();
    }
    double number() const {
        switch (e_.type()) {
        case dom::element_type::INT64: return static_cast<double>(e_.get_int64().value_unsafe());
        case dom::element_type::UINT64: return static_cast<double>(e_.get_uint64().value_unsafe());
        default: return e_.get_double().value_unsafe();
        }
    }
    bool boolean() const { return e_.get_bool().value_unsafe(); }
    std::size_t size() const { return e_.type() == dom::element_type::ARRAY ? as_array().size() : as_object().size(); }
    std::optional<SimdValue> find(std::string_view key) const {
        dom::element v;
        if (as_object().at_key(key).get(v) != simdjson::SUCCESS) return std::nullopt;
        return SimdValue(v);
    }
    template <class F> void each(F&& f) const {
        const dom::array a = as_array();
        std::size_t i = 0;
        for (dom::element v : a)
            if (!f(i++, SimdValue(v))) break;
    }
    template <class F> void each_member(F&& f) const {
        const dom::object o = as_object();
        if constexpr (KeyOrder) {
            // Gathered, sorted when not already in order, then visited: events have a handful of fields.
            using Member = std::pair<std::string_view, dom::element>;
            constexpr std::size_t small = 16;
            std::array<Member, small> inline_members;
            std::vector<Member> heap_members;
            const std::size_t n = o.size();
            Member* m = inline_members.data();
            if (n > small) {
                heap_members.resize(n);
                m = heap_members.data();
            }
            std::size_t count = 0;
            bool sorted = true;
            for (dom::key_value_pair kv : o) {
                sorted = sorted && (count == 0 || m[count - 1].first <= kv.key);
                m[count++] = {kv.key, kv.value};
            }
            if (!sorted) std::sort(m, m + count, [](const Member& a, const Member& b) { return a.first < b.first; });
            for (std::size_t i = 0; i < count; ++i)
                if (!f(m[i].first, SimdValue(m[i].second))) break;
        } else {
            for (dom::key_value_pair kv : o)
                if (!f(kv.key, SimdValue(kv.value))) break;
        }
    }

private:
    // Called only after kind() said so; the decoder never asks an array for members or the reverse.
    dom::array as_array() const {
        dom::array a;
        if (e_.get_array().get(a) != simdjson::SUCCESS) throw std::logic_error("events: a simdjson value is not an array");
        return a;
    }
    dom::object as_object() const {
        dom::object o;
        if (e_.get_object().get(o) != simdjson::SUCCESS) throw std::logic_error("events: a simdjson value is not an object");
        return o;
    }

    dom::element e_;
};

// ---- POST bodies ----

constexpr std::size_t max_nesting = 32;
constexpr const char* bad_number = "the body has a number that is malformed or out of range (integers must fit in 64 bits)";
// Bodies up to this size are parsed by a parser kept per thread (its buffers, about 15 times the
// text, are reused); a larger one gets a parser of its own, freed after it.
constexpr std::size_t kept_parser_bytes = 256 * 1024;

// The first key given twice in one object under `e` (in the order of the text), as the path to it,
// outermost last; false when there is none.
using PathPart = std::variant<std::string_view, std::size_t>;
bool repeated_key(dom::element e, std::vector<PathPart>& path) {
    if (e.type() == dom::element_type::ARRAY) {
        const dom::array a = e.get_array().value_unsafe();
        std::size_t i = 0;
        for (dom::element v : a) {
            if (repeated_key(v, path)) {
                path.emplace_back(i);
                return true;
            }
            ++i;
        }
        return false;
    }
    if (e.type() != dom::element_type::OBJECT) return false;
    const dom::object o = e.get_object().value_unsafe();
    constexpr std::size_t small = 16;
    std::array<std::string_view, small> inline_keys;
    std::unordered_set<std::string_view> many_keys;
    const bool is_small = o.size() <= small;
    std::size_t count = 0;
    for (dom::key_value_pair kv : o) {
        const bool again = is_small ? std::find(inline_keys.begin(), inline_keys.begin() + count, kv.key) != inline_keys.begin() + count
                                    : !many_keys.insert(kv.key).second;
        if (again || repeated_key(kv.value, path)) {
            path.emplace_back(kv.key);
            return true;
        }
        if (is_small) inline_keys[count++] = kv.key;
    }
    return false;
}

// One event of a body: decode_posted, after refusing a repeated key by the name the decoder would
// give it ("event.<field>", "data.<field>", "data.location.lat", "data.media[2]...").
Result<Posted> decode_one(dom::element e) {
    std::vector<PathPart> path;
    if (e.type() == dom::element_type::OBJECT && repeated_key(e, path)) {
        std::string where;
        for (auto part = path.rbegin(); part != path.rend(); ++part) {
            if (const auto* key = std::get_if<std::string_view>(&*part)) {
                if (part == path.rbegin()) where = path.size() > 1 && *key == "data" ? "data" : "event." + std::string(*key);
                else where.append(".").append(*key);
            } else {
                where = decoder::indexed(where, std::get<std::size_t>(*part));
            }
        }
        return unprocessable(where + " is given more than once");
    }
    return decoder::decode_posted(SimdValue<true>(e));
}

Result<PostedBody> decode_root(dom::element root, std::size_t max_batch) {
    if (root.type() != dom::element_type::OBJECT) return bad_request("the body must be an event object or {\"events\": [...]}");
    const dom::object body = root.get_object().value_unsafe();
    dom::element list;
    PostedBody out;
    out.batch = body.at_key("events").get(list) == simdjson::SUCCESS && body.at_key("type").error() != simdjson::SUCCESS;
    if (!out.batch) {
        auto p = decode_one(root);
        if (!p) return p.error();
        out.events.push_back(std::move(*p));
        return out;
    }
    if (body.size() != 1) {
        bool only_events = true;
        for (dom::key_value_pair kv : body) only_events = only_events && kv.key == "events";
        if (only_events) return unprocessable("events is given more than once");
        return unprocessable("a batch body has only the field \"events\"");
    }
    if (list.type() != dom::element_type::ARRAY) return bad_request("events must be an array");
    const dom::array items = list.get_array().value_unsafe();
    const std::size_t n = items.size();
    if (n == 0) return unprocessable("events must not be empty");
    if (n > max_batch) return Error{errc::too_large, "a batch holds at most " + std::to_string(max_batch) + " events"};
    out.events.reserve(n);
    std::size_t i = 0;
    for (dom::element item : items) {
        auto p = decode_one(item);
        if (!p) return Error{p.error().code, "events[" + std::to_string(i) + "]: " + p.error().message};
        out.events.push_back(std::move(*p));
        ++i;
    }
    return out;
}

} // namespace

bool nesting_within(std::string_view text, std::size_t limit) {
    std::ptrdiff_t depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > static_cast<std::ptrdiff_t>(limit)) return false;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

Result<Event> decode_stored(std::string_view type, std::string_view data) {
    // One parser per thread, kept: its buffers grow to the largest row seen and are reused.
    thread_local dom::parser parser;
    dom::element root;
    if (parser.parse(data.data(), data.size()).get(root) != simdjson::SUCCESS) return unprocessable("stored data is not JSON");
    return decoder::decode(type, SimdValue<false>(root));
}

Result<PostedBody> decode_posted_body(std::string_view text, std::size_t max_batch) {
    // One byte-order mark at the start is skipped, as nlohmann's parser did.
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    auto not_json = [] { return bad_request("the body is not JSON (or not valid UTF-8)"); };

    // simdjson refuses containers deeper than max_depth, and also a non-empty one at that depth: what
    // it accepts is never nested deeper than ours, and the text need not be counted. What it refuses
    // is counted, so that a body both too deep and not JSON is refused as too deep, as always.
    thread_local dom::parser kept;
    std::optional<dom::parser> own;
    dom::parser* parser = &kept;
    if (text.size() > kept_parser_bytes) parser = &own.emplace();
    if (parser->max_depth() != max_nesting && parser->allocate(std::max<std::size_t>(text.size(), 4096), max_nesting) != simdjson::SUCCESS)
        return Error{errc::unavailable, "no memory to parse the body"};
    dom::element root;
    simdjson::error_code err = parser->parse(text.data(), text.size()).get(root);
    if (err == simdjson::SUCCESS) return decode_root(root, max_batch);
    if (err == simdjson::MEMALLOC) return Error{errc::unavailable, "no memory to parse the body"};

    if (!nesting_within(text, max_nesting)) return bad_request("the body is nested deeper than " + std::to_string(max_nesting) + " levels");
    if (err == simdjson::DEPTH_ERROR) {
        // A non-empty container at depth 32, which simdjson refuses and our limit allows: read again
        // without its limit (the count above holds it).
        dom::parser deep;
        err = deep.parse(text.data(), text.size()).get(root);
        if (err == simdjson::SUCCESS) return decode_root(root, max_batch);
    }
    if (err == simdjson::NUMBER_ERROR) return bad_request(bad_number);
    return not_json();
}

} // namespace gridloop::events
