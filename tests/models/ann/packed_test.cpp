// 8-bit codes, their kernels, and searches over PackedIndex against the plain layout.
#include "models/ann/packed_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <set>

#include "models/ann/codes.h"
#include "models/ann/distance.h"
#include "models/ann/knn.h"
#include "models/ann/nsg.h"
#include "models/ann/search.h"
#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

using testing::error_of;
using testing::ref_dist;

// Squared distance of two byte rows in 64-bit integers, written out here so the kernels are
// checked against arithmetic that shares no code with them.
uint64_t ref_code_dist(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  uint64_t s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const int64_t d = int64_t{a[k]} - int64_t{b[k]};
    s += static_cast<uint64_t>(d * d);
  }
  return s;
}

TEST(Codes, KernelsMatchIntegerArithmeticForEveryTailLength) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  const L2CodeKernel best = l2_code_kernel(), baseline = l2_code_kernel(false);
  for (int dim : {1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 128, 784}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<uint8_t> a(dim), b(dim);
      for (int k = 0; k < dim; ++k) a[k] = byte(rng), b[k] = byte(rng);
      const uint64_t want = ref_code_dist(a, b);
      EXPECT_EQ(l2_code_scalar(a.data(), b.data(), dim), want) << "dim " << dim;
      EXPECT_EQ(l2_code_sse2(a.data(), b.data(), dim), want) << "dim " << dim;
      EXPECT_EQ(best(a.data(), b.data(), dim), want) << "dim " << dim;
      EXPECT_EQ(baseline(a.data(), b.data(), dim), want) << "dim " << dim;
    }
    // The extremes: every component 0 against 255 (|a - b| = 255 saturates nothing).
    std::vector<uint8_t> zero(dim, 0), full(dim, 255);
    EXPECT_EQ(best(zero.data(), full.data(), dim), 65025u * dim);
    EXPECT_EQ(best(full.data(), zero.data(), dim), 65025u * dim);
  }
}

// The batch kernels (four rows at a time with AVX2, then one by one for the rest) against the
// integer reference, for row counts around the group of four and every tail length.
TEST(Codes, BatchKernelsMatchIntegerArithmetic) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int dim : {1, 7, 31, 32, 33, 64, 65, 100, 784}) {
    const int rows = 40;
    std::vector<uint8_t> codes(static_cast<std::size_t>(rows) * dim), query(dim);
    for (auto& c : codes) c = static_cast<uint8_t>(byte(rng));
    for (auto& c : query) c = static_cast<uint8_t>(byte(rng));
    for (int count : {0, 1, 3, 4, 5, 8, 9, 13}) {
      std::vector<int32_t> ids(count);
      for (int j = 0; j < count; ++j) ids[j] = (j * 17 + 5) % rows;
      for (const bool avx2 : {true, false}) {
        std::vector<uint32_t> out(count + 1, 12345u);
        l2_code_batch_kernel(avx2)(query.data(), codes.data(), ids.data(), count, dim, out.data());
        end_code_kernels();
        for (int j = 0; j < count; ++j) {
          const std::vector<uint8_t> row(codes.begin() + static_cast<int64_t>(ids[j]) * dim,
                                         codes.begin() + static_cast<int64_t>(ids[j] + 1) * dim);
          EXPECT_EQ(out[j], ref_code_dist(query, row)) << "dim " << dim << " row " << j;
        }
        EXPECT_EQ(out[count], 12345u) << "dim " << dim << ": wrote past the count";
      }
    }
  }
}

// The end of a list's reach (first_bound_above, 16 bytes at a time) against a byte-by-byte
// scan, on sorted bounds of every length up to 70 and cuts across the byte range.
TEST(PackedIndex, FirstBoundAboveMatchesAScan) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int n = 0; n <= 70; ++n)
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<uint8_t> bounds(n);
      for (auto& b : bounds) b = static_cast<uint8_t>(byte(rng));
      std::sort(bounds.begin(), bounds.end());
      for (int cut : {0, 1, 63, 127, 128, 200, 253, 254, byte(rng) % 255}) {
        int want = 0;
        while (want < n && bounds[want] <= cut) ++want;
        ASSERT_EQ(first_bound_above(bounds.data(), n, cut), want) << "n " << n << " cut " << cut;
      }
    }
}

