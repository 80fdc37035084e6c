// The IVF previews' coarse probe: brute force over the centroids, or beam search on an NSG
// built over them.
#include "models/ann/centroid_probe.h"

#include <algorithm>
#include <chrono>

#include "models/ann/distance.h"
#include "models/ann/nsg.h"

namespace tessel::ann {

int64_t CentroidGraph::ram_bytes() const {
  if (empty()) return 0;
  return static_cast<int64_t>(
      graph.edges.size() * sizeof(int32_t) + graph.offsets.size() * sizeof(int64_t) +
      graph.extra_entries.size() * sizeof(int32_t) + centroids.data.size() * sizeof(float));
}

CentroidGraph build_centroid_graph(const std::vector<float>& centroids, int nlist, int dim,
                                   uint64_t seed) {
  const auto t0 = std::chrono::steady_clock::now();
  CentroidGraph g;
  g.centroids = VectorSet(nlist, dim);
  std::copy_n(centroids.data(), static_cast<std::size_t>(nlist) * dim, g.centroids.data.data());
  NsgParams p;
  p.knn.k = 20;
  p.knn.seed = seed;
  p.knn.threads = 1;
  p.L = 64;
  p.R = 24;
  p.C = 200;
  p.random_edges = 8;
  p.threads = 1;
  if (nlist <= p.R + 1) {
    // Too few centroids for NN-descent (k < n) to mean anything: the complete graph.
    std::vector<std::vector<int32_t>> lists(nlist);
    for (int i = 0; i < nlist; ++i)
      for (int j = 0; j < nlist; ++j)
        if (j != i) lists[i].push_back(j);
    g.graph = Graph::from_lists(lists, 0);
  } else {
    g.graph = build_nsg(g.centroids, p);
  }
  g.seconds_build = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return g;
}

int default_centroid_search_L(int nprobe) {
  return std::max(2 * nprobe, 64);
}

CentroidProbe::CentroidProbe(const std::vector<float>& centroids, int nlist, int dim,
                             const CentroidGraph* graph, int search_L)
    : centroids_(centroids.data()), nlist_(nlist), dim_(dim), search_L_(search_L) {
  if (graph && !graph->empty())
    searcher_ = std::make_unique<Searcher>(graph->graph, graph->centroids);
  else
    all_.resize(nlist);
}

const std::vector<Neighbour>& CentroidProbe::probe(const float* q, int nprobe) {
  nprobe = std::min(nprobe, nlist_);
  if (!searcher_) {
    for (int c = 0; c < nlist_; ++c) all_[c] = {l2_sq(q, centroids_ + int64_t{c} * dim_, dim_), c};
    std::partial_sort(all_.begin(), all_.begin() + nprobe, all_.end());
    out_.assign(all_.begin(), all_.begin() + nprobe);
    return out_;
  }
  SearchParams sp;
  sp.k = nprobe;
  sp.L = std::max(search_L_ > 0 ? search_L_ : default_centroid_search_L(nprobe), nprobe);
  sp.rerank = 0;
  ids_.resize(nprobe);
  dist_.resize(nprobe);
  searcher_->search(q, sp, ids_.data(), dist_.data());
  out_.resize(nprobe);
  for (int j = 0; j < nprobe; ++j) out_[j] = {dist_[j], ids_[j]};
  return out_;
}

}  // namespace tessel::ann
