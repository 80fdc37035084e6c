// CPU-Adam speed (issue 17): one optimizer step over 1M, 10M and 100M fp32 parameters on 1
// and 2 threads, for the scalar reference, the engine's AdamW (nn::AdamW::step, alone and
// with the nn::clip_grad_norm pass the trainer runs before it) and CPU-Adam's AVX2 and
// AVX-512 paths (full step: norm pass + fused update with the fp16 copy; and the fused pass
// alone). Baseline in the same process: STREAM-like copy and triad on arrays of the same
// length, same threads. A table of ratios is printed at the end (docs/cpu_adam.md).
//
// Bytes per parameter per step, read + written (the count): CPU-Adam and the scalar
// reference 30 (p, g, m, v read; p, m, v written; 2-byte copy written; the norm pass's
// second read of g is not counted), the engine 28 (no copy). STREAM: copy 8, triad 12.
//
// Timing: wall time (Time column, GB/s) and the process's CPU time over all threads
// (GB_per_cpu_s), since other jobs share the machine; by default every line runs 3 times in
// random order (--benchmark_enable_random_interleaving) and the table uses the medians.
//
//   build/bench/cpu_adam_bench                                  (everything, ~4 minutes)
//   build/bench/cpu_adam_bench --benchmark_filter=/10M/        (one size)
#include <benchmark/benchmark.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "models/cpu_adam/cpu_adam.h"
#include "models/nn/optimizer.h"
#include "runtime/core/cpu_time.h"

namespace tessel::cpu_adam {
namespace {

constexpr double kAdamBytes = 30, kEngineBytes = 28, kCopyBytes = 8, kTriadBytes = 12;

// Hands every optimizer of one size the same two buffers (m, then v): the engine's AdamW and
// each CPU-Adam configuration run on one state instead of a copy each (0.8 GB per copy at
// 100M parameters). The values in them do not change the speed of any line.
class SharedState : public nn::StateAllocator {
 public:
  explicit SharedState(std::size_t n) : m_(n), v_(n) {}
  float* allocate(std::size_t) override { return (next_++ % 2 == 0 ? m_ : v_).data(); }
  void release(float*, std::size_t) override {}
  std::string name() const override { return "bench-shared"; }

 private:
  std::vector<float> m_, v_;
  int next_ = 0;
};

// Everything one size needs, built on first use and kept (about 30 bytes per parameter:
// 3.3 GB for the three sizes together).
struct Problem {
  std::size_t n;
  nn::ParamStore<float> params;  // values = fp32 master, grads
  std::shared_ptr<SharedState> state;
  std::unique_ptr<nn::AdamW> engine;
  std::vector<uint16_t> half;
  std::vector<float> a, b, c;  // STREAM arrays
  std::vector<Segment> segments;

