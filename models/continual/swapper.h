// Carousel Memory's swap engine: an I/O thread that reads samples back from the sample
// store and swaps them into episodic-memory slots the gate chose, while the next
// mini-batch trains (async), or before it starts (sync, for comparison).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "models/continual/episodic_memory.h"
#include "models/continual/sample_store.h"

namespace tessel::continual {

// Replace the sample in `slot` (as it was at `version`) by store record `record`.
struct SlotSwap {
  int64_t slot = 0;
  uint64_t version = 0;
  int64_t record = 0;
};

class Swapper {
 public:
  // `io_threads` threads read the store in parallel (each read is one pread, so several
  // keep a device's queue busy). `max_pending`: samples queued or being read at once; a
  // swap that would exceed it is skipped rather than making the training step wait (async
  // mode only).
  Swapper(const SampleStore& store, EpisodicMemory& em, bool async, int max_pending,
          int io_threads = 1, int io_cpu = -1);
  ~Swapper();
  Swapper(const Swapper&) = delete;
  Swapper& operator=(const Swapper&) = delete;

  // Training thread, after the mini-batch released its pins. Async: queues the swap and
  // returns at once (false: skipped, the queue was full). Sync: returns when every sample
  // is in its slot. Rethrows an I/O thread error (IoError) from an earlier swap.
  bool submit(std::vector<SlotSwap> swap);
  // The training thread released pins: deferred swap-ins may proceed.
  void notify_unpinned();
  // Waits until every queued swap has been read (deferred swap-ins may remain).
  void wait_read();
  // Waits until every swap is read and committed or dropped (call with no pins held).
  void drain();

  struct Stats {
    uint64_t swaps = 0, skipped = 0;    // submitted, skipped (queue full)
    uint64_t samples_read = 0;          // store reads
    uint64_t committed = 0, stale = 0;  // swapped in; dropped (slot rewritten meanwhile)
    uint64_t deferred = 0;              // swap-ins that found their slot pinned
    double io_seconds = 0;              // I/O thread time in pread
    double wait_seconds = 0;            // training thread time in submit() (sync: the swap)
  };
  Stats stats() const;

 private:
  void loop();
  void retry_deferred();

  const SampleStore& store_;
  EpisodicMemory& em_;
  bool async_;
  int max_pending_;
  mutable std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<SlotSwap> queue_;
  int reading_ = 0;  // samples taken by an I/O thread and not yet read
  struct Deferred {
    SlotSwap swap;
    Sample sample;
  };
  std::mutex deferred_mu_;
  std::vector<Deferred> deferred_;  // under deferred_mu_
  std::atomic<int> deferred_count_{0};
  uint64_t unpin_epoch_ = 0, seen_epoch_ = 0;
  bool stop_ = false;
  std::string error_;
  Stats stats_;
  std::vector<std::thread> io_;
};

}  // namespace tessel::continual
