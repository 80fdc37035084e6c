// Product quantization: k-means, codebook training, encoding, distance tables, table scans.
#include "models/ann/pq.h"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>

#include "models/ann/distance.h"
#include "models/common/rng.h"
#include "runtime/core/error.h"

namespace tessel::ann {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

double dist_double(const float* a, const float* b, int dim) {
  return l2_sq_exact(a, b, dim);
}

// Nearest centroid of rows [0, n) by |x|^2 - 2 x.c + |c|^2 (one GEMM per block of rows). The
// expansion rounds differently from the direct form, so a row already assigned moves only when
// the candidate is strictly nearer in double: the objective cannot rise by rounding.
void assign_rows(const float* data, int64_t n, int dim, int64_t stride, const float* cent, int k,
                 int threads, std::vector<int32_t>& assign, bool first) {
  RowMat C(k, dim);
  for (int c = 0; c < k; ++c)
    for (int j = 0; j < dim; ++j) C(c, j) = cent[static_cast<int64_t>(c) * dim + j];
  const Eigen::VectorXf cn = C.rowwise().squaredNorm();
  constexpr int64_t kBlock = 512;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  // Small sets run on the calling thread (a parallel region's barrier costs more there).
  const int team = n * k * static_cast<int64_t>(dim) < (int64_t{1} << 24) ? 1 : threads;
#pragma omp parallel num_threads(team)
  {
    // Eigen would take its multi-threaded GEMM path inside a one-thread team (see knn.cpp).
    omp_set_num_threads(1);
    RowMat X(kBlock, dim);
    RowMat D(kBlock, k);
#pragma omp for schedule(dynamic, 4)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t r0 = b * kBlock, rn = std::min(kBlock, n - r0);
      for (int64_t r = 0; r < rn; ++r)
        for (int j = 0; j < dim; ++j) X(r, j) = data[(r0 + r) * stride + j];
      D.topRows(rn).noalias() = X.topRows(rn) * C.transpose();
      for (int64_t r = 0; r < rn; ++r) {
        int best = 0;
        float best_d = std::numeric_limits<float>::infinity();
        for (int c = 0; c < k; ++c) {
          const float d = cn[c] - 2 * D(r, c);
          if (d < best_d) best_d = d, best = c;
        }
        int32_t& a = assign[r0 + r];
        if (first || a < 0) {
          a = best;
        } else if (best != a) {
          const float* x = data + (r0 + r) * stride;
          if (dist_double(x, cent + static_cast<int64_t>(best) * dim, dim) <
              dist_double(x, cent + static_cast<int64_t>(a) * dim, dim))
            a = best;
        }
      }
    }
  }
}

double objective_of(const float* data, int64_t n, int dim, int64_t stride, const float* cent,
                    const std::vector<int32_t>& assign) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i)
    s += dist_double(data + i * stride, cent + static_cast<int64_t>(assign[i]) * dim, dim);
  return s;
}

}  // namespace

std::vector<int32_t> nearest_centroids(const float* data, int64_t n, int dim, int64_t stride,
                                       const float* centroids, int k, int threads) {
  std::vector<int32_t> a(n, -1);
  assign_rows(data, n, dim, stride, centroids, k, threads > 0 ? threads : omp_get_max_threads(), a,
              true);
  return a;
}