  explicit Problem(std::size_t size) : n(size) {
    // 512 x 512 weight matrices (decayed) and one remainder vector: the engine threads over
    // parameters, so it needs many of them to use both threads.
    constexpr int kSide = 512;
    const std::size_t per = std::size_t{kSide} * kSide;
    for (std::size_t off = 0, i = 0; off < n; ++i) {
      if (n - off >= per) {
        params.add("w" + std::to_string(i), kSide, kSide, -1, true);
        off += per;
      } else {
        params.add("b", static_cast<int>(n - off), 1, -1, false);
        off = n;
      }
    }
    params.finalize();
    auto& p = params.values();
    auto& g = params.grads();
    uint64_t s = 12345;
    for (std::size_t i = 0; i < n; ++i) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      const double u = static_cast<double>(s >> 11) * 0x1.0p-53;
      p[i] = static_cast<float>(0.2 * u - 0.1);
      g[i] = static_cast<float>(2e-3 * (u - 0.5) + ((i % 7) - 3) * 1e-4);
    }
    state = std::make_shared<SharedState>(n);
    engine = std::make_unique<nn::AdamW>(nn::AdamWConfig{}, n, state);
    half.resize(n);
    a.assign(n, 1.0f);
    b.assign(n, 2.0f);
    c.assign(n, 0.5f);
    segments = segments_of(params.infos());
  }
};

Problem& problem(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<Problem>> cache;
  auto& p = cache[n];
  if (!p) p = std::make_unique<Problem>(n);
  return *p;
}

// Runs `step` as the timed loop and sets the counters: GB/s (wall), GB_per_cpu_s (bytes per
// second of CPU time summed over threads: the per-core rate), Mparam/s (wall).
template <typename Step>
void timed(benchmark::State& state, std::size_t n, double bytes_per_param, Step&& step) {
  step();  // warm-up: page-in, OpenMP team start
  const double cpu0 = tessel::process_cpu_seconds();
  for (auto _ : state) step();
  const double cpu = tessel::process_cpu_seconds() - cpu0;
  const auto iters = static_cast<double>(state.iterations());
  const double bytes = bytes_per_param * static_cast<double>(n) * iters;
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsRate);
  state.counters["GB_per_cpu_s"] = bytes * 1e-9 / cpu;
  state.counters["Mparam/s"] =
      benchmark::Counter(static_cast<double>(n) * iters * 1e-6, benchmark::Counter::kIsRate);
}

enum class Line { kCopy, kTriad, kScalar, kEngine, kEngineNorm, kAvx2, kAvx512, kAvx512Update };

void run_line(benchmark::State& state, Line line, std::size_t n, int threads, std::size_t tile) {
  Problem& pr = problem(n);
  float* p = pr.params.values().data();
  const float* g = pr.params.grads().data();
  const double lr = 1e-3;
  const auto cpu_adam = [&](Isa isa) {
    return std::make_unique<CpuAdam>(nn::AdamWConfig{}, pr.segments,
                                     CpuAdamOptions{isa, threads, tile, HalfFormat::kFp16},
                                     pr.state);
  };
  switch (line) {
    case Line::kCopy: {
      float* a = pr.a.data();
      const float* b = pr.b.data();
      const auto len = static_cast<std::ptrdiff_t>(n);
      timed(state, n, kCopyBytes, [&] {
#pragma omp parallel for schedule(static) num_threads(threads)
        for (std::ptrdiff_t i = 0; i < len; ++i) a[i] = b[i];
        benchmark::ClobberMemory();
      });
      break;
    }
    case Line::kTriad: {
      float* a = pr.a.data();
      const float *b = pr.b.data(), *c = pr.c.data();
      const auto len = static_cast<std::ptrdiff_t>(n);
      timed(state, n, kTriadBytes, [&] {
#pragma omp parallel for schedule(static) num_threads(threads)
        for (std::ptrdiff_t i = 0; i < len; ++i) a[i] = b[i] + 3.0f * c[i];
        benchmark::ClobberMemory();
      });
      break;
    }
    case Line::kEngine:
    case Line::kEngineNorm: {
      omp_set_num_threads(threads);  // the engine's parallel for uses the default team
      const bool norm = line == Line::kEngineNorm;
      timed(state, n, kEngineBytes, [&] {
        if (norm) benchmark::DoNotOptimize(nn::clip_grad_norm(pr.params.grads(), 0));
        pr.engine->step(pr.params, lr);
      });
      break;
    }
    case Line::kScalar:
    case Line::kAvx2:
    case Line::kAvx512: {
      const Isa isa = line == Line::kScalar ? Isa::kScalar
                      : line == Line::kAvx2 ? Isa::kAvx2
                                            : Isa::kAvx512;
      if (!isa_supported(isa)) return state.SkipWithError("path not supported on this CPU");
      auto adam = cpu_adam(isa);
      timed(state, n, kAdamBytes, [&] { adam->step(p, g, pr.half.data(), lr); });
      break;
    }
    case Line::kAvx512Update: {
      if (!isa_supported(Isa::kAvx512)) return state.SkipWithError("no AVX-512 on this CPU");
      auto adam = cpu_adam(Isa::kAvx512);
      timed(state, n, kAdamBytes, [&] { adam->step_with_norm(p, g, pr.half.data(), lr, 1.0); });
      break;
    }
  }
}

