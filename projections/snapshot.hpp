// The read model in a compact binary form, so that a server can start from a saved model and fold
// only the events after it. Pure: bytes in, bytes out; where the bytes live is the engine's business
// (engine/snapshots.hpp), and whether they belong to the log is checked there against the hash chain.
//
// One list of fields per type, `io(ar, x)`, serves both directions: `Out` writes what `In` reads in
// the same order. Integers are zigzag varints, doubles their 8 bytes, strings and containers a
// length then their elements; maps are written in key order and read back with an end hint.
#pragma once

#include "events/time.hpp"
#include "projections/day_map.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace gridloop::projections {

class Model;

namespace snapshot {

// Bumped whenever a field is added, removed or reordered: an older snapshot is then ignored (the
// engine folds the log instead) rather than misread.
inline constexpr std::uint32_t format_version = 4;

// Damaged or truncated bytes, or a model that does not hold together.
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Bytes kept in chunks of a fixed size: a part of a snapshot runs to hundreds of megabytes, and a
// std::string growing to that size by doubling touches three times the memory and moves every byte
// once more (in a forked snapshot child: a fifth of its CPU and twice its page faults).
class Chunks {
public:
    static constexpr std::size_t chunk_size = std::size_t(1) << 20;

    void append(const char* p, std::size_t n) {
        while (n > 0) {
            std::string& last = room();
            const std::size_t k = std::min(n, chunk_size - last.size());
            last.append(p, k);
            p += k, n -= k, size_ += k;
        }
    }
    void push_back(char c) { append(&c, 1); }
    std::size_t size() const { return size_; }
    const std::vector<std::string>& chunks() const { return chunks_; }
    std::string str() const; // all of them in one string
    // The same bytes, however they fall into chunks (a part opened and left empty has one empty chunk).
    friend bool operator==(const Chunks& a, const Chunks& b) { return a.size_ == b.size_ && a.str() == b.str(); }

private:
    friend class Out; // appends straight into room() while a value fits, then counts it
    // The last chunk, a new one when it is full: every chunk but the last holds chunk_size bytes.
    std::string& room() {
        if (chunks_.empty() || chunks_.back().size() == chunk_size) chunks_.emplace_back().reserve(chunk_size);
        return chunks_.back();
    }

    std::vector<std::string> chunks_;
    std::size_t size_ = 0;
};

// Writes into a string (small values, in tests) or into chunks (a snapshot's parts).
class Out {
public:
    static constexpr bool saving = true;
    explicit Out(std::string& bytes) : bytes_(&bytes) {}
    explicit Out(Chunks& chunks) : chunks_(&chunks), bytes_(&chunks.room()) {}
    void varint(std::uint64_t v) {
        char buf[10];
        std::size_t n = 0;
        while (v >= 0x80) {
            buf[n++] = static_cast<char>(v | 0x80);
            v >>= 7;
        }
        buf[n++] = static_cast<char>(v);
        bytes(buf, n);
    }
    void bytes(const void* p, std::size_t n) {
        if (!chunks_) bytes_->append(static_cast<const char*>(p), n);
        else if (bytes_->size() + n <= Chunks::chunk_size) { // the usual case: it fits in the chunk being filled
            bytes_->append(static_cast<const char*>(p), n);
            chunks_->size_ += n;
        } else {
            chunks_->append(static_cast<const char*>(p), n);
            bytes_ = &chunks_->room();
        }
    }

private:
    Chunks* chunks_ = nullptr;
    std::string* bytes_;
};

// Reads from a source that fills a buffer and returns how many bytes it gave (0 at the end). A
// length is never believed beyond the bytes left, so damaged input cannot ask for huge allocations.
class In {
public:
    static constexpr bool saving = false;
    using Source = std::function<std::size_t(char* buffer, std::size_t size)>;
    In(Source source, std::uint64_t total) : source_(std::move(source)), left_(total), buffer_(1 << 20) {}

    std::uint64_t varint() {
        if (end_ - at_ >= 10) { // the usual case: decode straight from the buffer
            std::uint64_t v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                const auto b = static_cast<unsigned char>(buffer_[at_++]);
                v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
                if (!(b & 0x80)) return v;
            }
            throw Error("snapshot: a number runs past 64 bits");
        }
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            const auto b = static_cast<unsigned char>(byte());
            v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        throw Error("snapshot: a number runs past 64 bits");
    }
    void bytes(void* p, std::size_t n) {
        auto* out = static_cast<char*>(p);
        while (n > 0) {
            if (at_ == end_) fill();
            const std::size_t k = std::min(n, end_ - at_);
            std::memcpy(out, buffer_.data() + at_, k);
            at_ += k, out += k, n -= k;
        }
    }
    // A count of elements each at least one byte long.
    std::size_t count() {
        const std::uint64_t n = varint();
        if (n > remaining()) throw Error("snapshot: a length of " + std::to_string(n) + " runs past the end");
        return static_cast<std::size_t>(n);
    }
    std::uint64_t remaining() const { return left_ + (end_ - at_); }

private:
    char byte() {
        if (at_ == end_) fill();
        return buffer_[at_++];
    }
    void fill() {
        if (left_ == 0) throw Error("snapshot: truncated");
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left_, buffer_.size()));
        const std::size_t got = source_(buffer_.data(), want);
        if (got == 0 || got > want) throw Error("snapshot: truncated");
        left_ -= got, at_ = 0, end_ = got;
    }
    Source source_;
    std::uint64_t left_;
    std::vector<char> buffer_;
    std::size_t at_ = 0, end_ = 0;
};

