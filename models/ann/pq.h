// Product quantization (Jégou, Douze & Schmid, TPAMI 2011): seeded k-means++ / Lloyd codebooks per
// sub-space, 8-bit codes, asymmetric distance tables and their scan (portable and AVX2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/ann/vectors.h"

namespace tessel::ann {

// Lloyd's k-means from k-means++ seeds (D^2 sampling). `objective` gets the sum of squared
// distances (double) after the seeding's assignment and after every iteration: the sequence never
// increases (assignments change only when the new centre is strictly nearer in double, and each
// centre moves to its members' mean rounded to float, which is never farther from that mean than
// the old float centre component by component). An empty cluster keeps its centre.
struct KMeansParams {
  int k = 256;
  int iterations = 25;
  uint64_t seed = 1;
  int threads = 0;  // OpenMP threads for the assignment step (0 = default); results do not depend
};
struct KMeansResult {
  std::vector<float> centroids;   // k x dim
  std::vector<int32_t> assign;    // n
  std::vector<double> objective;  // iterations + 1 values
};
// `data` is n rows of `stride` floats of which the first `dim` are used (sub-space views).
KMeansResult kmeans(const float* data, int64_t n, int dim, int64_t stride, const KMeansParams& p);
// Index of the nearest of k centroids (k x dim) for each of n rows, by blocked GEMM (the
// |x|^2 - 2 x.c + |c|^2 expansion, float): IVF list assignment.
std::vector<int32_t> nearest_centroids(const float* data, int64_t n, int dim, int64_t stride,
                                       const float* centroids, int k, int threads);

struct PqParams {
  int m = 16;                  // sub-spaces = bytes per code
  int iterations = 25;         // Lloyd iterations per sub-space
  int64_t train_size = 65536;  // training vectors (a seeded sample when the set is larger)
  uint64_t seed = 1;
  int threads = 0;
};

class ProductQuantizer {
 public:
  static constexpr int kCentroids = 256;

  ProductQuantizer() = default;
  // Trains m codebooks on (a seeded sample of) `data`. Sub-space s covers components
  // [s * dim / m, (s + 1) * dim / m), so dim need not be a multiple of m. Needs >= 256 training
  // vectors and 1 <= m <= dim. `objective` (optional) gets each sub-space's k-means objective.
  static ProductQuantizer train(const VectorSet& data, const PqParams& p,
                                std::vector<std::vector<double>>* objective = nullptr);

  int dim() const { return dim_; }
  int m() const { return m_; }
  int sub_begin(int s) const { return begin_[s]; }
  int sub_dim(int s) const { return begin_[s + 1] - begin_[s]; }
  // Centroid c of sub-space s (sub_dim(s) floats).
  const float* centroid(int s, int c) const {
    return codebooks_.data() + static_cast<int64_t>(begin_[s]) * kCentroids +
           static_cast<int64_t>(c) * sub_dim(s);
  }

  void encode(const float* x, uint8_t* code) const;  // m bytes: nearest centroid per sub-space
  void decode(const uint8_t* code, float* x) const;  // dim floats
  std::vector<uint8_t> encode_all(const VectorSet& v, int threads = 0) const;  // n x m
  // table[s * 256 + c] = |q_s - centroid(s, c)|^2 (float, components in order). The ADC distance
  // of a code is sum_s table[s * 256 + code[s]]: the squared distance from q to the decoded
  // vector, up to float rounding (the per-sub-space sums are grouped differently).
  void distance_table(const float* q, float* table) const;

  // File form: magic, dim, m, the codebooks. Errors name the file.
  void save(const std::string& path) const;
  static ProductQuantizer load(const std::string& path);
  // Throws when this quantizer was trained on another dimension than `dim` (names `what`).
  void check_dim(int dim, const std::string& what) const;

 private:
  int dim_ = 0, m_ = 0;
  std::vector<int> begin_;        // m + 1 sub-space boundaries
  std::vector<float> codebooks_;  // sub-space s: 256 x sub_dim(s) at begin_[s] * 256
};

// Codebooks of k centroids for each sub-space [begin[s], begin[s+1]) (dim x k floats, the
// centroids of sub-space s from row begin[s] * k): one seeded k-means per sub-space, in
// parallel, on a seeded sample of at most p.train_size vectors. The 8-bit and 4-bit
// quantisers both train this way.
std::vector<float> train_subspace_codebooks(const VectorSet& data, const PqParams& p, int k,
                                            const std::vector<int>& begin,
                                            std::vector<std::vector<double>>* objective);

// The scan layout: codes in blocks of 8 vectors, block b holding for each sub-space s the 8
// vectors' bytes s (8 consecutive bytes at b * 8 * m + s * 8), so one sub-space of 8 codes is
// one 64-bit load that widens to the 8 gather indices of an AVX2 table look-up.
constexpr int kPqBlock = 8;
// Rows (n x m) to blocks; the last block is padded with code 0 (its extra results are ignored).
std::vector<uint8_t> pq_block_codes(const uint8_t* rows, int64_t n, int m);
// The code of vector j (< blocks * 8) of a blocked array, back as a row (tests, re-packing).
void pq_unblock_code(const uint8_t* blocked, int64_t j, int m, uint8_t* row);

// out[j] = sum_s table[s * 256 + code_j[s]] for the 8 * blocks vectors of a blocked array: the
// preview's inner loop. Every kernel adds the m terms in sub-space order starting from 0.0f with
// no fused multiply-add, so all of them return bit-identical sums.
using PqScanKernel = void (*)(const float* table, const uint8_t* blocked, int64_t blocks, int m,
                              float* out);
void pq_scan_portable(const float* table, const uint8_t* blocked, int64_t blocks, int m,
                      float* out);
// AVX2 (chosen at run time: function-level target, the project stays on the x86-64 baseline)
// when this CPU has it and `allow_avx2`, else the portable loop.
PqScanKernel pq_scan_kernel(bool allow_avx2 = true);
bool pq_scan_has_avx2();

}  // namespace tessel::ann
