// IVF-PQ4 build (coarse k-means as ivf.cpp, 4-bit residual codebooks, per-list packed blocks) and
// its preview search (shuffle scan on quantised tables, float-ADC re-score within the bound).
#include "models/ann/ivf_pq4.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>

#include "models/ann/array_io.h"
#include "models/ann/distance.h"
#include "models/ann/full_view.h"
#include "models/common/rng.h"
#include "runtime/core/error.h"

namespace tessel::ann {
namespace {
double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
constexpr int K = IvfPq4Index::K;
}  // namespace

void IvfPq4Index::slot_code(int64_t slot, uint8_t* code) const {
  pq4_unpack_code(codes.data(), slot, m, code);
}

int64_t IvfPq4Index::ram_bytes() const {
  return static_cast<int64_t>(codes.size() + ids.size() * sizeof(int32_t) +
                              centroids.size() * sizeof(float) + codebooks.size() * sizeof(float) +
                              precomputed.size() * sizeof(float) +
                              list_begin.size() * sizeof(int64_t)) +
         centroid_graph.ram_bytes();
}

IvfPq4Index build_ivf_pq4(const VectorSet& base, const IvfParams& ip, const PqParams& pp) {
  if (ip.nlist < 1 || ip.nlist > base.n)
    throw Error(
        "ivf: nlist " + std::to_string(ip.nlist) + " for " + std::to_string(base.n) + " vectors",
        kExitFailure);
  if (!ip.by_residual)
    throw Error("ivf-pq4: only residual codes are supported (by_residual)", kExitFailure);
  IvfPq4Index x;
  x.dim = base.dim;
  x.nlist = ip.nlist;
  x.data_checksum = vectors_checksum(base);
  const int threads = ip.threads > 0 ? ip.threads : omp_get_max_threads();
  auto t0 = std::chrono::steady_clock::now();
  // The same coarse lists as build_ivf_pq: the 4- and 8-bit previews of one configuration
  // probe the same clusters, so they differ only in their codes.
  CoarseLists coarse = coarse_quantize(base, ip, threads);
  x.centroids = std::move(coarse.centroids);
  const std::vector<int32_t>& list = coarse.list;
  x.seconds_coarse = since(t0);
  t0 = std::chrono::steady_clock::now();
  auto residual = [&](int64_t i, float* out) {
    const float* c = x.centroids.data() + int64_t{list[i]} * base.dim;
    for (int k = 0; k < base.dim; ++k) out[k] = base.row(i)[k] - c[k];
  };
  PqParams p = pp;
  p.threads = threads;
  const int64_t nt = std::min(base.n, p.train_size > 0 ? p.train_size : base.n);
  VectorSet res(nt, base.dim);
  {
    std::vector<int64_t> ids(base.n);
    std::iota(ids.begin(), ids.end(), 0);
    Rng rng(pp.seed ^ 0x5E51D);
    for (int64_t i = 0; i < nt; ++i) {
      std::swap(ids[i],
                ids[i + static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(base.n - i))]);
      residual(ids[i], res.row(i));
    }
  }
  const Pq4Quantizer pq = Pq4Quantizer::train(res, p);
  x.m = pq.m();
  x.codebooks.resize(static_cast<std::size_t>(base.dim) * K);
  for (int s = 0; s < x.m; ++s)
    for (int c = 0; c < K; ++c)
      std::copy_n(pq.centroid(s, c), pq.sub_dim(s),
                  x.codebooks.data() + int64_t{x.begin(s)} * K + int64_t{c} * pq.sub_dim(s));
  x.seconds_pq = since(t0);
  t0 = std::chrono::steady_clock::now();
  const int m = x.m;
  std::vector<uint8_t> rows(static_cast<std::size_t>(base.n) * m);
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> r(base.dim);
#pragma omp for schedule(dynamic, 256)
    for (int64_t i = 0; i < base.n; ++i) {
      residual(i, r.data());
      pq.encode(r.data(), rows.data() + i * m);
    }
  }
  x.precomputed.resize(static_cast<std::size_t>(ip.nlist) * m * K);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 8)
  for (int l = 0; l < ip.nlist; ++l)
    for (int s = 0; s < m; ++s)
      for (int j = 0; j < K; ++j) {
        const float* cj = x.centroid(s, j);
        const float* cl = x.centroids.data() + int64_t{l} * base.dim + x.begin(s);
        float norm = 0, dot = 0;
        for (int k = 0; k < x.begin(s + 1) - x.begin(s); ++k)
          norm += cj[k] * cj[k], dot += cl[k] * cj[k];
        x.precomputed[(int64_t{l} * m + s) * K + j] = norm + 2 * dot;
      }
  // Blocks of 32 slots, so a list's blocks start at list_begin[l] / 32 and one scan call
  // covers the list.
  ListLayout lay = lay_out_lists(list, ip.nlist, rows, m, kPq4Block);
  x.list_begin = std::move(lay.list_begin);
  x.ids = std::move(lay.ids);
  x.codes = pq4_pack(lay.slot_rows.data(), x.list_begin.back(), m);
  x.seconds_encode = since(t0);
  if (ip.centroid_graph)
    x.centroid_graph = build_centroid_graph(x.centroids, x.nlist, x.dim, ip.seed);
  return x;
}