KMeansResult kmeans(const float* data, int64_t n, int dim, int64_t stride, const KMeansParams& p) {
  if (p.k < 1 || n < p.k)
    throw Error(
        "k-means: need at least k = " + std::to_string(p.k) + " points, got " + std::to_string(n),
        kExitFailure);
  const int threads = p.threads > 0 ? p.threads : omp_get_max_threads();
  KMeansResult r;
  r.centroids.assign(static_cast<std::size_t>(p.k) * dim, 0.0f);
  // k-means++ seeding: each next centre drawn with probability proportional to D^2.
  Rng rng(p.seed);
  std::vector<double> d2(n, std::numeric_limits<double>::infinity());
  int64_t next = static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(n));
  for (int c = 0; c < p.k; ++c) {
    std::copy_n(data + next * stride, dim, r.centroids.data() + static_cast<int64_t>(c) * dim);
    if (c + 1 == p.k) break;
    double total = 0;
    const float* cc = r.centroids.data() + static_cast<int64_t>(c) * dim;
    // Serial: one short pass per centre, where a parallel region per centre costs more than it
    // saves on a loaded machine.
    for (int64_t i = 0; i < n; ++i) {
      d2[i] = std::min(d2[i], dist_double(data + i * stride, cc, dim));
      total += d2[i];
    }
    if (total <= 0) {
      // Fewer distinct points than k: the remaining centres repeat points (never chosen twice
      // by the assignment, so their clusters stay empty and they keep their place).
      next = static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(n));
      continue;
    }
    double target = rng.uniform() * total;
    next = n - 1;
    for (int64_t i = 0; i < n; ++i) {
      target -= d2[i];
      if (target < 0) {
        next = i;
        break;
      }
    }
  }
  r.assign.assign(n, -1);
  assign_rows(data, n, dim, stride, r.centroids.data(), p.k, threads, r.assign, true);
  r.objective.push_back(objective_of(data, n, dim, stride, r.centroids.data(), r.assign));
  std::vector<double> sum(static_cast<std::size_t>(p.k) * dim);
  std::vector<int64_t> count(p.k);
  for (int it = 0; it < p.iterations; ++it) {
    // Update: each centre to its members' mean (double sums, rounded once to float).
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      const int c = r.assign[i];
      ++count[c];
      double* s = sum.data() + static_cast<int64_t>(c) * dim;
      const float* x = data + i * stride;
      for (int j = 0; j < dim; ++j) s[j] += x[j];
    }
    for (int c = 0; c < p.k; ++c)
      if (count[c] > 0)
        for (int j = 0; j < dim; ++j)
          r.centroids[static_cast<int64_t>(c) * dim + j] =
              static_cast<float>(sum[static_cast<int64_t>(c) * dim + j] / count[c]);
    assign_rows(data, n, dim, stride, r.centroids.data(), p.k, threads, r.assign, false);
    r.objective.push_back(objective_of(data, n, dim, stride, r.centroids.data(), r.assign));
    if (r.objective.back() == r.objective[r.objective.size() - 2]) {
      // Converged: nothing moves any more; the remaining entries repeat the value.
      while (static_cast<int>(r.objective.size()) < p.iterations + 1)
        r.objective.push_back(r.objective.back());
      break;
    }
  }
  return r;
}

std::vector<float> train_subspace_codebooks(const VectorSet& data, const PqParams& p, int k,
                                            const std::vector<int>& begin,
                                            std::vector<std::vector<double>>* objective) {
  const int m = static_cast<int>(begin.size()) - 1;
  // A seeded sample without replacement (partial Fisher-Yates) when the set is larger.
  const float* train = data.data.data();
  int64_t n = data.n;
  std::vector<float> sample;
  if (p.train_size > 0 && data.n > p.train_size) {
    std::vector<int64_t> ids(data.n);
    std::iota(ids.begin(), ids.end(), 0);
    Rng rng(p.seed ^ 0x5A3D1E);
    for (int64_t i = 0; i < p.train_size; ++i)
      std::swap(ids[i],
                ids[i + static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(data.n - i))]);
    sample.resize(static_cast<std::size_t>(p.train_size) * data.dim);
    for (int64_t i = 0; i < p.train_size; ++i)
      std::copy_n(data.row(ids[i]), data.dim, sample.data() + i * data.dim);
    train = sample.data();
    n = p.train_size;
  }
  if (objective) objective->assign(m, {});
  // One sub-space per thread, each k-means serial: one parallel region for the whole training
  // (a region per Lloyd step stalls at its barrier whenever the machine is shared).
  const int threads = p.threads > 0 ? p.threads : omp_get_max_threads();
  std::vector<KMeansResult> km(m);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int s = 0; s < m; ++s) {
    KMeansParams kp;
    kp.k = k;
    kp.iterations = p.iterations;
    kp.seed = p.seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(s + 1);
    kp.threads = 1;
    km[s] = kmeans(train + begin[s], n, begin[s + 1] - begin[s], data.dim, kp);
  }
  std::vector<float> codebooks(static_cast<std::size_t>(data.dim) * k, 0.0f);
  for (int s = 0; s < m; ++s) {
    std::copy(km[s].centroids.begin(), km[s].centroids.end(),
              codebooks.begin() + static_cast<int64_t>(begin[s]) * k);
    if (objective) (*objective)[s] = std::move(km[s].objective);
  }
  return codebooks;
}

