// A database path under the temp directory, unique per process and use; removed with its WAL files.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace gridloop::testing {

// A fresh path for a database the caller manages itself (e.g. one a child process writes).
inline std::string temp_db(const std::string& stem) {
    static std::mt19937_64 rng{std::random_device{}()};
    return (std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(rng()) + ".db")).string();
}

inline void remove_db(const std::string& path) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix, ec);
    std::filesystem::remove_all(path + ".snapshots", ec); // the engine's saved models (engine/snapshots.hpp)
}

class TempDb {
public:
    explicit TempDb(const std::string& tag) {
        static std::atomic<int> counter{0};
        const auto name = "gridloop-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                          std::to_string(std::random_device{}()) + ".db";
        path_ = (std::filesystem::temp_directory_path() / name).string();
        remove();
    }
    ~TempDb() { remove(); }
    TempDb(const TempDb&) = delete;
    TempDb& operator=(const TempDb&) = delete;
    const std::string& path() const { return path_; }

private:
    void remove() const { remove_db(path_); }
    std::string path_;
};

} // namespace gridloop::testing

namespace gridloop::testing {

// The sample town as `gridloop demo --no-serve` writes it (with its tokens file beside it), in a
// directory of its own under the temp directory, removed with everything in it.
class DemoTown {
public:
    DemoTown() {
        dir_ = std::filesystem::path(temp_db("gridloop-demo-town")).replace_extension("");
        std::filesystem::create_directories(dir_);
        db_ = (dir_ / "town.db").string();
        const std::string binary = std::string(GRIDLOOP_BINARY_DIR) + "/cli/gridloop";
        ok_ = std::system(("'" + binary + "' demo --no-serve --db '" + db_ + "' > /dev/null").c_str()) == 0;
    }
    ~DemoTown() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    DemoTown(const DemoTown&) = delete;
    DemoTown& operator=(const DemoTown&) = delete;
    bool ok() const { return ok_; } // the demo command exited 0
    const std::string& db() const { return db_; }

private:
    std::filesystem::path dir_;
    std::string db_;
    bool ok_ = false;
};

} // namespace gridloop::testing