namespace {
constexpr char kMagic[8] = {'T', 'S', 'L', 'I', 'V', 'Q', '4', '1'};
}  // namespace

void save_ivf_pq4(const std::string& path, const IvfPq4Index& x) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    if (!o) throw IoError(tmp + ": cannot open for writing");
    o.write(kMagic, 8);
    const int64_t hdr[4] = {x.dim, x.nlist, x.m, static_cast<int64_t>(x.data_checksum)};
    o.write(reinterpret_cast<const char*>(hdr), sizeof hdr);
    write_array(o, x.codebooks);
    write_array(o, x.centroids);
    write_array(o, x.list_begin);
    write_array(o, x.ids);
    write_array(o, x.codes);
    write_array(o, x.precomputed);
    if (!o) throw IoError(tmp + ": write failed");
  }
  std::filesystem::rename(tmp, path);
}

IvfPq4Index load_ivf_pq4(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open");
  char magic[8];
  int64_t hdr[4];
  if (!in.read(magic, 8)) throw IoError(path + ": not an IVF-PQ4 index (too short)");
  if (std::string(magic, 8) == "TSLIVF01")
    throw IoError(path + ": an 8-bit IVF-PQ index, not a 4-bit one (pq.bits differs)");
  if (std::string(magic, 8) != std::string(kMagic, 8) ||
      !in.read(reinterpret_cast<char*>(hdr), sizeof hdr))
    throw IoError(path + ": not an IVF-PQ4 index (bad magic)");
  IvfPq4Index x;
  x.dim = static_cast<int>(hdr[0]);
  x.nlist = static_cast<int>(hdr[1]);
  x.m = static_cast<int>(hdr[2]);
  x.data_checksum = static_cast<uint64_t>(hdr[3]);
  read_array(in, x.codebooks, path, "IVF-PQ4");
  read_array(in, x.centroids, path, "IVF-PQ4");
  read_array(in, x.list_begin, path, "IVF-PQ4");
  read_array(in, x.ids, path, "IVF-PQ4");
  read_array(in, x.codes, path, "IVF-PQ4");
  read_array(in, x.precomputed, path, "IVF-PQ4");
  if (x.dim < 1 || x.m < 1 || x.m > std::min(x.dim, 256) || x.nlist < 1 ||
      x.codebooks.size() != static_cast<std::size_t>(x.dim) * K ||
      x.centroids.size() != static_cast<std::size_t>(x.nlist) * x.dim ||
      x.list_begin.size() != static_cast<std::size_t>(x.nlist) + 1 ||
      x.ids.size() != static_cast<std::size_t>(x.list_begin.back()) ||
      x.ids.size() % kPq4Block != 0 ||
      x.codes.size() != x.ids.size() / kPq4Block * static_cast<std::size_t>(x.block_bytes()) ||
      x.precomputed.size() != static_cast<std::size_t>(x.nlist) * x.m * K)
    throw IoError(path + ": inconsistent IVF-PQ4 index sizes");
  return x;
}

IvfPq4Preview::IvfPq4Preview(const IvfPq4Index& index, bool allow_avx2, int centroid_search_L)
    : index_(index),
      scan_(pq4_scan_kernel(allow_avx2)),
      probe_(index.centroids, index.nlist, index.dim, &index.centroid_graph, centroid_search_L) {
  query_term_.resize(static_cast<std::size_t>(index.m) * K);
  int64_t longest = 0;
  for (int c = 0; c < index.nlist; ++c)
    longest = std::max(longest, index.list_begin[c + 1] - index.list_begin[c]);
  sums_.resize(longest);
  code_.resize(index.m);
}

