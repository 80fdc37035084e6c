// FGD (models/fgd, issue 22): time per decoding step, one thread, of the full softmax
// (OpenBLAS sgemv + exp + normalise), exact top-K, FGD (beam search on the project's flat HNSW
// graph over the L2-transformed vocabulary, softmax over the K found), SVD-softmax and hnswlib
// over the same transformed vectors, on the trained LMs of results/fgd. Every approximate
// method runs at the cheapest setting of its ladder that reaches precision@K >= 0.95 against
// the exact top-K on the timed positions (chosen before timing), so the ratios printed at the
// end compare methods at equal precision, all measured in this process.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "models/fgd/fgd.h"
#include "models/fgd/lm_states.h"
#include "models/fgd/output_layer.h"
#include "models/fgd/softmax_cuda.h"
#include "runtime/core/config.h"

namespace {

using namespace tessel;
using namespace tessel::fgd;

constexpr int64_t kPositions = 1000;
constexpr double kTarget = 0.95;

struct Lm {
  std::string name;
  DecodeSet set;
  std::unique_ptr<FgdDecoder> fgd;
  std::unique_ptr<HnswlibTopK> hnsw;
  std::map<int, std::vector<int32_t>> truth;  // K -> positions x K exact top-K
  const float* h(int64_t p) const { return set.hidden.data() + (p % set.positions) * set.head.dim; }
};
std::vector<std::unique_ptr<Lm>> g_lms;
bool g_gpu = false;  // a GPU is visible: the CUDA full-softmax + top-K baseline runs too

// The FGD graph of configs/experiments/fgd.yaml: flat HNSW (M 16, degree 32, ef_construction
// 200), 64 k-means++ start nodes, packed float layout.
FgdParams fgd_params() {
  FgdParams p;
  p.hnsw = {16, 32, 200};
  p.entry_points = 64;
  p.entries = "spread";
  return p;
}

double precision(const Lm& lm, int K, const std::vector<int32_t>& ids) {
  const std::vector<int32_t>& t = lm.truth.at(K);
  double hits = 0;
  for (int64_t p = 0; p < lm.set.positions; ++p) {
    std::vector<int32_t> a(ids.begin() + p * K, ids.begin() + (p + 1) * K),
        b(t.begin() + p * K, t.begin() + (p + 1) * K);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    std::vector<int32_t> c;
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(c));
    hits += static_cast<double>(c.size()) / K;
  }
  return hits / static_cast<double>(lm.set.positions);
}

// The cheapest setting of `ladder` whose precision reaches the target (the last one if none
// does), with its precision.
std::pair<int, double> calibrate(const Lm& lm, int K, const std::vector<int>& ladder,
                                 const std::function<void(int, int64_t, int32_t*)>& decode) {
  std::vector<int32_t> ids(static_cast<std::size_t>(lm.set.positions) * K);
  std::pair<int, double> out{ladder.back(), 0};
  for (int s : ladder) {
    if (s < K) continue;
    for (int64_t p = 0; p < lm.set.positions; ++p) decode(s, p, ids.data() + p * K);
    const double prec = precision(lm, K, ids);
    out = {s, prec};
    if (prec >= kTarget) break;
  }
  return out;
}

const std::vector<int> kBeams{1,  2,  4,  6,  8,   10,  12,  16,  20, 24,
                              32, 48, 64, 96, 128, 192, 256, 384, 512};
const std::vector<int> kCandidates{1, 2, 5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200};

