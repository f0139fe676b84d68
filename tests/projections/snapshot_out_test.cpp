// snapshot::Out into chunks: the same bytes as into one string, whatever falls on a chunk's edge.
#include "projections/snapshot.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using gridloop::projections::snapshot::Chunks;
using gridloop::projections::snapshot::Out;
namespace snapshot = gridloop::projections::snapshot;

constexpr std::size_t chunk = Chunks::chunk_size;

// Writes the same fields through `out`: varints of every length, and strings short and long.
template <class Sink> void write_mix(Sink& sink, std::uint32_t seed) {
    Out out(sink);
    std::mt19937_64 random(seed);
    for (int i = 0; i < 60000; ++i) {
        switch (random() % 4) {
        case 0: out.varint(random() >> (random() % 64)); break; // 1 to 10 bytes
        case 1: {
            std::string s(random() % 300, static_cast<char>('a' + i % 26));
            snapshot::field(out, s);
            break;
        }
        case 2: {
            std::int64_t x = static_cast<std::int64_t>(random());
            snapshot::field(out, x);
            break;
        }
        default:
            if (i % 9000 == 0) { // now and then longer than a chunk: it spans three
                std::string s(2 * chunk + 12345, static_cast<char>('A' + i % 26));
                snapshot::field(out, s);
            }
        }
    }
}

void check_shape(const Chunks& c) {
    std::size_t total = 0;
    for (std::size_t i = 0; i < c.chunks().size(); ++i) {
        if (i + 1 < c.chunks().size()) CHECK(c.chunks()[i].size() == chunk);
        total += c.chunks()[i].size();
    }
    CHECK(total == c.size());
}

} // namespace

TEST_CASE("snapshot out: chunks hold the bytes one string would, every chunk but the last full") {
    for (const std::uint32_t seed : {1u, 2u, 3u}) {
        std::string whole;
        Chunks chunks;
        write_mix(whole, seed);
        write_mix(chunks, seed);
        REQUIRE(whole.size() > 3 * chunk);
        CHECK(chunks.size() == whole.size());
        CHECK(chunks.str() == whole);
        check_shape(chunks);
        Chunks again;
        write_mix(again, seed);
        CHECK(again == chunks);
    }
}

TEST_CASE("snapshot out: appends that end exactly on a chunk's edge, and one byte past it") {
    Chunks c;
    const std::string first(chunk - 3, 'x');
    c.append(first.data(), first.size());
    c.append("abc", 3);
    CHECK(c.chunks().size() == 1);
    c.push_back('d');
    REQUIRE(c.chunks().size() == 2);
    CHECK(c.chunks()[1] == "d");
    CHECK(c.size() == chunk + 1);
    CHECK(c.str() == first + "abcd");

    Chunks via_out; // the same through Out: a varint that would cross the edge goes whole into the next chunk's place
    {
        Out out(via_out);
        out.bytes(first.data(), first.size());
        out.varint(0x3fff); // two bytes
        out.varint(1);
        out.varint(300); // two bytes: one in the first chunk's last byte, one in the next
    }
    std::string expected;
    {
        Out out(expected);
        out.bytes(first.data(), first.size());
        out.varint(0x3fff);
        out.varint(1);
        out.varint(300);
    }
    CHECK(via_out.str() == expected);
    check_shape(via_out);

    Chunks opened, untouched; // equal bytes are equal chunks, whether an Out ever opened them or not
    { Out out(opened); }
    CHECK(opened == untouched);
    untouched.append(expected.data(), expected.size());
    CHECK(untouched == via_out);
    untouched.push_back('x');
    CHECK_FALSE(untouched == via_out);
}
