// IVF-PQ build (coarse k-means, PQ training, per-list blocked codes) and the preview search.
#include "models/ann/ivf.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
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
}  // namespace

int64_t IvfPqIndex::ram_bytes() const {
  return static_cast<int64_t>(
             codes.size() + ids.size() * sizeof(int32_t) + centroids.size() * sizeof(float) +
             precomputed.size() * sizeof(float) + list_begin.size() * sizeof(int64_t)) +
         int64_t{dim} * ProductQuantizer::kCentroids * 4 + centroid_graph.ram_bytes();
}

CoarseLists coarse_quantize(const VectorSet& base, const IvfParams& ip, int threads) {
  // Coarse k-means on a seeded sample, then every vector to its nearest centroid.
  int64_t train = ip.train_size > 0 ? ip.train_size : int64_t{64} * ip.nlist;
  train = std::min(train, base.n);
  std::vector<float> sample;
  const float* tdata = base.data.data();
  if (train < base.n) {
    std::vector<int64_t> ids(base.n);
    std::iota(ids.begin(), ids.end(), 0);
    Rng rng(ip.seed ^ 0xC0A45E);
    sample.resize(static_cast<std::size_t>(train) * base.dim);
    for (int64_t i = 0; i < train; ++i) {
      std::swap(ids[i],
                ids[i + static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(base.n - i))]);
      std::copy_n(base.row(ids[i]), base.dim, sample.data() + i * base.dim);
    }
    tdata = sample.data();
  }
  KMeansParams kp;
  kp.k = ip.nlist;
  kp.iterations = ip.iterations;
  kp.seed = ip.seed;
  kp.threads = threads;
  KMeansResult km = kmeans(tdata, train, base.dim, base.dim, kp);
  CoarseLists c;
  c.centroids = std::move(km.centroids);
  c.list = nearest_centroids(base.data.data(), base.n, base.dim, base.dim, c.centroids.data(),
                             ip.nlist, threads);
  return c;
}

ListLayout lay_out_lists(const std::vector<int32_t>& list, int nlist,
                         const std::vector<uint8_t>& rows, int m, int block) {
  std::vector<int64_t> count(nlist, 0);
  for (int32_t l : list) ++count[l];
  ListLayout lay;
  lay.list_begin.assign(nlist + 1, 0);
  for (int c = 0; c < nlist; ++c)
    lay.list_begin[c + 1] = lay.list_begin[c] + (count[c] + block - 1) / block * block;
  lay.ids.assign(lay.list_begin.back(), -1);
  lay.slot_rows.assign(static_cast<std::size_t>(lay.list_begin.back()) * m, 0);
  std::vector<int64_t> fill(lay.list_begin.begin(), lay.list_begin.end() - 1);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const int64_t s = fill[list[i]]++;
    lay.ids[s] = static_cast<int32_t>(i);
    std::copy_n(rows.data() + i * m, m, lay.slot_rows.data() + s * m);
  }
  return lay;
}

