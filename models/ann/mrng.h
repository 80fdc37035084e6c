// The MRNG edge rule, exact MRNG on small sets and the HNSW-style insertion graph.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "models/ann/graph.h"
#include "models/ann/search.h"
#include "models/ann/vectors.h"

namespace tessel::ann {

// The MRNG / NSG-prune / hnswlib-heuristic rule. `sorted` holds candidates of node p ascending
// by (distance to p, id), without p. A candidate q is kept unless an already kept r satisfies
// d(r, q) < d(p, q) (r lies in the lune of p and q, so a greedy search reaches q through r).
// Stops after `max_degree` kept (0 = unlimited). `dist(r, q)` supplies d between two nodes;
// `evaluations` counts its calls.
//
// `alpha` >= 1 relaxes the rule as Vamana's RobustPrune (Subramanya et al., NeurIPS 2019,
// Algorithm 2): r occludes q only if alpha * d(r, q) < d(p, q), on plain (not squared)
// distances, so longer edges survive. Distances here are squared, so the test is
// alpha^2 * d2(r, q) < d2(p, q) (DiskANN's code applies its alpha to squared distances: its 1.2
// is 1.095 here). alpha = 1 multiplies by 1.0f, exact in float: the rule above, bit for bit.
std::vector<int32_t> select_mrng(const std::vector<Neighbour>& sorted, int max_degree,
                                 const std::function<float(int32_t, int32_t)>& dist,
                                 int64_t* evaluations = nullptr, float alpha = 1.0f);

// Exact MRNG: every node's candidates are all other nodes, distances exact (double), no degree
// bound. O(n^2) memory for the distance matrix, so limited to n <= kMaxExactMrng. The entry
// node is the one nearest the centroid, as for NSG.
inline constexpr int64_t kMaxExactMrng = 6000;
Graph build_exact_mrng(const VectorSet& base, int threads = 0);

// The squared exact distances build_exact_mrng uses, as a symmetric n x n matrix, for tests.
std::vector<double> exact_distance_matrix(const VectorSet& base, int threads = 0);

// Node nearest the centroid (exact scan); NSG's navigating node.
int32_t nearest_to_centroid(const VectorSet& base);

// Single-layer HNSW graph (hnswlib's layer 0 without the upper layers): nodes are inserted in id
// order; each searches the graph built so far with ef_construction, keeps up to M neighbours by
// the heuristic above, and links back, re-selecting a neighbour's list by the heuristic when it
// exceeds max_degree (2M in hnswlib). Sequential, hence deterministic.
struct HnswParams {
  int M = 16;
  int max_degree = 32;
  int ef_construction = 100;
};
Graph build_hnsw_flat(const VectorSet& base, const HnswParams& p,
                      const std::function<void(int64_t)>& progress = {});

}  // namespace tessel::ann
