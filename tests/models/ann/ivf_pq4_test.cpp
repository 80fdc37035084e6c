// IVF-PQ4 (4-bit codes, shuffle scan on quantised tables) against references computed here:
// codes decoded from the documented packed layout and distances to the reconstructed vectors in
// long double, list sizes from a brute-force coarse assignment, and the Zoom `pq.bits` option.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "models/ann/ivf.h"
#include "models/ann/ivf_pq4.h"
#include "models/ann/zoom.h"
#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

using testing::error_of;
using testing::ref_dist;

using Small = testing::SmallMixture;

IvfParams small_ivf() {
  IvfParams ip;
  ip.nlist = 32;
  ip.iterations = 8;
  ip.threads = 1;
  return ip;
}
PqParams small_pq(int m) {
  PqParams pp;
  pp.m = m;
  pp.iterations = 8;
  pp.threads = 1;
  return pp;
}

// Slot `slot`'s code read from the layout documented in pq4_fastscan.h (not pq4_unpack_code).
std::vector<int> code_of(const IvfPq4Index& x, int64_t slot) {
  const int m2 = x.m + (x.m & 1);
  const int64_t j = slot % 32;
  const uint8_t* b = x.codes.data() + slot / 32 * 16 * m2 + (j & 15);
  std::vector<int> c(x.m);
  for (int s = 0; s < x.m; ++s) c[s] = j < 16 ? b[s * 16] & 15 : b[s * 16] >> 4;
  return c;
}

int list_of(const IvfPq4Index& x, int64_t slot) {
  return static_cast<int>(std::upper_bound(x.list_begin.begin(), x.list_begin.end(), slot) -
                          x.list_begin.begin() - 1);
}

// Centroid + decoded residual, from the codebooks' documented layout.
std::vector<float> reconstruct(const IvfPq4Index& x, int64_t slot) {
  const std::vector<int> c = code_of(x, slot);
  const int l = list_of(x, slot);
  std::vector<float> v(x.centroids.begin() + int64_t{l} * x.dim,
                       x.centroids.begin() + int64_t{l + 1} * x.dim);
  for (int s = 0; s < x.m; ++s) {
    const int b = s * x.dim / x.m, e = (s + 1) * x.dim / x.m;
    for (int k = b; k < e; ++k)
      v[k] += x.codebooks[int64_t{b} * 16 + int64_t{c[s]} * (e - b) + k - b];
  }
  return v;
}

TEST(IvfPq4, ListsHoldEveryVectorOnceWithItsNearestCode) {
  const Small s;
  for (int m : {8, 7}) {  // 7: odd m, the packed layout's padding sub-space
    const IvfPq4Index x = build_ivf_pq4(s.base, small_ivf(), small_pq(m));
    ASSERT_EQ(x.m, m);
    std::vector<int> seen(s.base.n, 0);
    for (int64_t slot = 0; slot < x.size(); ++slot) {
      const int32_t id = x.ids[slot];
      if (id < 0) continue;
      ++seen[id];
      // The code of each sub-space is the nearest of its 16 centroids to the residual.
      const int l = list_of(x, slot);
      const std::vector<int> c = code_of(x, slot);
      for (int sub = 0; sub < m; ++sub) {
        const int b = sub * x.dim / m, e = (sub + 1) * x.dim / m;
        long double best = 1e300L;
        for (int j = 0; j < 16; ++j) {
          long double d = 0;
          for (int k = b; k < e; ++k) {
            const long double r = static_cast<long double>(s.base.row(id)[k]) -
                                  x.centroids[int64_t{l} * x.dim + k] -
                                  x.codebooks[int64_t{b} * 16 + int64_t{j} * (e - b) + k - b];
            d += r * r;
          }
          best = std::min(best, d);
        }
        long double mine = 0;
        for (int k = b; k < e; ++k) {
          const long double r = static_cast<long double>(s.base.row(id)[k]) -
                                x.centroids[int64_t{l} * x.dim + k] -
                                x.codebooks[int64_t{b} * 16 + int64_t{c[sub]} * (e - b) + k - b];
          mine += r * r;
        }
        EXPECT_LE(mine, best * (1 + 1e-5L) + 1e-9L) << "vector " << id << " sub " << sub;
      }
    }
    for (int64_t i = 0; i < s.base.n; ++i) ASSERT_EQ(seen[i], 1) << i;
  }
}

