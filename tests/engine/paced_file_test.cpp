// The paced writer of snapshot files: whatever the pieces and the chunk size, the file holds exactly
// the bytes written, and failures are reported rather than lost.
#include "engine/paced_file.hpp"
#include "tests/support/temp_db.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

using namespace gridloop;

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_CASE("a paced file holds exactly the bytes written, across many chunks and pieces of any size") {
    const std::string path = testing::temp_db("paced");
    std::string expected;
    {
        // A chunk of 4 KiB and pieces of 1 to 10,007 bytes: pieces that end inside a chunk, fill it
        // exactly, and span several chunks at once.
        engine::PacedFile f(path, 4096);
        std::size_t piece = 1;
        while (expected.size() < 300'000) {
            std::string bytes(piece, '\0');
            for (std::size_t i = 0; i < piece; ++i) bytes[i] = static_cast<char>((expected.size() + i) * 131 % 251);
            REQUIRE(f.write(bytes));
            expected += bytes;
            piece = piece * 7 % 10'007 + 1;
        }
        REQUIRE(f.write("")); // nothing to write is not an error
        CHECK(f.size() == expected.size());
        REQUIRE(f.finish());
    }
    CHECK(read_all(path) == expected);

    SUBCASE("a file written again is truncated first") {
        {
            engine::PacedFile f(path);
            REQUIRE(f.write("short"));
            REQUIRE(f.finish());
        }
        CHECK(read_all(path) == "short");
    }
    std::error_code ec;
    std::filesystem::remove(path, ec);
}

TEST_CASE("a paced file that cannot be created throws, naming the path") {
    const std::string path = testing::temp_db("paced-missing-dir") + "/snapshot.tmp";
    try {
        engine::PacedFile f(path);
        FAIL("created a file in a directory that does not exist");
    } catch (const std::system_error& e) {
        CHECK(std::string(e.what()).find(path) != std::string::npos);
    }
}

TEST_CASE("a paced file reports a write the disk refuses") {
    // /dev/full takes the open and refuses every write with ENOSPC.
    if (!std::filesystem::exists("/dev/full")) {
        MESSAGE("no /dev/full here: not checked");
        return;
    }
    engine::PacedFile f("/dev/full");
    errno = 0;
    CHECK_FALSE(f.write("x"));
    CHECK(errno == ENOSPC);
}
