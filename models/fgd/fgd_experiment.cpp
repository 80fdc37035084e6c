// The FGD study as a registered experiment (`fgd`): a trained LM's validation hidden states
// decoded by full softmax, exact top-K, FGD over a beam sweep, SVD-softmax over a candidate
// sweep and hnswlib; precision@K, found mass, perplexity and time per decoding step.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/fgd/fgd.h"
#include "models/fgd/lm_states.h"
#include "models/fgd/output_layer.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/error.h"
#include "runtime/core/experiment.h"
#include "runtime/core/keys.h"
#include "runtime/core/registry.h"

namespace tessel::fgd {
namespace {

const ModelKeys& fgd_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("fgd");
    KeySet& h = m.hw;
    h.choice("graph", {"hnsw", "nsg"},
             "graph over the transformed vocabulary (models/ann's flat HNSW or NSG)")
        .def("hnsw");
    h.section("hnsw", "flat HNSW build (`graph: hnsw`)");
    h.integer("hnsw.M", 2, 256, "neighbours linked per insertion").def("16");
    h.integer("hnsw.max_degree", 2, 512, "out-degree bound").def("32");
    h.integer("hnsw.ef_construction", 1, 4096, "pool of the insertion search").def("100");
    h.section("nsg", "NSG build (`graph: nsg`)");
    h.integer("nsg.knn_k", 2, 256, "neighbours per node of the NN-descent kNN graph").def("20");
    h.integer("nsg.L", 1, 4096, "pool of the candidate search").def("40");
    h.integer("nsg.R", 2, 512, "out-degree bound").def("32");
    h.integer("nsg.C", 2, 8192, "candidates per prune").def("500");
    h.integer("entry_points", 0, 1 << 20, "extra start nodes every search evaluates first")
        .def("64");
    h.choice("entries", {"norm", "spread"},
             "start nodes: k-means++ seeds (`spread`), or the largest-norm words")
        .def("spread");
    h.integer("graph_seed", 0, int64_t{1} << 48, "seed of the start nodes and NSG's NN-descent")
        .def("1");
    h.choice("layout", {"packed", "plain"},
             "search the BFS-renumbered packed index or the plain graph")
        .def("packed");
    h.flag("codes",
           "packed layout: search on 8-bit codes, re-rank with the kept vectors (fp16 "
           "residuals of the codes: docs/ann.md)")
        .def("false");
    h.integer("hnswlib_M", 2, 256, "the hnswlib baseline's M").def("16");
    h.integer("hnswlib_ef_construction", 1, 4096, "the hnswlib baseline's ef_construction")
        .def("200");
    KeySet& w = m.workload;
    w.file("train", "the training file the LM was trained with (rebuilds its vocabulary and data)");
    w.file("checkpoint",
           "the LM's checkpoint.bin; its head must match the training file's "
           "vocabulary");
    w.integer("positions", 1, 1000000,
              "validation positions decoded (consecutive windows of `train.seq_len`)")
        .def("2000");
    w.integer("K", 1, 1 << 24, "words per decoding step; K > vocabulary is an error");
    w.list("beams", "FGD beam (pool) sizes tried; entries < K skipped");
    w.integer("beams[]", 1, 1 << 24, "a beam size");
    w.integer("svd_preview_dim", 1, 1 << 16,
              "SVD-softmax preview width (capped at the hidden size)")
        .def("16");
    w.list("svd_candidates", "SVD-softmax candidates re-ranked exactly; entries < K skipped");
    w.integer("svd_candidates[]", 1, 1 << 24, "a candidate count");
    w.list("hnswlib_ef", "hnswlib ef values tried; entries < K skipped").opt("no hnswlib");
    w.integer("hnswlib_ef[]", 1, 1 << 24, "an ef value");
    w.number("target_precision", 0.0, 1.0, "precision@K a setting must reach to be chosen")
        .def("0.95");
    return m;
  }();
  return keys;
}

std::vector<int> positive_list(const Keyed& w, const std::string& key) {
  std::vector<int> out;
  for (const Keyed& e : w.items(key)) out.push_back(static_cast<int>(e.as_integer()));
  if (out.empty()) w.fail(key, "expected a non-empty list of positive integers");
  return out;
}

// What the exact pass over the positions leaves for scoring the approximate methods.
struct Truth {
  std::vector<int32_t> topk;      // positions x K exact top-K ids
  std::vector<double> log_z;      // full-softmax log partition per position
  std::vector<float> target;      // logit of the next word per position
  double full_s = 0, topk_s = 0;  // CPU seconds for all positions: full softmax; GEMV + top-K
};

