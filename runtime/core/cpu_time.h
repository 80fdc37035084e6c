// Clocks for timings. The CPU clocks (the time this thread, or every thread of this process,
// actually ran) change far less with other processes' load than the wall clock; the
// monotonic wall clock is for spans that must line up across threads.
#pragma once

#include <time.h>

#include <chrono>

namespace tessel {

inline double cpu_clock_seconds(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The calling thread's CPU seconds (single-thread timings).
inline double thread_cpu_seconds() {
  return cpu_clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}

// All threads of this process, user and system.
inline double process_cpu_seconds() {
  return cpu_clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

// Monotonic wall-clock seconds (std::chrono::steady_clock), one clock for every thread and
// library of the process.
inline double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace tessel
