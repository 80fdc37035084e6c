// Counts conflicts between near neighbours and times searches that must reach a conflicting node.
#include "models/ann/conflict.h"

#include <algorithm>
#include <string>

#include "models/ann/search.h"
#include "runtime/core/error.h"

namespace tessel::ann {

ConflictReport find_conflicting_nodes(const Graph& g, const KnnResult& knn, int k) {
  if (knn.nq != g.size() || k < 1 || k > knn.k)
    throw Error("find_conflicting_nodes: kNN lists do not match the graph (" +
                    std::to_string(knn.nq) + " x " + std::to_string(knn.k) +
                    ", k = " + std::to_string(k) + ")",
                kExitFailure);
  const int64_t n = g.size();
  ConflictReport r;
  r.k = k;
  r.nodes = n;
  r.knn_pairs = n * k;
  std::vector<int32_t> rknn(n, 0), kept_in(n, 0);
  for (int64_t p = 0; p < n; ++p) {
    const int32_t* nb = g.neighbours(p);
    const int deg = g.degree(p);
    for (int j = 0; j < k; ++j) {
      const int32_t q = knn.ids_of(p)[j];
      ++rknn[q];
      if (std::find(nb, nb + deg, q) != nb + deg)
        ++kept_in[q];
      else
        ++r.conflict_pairs;
    }
  }
  r.conflicting.assign(n, 0);
  for (int64_t q = 0; q < n; ++q) {
    if (rknn[q] == 0) {
      ++r.without_reverse_knn;
    } else if (kept_in[q] == 0) {
      r.conflicting[q] = 1;
      ++r.conflicting_nodes;
    }
  }
  return r;
}

PathStudy conflict_path_study(const Graph& g, const VectorSet& base, const VectorSet& queries,
                              const KnnResult& truth, const ConflictReport& report, int L) {
  if (truth.nq != queries.n || static_cast<int64_t>(report.conflicting.size()) != g.size())
    throw Error("conflict_path_study: ground truth or report does not match", kExitFailure);
  PathStudy s;
  s.L = L;
  Searcher searcher(g, base);
  std::vector<int32_t> ids(L);
  std::vector<float> ds(L);
  int64_t hit_count[2] = {0, 0};
  for (int64_t q = 0; q < queries.n; ++q) {
    const int32_t nn = truth.ids_of(q)[0];
    PathClass& c = report.conflicting[nn] ? s.conflicting : s.other;
    const int cls = report.conflicting[nn] ? 0 : 1;
    ++c.queries;
    SearchOptions opt;
    opt.target = nn;
    const SearchStats greedy =
        searcher.search(queries.row(q), SearchParams{1, 1}, ids.data(), ds.data(), opt);
    c.greedy_hops += greedy.hops;
    c.greedy_success += ids[0] == nn;
    const SearchStats beam =
        searcher.search(queries.row(q), SearchParams{L, 1}, ids.data(), ds.data(), opt);
    c.beam_hops += beam.hops;
    c.recall_at_1 += ids[0] == nn;
    if (beam.target_hop >= 0) {
      c.hops_to_nn += beam.target_hop;
      ++hit_count[cls];
    }
  }
  auto finish = [](PathClass& c, int64_t hits) {
    if (c.queries == 0) return;
    const double nq = static_cast<double>(c.queries);
    c.greedy_hops /= nq, c.greedy_success /= nq, c.beam_hops /= nq, c.recall_at_1 /= nq;
    c.hops_to_nn = hits ? c.hops_to_nn / static_cast<double>(hits) : 0;
  };
  finish(s.conflicting, hit_count[0]);
  finish(s.other, hit_count[1]);
  return s;
}

}  // namespace tessel::ann
