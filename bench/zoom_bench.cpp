// Zoom (issue 21): PQ distance-table scan speed (codes per second, one core), AVX2 against the
// portable baseline kernel in the same process, and the 4-bit fast scan (pq4_fastscan.h) beside
// the 8-bit scans; and, when Debian's libfaiss is found, Zoom's IVF-PQ preview + full-view re-rank
// against FAISS's IndexIVFPQ + the same re-rank, one thread, same data, same lists / sub-spaces /
// probes / candidates (recall printed as a counter); and the coarse probe of the IVF previews,
// brute force over the centroids against the centroid graph (centroid_probe.h), per query.
// Debian's libfaiss is built without AVX2 (its generic SIMD path): said in docs/zoom.md.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "models/ann/centroid_probe.h"
#include "models/ann/full_view.h"
#include "models/ann/ivf.h"
#include "models/ann/knn.h"
#include "models/ann/pq.h"
#include "models/ann/pq4_fastscan.h"
#include "models/common/rng.h"

#if TESSEL_HAVE_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFPQ.h>
#endif

namespace {

using namespace tessel::ann;

// Random codes and a random table: the scan's speed does not depend on the values. 65,536 codes
// (1 MiB at m = 16) is the order of what a query's probed IVF lists hold.
struct ScanData {
  int m;
  int64_t n;
  std::vector<uint8_t> blocked;
  std::vector<float> table, out;
  ScanData(int m_, int64_t n_) : m(m_), n(n_) {
    tessel::Rng rng(1);
    std::vector<uint8_t> rows(n * m);
    for (auto& c : rows) c = static_cast<uint8_t>(rng.next_u64());
    blocked = pq_block_codes(rows.data(), n, m);
    table.resize(m * 256);
    for (auto& t : table) t = static_cast<float>(rng.uniform());
    out.resize((n + 7) / 8 * 8);
  }
};

void scan(benchmark::State& state, bool avx2) {
  if (avx2 && !pq_scan_has_avx2()) {
    state.SkipWithError("no AVX2 on this CPU");
    return;
  }
  ScanData d(static_cast<int>(state.range(0)), state.range(1));
  const PqScanKernel k = avx2 ? pq_scan_kernel(true) : pq_scan_portable;
  for (auto _ : state) {
    k(d.table.data(), d.blocked.data(), d.n / 8, d.m, d.out.data());
    benchmark::DoNotOptimize(d.out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * d.n);
  state.counters["codes_per_s"] =
      benchmark::Counter(static_cast<double>(d.n), benchmark::Counter::kIsIterationInvariantRate);
}

// 4-bit fast scan (pq4_fastscan.h): random 4-bit codes packed in 32-vector blocks and a random
// float table, quantised to bytes inside the loop (per-query work the 8-bit scan does not have).
// Out: one uint16 per code. Same codes/s counter as the 8-bit scan above.
void fast_scan(benchmark::State& state, bool avx2) {
  if (avx2 && !pq_scan_has_avx2()) {
    state.SkipWithError("no AVX2 on this CPU");
    return;
  }
  const int m = static_cast<int>(state.range(0));
  const int64_t n = state.range(1), blocks = (n + kPq4Block - 1) / kPq4Block;
  tessel::Rng rng(1);
  std::vector<uint8_t> rows(n * m);
  for (auto& c : rows) c = static_cast<uint8_t>(rng.next_u64() & 15);
  const std::vector<uint8_t> packed = pq4_pack(rows.data(), n, m);
  std::vector<float> table(m * 16);
  for (auto& t : table) t = static_cast<float>(rng.uniform());
  std::vector<uint16_t> out(blocks * kPq4Block);
  const Pq4ScanKernel k = avx2 ? pq4_scan_kernel(true) : pq4_scan_portable;
  for (auto _ : state) {
    const Pq4Lut lut = pq4_quantize_table(table.data(), m);
    k(lut.lut.data(), packed.data(), blocks, m, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["codes_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}
void BM_Pq4FastScanPortable(benchmark::State& s) {
  fast_scan(s, false);
}
void BM_Pq4FastScanAvx2(benchmark::State& s) {
  fast_scan(s, true);
}

void BM_PqScanPortable(benchmark::State& s) {
  scan(s, false);
}
void BM_PqScanAvx2(benchmark::State& s) {
  scan(s, true);
}

// --- IVF-PQ + re-rank, ours against FAISS -------------------------------------------------
// 200k x 128 mixture (the study's set), 1,000 queries; 1,024 lists, m = 16, nprobe 32, 100
// candidates re-ranked from a mapped full-view file (the page-cache case) by both.
constexpr int kLists = 1024, kM = 16, kProbe = 32, kCand = 100, kK = 10;

struct IvfFixture {
  VectorSet base, queries;
  KnnResult truth;
  IvfPqIndex ours;
  std::string file;
  std::unique_ptr<FullView> fv;
#if TESSEL_HAVE_FAISS
  std::unique_ptr<faiss::IndexFlatL2> coarse;
  std::unique_ptr<faiss::IndexIVFPQ> faiss;
#endif
  IvfFixture() {
    MixtureSpec spec;
    base = gaussian_mixture(spec, 200000, 0);
    queries = gaussian_mixture(spec, 1000, 1);
    truth = exact_knn(base, queries, kK, Backend::kCpu, {});
    IvfParams ip;
    ip.nlist = kLists;
    ip.iterations = 15;
    ip.train_size = 65536;
    PqParams pp;
    pp.m = kM;
    pp.iterations = 20;
    ours = build_ivf_pq(base, ip, pp);
    file = (std::filesystem::temp_directory_path() / "zoom_bench.tfv").string();
    write_full_view(file, base);
    FullViewOptions o;
    o.io = FullViewIo::kMmap;
    o.direct = false;
    o.verify_data = true;
    fv = std::make_unique<FullView>(file, o);
#if TESSEL_HAVE_FAISS
    coarse = std::make_unique<faiss::IndexFlatL2>(base.dim);
    faiss = std::make_unique<faiss::IndexIVFPQ>(coarse.get(), base.dim, kLists, kM, 8);
    faiss->cp.niter = 15;
    faiss->pq.cp.niter = 20;
    faiss->train(65536, base.data.data());
    faiss->add(base.n, base.data.data());
    faiss->nprobe = kProbe;
    faiss->use_precomputed_table = 1;
    faiss->precompute_table();
#endif
  }
  double recall(const std::vector<int32_t>& ids) const {
    int64_t hit = 0;
    for (int64_t q = 0; q < queries.n; ++q) {
      const std::set<int32_t> t(truth.ids.begin() + q * truth.k,
                                truth.ids.begin() + (q + 1) * truth.k);
      for (int j = 0; j < kK; ++j) hit += t.count(ids[q * kK + j]);
    }
    return static_cast<double>(hit) / static_cast<double>(queries.n * kK);
  }
};

IvfFixture& fixture() {
  static IvfFixture f;
  return f;
}

void BM_ZoomIvfPqRerank(benchmark::State& state) {
  IvfFixture& f = fixture();
  IvfPreview prev(f.ours);
  std::vector<Neighbour> cand;
  std::vector<int32_t> cid, ids(f.queries.n * kK);
  std::vector<float> dist(kK);
  for (auto _ : state)
    for (int64_t q = 0; q < f.queries.n; ++q) {
      prev.search(f.queries.row(q), kProbe, kCand, cand);
      cid.resize(cand.size());
      for (std::size_t c = 0; c < cand.size(); ++c) cid[c] = cand[c].id;
      f.fv->rerank(f.queries.row(q), cid.data(), static_cast<int>(cid.size()), kK,
                   ids.data() + q * kK, dist.data());
    }
  state.SetItemsProcessed(state.iterations() * f.queries.n);
  state.counters["recall"] = f.recall(ids);
  state.counters["ram_bytes_per_vector"] = static_cast<double>(f.ours.ram_bytes()) / f.base.n;
}

#if TESSEL_HAVE_FAISS
void BM_FaissIvfPqRerank(benchmark::State& state) {
  IvfFixture& f = fixture();
  omp_set_num_threads(1);  // one query at a time on one thread, as ours
  std::vector<faiss::Index::idx_t> labels(kCand);
  std::vector<float> d(kCand);
  std::vector<int32_t> cid, ids(f.queries.n * kK);
  std::vector<float> dist(kK);
  for (auto _ : state)
    for (int64_t q = 0; q < f.queries.n; ++q) {
      f.faiss->search(1, f.queries.row(q), kCand, d.data(), labels.data());
      cid.clear();
      for (auto l : labels)
        if (l >= 0) cid.push_back(static_cast<int32_t>(l));
      f.fv->rerank(f.queries.row(q), cid.data(), static_cast<int>(cid.size()), kK,
                   ids.data() + q * kK, dist.data());
    }
  state.SetItemsProcessed(state.iterations() * f.queries.n);
  state.counters["recall"] = f.recall(ids);
  // Codes + 8-byte ids + centroids + codebooks + precomputed tables, as ours counts.
  const double ram = static_cast<double>(f.base.n) * (kM + 8) + kLists * 128.0 * 4 +
                     128.0 * 256 * 4 + static_cast<double>(f.faiss->precomputed_table.size()) * 4;
  state.counters["ram_bytes_per_vector"] = ram / f.base.n;
}
BENCHMARK(BM_FaissIvfPqRerank)->Unit(benchmark::kMillisecond)->Iterations(3);
#endif
BENCHMARK(BM_ZoomIvfPqRerank)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK(BM_PqScanPortable)->ArgsProduct({{8, 16, 32, 64}, {65536}});
BENCHMARK(BM_PqScanAvx2)->ArgsProduct({{8, 16, 32, 64}, {65536}});
// The goal's case, m = 16 over 1M codes on one thread: the 8-bit scans (16 MiB of codes)
// beside the 4-bit fast scan (8 MiB).
BENCHMARK(BM_PqScanPortable)->Args({16, 1 << 20});
BENCHMARK(BM_PqScanAvx2)->Args({16, 1 << 20});
BENCHMARK(BM_Pq4FastScanPortable)->Args({16, 1 << 20});
BENCHMARK(BM_Pq4FastScanAvx2)->Args({16, 1 << 20});

// The nprobe = 32 nearest of nlist centroids for 1,000 mixture queries: brute force (the
// baseline: every centroid, partial sort) against beam search on the centroid graph at its
// default pool. Points of the 128-d Gaussian mixture stand in for the centroids (k-means at
// 16,384 lists would cost minutes); the overlap with brute force is a counter. One iteration
// is 1,000 queries, so its time in ms is the time per query in µs.
struct ProbeData {
  int nlist;
  std::vector<float> centroids;
  VectorSet queries;
  CentroidGraph graph;
  explicit ProbeData(int n) : nlist(n) {
    MixtureSpec ms;
    const VectorSet base = gaussian_mixture(ms, nlist, 0);
    centroids = base.data;
    queries = gaussian_mixture(ms, 1000, 1);
    graph = build_centroid_graph(centroids, nlist, base.dim, 1);
  }
};

void probe(benchmark::State& state, bool use_graph) {
  static std::map<int, std::unique_ptr<ProbeData>> cache;  // built once per nlist
  const int nlist = static_cast<int>(state.range(0)), nprobe = 32;
  auto& d = cache[nlist];
  if (!d) d = std::make_unique<ProbeData>(nlist);
  const int dim = d->queries.dim;
  CentroidProbe brute(d->centroids, nlist, dim);
  CentroidProbe p(d->centroids, nlist, dim, use_graph ? &d->graph : nullptr);
  for (auto _ : state)
    for (int64_t q = 0; q < d->queries.n; ++q)
      benchmark::DoNotOptimize(p.probe(d->queries.row(q), nprobe).data());
  int64_t common = 0;
  for (int64_t q = 0; q < d->queries.n; ++q) {
    std::set<int32_t> truth;
    for (const Neighbour& x : brute.probe(d->queries.row(q), nprobe)) truth.insert(x.id);
    for (const Neighbour& x : p.probe(d->queries.row(q), nprobe)) common += truth.count(x.id);
  }
  state.counters["overlap"] =
      static_cast<double>(common) / static_cast<double>(d->queries.n * nprobe);
}
void BM_CentroidProbeBrute(benchmark::State& s) {
  probe(s, false);
}
void BM_CentroidProbeGraph(benchmark::State& s) {
  probe(s, true);
}
BENCHMARK(BM_CentroidProbeBrute)->Arg(1024)->Arg(4096)->Arg(16384)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CentroidProbeGraph)->Arg(1024)->Arg(4096)->Arg(16384)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