TEST(Codes, IntegerDataIsLosslessOtherDataWithinHalfAStep) {
  VectorSet pixels(3, 4);
  const float values[] = {0, 255, 17, 3, 9, 0, 128, 200, 1, 2, 254, 77};
  std::copy(values, values + 12, pixels.data.begin());
  const ScalarQuantizer exact = ScalarQuantizer::fit(pixels);
  EXPECT_TRUE(exact.lossless);
  EXPECT_EQ(exact.offset, 0.0f);
  EXPECT_EQ(exact.step, 1.0f);
  const std::vector<uint8_t> codes = encode_all(exact, pixels);
  for (std::size_t i = 0; i < codes.size(); ++i) EXPECT_EQ(codes[i], values[i]);
  EXPECT_EQ(exact.decode_distance(65025u), 65025.0f);

  MixtureSpec spec;
  spec.dim = 32;
  const VectorSet v = gaussian_mixture(spec, 500, 0);
  const ScalarQuantizer q = ScalarQuantizer::fit(v);
  EXPECT_FALSE(q.lossless);
  const auto [lo, hi] = std::minmax_element(v.data.begin(), v.data.end());
  EXPECT_FLOAT_EQ(q.offset, *lo);
  EXPECT_FLOAT_EQ(q.step, (*hi - *lo) / 255.0f);
  const std::vector<uint8_t> c = encode_all(q, v);
  for (std::size_t i = 0; i < c.size(); ++i)
    EXPECT_LE(std::fabs(q.offset + c[i] * q.step - v.data[i]), 0.5f * q.step * (1 + 1e-4f));
  // A query outside the base's range clamps to the end codes.
  const float outside[2] = {*lo - 5, *hi + 5};
  uint8_t oc[2];
  q.encode(outside, 2, oc);
  EXPECT_EQ(oc[0], 0);
  EXPECT_EQ(oc[1], 255);
}

// A random 12-out graph over a mixture (search quality is irrelevant for the layout checks).
struct RandomGraph {
  VectorSet base, queries;
  Graph graph;
  RandomGraph(int dim, int64_t n) {
    MixtureSpec spec;
    spec.dim = dim, spec.centres = 8;
    base = gaussian_mixture(spec, n, 0);
    queries = gaussian_mixture(spec, 100, 1);
    std::vector<std::vector<int32_t>> lists(n);
    for (int64_t i = 0; i < n; ++i)
      for (int j = 1; j <= 12; ++j)
        lists[i].push_back(static_cast<int32_t>((i * 7919 + j * 104729) % n));
    graph = Graph::from_lists(lists, 5);
    graph.extra_entries = {17, 400};
  }
};

TEST(PackedIndex, BreadthFirstOrderIsAPermutationInDiscoveryOrder) {
  // 0 -> {2, 1}, 1 -> {3}, 2 -> {3, 0}, 3 -> {}, 4 -> {0} (4 unreachable from the entry 0).
  const Graph g = Graph::from_lists({{2, 1}, {3}, {3, 0}, {}, {0}}, 0);
  EXPECT_EQ(breadth_first_order(g), (std::vector<int32_t>{0, 2, 1, 3, 4}));
  RandomGraph r(8, 3000);
  std::vector<int32_t> order = breadth_first_order(r.graph);
  EXPECT_EQ(order.front(), 5);
  std::sort(order.begin(), order.end());
  for (int64_t i = 0; i < r.base.n; ++i) ASSERT_EQ(order[i], i);
}

TEST(PackedIndex, RenumberedFloatSearchEqualsThePlainSearch) {
  RandomGraph r(24, 3000);
  PackOptions opt;
  opt.codes = false;
  opt.edge_bounds = false;  // lists in the graph's order (EdgeBounds* sort them)
  const PackedIndex packed(r.graph, r.base, opt);
  EXPECT_EQ(packed.slot_stride() % 16, 0);
  // Slots hold the degree then the neighbours, renumbered.
  for (int64_t p = 0; p < packed.size(); p += 97) {
    const int32_t* slot = packed.slots() + p * packed.slot_stride();
    const int32_t u = packed.original_ids()[p];
    ASSERT_EQ(slot[0], r.graph.degree(u));
    for (int j = 0; j < slot[0]; ++j)
      EXPECT_EQ(packed.original_ids()[slot[1 + j]], r.graph.neighbours(u)[j]);
    for (int k = 0; k < r.base.dim; ++k) EXPECT_EQ(packed.vector(p)[k], r.base.row(u)[k]);
  }
  for (int width : {1, 3}) {
    std::vector<SearchStats> sa, sb;
    SearchParams sp{40, 10};
    sp.width = width;
    const KnnResult a = search_batch(r.graph, r.base, r.queries, sp, 1, &sa);
    const KnnResult b = search_batch(packed, r.queries, sp, 2, &sb);
    EXPECT_EQ(a.ids, b.ids) << "width " << width;
    EXPECT_EQ(a.dist, b.dist) << "width " << width;
    for (int64_t q = 0; q < r.queries.n; ++q) {
      EXPECT_EQ(sa[q].distances, sb[q].distances);
      EXPECT_EQ(sa[q].hops, sb[q].hops);
      EXPECT_EQ(sb[q].reranked, 0);
    }
  }
}

