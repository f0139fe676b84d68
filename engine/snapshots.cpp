// Snapshot files: a fixed header, then the body: a table of the model's parts
// (projections/snapshot.hpp), then the parts themselves, in order.
//
//   16 bytes  "GRIDLOOPSNAPSHOT"
//    4 bytes  format version, little-endian (projections::snapshot::format_version)
//    8 bytes  position, little-endian
//   64 bytes  hash of the event at that position, lowercase hex
//    8 bytes  body size in bytes, little-endian
//   32 bytes  SHA-256 of the table
// The table:
//    4 bytes  number of parts, little-endian
//   for each part: 8 bytes its size, little-endian; 32 bytes its SHA-256
// Each part is checked against its own SHA-256 as it is read, so that the parts load side by side.
#include "engine/snapshots.hpp"

#include "engine/paced_file.hpp"

#include "projections/snapshot.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fcntl.h>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

namespace gridloop::engine {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view magic = "GRIDLOOPSNAPSHOT";
constexpr std::size_t header_size = 16 + 4 + 8 + 64 + 8 + 32;
constexpr std::size_t entry_size = 8 + 32; // of a part in the table
constexpr std::size_t table_size = 4 + projections::snapshot::part_count * entry_size;
using Digest = std::array<unsigned char, 32>;

struct Header {
    std::uint32_t format = 0;
    std::int64_t position = 0;
    std::string hash;
    std::uint64_t body_size = 0;
    Digest digest{};
};

void put_le(std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i) & 0xff));
}
std::uint64_t get_le(const unsigned char* p, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return v;
}

// Fetched once, explicitly: OpenSSL's implicit fetch (EVP_sha256()) takes the method store's lock at
// every use, and a child process forked to write a snapshot must not need a lock another thread may
// have held at the fork. Snapshots' constructor fetches it in the parent.
const EVP_MD* sha256_md() {
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
        if (!ctx_ || !sha256_md() || EVP_DigestInit_ex(ctx_.get(), sha256_md(), nullptr) != 1) throw std::runtime_error("SHA-256 unavailable");
    }
    void update(const void* p, std::size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
    Digest done() {
        Digest d{};
        unsigned int n = 0;
        EVP_DigestFinal_ex(ctx_.get(), d.data(), &n);
        return d;
    }

private:
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

struct File {
    std::FILE* f = nullptr;
    explicit File(std::FILE* file) : f(file) {}
    ~File() {
        if (f) std::fclose(f);
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;
};

std::string name_of(std::int64_t position) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%020lld.snap", static_cast<long long>(position));
    return buf;
}

// The temp file a write goes through before its rename.
fs::path tmp_of(const fs::path& dir, std::int64_t position) {
    fs::path tmp = dir / name_of(position);
    tmp += ".tmp";
    return tmp;
}

Header read_header(std::FILE* f) {
    std::array<unsigned char, header_size> b{};
    if (std::fread(b.data(), 1, b.size(), f) != b.size()) throw std::runtime_error("shorter than a snapshot header");
    if (std::string_view(reinterpret_cast<const char*>(b.data()), magic.size()) != magic) throw std::runtime_error("not a gridloop snapshot");
    Header h;
    const unsigned char* p = b.data() + magic.size();
    h.format = static_cast<std::uint32_t>(get_le(p, 4));
    h.position = static_cast<std::int64_t>(get_le(p + 4, 8));
    h.hash.assign(reinterpret_cast<const char*>(p + 12), 64);
    h.body_size = get_le(p + 76, 8);
    std::copy(p + 84, p + 116, h.digest.begin());
    return h;
}

void sync_dir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

} // namespace

Snapshots::Snapshots(const std::string& db_path) : dir_(db_path + ".snapshots") { sha256_md(); }

std::vector<Snapshots::Entry> Snapshots::list() const {
    std::vector<Entry> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        const std::string stem = p.stem().string();
        if (p.extension() != ".snap" || stem.size() != 20 || stem.find_first_not_of("0123456789") != std::string::npos) continue;
        out.push_back(Entry{std::stoll(stem), p});
    }
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.position < b.position; });
    return out;
}

void Snapshots::remove_unfinished(std::int64_t position) const {
    std::error_code ec;
    fs::remove(tmp_of(dir_, position), ec);
}

fs::path Snapshots::write(std::int64_t position, const std::string& hash, const projections::snapshot::Parts& parts, std::size_t keep) const {
    if (position < 1 || hash.size() != 64) throw std::invalid_argument("snapshot: no position or hash to take it at");
    fs::create_directories(dir_);
    std::string table;
    put_le(table, parts.size(), 4);
    std::uint64_t body_size = table_size;
    for (const auto& part : parts) {
        Sha256 sha;
        for (const auto& chunk : part.chunks()) sha.update(chunk.data(), chunk.size());
        const Digest digest = sha.done();
        put_le(table, part.size(), 8);
        table.append(reinterpret_cast<const char*>(digest.data()), digest.size());
        body_size += part.size();
    }
    Sha256 sha;
    sha.update(table.data(), table.size());
    const Digest digest = sha.done();
    std::string header(magic);
    put_le(header, projections::snapshot::format_version, 4);
    put_le(header, static_cast<std::uint64_t>(position), 8);
    header += hash;
    put_le(header, body_size, 8);
    header.append(reinterpret_cast<const char*>(digest.data()), digest.size());

    const fs::path final_path = dir_ / name_of(position);
    const fs::path tmp = tmp_of(dir_, position);
    {
        PacedFile f(tmp); // std::system_error (a std::runtime_error) naming the file when it cannot be created
        const auto put = [&](const std::string& bytes) { return f.write(bytes); };
        const auto put_part = [&](const projections::snapshot::Chunks& part) { return std::all_of(part.chunks().begin(), part.chunks().end(), put); };
        const bool ok = put(header) && put(table) && std::all_of(parts.begin(), parts.end(), put_part) && f.finish();
        if (!ok) {
            const int err = errno;
            std::error_code ec;
            fs::remove(tmp, ec);
            throw std::runtime_error("cannot write " + tmp.string() + ": " + std::generic_category().message(err));
        }
    }
    fs::rename(tmp, final_path);
    sync_dir(dir_);

    // Only those at or below the new one count: a snapshot past it belongs to another log (one that
    // was replaced at this path), and must not push this log's own snapshots out.
    auto all = list();
    std::erase_if(all, [&](const Entry& e) { return e.position > position; });
    std::vector<std::int64_t> positions;
    for (const auto& e : all) positions.push_back(e.position);
    for (const std::size_t i : thin(positions, keep)) {
        std::error_code ec;
        fs::remove(all[i].file, ec);
    }
    return final_path;
}

