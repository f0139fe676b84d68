// Domain outcomes: an error kind that maps to one HTTP status, a message that says what and where.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace gridloop::events {

enum class errc {
    bad_request,        // not JSON, a required field missing or of the wrong JSON type
    unauthorized,       // no or bad token
    forbidden,          // outside the token's role or scope
    not_found,          // unknown id
    method_not_allowed, // wrong method
    conflict,           // version conflict, duplicate event_id with other content, refused transition
    too_large,          // body over the limit
    unprocessable,      // well-formed but invalid
    unavailable,        // overload, storage failure
};

struct Error {
    errc code = errc::unprocessable;
    std::string message;
};

inline Error bad_request(std::string m) { return {errc::bad_request, std::move(m)}; }
inline Error unprocessable(std::string m) { return {errc::unprocessable, std::move(m)}; }
inline Error conflict(std::string m) { return {errc::conflict, std::move(m)}; }
inline Error not_found(std::string m) { return {errc::not_found, std::move(m)}; }

// A value or the Error that prevented it.
template <class T> class Result {
public:
    Result(T v) : v_(std::move(v)) {}
    Result(Error e) : v_(std::move(e)) {}
    explicit operator bool() const { return v_.index() == 0; }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

} // namespace gridloop::events