// Prints, per size and thread count, each line's GB/s against the STREAM lines and its
// speed against the scalar reference and the engine, from the medians of the repetitions.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const std::string name = r.run_name.function_name;
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (aggregate && r.aggregate_name != "median" && r.aggregate_name != "max") continue;
      if (!aggregate && aggregated_.count(name)) continue;
      if (aggregate) aggregated_.insert(name);
      const auto get = [&](const char* k) {
        const auto it = r.counters.find(k);
        return it == r.counters.end() ? 0.0 : static_cast<double>(it->second);
      };
      Row& row = rows_[name];
      if (!aggregate || r.aggregate_name == "median")
        row = {get("GB/s"), get("GB_per_cpu_s"), row.best};
      if (!aggregate || r.aggregate_name == "max") row.best = get("GB/s");
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf(
        "\nPer size and threads%s: GB/s (wall; best) and GB per CPU-second; x: speed ratio "
        "in parameters per second (wall | per CPU-second); %%stream: best GB/s / the better "
        "STREAM line's best GB/s (STREAM counts no write-allocate reads).\n",
        aggregated_.empty() ? "" : " (median of the repetitions; best: the fastest one)");
    for (const char* size : {"32K", "1M", "10M", "100M"})
      for (const char* t : {"1t", "2t"}) {
        const std::string suffix = std::string("/") + size + "/" + t;
        const auto row = [&](const char* line) -> const Row* {
          const auto it = rows_.find(line + suffix);
          return it == rows_.end() ? nullptr : &it->second;
        };
        const Row *scalar = row("scalar_ref"), *engine = row("engine_adamw"),
                  *copy = row("stream_copy"), *triad = row("stream_triad");
        if (!scalar && !engine && !triad) continue;
        const double stream = std::max(copy ? copy->best : 0.0, triad ? triad->best : 0.0);
        std::printf("%s threads=%c\n", size, t[0]);
        for (const char* line :
             {"stream_copy", "stream_triad", "scalar_ref", "engine_adamw", "engine_norm_adamw",
              "cpu_adam_avx2", "cpu_adam_avx512", "cpu_adam_avx512_update"}) {
          const Row* r = row(line);
          if (!r) continue;
          std::printf("  %-23s %6.2f GB/s (%6.2f) %6.2f GB/cpu-s", line, r->gbs, r->best,
                      r->gb_cpu);
          const bool adam = std::string(line).rfind("stream", 0) != 0;
          const auto ratio = [&](const Row* base, const char* what) {
            // Wall and CPU-time ratios in parameters per second (GB/s differs in bytes).
            const double bytes_r = bytes_of(line) / bytes_of(what);
            if (base && base->gbs > 0)
              std::printf("  %5.2fx|%5.2fx %s", r->gbs / base->gbs / bytes_r,
                          r->gb_cpu / base->gb_cpu / bytes_r, what);
          };
          if (adam) {
            ratio(scalar, "scalar_ref");
            ratio(engine, "engine_adamw");
            if (stream > 0) std::printf("  %3.0f%%stream", 100 * r->best / stream);
          }
          std::printf("\n");
        }
      }
    // The tile sweep (tile/...), in order of tile size.
    std::map<std::size_t, std::pair<std::string, Row>> tiles;
    for (const auto& [name, r] : rows_)
      if (name.rfind("tile/", 0) == 0)
        tiles[std::stoul(name.substr(name.rfind('/') + 1))] = {name, r};
    if (!tiles.empty()) std::printf("Tile sweep (cpu_adam_avx512 step):\n");
    for (const auto& [tile, e] : tiles)
      std::printf("  %-28s %6.2f GB/s (%6.2f) %6.2f GB/cpu-s\n", e.first.c_str(), e.second.gbs,
                  e.second.best, e.second.gb_cpu);
  }

 private:
  struct Row {
    double gbs = 0, gb_cpu = 0, best = 0;
  };
  static double bytes_of(const std::string& line) {
    if (line.rfind("engine", 0) == 0) return kEngineBytes;
    return kAdamBytes;
  }
  std::map<std::string, Row> rows_;
  std::set<std::string> aggregated_;
};

}  // namespace
}  // namespace tessel::cpu_adam

