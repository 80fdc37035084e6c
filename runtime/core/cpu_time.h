// CPU clocks for timings on a shared machine: the time this thread, or every thread of this
// process, actually ran. Other processes' load changes them far less than the wall clock.
#pragma once

#include <time.h>

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

}  // namespace tessel