TEST(PackedIndex, ExactCodesOnIntegerDataReproduceTheFloatSearch) {
  // Components are integers in [0, 15]: code distances are the float distances exactly.
  RandomGraph r(16, 2000);
  for (auto* set : {&r.base, &r.queries})
    for (float& x : set->data)
      x = std::floor(std::fabs(x) * 10.0f) > 15 ? 15 : std::floor(std::fabs(x) * 10.0f);
  // Ties are frequent on integer data and break by id, so keep the build order: the search must
  // then take exactly the plain search's path.
  PackOptions opt;
  opt.reorder = false;
  opt.edge_bounds = false;
  const PackedIndex packed(r.graph, r.base, opt);
  ASSERT_NE(packed.codes(), nullptr);
  EXPECT_TRUE(packed.quantizer().lossless);
  std::vector<SearchStats> sa, sb;
  const KnnResult a = search_batch(r.graph, r.base, r.queries, SearchParams{32, 10}, 1, &sa);
  const KnnResult b = search_batch(packed, r.queries, SearchParams{32, 10}, 1, &sb);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.dist, b.dist);
  for (int64_t q = 0; q < r.queries.n; ++q) EXPECT_EQ(sa[q].distances, sb[q].distances);
  for (int64_t q = 0; q < r.queries.n; ++q)
    for (int j = 0; j < 10; ++j)
      EXPECT_EQ(static_cast<float>(ref_dist(r.queries.row(q), r.base.row(b.ids_of(q)[j]), 16)),
                b.dist_of(q)[j]);
  EXPECT_EQ(sb[0].reranked, 0);  // exact codes need no re-rank by default
}

TEST(PackedIndex, LossyCodesWithRerankKeepRecallAndReturnExactDistances) {
  MixtureSpec spec;
  spec.dim = 48, spec.centres = 10;
  const VectorSet base = gaussian_mixture(spec, 6000, 0), queries = gaussian_mixture(spec, 300, 1);
  NsgParams np;
  np.knn.k = 16, np.L = 40, np.R = 24, np.C = 200, np.entry_points = 16;
  const Graph g = build_nsg(base, np);
  const KnnResult truth = exact_knn(base, queries, 10);
  // float32 re-rank copy: distances exact (fp16_test checks the binary16 copies).
  PackOptions f32;
  f32.rerank_vectors = RerankVectors::kFloat32;
  const PackedIndex packed(g, base, f32);
  EXPECT_FALSE(packed.quantizer().lossless);
  std::vector<SearchStats> st;
  const KnnResult plain = search_batch(g, base, queries, SearchParams{48, 10}, 1);
  const KnnResult coded = search_batch(packed, queries, SearchParams{48, 10}, 1, &st);
  SearchParams none{48, 10};
  none.rerank = 0;
  const KnnResult unranked = search_batch(packed, queries, none, 1);
  const double r_plain = recall_at(plain, truth, 10), r_coded = recall_at(coded, truth, 10);
  EXPECT_GT(r_plain, 0.9);
  EXPECT_GE(r_coded, r_plain - 0.01);
  EXPECT_LE(recall_at(unranked, truth, 10), r_coded);
  EXPECT_EQ(st[0].reranked, 30);  // 3k by default for lossy codes
  for (int64_t q = 0; q < queries.n; q += 7)
    for (int j = 0; j < 10; ++j) {
      EXPECT_EQ(coded.dist_of(q)[j], l2_sq(queries.row(q), base.row(coded.ids_of(q)[j]), 48));
      if (j > 0) {
        EXPECT_LE(coded.dist_of(q)[j - 1], coded.dist_of(q)[j]);
      }
    }
}

