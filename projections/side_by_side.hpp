// Two pieces of work on two threads, for the folds and snapshot loads that split a big model's work
// in halves (this machine, and most, have at least two cores). Pure: no I/O, no shared state.
#pragma once

#include <exception>
#include <thread>

namespace gridloop::projections {

// Runs `other` on a second thread while `here` runs on this one. Both have finished when it returns
// or throws; an exception (bad_alloc, say) is raised here rather than ending the process, this
// thread's first.
template <class Other, class Here> void side_by_side(Other&& other, Here&& here) {
    std::exception_ptr failed;
    std::thread thread([&] {
        try {
            other();
        } catch (...) {
            failed = std::current_exception();
        }
    });
    try {
        here();
    } catch (...) {
        thread.join();
        throw;
    }
    thread.join();
    if (failed) std::rethrow_exception(failed);
}

} // namespace gridloop::projections
