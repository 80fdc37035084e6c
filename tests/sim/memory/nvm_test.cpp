// Optane-like NVM under load: large writes pay the media rate, reads and writes share one
// media scheduler, many concurrent writers thrash the on-DIMM write-combining buffer, and a
// read of a line still in flight waits for it. Checked against measurements that are not
// inputs of the model: Yang et al., "An Empirical Guide to the Behavior and Use of Scalable
// Persistent Memory", FAST 2020 (numbers from the authors' data behind the paper's figures,
// github.com/NVSL/OptaneStudy, graphs/*.csv), and Izraelevitz et al., "Basic Performance
// Measurements of the Intel Optane DC Persistent Memory Module", arXiv:1903.05714.
// SystemC runs one simulation per process, so every run forks a child.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/memory_trace.h"
#include "runtime/core/runner.h"
#include "tests/sim/in_child.h"

namespace tessel::memory {
namespace {

const std::string kHw = std::string(TESSEL_SOURCE_DIR) + "/configs/hw/memory/";

// Runs the registered "memory" model on `device` (a file in configs/hw/memory) with an
// inline workload (YAML flow mapping).
SimResult run_memory(const std::string& device, const std::string& workload) {
  const std::string text = "hw: {model: memory, energy: {table: " + std::string(TESSEL_SOURCE_DIR) +
                           "/configs/energy/memory_devices.yaml, node_nm: 45}, device: " + kHw +
                           device + "}\nworkload: " + workload + "\nseed: 3\n";
  return run_experiment(Config::parse(text, "nvm_test_experiment.yaml"));
}

using tessel::testing::in_child;

// Metrics (or counters) `keys` of one run; NaN when a conservation check fails.
std::vector<double> metrics(const std::string& device, const std::string& workload,
                            const std::vector<std::string>& keys) {
  return in_child(
      [&] {
        SimResult r = run_memory(device, workload);
        std::vector<double> out;
        for (const Check& c : r.checks)
          if (!c.passed) return out;
        for (const std::string& k : keys) {
          auto m = r.metrics.find(k);
          out.push_back(m != r.metrics.end() ? m->second : static_cast<double>(r.counters.at(k)));
        }
        return out;
      },
      keys.size());
}

double metric(const std::string& device, const std::string& workload, const std::string& key) {
  return metrics(device, workload, {key})[0];
}

// Writes `t` as a binary trace under the build tree and returns the workload that plays it.
// The files are removed when the test process exits.
std::vector<std::string> trace_files;

std::string trace_workload(const MemoryTrace& t, const std::string& name, int64_t outstanding) {
  const std::string path = std::string(TESSEL_BINARY_DIR) + "/nvm_test_" + name + "_" +
                           std::to_string(getpid()) + ".trc";
  write_memory_trace(path, t, true);
  if (trace_files.empty())
    std::atexit([] {
      for (const std::string& f : trace_files) std::remove(f.c_str());
    });
  if (std::find(trace_files.begin(), trace_files.end(), path) == trace_files.end())
    trace_files.push_back(path);
  return "{kind: trace, trace: " + path + ", max_outstanding: " + std::to_string(outstanding) + "}";
}

MemoryRequest request(bool write, uint64_t address, uint32_t bytes, int64_t time_ps = -1) {
  MemoryRequest r;
  r.write = write;
  r.address = address;
  r.bytes = bytes;
  r.time_ps = time_ps;
  return r;
}

// `threads` writers, each streaming 64 B stores through its own region, interleaved one
// store at a time as the iMC receives them from concurrent cores (a core's non-temporal
// stores leave it as 64 B write-combining flushes). Each writer keeps one 256 B access in
// flight (LATTester fences after every access: OptaneStudy data/README.md), so the player
// allows 4 stores per writer.
MemoryTrace writers(int threads, int stores_per_thread) {
  MemoryTrace t;
  for (int i = 0; i < stores_per_thread; ++i)
    for (int th = 0; th < threads; ++th)
      t.requests.push_back(request(true, (static_cast<uint64_t>(th) << 26) + 64ull * i, 64));
  return t;
}

// Write bandwidth (GB/s) and media write amplification of `threads` interleaved writers
// on one DIMM.
std::vector<double> writer_run(int threads) {
  const int stores = std::max(2048, 24576 / threads);
  return metrics("optane_pmm.yaml",
                 trace_workload(writers(threads, stores), "writers", 4ll * threads),
                 {"bandwidth_gbps", "nvm.write_amplification"});
}

// ---- Findings of issue 18, reproduced -------------------------------------------------

// A write is persistent once it is in the iMC's write-pending queue, but the queue holds
// 64 B entries that leave it at the rate the DIMM takes them: a 1 MiB write cannot be
// acknowledged before most of it has gone to the media. Yang et al. FAST'20 Fig. 5 (data:
// graphs/05-bandwidth_accesssize_optane_ni.csv): one DIMM, 1 MiB ntstore accesses,
// 2.21 GB/s.
TEST(NvmFinding, OneLargeWriteWaitsForTheMedia) {
  const double ns = metric("optane_pmm.yaml",
                           "{kind: synthetic, pattern: streaming, requests: 1, "
                           "request_bytes: 1048576, footprint_mib: 1, read_fraction: 0}",
                           "latency_p50_ns");
  const double published_ns = 1048576 / 2.21;
  EXPECT_NEAR(ns, published_ns, 0.2 * published_ns);
}

TEST(NvmFinding, ManyLargeWritesAreCappedByOneDimm) {
  const double bw = metric("optane_pmm.yaml",
                           "{kind: synthetic, pattern: streaming, requests: 64, "
                           "request_bytes: 1048576, footprint_mib: 64, max_outstanding: 64, "
                           "read_fraction: 0}",
                           "bandwidth_gbps");
  EXPECT_NEAR(bw, 2.21, 0.2 * 2.21);
  // Six DIMMs interleaved at 4 KiB take a large write in parallel, one WPQ each:
  // Izraelevitz et al. §3 report 13.9 GB/s of writes for six (text, not a figure).
  const double bw6 = metric("optane_6dimm.yaml",
                            "{kind: synthetic, pattern: streaming, requests: 64, "
                            "request_bytes: 1048576, footprint_mib: 64, max_outstanding: 64, "
                            "read_fraction: 0}",
                            "bandwidth_gbps");
  EXPECT_NEAR(bw6, 13.9, 0.2 * 13.9);
}

// Reads and writes share the DIMM's media, and a line write keeps it busy about three
// times as long as a line read: a mix is slower than reads alone (issue 18: 8.8 GB/s for
// a 3:1 mix against 6.6 read-only, before one scheduler served both). Published: Yang et
// al. FAST'20, 16 threads split into readers and writers (data: graphs/
// 06-bandwidth_thmix.csv, column PM-Optane, in MB/s): all readers 10714.6, 12 readers and
// 4 writers 8298.5, all writers 3892.9, i.e. 0.775 and 0.363 of the all-read bandwidth.
// The file states neither access size nor DIMM count, so the comparison is normalised by
// the all-read bandwidth and uses 256 B accesses (the size of the paper's Fig. 4 and 5),
// with the threads' mix as the mix of requests.
TEST(NvmFinding, MixedTrafficIsSlowerThanReadsAlone) {
  auto bw = [](double read_fraction) {
    return metric("optane_pmm.yaml",
                  "{kind: synthetic, pattern: random, requests: 60000, request_bytes: 256, "
                  "footprint_mib: 4096, max_outstanding: 64, read_fraction: " +
                      std::to_string(read_fraction) + "}",
                  "bandwidth_gbps");
  };
  const double reads = bw(1.0), mixed = bw(0.75), writes = bw(0.0);
  std::printf("256 B random, one DIMM: reads %.2f, 3:1 mix %.2f, writes %.2f GB/s\n", reads, mixed,
              writes);
  EXPECT_LT(mixed, reads);
  EXPECT_GT(mixed, writes);
  EXPECT_NEAR(mixed / reads, 0.775, 0.2 * 0.775);
  EXPECT_NEAR(writes / reads, 0.363, 0.2 * 0.363);
}

// Yang et al. FAST'20 Fig. 4, one DIMM (non-interleaved), ntstore, 256 B accesses (data:
// graphs/04-bandwidth_thcount_optane_ni.csv): flat to 4 threads, then a gradual decline
// (Yang et al. §5.3: writers contend for the XPBuffer and the iMC). Before issue 18 the
// model was flat, then fell 4x between 64 and 96 writers.
TEST(NvmFinding, WriteBandwidthDeclinesGraduallyWithWriters) {
  const std::map<int, double> published = {{1, 2.22}, {2, 2.21},  {4, 2.20},  {6, 1.96},
                                           {8, 1.53}, {12, 1.12}, {16, 0.94}, {24, 0.80}};
  std::map<int, double> model, amplification;
  for (int n : {1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128}) {
    const std::vector<double> v = writer_run(n);
    model[n] = v[0];
    amplification[n] = v[1];
  }
  for (const auto& [n, bw] : model) {
    auto p = published.find(n);
    std::printf("writers %3d: %.2f GB/s (published %s), media bytes per byte %.2f\n", n, bw,
                p == published.end() ? "-" : std::to_string(p->second).substr(0, 4).c_str(),
                amplification[n]);
  }
  // Saturated by one to four writers, at the measured level.
  for (int n : {1, 2, 4}) EXPECT_NEAR(model[n], published.at(n), 0.2 * published.at(n)) << n;
  // Declines from there on...
  int prev = 0;
  for (const auto& [n, bw] : model) {
    if (prev >= 4) {
      EXPECT_LT(bw, model[prev]) << prev << " -> " << n << " writers";
    }
    // ... gradually: no step of the sweep (at most x1.5 writers) loses 30 %.
    if (prev) {
      EXPECT_GT(bw, 0.7 * model[prev]) << prev << " -> " << n << " writers";
    }
    prev = n;
  }
  EXPECT_NEAR(model[6], published.at(6), 0.2 * published.at(6));
  // Media bytes per byte written, one DIMM, 256 B sequential ntstore accesses per thread:
  // the inverse of the effective write ratio (EWR) in OptaneStudy data/bandwidth.csv (rows
  // interleaving 0, NTStore, access and stride 256 B, machine AEP2): 1 thread 0.977,
  // 4 threads 0.874, 8 threads 0.611 (2 threads: 0.735, out of line with its neighbours).
  // Combining holds to 4 writers, as measured ...
  EXPECT_NEAR(amplification[1], 1 / 0.977, 0.2 / 0.977);
  EXPECT_NEAR(amplification[4], 1 / 0.874, 0.2 / 0.874);
  // ... but at 8 the model amplifies 1.05 against 1.64 measured: a 64-line buffer with one
  // partial line per writer cannot lose that many lines (docs/memory.md, limits). The
  // measured bandwidth decline is steeper for the same reason; hold the share the model
  // has so that it cannot silently vanish.
  EXPECT_LT(model[24], 0.8 * model[4]);
  EXPECT_GT(amplification[24], amplification[4]);
}

// A second read of a line whose media read is still under way is served by the on-DIMM
// buffer only once the line is there: no earlier than the first read.
TEST(NvmFinding, ReadOfALineInFlightWaitsForIt) {
  MemoryTrace t;
  t.requests = {request(false, 0x0, 64, 0), request(false, 0x40, 64, 10000)};
  const std::vector<double> v = metrics("optane_pmm.yaml", trace_workload(t, "inflight", 2),
                                        {"latency_max_ns", "latency_mean_ns"});
  // First read 305 ns from t = 0; the second, issued at 10 ns, completes at 305 ns too.
  const double first = v[0];
  const double second = 2 * v[1] - first;
  EXPECT_NEAR(first, 305, 1);
  EXPECT_GE(second + 10, first - 1e-6);
}

// ---- Published behaviour that is not an input ----------------------------------------

// Yang et al. FAST'20 (Fig. 9) infer the XPBuffer size: write the first half of every 256 B
// line of a region, then the second halves, over and over, and measure media bytes per
// byte written (data: graphs/09-infer_xpbuffer.csv). Up to 16 KB every line combines
// (about 1); beyond, the amplification rises gradually towards 2 (each half written back
// alone). The model's buffer size (64 lines) is an input; the curve past it is not. The
// replacement policy (random) was chosen because this curve rises gradually: LRU would
// give 2.0 from the first line past 16 KB.
TEST(NvmPublished, XpBufferWriteAmplificationAgainstRegionSize) {
  const std::map<int, double> published = {{16, 1.036}, {18, 1.039}, {20, 1.359}, {24, 1.608},
                                           {32, 1.820}, {48, 1.984}, {64, 2.043}, {128, 2.076}};
  for (const auto& [kib, wa] : published) {
    MemoryTrace t;
    const uint64_t lines = static_cast<uint64_t>(kib) * 4;
    const int passes = std::max(8, static_cast<int>(16384 / lines));
    for (int k = 0; k < passes; ++k)
      for (uint64_t half : {0, 128})
        for (uint64_t l = 0; l < lines; ++l)
          t.requests.push_back(request(true, l * 256 + half, 128));
    const double model =
        metric("optane_pmm.yaml", trace_workload(t, "xpbuffer", 4), "nvm.write_amplification");
    std::printf("region %3d KiB: write amplification %.3f (published %.3f)\n", kib, model, wa);
    EXPECT_NEAR(model, wa, 0.2 * wa) << kib << " KiB";
  }
}

}  // namespace
}  // namespace tessel::memory
