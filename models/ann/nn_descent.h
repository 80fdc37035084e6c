// Approximate kNN graph by NN-descent (Dong, Charikar & Li, WWW 2011).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "models/ann/search.h"
#include "models/ann/vectors.h"

namespace tessel::ann {

struct NnDescentParams {
  int k = 20;            // neighbours kept per node
  double rho = 0.6;      // fraction of a list sampled per iteration (new and old alike)
  double delta = 0.002;  // stop when an iteration changes fewer than delta * n * k entries
  int max_iters = 12;
  uint64_t seed = 7;
  // Random-projection trees whose leaves seed the lists before the first iteration (as
  // PyNNDescent does): every pair in a leaf is offered to both lists. 0 = random lists only
  // (the original paper's start). A good start saves the early iterations (docs/ann.md).
  int rp_trees = 4;
  int rp_leaf = 0;  // largest leaf; 0 = max(10, k)
  int threads = 0;  // OpenMP threads (0 = default); 1 gives a bit-reproducible graph
  // Bases whose values are all integers 0..255 compute distances on their byte rows
  // (exact_byte_rows): the same values bit for bit, a quarter of the bytes read. false: floats.
  bool byte_rows = true;
};

struct NnDescentStats {
  int iterations = 0;
  int64_t distances = 0;         // everything, the trees' splits and leaf joins included
  int64_t tree_distances = 0;    // the random-projection trees' share
  std::vector<int64_t> updates;  // entries that joined a list and stayed, per iteration
};

// Each returned list holds k (distance, id) pairs sorted ascending, never the node itself.
// Local joins: every pair among a node's sampled new neighbours, and new x old, both forward and
// reverse, is compared and offered to both endpoints' lists. With several threads the lists are
// locked per node; each list keeps the k nearest of everything offered to it, whatever the
// order, and the stopping rule counts what stayed, so the result is the same for any thread
// count.
// `byte_rows`: the base's exact_byte_rows when the caller already has them (build_nsg);
// otherwise they are computed here when p.byte_rows is set.
std::vector<std::vector<Neighbour>> nn_descent(
    const VectorSet& base, const NnDescentParams& p, NnDescentStats* stats = nullptr,
    const std::function<void(int, int64_t)>& progress = {},
    const std::vector<uint8_t>* byte_rows = nullptr);

// recall@k of a kNN graph measured on `sample` nodes drawn with `seed` against exact neighbours
// (exact_knn with exclude_self): the fraction of true k nearest neighbours present in the lists.
double knn_graph_recall(const VectorSet& base, const std::vector<std::vector<Neighbour>>& lists,
                        int k, int64_t sample, uint64_t seed);

}  // namespace tessel::ann
