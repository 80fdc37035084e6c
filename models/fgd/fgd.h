// FGD (Zhang et al., arXiv 1806.04189): the K largest logits of a decoding step found by beam
// search on a proximity graph over the L2-transformed vocabulary, softmax over those K.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/ann/graph.h"
#include "models/ann/mrng.h"
#include "models/ann/nsg.h"
#include "models/ann/packed_index.h"
#include "models/ann/search.h"
#include "models/fgd/output_layer.h"

namespace tessel::fgd {

struct FgdParams {
  // The graph over the transformed vocabulary: "hnsw" (models/ann's flat HNSW-style graph,
  // hnswlib's layer 0; the paper's FGD uses HNSW) or "nsg".
  std::string graph = "hnsw";
  ann::HnswParams hnsw;
  ann::NsgParams nsg;
  // Search a PackedIndex (breadth-first renumbered rows, fixed-stride adjacency, huge pages;
  // models/ann/packed_index.h) instead of the plain graph; `codes` additionally searches on
  // 8-bit codes and re-ranks with floats.
  bool packed = true;
  bool codes = false;
  uint64_t seed = 1;  // NSG's NN-descent and entry points
  // Extra start nodes every search evaluates first (ann::Graph::extra_entries), standing in
  // for HNSW's upper layers, which the flat graph lacks: "norm" takes the words with the
  // largest |[x_i; b_i]| (the largest logit for the most queries: a logit is |x||h|cos), "spread"
  // k-means++ seeds over the transformed vocabulary. 0 = the graph's one entry. On the 30k mail
  // LM, 64 spread seeds cut the time per step at precision@10 0.95 about fivefold (docs/fgd.md);
  // the largest-norm words helped less.
  int entry_points = 64;
  std::string entries = "spread";
};

class FgdDecoder {
 public:
  // Builds the transform and the graph. Keeps a reference to `layer` (the exact logits of the
  // found words are computed from it), which must outlive the decoder.
  FgdDecoder(const OutputLayer& layer, const FgdParams& params);

  // The K words with the largest logits found by a beam search with pool `beam` (>= K; the
  // paper's efSearch), descending by exact logit (W_i·h + b_i recomputed for the K found).
  // Throws on K < 1, K > vocab or beam < K.
  ann::SearchStats topk(const float* h, int K, int beam, int32_t* ids, float* logits);

  const ann::Graph& graph() const { return graph_; }
  const TransformedVocab& transformed() const { return t_; }
  double build_seconds() const { return build_seconds_; }

 private:
  const OutputLayer& layer_;
  TransformedVocab t_;
  ann::Graph graph_;
  std::unique_ptr<ann::PackedIndex> packed_;
  std::unique_ptr<ann::Searcher> searcher_;
  std::vector<float> query_, dist_;
  std::vector<int32_t> order_;
  double build_seconds_ = 0;
};

// SVD-softmax (Shim, Lee, Kang & Sung, NeurIPS 2017) as a top-K method: W = U S Vᵀ, B = U S;
// a preview of every logit from B's first `preview_dim` columns and the first preview_dim
// components of Vᵀh, then exact logits of the `candidates` best previews, of which the K best
// are returned. B's columns are ordered by singular value, so the preview carries most of
// each logit's variance.
class SvdSoftmax {
 public:
  SvdSoftmax(const OutputLayer& layer, int preview_dim, int candidates);
  // Throws on K < 1 or K > candidates.
  void topk(const float* h, int K, int32_t* ids, float* logits);
  int preview_dim() const { return preview_dim_; }
  int candidates() const { return candidates_; }

 private:
  const OutputLayer& layer_;
  int preview_dim_, candidates_;
  std::vector<float> preview_;  // vocab x preview_dim, row-major: B[:, :preview_dim]
  std::vector<float> vt_;       // preview_dim x dim, row-major: the first rows of Vᵀ
  std::vector<float> hp_, z_;
  std::vector<int32_t> cand_;
  std::vector<float> cand_logits_;
};

// hnswlib (Debian libhnswlib-dev) over the same transformed vectors: the library baseline.
// Built only when the build found hnswlib (hnswlib_available()); otherwise constructing one
// throws.
bool hnswlib_available();
class HnswlibTopK {
 public:
  HnswlibTopK(const TransformedVocab& t, int M, int ef_construction, uint64_t seed);
  ~HnswlibTopK();
  // The K nearest transformed words (largest logits) with search pool ef (>= K), in no
  // particular order.
  void topk(const float* qt, int K, int ef, int32_t* ids);
  double build_seconds() const { return build_seconds_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  double build_seconds_ = 0;
};

}  // namespace tessel::fgd
