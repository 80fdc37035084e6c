// MRNG edge selection, the exact MRNG construction and the flat HNSW-style graph.
#include "models/ann/mrng.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "models/ann/distance.h"
#include "runtime/core/error.h"

namespace tessel::ann {

std::vector<int32_t> select_mrng(const std::vector<Neighbour>& sorted, int max_degree,
                                 const std::function<float(int32_t, int32_t)>& dist,
                                 int64_t* evaluations, float alpha) {
  if (!(alpha >= 1.0f)) throw Error("mrng: need alpha >= 1", kExitFailure);
  const float alpha_sq = alpha * alpha;
  std::vector<int32_t> kept;
  int64_t evals = 0;
  // Whether some kept r occludes q does not depend on the order of the tests, only the number
  // of distances does: kept nodes are tried most recent occluder first.
  std::vector<int32_t> order;  // kept, most recent occluder first
  for (const Neighbour& q : sorted) {
    if (max_degree > 0 && static_cast<int>(kept.size()) >= max_degree) break;
    bool occluded = false;
    for (std::size_t j = 0; j < order.size(); ++j) {
      ++evals;
      if (alpha_sq * dist(order[j], q.id) < q.dist) {
        occluded = true;
        std::rotate(order.begin(), order.begin() + j, order.begin() + j + 1);
        break;
      }
    }
    if (!occluded) kept.push_back(q.id), order.push_back(q.id);
  }
  if (evaluations) *evaluations += evals;
  return kept;
}

std::vector<double> exact_distance_matrix(const VectorSet& base, int threads) {
  const int64_t n = base.n;
  if (n > kMaxExactMrng)
    throw Error("exact MRNG: " + std::to_string(n) + " vectors, at most " +
                    std::to_string(kMaxExactMrng) + " (the distance matrix is n^2 doubles)",
                kExitFailure);
  std::vector<double> m(static_cast<std::size_t>(n) * n, 0.0);
  if (threads <= 0) threads = omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      const double d = l2_sq_exact(base.row(i), base.row(j), base.dim);
      m[i * n + j] = d;
      m[j * n + i] = d;
    }
  return m;
}

int32_t nearest_to_centroid(const VectorSet& base) {
  std::vector<double> c(base.dim, 0.0);
  for (int64_t i = 0; i < base.n; ++i)
    for (int k = 0; k < base.dim; ++k) c[k] += base.row(i)[k];
  std::vector<float> cf(base.dim);
  for (int k = 0; k < base.dim; ++k) cf[k] = static_cast<float>(c[k] / static_cast<double>(base.n));
  int32_t best = 0;
  double best_d = INFINITY;
  for (int64_t i = 0; i < base.n; ++i) {
    const double d = l2_sq_exact(cf.data(), base.row(i), base.dim);
    if (d < best_d) best_d = d, best = static_cast<int32_t>(i);
  }
  return best;
}

Graph build_exact_mrng(const VectorSet& base, int threads) {
  const int64_t n = base.n;
  const std::vector<double> m = exact_distance_matrix(base, threads);
  std::vector<std::vector<int32_t>> lists(n);
  if (threads <= 0) threads = omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  {
    std::vector<std::pair<double, int32_t>> order;
#pragma omp for schedule(dynamic, 8)
    for (int64_t p = 0; p < n; ++p) {
      order.clear();
      for (int64_t q = 0; q < n; ++q)
        if (q != p) order.emplace_back(m[p * n + q], static_cast<int32_t>(q));
      std::sort(order.begin(), order.end());
      // The rule in double: float distances could tie where the exact values do not.
      auto& kept = lists[p];
      for (const auto& [dpq, q] : order) {
        bool occluded = false;
        for (int32_t r : kept)
          if (m[static_cast<int64_t>(r) * n + q] < dpq) {
            occluded = true;
            break;
          }
        if (!occluded) kept.push_back(q);
      }
    }
  }
  return Graph::from_lists(lists, nearest_to_centroid(base));
}

Graph build_hnsw_flat(const VectorSet& base, const HnswParams& p,
                      const std::function<void(int64_t)>& progress) {
  const int64_t n = base.n;
  const int dim = base.dim;
  if (p.M < 1 || p.max_degree < p.M || p.ef_construction < p.M)
    throw Error("hnsw: need 1 <= M <= max_degree and M <= ef_construction", kExitFailure);
  auto dist = [&](int32_t a, int32_t b) { return l2_sq(base.row(a), base.row(b), dim); };
  SlotGraph g(n, p.max_degree);
  g.entry = 0;
  Searcher searcher(g, base);
  const int ef = p.ef_construction;
  std::vector<int32_t> ids(ef);
  std::vector<float> ds(ef);
  std::vector<Neighbour> cands;
  for (int64_t i = 1; i < n; ++i) {
    // Nodes >= i have no edges and no node links to them yet, so the search sees exactly the
    // graph of the nodes inserted so far.
    searcher.search(base.row(i), SearchParams{ef, ef}, ids.data(), ds.data());
    cands.clear();
    for (int j = 0; j < ef && ids[j] >= 0; ++j) cands.push_back({ds[j], ids[j]});
    const std::vector<int32_t> sel = select_mrng(cands, p.M, dist);
    g.set(i, sel);
    const int32_t me = static_cast<int32_t>(i);
    for (int32_t s : sel) {
      if (g.degree[s] < p.max_degree) {
        g.edges[static_cast<int64_t>(s) * g.stride + g.degree[s]] = me;
        ++g.degree[s];
        continue;
      }
      std::vector<Neighbour> back;
      back.reserve(g.degree[s] + 1);
      for (int j = 0; j < g.degree[s]; ++j) {
        const int32_t t = g.neighbours(s)[j];
        back.push_back({dist(s, t), t});
      }
      back.push_back({dist(s, me), me});
      std::sort(back.begin(), back.end());
      g.set(s, select_mrng(back, p.max_degree, dist));
    }
    if (progress && (i % 10000 == 0 || i == n - 1)) progress(i + 1);
  }
  Graph out = g.to_graph();
  // Search from the node nearest the centroid, as for NSG and the exact MRNG, so the three
  // graphs differ only in their edges.
  out.entry = nearest_to_centroid(base);
  return out;
}

}  // namespace tessel::ann
