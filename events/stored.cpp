// The stored-row fast path of the strict decoder: simdjson's DOM as the decoder's JSON value.
#include "events/decoder.hpp"
#include "events/event.hpp"

#include <simdjson.h>

#include <stdexcept>

namespace gridloop::events {
namespace {

namespace dom = simdjson::dom;

class SimdValue {
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
        for (dom::key_value_pair kv : o)
            if (!f(kv.key, SimdValue(kv.value))) break;
    }

private:
    // Called only after kind() said so; the decoder never asks an array for members or the reverse.
    dom::array as_array() const {
        dom::array a;
        if (e_.get_array().get(a) != simdjson::SUCCESS) throw std::logic_error("events::decode_stored: not an array");
        return a;
    }
    dom::object as_object() const {
        dom::object o;
        if (e_.get_object().get(o) != simdjson::SUCCESS) throw std::logic_error("events::decode_stored: not an object");
        return o;
    }

    dom::element e_;
};

} // namespace

Result<Event> decode_stored(std::string_view type, std::string_view data) {
    // One parser per thread, kept: its buffers grow to the largest row seen and are reused.
    thread_local dom::parser parser;
    dom::element root;
    if (parser.parse(data.data(), data.size()).get(root) != simdjson::SUCCESS) return unprocessable("stored data is not JSON");
    return decoder::decode(type, SimdValue(root));
}

} // namespace gridloop::events