void IvfPq4Preview::search(const float* q, int nprobe, int candidates, std::vector<Neighbour>& out,
                           PreviewStats* stats, bool exact) {
  const IvfPq4Index& x = index_;
  const std::vector<Neighbour>& coarse = probe_.probe(q, nprobe);
  nprobe = static_cast<int>(coarse.size());
  const int m = x.m;
  for (int s = 0; s < m; ++s)
    for (int j = 0; j < K; ++j) {
      const float* cj = x.centroid(s, j);
      const float* qs = q + x.begin(s);
      float dot = 0;
      for (int k = 0; k < x.begin(s + 1) - x.begin(s); ++k) dot += qs[k] * cj[k];
      query_term_[s * K + j] = -2 * dot;
    }
  tables_.resize(static_cast<std::size_t>(nprobe) * m * K);
  // Bounded max-heaps (worst on top): hi_heap_ of (distance + bound) for the exact pass's
  // threshold, heap_ of the answer. Distances in double: the bound is on the exact table sum.
  using Cand = std::pair<double, int32_t>;
  std::vector<Cand>& best = best_;
  best.clear();
  auto offer = [&](std::vector<Cand>& h, double d, int32_t id) {
    if (static_cast<int>(h.size()) < candidates) {
      h.emplace_back(d, id);
      std::push_heap(h.begin(), h.end());
    } else if (Cand{d, id} < h.front()) {
      std::pop_heap(h.begin(), h.end());
      h.back() = {d, id};
      std::push_heap(h.begin(), h.end());
    }
  };
  hi_heap_.clear();
  pending_.clear();
  max_bound_ = 0;
  rescored_ = 0;
  int64_t scanned = 0;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (int j = 0; j < nprobe; ++j) {
    const int c = coarse[j].id;
    const int64_t b = x.list_begin[c], e = x.list_begin[c + 1];
    if (e == b) continue;
    // This list's float table (coarse distance in sub-space 0), then its byte form.
    float* table = tables_.data() + static_cast<int64_t>(j) * m * K;
    const float* pre = x.precomputed.data() + int64_t{c} * m * K;
    for (int t = 0; t < m * K; ++t) table[t] = pre[t] + query_term_[t];
    for (int t = 0; t < K; ++t) table[t] += coarse[j].dist;
    const Pq4Lut lut = pq4_quantize_table(table, m);
    const double bound = lut.error_bound();
    max_bound_ = std::max(max_bound_, bound);
    scan_(lut.lut.data(), x.codes.data() + b / kPq4Block * x.block_bytes(), (e - b) / kPq4Block, m,
          sums_.data());
    scanned += e - b;
    for (int64_t s = b; s < e; ++s) {
      const int32_t id = x.ids[s];
      if (id < 0) continue;
      const double est = lut.distance(sums_[s - b]);
      if (!exact) {
        offer(best, est, id);
        continue;
      }
      // Keep the `candidates` smallest upper bounds; a slot whose lower bound exceeds the
      // current threshold can never be among the float-ADC best (the threshold only falls).
      const double hi = est + bound, lo = est - bound;
      if (static_cast<int>(hi_heap_.size()) < candidates) {
        hi_heap_.push_back(hi);
        std::push_heap(hi_heap_.begin(), hi_heap_.end());
      } else if (hi < hi_heap_.front()) {
        std::pop_heap(hi_heap_.begin(), hi_heap_.end());
        hi_heap_.back() = hi;
        std::push_heap(hi_heap_.begin(), hi_heap_.end());
      }
      const double threshold =
          static_cast<int>(hi_heap_.size()) < candidates ? kInf : hi_heap_.front();
      if (lo <= threshold) pending_.push_back({lo, static_cast<int32_t>(s - b), j});
    }
  }
  if (exact) {
    // The candidates-th smallest upper bound T: at least `candidates` slots have float ADC <= T,
    // so every slot of the float-ADC best has lo <= its distance <= T and is re-scored here.
    const double threshold =
        static_cast<int>(hi_heap_.size()) < candidates ? kInf : hi_heap_.front();
    for (const Pending& p : pending_) {
      if (p.lo > threshold) continue;
      const int64_t slot = x.list_begin[coarse[p.probe].id] + p.slot_in_list;
      x.slot_code(slot, code_.data());
      const float* table = tables_.data() + static_cast<int64_t>(p.probe) * m * K;
      double d = 0;
      for (int s = 0; s < m; ++s) d += table[s * K + code_[s]];
      offer(best, d, x.ids[slot]);
      ++rescored_;
    }
  }
  std::sort_heap(best.begin(), best.end());
  out.resize(best.size());
  for (std::size_t i = 0; i < best.size(); ++i)
    out[i] = {static_cast<float>(best[i].first), best[i].second};
  if (stats) stats->codes_scanned += scanned, stats->lists += nprobe;
}

}  // namespace tessel::ann
