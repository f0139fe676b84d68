// Online backup: a consistent copy while the writer goes on, which verifies and folds like the source.
#include "engine/verify.hpp"
#include "tests/support/engine_fixture.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using namespace gridloop;
using testing::EngineFixture;

TEST_SUITE("engine") {
TEST_CASE("backup: a consistent copy while events are being appended") {
    EngineFixture f;
    f.small_town();
    std::atomic<bool> stop{false};
    std::atomic<int> written{0};
    std::thread writer([&] {
        for (int i = 0; !stop && i < 5000; ++i)
            if (f.post(EngineFixture::report("c-" + std::to_string(i)))) ++written;
    });
    while (written < 50) std::this_thread::yield();
    testing::TempDb copy("backup");
    const auto head = engine::StoreReader(f.path).backup(copy.path());
    stop = true;
    writer.join();
    REQUIRE(head.position >= 9 + 50);
    // The copy is a prefix of the source, verifies, and folds to the source's model at that position.
    engine::StoreReader source(f.path), backup(copy.path());
    CHECK(backup.head() == head);
    CHECK(source.at(head.position)->hash == head.hash);
    CHECK(engine::verify(backup).ok);
    CHECK(engine::fold(backup).cases().size() == engine::fold(source, head.position).cases().size());
    SUBCASE("never over an existing file") { CHECK_THROWS_AS(source.backup(copy.path()), engine::StoreError); }
}
}