struct Score {
  double precision = 0, mass = 0, target_found = 0, ppl_fgd = 0, ppl_full = 0;
};

// Scores found sets (positions x K ids with their exact logits) against the truth.
Score score(const DecodeSet& set, const Truth& t, int K, const std::vector<int32_t>& ids,
            const std::vector<float>& logits) {
  Score s;
  double hits = 0, mass = 0, found = 0, nll_fgd = 0, nll_full = 0;
  std::vector<float> probs(static_cast<std::size_t>(K));
  for (int64_t p = 0; p < set.positions; ++p) {
    const int32_t* got = ids.data() + p * K;
    const float* lg = logits.data() + p * K;
    const int32_t* want = t.topk.data() + p * K;
    std::vector<int32_t> a(got, got + K), b(want, want + K);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    std::vector<int32_t> common;
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
    hits += static_cast<double>(common.size()) / K;
    for (int j = 0; j < K; ++j) mass += std::exp(static_cast<double>(lg[j]) - t.log_z[p]);
    const double log_found = normalise_found(lg, K, probs.data());
    for (int j = 0; j < K; ++j)
      if (got[j] == set.next[p]) {
        found += 1;
        nll_fgd += log_found - lg[j];
        nll_full += t.log_z[p] - t.target[p];
      }
  }
  const double n = static_cast<double>(set.positions);
  s.precision = hits / n;
  s.mass = mass / n;
  s.target_found = found / n;
  s.ppl_fgd = found > 0 ? std::exp(nll_fgd / found) : 0;
  s.ppl_full = found > 0 ? std::exp(nll_full / found) : 0;
  return s;
}

class FgdExperiment : public Experiment {
 public:
  bool uses_energy_table() const override { return false; }
  const ModelKeys& keys() const override { return fgd_keys(); }

  void configure(const Config& hw_config, const Config& config) override {
    const Keyed hw(keys().hw, hw_config), w(keys().workload, config);
    params_.graph = hw.choice("graph");
    // An absent section reads as an empty one: the declared defaults.
    const Config none = Config::parse("{}", "(defaults)");
    const Keyed h = hw.has("hnsw") ? hw.child("hnsw") : Keyed(hw.set(), none, "hnsw.");
    params_.hnsw.M = static_cast<int>(h.integer("M"));
    params_.hnsw.max_degree = static_cast<int>(h.integer("max_degree"));
    params_.hnsw.ef_construction = static_cast<int>(h.integer("ef_construction"));
    const Keyed n = hw.has("nsg") ? hw.child("nsg") : Keyed(hw.set(), none, "nsg.");
    params_.nsg.knn.k = static_cast<int>(n.integer("knn_k"));
    params_.nsg.L = static_cast<int>(n.integer("L"));
    params_.nsg.R = static_cast<int>(n.integer("R"));
    params_.nsg.C = static_cast<int>(n.integer("C"));
    params_.entry_points = static_cast<int>(hw.integer("entry_points"));
    params_.entries = hw.choice("entries");
    params_.seed = static_cast<uint64_t>(hw.integer("graph_seed"));
    params_.packed = hw.choice("layout") == "packed";
    params_.codes = hw.flag("codes");
    if (params_.codes && !params_.packed) hw.fail("codes", "8-bit codes need layout: packed");
    hnswlib_M_ = static_cast<int>(hw.integer("hnswlib_M"));
    hnswlib_efc_ = static_cast<int>(hw.integer("hnswlib_ef_construction"));

    train_path_ = w.path("train");
    train_ = nn::TrainConfig::from_config(Config::load(train_path_));
    checkpoint_ = w.path("checkpoint");
    if (!std::filesystem::exists(checkpoint_))
      w.fail("checkpoint", checkpoint_ + " does not exist; train it with `build/tessel train " +
                               train_path_ + " --out " +
                               std::filesystem::path(checkpoint_).parent_path().string() +
                               "` (results/fgd/README.md)");
    positions_ = w.integer("positions");
    K_ = static_cast<int>(w.integer("K"));
    beams_ = positive_list(w, "beams");
    svd_preview_ = static_cast<int>(w.integer("svd_preview_dim"));
    svd_candidates_ = positive_list(w, "svd_candidates");
    hnswlib_efs_ = w.has("hnswlib_ef") ? positive_list(w, "hnswlib_ef") : std::vector<int>{};
    target_ = w.number("target_precision");
    // Settings below K cannot return K words: they are skipped, so one list serves every K
    // of a sweep; a list with none left is an error.
    keep_at_least_k(config, "beams", beams_);
    keep_at_least_k(config, "svd_candidates", svd_candidates_);
    if (!hnswlib_efs_.empty()) keep_at_least_k(config, "hnswlib_ef", hnswlib_efs_);
  }

