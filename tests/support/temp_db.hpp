// A database path under the temp directory, unique per process and use; removed with its WAL files.
#pragma once

#include <unistd.h>

#include <atomic>
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