int main(int argc, char** argv) {
  using namespace tessel::cpu_adam;
  // With more runnable threads than cores (this machine's case when other jobs run), an
  // OpenMP thread spinning at a barrier takes the core its partner is waiting for and
  // 2-thread steps take tens of milliseconds; sleeping waits avoid that. libgomp reads the
  // variable when it loads, so the bench sets it and runs itself again.
  if (!std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);
    std::perror("cpu_adam_bench: re-exec with OMP_WAIT_POLICY=passive");
  }
  const auto best_of = [](const std::vector<double>& v) {
    return *std::max_element(v.begin(), v.end());
  };
  const struct {
    const char* name;
    Line line;
  } lines[] = {{"stream_copy", Line::kCopy},
               {"stream_triad", Line::kTriad},
               {"scalar_ref", Line::kScalar},
               {"engine_adamw", Line::kEngine},
               {"engine_norm_adamw", Line::kEngineNorm},
               {"cpu_adam_avx2", Line::kAvx2},
               {"cpu_adam_avx512", Line::kAvx512},
               {"cpu_adam_avx512_update", Line::kAvx512Update}};
  const struct {
    const char* name;
    std::size_t n;
  } sizes[] = {{"32K", 32768}, {"1M", 1000000}, {"10M", 10000000}, {"100M", 100000000}};
  for (const auto& s : sizes)
    for (int threads : {1, 2})
      for (const auto& l : lines) {
        // 32K parameters (0.98 MB of traffic, Zen 5's 1 MiB L2): the compute ceiling of each
        // path on one core; one tile, so one thread only.
        if (s.n <= 32768 && threads > 1) continue;
        const std::string name =
            std::string(l.name) + "/" + s.name + "/" + std::to_string(threads) + "t";
        benchmark::RegisterBenchmark(name.c_str(), run_line, l.line, s.n, threads, kDefaultTile)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MeasureProcessCPUTime()
            ->ComputeStatistics("max", best_of)
            ->MinTime(0.3);
      }
  // Tile sizes (elements) for the AVX-512 step at 10M parameters on 2 threads.
  for (std::size_t tile : {1024, 4096, 16384, 65536, 262144, 1048576, 4194304}) {
    const std::string name = "tile/avx512/10M/2t/" + std::to_string(tile);
    benchmark::RegisterBenchmark(name.c_str(), run_line, Line::kAvx512, std::size_t{10000000}, 2,
                                 tile)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->MeasureProcessCPUTime()
        ->ComputeStatistics("max", best_of)
        ->MinTime(0.3);
  }
  // Defaults first, so that flags given on the command line override them.
  std::vector<char*> args{argv[0]};
  std::string reps = "--benchmark_repetitions=3",
              shuffle = "--benchmark_enable_random_interleaving=true",
              only_aggregates = "--benchmark_report_aggregates_only=true";
  args.insert(args.end(), {reps.data(), shuffle.data(), only_aggregates.data()});
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  std::printf("OMP_WAIT_POLICY=%s\n", std::getenv("OMP_WAIT_POLICY"));
  std::printf("CPU-Adam paths on this CPU: scalar%s%s (best: %s)\n",
              isa_supported(Isa::kAvx2) ? " avx2" : "",
              isa_supported(Isa::kAvx512) ? " avx512" : "", isa_name(best_isa()));
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
