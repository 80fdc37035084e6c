// FGD: the transform's ordering (property test against brute force), graph top-K against exact
// top-K, normalisation, SVD-softmax, hnswlib, LM hidden-state extraction and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "models/ann/distance.h"
#include "models/ann/graph.h"
#include "models/fgd/fgd.h"
#include "models/fgd/lm_states.h"
#include "models/fgd/output_layer.h"
#include "runtime/core/error.h"

namespace tessel::fgd {
namespace {

// A random head shaped like a trained LM's: Gaussian rows with norms spread over a factor 4
// (frequent and rare words), Gaussian biases.
OutputLayer random_layer(int64_t vocab, int dim, uint64_t seed, double bias_std = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> scale(0.5f, 2.0f);
  OutputLayer l;
  l.vocab = vocab;
  l.dim = dim;
  l.weight.resize(static_cast<std::size_t>(vocab) * dim);
  l.bias.resize(static_cast<std::size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) {
    const float s = scale(rng) / std::sqrt(static_cast<float>(dim));
    for (int k = 0; k < dim; ++k) l.weight[i * dim + k] = s * g(rng);
    l.bias[i] = static_cast<float>(bias_std) * g(rng);
  }
  return l;
}

std::vector<float> random_vector(int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(dim));
  for (float& x : v) x = g(rng);
  return v;
}

// Logits in double, straight from the definition (the brute-force reference).
std::vector<double> reference_logits(const OutputLayer& l, const float* h) {
  std::vector<double> z(static_cast<std::size_t>(l.vocab));
  for (int64_t i = 0; i < l.vocab; ++i) {
    double s = l.bias[i];
    for (int k = 0; k < l.dim; ++k) s += static_cast<double>(l.row(i)[k]) * h[k];
    z[i] = s;
  }
  return z;
}

// Ids of the K largest reference logits, descending, ties to the lower id.
std::vector<int32_t> reference_topk(const std::vector<double>& z, int K) {
  std::vector<int32_t> ids(z.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return z[a] > z[b]; });
  ids.resize(static_cast<std::size_t>(K));
  return ids;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// |q̃ - x̃_i|² = |h|² + 1 + U² - 2 logit_i, up to the float rounding of the extra coordinate
// s_i = sqrt(U² - |x_i|² - b_i²) (relative 2^-24, so s_i² is off by at most U² 2^-23; the double
// sums add ~1e-15 relative). Whenever two logits differ by more than that bound, their
// distances are ordered the other way round: the ordering of logits is preserved exactly.
TEST(FgdTransform, PreservesLogitOrderingAgainstBruteForce) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const int dim = 8 + 8 * static_cast<int>(seed % 3);
    const OutputLayer layer = random_layer(400, dim, seed);
    const TransformedVocab t = ip_to_l2(layer);
    ASSERT_EQ(t.base.dim, dim + 2);
    const double U2 = t.U * t.U;
    const double eps = U2 * std::ldexp(1.0, -22);  // twice the bound above
    // Every transformed word has norm U, and the longest row's extra coordinate is 0.
    double min_extra = 1e30;
    for (int64_t i = 0; i < t.base.n; ++i) {
      double n2 = 0;
      for (int k = 0; k < t.base.dim; ++k) n2 += double(t.base.row(i)[k]) * t.base.row(i)[k];
      EXPECT_NEAR(n2, U2, eps) << "word " << i;
      min_extra = std::min(min_extra, double(t.base.row(i)[dim + 1]));
    }
    EXPECT_EQ(min_extra, 0.0);
    for (int q = 0; q < 10; ++q) {
      const std::vector<float> h = random_vector(dim, seed * 100 + q);
      std::vector<float> qt(static_cast<std::size_t>(dim + 2));
      transform_query(h.data(), dim, qt.data());
      EXPECT_EQ(qt[dim], 1.0f);
      EXPECT_EQ(qt[dim + 1], 0.0f);
      const std::vector<double> z = reference_logits(layer, h.data());
      double h2 = 0;
      for (float x : h) h2 += double(x) * x;
      std::vector<double> d(z.size());
      for (int64_t i = 0; i < layer.vocab; ++i) {
        d[i] = ann::l2_sq_exact(qt.data(), t.base.row(i), dim + 2);
        ASSERT_NEAR(d[i], h2 + 1 + U2 - 2 * z[i], eps) << "seed " << seed << " word " << i;
      }
      // Every pair of words whose logits differ by more than the bound is ordered the other
      // way round by distance (all pairs, brute force); pairs closer than the bound are the
      // only ones allowed to tie or swap, and random logits leave almost none.
      int64_t violations = 0, close = 0, pairs = 0;
      for (int64_t a = 0; a < layer.vocab; ++a)
        for (int64_t b = 0; b < layer.vocab; ++b) {
          if (z[a] - z[b] <= 2 * eps) {
            close += (a < b && std::abs(z[a] - z[b]) <= 2 * eps);
            continue;
          }
          ++pairs;
          violations += !(d[a] < d[b]);
        }
      EXPECT_EQ(violations, 0) << "seed " << seed << " query " << q;
      EXPECT_LT(close, pairs / 1000);
    }
  }
}

