// The engine's source of time: the system clock in service, a hand-set one in tests and replays.
#pragma once

#include "events/time.hpp"

#include <atomic>
#include <chrono>

namespace gridloop::engine {

class Clock {
public:
    virtual ~Clock() = default;
    virtual events::Instant now() const = 0;
};

class SystemClock final : public Clock {
public:
    events::Instant now() const override {
        return std::chrono::time_point_cast<events::Millis>(std::chrono::system_clock::now());
    }
};

// A clock that only moves when told to.
class ManualClock final : public Clock {
public:
    explicit ManualClock(events::Instant t = {}) : t_(t.time_since_epoch().count()) {}
    events::Instant now() const override { return events::Instant(events::Millis(t_.load())); }
    void set(events::Instant t) { t_ = t.time_since_epoch().count(); }
    void advance(events::Millis d) { t_ += d.count(); }

private:
    std::atomic<std::int64_t> t_;
};

} // namespace gridloop::engine
