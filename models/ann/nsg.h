// Navigating Spreading-out Graph (Fu, Xiang, Wang & Cai, VLDB 2019): the practical MRNG.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "models/ann/graph.h"
#include "models/ann/nn_descent.h"
#include "models/ann/vectors.h"

namespace tessel::ann {

// Step 4's merge of a node's pruned out-list with its incoming reverse edges (docs/ann.md,
// "Reverse-edge merge").
enum class ReverseMerge {
  kAuto,     // kReprune, or kSlack at kAutoSlack when the re-prune leaves > 1% with no in-edge
  kReprune,  // the paper's: a merged list over R is pruned again by the MRNG rule
  kAppend,   // the own out-list stays; incoming edges are added nearest first while degree < R
  kSlack,    // DiskANN's: re-prune (to R) only lists over ceil(reverse_slack * R)
  kFill,     // re-prune, then fill the free slots up to R with the dropped edges whose target
             // has the fewest step-3 in-edges first (then nearest), to keep those reachable
};
// kAuto's slack: lists up to 4 R kept whole (broad256: recall@10 0.981 -> 0.997; docs/ann.md).
constexpr float kAutoSlack = 4.0f;
// The merge named auto, reprune, append, fill or slack (the key nsg.reverse); false for any
// other name.
bool reverse_merge_from_name(const std::string& name, ReverseMerge* merge);

struct NsgParams {
  NnDescentParams knn;  // the initial kNN graph
  int L = 40;           // pool size of the search that collects each node's candidates
  int R = 32;           // out-degree bound of the pruning
  // Vamana's relaxed occlusion in both prunes (select_mrng): r occludes q only if
  // alpha * d(r, q) < d(p, q). 1 = the MRNG rule; larger keeps longer edges (docs/ann.md,
  // "Relaxed prune").
  float alpha = 1.0f;
  // Candidates considered by the pruning (nearest first), besides the expanded nodes of the
  // search (path_candidates). 500, not 300 (docs/ann.md,
  // "Candidates"): on the 200k mixture 300 capped recall@10 at 0.947 for any L, 500 reaches
  // 0.999; on MNIST it costs about 5% of QPS.
  int C = 500;
  // The nodes the candidate search expanded join the C nearest as candidates (false: the C
  // nearest only, as in the NSG paper). They supply the long edges when the search visits far
  // more than C nodes (docs/ann.md, "The search path as candidates").
  bool path_candidates = true;
  int threads = 0;  // OpenMP threads (0 = default)
  ReverseMerge reverse = ReverseMerge::kAuto;
  float reverse_slack = 1.25f;  // kSlack only: lists up to ceil(slack * R) are kept whole
  // Search-collect-prune passes. Pass 1 is the paper's (searching the kNN graph); pass 2 repeats
  // steps 3-5 searching the pass-1 NSG, adding its edges to the candidates. Measured on the
  // Gaussian mixture (docs/ann.md) a second pass loses the long inter-cluster edges (the C
  // nearest candidates all lie in the node's own cluster) and recall drops, so 1 is the default.
  int passes = 1;
  // Seeded random out-edges added to the kNN graph for the first pass's searches only (kept only
  // when the prune selects them). On clustered data the kNN graph has no edges between clusters,
  // so a search from the navigating node never reaches other clusters and their nodes get only
  // their kNN lists as candidates (recall@10 saturates near 0.6 on the 20k mixture). Random edges
  // make the search graph an expander; 0 gives the paper's kNN graph.
  int random_edges = 8;
  // Extra start nodes stored with the graph (Graph::extra_entries) and evaluated first by every
  // search, build-time candidate searches included: k-means++ seeds over the base, so on
  // clustered data every cluster holds one with high probability. NSG's published search code
  // fills its initial pool with random nodes for the same reason; seeds cover the clusters with
  // fewer of them. 0 = the navigating node alone; -1 (the default) = auto_entry_points(n).
  int entry_points = -1;
  // Integer-valued bases (MNIST): distances on byte rows, the same values (NnDescentParams).
  bool byte_rows = true;
  // Step 6, slot fill: each list shorter than min(R, packed slot capacity) is filled up to it
  // with its node's nearest step-3 candidates that it does not hold (those the prune occluded).
  // The packed layout reserves that capacity for every node anyway (packed_slot_stride), so
  // the extra edges cost no memory; on small tight clusters the MRNG rule keeps too few
  // edges for a short search to find all k neighbours (docs/ann.md, "Slot fill").
  bool slot_fill = true;
};

// The default number of extra entry points: round(sqrt(n) / 8), from 1 to 256 (0 below 16
// nodes). Clusters are found only if seeds land in them; sqrt(n) is the usual order of a
// clustering of n points (IVF list counts), and an eighth of it keeps the entries' distances a
// small part of a search (18 at 20k, 56 of ~1,100 at 200k for recall 0.95). Measured in
// docs/ann.md: a 10-cluster 20k set reaches recall@10 0.998 with it, 0.79 without; on the four
// benchmark sets it needs fewer distances than a quarter of sqrt(n) (the rule until 2026-12-06).
int auto_entry_points(int64_t n);

// `count` k-means++ seeds (D^2 sampling, seeded): spread-out nodes used as extra search starts.
// The same seeds for any thread count (0: all cores).
std::vector<int32_t> spread_entry_points(const VectorSet& base, int count, uint64_t seed,
                                         int threads = 0);

struct NsgStats {
  NnDescentStats knn;
  double knn_recall = -1;  // recall@k of the kNN graph on a node sample; -1 when not measured
  int32_t navigating_node = 0;
  int64_t prune_distances = 0;
  int64_t repair_edges = 0;                            // edges added by the connectivity repair
  ReverseMerge reverse_used = ReverseMerge::kReprune;  // the merge kAuto chose (or the one set)
  int64_t stranded_by_reprune = -1;  // kAuto: nodes the re-prune left with no in-edge
  int64_t reachable_before_repair = 0;
  int64_t fill_edges = 0;  // edges added by the slot fill
  int fill_degree = 0;     // the degree lists were filled up to
  double seconds_knn = 0, seconds_prune = 0, seconds_reverse = 0, seconds_repair = 0;
  double seconds_fill = 0;
  double seconds_recall = 0;  // measuring knn_recall; not part of the build
};

// Builds the NSG:
//  1. kNN graph by NN-descent;
//  2. navigating node = the vector nearest the centroid;
//  3. per node p: beam search for p on the kNN graph from the navigating node with pool L;
//     every visited node plus p's kNN list are the candidates; the C nearest, plus the nodes
//     the search expanded beyond them (path_candidates), are pruned by the MRNG rule
//     (select_mrng) to at most R out-edges;
//  4. reverse edges: every q in out(p) receives p; a list that then exceeds R is pruned again
//     by the same rule (p.reverse selects another merge: ReverseMerge);
//  5. repair: depth-first search from the navigating node; while nodes remain unreached, the
//     first unreached node u is linked from the nearest reached node found by searching for u,
//     and the DFS continues from u (these edges may exceed R, as in the NSG paper);
//  6. slot fill (p.slot_fill): short lists get their nearest occluded candidates, up to the packed
//     slot's capacity (at most R).
// `progress(stage, done, total)` reports long builds. `knn_recall_sample` > 0 measures the kNN
// graph's recall on that many nodes (costs one exact kNN of the sample).
Graph build_nsg(const VectorSet& base, const NsgParams& p, NsgStats* stats = nullptr,
                int64_t knn_recall_sample = 0,
                const std::function<void(const std::string&, int64_t, int64_t)>& progress = {});

}  // namespace tessel::ann
