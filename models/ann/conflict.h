// Conflicting nodes of an MRNG-style graph and their effect on search path length.
#pragma once

#include <cstdint>
#include <vector>

#include "models/ann/graph.h"
#include "models/ann/knn.h"
#include "models/ann/vectors.h"

namespace tessel::ann {

// Definition used here (docs/ann.md; the paper's own definition was not available to check):
//  * a *conflict* is a pair (p, q) with q among p's k nearest neighbours but no edge p -> q:
//    the MRNG rule dropped q because a kept neighbour r of p lies in the lune of p and q;
//  * a node q is *conflicting* when at least one node has q among its k nearest neighbours and
//    every such node lacks the edge to q: q loses the conflict everywhere it is a near
//    neighbour, so a search can only arrive at q through a detour via an occluding node.
// `knn` holds each base node's exact neighbours with itself excluded (exact_knn with
// exclude_self), at least k of them.
struct ConflictReport {
  int k = 0;
  int64_t nodes = 0;
  int64_t knn_pairs = 0;       // n * k
  int64_t conflict_pairs = 0;  // pairs (p, q), q in kNN(p), p -> q absent
  int64_t conflicting_nodes = 0;
  int64_t without_reverse_knn = 0;  // nodes in nobody's kNN list (neither kind)
  std::vector<char> conflicting;    // per node
};
ConflictReport find_conflicting_nodes(const Graph& g, const KnnResult& knn, int k);

// Searches `queries` on g and splits them by whether their true nearest neighbour
// (truth.ids_of(q)[0]) is a conflicting node. Per class: how many queries, how often pure greedy
// descent (L = 1) ends at the true nearest neighbour, its mean hop count, and with pool L the
// mean expansions until the true nearest neighbour first entered the pool (over the queries
// where it did) and the recall@1.
struct PathClass {
  int64_t queries = 0;
  double greedy_hops = 0;
  double greedy_success = 0;
  double hops_to_nn = 0;
  double beam_hops = 0;
  double recall_at_1 = 0;
};
struct PathStudy {
  int L = 0;
  PathClass conflicting, other;
};
PathStudy conflict_path_study(const Graph& g, const VectorSet& base, const VectorSet& queries,
                              const KnnResult& truth, const ConflictReport& report, int L);

}  // namespace tessel::ann
