// Product quantization: k-means against known cluster means, encoding against a brute-force
// quantizer, ADC against decoded distances, scan kernels against a plain sum, bad files.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "models/ann/pq.h"
#include "models/common/rng.h"
#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

using testing::error_of;
using testing::ref_dist;
using testing::temp_path;

VectorSet small_mixture(int64_t n, int dim, uint64_t seed) {
  MixtureSpec m;
  m.centres = 20;
  m.dim = dim;
  m.sigma = 0.1;
  m.seed = seed;
  return gaussian_mixture(m, n, 0);
}

TEST(KMeans, FindsSeparatedClusterMeansAndObjectiveNeverRises) {
  // Four tight clusters at the corners of a square, 250 points each: whatever the seeding, the
  // optimum's centres are the four sample means, computed here independently.
  const int dim = 2;
  const double corners[4][2] = {{0, 0}, {10, 0}, {0, 10}, {10, 10}};
  std::vector<float> data;
  double mean[4][2] = {};
  Rng rng(7);
  for (int i = 0; i < 1000; ++i) {
    const int c = i % 4;
    for (int j = 0; j < dim; ++j) {
      const float v = static_cast<float>(corners[c][j] + rng.uniform(-1, 1));
      data.push_back(v);
      mean[c][j] += v / 250.0;
    }
  }
  KMeansParams p;
  p.k = 4;
  p.iterations = 20;
  p.seed = 3;
  const KMeansResult r = kmeans(data.data(), 1000, dim, dim, p);
  ASSERT_EQ(r.objective.size(), 21u);
  for (std::size_t t = 1; t < r.objective.size(); ++t)
    EXPECT_LE(r.objective[t], r.objective[t - 1] * (1 + 1e-12)) << "iteration " << t;
  for (int c = 0; c < 4; ++c) {
    double best = 1e30;
    for (int k = 0; k < 4; ++k) {
      const double dx = r.centroids[k * 2] - mean[c][0], dy = r.centroids[k * 2 + 1] - mean[c][1];
      best = std::min(best, dx * dx + dy * dy);
    }
    EXPECT_LT(best, 1e-8) << "cluster " << c;
  }
}

TEST(KMeans, ObjectiveMatchesRecomputationAndNeverRisesOnAMixture) {
  const VectorSet v = small_mixture(3000, 16, 11);
  KMeansParams p;
  p.k = 64;
  p.iterations = 15;
  p.seed = 5;
  const KMeansResult r = kmeans(v.data.data(), v.n, v.dim, v.dim, p);
  for (std::size_t t = 1; t < r.objective.size(); ++t)
    EXPECT_LE(r.objective[t], r.objective[t - 1] * (1 + 1e-12)) << "iteration " << t;
  EXPECT_LT(r.objective.back(), r.objective.front());
  long double s = 0;
  for (int64_t i = 0; i < v.n; ++i)
    s += ref_dist(v.row(i), r.centroids.data() + int64_t{r.assign[i]} * v.dim, v.dim);
  EXPECT_NEAR(static_cast<double>(s), r.objective.back(), 1e-9 * r.objective.back());
}

TEST(ProductQuantizer, EncodeIsTheBruteForceNearestCentroidAndDecodeConcatenatesThem) {
  const VectorSet v = small_mixture(2000, 24, 1);
  PqParams p;
  p.m = 5;  // uneven sub-spaces: 4, 5, 5, 5, 5 components
  p.iterations = 8;
  const ProductQuantizer q = ProductQuantizer::train(v, p);
  ASSERT_EQ(q.sub_dim(0) + q.sub_dim(1) + q.sub_dim(2) + q.sub_dim(3) + q.sub_dim(4), 24);
  const auto codes = q.encode_all(v, 1);
  std::vector<float> dec(v.dim);
  for (int64_t i = 0; i < 300; ++i) {
    long double err_ref = 0;
    for (int s = 0; s < q.m(); ++s) {
      long double best = 1e30L;
      for (int c = 0; c < 256; ++c)
        best = std::min(best, ref_dist(v.row(i) + q.sub_begin(s), q.centroid(s, c), q.sub_dim(s)));
      const long double got =
          ref_dist(v.row(i) + q.sub_begin(s), q.centroid(s, codes[i * q.m() + s]), q.sub_dim(s));
      EXPECT_LE(got, best * (1 + 1e-5L) + 1e-12L) << "vector " << i << " sub-space " << s;
      err_ref += best;
    }
    q.decode(codes.data() + i * q.m(), dec.data());
    EXPECT_NEAR(static_cast<double>(ref_dist(v.row(i), dec.data(), v.dim)),
                static_cast<double>(err_ref), 1e-5 * static_cast<double>(err_ref) + 1e-12);
  }
}