TEST(PackedIndex, TraceReadsCodesThenTheRerankedVectors) {
  RandomGraph r(32, 1000);
  PackOptions opt;          // binary16 residuals: 2 bytes per component
  opt.edge_bounds = false;  // every slot read whole (EdgeBoundsAreTraced reads less)
  const PackedIndex packed(r.graph, r.base, opt);
  VectorSet one = r.queries.slice(0, 1);
  SearchParams sp{20, 5};
  sp.rerank = 8;
  const MemoryTrace t = trace_searches(packed, one, sp);
  std::vector<int32_t> ids(5);
  std::vector<float> ds(5);
  Searcher s(packed);
  const SearchStats st = s.search(one.row(0), sp, ids.data(), ds.data());
  int64_t codes = 0, vectors = 0, edges = 0, offsets = 0;
  for (const auto& req : t.requests) {
    const std::string& obj = t.objects[req.object];
    if (obj == kTraceCodes) {
      ++codes;
      EXPECT_EQ(req.bytes, 32u);
      EXPECT_EQ(req.address % 32, 0u);
    } else if (obj == kTraceVectors) {
      ++vectors;
      EXPECT_EQ(req.bytes, 64u);
      EXPECT_EQ(req.address % 64, 0u);
    } else if (obj == kTraceEdges) {
      ++edges;
      // A slot read starts at the slot (degree first): 12 neighbours + the degree.
      EXPECT_EQ(req.address % (packed.slot_stride() * 4), 0u);
      EXPECT_EQ(req.bytes, 13u * 4);
    } else if (obj == kTraceOffsets) {
      ++offsets;
    }
  }
  EXPECT_EQ(codes, st.distances);
  EXPECT_EQ(vectors, 8);
  EXPECT_EQ(st.reranked, 8);
  EXPECT_EQ(edges, st.hops);
  EXPECT_EQ(offsets, 0);  // slots need no offset lookup
}

// A graph whose every 200th node (0.5%) has 60 neighbours, the rest 12: slots sized for the
// 99th percentile (12 + 1 -> 16 ints), the hubs' lists in the overflow array.
Graph with_hubs(const Graph& g) {
  const int64_t n = g.size();
  std::vector<std::vector<int32_t>> lists(n);
  for (int64_t i = 0; i < n; ++i) {
    lists[i].assign(g.neighbours(i), g.neighbours(i) + g.degree(i));
    if (i % 200 == 0)
      for (int j = 0; j < 48; ++j) lists[i].push_back(static_cast<int32_t>((i * 31 + j * 613) % n));
  }
  Graph h = Graph::from_lists(lists, g.entry);
  h.extra_entries = g.extra_entries;
  return h;
}

