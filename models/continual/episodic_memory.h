// The episodic memory (EM) in RAM: fixed slots shared by the training thread, which pins
// the slots a mini-batch reads, and Carousel's I/O thread, which swaps samples in only
// into unpinned slots. Plus the two memory-update rules: reservoir sampling (ER, DER++)
// and GDumb's greedy class-balanced sampler.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "models/common/rng.h"
#include "models/continual/sample.h"

namespace tessel::continual {

class EpisodicMemory {
 public:
  explicit EpisodicMemory(int64_t slots);

  int64_t capacity() const { return int64_t(slots_.size()); }
  int64_t filled() const { return filled_; }  // slots holding a sample (trainer's view)

  // Training thread: a mini-batch pins the slots it reads for as long as it reads them
  // (duplicates allowed; pins count). Waiting for a slot's lock (the I/O thread copying a
  // sample in) is added to lock_wait_seconds().
  void pin(const std::vector<int64_t>& slots);
  void unpin(const std::vector<int64_t>& slots);
  // The sample in `slot`. The training thread may read a slot it pinned, or any slot when
  // no swapper runs; the I/O thread never reads slots.
  const Sample& at(int64_t slot) const { return slots_[size_t(slot)].sample; }
  uint64_t version(int64_t slot) const;
  bool pinned(int64_t slot) const;

  // Training thread: stores `s` in `slot` (memory update). The slot must not be pinned.
  void write(int64_t slot, Sample s);

  // I/O thread: stores `s` unless the slot is pinned (kPinned: try again after an unpin)
  // or was rewritten since the swap was requested (kStale: dropped).
  enum class Commit { kWritten, kPinned, kStale };
  Commit try_commit(int64_t slot, uint64_t expected_version, Sample& s);

  std::vector<int64_t> class_counts(int classes) const;
  double lock_wait_seconds() const { return lock_wait_ns_.load() * 1e-9; }

 private:
  struct Slot {
    std::mutex mu;
    Sample sample;
    int pins = 0;
    uint64_t version = 0;
  };
  std::vector<Slot> slots_;
  int64_t filled_ = 0;
  std::atomic<int64_t> lock_wait_ns_{0};
};

// Reservoir sampling (Vitter's algorithm R): the slot for the item that has `seen` items
// before it, or -1 to drop it. Every item of a stream ends up in the memory with
// probability capacity / stream length.
int64_t reservoir_slot(int64_t capacity, int64_t seen, Rng& rng);

// GDumb's greedy class-balanced sampler (Prabhu et al., ECCV 2020, Algorithm 1): add while
// there is room; when full, take the sample only if its class holds fewer than
// capacity / classes-seen slots, evicting a random sample of the largest class (lowest
// label on ties). `counts` are the memory's per-class counts; `slot_labels` its labels (-1
// for empty). Returns the slot or -1.
int64_t gdumb_slot(const std::vector<int64_t>& counts, const std::vector<int32_t>& slot_labels,
                   int64_t filled, int32_t label, int classes_seen, Rng& rng);

}  // namespace tessel::continual
