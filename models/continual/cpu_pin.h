// Pins the calling thread to one CPU (Linux): how a training host keeps its data threads
// off the compute cores. Carousel Memory's timing runs use it so that the store's I/O and
// writer threads, and the disk interrupts on their core, do not take the training
// thread's core (docs/carm.md, "Measuring overhead on this host").
#pragma once

#include <pthread.h>
#include <sched.h>

#include <string>
#include <thread>

namespace tessel::continual {

// The number of CPUs a `cpu` index may name.
inline int cpu_count() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// cpu < 0: leave the thread where the scheduler puts it. Returns an error text, or "".
inline std::string pin_this_thread(int cpu) {
  if (cpu < 0) return "";
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  return rc == 0 ? "" : "cannot pin a thread to CPU " + std::to_string(cpu);
}

// Pins the calling thread for its lifetime and restores its CPU set after (a sweep's worker
// thread runs other points afterwards).
class ThreadPin {
 public:
  explicit ThreadPin(int cpu) {
    if (cpu < 0) return;
    saved_ = pthread_getaffinity_np(pthread_self(), sizeof old_, &old_) == 0;
    error_ = pin_this_thread(cpu);
  }
  ~ThreadPin() {
    if (saved_) pthread_setaffinity_np(pthread_self(), sizeof old_, &old_);
  }
  ThreadPin(const ThreadPin&) = delete;
  ThreadPin& operator=(const ThreadPin&) = delete;
  const std::string& error() const { return error_; }

 private:
  cpu_set_t old_{};
  bool saved_ = false;
  std::string error_;
};

}  // namespace tessel::continual
