#include "engine/known_ids.hpp"

#include "engine/store.hpp"
#include "engine/thread_name.hpp"

#include <algorithm>
#include <functional>

namespace gridloop::engine {

namespace {

constexpr int bits_per_id = 7; // of the id's block: 7 × 9 bits of one 64-bit hash

struct Probe {
    std::size_t block;
    std::uint64_t bits; // the 9-bit bit numbers, packed
};

Probe probe(std::string_view id, std::size_t blocks) {
    const std::uint64_t h = std::hash<std::string_view>{}(id);
    std::uint64_t g = h ^ (h >> 31); // splitmix64's finalizer: the bit numbers from bits the block index does not use up
    g *= 0xbf58476d1ce4e5b9ULL;
    g ^= g >> 27;
    g *= 0x94d049bb133111ebULL;
    g ^= g >> 31;
    return {static_cast<std::size_t>(((h >> 32) * blocks) >> 32), g}; // blocks < 2^32
}

} // namespace

IdFilter::IdFilter(std::size_t capacity) : blocks_(std::max<std::size_t>(1, (capacity * 10 + 511) / 512), Block{}), capacity_(capacity) {}

void IdFilter::add(std::string_view id) {
    auto [b, g] = probe(id, blocks_.size());
    Block& block = blocks_[b];
    for (int i = 0; i < bits_per_id; ++i, g >>= 9) block.words[(g & 511) >> 6] |= std::uint64_t{1} << (g & 63);
    ++size_;
}

bool IdFilter::may_contain(std::string_view id) const {
    auto [b, g] = probe(id, blocks_.size());
    const Block& block = blocks_[b];
    for (int i = 0; i < bits_per_id; ++i, g >>= 9)
        if (!(block.words[(g & 511) >> 6] & std::uint64_t{1} << (g & 63))) return false;
    return true;
}

KnownIds::~KnownIds() {
    stopping_ = true;
    if (scan_.joinable()) scan_.join();
}

void KnownIds::load(const std::string& path) {
    if (scan_.joinable()) return;
    scan_ = std::thread([this, path] {
        name_this_thread("gl-known-ids");
        try {
            StoreReader reader(path);
            IdFilter filter(static_cast<std::size_t>(reader.head().position) + 1024); // positions are gapless: one id each
            reader.each_event_id([&](std::string_view id) {
                filter.add(id);
                return !stopping_.load(std::memory_order_relaxed);
            });
            if (stopping_) return;
            std::lock_guard lock(scan_mutex_);
            scanned_ = std::move(filter);
            scan_done_.store(true, std::memory_order_release);
        } catch (const std::exception&) {
            // Not ready, ever: every retry check asks the log, as without the filter.
        }
    });
}

void KnownIds::add(std::string_view id) {
    if (recent_.empty() || recent_.back().size() >= recent_.back().capacity())
        recent_.emplace_back(recent_.empty() ? std::size_t{1} << 16 : recent_.back().capacity() * 2);
    recent_.back().add(id);
}

bool KnownIds::ready() {
    if (!stored_ && scan_done_.load(std::memory_order_acquire)) {
        std::lock_guard lock(scan_mutex_);
        stored_ = std::move(scanned_);
    }
    return stored_.has_value();
}

bool KnownIds::may_contain(std::string_view id) {
    if (!ready()) return true;
    return stored_->may_contain(id) ||
           std::any_of(recent_.begin(), recent_.end(), [&](const IdFilter& f) { return f.may_contain(id); });
}

} // namespace gridloop::engine