TEST(PackedIndex, LongListsOverflowAndTheSearchIsUnchanged) {
  RandomGraph r(24, 3000);
  const Graph g = with_hubs(r.graph);
  PackOptions opt;
  opt.codes = false;
  opt.edge_bounds = false;
  const PackedIndex packed(g, r.base, opt);
  EXPECT_EQ(packed.slot_stride(), 16);
  EXPECT_EQ(packed.overflow_nodes(), 15);
  PackOptions wide = opt;
  wide.overflow = false;
  const PackedIndex old(g, r.base, wide);
  EXPECT_EQ(old.slot_stride(), 64);  // 60 + 1 rounded up to a line
  EXPECT_EQ(old.overflow(), nullptr);
  // Memory: 3000 x 16 ints + 15 x 60 overflow ints against 3000 x 64 ints, same vectors.
  EXPECT_EQ(old.bytes() - packed.bytes(), 3000u * 48 * 4 - 15u * 60 * 4);
  // Every list, inline or overflowed, is the node's list renumbered.
  int64_t hubs = 0;
  for (int64_t p = 0; p < packed.size(); ++p) {
    const int32_t* slot = packed.slots() + p * packed.slot_stride();
    const int32_t u = packed.original_ids()[p];
    ASSERT_EQ(slot[0], g.degree(u));
    const int32_t* list = slot + 1;
    if (slot[0] > 15) list = packed.overflow() + slot[1], ++hubs;
    for (int j = 0; j < slot[0]; ++j) ASSERT_EQ(packed.original_ids()[list[j]], g.neighbours(u)[j]);
  }
  EXPECT_EQ(hubs, 15);
  // The search over either layout takes the plain graph's path exactly.
  std::vector<SearchStats> sa, sb, sc;
  const KnnResult a = search_batch(g, r.base, r.queries, SearchParams{40, 10}, 1, &sa);
  const KnnResult b = search_batch(packed, r.queries, SearchParams{40, 10}, 1, &sb);
  const KnnResult c = search_batch(old, r.queries, SearchParams{40, 10}, 1, &sc);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.dist, b.dist);
  EXPECT_EQ(c.ids, b.ids);
  for (int64_t q = 0; q < r.queries.n; ++q) {
    EXPECT_EQ(sa[q].distances, sb[q].distances);
    EXPECT_EQ(sa[q].hops, sb[q].hops);
  }
  // The trace reads a hub's slot header (8 bytes) then its 60-entry list from the overflow.
  const MemoryTrace t = trace_searches(packed, r.queries.slice(0, 20), SearchParams{40, 10});
  int64_t slot_heads = 0, lists = 0;
  for (const auto& req : t.requests) {
    const std::string& obj = t.objects[req.object];
    if (obj == kTraceEdges && req.bytes == 8) ++slot_heads;
    if (obj == kTraceOverflow) {
      ++lists;
      EXPECT_EQ(req.bytes, 60u * 4);
      EXPECT_EQ(req.address % (60 * 4), 0u);  // lists are stored back to back, all 60 long
    }
  }
  EXPECT_GT(lists, 0);
  EXPECT_EQ(slot_heads, lists);
}

// Every list, inline or overflowed, holds the node's neighbours sorted by edge length, and each
// bound times the step is a lower bound of the length within one step (255: the longest
// 0.1%). Lengths are recomputed here from the codes (integer sums) or the floats (long
// double), with arithmetic that shares no code with the index.
TEST(PackedIndex, EdgeBoundsSortEveryListAndBoundItsLengths) {
  RandomGraph r(24, 3000);
  const Graph g = with_hubs(r.graph);
  for (const bool codes : {true, false}) {
    PackOptions opt;
    opt.codes = codes;
    const PackedIndex packed(g, r.base, opt);
    ASSERT_NE(packed.edge_bounds(), nullptr);
    ASSERT_NE(packed.overflow_bounds(), nullptr);
    const ScalarQuantizer& q = packed.quantizer();
    const std::vector<uint8_t> all = codes ? encode_all(q, r.base) : std::vector<uint8_t>{};
    auto code_row = [&](int32_t id) {
      return std::vector<uint8_t>(all.begin() + id * 24, all.begin() + (id + 1) * 24);
    };
    auto length = [&](int32_t a, int32_t b) {
      if (codes)
        return static_cast<double>(q.step) * std::sqrt(ref_code_dist(code_row(a), code_row(b)));
      return static_cast<double>(std::sqrt(ref_dist(r.base.row(a), r.base.row(b), 24)));
    };
    const double step = packed.bound_step();
    int64_t edges = 0, capped = 0;
    for (int64_t p = 0; p < packed.size(); ++p) {
      const int32_t* slot = packed.slots() + p * packed.slot_stride();
      const int32_t u = packed.original_ids()[p];
      ASSERT_EQ(slot[0], g.degree(u));
      const int32_t* list = slot + 1;
      const uint8_t* bound = packed.edge_bounds() + p * packed.slot_stride() + 1;
      if (slot[0] > packed.slot_stride() - 1) {
        list = packed.overflow() + slot[1];
        bound = packed.overflow_bounds() + slot[1];
      }
      std::multiset<int32_t> got, want(g.neighbours(u), g.neighbours(u) + g.degree(u));
      double previous = 0;
      for (int j = 0; j < slot[0]; ++j) {
        const int32_t v = packed.original_ids()[list[j]];
        got.insert(v);
        const double len = length(u, v);
        ASSERT_GE(len, previous * (1 - 1e-6)) << "node " << u << " entry " << j;
        previous = len;
        ASSERT_LE(bound[j] * step, len * (1 + 1e-6)) << "node " << u << " entry " << j;
        if (bound[j] == 255)
          ++capped;
        else
          ASSERT_GT((bound[j] + 1) * step, len * (1 - 1e-6)) << "node " << u << " entry " << j;
        ++edges;
      }
      ASSERT_EQ(got, want) << "node " << u;
    }
    EXPECT_LE(capped, edges / 500) << "codes " << codes;
  }
}