template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> struct is_vector : std::false_type {};
template <class T, class A> struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T> struct is_map : std::false_type {};
template <class K, class V, class C, class A> struct is_map<std::map<K, V, C, A>> : std::true_type {};
template <class T> struct is_day_map : std::false_type {};
template <class V> struct is_day_map<DayMap<V>> : std::true_type {};
template <class T> struct is_pair : std::false_type {};
template <class A, class B> struct is_pair<std::pair<A, B>> : std::true_type {};
template <class T> struct is_array : std::false_type {};
template <class T, std::size_t N> struct is_array<std::array<T, N>> : std::true_type {};

template <class Ar, class T> void field(Ar& ar, T& x);

// Reads a std::map written in key order, calling each(key, value) as each entry is read (entries
// never move afterwards).
template <class Map, class F> void read_map(In& in, Map& x, F&& each) {
    x.clear();
    for (std::size_t n = in.count(); n > 0; --n) {
        typename Map::key_type k{};
        field(in, k);
        const std::size_t before = x.size();
        const auto it = x.emplace_hint(x.end(), std::move(k), typename Map::mapped_type{});
        if (x.size() == before || std::next(it) != x.end()) throw Error("snapshot: map keys out of order");
        field(in, it->second);
        each(it->first, it->second);
    }
}

// One value in either direction. Structs provide `void io(Ar&, T&)` found by argument-dependent lookup.
template <class Ar, class T> void field(Ar& ar, T& x) {
    if constexpr (std::is_same_v<T, bool>) {
        if constexpr (Ar::saving) ar.varint(x ? 1 : 0);
        else x = ar.varint() != 0;
    } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
        if constexpr (Ar::saving) {
            const auto v = static_cast<std::int64_t>(x);
            ar.varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
        } else {
            const std::uint64_t u = ar.varint();
            x = static_cast<T>(static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1)));
        }
    } else if constexpr (std::is_same_v<T, double>) {
        ar.bytes(&x, sizeof x); // the same call both ways: Out reads, In writes
    } else if constexpr (std::is_same_v<T, std::string>) {
        if constexpr (Ar::saving) {
            ar.varint(x.size());
            ar.bytes(x.data(), x.size());
        } else {
            x.resize(ar.count());
            ar.bytes(x.data(), x.size());
        }
    } else if constexpr (std::is_same_v<T, events::Instant>) {
        auto ms = x.time_since_epoch().count();
        field(ar, ms);
        if constexpr (!Ar::saving) x = events::Instant(events::Millis(ms));
    } else if constexpr (std::is_same_v<T, std::chrono::local_days>) {
        auto days = x.time_since_epoch().count();
        field(ar, days);
        if constexpr (!Ar::saving) x = std::chrono::local_days(std::chrono::days(days));
    } else if constexpr (is_optional<T>::value) {
        bool has = x.has_value();
        field(ar, has);
        if constexpr (Ar::saving) {
            if (has) field(ar, *x);
        } else {
            x.reset();
            if (has) field(ar, x.emplace());
        }
    } else if constexpr (is_vector<T>::value) {
        if constexpr (Ar::saving) {
            ar.varint(x.size());
            for (auto& e : x) field(ar, e);
        } else {
            x.clear();
            x.resize(ar.count());
            for (auto& e : x) field(ar, e);
        }
    } else if constexpr (is_map<T>::value) {
        if constexpr (Ar::saving) {
            ar.varint(x.size());
            for (auto& [k, v] : x) {
                field(ar, const_cast<typename T::key_type&>(k));
                field(ar, v);
            }
        } else {
            read_map(ar, x, [](const auto&, const auto&) {});
        }
    } else if constexpr (is_day_map<T>::value) { // as the std::map it stands for, keys checked the same way
        if constexpr (Ar::saving) {
            ar.varint(x.size());
            for (std::size_t i = 0; i < x.size(); ++i) {
                std::int64_t k = x.keys()[i];
                field(ar, k);
                field(ar, x.values()[i]);
            }
        } else {
            x.clear();
            for (std::size_t n = ar.count(); n > 0; --n) {
                std::int64_t k = 0;
                field(ar, k);
                if (!x.empty() && k <= x.keys().back()) throw Error("snapshot: map keys out of order");
                field(ar, x[k]);
            }
        }
    } else if constexpr (is_pair<T>::value) {
        field(ar, x.first);
        field(ar, x.second);
    } else if constexpr (is_array<T>::value) {
        for (auto& e : x) field(ar, e);
    } else {
        io(ar, x);
    }
}

// Several values in order.
template <class Ar, class... T> void fields(Ar& ar, T&... xs) { (field(ar, xs), ...); }

} // namespace snapshot

namespace snapshot {
// The model is saved in parts that load side by side on two threads: what the rest refers to (the
// policy, the grids, the name table), the cases in two halves by id, the members, the cases per grid,
// and the statistics index (which refers to cases and members by rank).
inline constexpr std::size_t part_count = 6;
using Parts = std::array<Chunks, part_count>;
// A reader over part i. Called once for each part, from the loading thread or a second one.
using Opener = std::function<In(std::size_t part)>;
} // namespace snapshot

// The whole model, and back. `load` reads every part to its end and throws snapshot::Error on bytes
// that do not decode (or whatever `open` or a reader's source throws); it does not know which log they
// came from (the engine checks the position's hash first).
void save(const Model& model, snapshot::Parts& parts);
Model load(const snapshot::Opener& open);

} // namespace gridloop::projections
