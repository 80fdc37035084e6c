// CPU N:M compressed GEMM against the strongest dense libraries, one core, same process.
//
// Y = W X with W out x K pruned to N:M, X K x T. Every line reports dense-equivalent MACs
// per second, out*K*T / time (counter "dense_eq_GMAC/s"), for sparse and dense alike, so
// the ratio of two lines is the speedup. Lines (shape = out x K x T):
//   dense/<lib>/<shape>              oneDNN u8s8s32 and s8s8s32 matmul, oneDNN fp32 matmul,
//                                    OpenBLAS sgemm (nm_dense_baseline.cpp; each optional)
//   nm_int8/<N:M>/<level>/<shape>    the int8 kernel at every level the CPU has, weights
//                                    laid out once (NmGemmInt8Cpu) as oneDNN's are reordered
//   nm_int8_e2e/<N:M>/<shape>        nm_gemm(w, x): the weight layout inside the timing
//   nm_fp32/<N:M>/<shape>            the fp32 kernel
// At the end the console gets each sparse line's ratio to the faster oneDNN int8 line of
// its shape (int8) or to the faster fp32 library (fp32), from CPU time. --benchmark_out=...
// --benchmark_out_format=json writes the raw numbers; the context records library versions,
// thread settings, the kernels the libraries picked and the sparse kernel's plan.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "models/sparse/nm_gemm.h"

namespace tessel::sparse {
namespace bench {
class DenseGemm {
 public:
  virtual ~DenseGemm() = default;
  virtual void run() = 0;
  virtual std::string check() = 0;
};
std::vector<std::string> dense_baselines();
std::unique_ptr<DenseGemm> make_dense(const std::string& name, const int8_t* w, const int8_t* x,
                                      int64_t out, int64_t k, int64_t t, std::string& impl);
void dense_single_thread();
std::vector<std::pair<std::string, std::string>> dense_context();
}  // namespace bench
namespace {

struct Shape {
  int64_t out, k, t;
  std::string str() const {
    return std::to_string(out) + "x" + std::to_string(k) + "x" + std::to_string(t);
  }
  double macs() const { return static_cast<double>(out) * static_cast<double>(k) * t; }
};
// The 1024^3; a small square one; a Transformer MLP layer (w_fc of the
// tinyshakespeare model, 512 x 128, at 2048 tokens as in results/nxm_transformer_layers).
const Shape kShapes[] = {{1024, 1024, 1024}, {256, 256, 256}, {512, 128, 2048}};
const Pattern kPatterns[] = {{2, 4}, {1, 4}, {2, 8}, {4, 8}};

void set_rate(benchmark::State& state, const Shape& s) {
  state.counters["dense_eq_GMAC/s"] =
      benchmark::Counter(s.macs() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// 64 sampled outputs against int64 dot products of the dense operands.
template <typename Y>
bool sampled_equal(const MatrixI8& w, const MatrixI8& x, const Y& y) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 64; ++i) {
    const int64_t r = static_cast<int64_t>(rng() % static_cast<uint64_t>(w.rows()));
    const int64_t t = static_cast<int64_t>(rng() % static_cast<uint64_t>(x.cols()));
    int64_t dot = 0;
    for (int64_t k = 0; k < w.cols(); ++k) dot += int64_t{w(r, k)} * x(k, t);
    if (static_cast<double>(y(r, t)) != static_cast<double>(dot)) return false;
  }
  return true;
}

void dense(benchmark::State& state, std::string lib, Shape s) {
  MatrixI8 w = random_nm_int8(s.out, s.k, {2, 4}, 1), x = random_int8(s.k, s.t, 2);
  std::string impl;
  auto g = bench::make_dense(lib, w.data(), x.data(), s.out, s.k, s.t, impl);
  const std::string err = g->check();
  if (!err.empty()) {
    state.SkipWithError((lib + ": " + err).c_str());
    return;
  }
  state.SetLabel(impl);
  for (auto _ : state) g->run();
  set_rate(state, s);
}

void sparse_int8(benchmark::State& state, Pattern p, CpuIsa isa, Shape s) {
  auto w = compress(random_nm_int8(s.out, s.k, p, 1), p);
  MatrixI8 x = random_int8(s.k, s.t, 2);
  NmGemmInt8Cpu kernel(w, isa);
  if (!sampled_equal(decompress(w), x, kernel(x))) {
    state.SkipWithError("sparse result differs from the dense dot product");
    return;
  }
  state.SetLabel(kernel.describe());
  for (auto _ : state) benchmark::DoNotOptimize(kernel(x).data());
  set_rate(state, s);
}

void sparse_int8_e2e(benchmark::State& state, Pattern p, Shape s) {
  auto w = compress(random_nm_int8(s.out, s.k, p, 1), p);
  MatrixI8 x = random_int8(s.k, s.t, 2);
  for (auto _ : state) benchmark::DoNotOptimize(nm_gemm(w, x).data());
  set_rate(state, s);
}

void sparse_fp32(benchmark::State& state, Pattern p, Shape s) {
  // Integer-valued floats, as the dense fp32 lines use (exact sums either way).
  MatrixI8 wi = random_nm_int8(s.out, s.k, p, 1), xi = random_int8(s.k, s.t, 2);
  auto w = compress(MatrixF(wi.cast<float>()), p);
  MatrixF x = xi.cast<float>();
  if (!sampled_equal(wi, xi, nm_gemm(w, x))) {
    state.SkipWithError("sparse fp32 result differs from the dense dot product");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(nm_gemm(w, x).data());
  set_rate(state, s);
}

// Prints each sparse line's rate as a ratio to the strongest dense line of its shape.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    // CPU time, not wall time: everything here is single-threaded, and on a shared machine
    // wall time also counts the time other processes held the core. With repetitions, the
    // median of each line (run_name without the "_median" suffix) replaces single runs.
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const std::string name = r.run_name.str();
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") {
        times_[name] = r.GetAdjustedCPUTime();
        medians_.insert(name);
      } else if (r.run_type == Run::RT_Iteration && !medians_.count(name)) {
        times_[name] = r.GetAdjustedCPUTime();
      }
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf(
        "\nDense-equivalent rate relative to the strongest dense library, same run, one "
        "thread, CPU time%s (>1 = sparse faster):\n",
        medians_.empty() ? "" : ", median of the repetitions");
    for (const auto& [name, t] : times_) {
      const bool int8 = name.rfind("nm_int8", 0) == 0, fp32 = name.rfind("nm_fp32/", 0) == 0;
      if (!int8 && !fp32) continue;
      const std::string shape = name.substr(name.rfind('/') + 1);
      const auto best = [&](std::initializer_list<const char*> libs) {
        std::pair<std::string, double> b{"", 0.0};
        for (const char* lib : libs) {
          auto it = times_.find(std::string("dense/") + lib + "/" + shape);
          if (it != times_.end() && (b.first.empty() || it->second < b.second))
            b = {lib, it->second};
        }
        return b;
      };
      const auto i8 = best({"onednn_u8s8s32", "onednn_s8s8s32"});
      const auto f32 = best({"onednn_f32", "openblas_sgemm"});
      std::printf("  %-44s", name.c_str());
      if (int8 && !i8.first.empty()) std::printf("  %5.2fx %s", i8.second / t, i8.first.c_str());
      if (!f32.first.empty()) std::printf("  %5.2fx %s", f32.second / t, f32.first.c_str());
      if (i8.first.empty() && f32.first.empty()) std::printf("  (no dense library in this build)");
      std::printf("\n");
    }
  }