IvfPqIndex build_ivf_pq(const VectorSet& base, const IvfParams& ip, const PqParams& pp) {
  if (ip.nlist < 1 || ip.nlist > base.n)
    throw Error(
        "ivf: nlist " + std::to_string(ip.nlist) + " for " + std::to_string(base.n) + " vectors",
        kExitFailure);
  IvfPqIndex x;
  x.dim = base.dim;
  x.nlist = ip.nlist;
  x.data_checksum = vectors_checksum(base);
  const int threads = ip.threads > 0 ? ip.threads : omp_get_max_threads();
  auto t0 = std::chrono::steady_clock::now();
  CoarseLists coarse = coarse_quantize(base, ip, threads);
  x.centroids = std::move(coarse.centroids);
  const std::vector<int32_t>& list = coarse.list;
  x.seconds_coarse = since(t0);
  t0 = std::chrono::steady_clock::now();
  PqParams p = pp;
  p.threads = threads;
  x.by_residual = ip.by_residual;
  auto residual = [&](int64_t i, float* out) {
    const float* c = x.centroids.data() + int64_t{list[i]} * base.dim;
    for (int k = 0; k < base.dim; ++k) out[k] = base.row(i)[k] - c[k];
  };
  if (x.by_residual) {
    // Train on the residuals of a seeded sample (the quantizer samples no further).
    const int64_t nt = std::min(base.n, p.train_size > 0 ? p.train_size : base.n);
    std::vector<int64_t> ids(base.n);
    std::iota(ids.begin(), ids.end(), 0);
    Rng rng(pp.seed ^ 0x5E51D);
    VectorSet res(nt, base.dim);
    for (int64_t i = 0; i < nt; ++i) {
      std::swap(ids[i],
                ids[i + static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(base.n - i))]);
      residual(ids[i], res.row(i));
    }
    x.pq = ProductQuantizer::train(res, p);
  } else {
    x.pq = ProductQuantizer::train(base, p);
  }
  x.seconds_pq = since(t0);
  t0 = std::chrono::steady_clock::now();
  const int mm = x.pq.m();
  std::vector<uint8_t> rows(static_cast<std::size_t>(base.n) * mm);
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> r(base.dim);
#pragma omp for schedule(dynamic, 256)
    for (int64_t i = 0; i < base.n; ++i) {
      if (x.by_residual) {
        residual(i, r.data());
        x.pq.encode(r.data(), rows.data() + i * mm);
      } else {
        x.pq.encode(base.row(i), rows.data() + i * mm);
      }
    }
  }
  if (x.by_residual) {
    x.precomputed.resize(static_cast<std::size_t>(ip.nlist) * mm * ProductQuantizer::kCentroids);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 8)
    for (int l = 0; l < ip.nlist; ++l)
      for (int s = 0; s < mm; ++s)
        for (int j = 0; j < ProductQuantizer::kCentroids; ++j) {
          const float* cj = x.pq.centroid(s, j);
          const float* cl = x.centroids.data() + int64_t{l} * base.dim + x.pq.sub_begin(s);
          float norm = 0, dot = 0;
          for (int k = 0; k < x.pq.sub_dim(s); ++k) norm += cj[k] * cj[k], dot += cl[k] * cj[k];
          x.precomputed[(int64_t{l} * mm + s) * ProductQuantizer::kCentroids + j] = norm + 2 * dot;
        }
  }
  const int m = x.pq.m();
  ListLayout lay = lay_out_lists(list, ip.nlist, rows, m, kPqBlock);
  x.list_begin = std::move(lay.list_begin);
  x.ids = std::move(lay.ids);
  x.codes = pq_block_codes(lay.slot_rows.data(), x.list_begin.back(), m);
  x.seconds_encode = since(t0);
  if (ip.centroid_graph)
    x.centroid_graph = build_centroid_graph(x.centroids, x.nlist, x.dim, ip.seed);
  return x;
}

namespace {
constexpr char kIvfMagic[8] = {'T', 'S', 'L', 'I', 'V', 'F', '0', '1'};
}  // namespace

void save_ivf_pq(const std::string& path, const IvfPqIndex& x) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    if (!o) throw IoError(tmp + ": cannot open for writing");
    o.write(kIvfMagic, 8);
    const int64_t hdr[4] = {x.dim, x.nlist, x.by_residual ? 1 : 0,
                            static_cast<int64_t>(x.data_checksum)};
    o.write(reinterpret_cast<const char*>(hdr), sizeof hdr);
    write_array(o, x.centroids);
    write_array(o, x.list_begin);
    write_array(o, x.ids);
    write_array(o, x.codes);
    write_array(o, x.precomputed);
    if (!o) throw IoError(tmp + ": write failed");
  }
  x.pq.save(tmp + ".pq");
  std::filesystem::rename(tmp + ".pq", path + ".pq");
  std::filesystem::rename(tmp, path);
}