// 60 tight clusters of 100 points in 16 dimensions, far apart, and an NSG over them.
struct FarClusters {
  VectorSet base, queries;
  Graph graph;
  explicit FarClusters(int64_t nq) {
    MixtureSpec spec;
    spec.dim = 16, spec.centres = 60, spec.sigma = 0.02;
    base = gaussian_mixture(spec, 6000, 0);
    queries = gaussian_mixture(spec, nq, 1);
    NsgParams np;
    np.knn.k = 16, np.L = 40, np.R = 24, np.C = 200;
    np.slot_fill = false;  // the pruned lists: their long edges are what the bounds skip
    graph = build_nsg(base, np);
  }
};

// Clusters far apart: an expansion inside a query's cluster skips the long edges out of it.
// The search takes the same path (hops) to the same results as without the bounds, with
// fewer distances; on the codes, on the floats, and with a beam width of 2.
TEST(PackedIndex, EdgeBoundsSkipFarNeighboursAndKeepEveryResult) {
  const FarClusters f(200);
  const VectorSet &base = f.base, &queries = f.queries;
  const Graph& g = f.graph;
  for (const bool codes : {true, false}) {
    PackOptions with, without;
    with.codes = without.codes = codes;
    without.edge_bounds = false;
    const PackedIndex a_index(g, base, without), b_index(g, base, with);
    for (const int L : {10, 40, 80})
      for (const int width : {1, 2}) {
        SearchParams sp{L, 10};
        sp.width = width;
        std::vector<SearchStats> sa, sb;
        const KnnResult a = search_batch(a_index, queries, sp, 1, &sa);
        const KnnResult b = search_batch(b_index, queries, sp, 2, &sb);
        const std::string at = "codes " + std::to_string(codes) + " L " + std::to_string(L) +
                               " width " + std::to_string(width);
        EXPECT_EQ(a.ids, b.ids) << at;
        EXPECT_EQ(a.dist, b.dist) << at;
        int64_t da = 0, db = 0;
        for (int64_t q = 0; q < queries.n; ++q) {
          EXPECT_EQ(sa[q].hops, sb[q].hops) << at;
          EXPECT_LE(sb[q].distances, sa[q].distances) << at;
          EXPECT_EQ(sb[q].visited, sb[q].distances) << at;
          da += sa[q].distances, db += sb[q].distances;
        }
        // Measured: 0.89-0.91 of the distances at L = 10, 0.76-0.79 at 40, 0.67-0.70 at 80.
        EXPECT_LT(db, da * (L == 10 ? 0.93 : L == 40 ? 0.83 : 0.74)) << at;
      }
  }
}

// With bounds, an expansion reads its list up to its reach and the bounds up to the first
// neighbour skipped; one bounds read per hop.
TEST(PackedIndex, EdgeBoundsAreTraced) {
  const FarClusters f(5);
  const VectorSet& queries = f.queries;
  const PackedIndex packed(f.graph, f.base);
  ASSERT_EQ(packed.overflow(), nullptr);  // every list in its slot
  const MemoryTrace t = trace_searches(packed, queries, SearchParams{20, 10});
  int64_t hops = 0, short_reads = 0, edge_bytes = 0;
  for (const auto& req : t.requests) {
    const std::string& obj = t.objects[req.object];
    if (obj == kTraceEdges) {
      edge_bytes = req.bytes;
      EXPECT_EQ(req.address % (packed.slot_stride() * 4), 0u);
    } else if (obj == kTraceEdgeBounds) {
      ++hops;
      // The slot's read came just before: the degree and `reach` ids.
      const int64_t reach = edge_bytes / 4 - 1;
      const int32_t degree = packed.slots()[req.address - 1];
      EXPECT_EQ(req.address % packed.slot_stride(), 1u);
      EXPECT_EQ(req.bytes, std::min<int64_t>(degree, reach + 1));
      short_reads += reach < degree;
    }
  }
  int64_t want_hops = 0;
  std::vector<SearchStats> st;
  search_batch(packed, queries, SearchParams{20, 10}, 1, &st);
  for (const auto& s : st) want_hops += s.hops;
  EXPECT_EQ(hops, want_hops);
  EXPECT_GT(short_reads, hops / 4);
}

