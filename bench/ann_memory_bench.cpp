// What one graph-search distance costs in memory alone: reading 128-byte rows (one 128-d 8-bit
// code) at random positions of a working set, in batches the size of one expansion (13 fresh
// neighbours on the 200k mixture), with and without prefetching the batch first. Baseline in the
// same run: the same rows read sequentially. The ratio random/sequential is the cost a beam
// search pays per distance that a brute-force scan does not (docs/ann.md, "Where the time goes").
// Also the arithmetic floor: the code kernel on cache-resident codes. And the float L2
// kernels (distance.h) on random rows of a 20,000-row set, the widest this CPU runs against
// the portable loop the library is compiled with, in the same process. And one re-rank distance
// from float32 rows against binary16 ones (fp16.h).
//
//   ann_memory_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "models/ann/codes.h"
#include "models/ann/distance.h"
#include "models/ann/fp16.h"
#include "models/ann/packed_index.h"

namespace {

constexpr std::size_t kRow = 128;
constexpr int kBatch = 13;

struct Rows {
  tessel::ann::AlignedBytes bytes;  // on 2 MiB pages, as PackedIndex keeps its codes
  const uint8_t* data;
  std::size_t rows;
  std::vector<uint32_t> order;  // random row ids, a multiple of kBatch long

  explicit Rows(std::size_t size) : bytes(size, true), data(bytes.data()), rows(size / kRow) {
    for (std::size_t i = 0; i < size; ++i) bytes.data()[i] = static_cast<uint8_t>(i * 7);
    std::mt19937 rng(1);
    std::uniform_int_distribution<uint32_t> pick(0, static_cast<uint32_t>(rows - 1));
    order.resize(13 * 8 * 5000);  // a multiple of every batch size below
    for (auto& r : order) r = pick(rng);
  }
};

uint64_t sum_row(const uint8_t* r) {
  uint64_t s = 0;
  for (std::size_t k = 0; k < kRow; k += 8) {
    uint64_t w;
    std::memcpy(&w, r + k, 8);
    s += w;
  }
  return s;
}

void random_rows(benchmark::State& state, bool prefetch) {
  Rows rows(static_cast<std::size_t>(state.range(0)) << 20);
  const int batch = state.range(1) > 0 ? static_cast<int>(state.range(1)) : kBatch;
  std::size_t done = 0;
  uint64_t acc = 0;
  for (auto _ : state) {
    for (std::size_t b = 0; b < rows.order.size(); b += batch) {
      const uint32_t* ids = rows.order.data() + b;
      if (prefetch)
        for (int j = 0; j < batch; ++j)
          for (std::size_t off = 0; off < kRow; off += 64)
            __builtin_prefetch(rows.data + std::size_t{ids[j]} * kRow + off);
      for (int j = 0; j < batch; ++j) acc += sum_row(rows.data + std::size_t{ids[j]} * kRow);
    }
    done += rows.order.size();
  }
  benchmark::DoNotOptimize(acc);
  // Seconds per row (printed with an SI prefix, e.g. "20.6n" = 20.6 ns).
  state.counters["per_row"] = benchmark::Counter(
      static_cast<double>(done), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_SequentialRows(benchmark::State& state) {
  Rows rows(static_cast<std::size_t>(state.range(0)) << 20);
  std::size_t done = 0;
  uint64_t acc = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < rows.rows; ++i) acc += sum_row(rows.data + i * kRow);
    done += rows.rows;
  }
  benchmark::DoNotOptimize(acc);
  // Seconds per row (printed with an SI prefix, e.g. "20.6n" = 20.6 ns).
  state.counters["per_row"] = benchmark::Counter(
      static_cast<double>(done), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The arithmetic alone: the search's batched AVX2 (or SSE2) code kernel on 13 cache-resident
// 128-byte codes per call, i.e. the compute floor of one distance.
void code_distances(benchmark::State& state, bool avx2) {
  Rows rows(std::size_t{64} << 10);  // 512 rows: stays in the first-level caches
  std::vector<int32_t> ids(kBatch);
  for (int j = 0; j < kBatch; ++j) ids[j] = (j * 37) % static_cast<int>(rows.rows);
  std::vector<uint8_t> query(kRow, 100);
  std::vector<uint32_t> out(kBatch);
  const tessel::ann::L2CodeBatchKernel kernel = tessel::ann::l2_code_batch_kernel(avx2);
  std::size_t done = 0;
  for (auto _ : state) {
    kernel(query.data(), rows.data, ids.data(), kBatch, static_cast<int>(kRow), out.data());
    benchmark::DoNotOptimize(out.data());
    done += kBatch;
  }
  state.counters["per_row"] = benchmark::Counter(
      static_cast<double>(done), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_CodeDistanceAvx2(benchmark::State& state) {
  code_distances(state, true);
}
void BM_CodeDistanceSse2(benchmark::State& state) {
  code_distances(state, false);
}
void BM_RandomRows(benchmark::State& state) {
  random_rows(state, false);
}
void BM_RandomRowsPrefetched(benchmark::State& state) {
  random_rows(state, true);
}

// Float L2 between consecutive random rows of a 20,000 x dim set (the build's access
// pattern); arg 0: dim, arg 1: 0 = the portable loop, 1 = the kernel l2_sq picks.
void BM_FloatL2(benchmark::State& state) {
  const int dim = static_cast<int>(state.range(0));
  const bool widest = state.range(1) == 1;
  const std::size_t n = 20000;
  std::vector<float> rows(n * static_cast<std::size_t>(dim));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  for (float& x : rows) x = u(rng);
  std::vector<uint32_t> order(1 << 16);
  std::uniform_int_distribution<uint32_t> pick(0, static_cast<uint32_t>(n - 1));
  for (auto& r : order) r = pick(rng);
  const auto kernel =
      widest ? tessel::ann::detail::l2_sq_kernels().front().fn : tessel::ann::l2_sq_portable;
  std::size_t i = 0;
  float sum = 0;
  for (auto _ : state) {
    const float* a = rows.data() + order[i & 0xFFFF] * static_cast<std::size_t>(dim);
    const float* b = rows.data() + order[(i + 1) & 0xFFFF] * static_cast<std::size_t>(dim);
    sum += kernel(a, b, dim);
    ++i;
  }
  benchmark::DoNotOptimize(sum);
  state.SetLabel(widest ? tessel::ann::detail::l2_sq_kernels().front().name : "portable");
}
BENCHMARK(BM_FloatL2)->ArgsProduct({{32, 128, 784}, {0, 1}});

// One re-rank distance on cache-resident rows (2,000 x dim, random order), by the widest
// kernels: arg 1 = 0 float32 rows (l2_sq), 1 binary16 values, 2 binary16 residuals of 8-bit
// codes (the packed index's default; reads the code row too). The arithmetic a binary16 re-rank
// adds per row, before any memory saving.
void BM_RerankL2(benchmark::State& state) {
  using namespace tessel::ann;
  const int dim = static_cast<int>(state.range(0));
  const int kind = static_cast<int>(state.range(1));
  const std::size_t n = 2000, size = n * static_cast<std::size_t>(dim);
  std::vector<float> rows(size), query(static_cast<std::size_t>(dim));
  std::vector<uint16_t> half(size);
  std::vector<uint8_t> codes(size);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  for (float& x : query) x = u(rng);
  const float offset = 0, step = 1.0f / 255;
  for (std::size_t i = 0; i < size; ++i) {
    rows[i] = u(rng);
    codes[i] = static_cast<uint8_t>(std::lround(rows[i] / step));
    half[i] = float_to_half(kind == 2 ? rows[i] - code_value(offset, step, codes[i]) : rows[i]);
  }
  std::vector<uint32_t> order(1 << 16);
  std::uniform_int_distribution<uint32_t> pick(0, static_cast<uint32_t>(n - 1));
  for (auto& r : order) r = pick(rng);
  const HalfKernels& k = best_half_kernels();
  const auto l2 = detail::l2_sq_kernels().front().fn;
  std::size_t i = 0;
  float sum = 0;
  for (auto _ : state) {
    const std::size_t at = order[i++ & 0xFFFF] * static_cast<std::size_t>(dim);
    sum += kind == 0   ? l2(query.data(), rows.data() + at, dim)
           : kind == 1 ? k.l2(query.data(), half.data() + at, dim)
                       : k.l2_residual(query.data(), codes.data() + at, half.data() + at, offset,
                                       step, dim);
  }
  benchmark::DoNotOptimize(sum);
  state.SetLabel(kind == 0 ? detail::l2_sq_kernels().front().name : k.name);
}
BENCHMARK(BM_RerankL2)->ArgsProduct({{32, 128, 256}, {0, 1, 2}});

// Working sets (MiB): 2 (cache-resident), 25 (the 200k mixture's codes), 100 (its floats).
BENCHMARK(BM_SequentialRows)->Arg(25)->Unit(benchmark::kMillisecond);
// Args: working set, rows per batch (13 = one expansion; 52 and 104 = 4 and 8 expansions in
// flight, as interleaved searches would have them).
BENCHMARK(BM_RandomRows)
    ->Args({2, 13})
    ->Args({25, 13})
    ->Args({100, 13})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RandomRowsPrefetched)
    ->Args({2, 13})
    ->Args({25, 13})
    ->Args({100, 13})
    ->Args({25, 52})
    ->Args({25, 104})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CodeDistanceAvx2);
BENCHMARK(BM_CodeDistanceSse2);

}  // namespace

BENCHMARK_MAIN();