void add_benchmarks(Lm& lm) {
  const OutputLayer& head = lm.set.head;
  const int d = head.dim;
  auto reg = [&](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)
        ->Unit(benchmark::kMicrosecond)
        ->MeasureProcessCPUTime()
        ->MinTime(0.3);
  };
  reg(lm.name + "/full_softmax", [&lm](benchmark::State& st) {
    std::vector<float> logits(lm.set.head.vocab), probs(lm.set.head.vocab);
    int64_t p = 0;
    for (auto _ : st) {
      benchmark::DoNotOptimize(full_softmax(lm.set.head, lm.h(p++), logits.data(), probs.data()));
      benchmark::ClobberMemory();
    }
  });
  for (int K : {1, 10, 100}) {
    const std::string k = "/K" + std::to_string(K);
    reg(lm.name + "/exact_topk" + k, [&lm, K](benchmark::State& st) {
      std::vector<float> logits(lm.set.head.vocab), top(K);
      std::vector<int32_t> ids(K);
      int64_t p = 0;
      for (auto _ : st) {
        compute_logits(lm.set.head, lm.h(p++), logits.data());
        exact_topk(logits.data(), lm.set.head.vocab, K, ids.data(), top.data());
        benchmark::DoNotOptimize(ids.data());
      }
    });
    std::vector<float> lg(K);
    const auto [beam, fgd_prec] = calibrate(lm, K, kBeams, [&](int b, int64_t p, int32_t* ids) {
      lm.fgd->topk(lm.h(p), K, b, ids, lg.data());
    });
    reg(lm.name + "/fgd" + k, [&lm, K, beam = beam, fgd_prec = fgd_prec](benchmark::State& st) {
      std::vector<float> logits(K), probs(K);
      std::vector<int32_t> ids(K);
      int64_t p = 0;
      for (auto _ : st) {
        lm.fgd->topk(lm.h(p++), K, beam, ids.data(), logits.data());
        benchmark::DoNotOptimize(normalise_found(logits.data(), K, probs.data()));
      }
      st.counters["setting"] = beam;
      st.counters["precision"] = fgd_prec;
    });
    // One SVD per candidate count (the factorisation does not depend on it, but the class
    // sizes its buffers by it); built once, not per position.
    std::unique_ptr<SvdSoftmax> svd;
    const auto [cand, svd_prec] =
        calibrate(lm, K, kCandidates, [&](int c, int64_t p, int32_t* ids) {
          if (!svd || svd->candidates() != c)
            svd = std::make_unique<SvdSoftmax>(lm.set.head, 16, c);
          svd->topk(lm.h(p), K, ids, lg.data());
        });
    reg(lm.name + "/svd_softmax" + k,
        [&lm, K, cand = cand, svd_prec = svd_prec](benchmark::State& st) {
          SvdSoftmax svd(lm.set.head, 16, cand);
          std::vector<float> logits(K), probs(K);
          std::vector<int32_t> ids(K);
          int64_t p = 0;
          for (auto _ : st) {
            svd.topk(lm.h(p++), K, ids.data(), logits.data());
            benchmark::DoNotOptimize(normalise_found(logits.data(), K, probs.data()));
          }
          st.counters["setting"] = cand;
          st.counters["precision"] = svd_prec;
        });
    if (g_gpu) {
      // The GPU baseline per step: upload h, cuBLAS GEMV, log partition and exact top-K, download.
      reg(lm.name + "/gpu_full_topk" + k, [&lm, K](benchmark::State& st) {
        CudaSoftmax gpu(lm.set.head);
        std::vector<float> top(K);
        std::vector<int32_t> ids(K);
        double log_z = 0;
        int64_t p = 0;
        for (auto _ : st) gpu.decode(lm.h(p++), 1, K, ids.data(), top.data(), &log_z);
      });
    }
    if (!lm.hnsw) continue;
    std::vector<float> qt(d + 2);
    const auto [ef, hn_prec] = calibrate(lm, K, kBeams, [&](int e, int64_t p, int32_t* ids) {
      transform_query(lm.h(p), d, qt.data());
      lm.hnsw->topk(qt.data(), K, e, ids);
    });
    // The same work after the search as FGD: exact logits of the K found and their softmax.
    reg(lm.name + "/hnswlib" + k, [&lm, K, ef = ef, hn_prec = hn_prec](benchmark::State& st) {
      const OutputLayer& hd = lm.set.head;
      std::vector<float> q(hd.dim + 2), logits(K), probs(K);
      std::vector<int32_t> ids(K);
      int64_t p = 0;
      for (auto _ : st) {
        const float* h = lm.h(p++);
        transform_query(h, hd.dim, q.data());
        lm.hnsw->topk(q.data(), K, ef, ids.data());
        for (int j = 0; j < K; ++j) {
          float s = hd.bias[ids[j]];
          for (int c = 0; c < hd.dim; ++c) s += hd.row(ids[j])[c] * h[c];
          logits[j] = s;
        }
        benchmark::DoNotOptimize(normalise_found(logits.data(), K, probs.data()));
      }
      st.counters["setting"] = ef;
      st.counters["precision"] = hn_prec;
    });
  }
}

