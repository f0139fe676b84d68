// A map from day number to value for the stats index's per-day tallies: flat and sorted, so that a
// lookup is a binary search over a vector of keys (few cache lines) rather than a walk down a tree.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace gridloop::projections {

// Keys and values in two vectors, in key order. Days arrive almost always at the end (the log's
// times never decrease), so the last key is tried before searching, and an insertion in the middle,
// which moves the values after it, is rare. A reference to a value holds until the next insertion
// or erasure.
template <class V> class DayMap {
public:
    bool empty() const { return keys_.empty(); }
    std::size_t size() const { return keys_.size(); }
    std::span<const std::int64_t> keys() const { return keys_; }
    std::span<V> values() { return values_; } // in key order

    // The value of `day`, made (value-initialised) when it is missing.
    V& operator[](std::int64_t day) {
        const std::size_t i = lower(day);
        if (i < keys_.size() && keys_[i] == day) return values_[i];
        values_.emplace(values_.begin() + static_cast<std::ptrdiff_t>(i));
        try {
            keys_.insert(keys_.begin() + static_cast<std::ptrdiff_t>(i), day);
        } catch (...) {
            values_.erase(values_.begin() + static_cast<std::ptrdiff_t>(i));
            throw;
        }
        return values_[i];
    }
    // The value of `day`, or null.
    V* find(std::int64_t day) {
        const std::size_t i = lower(day);
        return i < keys_.size() && keys_[i] == day ? &values_[i] : nullptr;
    }
    // Removes `day`; false when it is missing.
    bool erase(std::int64_t day) {
        const std::size_t i = lower(day);
        if (i == keys_.size() || keys_[i] != day) return false;
        keys_.erase(keys_.begin() + static_cast<std::ptrdiff_t>(i));
        values_.erase(values_.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
    }
    // The values of the days in [first, end), in key order.
    std::span<const V> between(std::int64_t first, std::int64_t end) const {
        const std::size_t b = lower(first);
        return std::span<const V>(values_).subspan(b, std::max(b, lower(end)) - b);
    }
    void clear() {
        keys_.clear();
        values_.clear();
    }

private:
    // The index of the first key not below `day`.
    std::size_t lower(std::int64_t day) const {
        if (keys_.empty() || day > keys_.back()) return keys_.size();
        if (day == keys_.back()) return keys_.size() - 1;
        return static_cast<std::size_t>(std::lower_bound(keys_.begin(), keys_.end(), day) - keys_.begin());
    }

    std::vector<std::int64_t> keys_;
    std::vector<V> values_;
};

} // namespace gridloop::projections
