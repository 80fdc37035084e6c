// CPU N:M compressed GEMM vs dense Eigen on one core, reported as ratios measured in the same run.
//
// Y = W X with W out x K pruned to N:M, X K x T. Dense baselines: Eigen's int32 product of
// the widened int8 operands (what models/linalg/gemm_reference.h computes) and Eigen's fp32
// product, both in nxm_dense_baseline.cpp, which is compiled with -mavx2 -mfma so Eigen
// uses the same vector ISA as the sparse kernels' AVX2 path.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>

#include "models/sparse/nm_gemm.h"

namespace tessel::sparse {
namespace bench {
void dense_int8(const int8_t* w, const int8_t* x, int64_t out, int64_t k, int64_t t, int32_t* y);
void dense_fp32(const float* w, const float* x, int64_t out, int64_t k, int64_t t, float* y);
bool vectorized_with_avx2();
}  // namespace bench
namespace {

const Pattern kPatterns[] = {{2, 4}, {1, 4}, {2, 8}, {4, 8}};

void dense_int8(benchmark::State& state) {
  const int64_t n = state.range(0);
  MatrixI8 w = random_nm_int8(n, n, {2, 4}, 1), x = random_int8(n, n, 2);
  MatrixI32 y(n, n);
  for (auto _ : state) {
    bench::dense_int8(w.data(), x.data(), n, n, n, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(n) * n * n,
                                                benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

void sparse_int8(benchmark::State& state, Pattern p) {
  const int64_t n = state.range(0);
  auto w = compress(random_nm_int8(n, n, p, 1), p);
  MatrixI8 x = random_int8(n, n, 2);
  for (auto _ : state) benchmark::DoNotOptimize(nm_gemm(w, x).data());
  // Dense-equivalent MACs, so the rate compares directly with the dense line.
  state.counters["dense-equiv GMAC/s"] = benchmark::Counter(
      static_cast<double>(n) * n * n, benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1000);
}

void dense_fp32(benchmark::State& state) {
  const int64_t n = state.range(0);
  MatrixF w = random_nm_float(n, n, {2, 4}, 1), x = random_float(n, n, 2), y(n, n);
  for (auto _ : state) {
    bench::dense_fp32(w.data(), x.data(), n, n, n, y.data());
    benchmark::DoNotOptimize(y.data());
  }
}

void sparse_fp32(benchmark::State& state, Pattern p) {
  const int64_t n = state.range(0);
  auto w = compress(random_nm_float(n, n, p, 1), p);
  MatrixF x = random_float(n, n, 2);
  for (auto _ : state) benchmark::DoNotOptimize(nm_gemm(w, x).data());
}

// Prints each sparse line's time as a speedup over its dense baseline of the same size.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs)
      // CPU time, not wall time: every kernel here is single-threaded, and on a shared
      // machine wall time also counts the time other processes held the core.
      if (!r.error_occurred) times_[r.benchmark_name()] = r.GetAdjustedCPUTime();
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf(
        "\nSpeedup over dense Eigen, same run, one thread, CPU time (>1 = sparse faster):\n");
    for (const auto& [name, t] : times_) {
      std::string base;
      if (name.rfind("nm_int8/", 0) == 0) base = "dense_int8/";
      if (name.rfind("nm_fp32/", 0) == 0) base = "dense_fp32/";
      if (base.empty()) continue;
      // "nm_int8/2:4/1024" -> baseline "dense_int8/1024"
      std::string size = name.substr(name.rfind('/') + 1);
      auto it = times_.find(base + size);
      if (it != times_.end())
        std::printf("  %-22s %6.2fx vs %s\n", name.c_str(), it->second / t, (base + size).c_str());
    }
  }

 private:
  std::map<std::string, double> times_;
};

}  // namespace
}  // namespace tessel::sparse

int main(int argc, char** argv) {
  using namespace tessel::sparse;
  Eigen::setNbThreads(1);
  std::printf("dense baseline vectorised with AVX2: %s; sparse kernel AVX2 path: %s\n",
              bench::vectorized_with_avx2() ? "yes" : "no", cpu_has_avx2() ? "yes" : "no");
  for (int64_t n : {256, 1024}) {
    benchmark::RegisterBenchmark("dense_int8", dense_int8)->Arg(n)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("dense_fp32", dense_fp32)->Arg(n)->Unit(benchmark::kMillisecond);
    for (const Pattern& p : kPatterns) {
      benchmark::RegisterBenchmark(("nm_int8/" + p.str()).c_str(), sparse_int8, p)
          ->Arg(n)
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("nm_fp32/" + p.str()).c_str(), sparse_fp32, p)
          ->Arg(n)
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
