// Bearer tokens from the tokens file: only SHA-256 hashes kept, compared in constant time.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace gridloop::http {

enum class Role { admin, worker, micro_head, grid_head, town_head, department_staff, auditor, dashboard };

std::string_view to_string(Role r);
std::optional<Role> parse_role(std::string_view s);

// Who is asking: the token's subject, role and scope (grid or department ids).
struct Principal {
    std::string subject;
    Role role = Role::dashboard;
    std::vector<std::string> scope;
};

class Tokens {
public:
    // Parses the tokens file's JSON text: an array of {"token" | "token_sha256", "subject", "role",
    // "scope"}. Throws std::invalid_argument naming the entry and the field at fault.
    static Tokens parse(const std::string& json_text);
    // Reads and parses a file; throws std::invalid_argument naming the file on failure.
    static Tokens load(const std::string& path);

    // The principal of a presented token, or nothing. Every stored hash is compared in full, in
    // constant time, so neither the position of a match nor a shared prefix shows in the timing.
    std::optional<Principal> find(std::string_view token) const;
    std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        std::string sha256; // raw 32 bytes
        Principal who;
    };
    std::vector<Entry> entries_;
};

// The tokens in force, replaceable at run time (SIGHUP) without dropping connections.
class Authenticator {
public:
    explicit Authenticator(Tokens t) : tokens_(std::make_shared<const Tokens>(std::move(t))) {}
    std::optional<Principal> find(std::string_view token) const {
        std::shared_ptr<const Tokens> t;
        {
            std::lock_guard lock(mutex_);
            t = tokens_;
        }
        return t->find(token);
    }
    void replace(Tokens t) {
        auto next = std::make_shared<const Tokens>(std::move(t));
        std::lock_guard lock(mutex_);
        tokens_ = std::move(next);
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const Tokens> tokens_;
};

} // namespace gridloop::http