IvfPqIndex load_ivf_pq(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open");
  char magic[8];
  int64_t hdr[4];
  if (!in.read(magic, 8) || std::string(magic, 8) != std::string(kIvfMagic, 8) ||
      !in.read(reinterpret_cast<char*>(hdr), sizeof hdr))
    throw IoError(path + ": not an IVF-PQ index (bad magic)");
  IvfPqIndex x;
  x.dim = static_cast<int>(hdr[0]);
  x.nlist = static_cast<int>(hdr[1]);
  x.by_residual = hdr[2] != 0;
  x.data_checksum = static_cast<uint64_t>(hdr[3]);
  read_array(in, x.centroids, path, "IVF-PQ");
  read_array(in, x.list_begin, path, "IVF-PQ");
  read_array(in, x.ids, path, "IVF-PQ");
  read_array(in, x.codes, path, "IVF-PQ");
  read_array(in, x.precomputed, path, "IVF-PQ");
  x.pq = ProductQuantizer::load(path + ".pq");
  x.pq.check_dim(x.dim, path);
  if (x.list_begin.size() != static_cast<std::size_t>(x.nlist) + 1 ||
      x.ids.size() != static_cast<std::size_t>(x.list_begin.back()) ||
      x.codes.size() != x.ids.size() * static_cast<std::size_t>(x.pq.m()))
    throw IoError(path + ": inconsistent IVF-PQ index sizes");
  return x;
}

IvfPreview::IvfPreview(const IvfPqIndex& index, bool allow_avx2, int centroid_search_L)
    : index_(index),
      scan_(pq_scan_kernel(allow_avx2)),
      probe_(index.centroids, index.nlist, index.dim, &index.centroid_graph, centroid_search_L) {
  table_.resize(static_cast<std::size_t>(index.pq.m()) * ProductQuantizer::kCentroids);
  query_term_.resize(table_.size());
  int64_t longest = 0;
  for (int c = 0; c < index.nlist; ++c)
    longest = std::max(longest, index.list_begin[c + 1] - index.list_begin[c]);
  dist_.resize(longest);
}

void IvfPreview::search(const float* q, int nprobe, int candidates, std::vector<Neighbour>& out,
                        PreviewStats* stats) {
  const IvfPqIndex& x = index_;
  const std::vector<Neighbour>& coarse = probe_.probe(q, nprobe);
  nprobe = static_cast<int>(coarse.size());
  const int m = x.pq.m();
  constexpr int K = ProductQuantizer::kCentroids;
  if (x.by_residual) {
    for (int s = 0; s < m; ++s)
      for (int j = 0; j < K; ++j) {
        const float* cj = x.pq.centroid(s, j);
        const float* qs = q + x.pq.sub_begin(s);
        float dot = 0;
        for (int k = 0; k < x.pq.sub_dim(s); ++k) dot += qs[k] * cj[k];
        query_term_[s * K + j] = -2 * dot;
      }
  } else {
    x.pq.distance_table(q, table_.data());
  }
  // A bounded max-heap of the best `candidates` (std heap on Neighbour's order: worst on top).
  heap_.clear();
  int64_t scanned = 0;
  for (int j = 0; j < nprobe; ++j) {
    const int c = coarse[j].id;
    const int64_t b = x.list_begin[c], e = x.list_begin[c + 1];
    if (e == b) continue;
    if (x.by_residual) {
      // This list's table; the coarse distance goes into sub-space 0's entries.
      const float* pre = x.precomputed.data() + int64_t{c} * m * K;
      const float base_d = coarse[j].dist;
      for (int t = 0; t < K; ++t) table_[t] = base_d + pre[t] + query_term_[t];
      for (int t = K; t < m * K; ++t) table_[t] = pre[t] + query_term_[t];
    }
    scan_(table_.data(), x.codes.data() + b * m, (e - b) / kPqBlock, m, dist_.data());
    scanned += e - b;
    for (int64_t s = b; s < e; ++s) {
      const int32_t id = x.ids[s];
      if (id < 0) continue;
      const Neighbour n{dist_[s - b], id};
      if (static_cast<int>(heap_.size()) < candidates) {
        heap_.push_back(n);
        std::push_heap(heap_.begin(), heap_.end());
      } else if (n < heap_.front()) {
        std::pop_heap(heap_.begin(), heap_.end());
        heap_.back() = n;
        std::push_heap(heap_.begin(), heap_.end());
      }
    }
  }
  std::sort_heap(heap_.begin(), heap_.end());
  out.assign(heap_.begin(), heap_.end());
  if (stats) stats->codes_scanned += scanned, stats->lists += nprobe;
}

}  // namespace tessel::ann
