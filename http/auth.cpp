// Tokens file parsing and constant-time lookup.
#include "http/auth.hpp"

#include "events/envelope.hpp"
#include "events/types.hpp"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include <array>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace gridloop::http {
namespace {

constexpr std::array<std::string_view, 8> role_names{"admin",     "worker",           "micro_head", "grid_head",
                                                     "town_head", "department_staff", "auditor",    "dashboard"};

std::optional<std::string> hex_to_raw(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    std::string out(32, '\0');
    for (std::size_t i = 0; i < 32; ++i) {
        auto nib = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        const int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<char>(hi << 4 | lo);
    }
    return out;
}

// Through events::sha256_hex, which keeps its algorithm and context: OpenSSL's one-shot SHA256()
// looks the algorithm up again on every call (most of the ~6,000 instructions a token check took).
std::string sha256_raw(std::string_view s) { return *hex_to_raw(events::sha256_hex(s)); }

} // namespace

std::string_view to_string(Role r) { return role_names[static_cast<std::size_t>(r)]; }

std::optional<Role> parse_role(std::string_view s) {
    for (std::size_t i = 0; i < role_names.size(); ++i)
        if (role_names[i] == s) return static_cast<Role>(i);
    return std::nullopt;
}

Tokens Tokens::parse(const std::string& text) {
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) throw std::invalid_argument("the tokens file is not JSON");
    if (!doc.is_array()) throw std::invalid_argument("the tokens file must be a JSON array of {token|token_sha256, subject, role, scope}");
    Tokens out;
    for (std::size_t i = 0; i < doc.size(); ++i) {
        const auto& e = doc[i];
        const std::string where = "tokens[" + std::to_string(i) + "]";
        auto fail = [&](const std::string& why) { throw std::invalid_argument(where + ": " + why); };
        if (!e.is_object()) fail("must be an object");
        for (const auto& [k, v] : e.items())
            if (k != "token" && k != "token_sha256" && k != "subject" && k != "role" && k != "scope") fail("unknown field \"" + k + "\"");
        Entry entry;
        const bool plain = e.contains("token"), hashed = e.contains("token_sha256");
        if (plain == hashed) fail("needs exactly one of \"token\" and \"token_sha256\"");
        if (plain) {
            if (!e["token"].is_string() || e["token"].get<std::string>().size() < 16) fail("\"token\" must be a string of at least 16 characters");
            entry.sha256 = sha256_raw(e["token"].get<std::string>());
        } else {
            auto raw = e["token_sha256"].is_string() ? hex_to_raw(e["token_sha256"].get<std::string>()) : std::nullopt;
            if (!raw) fail("\"token_sha256\" must be 64 hex digits");
            entry.sha256 = *raw;
        }
        if (!e.contains("subject") || !e["subject"].is_string() || !events::valid_id(e["subject"].get<std::string>()))
            fail("\"subject\" must be an id (^[a-z0-9][a-z0-9._-]{0,63}$)");
        entry.who.subject = e["subject"].get<std::string>();
        if (entry.who.subject == "system") fail("the subject \"system\" is the engine's own and cannot be given to a token");
        auto role = e.contains("role") && e["role"].is_string() ? parse_role(e["role"].get<std::string>()) : std::nullopt;
        if (!role) fail("\"role\" must be one of admin, worker, micro_head, grid_head, town_head, department_staff, auditor, dashboard");
        entry.who.role = *role;
        const bool needs_scope = entry.who.role != Role::admin && entry.who.role != Role::auditor && entry.who.role != Role::dashboard;
        if (e.contains("scope")) {
            if (!e["scope"].is_array()) fail("\"scope\" must be an array of grid or department ids");
            for (const auto& s : e["scope"]) {
                if (!s.is_string() || !events::valid_id(s.get<std::string>())) fail("\"scope\" must hold grid or department ids");
                entry.who.scope.push_back(s.get<std::string>());
            }
        }
        if (needs_scope && entry.who.scope.empty())
            fail("role " + std::string(to_string(entry.who.role)) + " needs a \"scope\": the grids (or, for department staff, the departments) it acts in");
        for (const auto& other : out.entries_)
            if (other.sha256 == entry.sha256) fail("repeats the token of another entry");
        out.entries_.push_back(std::move(entry));
    }
    return out;
}

Tokens Tokens::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::invalid_argument("cannot read the tokens file " + path);
    std::stringstream s;
    s << in.rdbuf();
    try {
        return parse(s.str());
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(path + ": " + e.what());
    }
}

std::optional<Principal> Tokens::find(std::string_view token) const {
    const std::string presented = sha256_raw(token);
    const Entry* match = nullptr;
    for (const auto& e : entries_)
        if (CRYPTO_memcmp(e.sha256.data(), presented.data(), presented.size()) == 0) match = &e;
    if (!match) return std::nullopt;
    return match->who;
}

} // namespace gridloop::http