 private:
  std::map<std::string, double> times_;
  std::set<std::string> medians_;
};

}  // namespace
}  // namespace tessel::sparse

int main(int argc, char** argv) {
  using namespace tessel::sparse;
  bench::dense_single_thread();
  std::vector<CpuIsa> levels;
  std::string level_names;
  for (CpuIsa isa : kAllCpuIsas)
    if (cpu_supports(isa)) {
      levels.push_back(isa);
      level_names += std::string(level_names.empty() ? "" : " ") + cpu_isa_name(isa);
    }
  benchmark::AddCustomContext("nm_int8_levels", level_names);
  benchmark::AddCustomContext("nm_int8_best", cpu_isa_name(cpu_best_isa()));
  for (const auto& [k, v] : bench::dense_context()) {
    benchmark::AddCustomContext(k, v);
    std::printf("%s: %s\n", k.c_str(), v.c_str());
  }
  std::printf("int8 kernel levels on this CPU: %s (nm_gemm uses %s)\n", level_names.c_str(),
              cpu_isa_name(cpu_best_isa()));
  const std::vector<std::string> libs = bench::dense_baselines();
  auto reg = [](const std::string& name, auto&& fn, auto... args) {
    benchmark::RegisterBenchmark(name.c_str(), fn, args...)->Unit(benchmark::kMillisecond);
  };
  for (const Shape& s : kShapes) {
    for (const std::string& lib : libs) reg("dense/" + lib + "/" + s.str(), dense, lib, s);
    for (const Pattern& p : kPatterns) {
      for (CpuIsa isa : levels) {
        // The portable loops take seconds at the large shapes; they are timed on the small one.
        if (isa == CpuIsa::kPortable && s.macs() > 3e7) continue;
        reg("nm_int8/" + p.str() + "/" + cpu_isa_name(isa) + "/" + s.str(), sparse_int8, p, isa, s);
      }
      reg("nm_int8_e2e/" + p.str() + "/" + s.str(), sparse_int8_e2e, p, s);
      reg("nm_fp32/" + p.str() + "/" + s.str(), sparse_fp32, p, s);
    }
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
