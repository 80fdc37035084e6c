// Carousel Memory's store and swap: reservoir uniformity (χ²), class-balanced eviction,
// GDumb's balance, byte-identical swap-ins, pinned slots never written, integrity and
// bad-input errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "models/continual/episodic_memory.h"
#include "models/continual/sample_store.h"
#include "models/continual/swapper.h"
#include "runtime/core/error.h"

namespace tessel::continual {
namespace {

std::string temp_path(const std::string& name) {
  return std::string(TESSEL_BINARY_DIR) + "/carm_test_" + std::to_string(::getpid()) + "_" + name;
}

StoreOptions options(const std::string& path, int64_t capacity) {
  StoreOptions o;
  o.path = path;
  o.capacity = capacity;
  o.sample_bytes = 784;
  o.logit_count = 10;
  o.classes = 10;
  return o;
}

Sample random_sample(Rng& rng, int32_t label, uint32_t id) {
  Sample s;
  s.label = label;
  s.id = id;
  s.pixels.resize(784);
  for (auto& p : s.pixels) p = uint8_t(rng.next_u64());
  s.logits.resize(10);
  for (auto& l : s.logits) l = float(rng.uniform(-5, 5));
  return s;
}

bool same(const Sample& a, const Sample& b) {
  return a.label == b.label && a.id == b.id && a.pixels == b.pixels &&
         std::memcmp(a.logits.data(), b.logits.data(), 4 * a.logits.size()) == 0 &&
         a.logits.size() == b.logits.size();
}

// Upper α = 0.001 quantile of χ² with ν degrees of freedom (Wilson–Hilferty; z = 3.0902).
double chi2_critical_001(double nu) {
  const double a = 2.0 / (9.0 * nu);
  return nu * std::pow(1.0 - a + 3.0902 * std::sqrt(a), 3.0);
}

TEST(Reservoir, EverySubsetEquallyLikely) {
  // n = 6 items, k = 2 slots: algorithm R leaves each of the C(6,2) = 15 subsets with
  // probability 1/15 (Vitter 1985). χ² over 30,000 runs, 14 degrees of freedom.
  const int n = 6, k = 2, runs = 30000;
  std::map<std::pair<int, int>, int> hits;
  Rng rng(7);
  for (int r = 0; r < runs; ++r) {
    int slot[k] = {-1, -1};
    for (int i = 0; i < n; ++i) {
      const int64_t s = reservoir_slot(k, i, rng);
      if (s >= 0) slot[s] = i;
    }
    hits[{std::min(slot[0], slot[1]), std::max(slot[0], slot[1])}]++;
  }
  ASSERT_EQ(hits.size(), 15u);
  const double e = double(runs) / 15.0;
  double chi2 = 0;
  for (const auto& [key, o] : hits) chi2 += (o - e) * (o - e) / e;
  EXPECT_LT(chi2, chi2_critical_001(14)) << "chi2 " << chi2;
}

TEST(Reservoir, InclusionUniformOverLongStream) {
  // k = 50 of n = 500: each item kept with p = 0.1. Counts over R runs are binomial, so
  // Σ (o - Rp)² / (Rp(1-p)) is χ² with n - 1 degrees of freedom (the total is fixed).
  const int n = 500, k = 50, runs = 3000;
  std::vector<int> count(n, 0);
  Rng rng(11);
  std::vector<int> slots(k);
  for (int r = 0; r < runs; ++r) {
    for (int i = 0; i < n; ++i) {
      const int64_t s = reservoir_slot(k, i, rng);
      if (s >= 0) slots[size_t(s)] = i;
    }
    for (int i : slots) ++count[size_t(i)];
  }
  const double p = double(k) / n, e = runs * p;
  double chi2 = 0;
  for (int c : count) chi2 += (c - e) * (c - e) / (e * (1 - p));
  EXPECT_LT(chi2, chi2_critical_001(n - 1)) << "chi2 " << chi2;
  // The first and last tenth of the stream are kept equally often (no recency bias).
  double first = 0, last = 0;
  for (int i = 0; i < 50; ++i) first += count[size_t(i)], last += count[size_t(n - 1 - i)];
  EXPECT_NEAR(first / last, 1.0, 0.05);
}

TEST(SampleStore, ClassBalancedEvictionWithinOne) {
  const std::string path = temp_path("balance.bin");
  SampleStore store(options(path, 50));
  Rng rng(3);
  uint32_t id = 0;
  for (int task = 0; task < 5; ++task) {
    // 60 samples of each of the task's two classes, interleaved as a shuffled stream.
    std::vector<int32_t> labels;
    for (int i = 0; i < 60; ++i) labels.push_back(2 * task), labels.push_back(2 * task + 1);
    for (size_t i = labels.size(); i > 1; --i)
      std::swap(labels[i - 1], labels[size_t(rng.uniform() * double(i))]);
    for (int32_t y : labels) store.put(random_sample(rng, y, id++), rng);
    const auto c = store.class_counts();
    const int seen = 2 * (task + 1);
    int64_t lo = 1 << 30, hi = 0, sum = 0;
    for (int k = 0; k < seen; ++k)
      lo = std::min(lo, c[size_t(k)]), hi = std::max(hi, c[size_t(k)]), sum += c[size_t(k)];
    EXPECT_EQ(sum, 50);
    EXPECT_LE(hi - lo, 1) << "after task " << task;
    // 50 slots over `seen` classes: floor and ceil of 50 / seen (hand-computed bound).
    EXPECT_EQ(lo, 50 / seen);
  }
  // The index agrees with what is on disk.
  store.flush();
  for (int64_t r = 0; r < 50; ++r) EXPECT_EQ(store.read(r).label, store.record_labels()[size_t(r)]);
  store.close();
  ::unlink(path.c_str());
}

TEST(GDumb, MemoryBalancedAfterEveryTask) {
  const int64_t cap = 100;
  std::vector<int32_t> slot_labels(cap, -1);
  std::vector<int64_t> counts(10, 0);
  int64_t filled = 0;
  Rng rng(5);
  for (int task = 0; task < 5; ++task) {
    for (int i = 0; i < 200; ++i) {
      const int32_t y = 2 * task + (i % 2);
      const int64_t s = gdumb_slot(counts, slot_labels, filled, y, 2 * (task + 1), rng);
      if (s < 0) continue;
      if (slot_labels[size_t(s)] >= 0)
        --counts[size_t(slot_labels[size_t(s)])];
      else
        ++filled;
      slot_labels[size_t(s)] = y;
      ++counts[size_t(y)];
    }
    const int seen = 2 * (task + 1);
    int64_t lo = cap, hi = 0;
    for (int k = 0; k < seen; ++k)
      lo = std::min(lo, counts[size_t(k)]), hi = std::max(hi, counts[size_t(k)]);
    EXPECT_EQ(filled, cap);
    EXPECT_LE(hi - lo, 1) << "after task " << task;
  }
}

TEST(SampleStore, SwappedInSampleIsByteIdentical) {
  const std::string path = temp_path("swap.bin");
  SampleStore store(options(path, 40));
  Rng rng(9);
  std::map<int64_t, Sample> written;
  for (uint32_t i = 0; i < 40; ++i) {
    Sample s = random_sample(rng, int32_t(i % 10), i);
    written[store.put(s, rng)] = s;
  }
  store.flush();
  EpisodicMemory em(8);
  for (int64_t s = 0; s < 8; ++s) em.write(s, random_sample(rng, 0, 1000 + uint32_t(s)));
  {
    Swapper swapper(store, em, true, 16, 2);
    std::vector<SlotSwap> swap;
    for (int64_t s = 0; s < 8; ++s) swap.push_back({s, em.version(s), 5 * s});
    ASSERT_TRUE(swapper.submit(swap));
    swapper.drain();
    EXPECT_EQ(swapper.stats().committed, 8u);
  }
  for (int64_t s = 0; s < 8; ++s) EXPECT_TRUE(same(em.at(s), written[5 * s])) << "slot " << s;
  store.close();
  ::unlink(path.c_str());
}

TEST(Swapper, NeverWritesAPinnedSlot) {
  const std::string path = temp_path("pinned.bin");
  SampleStore store(options(path, 32));
  Rng rng(13);
  for (uint32_t i = 0; i < 32; ++i) store.put(random_sample(rng, int32_t(i % 10), i), rng);
  store.flush();
  EpisodicMemory em(8);
  std::vector<Sample> before;
  for (int64_t s = 0; s < 8; ++s) {
    before.push_back(random_sample(rng, 1, 500 + uint32_t(s)));
    em.write(s, before.back());
  }
  Swapper swapper(store, em, true, 16, 2);
  const std::vector<int64_t> pinned = {0, 1, 2, 3};
  em.pin(pinned);
  std::vector<SlotSwap> swap;
  for (int64_t s = 0; s < 8; ++s) swap.push_back({s, em.version(s), s});
  ASSERT_TRUE(swapper.submit(swap));
  swapper.wait_read();
  // The pinned half is untouched (bytes and version) and waits; the other half is in.
  for (int64_t s = 0; s < 4; ++s) {
    EXPECT_TRUE(same(em.at(s), before[size_t(s)])) << "pinned slot " << s << " was written";
    EXPECT_EQ(em.version(s), 1u);
  }
  for (int64_t s = 4; s < 8; ++s) EXPECT_EQ(em.at(s).id, uint32_t(s));
  EXPECT_EQ(swapper.stats().deferred, 4u);
  em.unpin(pinned);
  swapper.drain();
  for (int64_t s = 0; s < 4; ++s) EXPECT_EQ(em.at(s).id, uint32_t(s));
  EXPECT_EQ(swapper.stats().committed, 8u);
  store.close();
  ::unlink(path.c_str());
}

TEST(Swapper, RunningMiniBatchSeesStableSlotsUnderLoad) {
  // The training thread pins slots, snapshots them and re-reads them while the I/O thread
  // swaps into random slots as fast as it can; any write into a pinned slot shows up as a
  // changed byte or version.
  const std::string path = temp_path("stress.bin");
  SampleStore store(options(path, 64));
  Rng rng(17);
  for (uint32_t i = 0; i < 64; ++i) store.put(random_sample(rng, int32_t(i % 10), i), rng);
  store.flush();
  EpisodicMemory em(16);
  for (int64_t s = 0; s < 16; ++s) em.write(s, random_sample(rng, 2, 900 + uint32_t(s)));
  Swapper swapper(store, em, true, 64, 3);
  int violations = 0;
  for (int it = 0; it < 400; ++it) {
    std::vector<int64_t> pins;
    for (int k = 0; k < 6; ++k) pins.push_back(int64_t(rng.uniform() * 16));
    em.pin(pins);
    std::vector<std::pair<std::vector<uint8_t>, uint64_t>> snap;
    for (int64_t s : pins) snap.push_back({em.at(s).pixels, em.version(s)});
    std::vector<SlotSwap> swap;
    for (int k = 0; k < 8; ++k) {
      const auto s = int64_t(rng.uniform() * 16);
      swap.push_back({s, em.version(s), int64_t(rng.uniform() * 64)});
    }
    // Keep the pins (and keep checking) until the I/O threads have read this swap's samples,
    // so they work while the slots are pinned however loaded the machine is (a fixed number
    // of spins let a busy machine run the whole swap after the unpin: committed 16 of 30 and
    // nothing deferred under a parallel ctest). The deadline only bounds a hung I/O thread.
    const uint64_t target = swapper.stats().samples_read + swap.size();
    const bool queued = swapper.submit(swap);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (int spin = 0; spin < 20 || (queued && swapper.stats().samples_read < target &&
                                     std::chrono::steady_clock::now() < deadline);
         ++spin) {
      for (size_t i = 0; i < pins.size(); ++i)
        violations +=
            em.at(pins[i]).pixels != snap[i].first || em.version(pins[i]) != snap[i].second;
      std::this_thread::yield();
    }
    em.unpin(pins);
    swapper.notify_unpinned();
  }
  swapper.drain();
  EXPECT_EQ(violations, 0);
  const auto st = swapper.stats();
  EXPECT_GT(st.committed, 30u);  // the I/O thread did run concurrently
  EXPECT_GT(st.deferred, 0u);    // and did meet pinned slots
  store.close();
  ::unlink(path.c_str());
}

// Leaves a store whose header says `open`, as a run killed mid-training does.
void crash_in_child(const std::string& path) {
  const pid_t pid = fork();
  if (pid == 0) {
    try {
      SampleStore store(options(path, 16));
      Rng rng(1);
      for (uint32_t i = 0; i < 10; ++i) store.put(random_sample(rng, int32_t(i % 10), i), rng);
      store.flush();
      _exit(0);  // no close(), no destructors: the header is never marked closed
    } catch (...) {
      _exit(2);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(SampleStore, CrashedStoreIsRefusedOrRebuilt) {
  const std::string path = temp_path("crash.bin");
  crash_in_child(path);
  StoreOptions o = options(path, 16);
  o.refuse_crashed = true;
  try {
    SampleStore s(o);
    FAIL() << "a crashed store was opened";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("interrupted run"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  o.refuse_crashed = false;
  {
    SampleStore s(o);
    EXPECT_TRUE(s.rebuilt());
    EXPECT_EQ(s.size(), 0);  // nothing of the crashed run is indexed or read
    Rng rng(2);
    EXPECT_EQ(s.random_written(rng), -1);
    s.close();
  }
  // A cleanly closed store is neither crashed nor corrupt.
  SampleStore again(o);
  EXPECT_FALSE(again.rebuilt());
  again.close();
  ::unlink(path.c_str());
}

void flip_byte(const std::string& path, long offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.read(&c, 1);
  c = char(c ^ 0x5A);
  f.seekp(offset);
  f.write(&c, 1);
}

std::string open_error(const StoreOptions& o) {
  try {
    SampleStore s(o);
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST(SampleStore, CorruptStoreIsRefused) {
  const std::string path = temp_path("corrupt.bin");
  {
    SampleStore s(options(path, 16));
    Rng rng(4);
    for (uint32_t i = 0; i < 12; ++i) s.put(random_sample(rng, int32_t(i % 10), i), rng);
    s.close();
  }
  // A pixel of record 3 (header 4096 bytes, 4096 per record, 16-byte record head).
  flip_byte(path, 4096 + 3 * 4096 + 16 + 100);
  std::string e = open_error(options(path, 16));
  EXPECT_NE(e.find("record 3"), std::string::npos) << e;
  EXPECT_NE(e.find("checksum mismatch"), std::string::npos) << e;
  flip_byte(path, 4096 + 3 * 4096 + 16 + 100);  // repaired
  EXPECT_EQ(open_error(options(path, 16)), "");
  flip_byte(path, 20);  // the header's capacity field
  e = open_error(options(path, 16));
  EXPECT_NE(e.find("header checksum mismatch"), std::string::npos) << e;
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << std::string(8192, 'x');  // somebody else's file
  }
  e = open_error(options(path, 16));
  EXPECT_NE(e.find("not a Carousel sample store"), std::string::npos) << e;
  ::unlink(path.c_str());
}

TEST(SampleStore, UnwritablePathIsAClearError) {
  std::string e = open_error(options("/nonexistent-carm-dir/store.bin", 16));
  EXPECT_NE(e.find("/nonexistent-carm-dir/store.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
  const std::string dir = temp_path("dir");
  ::mkdir(dir.c_str(), 0755);
  e = open_error(options(dir, 16));
  EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
  ::rmdir(dir.c_str());
}

TEST(SampleStore, FullFilesystemIsAClearError) {
  // A file-size limit stands in for a full disk: preallocation fails with EFBIG before any
  // record is written.
  const std::string path = temp_path("full.bin");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    signal(SIGXFSZ, SIG_IGN);
    rlimit lim{64 * 1024, 64 * 1024};
    setrlimit(RLIMIT_FSIZE, &lim);
    const std::string e = open_error(options(path, 100));  // 413,696 bytes needed
    (void)!write(fds[1], e.data(), e.size());
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, size_t(n));
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  EXPECT_NE(msg.find("cannot allocate"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  ::unlink(path.c_str());
}

TEST(SampleStore, ODirectOnThisFilesystem) {
  // The build folder sits on ext4 here, which takes O_DIRECT; tmpfs would not (docs/carm.md).
  const std::string path = temp_path("direct.bin");
  SampleStore s(options(path, 4));
  Rng rng(6);
  const Sample x = random_sample(rng, 3, 7);
  s.put(x, rng);
  s.flush();
  EXPECT_TRUE(same(s.read(0), x));
  std::printf("O_DIRECT in use: %s\n", s.direct() ? "yes" : "no (filesystem refused it)");
  s.close();
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace tessel::continual
