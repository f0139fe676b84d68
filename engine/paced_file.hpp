// A large file written without flooding the disk: for snapshots of hundreds of megabytes written
// while the log goes on committing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace gridloop::engine {

// Each chunk is handed to the disk as soon as it is written, and the one before it is waited for,
// so that at most two chunks are ever on their way. Written whole and then fsynced, a snapshot sat
// in the page cache until its fsync gave the disk all of it at once; the log's commits, whose
// fdatasync queues behind what the disk has been given, then stood still for a few hundred
// milliseconds.
class PacedFile {
public:
    static constexpr std::size_t default_chunk = std::size_t(8) << 20;

    // Creates (or truncates) the file; throws std::system_error when it cannot be opened.
    explicit PacedFile(const std::filesystem::path& path, std::size_t chunk = default_chunk);
    ~PacedFile(); // closes the file if finish() was not reached
    PacedFile(const PacedFile&) = delete;
    PacedFile& operator=(const PacedFile&) = delete;

    // False on a write error (errno tells which); nothing should be written after one.
    bool write(std::string_view bytes);
    // Makes everything durable (fsync) and closes the file. False on an error (errno tells which).
    bool finish();
    std::uint64_t size() const { return offset_; }

private:
    void hand_over_chunks(); // every whole chunk written and not yet handed to the disk

    int fd_ = -1;
    std::size_t chunk_;
    std::uint64_t offset_ = 0;  // bytes written
    std::uint64_t handed_ = 0;  // bytes handed to the disk (whole chunks)
};

} // namespace gridloop::engine
