// Chain verification over the raw stored envelopes; events are never decoded.
#include "engine/verify.hpp"

#include <string_view>
#include <unordered_map>

namespace gridloop::engine {
namespace {

constexpr std::int64_t progress_every = 1 << 16;

std::string at_position(std::int64_t p) { return "position " + std::to_string(p) + ": "; }

// Heterogeneous lookup, so that checking a stream's version allocates only for a new stream.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

} // namespace

VerifyResult verify(const StoreReader& store, std::int64_t from, std::int64_t to,
                    const std::function<void(std::int64_t, std::int64_t)>& progress) {
    VerifyResult result;
    auto fail = [&](std::int64_t position, std::string problem) {
        result.ok = false;
        result.first_bad_position = position;
        result.problem = at_position(position) + std::move(problem);
    };

    if (from < 1) from = 1;
    if (to == 0) to = store.head().position;
    const std::int64_t total = to >= from ? to - from + 1 : 0;
    if (total == 0) {
        if (progress) progress(0, 0);
        return result;
    }

    std::string prev_hash = events::zero_hash();
    std::string prev_recorded_at;
    if (from > 1) {
        const auto before = store.at(from - 1);
        if (!before) {
            fail(from - 1, "missing (the row before the checked range)");
            return result;
        }
        prev_hash = before->hash;
        prev_recorded_at = before->recorded_at;
    }

    const bool check_versions = from == 1; // earlier versions are unknown when starting later
    std::unordered_map<std::string, std::int64_t, StringHash, std::equal_to<>> versions;
    std::int64_t expected = from;

    store.scan_checked(from - 1, to, [&](const events::RawEnvelope& r, std::string_view storage) {
        ++result.checked;
        if (!storage.empty()) {
            fail(r.position, std::string(storage));
            return false;
        }
        if (r.position != expected) {
            // The missing row is the bad position; the row found is reported in the sentence.
            --result.checked;
            fail(expected, "missing (the log jumps from " + std::to_string(expected - 1) + " to " +
                               std::to_string(r.position) + ")");
            return false;
        }
        if (r.prev_hash != prev_hash) {
            fail(r.position, expected == 1 ? "prev_hash is not the zero hash"
                                           : "prev_hash does not match the hash of position " + std::to_string(expected - 1));
            return false;
        }
        if (r.hash != events::chain_hash(r)) {
            fail(r.position, "hash does not match its content");
            return false;
        }
        if (r.recorded_at < prev_recorded_at) {
            fail(r.position, "recorded_at " + r.recorded_at + " is before " + prev_recorded_at + " of the previous position");
            return false;
        }
        if (check_versions) {
            auto it = versions.find(std::string_view(r.stream));
            const std::int64_t last = it == versions.end() ? 0 : it->second;
            if (r.version != last + 1) {
                fail(r.position, "version " + std::to_string(r.version) + " of stream " + r.stream +
                                     (last == 0 ? " is its first (expected 1)" : " follows version " + std::to_string(last)));
                return false;
            }
            if (it == versions.end()) versions.emplace(r.stream, r.version);
            else it->second = r.version;
        }
        prev_hash = r.hash;
        prev_recorded_at = r.recorded_at;
        ++expected;
        if (progress && result.checked % progress_every == 0) progress(result.checked, total);
        return true;
    });

    if (result.ok && expected <= to)
        fail(expected, "missing (the log ends at " + std::to_string(expected - 1) + ")");
    if (progress) progress(result.checked, total);
    return result;
}

} // namespace gridloop::engine