TEST(FgdBaselines, FullSoftmaxAndExactTopKMatchBruteForce) {
  const OutputLayer layer = random_layer(3000, 24, 7);
  const std::vector<float> h = random_vector(24, 8);
  std::vector<float> logits(3000), probs(3000);
  const double log_z = full_softmax(layer, h.data(), logits.data(), probs.data());
  const std::vector<double> z = reference_logits(layer, h.data());
  double m = *std::max_element(z.begin(), z.end()), s = 0;
  for (double v : z) s += std::exp(v - m);
  EXPECT_NEAR(log_z, m + std::log(s), 1e-4);
  double total = 0;
  for (int i = 0; i < 3000; ++i) {
    EXPECT_NEAR(logits[i], z[i], 1e-4);
    EXPECT_NEAR(probs[i], std::exp(z[i] - m) / s, 1e-6);
    total += probs[i];
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
  for (int K : {1, 10, 100}) {
    std::vector<int32_t> ids(K);
    std::vector<float> top(K);
    exact_topk(logits.data(), 3000, K, ids.data(), top.data());
    EXPECT_EQ(ids, reference_topk(z, K)) << "K " << K;
  }
}

// A beam as wide as the vocabulary on a graph where every word is reachable visits every word,
// so FGD must return exactly the brute-force top-K, whatever the graph and layout.
TEST(FgdDecoder, BeamCoveringTheGraphEqualsExactTopK) {
  const OutputLayer layer = random_layer(1500, 16, 11);
  struct Variant {
    std::string graph;
    bool packed, codes;
  };
  for (const Variant& v :
       {Variant{"hnsw", false, false}, Variant{"hnsw", true, false}, Variant{"nsg", true, false}}) {
    FgdParams p;
    p.graph = v.graph;
    p.packed = v.packed;
    p.codes = v.codes;
    p.nsg.threads = 1;
    p.nsg.knn.threads = 1;
    FgdDecoder fgd(layer, p);
    ASSERT_EQ(ann::count_reachable(fgd.graph(), fgd.graph().entry), layer.vocab) << v.graph;
    for (int q = 0; q < 5; ++q) {
      const std::vector<float> h = random_vector(16, 500 + q);
      const std::vector<double> z = reference_logits(layer, h.data());
      for (int K : {1, 10, 100}) {
        std::vector<int32_t> ids(K);
        std::vector<float> logits(K);
        const ann::SearchStats st =
            fgd.topk(h.data(), K, static_cast<int>(layer.vocab), ids.data(), logits.data());
        EXPECT_EQ(st.visited, layer.vocab);
        EXPECT_EQ(ids, reference_topk(z, K)) << v.graph << " packed " << v.packed << " K " << K;
        for (int j = 0; j < K; ++j) EXPECT_NEAR(logits[j], z[ids[j]], 1e-4);
      }
    }
  }
}

// With a modest beam FGD is approximate; on this random head it must still find most of the
// top 10 (a floor far above chance, 10/1500, that a broken search or transform would miss).
TEST(FgdDecoder, ModestBeamFindsMostOfTheTop10) {
  const OutputLayer layer = random_layer(1500, 16, 12);
  FgdDecoder fgd(layer, FgdParams{});
  int hits = 0, total = 0;
  for (int q = 0; q < 50; ++q) {
    const std::vector<float> h = random_vector(16, 900 + q);
    const std::vector<int32_t> want = reference_topk(reference_logits(layer, h.data()), 10);
    std::vector<int32_t> ids(10);
    std::vector<float> logits(10);
    const ann::SearchStats st = fgd.topk(h.data(), 10, 100, ids.data(), logits.data());
    EXPECT_LT(st.visited, layer.vocab);
    for (int32_t id : ids) hits += std::count(want.begin(), want.end(), id) ? 1 : 0;
    total += 10;
  }
  EXPECT_GT(static_cast<double>(hits) / total, 0.9);
}

TEST(FgdNormalise, ProbabilitiesOverTheFoundSetSumToOne) {
  const OutputLayer layer = random_layer(1000, 16, 13, 3.0);
  FgdDecoder fgd(layer, FgdParams{});
  for (int K : {1, 10, 100}) {
    const std::vector<float> h = random_vector(16, 77 + K);
    std::vector<int32_t> ids(K);
    std::vector<float> logits(K), probs(K);
    fgd.topk(h.data(), K, 200, ids.data(), logits.data());
    const double log_z = normalise_found(logits.data(), K, probs.data());
    // Reference: exp(l_j) / Σ_found exp(l_k) in long double from the definition.
    long double s = 0;
    for (int j = 0; j < K; ++j) s += std::exp(static_cast<long double>(logits[j]));
    double total = 0;
    for (int j = 0; j < K; ++j) {
      EXPECT_NEAR(probs[j], static_cast<double>(std::exp((long double)logits[j]) / s), 1e-6);
      total += probs[j];
    }
    EXPECT_NEAR(total, 1.0, 1e-6) << "K " << K;
    EXPECT_NEAR(log_z, static_cast<double>(std::log(s)), 1e-6);
    if (K == 1) {
      EXPECT_EQ(probs[0], 1.0f);
    }
  }
}

// SVD-softmax: a full-width preview is the exact logit, and N = V candidates re-rank every
// word exactly; both must give the brute-force top-K.
TEST(FgdSvdSoftmax, ExactLimitsEqualBruteForce) {
  const OutputLayer layer = random_layer(800, 16, 14);
  SvdSoftmax full_preview(layer, 16, 100);
  SvdSoftmax all_candidates(layer, 2, 800);
  for (int q = 0; q < 5; ++q) {
    const std::vector<float> h = random_vector(16, 300 + q);
    const std::vector<double> z = reference_logits(layer, h.data());
    for (int K : {1, 10, 100}) {
      std::vector<int32_t> ids(K);
      std::vector<float> logits(K);
      full_preview.topk(h.data(), K, ids.data(), logits.data());
      EXPECT_EQ(ids, reference_topk(z, K)) << "preview 16 K " << K;
      all_candidates.topk(h.data(), K, ids.data(), logits.data());
      EXPECT_EQ(ids, reference_topk(z, K)) << "candidates 800 K " << K;
    }
  }
}

TEST(FgdHnswlib, WideEfEqualsExactTopK) {
  if (!hnswlib_available()) GTEST_SKIP() << "built without hnswlib";
  const OutputLayer layer = random_layer(1000, 16, 15);
  const TransformedVocab t = ip_to_l2(layer);
  HnswlibTopK index(t, 16, 100, 1);
  const std::vector<float> h = random_vector(16, 5);
  std::vector<float> qt(18);
  transform_query(h.data(), 16, qt.data());
  std::vector<int32_t> ids(10);
  index.topk(qt.data(), 10, 1000, ids.data());
  std::vector<int32_t> want = reference_topk(reference_logits(layer, h.data()), 10);
  std::sort(ids.begin(), ids.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);
}

TEST(FgdBadInput, KZeroKAboveVocabularyAndNarrowBeamAreClearErrors) {
  const OutputLayer layer = random_layer(50, 8, 16);
  FgdDecoder fgd(layer, FgdParams{});
  const std::vector<float> h = random_vector(8, 1);
  std::vector<int32_t> ids(100);
  std::vector<float> logits(100);
  EXPECT_EQ(error_of([&] { fgd.topk(h.data(), 0, 10, ids.data(), logits.data()); }),
            "fgd: K must be at least 1 (got 0)");
  EXPECT_EQ(error_of([&] { fgd.topk(h.data(), 51, 60, ids.data(), logits.data()); }),
            "fgd: K = 51 exceeds the vocabulary of 50 words");
  EXPECT_EQ(error_of([&] { fgd.topk(h.data(), 10, 5, ids.data(), logits.data()); }),
            "fgd: beam 5 is smaller than K = 10");
  EXPECT_EQ(error_of([&] { exact_topk(logits.data(), 50, 0, ids.data(), logits.data()); }),
            "exact top-K: K must be at least 1 (got 0)");
  EXPECT_EQ(error_of([&] { SvdSoftmax(layer, 4, 51); }),
            "svd-softmax candidates: K = 51 exceeds the vocabulary of 50 words");
  EXPECT_EQ(error_of([&] { SvdSoftmax(layer, 9, 10); }),
            "svd-softmax: preview_dim 9 not in [1, 8]");
  OutputLayer broken = layer;
  broken.bias.pop_back();
  EXPECT_EQ(error_of([&] { ip_to_l2(broken); }),
            "fgd: output layer holds 400 weights and 49 biases, expected 400 and 50");
}

// A tiny word-level LM on the synthetic corpus, trained for two steps into a temp folder.
nn::TrainConfig tiny_lm(int vocab) {
  nn::TrainConfig c;
  c.task = "lm";
  c.tokenizer = "word";
  c.word_vocab = vocab;
  c.synthetic_chars = 20000;
  c.model.layers = 1;
  c.model.width = 16;
  c.model.heads = 2;
  c.batch_size = 2;
  c.seq_len = 16;
  c.steps = 2;
  c.eval_every = 1000;
  c.eval_batches = 1;
  c.threads = 1;
  return c;
}

std::string train_tiny(const nn::TrainConfig& c, const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "tessel_fgd_tests" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  nn::Trainer t(c, dir.string());
  t.run(nullptr);
  return (dir / "checkpoint.bin").string();
}

// The extracted hidden states times the extracted head reproduce the model's own logits (the
// Transformer's forward, an independent path), and the next words are the text's.
TEST(FgdLmStates, HiddenStatesTimesHeadAreTheModelsLogits) {
  const nn::TrainConfig c = tiny_lm(40);
  const std::string ckpt = train_tiny(c, "states");
  const DecodeSet set = load_decode_set(c, ckpt, 20);
  ASSERT_EQ(set.positions, 20);
  ASSERT_EQ(set.head.dim, 16);
  nn::Trainer t(c, "");
  t.load_checkpoint(ckpt);
  ASSERT_EQ(set.head.vocab, t.tokenizer()->vocab_size());
  const std::vector<int32_t>& val = t.lm_tokens().val;
  data::TokenBatch b;
  b.batch = 1;
  b.seq = 16;
  b.tokens.assign(val.begin() + 16, val.begin() + 32);  // the second window
  b.targets.assign(val.begin() + 17, val.begin() + 33);
  t.transformer()->loss(b);
  const auto& model_logits = t.transformer()->logits();
  std::vector<float> logits(static_cast<std::size_t>(set.head.vocab));
  for (int p = 0; p < 4; ++p) {  // positions 16..19 of the set
    compute_logits(set.head, set.hidden.data() + (16 + p) * 16, logits.data());
    for (int64_t i = 0; i < set.head.vocab; ++i)
      EXPECT_NEAR(logits[i], model_logits(p, i), 1e-4) << "position " << p << " word " << i;
    EXPECT_EQ(set.next[16 + p], b.targets[p]);
  }
  EXPECT_GT(set.val_loss, 0.0);
}

TEST(FgdBadInput, CheckpointWhoseHeadDoesNotMatchTheVocabulary) {
  const std::string ckpt = train_tiny(tiny_lm(40), "mismatch");
  const std::string e = error_of([&] { load_decode_set(tiny_lm(30), ckpt, 10); });
  EXPECT_NE(e.find(ckpt), std::string::npos) << e;
  EXPECT_NE(e.find("wte"), std::string::npos) << e;
  EXPECT_NE(e.find("[30, 16]"), std::string::npos) << e;
  nn::TrainConfig cls = tiny_lm(40);
  cls.task = "classify";
  EXPECT_NE(error_of([&] { load_decode_set(cls, ckpt, 10); }).find("task is classify"),
            std::string::npos);
}

}  // namespace
}  // namespace tessel::fgd