  SimResult run(RunContext& ctx) override {
    set_blas_single_thread();
    const DecodeSet set = load_decode_set(train_, checkpoint_, positions_);
    const OutputLayer& head = set.head;
    check_k(K_, head.vocab, "fgd (workload.K)");
    for (int c : svd_candidates_) check_k(c, head.vocab, "fgd (workload.svd_candidates)");
    const int K = K_, d = head.dim;
    const int64_t P = set.positions;
    log(ctx, "fgd: vocabulary " + std::to_string(head.vocab) + ", dim " + std::to_string(d) + ", " +
                 std::to_string(P) + " positions, K " + std::to_string(K));

    SimResult r;
    r.labels["gemv"] = gemv_backend();
    r.labels["graph"] =
        params_.graph + (params_.packed ? "/packed" : "/plain") + (params_.codes ? "+codes" : "");
    r.metrics["vocab"] = static_cast<double>(head.vocab);
    r.metrics["dim"] = d;
    r.metrics["positions"] = static_cast<double>(P);
    r.metrics["K"] = K;
    r.metrics["model_val_loss"] = set.val_loss;

    // Exact pass: full softmax (timed alone), then GEMV + exact top-K (timed alone).
    Truth t;
    t.topk.resize(static_cast<std::size_t>(P) * K);
    t.log_z.resize(static_cast<std::size_t>(P));
    t.target.resize(static_cast<std::size_t>(P));
    std::vector<float> logits(static_cast<std::size_t>(head.vocab)),
        probs(static_cast<std::size_t>(head.vocab));
    double nll = 0;
    double c0 = thread_cpu_seconds();
    for (int64_t p = 0; p < P; ++p) {
      const float* h = set.hidden.data() + p * d;
      t.log_z[p] = full_softmax(head, h, logits.data(), probs.data());
      t.target[p] = logits[set.next[p]];
      nll += t.log_z[p] - t.target[p];
    }
    t.full_s = thread_cpu_seconds() - c0;
    std::vector<float> top(static_cast<std::size_t>(K));
    c0 = thread_cpu_seconds();
    for (int64_t p = 0; p < P; ++p) {
      compute_logits(head, set.hidden.data() + p * d, logits.data());
      exact_topk(logits.data(), head.vocab, K, t.topk.data() + p * K, top.data());
    }
    t.topk_s = thread_cpu_seconds() - c0;
    const double full_us = 1e6 * t.full_s / P;
    r.metrics["val_loss_full"] = nll / P;
    r.metrics["ppl_full_all"] = std::exp(nll / P);
    r.metrics["full_softmax_us"] = full_us;
    r.metrics["exact_topk_us"] = 1e6 * t.topk_s / P;

    nlohmann::json curve = nlohmann::json::array();
    std::vector<int32_t> ids(static_cast<std::size_t>(P) * K);
    std::vector<float> found(static_cast<std::size_t>(P) * K);
    // Picks the cheapest setting of a method that reaches the target precision (or its most
    // precise one when none does) and reports it under `prefix`.
    auto sweep = [&](const std::string& method, const std::string& prefix,
                     const std::vector<int>& settings,
                     const std::function<double(int, ann::SearchStats*)>& decode) {
      bool chosen = false;
      Score best_s;
      double best_us = 0, best_dist = 0;
      int best_setting = 0;
      for (int setting : settings) {
        ann::SearchStats st;
        const double us = decode(setting, &st);
        const Score s = score(set, t, K, ids, found);
        const double dist = static_cast<double>(st.distances) / P;
        curve.push_back({{"method", method},
                         {"setting", setting},
                         {"precision", s.precision},
                         {"mass", s.mass},
                         {"us_per_step", us},
                         {"speedup", full_us / us},
                         {"mean_distances", dist}});
        log(ctx, method + " " + std::to_string(setting) + ": precision@" + std::to_string(K) + " " +
                     std::to_string(s.precision) + ", " + std::to_string(us) + " us");
        const bool reaches = s.precision >= target_;
        if (!chosen && (reaches || s.precision > best_s.precision)) {
          best_s = s, best_us = us, best_setting = setting, best_dist = dist;
          chosen = reaches;
        }
      }
      r.metrics[prefix + "_setting"] = best_setting;
      r.metrics[prefix + "_precision"] = best_s.precision;
      r.metrics[prefix + "_mass"] = best_s.mass;
      r.metrics[prefix + "_us"] = best_us;
      r.metrics[prefix + "_speedup"] = full_us / best_us;
      r.metrics[prefix + "_reaches_target"] = chosen ? 1 : 0;
      if (prefix == "fgd") {
        r.metrics["fgd_target_found"] = best_s.target_found;
        r.metrics["ppl_fgd_found"] = best_s.ppl_fgd;
        r.metrics["ppl_full_found"] = best_s.ppl_full;
        r.metrics["fgd_mean_distances"] = best_dist;
      }
    };

    FgdDecoder fgd(head, params_);
    r.metrics["U"] = fgd.transformed().U;
    r.metrics["fgd_build_s"] = fgd.build_seconds();
    r.metrics["graph_mean_degree"] = fgd.graph().mean_degree();
    sweep("fgd", "fgd", beams_, [&](int beam, ann::SearchStats* st) {
      const double c = thread_cpu_seconds();
      for (int64_t p = 0; p < P; ++p)
        *st +=
            fgd.topk(set.hidden.data() + p * d, K, beam, ids.data() + p * K, found.data() + p * K);
      return 1e6 * (thread_cpu_seconds() - c) / P;
    });

    sweep("svd_softmax", "svd", svd_candidates_, [&](int cand, ann::SearchStats*) {
      SvdSoftmax s(head, std::min(svd_preview_, d), cand);
      const double c = thread_cpu_seconds();
      for (int64_t p = 0; p < P; ++p)
        s.topk(set.hidden.data() + p * d, K, ids.data() + p * K, found.data() + p * K);
      return 1e6 * (thread_cpu_seconds() - c) / P;
    });
    r.metrics["svd_preview_dim"] = std::min(svd_preview_, d);

    if (!hnswlib_efs_.empty() && hnswlib_available()) {
      HnswlibTopK hn(fgd.transformed(), hnswlib_M_, hnswlib_efc_, ctx.seed);
      r.metrics["hnswlib_build_s"] = hn.build_seconds();
      std::vector<float> qt(static_cast<std::size_t>(d + 2));
      sweep("hnswlib", "hnswlib", hnswlib_efs_, [&](int ef, ann::SearchStats*) {
        double cpu = 0;
        for (int64_t p = 0; p < P; ++p) {
          const float* h = set.hidden.data() + p * d;
          const double c = thread_cpu_seconds();
          transform_query(h, d, qt.data());
          hn.topk(qt.data(), K, ef, ids.data() + p * K);
          cpu += thread_cpu_seconds() - c;
          // Exact logits of the found words for scoring (not timed: hnswlib returns ids).
          for (int j = 0; j < K; ++j) {
            const int32_t id = ids[p * K + j];
            float s = head.bias[id];
            for (int k = 0; k < d; ++k) s += head.row(id)[k] * h[k];
            found[p * K + j] = s;
          }
        }
        return 1e6 * cpu / P;
      });
    }

    if (!ctx.artifact_dir.empty()) {
      std::ostringstream lines;
      for (const auto& row : curve) lines << row.dump() << "\n";
      std::filesystem::create_directories(ctx.artifact_dir);
      write_file_atomic((std::filesystem::path(ctx.artifact_dir) / "curve.jsonl").string(),
                        lines.str());
      r.artifacts["curve"] = "curve.jsonl";
    }
    return r;
  }

 private:
  void keep_at_least_k(const Config& w, const std::string& key, std::vector<int>& list) const {
    list.erase(std::remove_if(list.begin(), list.end(), [&](int v) { return v < K_; }), list.end());
    if (list.empty())
      w.fail(key, "no entry is >= K = " + std::to_string(K_) + " (a setting must return K words)");
  }
  static void log(RunContext& ctx, const std::string& line) {
    if (ctx.log) *ctx.log << line << "\n" << std::flush;
  }

  FgdParams params_;
  int hnswlib_M_ = 16, hnswlib_efc_ = 200;
  std::string train_path_, checkpoint_;
  nn::TrainConfig train_;
  int64_t positions_ = 2000;
  int K_ = 10;
  std::vector<int> beams_, svd_candidates_, hnswlib_efs_;
  int svd_preview_ = 16;
  double target_ = 0.95;
};

}  // namespace
TESSEL_REGISTER_MODEL("fgd", tessel::fgd::FgdExperiment,
                      "FGD top-K softmax by graph search vs full softmax, SVD-softmax, hnswlib");
}  // namespace tessel::fgd
