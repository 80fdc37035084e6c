// The coarse probe of both IVF previews (ivf.h, ivf_pq4.h): the `nprobe` lists whose centroids
// are nearest a query, by brute force over all centroids or, as in the Zoom paper (arXiv
// 1809.04067), by a beam search on a small proximity graph over the centroids
// (`workload.ivf.centroid_graph`).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "models/ann/graph.h"
#include "models/ann/search.h"
#include "models/ann/vectors.h"

namespace tessel::ann {

// An NSG over the nlist centroids. It keeps its own copy of the centroids as a VectorSet (what
// the project's Searcher reads), so the copy is counted in ram_bytes() along with the graph.
struct CentroidGraph {
  VectorSet centroids;
  Graph graph;
  double seconds_build = 0;

  bool empty() const { return graph.size() == 0; }
  // Edges, offsets, extra entry points and the centroid copy.
  int64_t ram_bytes() const;
};

// The graph's build settings (fixed, not keys): NN-descent k = 20, NSG pool L = 64, out-degree
// R = 24, C = 200 candidates per prune, 8 random edges per node during the build, the default
// k-means++ entry points (auto_entry_points(nlist)), one thread (so rebuilding it from the same
// centroids gives the same graph: the IVF cache files do not store it). With nlist <= R + 1 the
// graph is complete (every centroid links to every other).
CentroidGraph build_centroid_graph(const std::vector<float>& centroids, int nlist, int dim,
                                   uint64_t seed);

// The default beam width of the graph probe: max(2 * nprobe, 64).
int default_centroid_search_L(int nprobe);

// One query at a time; one per thread. Without a graph (null or empty): brute force over the
// centroids and a partial sort. With one: the project's beam search (Searcher) with pool
// max(search_L, nprobe), where search_L 0 means default_centroid_search_L(nprobe).
class CentroidProbe {
 public:
  CentroidProbe(const std::vector<float>& centroids, int nlist, int dim,
                const CentroidGraph* graph = nullptr, int search_L = 0);
  // The min(nprobe, nlist) nearest lists as (squared distance, list), ascending.
  const std::vector<Neighbour>& probe(const float* q, int nprobe);

 private:
  const float* centroids_;
  int nlist_, dim_, search_L_;
  std::unique_ptr<Searcher> searcher_;
  std::vector<Neighbour> all_, out_;
  std::vector<int32_t> ids_;
  std::vector<float> dist_;
};

}  // namespace tessel::ann