TEST(ProductQuantizer, AdcEqualsTheDecodedVectorsDistanceToFloatRounding) {
  const VectorSet v = small_mixture(1500, 32, 2);
  const VectorSet qs = gaussian_mixture({20, 32, 0.1, 2}, 10, 1);
  PqParams p;
  p.m = 8;
  p.iterations = 6;
  const ProductQuantizer q = ProductQuantizer::train(v, p);
  const auto rows = q.encode_all(v);
  const auto blocked = pq_block_codes(rows.data(), v.n, q.m());
  std::vector<float> table(q.m() * 256), out(blocked.size() / q.m()), dec(v.dim);
  for (int64_t j = 0; j < qs.n; ++j) {
    q.distance_table(qs.row(j), table.data());
    pq_scan_kernel()(table.data(), blocked.data(), static_cast<int64_t>(out.size()) / 8, q.m(),
                     out.data());
    for (int64_t i = 0; i < v.n; ++i) {
      q.decode(rows.data() + i * q.m(), dec.data());
      // Exact: the decoded distance summed per sub-space in float, in the same grouping.
      float grouped = 0;
      for (int s = 0; s < q.m(); ++s) {
        float part = 0;
        for (int k = q.sub_begin(s); k < q.sub_begin(s + 1); ++k)
          part += (qs.row(j)[k] - dec[k]) * (qs.row(j)[k] - dec[k]);
        grouped += part;
      }
      ASSERT_EQ(out[i], grouped) << "query " << j << " vector " << i;
      // Float rounding only, against the decoded distance in long double.
      const long double ref = ref_dist(qs.row(j), dec.data(), v.dim);
      ASSERT_NEAR(out[i], static_cast<double>(ref), 1e-5 * static_cast<double>(ref));
    }
  }
}

TEST(PqScan, KernelsAgreeBitForBitWithAPlainSum) {
  Rng rng(9);
  for (int m : {1, 7, 16, 32}) {
    const int64_t n = 1003;
    std::vector<uint8_t> rows(n * m);
    for (auto& c : rows) c = static_cast<uint8_t>(rng.next_u64());
    std::vector<float> table(m * 256);
    for (auto& t : table) t = static_cast<float>(rng.uniform(0, 4));
    const auto blocked = pq_block_codes(rows.data(), n, m);
    const int64_t blocks = (n + 7) / 8;
    std::vector<float> a(blocks * 8), b(blocks * 8);
    pq_scan_portable(table.data(), blocked.data(), blocks, m, a.data());
    pq_scan_kernel(true)(table.data(), blocked.data(), blocks, m, b.data());
    std::vector<uint8_t> back(m);
    for (int64_t i = 0; i < n; ++i) {
      float s = 0;
      for (int k = 0; k < m; ++k) s += table[k * 256 + rows[i * m + k]];
      ASSERT_EQ(a[i], s) << "m " << m << " vector " << i;
      ASSERT_EQ(b[i], s) << "m " << m << " vector " << i;
      pq_unblock_code(blocked.data(), i, m, back.data());
      ASSERT_TRUE(std::equal(back.begin(), back.end(), rows.begin() + i * m));
    }
  }
}

TEST(ProductQuantizer, MoreSubSpacesQuantizeMoreFinely) {
  const VectorSet v = small_mixture(3000, 32, 4);
  double prev = 1e30;
  for (int m : {2, 4, 8, 16}) {
    PqParams p;
    p.m = m;
    p.iterations = 8;
    const ProductQuantizer q = ProductQuantizer::train(v, p);
    const auto codes = q.encode_all(v);
    std::vector<float> dec(v.dim);
    double err = 0;
    for (int64_t i = 0; i < v.n; ++i) {
      q.decode(codes.data() + i * m, dec.data());
      err += static_cast<double>(ref_dist(v.row(i), dec.data(), v.dim));
    }
    EXPECT_LT(err, prev) << "m " << m;
    prev = err;
  }
}

TEST(ProductQuantizer, SameSeedSameCodebooksAndFileRoundTrip) {
  const VectorSet v = small_mixture(1000, 16, 3);
  PqParams p;
  p.m = 4;
  p.iterations = 4;
  const ProductQuantizer a = ProductQuantizer::train(v, p), b = ProductQuantizer::train(v, p);
  const std::string path = temp_path("pq_round_trip.pq");
  a.save(path);
  const ProductQuantizer c = ProductQuantizer::load(path);
  for (int s = 0; s < 4; ++s)
    for (int k = 0; k < 256; ++k)
      for (int j = 0; j < a.sub_dim(s); ++j) {
        ASSERT_EQ(a.centroid(s, k)[j], b.centroid(s, k)[j]);
        ASSERT_EQ(a.centroid(s, k)[j], c.centroid(s, k)[j]);
      }
}

TEST(ProductQuantizer, BadInputIsAClearError) {
  const VectorSet v = small_mixture(1000, 16, 3);
  PqParams p;
  p.m = 4;
  p.iterations = 2;
  const ProductQuantizer q = ProductQuantizer::train(v, p);
  const std::string path = temp_path("pq_bad.pq");
  q.save(path);
  // A codebook trained on another dimension.
  const VectorSet other = small_mixture(10, 24, 3);
  EXPECT_NE(error_of([&] {
              ProductQuantizer::load(path).encode_all(other);
            }).find("dimension 24 but the product quantizer was trained on dimension 16"),
            std::string::npos);
  // Truncated codebooks.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string cut = testing::write_bytes("pq_cut.pq", bytes.substr(0, bytes.size() - 5));
  EXPECT_NE(error_of([&] { ProductQuantizer::load(cut); }).find("pq_cut.pq: truncated"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              ProductQuantizer::load(temp_path("pq_missing.pq"));
            }).find("pq_missing.pq: cannot open"),
            std::string::npos);
  const std::string junk = testing::write_bytes("pq_junk.pq", "hello world, no codebooks");
  EXPECT_NE(error_of([&] { ProductQuantizer::load(junk); }).find("bad magic"), std::string::npos);
  p.m = 17;
  EXPECT_NE(error_of([&] { ProductQuantizer::train(v, p); }).find("m = 17 sub-spaces"),
            std::string::npos);
  p.m = 4;
  EXPECT_NE(error_of([&] {
              ProductQuantizer::train(v.slice(0, 100), p);
            }).find("100 training vectors, need at least 256"),
            std::string::npos);
}

}  // namespace
}  // namespace tessel::ann
