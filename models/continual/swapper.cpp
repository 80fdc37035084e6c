// Carousel Memory's asynchronous swap: reads on an I/O thread, commits into unpinned slots.
#include "models/continual/swapper.h"

#include <chrono>

#include "models/continual/cpu_pin.h"
#include "runtime/core/error.h"

namespace tessel::continual {
namespace {
double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Swapper::Swapper(const SampleStore& store, EpisodicMemory& em, bool async, int max_pending,
                 int io_threads, int io_cpu)
    : store_(store), em_(em), async_(async), max_pending_(max_pending < 1 ? 1 : max_pending) {
  // A thread that cannot be pinned runs unpinned: the placement is a timing aid, and the
  // CPU index was checked against the host's when the config was read.
  for (int i = 0; i < (io_threads < 1 ? 1 : io_threads); ++i)
    io_.emplace_back([this, io_cpu] {
      pin_this_thread(io_cpu);
      loop();
    });
}

Swapper::~Swapper() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : io_) t.join();
}

bool Swapper::submit(std::vector<SlotSwap> swap) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lk(mu_);
  if (!error_.empty()) throw IoError(error_);
  if (swap.empty()) return true;
  if (async_ && int(queue_.size() + swap.size()) + reading_ > max_pending_) {
    ++stats_.skipped;
    stats_.wait_seconds += since(t0);
    return false;
  }
  ++stats_.swaps;
  for (const SlotSwap& w : swap) queue_.push_back(w);
  // Wake one I/O thread; it wakes the next while work is left. Every wake-up is a context
  // switch, and on a busy host it is taken from the training thread's core.
  cv_.notify_one();
  if (!async_) {
    done_cv_.wait(lk, [&] {
      return !error_.empty() || (queue_.empty() && reading_ == 0 && deferred_count_.load() == 0);
    });
    if (!error_.empty()) throw IoError(error_);
  }
  stats_.wait_seconds += since(t0);
  return true;
}

void Swapper::notify_unpinned() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++unpin_epoch_;
  }
  // Only deferred swap-ins wait for an unpin; no wake-up otherwise.
  if (deferred_count_.load() > 0) cv_.notify_one();
}

void Swapper::wait_read() {
  std::unique_lock<std::mutex> lk(mu_);
  done_cv_.wait(lk, [&] { return !error_.empty() || (queue_.empty() && reading_ == 0); });
  if (!error_.empty()) throw IoError(error_);
}

void Swapper::drain() {
  notify_unpinned();
  std::unique_lock<std::mutex> lk(mu_);
  done_cv_.wait(lk, [&] {
    return !error_.empty() || (queue_.empty() && reading_ == 0 && deferred_count_.load() == 0);
  });
  if (!error_.empty()) throw IoError(error_);
}

Swapper::Stats Swapper::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

// I/O thread: commits of deferred swap-ins go first (their slots may be free now).
void Swapper::retry_deferred() {
  std::lock_guard<std::mutex> dl(deferred_mu_);
  uint64_t committed = 0, stale = 0;
  for (size_t i = 0; i < deferred_.size();) {
    const auto c =
        em_.try_commit(deferred_[i].swap.slot, deferred_[i].swap.version, deferred_[i].sample);
    if (c == EpisodicMemory::Commit::kPinned) {
      ++i;
      continue;
    }
    (c == EpisodicMemory::Commit::kWritten ? committed : stale) += 1;
    deferred_[i] = std::move(deferred_.back());
    deferred_.pop_back();
  }
  deferred_count_ = int(deferred_.size());
  std::lock_guard<std::mutex> lk(mu_);
  stats_.committed += committed;
  stats_.stale += stale;
}

void Swapper::loop() {
  for (;;) {
    SlotSwap w;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] {
        return stop_ || !queue_.empty() ||
               (deferred_count_.load() > 0 && unpin_epoch_ != seen_epoch_);
      });
      if (stop_) return;
      if (unpin_epoch_ != seen_epoch_) {
        seen_epoch_ = unpin_epoch_;
        lk.unlock();
        retry_deferred();
        lk.lock();
        done_cv_.notify_all();
      }
      if (queue_.empty()) continue;
      w = queue_.front();
      queue_.pop_front();
      ++reading_;
      if (!queue_.empty()) cv_.notify_one();
    }
    Sample sample;
    std::string error;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      sample = store_.read(w.record);
    } catch (const Error& e) {
      error = e.what();
    }
    const double io = since(t0);
    EpisodicMemory::Commit c = EpisodicMemory::Commit::kStale;
    if (error.empty()) {
      std::lock_guard<std::mutex> dl(deferred_mu_);
      c = em_.try_commit(w.slot, w.version, sample);
      if (c == EpisodicMemory::Commit::kPinned) {
        deferred_.push_back({w, std::move(sample)});
        deferred_count_ = int(deferred_.size());
      }
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      --reading_;
      stats_.samples_read += error.empty() ? 1 : 0;
      stats_.io_seconds += io;
      if (error.empty()) {
        if (c == EpisodicMemory::Commit::kWritten) ++stats_.committed;
        if (c == EpisodicMemory::Commit::kStale) ++stats_.stale;
        if (c == EpisodicMemory::Commit::kPinned) ++stats_.deferred;
      } else if (error_.empty()) {
        error_ = error;
      }
    }
    done_cv_.notify_all();
  }
}

}  // namespace tessel::continual