// 8-bit data (MNIST's pixels) gives exact codes: no float copy is kept, and a re-rank asked
// for decodes the codes into the exact floats.
TEST(PackedIndex, ExactCodesKeepNoFloatsAndRerankFromCodes) {
  RandomGraph r(16, 2000);
  for (auto* set : {&r.base, &r.queries})
    for (float& x : set->data) x = std::min(255.0f, std::floor(std::fabs(x) * 40.0f));
  PackOptions opt;
  opt.reorder = false;
  const PackedIndex packed(r.graph, r.base, opt);
  ASSERT_TRUE(packed.quantizer().lossless);
  EXPECT_FALSE(packed.has_vectors());
  EXPECT_EQ(packed.bytes(), 2000u * 16 * 4 /*slots*/ + 2000u * 16 /*codes*/ + 2000u * 4 /*ids*/ +
                                2000u * 16 /*edge bounds, a byte per slot entry*/);
  SearchParams sp{32, 10};
  sp.rerank = 20;
  std::vector<SearchStats> st;
  const KnnResult b = search_batch(packed, r.queries, sp, 1, &st);
  EXPECT_EQ(st[0].reranked, 20);
  for (int64_t q = 0; q < r.queries.n; ++q)
    for (int j = 0; j < 10; ++j)
      EXPECT_EQ(b.dist_of(q)[j],
                static_cast<float>(ref_dist(r.queries.row(q), r.base.row(b.ids_of(q)[j]), 16)));
}

// A saved layout loads byte for byte (hub lists in the overflow, lossy codes and floats), and
// searches it exactly as the layout packed in memory; another source, other options, a missing
// file, a damaged file and a node id out of range are told apart.
TEST(PackedIndex, SavedLayoutLoadsAndSearchesIdentically) {
  RandomGraph r(24, 3000);
  const Graph g = with_hubs(r.graph);
  const PackedIndex packed(g, r.base);
  ASSERT_GT(packed.overflow_nodes(), 0);
  ASSERT_TRUE(packed.has_vectors());  // random floats: lossy codes, a re-rank copy kept
  ASSERT_EQ(packed.rerank_vectors(), RerankVectors::kHalfResidual);
  const std::string path = ::testing::TempDir() + "packed_test.packed";
  const uint64_t key = PackedIndex::source_key(g, vector_checksum(r.base));
  packed.save(path, key);
  const auto loaded = PackedIndex::load(path, key, PackOptions{});
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->size(), packed.size());
  EXPECT_EQ(loaded->entry(), packed.entry());
  EXPECT_EQ(loaded->extra_entries(), packed.extra_entries());
  EXPECT_EQ(loaded->original_ids(), packed.original_ids());
  EXPECT_EQ(loaded->slot_stride(), packed.slot_stride());
  EXPECT_EQ(loaded->bytes(), packed.bytes());
  const std::size_t slot_bytes = sizeof(int32_t) * packed.slot_stride() * packed.size();
  EXPECT_EQ(std::memcmp(loaded->slots(), packed.slots(), slot_bytes), 0);
  EXPECT_EQ(std::memcmp(loaded->codes(), packed.codes(), packed.size() * packed.dim()), 0);
  EXPECT_EQ(std::memcmp(loaded->half_vector(0), packed.half_vector(0),
                        sizeof(uint16_t) * packed.size() * packed.dim()),
            0);
  EXPECT_EQ(loaded->quantizer().step, packed.quantizer().step);
  EXPECT_EQ(loaded->bound_step(), packed.bound_step());
  EXPECT_EQ(std::memcmp(loaded->edge_bounds(), packed.edge_bounds(),
                        packed.size() * packed.slot_stride()),
            0);
  ASSERT_NE(loaded->overflow_bounds(), nullptr);
  std::vector<SearchStats> sa, sb;
  const KnnResult a = search_batch(packed, r.queries, SearchParams{40, 10}, 1, &sa);
  const KnnResult b = search_batch(*loaded, r.queries, SearchParams{40, 10}, 1, &sb);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.dist, b.dist);
  for (int64_t q = 0; q < r.queries.n; ++q) EXPECT_EQ(sa[q].distances, sb[q].distances);

  // Another graph or base, or other options: not this layout.
  EXPECT_EQ(PackedIndex::load(path, PackedIndex::source_key(r.graph, vector_checksum(r.base)),
                              PackOptions{}),
            nullptr);
  PackOptions floats;
  floats.codes = false;
  EXPECT_EQ(PackedIndex::load(path, key, floats), nullptr);
  EXPECT_EQ(PackedIndex::load(path + ".missing", key, PackOptions{}), nullptr);
  // Damage: a cut file, and a neighbour id beyond the node count.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& content) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  };
  write(bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(error_of([&] { PackedIndex::load(path, key, PackOptions{}); }),
            path + ": truncated packed index");
  // The first slot (degree, then ids) follows the header (magic 8, key 8, options 4, size 8,
  // dim 4, entry 4), the two id arrays (8-byte count + 4 per id), the stride (4) and the slot
  // array's 8-byte size.
  const std::size_t first_slot =
      36 + 8 + 4 * packed.extra_entries().size() + 8 + 4 * packed.size() + 4 + 8;
  int32_t first_degree = 0;
  std::memcpy(&first_degree, &bytes[first_slot], 4);
  ASSERT_EQ(first_degree, g.degree(packed.original_ids()[0]));
  std::string bad = bytes;
  const int32_t beyond = static_cast<int32_t>(packed.size());
  std::memcpy(&bad[first_slot + 4], &beyond, 4);
  write(bad);
  EXPECT_EQ(error_of([&] { PackedIndex::load(path, key, PackOptions{}); }),
            path + ": corrupt packed index (a node id out of range)");
  write("not a packed index at all");
  EXPECT_EQ(error_of([&] { PackedIndex::load(path, key, PackOptions{}); }),
            path + ": not a packed index (bad magic)");
  std::remove(path.c_str());
}

