// A fixed-bucket histogram safe to update from one thread and read from others, for /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>

namespace gridloop::engine {

template <std::size_t N> class Histogram {
public:
    explicit Histogram(const std::array<double, N>& bounds) : bounds_(bounds) {}
    void observe(double v) {
        for (std::size_t i = 0; i < N; ++i)
            if (v <= bounds_[i]) ++counts_[i];
        ++count_;
        sum_micro_ += static_cast<std::uint64_t>(v * 1e6);
    }
    std::span<const double> bounds() const { return bounds_; }
    // Cumulative count of observations <= bounds()[i].
    std::uint64_t at_most(std::size_t i) const { return counts_[i].load(); }
    std::uint64_t count() const { return count_.load(); }
    double sum() const { return static_cast<double>(sum_micro_.load()) / 1e6; }

private:
    std::array<double, N> bounds_;
    std::array<std::atomic<std::uint64_t>, N> counts_{};
    std::atomic<std::uint64_t> count_{0}, sum_micro_{0};
};

} // namespace gridloop::engine
