// Names the calling thread as top -H, ps -L, perf and gdb show it (at most 15 characters on Linux).
// Never called on a process's main thread, whose name is the process's own.
#pragma once

#include <pthread.h>

namespace gridloop::engine {

inline void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

} // namespace gridloop::engine