ProductQuantizer ProductQuantizer::train(const VectorSet& data, const PqParams& p,
                                         std::vector<std::vector<double>>* objective) {
  if (p.m < 1 || p.m > data.dim)
    throw Error(
        "pq: m = " + std::to_string(p.m) + " sub-spaces for dimension " + std::to_string(data.dim),
        kExitFailure);
  if (data.n < kCentroids)
    throw Error("pq: " + std::to_string(data.n) + " training vectors, need at least 256",
                kExitFailure);
  ProductQuantizer q;
  q.dim_ = data.dim;
  q.m_ = p.m;
  q.begin_.resize(p.m + 1);
  for (int s = 0; s <= p.m; ++s) q.begin_[s] = static_cast<int>(int64_t{s} * data.dim / p.m);
  q.codebooks_ = train_subspace_codebooks(data, p, kCentroids, q.begin_, objective);
  return q;
}

void ProductQuantizer::encode(const float* x, uint8_t* code) const {
  for (int s = 0; s < m_; ++s) {
    const int d = sub_dim(s);
    const float* xs = x + begin_[s];
    int best = 0;
    float best_d = std::numeric_limits<float>::infinity();
    for (int c = 0; c < kCentroids; ++c) {
      const float dd = l2_sq(xs, centroid(s, c), d);
      if (dd < best_d) best_d = dd, best = c;
    }
    code[s] = static_cast<uint8_t>(best);
  }
}

void ProductQuantizer::decode(const uint8_t* code, float* x) const {
  for (int s = 0; s < m_; ++s) std::copy_n(centroid(s, code[s]), sub_dim(s), x + begin_[s]);
}

std::vector<uint8_t> ProductQuantizer::encode_all(const VectorSet& v, int threads) const {
  check_dim(v.dim, "the vectors to encode");
  std::vector<uint8_t> codes(static_cast<std::size_t>(v.n) * m_);
  const int t = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for num_threads(t) schedule(dynamic, 256)
  for (int64_t i = 0; i < v.n; ++i) encode(v.row(i), codes.data() + i * m_);
  return codes;
}

void ProductQuantizer::distance_table(const float* q, float* table) const {
  for (int s = 0; s < m_; ++s) {
    const int d = sub_dim(s);
    const float* qs = q + begin_[s];
    for (int c = 0; c < kCentroids; ++c) {
      const float* cc = centroid(s, c);
      float acc = 0;
      for (int j = 0; j < d; ++j) {
        const float diff = qs[j] - cc[j];
        acc += diff * diff;
      }
      table[s * kCentroids + c] = acc;
    }
  }
}

void ProductQuantizer::check_dim(int dim, const std::string& what) const {
  if (dim != dim_)
    throw IoError(what + " has dimension " + std::to_string(dim) +
                  " but the product quantizer was trained on dimension " + std::to_string(dim_));
}

namespace {
constexpr char kPqMagic[8] = {'T', 'S', 'L', 'P', 'Q', '0', '0', '1'};
}

void ProductQuantizer::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(path + ": cannot open for writing");
  out.write(kPqMagic, 8);
  const int32_t hdr[2] = {dim_, m_};
  out.write(reinterpret_cast<const char*>(hdr), sizeof hdr);
  out.write(reinterpret_cast<const char*>(codebooks_.data()),
            static_cast<std::streamsize>(codebooks_.size() * sizeof(float)));
  if (!out) throw IoError(path + ": write failed");
}

ProductQuantizer ProductQuantizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open");
  char magic[8];
  int32_t hdr[2];
  if (!in.read(magic, 8) || std::memcmp(magic, kPqMagic, 8) != 0)
    throw IoError(path + ": not a product quantizer file (bad magic)");
  if (!in.read(reinterpret_cast<char*>(hdr), sizeof hdr) || hdr[0] < 1 || hdr[1] < 1 ||
      hdr[1] > hdr[0])
    throw IoError(path + ": bad header (dimension / sub-spaces)");
  ProductQuantizer q;
  q.dim_ = hdr[0];
  q.m_ = hdr[1];
  q.begin_.resize(q.m_ + 1);
  for (int s = 0; s <= q.m_; ++s) q.begin_[s] = static_cast<int>(int64_t{s} * q.dim_ / q.m_);
  q.codebooks_.resize(static_cast<std::size_t>(q.dim_) * kCentroids);
  if (!in.read(reinterpret_cast<char*>(q.codebooks_.data()),
               static_cast<std::streamsize>(q.codebooks_.size() * sizeof(float))))
    throw IoError(path + ": truncated (codebooks of " + std::to_string(q.dim_) + " x 256 floats)");
  return q;
}

}  // namespace tessel::ann
