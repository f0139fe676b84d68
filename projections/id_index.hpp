// Entities by id: the id-ordered map that listings and snapshots walk, and beside it a hash index for
// point lookups, open addressing over pointers into the map's nodes (which never move). A lookup costs
// a hash and about two cache misses, where a std::map of a million string ids costs some twenty
// compares, each one a miss.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridloop::projections {

template <class T> using ById = std::map<std::string, T, std::less<>>;

// An id with its hash, computed once for a lookup that tries several tables (the engine's pending
// views, then the model). Converts implicitly from any string, hashing it there.
struct HashedId {
    HashedId(std::string_view s) : id(s), hash(std::hash<std::string_view>{}(s)) {}
    HashedId(const std::string& s) : HashedId(std::string_view(s)) {}
    HashedId(const char* s) : HashedId(std::string_view(s)) {}
    std::string_view id;
    std::size_t hash; // std::hash<std::string_view> of id
};

// The index alone: `Id` is the std::string member of T holding its id, set before it is indexed and
// never changed after.
template <class T, std::string T::*Id> class IdIndex {
public:
    T* find(HashedId key) const {
        if (slots_.empty()) return nullptr;
        const std::string_view id = key.id;
        const std::uint64_t h = mix(key.hash);
        const std::uintptr_t tag = tag_of(h);
        for (std::size_t i = home(h);; i = (i + 1) & mask_) {
            const std::uintptr_t s = slots_[i];
            if (!s) return nullptr;
            // The tag rules out most other ids without reading them (each would be a cache miss).
            if ((s & tag_mask) != tag) continue;
            T* x = reinterpret_cast<T*>(s & ~tag_mask);
            if (x->*Id == id) return x;
        }
    }
    // x's id must not be in the index yet; x must stay where it is while indexed.
    void insert(T* x) {
        if (2 * (size_ + 1) > slots_.size()) rehash(std::max<std::size_t>(16, 2 * slots_.size()));
        const std::uint64_t h = mix(std::hash<std::string_view>{}(x->*Id));
        put(reinterpret_cast<std::uintptr_t>(x) | tag_of(h), h);
        ++size_;
    }
    void clear() {
        slots_.clear();
        highs_.clear();
        size_ = mask_ = 0;
    }

private:
    // A slot holds the pointer with a tag from the id's hash (1..7) in its low bits, which T's
    // alignment leaves zero; 0 is an empty slot.
    static_assert(alignof(T) >= 8);
    static constexpr std::uintptr_t tag_mask = 7;
    static std::uint64_t mix(std::size_t h) { return h * 0x9E3779B97F4A7C15ull; }
    static std::uintptr_t tag_of(std::uint64_t h) { return static_cast<std::uintptr_t>(h % 7 + 1); } // home() uses the high bits
    // The home slot is the hash's top bits: the top 32 suffice for up to 2^32 slots.
    std::size_t home(std::uint64_t h) const { return static_cast<std::size_t>(h >> shift_); }
    // Puts a slot's value (pointer and tag) for the hash h in the first free slot from h's home.
    void put(std::uintptr_t slot, std::uint64_t h) {
        std::size_t i = home(h);
        while (slots_[i]) i = (i + 1) & mask_;
        slots_[i] = slot;
        highs_[i] = static_cast<std::uint32_t>(h >> 32);
    }
    // Moves every slot to a table of `capacity` (a power of two) from the hash bits kept beside it,
    // without reading the ids: at millions of entries, hashing each id again was a cache miss per
    // entry, and the model's lock was held for the second or so that took.
    void rehash(std::size_t capacity) {
        if (capacity > (std::size_t(1) << 32)) throw std::length_error("IdIndex: more than 2^32 slots");
        std::vector<std::uintptr_t> old(capacity, 0);
        std::vector<std::uint32_t> old_highs(capacity, 0);
        old.swap(slots_);
        old_highs.swap(highs_);
        mask_ = capacity - 1;
        shift_ = 64 - std::countr_zero(capacity);
        for (std::size_t i = 0; i < old.size(); ++i)
            if (old[i]) put(old[i], std::uint64_t(old_highs[i]) << 32);
    }

    std::vector<std::uintptr_t> slots_; // at most half full
    std::vector<std::uint32_t> highs_;  // the top 32 bits of each slot's hash, for rehash
    std::size_t size_ = 0, mask_ = 0;
    int shift_ = 64;
};

// The map and its index together. Elements are added through try_emplace (which sets their id) and
// never erased.
template <class T, std::string T::*Id> class Indexed {
public:
    const ById<T>& map() const { return map_; }
    T* find(HashedId id) const { return index_.find(id); }
    // The element with this id, and whether it is new (then default-constructed but for its id).
    std::pair<T*, bool> try_emplace(std::string_view id) {
        if (T* x = index_.find(id)) return {x, false};
        T& x = map_.try_emplace(std::string(id)).first->second;
        x.*Id = std::string(id);
        index_.insert(&x);
        return {&x, true};
    }
    // Replaces the whole map (a snapshot's) and indexes it; each element's id must be its key.
    void assign(ById<T> map) {
        map_ = std::move(map);
        index_.clear();
        for (auto& [_, x] : map_) index_.insert(&x);
    }
    std::size_t size() const { return map_.size(); }

private:
    ById<T> map_;
    IdIndex<T, Id> index_;
};

// Each pointer's place in a list of distinct pointers (a snapshot refers to cases and members by
// their rank in id order): open addressing with Fibonacci hashing, a cache miss or so a lookup.
template <class T> class RankOf {
public:
    explicit RankOf(const std::vector<const T*>& listed)
        : shift_(64 - std::bit_width(std::max<std::size_t>(2 * listed.size(), 16) - 1)),
          slots_(std::size_t(1) << (64 - shift_), Slot{nullptr, 0}) {
        for (std::size_t i = 0; i < listed.size(); ++i) slots_[slot(listed[i])] = Slot{listed[i], static_cast<std::uint32_t>(i)};
    }
    // Throws std::out_of_range for a pointer not listed.
    std::uint32_t at(const T* p) const {
        const Slot& s = slots_[slot(p)];
        if (s.p != p || !p) throw std::out_of_range("RankOf: not listed");
        return s.rank;
    }

private:
    struct Slot {
        const T* p;
        std::uint32_t rank;
    };
    std::size_t slot(const T* p) const {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = static_cast<std::size_t>((reinterpret_cast<std::uintptr_t>(p) * 0x9E3779B97F4A7C15ull) >> shift_);
        while (slots_[i].p && slots_[i].p != p) i = (i + 1) & mask;
        return i;
    }
    int shift_;
    std::vector<Slot> slots_;
};

} // namespace gridloop::projections
