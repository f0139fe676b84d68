// libFuzzer target: the event decoder and the envelope parser on any JSON text.
//
// Besides not crashing, what decodes must survive its own canonical form: a posted event's encoded
// data decodes to the same event, and an envelope written as text parses back to the same envelope.
#include "events/envelope.hpp"
#include "events/event.hpp"
#include "fuzz/support.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace gridloop;
using nlohmann::json;

namespace {

void check_event(const events::Event& e, std::string_view input) {
    const std::string text = events::encode_data(e);
    const json data = json::parse(text, nullptr, false);
    if (data.is_discarded()) fuzz::fail("the canonical data of a decoded event is not JSON", input);
    if (events::canonical_json(data) != text) fuzz::fail("the written data is not what canonical_json prints for it", input);
    auto again = events::decode_event(events::type_name(e), data);
    if (!again) fuzz::fail("the canonical data of a decoded event does not decode: " + again.error().message, input);
    if (!(*again == e)) fuzz::fail("the canonical data of a decoded event decodes to another event", input);
    if (events::encode_data(*again) != text) fuzz::fail("the canonical data is not stable", input);
    if (events::stream_of(e).empty()) fuzz::fail("a decoded event has no stream", input);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(bytes), size);
    const json j = json::parse(input, nullptr, false);
    if (j.is_discarded()) return 0;

    // As a client posts it.
    if (auto p = events::decode_posted(j)) check_event(p->event, input);
    // The decoder alone, whatever else the object holds.
    if (j.is_object() && j.contains("type") && j.at("type").is_string() && j.contains("data"))
        if (auto e = events::decode_event(j.at("type").get<std::string>(), j.at("data"))) check_event(*e, input);

    // As an exported envelope.
    auto raw = events::raw_from_json(j);
    if (!raw) return 0;
    const std::string text = events::envelope_text(*raw);
    const json reparsed = json::parse(text, nullptr, false);
    if (reparsed.is_discarded()) fuzz::fail("envelope_text is not JSON: " + text, input);
    auto raw2 = events::raw_from_json(reparsed);
    if (!raw2) fuzz::fail("envelope_text does not parse back: " + raw2.error().message, input);
    if (!(*raw2 == *raw)) fuzz::fail("envelope_text parses back to another envelope", input);
    const std::string hash = events::chain_hash(*raw);
    if (!hash.empty() && hash.size() != 64) fuzz::fail("chain_hash is neither empty nor 64 hex digits", input);
    if (auto env = events::from_raw(*raw)) {
        check_event(env->event, input);
        auto back = events::from_raw(events::to_raw(*env));
        if (!back) fuzz::fail("to_raw of a decoded envelope does not decode: " + back.error().message, input);
        if (!(back->event == env->event) || back->occurred_at != env->occurred_at || back->recorded_at != env->recorded_at)
            fuzz::fail("to_raw of a decoded envelope decodes to another envelope", input);
    }
    return 0;
}
