// sparse_dot checks: compressed N:M rows vs models/sparse nm_gemm_reference and sim/nm_unit timing.
#include <Vsparse_dot_2of4.h>
#include <Vsparse_dot_4of8.h>

#include <vector>

#include "models/common/rng.h"
#include "models/sparse/compressed.h"
#include "models/sparse/nm_gemm.h"
#include "rtl/harness/harness.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/validate/check_common.h"
#include "sim/nm_unit/nm_unit_params.h"

namespace tessel::rtl {
namespace {

using detail::compare;
using detail::note_latency;

// The parameter sets of rtl/CMakeLists.txt: G groups per cycle.
struct Shape {
  int n, m, g;
  int lanes() const { return g * n; }
  int window() const { return g * m; }
  int index_bits() const { return sparse::Pattern{n, m}.index_bits(); }
};

struct Beat {
  bool valid = false, first = false, last = false;
  std::vector<int8_t> w;
  std::vector<uint8_t> idx;
  std::vector<int8_t> a;
};
struct Expect {
  int64_t acc, last_beat, chunks;
  std::string what;
};

struct Program {
  Shape s;
  std::vector<Beat> beats;
  std::vector<Expect> expect;

  void idle(int64_t cycles) {
    for (int64_t i = 0; i < cycles; ++i) beats.push_back(Beat{});
  }
  // One output: a 1 x K dense N:M row times a K-vector, streamed chunk by chunk from its
  // compressed form; the expected sum is models/sparse's reference GEMM of the same operands.
  template <typename Gap>
  void row(const sparse::MatrixI8& dense, const sparse::MatrixI8& x, const std::string& what,
           Gap gap) {
    const sparse::CompressedMatrix<int8_t> cw = sparse::compress(dense, sparse::Pattern{s.n, s.m});
    const int64_t chunks = dense.cols() / s.window();
    for (int64_t c = 0; c < chunks; ++c) {
      if (c > 0) idle(gap());
      Beat b;
      b.valid = true;
      b.first = c == 0;
      b.last = c == chunks - 1;
      for (int j = 0; j < s.lanes(); ++j) {
        b.w.push_back(cw.values(0, c * s.lanes() + j));
        b.idx.push_back(static_cast<uint8_t>(cw.index(0, c * s.lanes() + j)));
      }
      for (int k = 0; k < s.window(); ++k) b.a.push_back(x(c * s.window() + k, 0));
      beats.push_back(std::move(b));
    }
    const int64_t acc = sparse::nm_gemm_reference(cw, x)(0, 0);
    expect.push_back({acc, static_cast<int64_t>(beats.size()) - 1, chunks, what});
  }
  void row(const sparse::MatrixI8& dense, const sparse::MatrixI8& x, const std::string& what) {
    row(dense, x, what, [] { return int64_t{0}; });
  }
};

template <class V>
UnitCheck apply(const Program& prog, UnitCheck r, bool measure_ii, const std::string& trace,
                const std::string& cov) {
  Harness<V> h(trace);
  V& io = h.io();
  const Shape& s = prog.s;
  std::vector<std::pair<int64_t, int64_t>> out;
  const int64_t total = static_cast<int64_t>(prog.beats.size()) + 16;
  for (int64_t c = 0; c < total; ++c) {
    const size_t i = static_cast<size_t>(c);
    const Beat idle_beat;
    const Beat& b = i < prog.beats.size() ? prog.beats[i] : idle_beat;
    io.in_valid = b.valid;
    io.in_first = b.first;
    io.in_last = b.last;
    if (b.valid) {
      for (int j = 0; j < s.lanes(); ++j) {
        put_bits(io.in_w, 8 * j, 8, static_cast<uint8_t>(b.w[static_cast<size_t>(j)]));
        put_bits(io.in_idx, s.index_bits() * j, s.index_bits(), b.idx[static_cast<size_t>(j)]);
      }
      for (int k = 0; k < s.window(); ++k)
        put_bits(io.in_a, 8 * k, 8, static_cast<uint8_t>(b.a[static_cast<size_t>(k)]));
    }
    h.tick();
    if (io.out_valid) out.emplace_back(h.cycle(), sign_extend(get_bits(io.out_acc, 0, 32), 32));
  }
  if (out.size() != prog.expect.size()) {
    ++r.mismatches;
    r.first_mismatch =
        std::to_string(out.size()) + " sums for " + std::to_string(prog.expect.size()) + " rows";
  }
  int64_t ii = -1;
  for (size_t j = 0; j < std::min(out.size(), prog.expect.size()); ++j) {
    const Expect& e = prog.expect[j];
    compare(r, out[j].second, e.acc, e.what);
    note_latency(r, out[j].first - e.last_beat, e.what);
    if (measure_ii && j > 0) {
      const int64_t spacing = out[j].first - out[j - 1].first;
      ii = std::max(ii, spacing % e.chunks == 0 ? spacing / e.chunks : int64_t{1000});
    }
  }
  if (measure_ii) r.ii_rtl = ii;
  if (!cov.empty()) h.write_coverage(cov);
  return r;
}

int8_t draw(Rng& rng) {
  const uint64_t u = rng.next_u64();
  if (u % 8 == 0) {
    static constexpr int8_t kCorner[] = {-128, -127, -1, 1, 127};
    return kCorner[(u >> 8) % 5];
  }
  return static_cast<int8_t>(u >> 16);
}

// A dense row of `chunks` windows whose groups each keep N random positions.
sparse::MatrixI8 random_row(const Shape& s, int64_t chunks, Rng& rng) {
  sparse::MatrixI8 w = sparse::MatrixI8::Zero(1, chunks * s.window());
  for (int64_t g = 0; g < chunks * s.g; ++g) {
    std::vector<int> pos(static_cast<size_t>(s.m));
    for (int i = 0; i < s.m; ++i) pos[static_cast<size_t>(i)] = i;
    for (int i = 0; i < s.n; ++i) {  // partial Fisher-Yates: N distinct positions
      const int j = i + static_cast<int>(rng.next_u64() % static_cast<uint64_t>(s.m - i));
      std::swap(pos[static_cast<size_t>(i)], pos[static_cast<size_t>(j)]);
      w(0, g * s.m + pos[static_cast<size_t>(i)]) = draw(rng);
    }
  }
  return w;
}

sparse::MatrixI8 random_x(int64_t k, Rng& rng) {
  sparse::MatrixI8 x(k, 1);
  for (int64_t i = 0; i < k; ++i) x(i, 0) = draw(rng);
  return x;
}

// All ascending N-subsets of {0..M-1}: every index pattern a group can have.
std::vector<std::vector<int>> index_patterns(int n, int m) {
  std::vector<std::vector<int>> out;
  for (uint32_t mask = 0; mask < (1u << m); ++mask) {
    if (__builtin_popcount(mask) != n) continue;
    std::vector<int> p;
    for (int i = 0; i < m; ++i)
      if (mask >> i & 1) p.push_back(i);
    out.push_back(p);
  }
  return out;
}

Program random_program(const Shape& s, const CheckOptions& opt) {
  Program p{s, {}, {}};
  Rng rng(opt.seed * 0x94d049bb133111ebull + static_cast<uint64_t>(s.m));
  auto gap = [&rng]() -> int64_t { return rng.next_u64() % 10 == 0 ? 1 + rng.next_u64() % 3 : 0; };
  for (int64_t i = 0; i < opt.random_vectors; ++i) {
    const int64_t chunks = 1 + static_cast<int64_t>(rng.next_u64() % 4);
    p.idle(gap());
    p.row(random_row(s, chunks, rng), random_x(chunks * s.window(), rng),
          "random row " + std::to_string(i), gap);
  }
  return p;
}

Program directed_program(const Shape& s) {
  Program p{s, {}, {}};
  const auto patterns = index_patterns(s.n, s.m);
  const int64_t k = s.window();
  // Every index pattern in every group, with activations that name their position (a
  // wrong mux select changes the sum), then at full scale.
  for (size_t pi = 0; pi < patterns.size(); ++pi)
    for (int variant = 0; variant < 3; ++variant) {
      sparse::MatrixI8 w = sparse::MatrixI8::Zero(1, k), x(k, 1);
      for (int g = 0; g < s.g; ++g) {
        // Variant 2 gives each group a different pattern, so groups cannot alias.
        const auto& pat =
            patterns[(pi + (variant == 2 ? static_cast<size_t>(g) : 0)) % patterns.size()];
        for (int i : pat) w(0, g * s.m + i) = static_cast<int8_t>(variant == 1 ? -128 : 1 + g);
      }
      for (int64_t i = 0; i < k; ++i)
        x(i, 0) = static_cast<int8_t>(variant == 1 ? -128 : 3 * i + 1);
      p.row(w, x, "pattern " + std::to_string(pi) + " variant " + std::to_string(variant));
    }
  p.row(sparse::MatrixI8::Zero(1, k), sparse::MatrixI8::Zero(k, 1), "zeros");
  // Longest rows of full-scale products that int32 still holds, both signs.
  const int64_t chunks = 16000;
  const int64_t kk = chunks * k;
  sparse::MatrixI8 w = sparse::MatrixI8::Zero(1, kk);
  for (int64_t g = 0; g < kk / s.m; ++g)
    for (int i = 0; i < s.n; ++i) w(0, g * s.m + i) = -128;
  p.row(w, sparse::MatrixI8::Constant(kk, 1, -128), "long row, +max");
  p.row(w, sparse::MatrixI8::Constant(kk, 1, 127), "long row, -max");
  return p;
}

Program timing_program(const Shape& s, const CheckOptions& opt) {
  Program p{s, {}, {}};
  Rng rng(opt.seed + 19);
  for (int64_t chunks = 1; chunks <= 4; ++chunks)
    for (int i = 0; i < 50; ++i)
      p.row(random_row(s, chunks, rng), random_x(chunks * s.window(), rng),
            std::to_string(chunks) + "-chunk row " + std::to_string(i));
  return p;
}

}  // namespace

UnitCheck check_sparse_dot(int n, int m, Suite suite, const CheckOptions& opt) {
  Shape s{n, m, 0};
  if (n == 2 && m == 4) s.g = 4;
  if (n == 4 && m == 8) s.g = 2;
  if (s.g == 0)
    throw SimError("check_sparse_dot: no Verilated sparse_dot for " + std::to_string(n) + ":" +
                   std::to_string(m));
  UnitCheck r;
  r.unit = "nm_unit/sparse_dot";
  r.params = std::to_string(n) + ":" + std::to_string(m) + " G=" + std::to_string(s.g);
  r.suite = suite;
  if (suite == Suite::kGolden) throw SimError("check_sparse_dot: no golden vectors for N:M");
  // sim/nm_unit: a step's operands pass the metadata decoder (decode_latency) and the MAC
  // pipeline drains pipeline_depth cycles after the last chunk; a PE advances
  // k_per_cycle dense positions a cycle.
  const Config hw = Config::load(detail::source_dir(opt) + "/configs/hw/nm_unit/base.yaml");
  const nm_unit::NmUnitParams p = nm_unit::read_params(hw);
  nm_unit::NmUnitWorkload w;
  w.m = 64;
  w.n = 64;
  w.k = 1024;
  w.pattern = sparse::Pattern{n, m};
  const nm_unit::Mapping map = nm_unit::map_workload(p, w);
  r.latency_sc = p.decode_latency + p.pipeline_depth;
  r.timing_note =
      "configs/hw/nm_unit/base.yaml: decode_latency " + std::to_string(p.decode_latency) +
      " + pipeline_depth " + std::to_string(p.pipeline_depth) + "; k_per_cycle " +
      std::to_string(map.k_per_cycle) + " (RTL window " + std::to_string(s.window()) + ")";
  Program prog;
  switch (suite) {
    case Suite::kRandom:
      prog = random_program(s, opt);
      break;
    case Suite::kDirected:
      prog = directed_program(s);
      break;
    case Suite::kTiming:
      prog = timing_program(s, opt);
      // One chunk of k_per_cycle dense positions per cycle; the RTL's chunk is its window.
      r.ii_sc = map.k_per_cycle == s.window() ? 1 : -2;
      break;
    case Suite::kGolden:
      break;
  }
  const bool ii = suite == Suite::kTiming;
  return detail::run_check(r, opt, [&](const std::string& trace, const std::string& cov) {
    return n == 2 ? apply<Vsparse_dot_2of4>(prog, r, ii, trace, cov)
                  : apply<Vsparse_dot_4of8>(prog, r, ii, trace, cov);
  });
}

}  // namespace tessel::rtl