// Prints each approximate method's speed-up over the full softmax and FGD's over hnswlib,
// from the median CPU time per step of the repetitions.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (aggregate && r.aggregate_name != "median") continue;
      const std::string name = r.run_name.function_name;
      if (!aggregate && seen_median_.count(name)) continue;
      if (aggregate) seen_median_.insert(name);
      us_[name] = r.GetAdjustedCPUTime();
      const auto it = r.counters.find("precision");
      if (it != r.counters.end()) precision_[name] = it->second;
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nPer step, one thread, median CPU time; x = full softmax time / method time\n");
    for (const auto& lm : g_lms) {
      const auto full = us_.find(lm->name + "/full_softmax");
      if (full == us_.end()) continue;
      std::printf("%s (vocabulary %lld): full softmax (%s) %.1f us\n", lm->name.c_str(),
                  static_cast<long long>(lm->set.head.vocab), gemv_backend(), full->second);
      for (int K : {1, 10, 100})
        for (const char* m : {"exact_topk", "gpu_full_topk", "svd_softmax", "hnswlib", "fgd"}) {
          const std::string n = lm->name + "/" + m + "/K" + std::to_string(K);
          const auto it = us_.find(n);
          if (it == us_.end()) continue;
          const auto pr = precision_.find(n);
          std::printf("  K=%-3d %-12s %9.2f us  x%7.1f", K, m, it->second,
                      full->second / it->second);
          if (pr != precision_.end()) std::printf("  precision@K %.4f", pr->second);
          const auto hn = us_.find(lm->name + "/hnswlib/K" + std::to_string(K));
          if (std::string(m) == "fgd" && hn != us_.end())
            std::printf("  (%.2fx faster than hnswlib)", hn->second / it->second);
          std::printf("\n");
        }
    }
  }

 private:
  std::set<std::string> seen_median_;
  std::map<std::string, double> us_, precision_;
};

}  // namespace

int main(int argc, char** argv) {
  set_blas_single_thread();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines as they come when redirected
  try {
    g_gpu = cuda_device_count() > 0;
  } catch (const std::exception& e) {
    std::printf("no CUDA plugin (%s): GPU baseline skipped\n", e.what());
  }
  const std::string root = TESSEL_SOURCE_DIR;
  for (const std::string name : {"shakespeare", "spam"}) {
    const std::string train = root + "/configs/train/fgd_" + name + "_word.yaml";
    const std::string ckpt = root + "/results/fgd/lm/" + name + "/checkpoint.bin";
    if (!std::filesystem::exists(ckpt)) {
      std::printf("%s: no %s; train it first (results/fgd/README.md)\n", name.c_str(),
                  ckpt.c_str());
      continue;
    }
    auto lm = std::make_unique<Lm>();
    lm->name = name;
    lm->set = load_decode_set(nn::TrainConfig::from_config(Config::load(train)), ckpt, kPositions);
    const OutputLayer& head = lm->set.head;
    std::vector<float> logits(head.vocab), top(100);
    for (int K : {1, 10, 100}) {
      auto& t = lm->truth[K];
      t.resize(static_cast<std::size_t>(lm->set.positions) * K);
      for (int64_t p = 0; p < lm->set.positions; ++p) {
        compute_logits(head, lm->h(p), logits.data());
        exact_topk(logits.data(), head.vocab, K, t.data() + p * K, top.data());
      }
    }
    lm->fgd = std::make_unique<FgdDecoder>(head, fgd_params());
    if (hnswlib_available())
      lm->hnsw = std::make_unique<HnswlibTopK>(lm->fgd->transformed(), 16, 200, 1);
    std::printf("%s: vocabulary %lld, %lld positions, FGD graph %.1f s, hnswlib %.1f s\n",
                name.c_str(), static_cast<long long>(head.vocab),
                static_cast<long long>(lm->set.positions), lm->fgd->build_seconds(),
                lm->hnsw ? lm->hnsw->build_seconds() : 0.0);
    g_lms.push_back(std::move(lm));
  }
  for (auto& lm : g_lms) add_benchmarks(*lm);
  std::vector<char*> args{argv[0]};
  std::string reps = "--benchmark_repetitions=3",
              shuffle = "--benchmark_enable_random_interleaving=true",
              only_aggregates = "--benchmark_report_aggregates_only=true";
  args.insert(args.end(), {reps.data(), shuffle.data(), only_aggregates.data()});
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
