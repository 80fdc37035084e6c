// 4-bit PQ: training (pq.h's k-means with k = 16), packing, table quantisation, the shuffle scan.
#include "models/ann/pq4_fastscan.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "models/ann/distance.h"
#include "runtime/core/error.h"

namespace tessel::ann {

Pq4Quantizer Pq4Quantizer::train(const VectorSet& data, const PqParams& p) {
  // m <= 256 keeps a code's byte-table sum below 2^16 (the scan's uint16 lanes never wrap).
  if (p.m < 1 || p.m > data.dim || p.m > 256)
    throw Error("pq4: m = " + std::to_string(p.m) + " sub-spaces for dimension " +
                    std::to_string(data.dim) + " (need 1 <= m <= min(dim, 256))",
                kExitFailure);
  if (data.n < kCentroids)
    throw Error("pq4: " + std::to_string(data.n) + " training vectors, need at least 16",
                kExitFailure);
  Pq4Quantizer q;
  q.dim_ = data.dim;
  q.m_ = p.m;
  q.begin_.resize(p.m + 1);
  for (int s = 0; s <= p.m; ++s) q.begin_[s] = static_cast<int>(int64_t{s} * data.dim / p.m);
  q.codebooks_ = train_subspace_codebooks(data, p, kCentroids, q.begin_, nullptr);
  return q;
}

void Pq4Quantizer::encode(const float* x, uint8_t* code) const {
  for (int s = 0; s < m_; ++s) {
    const float* xs = x + begin_[s];
    int best = 0;
    float best_d = std::numeric_limits<float>::infinity();
    for (int c = 0; c < kCentroids; ++c) {
      const float d = l2_sq(xs, centroid(s, c), sub_dim(s));
      if (d < best_d) best_d = d, best = c;
    }
    code[s] = static_cast<uint8_t>(best);
  }
}

void Pq4Quantizer::decode(const uint8_t* code, float* x) const {
  for (int s = 0; s < m_; ++s) std::copy_n(centroid(s, code[s]), sub_dim(s), x + begin_[s]);
}

std::vector<uint8_t> Pq4Quantizer::encode_all(const VectorSet& v, int threads) const {
  if (v.dim != dim_)
    throw IoError("pq4: the vectors to encode have dimension " + std::to_string(v.dim) +
                  " but the quantizer was trained on dimension " + std::to_string(dim_));
  std::vector<uint8_t> codes(static_cast<std::size_t>(v.n) * m_);
  const int t = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for num_threads(t) schedule(dynamic, 256)
  for (int64_t i = 0; i < v.n; ++i) encode(v.row(i), codes.data() + i * m_);
  return codes;
}

void Pq4Quantizer::distance_table(const float* q, float* table) const {
  for (int s = 0; s < m_; ++s) {
    const float* qs = q + begin_[s];
    for (int c = 0; c < kCentroids; ++c) {
      const float* cc = centroid(s, c);
      float acc = 0;
      for (int j = 0; j < sub_dim(s); ++j) {
        const float d = qs[j] - cc[j];
        acc += d * d;
      }
      table[s * kCentroids + c] = acc;
    }
  }
}

std::vector<uint8_t> pq4_pack(const uint8_t* rows, int64_t n, int m) {
  const int m2 = pq4_padded_m(m);
  const int64_t blocks = (n + kPq4Block - 1) / kPq4Block;
  std::vector<uint8_t> out(static_cast<std::size_t>(blocks) * 16 * m2, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = i % kPq4Block;
    uint8_t* b = out.data() + (i / kPq4Block) * 16 * m2 + (j & 15);
    const int shift = j < 16 ? 0 : 4;
    for (int s = 0; s < m; ++s) b[s * 16] |= static_cast<uint8_t>((rows[i * m + s] & 15) << shift);
  }
  return out;
}

void pq4_unpack_code(const uint8_t* packed, int64_t j, int m, uint8_t* row) {
  const int64_t k = j % kPq4Block;
  const uint8_t* b = packed + (j / kPq4Block) * 16 * pq4_padded_m(m) + (k & 15);
  for (int s = 0; s < m; ++s) row[s] = k < 16 ? (b[s * 16] & 15) : (b[s * 16] >> 4);
}

Pq4Lut pq4_quantize_table(const float* table, int m) {
  Pq4Lut r;
  r.m = m;
  r.lut.assign(static_cast<std::size_t>(pq4_padded_m(m)) * 16, 0);
  std::vector<float> off(m);
  float range = 0;
  for (int s = 0; s < m; ++s) {
    const float* t = table + s * 16;
    off[s] = *std::min_element(t, t + 16);
    range = std::max(range, *std::max_element(t, t + 16) - off[s]);
    r.offset += off[s];
  }
  // One scale for all sub-spaces (the sum of bytes must stay one unit); a flat table (range 0)
  // quantises to zeros with any scale.
  r.scale = range > 0 ? 255.0f / range : 1.0f;
  for (int s = 0; s < m; ++s)
    for (int c = 0; c < 16; ++c) {
      const float v = std::nearbyint((table[s * 16 + c] - off[s]) * r.scale);
      r.lut[s * 16 + c] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
    }
  return r;
}

void pq4_scan_portable(const uint8_t* lut, const uint8_t* packed, int64_t blocks, int m,
                       uint16_t* out) {
  const int m2 = pq4_padded_m(m);
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* p = packed + b * 16 * m2;
    uint32_t acc[kPq4Block] = {};
    for (int s = 0; s < m2; ++s) {
      const uint8_t* t = lut + s * 16;
      for (int j = 0; j < 16; ++j) {
        const uint8_t c = p[s * 16 + j];
        acc[j] += t[c & 15];
        acc[j + 16] += t[c >> 4];
      }
    }
    for (int j = 0; j < kPq4Block; ++j) out[b * kPq4Block + j] = static_cast<uint16_t>(acc[j]);
  }
}