// For each query: the float-ADC candidates over the same codes in the probed lists, by brute
// force on reconstructed vectors. The exact mode must return them up to float rounding; the
// quantised mode up to twice the tables' error bound.
TEST(IvfPq4, ScanReturnsTheFloatAdcCandidatesOfTheSameCodes) {
  const Small s;
  const int nprobe = 6, C = 50;
  for (int m : {8, 7}) {
    const IvfPq4Index x = build_ivf_pq4(s.base, small_ivf(), small_pq(m));
    for (bool avx2 : {false, true}) {
      IvfPq4Preview prev(x, avx2);
      std::vector<Neighbour> out;
      int64_t outside_raw = 0;
      for (int64_t qi = 0; qi < s.queries.n; ++qi) {
        const float* q = s.queries.row(qi);
        // The probed lists by long-double distance to the centroids.
        std::vector<std::pair<long double, int>> cd;
        for (int l = 0; l < x.nlist; ++l)
          cd.emplace_back(ref_dist(q, x.centroids.data() + int64_t{l} * x.dim, x.dim), l);
        std::sort(cd.begin(), cd.end());
        if (cd[nprobe].first - cd[nprobe - 1].first < 1e-4L * cd[nprobe].first)
          continue;  // a near tie between lists: the float order may differ
        std::vector<std::pair<long double, int32_t>> ref;
        for (int p = 0; p < nprobe; ++p) {
          const int l = cd[p].second;
          for (int64_t slot = x.list_begin[l]; slot < x.list_begin[l + 1]; ++slot)
            if (x.ids[slot] >= 0)
              ref.emplace_back(ref_dist(q, reconstruct(x, slot).data(), x.dim), x.ids[slot]);
        }
        std::sort(ref.begin(), ref.end());
        ASSERT_GE(static_cast<int>(ref.size()), C);
        const long double rc = ref[C - 1].first;
        std::vector<long double> dist_of(s.base.n, -1);
        for (const auto& r : ref) dist_of[r.second] = r.first;
        const long double tol = 1e-4L * rc + 1e-6L;  // float rounding of the table entries

        for (bool exact : {true, false}) {
          prev.search(q, nprobe, C, out, nullptr, exact);
          ASSERT_EQ(static_cast<int>(out.size()), C);
          EXPECT_GT(prev.max_error_bound(), 0);
          const long double t = exact ? tol : tol + 2 * prev.max_error_bound();
          std::set<int32_t> got;
          for (const Neighbour& n : out) {
            ASSERT_GE(dist_of[n.id], 0) << "not in a probed list";
            EXPECT_LE(dist_of[n.id], rc + t) << "query " << qi << " exact " << exact;
            if (exact) {
              EXPECT_NEAR(n.dist, static_cast<double>(dist_of[n.id]), 1e-4 * rc + 1e-5);
            }
            got.insert(n.id);
          }
          for (const auto& r : ref)
            if (r.first < rc - t) {
              EXPECT_TRUE(got.count(r.second)) << "query " << qi << " missed";
            }
          if (!exact)
            for (const Neighbour& n : out) outside_raw += dist_of[n.id] > rc + tol;
        }
        // Re-scored slots: at least the answer, far fewer than scanned.
        prev.search(q, nprobe, C, out, nullptr, true);
        EXPECT_GE(prev.rescored(), C);
        EXPECT_LT(prev.rescored(), static_cast<int64_t>(ref.size()));
      }
      // The quantised order alone does pick some vectors outside the float-ADC best: the
      // re-score is not a no-op on this data.
      EXPECT_GT(outside_raw, 0) << "m " << m;
    }
  }
}

TEST(IvfPq4, RamBytesPerVectorMatchTheArithmeticAndHalveTheCodes) {
  const Small s;
  const int m = 8;
  const IvfPq4Index x = build_ivf_pq4(s.base, small_ivf(), small_pq(m));
  const IvfPqIndex x8 = build_ivf_pq(s.base, small_ivf(), small_pq(m));
  // Same coarse clustering (same sample and seed as the 8-bit build).
  ASSERT_EQ(x.centroids, x8.centroids);
  // List sizes by brute force over the centroids.
  std::vector<int64_t> count(x.nlist, 0);
  for (int64_t i = 0; i < s.base.n; ++i) {
    long double best = 1e300L;
    int arg = 0;
    for (int l = 0; l < x.nlist; ++l) {
      const long double d = ref_dist(s.base.row(i), x.centroids.data() + int64_t{l} * x.dim, x.dim);
      if (d < best) best = d, arg = l;
    }
    ++count[arg];
  }
  int64_t slots = 0;
  for (int64_t c : count) slots += (c + 31) / 32 * 32;
  ASSERT_EQ(x.size(), slots);
  const int64_t expect = slots / 32 * 16 * m     // codes: 32 codes of m nibbles per 16 * m bytes
                         + slots * 4             // ids
                         + int64_t{32} * 32 * 4  // coarse centroids
                         + int64_t{32} * 16 * 4  // codebooks: dim x 16 floats
                         + int64_t{32} * m * 16 * 4  // precomputed tables
                         + int64_t{33} * 8;          // list offsets
  EXPECT_EQ(x.ram_bytes(), expect);
  // Code bytes: m / 2 per vector plus padding to 32 (8-bit: m per vector, padding to 8).
  EXPECT_EQ(static_cast<int64_t>(x.codes.size()), slots * m / 2);
  EXPECT_LT(static_cast<double>(x.codes.size()), 0.5 * x8.codes.size() + 32.0 * 16 * m);
  EXPECT_LT(x.ram_bytes(), x8.ram_bytes() / 2);  // precomputed: 16 instead of 256 per sub-space
}