std::vector<std::size_t> thin(const std::vector<std::int64_t>& positions, std::size_t keep) {
    std::vector<std::size_t> left(positions.size()), removed;
    std::iota(left.begin(), left.end(), std::size_t{0});
    while (keep > 0 && left.size() > keep) {
        std::size_t drop = 0;
        std::int64_t smallest = std::numeric_limits<std::int64_t>::max();
        for (std::size_t i = 0; i + 1 < left.size(); ++i) { // never the newest
            const std::int64_t gap = positions[left[i + 1]] - (i > 0 ? positions[left[i - 1]] : 0);
            if (gap < smallest) smallest = gap, drop = i;
        }
        removed.push_back(left[drop]);
        left.erase(left.begin() + static_cast<std::ptrdiff_t>(drop));
    }
    std::sort(removed.begin(), removed.end());
    return removed;
}

std::optional<projections::Model> Snapshots::load_newest(const StoreReader& store, std::int64_t at, std::vector<std::string>& notes) const {
    const auto all = list();
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
        if (it->position > at) continue;
        try {
            File f(std::fopen(it->file.c_str(), "rb"));
            if (!f.f) throw std::runtime_error(std::generic_category().message(errno));
            const Header h = read_header(f.f);
            if (h.format != projections::snapshot::format_version)
                throw std::runtime_error("format " + std::to_string(h.format) + ", this build reads " +
                                         std::to_string(projections::snapshot::format_version));
            if (h.position != it->position) throw std::runtime_error("its header says position " + std::to_string(h.position));
            const auto event = store.at(h.position);
            if (!event || event->hash != h.hash) throw std::runtime_error("the log holds another event at position " + std::to_string(h.position));
            std::array<unsigned char, table_size> table{};
            if (std::fread(table.data(), 1, table.size(), f.f) != table.size()) throw std::runtime_error("truncated in its table of parts");
            Sha256 sha;
            sha.update(table.data(), table.size());
            if (sha.done() != h.digest) throw std::runtime_error("its table of parts does not match its SHA-256 (damaged)");
            if (get_le(table.data(), 4) != projections::snapshot::part_count) throw std::runtime_error("its table lists another number of parts");
            struct Part {
                std::uint64_t offset, size;
                Digest digest;
            };
            if (const auto size = fs::file_size(it->file); h.body_size > size - header_size)
                throw std::runtime_error("truncated: " + std::to_string(size) + " bytes for a body of " + std::to_string(h.body_size));
            const std::uint64_t end = header_size + h.body_size;
            std::array<Part, projections::snapshot::part_count> parts{};
            std::uint64_t offset = header_size + table_size;
            for (std::size_t i = 0; i < parts.size(); ++i) {
                const unsigned char* e = table.data() + 4 + i * entry_size;
                parts[i].offset = offset;
                parts[i].size = get_le(e, 8);
                std::copy(e + 8, e + entry_size, parts[i].digest.begin());
                if (offset > end || parts[i].size > end - offset) throw std::runtime_error("its parts run past its body");
                offset += parts[i].size;
            }
            if (offset != end) throw std::runtime_error("its parts do not add up to its body");
            // Each part on its own stream, checked against its SHA-256 once its last byte is read.
            const auto open = [&file = it->file, &parts](std::size_t i) {
                const Part part = parts.at(i);
                auto stream = std::make_shared<File>(std::fopen(file.c_str(), "rb"));
                if (!stream->f || std::fseek(stream->f, static_cast<long>(part.offset), SEEK_SET) != 0)
                    throw std::runtime_error("cannot read part " + std::to_string(i) + ": " + std::generic_category().message(errno));
                auto sha = std::make_shared<Sha256>();
                auto left = std::make_shared<std::uint64_t>(part.size);
                return projections::snapshot::In(
                    [=](char* buf, std::size_t n) {
                        const std::size_t got = std::fread(buf, 1, n, stream->f);
                        sha->update(buf, got);
                        *left -= std::min<std::uint64_t>(got, *left);
                        if (*left == 0 && got > 0 && sha->done() != part.digest)
                            throw std::runtime_error("part " + std::to_string(i) + " does not match its SHA-256 (damaged)");
                        return got;
                    },
                    part.size);
            };
            projections::Model model = projections::load(open);
            if (model.position() != h.position || model.head_hash() != h.hash) throw std::runtime_error("its model is at another position");
            return model;
        } catch (const std::exception& e) {
            notes.push_back("snapshot " + it->file.string() + " not used: " + e.what());
        }
    }
    return std::nullopt;
}

} // namespace gridloop::engine
