#include "engine/paced_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace gridloop::engine {

PacedFile::PacedFile(const std::filesystem::path& path, std::size_t chunk) : chunk_(chunk > 0 ? chunk : default_chunk) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot create " + path.string());
}

PacedFile::~PacedFile() {
    if (fd_ >= 0) ::close(fd_);
}

bool PacedFile::write(std::string_view bytes) {
    while (!bytes.empty()) {
        // Up to the end of the current chunk: a part of hundreds of megabytes is not put in the page
        // cache whole before the first chunk of it is handed over.
        const std::size_t room = chunk_ - static_cast<std::size_t>(offset_ - handed_);
        const ssize_t n = ::write(fd_, bytes.data(), std::min(bytes.size(), room));
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
        offset_ += static_cast<std::uint64_t>(n);
        hand_over_chunks();
    }
    return true;
}

void PacedFile::hand_over_chunks() {
    for (; offset_ - handed_ >= chunk_; handed_ += chunk_) {
        const auto at = static_cast<off_t>(handed_), len = static_cast<off_t>(chunk_);
        // Best effort: the final fsync reports what failed. sync_file_range writes the pages out
        // without a cache flush of the device, so it adds no barrier of its own to the commits'.
        ::sync_file_range(fd_, at, len, SYNC_FILE_RANGE_WRITE);
        if (handed_ >= chunk_)
            ::sync_file_range(fd_, at - len, len, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    }
}

bool PacedFile::finish() {
    const bool synced = ::fsync(fd_) == 0;
    const int err = errno;
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    if (!synced) errno = err;
    return synced && closed;
}

} // namespace gridloop::engine