namespace {

// Two sub-spaces per step: the 256-bit code load holds sub-space s (low lane) and s + 1 (high
// lane), as does the table load, so one vpshufb looks up 16 vectors in both. The byte results
// are summed as uint16 without unpacking (FAISS's trick): `a` adds each result as 16-bit words
// (even byte + 256 * odd byte, mod 2^16) and `h` adds the odd bytes alone; at the end the even
// vectors' sums are a - (h << 8), exact because every true sum is below 2^16 (m <= 256).
__attribute__((target("avx2"))) void pq4_scan_avx2(const uint8_t* lut, const uint8_t* packed,
                                                   int64_t blocks, int m, uint16_t* out) {
  const int m2 = pq4_padded_m(m);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* p = packed + b * 16 * m2;
    __m256i a0 = _mm256_setzero_si256(), h0 = _mm256_setzero_si256();
    __m256i a1 = _mm256_setzero_si256(), h1 = _mm256_setzero_si256();
    for (int s = 0; s < m2; s += 2) {
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + s * 16));
      const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut + s * 16));
      const __m256i r0 = _mm256_shuffle_epi8(t, _mm256_and_si256(c, low4));  // vectors 0..15
      const __m256i r1 =
          _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(c, 4), low4));  // 16..31
      a0 = _mm256_add_epi16(a0, r0);
      h0 = _mm256_add_epi16(h0, _mm256_srli_epi16(r0, 8));
      a1 = _mm256_add_epi16(a1, r1);
      h1 = _mm256_add_epi16(h1, _mm256_srli_epi16(r1, 8));
    }
    const __m256i e0 = _mm256_sub_epi16(a0, _mm256_slli_epi16(h0, 8));
    const __m256i e1 = _mm256_sub_epi16(a1, _mm256_slli_epi16(h1, 8));
    // Add the lanes (even and odd sub-spaces), then interleave even / odd vectors into order.
    const __m128i ev0 = _mm_add_epi16(_mm256_castsi256_si128(e0), _mm256_extracti128_si256(e0, 1));
    const __m128i od0 = _mm_add_epi16(_mm256_castsi256_si128(h0), _mm256_extracti128_si256(h0, 1));
    const __m128i ev1 = _mm_add_epi16(_mm256_castsi256_si128(e1), _mm256_extracti128_si256(e1, 1));
    const __m128i od1 = _mm_add_epi16(_mm256_castsi256_si128(h1), _mm256_extracti128_si256(h1, 1));
    __m128i* o = reinterpret_cast<__m128i*>(out + b * kPq4Block);
    _mm_storeu_si128(o + 0, _mm_unpacklo_epi16(ev0, od0));
    _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(ev0, od0));
    _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(ev1, od1));
    _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(ev1, od1));
  }
  // Clean upper halves before returning to baseline (SSE) code, as pq_scan.cpp does.
  _mm256_zeroupper();
}

}  // namespace

Pq4ScanKernel pq4_scan_kernel(bool allow_avx2) {
  return allow_avx2 && __builtin_cpu_supports("avx2") ? pq4_scan_avx2 : pq4_scan_portable;
}

}  // namespace tessel::ann