// The edge bounds are the file's last arrays (version 3): a version 2 file is a stale cache
// entry, a file cut inside the bounds is truncated, and bounds of another size are corrupt.
TEST(PackedIndex, SavedEdgeBoundsAreCheckedOnLoad) {
  RandomGraph r(16, 500);
  const PackedIndex packed(r.graph, r.base);
  const std::string path = ::testing::TempDir() + "packed_bounds.packed";
  const uint64_t key = PackedIndex::source_key(r.graph, vector_checksum(r.base));
  packed.save(path, key);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& content) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  };
  std::string v2 = bytes;
  v2[7] = '2';
  write(v2);
  EXPECT_EQ(PackedIndex::load(path, key, PackOptions{}), nullptr);
  // The tail: the slot bounds (8-byte size + 500 x stride bytes), the overflow bounds (8-byte
  // count, none here) and the float step.
  const std::size_t tail = 8 + 500u * packed.slot_stride() + 8 + 4;
  write(bytes.substr(0, bytes.size() - 4));
  EXPECT_EQ(error_of([&] { PackedIndex::load(path, key, PackOptions{}); }),
            path + ": truncated packed index");
  // Slot bounds one slot short, the rest of the file intact.
  std::string shorter = bytes.substr(0, bytes.size() - tail);
  const uint64_t fewer = 499u * packed.slot_stride();
  shorter.append(reinterpret_cast<const char*>(&fewer), 8);
  shorter.append(bytes, bytes.size() - tail + 8, fewer);
  shorter.append(bytes, bytes.size() - 12, 12);
  write(shorter);
  EXPECT_EQ(error_of([&] { PackedIndex::load(path, key, PackOptions{}); }),
            path + ": corrupt packed index (sizes do not match its shape)");
  std::remove(path.c_str());
}

TEST(PackedIndex, ErrorsAndAlignment) {
  RandomGraph r(8, 500);
  const VectorSet fewer = r.base.slice(0, 499);
  EXPECT_EQ(error_of([&] { PackedIndex p(r.graph, fewer); }),
            "PackedIndex: graph has 500 nodes but the base has 499 vectors");
  const PackedIndex p(r.graph, r.base);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p.vector(0)) % (2u << 20), 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p.codes()) % (2u << 20), 0u);
  SearchParams bad{10, 5};
  bad.width = 0;
  std::vector<int32_t> ids(5);
  std::vector<float> ds(5);
  Searcher s(p);
  EXPECT_EQ(error_of([&] { s.search(r.queries.row(0), bad, ids.data(), ds.data()); }),
            "ann search: width must be >= 1 (got 0)");
}

}  // namespace
}  // namespace tessel::ann
