// Episodic memory slots with pins, reservoir sampling and GDumb's greedy sampler.
#include "models/continual/episodic_memory.h"

#include <chrono>

#include "runtime/core/error.h"

namespace tessel::continual {

EpisodicMemory::EpisodicMemory(int64_t slots) : slots_(size_t(slots)) {
  if (slots <= 0) throw Error("continual: episodic memory needs at least one slot", kExitConfig);
}

void EpisodicMemory::pin(const std::vector<int64_t>& slots) {
  for (int64_t s : slots) {
    Slot& slot = slots_[size_t(s)];
    std::unique_lock<std::mutex> lk(slot.mu, std::try_to_lock);
    if (!lk.owns_lock()) {
      const auto t0 = std::chrono::steady_clock::now();
      lk.lock();
      lock_wait_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now() - t0)
                           .count();
    }
    ++slot.pins;
  }
}

void EpisodicMemory::unpin(const std::vector<int64_t>& slots) {
  for (int64_t s : slots) {
    Slot& slot = slots_[size_t(s)];
    std::lock_guard<std::mutex> lk(slot.mu);
    if (slot.pins <= 0) throw Error("continual: unpin of an unpinned EM slot", kExitFailure);
    --slot.pins;
  }
}

uint64_t EpisodicMemory::version(int64_t slot) const {
  Slot& s = const_cast<Slot&>(slots_[size_t(slot)]);
  std::lock_guard<std::mutex> lk(s.mu);
  return s.version;
}

bool EpisodicMemory::pinned(int64_t slot) const {
  Slot& s = const_cast<Slot&>(slots_[size_t(slot)]);
  std::lock_guard<std::mutex> lk(s.mu);
  return s.pins > 0;
}

void EpisodicMemory::write(int64_t slot, Sample sample) {
  Slot& s = slots_[size_t(slot)];
  std::lock_guard<std::mutex> lk(s.mu);
  if (s.pins > 0) throw Error("continual: memory update of a pinned EM slot", kExitFailure);
  if (s.sample.label < 0) ++filled_;
  s.sample = std::move(sample);
  ++s.version;
}

EpisodicMemory::Commit EpisodicMemory::try_commit(int64_t slot, uint64_t expected_version,
                                                  Sample& sample) {
  Slot& s = slots_[size_t(slot)];
  std::lock_guard<std::mutex> lk(s.mu);
  if (s.pins > 0) return Commit::kPinned;
  if (s.version != expected_version || s.sample.label < 0) return Commit::kStale;
  s.sample = std::move(sample);
  ++s.version;
  return Commit::kWritten;
}

std::vector<int64_t> EpisodicMemory::class_counts(int classes) const {
  std::vector<int64_t> c(size_t(classes), 0);
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = const_cast<Slot&>(slots_[i]);
    std::lock_guard<std::mutex> lk(s.mu);
    if (s.sample.label >= 0 && s.sample.label < classes) ++c[size_t(s.sample.label)];
  }
  return c;
}

int64_t reservoir_slot(int64_t capacity, int64_t seen, Rng& rng) {
  if (seen < capacity) return seen;
  // j uniform in [0, seen]: the new item replaces slot j when j < capacity.
  const auto j = int64_t(rng.uniform() * double(seen + 1));
  return j < capacity ? j : -1;
}

int64_t gdumb_slot(const std::vector<int64_t>& counts, const std::vector<int32_t>& slot_labels,
                   int64_t filled, int32_t label, int classes_seen, Rng& rng) {
  const auto capacity = int64_t(slot_labels.size());
  if (filled < capacity) {
    for (int64_t s = 0; s < capacity; ++s)
      if (slot_labels[size_t(s)] < 0) return s;
  }
  if (counts[size_t(label)] >= capacity / classes_seen) return -1;
  size_t big = 0;
  for (size_t c = 1; c < counts.size(); ++c)
    if (counts[c] > counts[big]) big = c;
  std::vector<int64_t> members;
  for (int64_t s = 0; s < capacity; ++s)
    if (slot_labels[size_t(s)] == int32_t(big)) members.push_back(s);
  return members[size_t(rng.uniform() * double(members.size()))];
}

}  // namespace tessel::continual