TEST(IvfPq4, FilesRoundTripAndNeverMixWithEightBit) {
  const Small s;
  const IvfPq4Index x = build_ivf_pq4(s.base, small_ivf(), small_pq(8));
  const std::string p4 = testing::temp_path("ivf4.tivf4"), p8 = testing::temp_path("ivf8.tivf");
  save_ivf_pq4(p4, x);
  const IvfPq4Index y = load_ivf_pq4(p4);
  EXPECT_EQ(y.codes, x.codes);
  EXPECT_EQ(y.ids, x.ids);
  EXPECT_EQ(y.codebooks, x.codebooks);
  EXPECT_EQ(y.precomputed, x.precomputed);
  EXPECT_EQ(y.data_checksum, x.data_checksum);
  save_ivf_pq(p8, build_ivf_pq(s.base, small_ivf(), small_pq(8)));
  EXPECT_NE(error_of([&] { load_ivf_pq4(p8); }).find("ivf8.tivf: an 8-bit IVF-PQ index"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_ivf_pq(p4); }).find("ivf4.tivf4: not an IVF-PQ index"),
            std::string::npos);
  // Truncated: names the file.
  std::filesystem::resize_file(p4, std::filesystem::file_size(p4) - 100);
  EXPECT_NE(error_of([&] { load_ivf_pq4(p4); }).find("ivf4.tivf4: truncated"), std::string::npos);
}

std::string yaml(const std::string& pq_extra, const std::string& extra = "") {
  return "hw:\n  threads: 1\n  build_threads: 1\n"
         "workload:\n  vectors: \"mixture:3000\"\n  queries: \"mixture:40:1\"\n"
         "  ivf: {nlist: 32, iterations: 6}\n  pq: {m: 16, iterations: 6, train_size: 3000" +
         pq_extra + "}\n  nprobe: 8\n  candidates: 100\n  baselines: {nsg: false}\n" + extra;
}

SimResult run_study(const std::string& text, RunContext& ctx) {
  const Config root = Config::parse(text, "zoom.yaml");
  ZoomStudy s;
  s.configure(root.child("hw"), root.child("workload"));
  return s.run(ctx);
}

TEST(IvfPq4, ZoomBitsOptionRejectsOtherWidths) {
  auto configure = [](const std::string& text) {
    return error_of([&] {
      const Config root = Config::parse(text, "zoom.yaml");
      ZoomStudy s;
      s.configure(root.child("hw"), root.child("workload"));
    });
  };
  const std::string e5 = configure(yaml(", bits: 5"));
  EXPECT_NE(e5.find("workload.pq.bits"), std::string::npos) << e5;
  EXPECT_NE(e5.find("must be 4 or 8"), std::string::npos) << e5;
  EXPECT_NE(configure(yaml(", bits: 4", "  preview: nsg\n")).find("workload.pq.bits"),
            std::string::npos);
  EXPECT_EQ(configure(yaml(", bits: 4")), "(no tessel::Error thrown)");
}

TEST(IvfPq4, ZoomWithFourBitCodesKeepsItsOwnCacheAndHalvesTheCodes) {
  RunContext ctx;
  ctx.cache_dir = testing::temp_path("zoom_pq4_cache");
  std::filesystem::remove_all(ctx.cache_dir);
  const SimResult r8 = run_study(yaml(""), ctx);
  const SimResult r4 = run_study(yaml(", bits: 4"), ctx);
  const SimResult r4b = run_study(yaml(", bits: 4"), ctx);
  int n8 = 0, n4 = 0;
  for (const auto& e : std::filesystem::directory_iterator(ctx.cache_dir)) {
    n8 += e.path().extension() == ".tivf";
    n4 += e.path().extension() == ".tivf4";
  }
  EXPECT_EQ(n8, 1);
  EXPECT_EQ(n4, 1);
  EXPECT_EQ(r4.metrics.count("ivf_cached"), 0u);  // not taken from the 8-bit file
  EXPECT_EQ(r4b.metrics.at("ivf_cached"), 1);
  EXPECT_EQ(r4b.metrics.at("recall"), r4.metrics.at("recall"));
  EXPECT_EQ(r4.metrics.at("pq_bits"), 4);
  // 3000 vectors over 32 lists: padding to 32 adds at most 31 * 32 slots.
  EXPECT_GE(r4.metrics.at("code_bytes_per_vector"), 8.0);
  EXPECT_LE(r4.metrics.at("code_bytes_per_vector"), 8.0 * (3000 + 31 * 32) / 3000);
  EXPECT_LT(r4.metrics.at("ram_bytes_per_vector"), 0.5 * r8.metrics.at("ram_bytes_per_vector"));
  // Re-ranked recall against exact search; the re-rank still helps the coarser codes.
  EXPECT_GE(r4.metrics.at("recall"), 0.8);
  EXPECT_GT(r4.metrics.at("recall"), r4.metrics.at("recall_ivfpq"));
}

}  // namespace
}  // namespace tessel::ann
