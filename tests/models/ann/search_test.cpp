// Beam search counters on hand-built graphs, batch API, memory traces, index files.
#include "models/ann/search.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "models/ann/graph.h"
#include "models/ann/nsg.h"
#include "tests/models/ann/test_util.h"

namespace tessel::ann {
namespace {

using testing::error_of;
using testing::temp_path;

// Points 0..n-1 on a line (x = i, dim 1) linked as a path i <-> i+1, entry 0.
struct Line {
  VectorSet base;
  Graph graph;
  explicit Line(int n) : base(n, 1) {
    std::vector<std::vector<int32_t>> lists(n);
    for (int i = 0; i < n; ++i) {
      base.row(i)[0] = static_cast<float>(i);
      if (i > 0) lists[i].push_back(i - 1);
      if (i + 1 < n) lists[i].push_back(i + 1);
    }
    graph = Graph::from_lists(lists, 0);
  }
};

TEST(Search, GreedyWalksThePathAndCountsEachStep) {
  Line line(10);
  Searcher s(line.graph, line.base);
  const float q = 9.2f;
  int32_t id;
  float d;
  std::vector<Neighbour> expanded;
  SearchOptions opt;
  opt.target = 6;
  opt.expanded = &expanded;
  const SearchStats st = s.search(&q, SearchParams{1, 1}, &id, &d, opt);
  EXPECT_EQ(id, 9);
  EXPECT_NEAR(d, 0.04f, 1e-5);
  // Greedy expands 0, 1, ..., 9 (each step's only unvisited neighbour is closer); node 9's
  // expansion finds nothing new. Distances: the entry plus nodes 1..9.
  EXPECT_EQ(st.hops, 10);
  EXPECT_EQ(st.distances, 10);
  EXPECT_EQ(st.visited, 10);
  EXPECT_EQ(st.target_hop, 6);  // node 6 is computed while expanding node 5, the 6th expansion
  // SearchOptions::expanded lists the expansions in order with their distances.
  ASSERT_EQ(expanded.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(expanded[i].id, i);
    EXPECT_FLOAT_EQ(expanded[i].dist, (9.2f - i) * (9.2f - i));
  }
}

TEST(Search, PoolKeepsTheLBestAndStopsWhenAllExpanded) {
  Line line(10);
  Searcher s(line.graph, line.base);
  const float q = 4.4f;
  std::vector<int32_t> ids(3);
  std::vector<float> ds(3);
  const SearchStats st = s.search(&q, SearchParams{3, 3}, ids.data(), ds.data());
  EXPECT_EQ(ids, (std::vector<int32_t>{4, 5, 3}));
  // Expands 0..6 in order: after 5 and 6 land in the pool {4, 5, 3}; 6 (dist 2.56) is worse
  // than 3 (1.96) and drops out, so expansion ends after 4, 5 and 3 are expanded.
  EXPECT_EQ(st.hops, 6);
  EXPECT_EQ(st.visited, 7);
  EXPECT_EQ(error_of([&] {
              s.search(&q, SearchParams{2, 3}, ids.data(), ds.data());
            }),
            "ann search: need 1 <= k <= L (k = 3, L = 2)");
}

// The pool orders entries by (distance, id) as one integer key (search.h): a distance of zero
// comes first, and equal distances are taken smaller id first.
TEST(Search, PoolOrdersByDistanceThenId) {
  Line line(10);
  Searcher s(line.graph, line.base);
  std::vector<int32_t> ids(5);
  std::vector<float> ds(5);
  const float between = 4.5f;
  s.search(&between, SearchParams{10, 5}, ids.data(), ds.data());
  EXPECT_EQ(ids, (std::vector<int32_t>{4, 5, 3, 6, 2}));
  EXPECT_EQ(ds, (std::vector<float>{0.25f, 0.25f, 2.25f, 2.25f, 6.25f}));
  const float on_node = 7.0f;
  s.search(&on_node, SearchParams{10, 5}, ids.data(), ds.data());
  EXPECT_EQ(ids, (std::vector<int32_t>{7, 6, 8, 5, 9}));
  EXPECT_EQ(ds, (std::vector<float>{0.0f, 1.0f, 1.0f, 4.0f, 4.0f}));
}

TEST(Search, ExtraEntriesAreEvaluatedFirst) {
  Line line(10);
  line.graph.extra_entries = {9, 5};
  Searcher s(line.graph, line.base);
  const float q = 9.2f;
  int32_t id;
  float d;
  const SearchStats st = s.search(&q, SearchParams{1, 1}, &id, &d);
  EXPECT_EQ(id, 9);
  // Entry 0 and extras 9, 5 are evaluated; the pool keeps 9, whose expansion adds 8 (worse).
  EXPECT_EQ(st.distances, 4);
  EXPECT_EQ(st.hops, 1);
}

TEST(Search, SpreadEntryPointsCoverEveryCluster) {
  MixtureSpec spec;
  spec.centres = 12, spec.dim = 16, spec.sigma = 0.01, spec.seed = 4;
  const VectorSet base = gaussian_mixture(spec, 3000, 0);
  spec.sigma = 0;
  const VectorSet centres = gaussian_mixture(spec, 3000, 0);  // each row's own centre
  const auto seeds = spread_entry_points(base, 24, 1);
  EXPECT_EQ(seeds, spread_entry_points(base, 24, 1));
  std::set<std::vector<float>> covered;
  for (int32_t e : seeds) {
    ASSERT_GE(e, 0);
    ASSERT_LT(e, base.n);
    covered.insert(std::vector<float>(centres.row(e), centres.row(e) + 16));
  }
  EXPECT_EQ(std::set<int32_t>(seeds.begin(), seeds.end()).size(), seeds.size());
  // Clusters 0.01 wide and about 1.3 apart: D^2 sampling picks a new cluster almost surely.
  EXPECT_EQ(covered.size(), 12u);
}

// A pseudo-random graph with `degree` out-edges per node, entry 0: for tests where search
// quality is irrelevant and only determinism matters.
Graph scrambled_graph(int64_t n, int degree) {
  std::vector<std::vector<int32_t>> lists(n);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 1; j <= degree; ++j)
      lists[i].push_back(static_cast<int32_t>((i * 7919 + j * 104729) % n));
  return Graph::from_lists(lists, 0);
}

TEST(Search, BatchMatchesSingleQueriesForAnyThreadCount) {
  MixtureSpec spec;
  spec.dim = 24, spec.centres = 8;
  const VectorSet base = gaussian_mixture(spec, 2000, 0), queries = gaussian_mixture(spec, 200, 1);
  const Graph g = scrambled_graph(base.n, 12);
  std::vector<SearchStats> st1, st2;
  const KnnResult a = search_batch(g, base, queries, SearchParams{32, 10}, 1, &st1);
  const KnnResult b = search_batch(g, base, queries, SearchParams{32, 10}, 2, &st2);
  EXPECT_EQ(a.ids, b.ids);
  Searcher s(g, base);
  for (int64_t q = 0; q < queries.n; q += 17) {
    std::vector<int32_t> ids(10);
    std::vector<float> ds(10);
    const SearchStats st = s.search(queries.row(q), SearchParams{32, 10}, ids.data(), ds.data());
    EXPECT_EQ(std::vector<int32_t>(a.ids_of(q), a.ids_of(q) + 10), ids);
    EXPECT_EQ(st.distances, st1[q].distances);
    EXPECT_EQ(st.hops, st2[q].hops);
  }
}

// The visited marks carry a per-search epoch of 8 bits. A Searcher reused for 700 searches
// (the epoch wraps twice) gives every query the results and counters of a new Searcher. Query 0
// runs at the searches whose epoch the wrap reuses and query 1 at all others, so nodes only
// query 0 visits keep their old marks until the wrap clears them.
TEST(Search, ReusedSearcherMatchesAFreshOneAcrossEpochWraps) {
  MixtureSpec spec;
  spec.dim = 16, spec.centres = 8;
  const VectorSet base = gaussian_mixture(spec, 1500, 0), queries = gaussian_mixture(spec, 2, 1);
  const Graph g = scrambled_graph(base.n, 10);
  const SearchParams sp{24, 10};
  std::vector<std::vector<int32_t>> fresh_ids(2, std::vector<int32_t>(10));
  std::vector<SearchStats> fresh_stats(2);
  std::vector<float> ds(10);
  for (int q = 0; q < 2; ++q) {
    Searcher fresh(g, base);
    fresh_stats[q] = fresh.search(queries.row(q), sp, fresh_ids[q].data(), ds.data());
  }
  Searcher reused(g, base);
  std::vector<int32_t> ids(10);
  for (int r = 0; r < 700; ++r) {
    const int q = r % 255 == 0 ? 0 : 1;
    const SearchStats st = reused.search(queries.row(q), sp, ids.data(), ds.data());
    ASSERT_EQ(ids, fresh_ids[q]) << "search " << r;
    ASSERT_EQ(st.distances, fresh_stats[q].distances) << "search " << r;
    ASSERT_EQ(st.hops, fresh_stats[q].hops) << "search " << r;
  }
}

TEST(Search, TraceRecordsEveryVectorAndAdjacencyRead) {
  Line line(10);
  VectorSet queries(2, 1);
  queries.row(0)[0] = 9.2f;
  queries.row(1)[0] = 0.1f;
  const MemoryTrace t = trace_searches(line.graph, line.base, queries, SearchParams{1, 1});
  // Query 0: 1 query read + 10 vector reads + 10 expansions x (offsets + edges) = 31.
  // Query 1: 1 query read + entry 0 and neighbour 1 (2 vectors) + 1 expansion x 2 = 5
  // (node 1 is farther than node 0 from 0.1, so the one-slot pool keeps 0 and stops).
  ASSERT_EQ(t.requests.size(), 36u);
  const auto& r0 = t.requests[0];
  EXPECT_EQ(t.objects[r0.object], kTraceQuery);
  EXPECT_EQ(r0.bytes, 4u);
  const auto& v0 = t.requests[1];
  EXPECT_EQ(t.objects[v0.object], kTraceVectors);
  EXPECT_EQ(v0.address, 0u);
  const auto& off = t.requests[2];
  EXPECT_EQ(t.objects[off.object], kTraceOffsets);
  EXPECT_EQ(off.bytes, 16u);
  const auto& edges = t.requests[3];
  EXPECT_EQ(t.objects[edges.object], kTraceEdges);
  EXPECT_EQ(edges.bytes, 4u);  // node 0 has one neighbour
  // Node 5's list starts after 0 (1 edge) and 1..4 (2 edges each): edge index 9, byte 36.
  bool saw_node5 = false;
  for (const auto& r : t.requests)
    if (t.objects[r.object] == kTraceOffsets && r.address == 5 * 8) saw_node5 = true;
  EXPECT_TRUE(saw_node5);
  bool saw_edges5 = false;
  for (const auto& r : t.requests)
    if (t.objects[r.object] == kTraceEdges && r.address == 36 && r.bytes == 8) saw_edges5 = true;
  EXPECT_TRUE(saw_edges5);
  // The trace survives the runtime/core text format unchanged.
  std::istringstream in(format_memory_trace_text(t));
  const MemoryTrace back = parse_memory_trace_text(in, "ann.trace");
  ASSERT_EQ(back.requests.size(), t.requests.size());
  EXPECT_EQ(back.total_bytes(), t.total_bytes());
}

TEST(Search, IndexFileRoundTripAndCorruption) {
  Line line(50);
  IndexFile idx{line.graph, GraphKind::kMrng, 1};
  idx.graph.entry = 17;
  idx.graph.extra_entries = {3, 44};
  const std::string p = temp_path("line.tann");
  save_index(p, idx);
  const IndexFile back = load_index(p);
  EXPECT_EQ(back.graph.offsets, idx.graph.offsets);
  EXPECT_EQ(back.graph.edges, idx.graph.edges);
  EXPECT_EQ(back.graph.entry, 17);
  EXPECT_EQ(back.graph.extra_entries, (std::vector<int32_t>{3, 44}));
  EXPECT_EQ(back.kind, GraphKind::kMrng);
  EXPECT_EQ(back.dim, 1);

  std::ifstream in(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto variant = [&](const std::string& name, std::string b) {
    const std::string q = testing::write_bytes(name, b);
    return error_of([&] { load_index(q); });
  };
  std::string v3 = bytes;
  v3[8] = 3;
  EXPECT_EQ(variant("v3.tann", v3),
            temp_path("v3.tann") + ": index version 3 unsupported (this build reads 1 to 2)");
  EXPECT_EQ(variant("magic.tann", "XSLANNG" + bytes.substr(7)),
            temp_path("magic.tann") + ": not a Tessel ANN index (bad magic)");
  EXPECT_NE(variant("short.tann", bytes.substr(0, bytes.size() - 3)).find("truncated"),
            std::string::npos);
  std::string flip = bytes;
  flip[bytes.size() - 20] ^= 1;  // one bit of the last edge id
  const std::string e = variant("flip.tann", flip);
  EXPECT_TRUE(e.find("checksum mismatch") != std::string::npos ||
              e.find("out of range") != std::string::npos)
      << e;
}

TEST(Search, IndexFileRecordsTheBaseChecksumAndReadsVersion1) {
  Line line(5);
  IndexFile idx{line.graph, GraphKind::kNsg, 1, 0x1122334455667788ull};
  const std::string p = temp_path("sum.tann");
  save_index(p, idx);
  std::ifstream in(p, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Version 2 at byte 8; the base checksum follows magic, version, kind, nodes, dim, entry and
  // the edge count (8 + 4 + 4 + 8 + 4 + 4 + 8 = 40 bytes), little-endian.
  EXPECT_EQ(bytes[8], 2);
  EXPECT_EQ(bytes.substr(40, 8), std::string("\x88\x77\x66\x55\x44\x33\x22\x11", 8));
  EXPECT_EQ(load_index(p).base_checksum, 0x1122334455667788ull);

  // The same index as version 1 wrote it: no checksum field, the trailer (FNV-1a 64 of all
  // bytes before it) recomputed here.
  std::string v1 = bytes.substr(0, 40) + bytes.substr(48, bytes.size() - 48 - 8);
  v1[8] = 1;
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : v1) h = (h ^ c) * 0x100000001b3ull;
  for (int k = 0; k < 8; ++k) v1.push_back(static_cast<char>((h >> (8 * k)) & 0xFF));
  const IndexFile old = load_index(testing::write_bytes("v1.tann", v1));
  EXPECT_EQ(old.base_checksum, 0u);  // not recorded
  EXPECT_EQ(old.graph.offsets, idx.graph.offsets);
  EXPECT_EQ(old.graph.edges, idx.graph.edges);
  EXPECT_EQ(old.dim, 1);
}

}  // namespace
}  // namespace tessel::ann
