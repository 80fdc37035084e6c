// DPU checks: rows of K-wide passes against sim/lstm_sharp/dpu.h (fixed::dot) and the golden acc.
#include <Vdpu_k3.h>
#include <Vdpu_k8.h>

#include <vector>

#include "models/common/rng.h"
#include "rtl/harness/harness.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/validate/check_common.h"
#include "runtime/validate/golden_file.h"
#include "sim/lstm_sharp/dpu.h"
#include "sim/lstm_sharp/layer_plan.h"

namespace tessel::rtl {
namespace {

using detail::compare;
using detail::note_latency;

constexpr int kAccBits = 48;

// One cycle of DPU input (valid low: an idle cycle).
struct Beat {
  bool valid = false, first = false, last = false;
  std::vector<int16_t> w, a;
  int64_t psum = 0;
};
// The sum the row ending at beat `last_beat` must produce.
struct Expect {
  int64_t acc;
  int64_t last_beat;
  int64_t passes;
  std::string what;
};

struct Program {
  int k = 0;
  std::vector<Beat> beats;
  std::vector<Expect> expect;

  void idle(int64_t cycles) {
    for (int64_t i = 0; i < cycles; ++i) beats.push_back(Beat{});
  }
  // A row of w·a (zero-padded to whole passes) starting from psum; `gap` is called before
  // every pass after the first and returns the idle cycles to insert.
  template <typename Gap>
  int64_t row(const std::vector<int16_t>& w, const std::vector<int16_t>& a, int64_t psum,
              const std::string& what, Gap gap) {
    const int64_t n = static_cast<int64_t>(w.size());
    const int64_t passes = std::max<int64_t>(1, (n + k - 1) / k);
    for (int64_t p = 0; p < passes; ++p) {
      if (p > 0) idle(gap());
      Beat b;
      b.valid = true;
      b.first = p == 0;
      b.last = p == passes - 1;
      b.psum = psum;
      b.w.assign(static_cast<size_t>(k), 0);
      b.a.assign(static_cast<size_t>(k), 0);
      for (int64_t j = 0; j < k && p * k + j < n; ++j) {
        b.w[static_cast<size_t>(j)] = w[static_cast<size_t>(p * k + j)];
        b.a[static_cast<size_t>(j)] = a[static_cast<size_t>(p * k + j)];
      }
      beats.push_back(std::move(b));
    }
    const int64_t acc = lstm_sharp::Dpu::accumulate(psum, w.data(), a.data(), n);
    expect.push_back({acc, static_cast<int64_t>(beats.size()) - 1, passes, what});
    return acc;
  }
  int64_t row(const std::vector<int16_t>& w, const std::vector<int16_t>& a, int64_t psum,
              const std::string& what) {
    return row(w, a, psum, what, [] { return int64_t{0}; });
  }
};

template <class V>
UnitCheck apply(const Program& prog, UnitCheck r, bool measure_ii, const std::string& trace,
                const std::string& cov) {
  Harness<V> h(trace);
  V& io = h.io();
  std::vector<std::pair<int64_t, int64_t>> out;  // (cycle, acc)
  const int64_t drain = 4 * lstm_sharp::Dpu::latency(prog.k) + 4;
  const int64_t total = static_cast<int64_t>(prog.beats.size()) + drain;
  for (int64_t c = 0; c < total; ++c) {
    const size_t i = static_cast<size_t>(c);
    const Beat idle_beat;
    const Beat& b = i < prog.beats.size() ? prog.beats[i] : idle_beat;
    io.in_valid = b.valid;
    io.in_first = b.first;
    io.in_last = b.last;
    if (b.valid) {
      for (int j = 0; j < prog.k; ++j) {
        put_bits(io.in_w, 16 * j, 16, static_cast<uint16_t>(b.w[static_cast<size_t>(j)]));
        put_bits(io.in_a, 16 * j, 16, static_cast<uint16_t>(b.a[static_cast<size_t>(j)]));
      }
      put_bits(io.in_psum, 0, kAccBits, static_cast<uint64_t>(b.psum));
    }
    h.tick();
    if (io.out_valid)
      out.emplace_back(h.cycle(), sign_extend(get_bits(io.out_acc, 0, kAccBits), kAccBits));
  }
  if (out.size() != prog.expect.size()) {
    ++r.mismatches;
    r.first_mismatch =
        std::to_string(out.size()) + " sums for " + std::to_string(prog.expect.size()) + " rows";
  }
  const size_t n = std::min(out.size(), prog.expect.size());
  int64_t ii = -1;
  for (size_t j = 0; j < n; ++j) {
    const Expect& e = prog.expect[j];
    compare(r, out[j].second, e.acc, e.what);
    note_latency(r, out[j].first - e.last_beat, e.what);
    // Back-to-back rows: cycles between consecutive sums per pass of the later row.
    if (measure_ii && j > 0) {
      const int64_t spacing = out[j].first - out[j - 1].first;
      const int64_t per_pass = spacing % e.passes == 0 ? spacing / e.passes : -2;
      ii = std::max(ii, per_pass == -2 ? int64_t{1000} : per_pass);
    }
  }
  if (measure_ii) r.ii_rtl = ii;
  if (!cov.empty()) h.write_coverage(cov);
  return r;
}

int16_t draw(Rng& rng) {
  const uint64_t u = rng.next_u64();
  switch (u % 8) {
    case 0: {  // the corners of the int16 range
      static constexpr int16_t kCorner[] = {-32768, -32767, -1, 0, 1, 32767};
      return kCorner[(u >> 8) % 6];
    }
    case 1:  // small values (typical trained weights)
      return static_cast<int16_t>(static_cast<int64_t>((u >> 8) % 513) - 256);
    default:
      return static_cast<int16_t>(u >> 16);
  }
}

Program random_program(int k, const CheckOptions& opt) {
  Program p;
  p.k = k;
  Rng rng(opt.seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(k));
  auto gap = [&rng]() -> int64_t { return rng.next_u64() % 10 == 0 ? 1 + rng.next_u64() % 3 : 0; };
  for (int64_t row = 0; row < opt.random_vectors; ++row) {
    const int64_t n = 1 + static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(4 * k));
    std::vector<int16_t> w(static_cast<size_t>(n)), a(static_cast<size_t>(n));
    for (auto& v : w) v = draw(rng);
    for (auto& v : a) v = draw(rng);
    // A fifth of the rows resume a parked partial sum (run-ahead W·x, then U·h).
    const int64_t psum =
        rng.next_u64() % 5 == 0 ? sign_extend(rng.next_u64() & ((uint64_t{1} << 44) - 1), 44) : 0;
    p.idle(gap());
    p.row(w, a, psum, "random row " + std::to_string(row), gap);
  }
  return p;
}

Program directed_program(int k) {
  Program p;
  p.k = k;
  const size_t uk = static_cast<size_t>(k);
  auto fill = [&](int16_t v) { return std::vector<int16_t>(uk, v); };
  const int64_t max48 = (int64_t{1} << 47) - 1, min48 = -(int64_t{1} << 47);
  const int64_t full = int64_t{1} << 30;  // (-32768)^2, the largest product
  p.row(fill(0), fill(0), 0, "zeros");
  p.row(fill(-32768), fill(-32768), 0, "most-negative squared");
  p.row(fill(-32768), fill(32767), 0, "most-negative x max");
  p.row(fill(32767), fill(32767), 0, "max squared");
  p.row(fill(-32768), fill(-32768), max48 - k * full, "accumulator reaches +2^47-1");
  p.row(fill(-32768), fill(32767), min48 + k * (full - 32768), "accumulator reaches -2^47");
  for (int j = 0; j < k; ++j) {  // each lane alone, with values that identify it
    std::vector<int16_t> w(uk, 0), a(uk, 0);
    w[static_cast<size_t>(j)] = static_cast<int16_t>(-1 - 3 * j);
    a[static_cast<size_t>(j)] = static_cast<int16_t>(1000 + 17 * j);
    p.row(w, a, 0, "lane " + std::to_string(j) + " alone");
  }
  for (int i = 0; i < 64; ++i)  // single-pass rows back to back, alternating extremes
    p.row(fill(i % 2 ? -32768 : 32767), fill(i % 3 ? -32768 : 32767), i % 5 ? 0 : -full,
          "back-to-back " + std::to_string(i));
  // The longest row the 48-bit accumulator holds exactly: 2^17 - 1 full-scale products
  // (rounded down to whole passes).
  const int64_t passes = ((int64_t{1} << 17) - 1) / k;
  p.row(std::vector<int16_t>(static_cast<size_t>(passes * k), -32768),
        std::vector<int16_t>(static_cast<size_t>(passes * k), -32768), 0,
        std::to_string(passes) + "-pass full-scale row");
  return p;
}

// Golden acc: W_ih·x as one burst, then W_hh·h(t-1) as a second burst resuming the first's
// sum from in_psum, the way the tile parks a run-ahead W·x sum.
Program golden_program(int k, const CheckOptions& opt) {
  Program p;
  p.k = k;
  for (const std::string& path : golden_paths(detail::source_dir(opt))) {
    const GoldenFile g = read_golden(path);
    const int in = g.input_size, hid = g.hidden_size;
    for (int t = 0; t < g.steps; ++t) {
      const auto& hp = t == 0 ? g.h0 : g.step[static_cast<size_t>(t - 1)].h;
      std::vector<int16_t> x(g.step[static_cast<size_t>(t)].x.begin(),
                             g.step[static_cast<size_t>(t)].x.end());
      std::vector<int16_t> h(hp.begin(), hp.end());
      for (int r = 0; r < 4 * hid; ++r) {
        std::vector<int16_t> wi(g.w_ih.begin() + r * in, g.w_ih.begin() + (r + 1) * in);
        std::vector<int16_t> wh(g.w_hh.begin() + r * hid, g.w_hh.begin() + (r + 1) * hid);
        const std::string where =
            g.name + " step " + std::to_string(t) + " row " + std::to_string(r);
        const int64_t wx = p.row(wi, x, 0, where + " W·x");
        p.row(wh, h, wx, where + " acc");
        // The reference must agree with the committed file, or the comparison is moot.
        p.expect.back().acc = g.step[static_cast<size_t>(t)].acc[static_cast<size_t>(r)];
      }
    }
  }
  return p;
}

Program timing_program(int k, const CheckOptions& opt) {
  Program p;
  p.k = k;
  Rng rng(opt.seed + 77);
  for (int64_t passes = 1; passes <= 4; ++passes)
    for (int i = 0; i < 50; ++i) {
      std::vector<int16_t> w(static_cast<size_t>(passes * k)), a(w.size());
      for (auto& v : w) v = draw(rng);
      for (auto& v : a) v = draw(rng);
      p.row(w, a, 0, std::to_string(passes) + "-pass row " + std::to_string(i));
    }
  return p;
}

}  // namespace

UnitCheck check_dpu(int k, Suite suite, const CheckOptions& opt) {
  UnitCheck r;
  r.unit = "lstm_sharp/dpu";
  r.params = "K=" + std::to_string(k);
  r.suite = suite;
  if (k != 8 && k != 3) throw SimError("check_dpu: no Verilated DPU with K=" + std::to_string(k));
  // The SystemC side's numbers: Dpu::latency(K) (dpu.h) and the plan's dpu_latency, which
  // the tile adds after a block's last pass; one pass per cycle.
  const Config hw = Config::load(detail::source_dir(opt) + "/configs/hw/lstm_sharp/base.yaml");
  const lstm_sharp::LayerPlan plan =
      lstm_sharp::plan_layer(lstm_sharp::read_machine(hw), 64, 64, k);
  r.latency_sc = lstm_sharp::Dpu::latency(k);
  r.timing_note = "Dpu::latency(K) = " + std::to_string(r.latency_sc) +
                  ", LayerPlan::dpu_latency = " + std::to_string(plan.dpu_latency) +
                  "; one K-element pass per cycle";
  if (plan.dpu_latency != r.latency_sc) r.latency_sc = -2;  // the two SystemC numbers disagree
  Program prog;
  switch (suite) {
    case Suite::kRandom:
      prog = random_program(k, opt);
      break;
    case Suite::kDirected:
      prog = directed_program(k);
      break;
    case Suite::kGolden:
      prog = golden_program(k, opt);
      break;
    case Suite::kTiming:
      prog = timing_program(k, opt);
      r.ii_sc = 1;
      break;
  }
  if (opt.corrupt_reference && !prog.expect.empty()) prog.expect.front().acc += 1;
  const bool ii = suite == Suite::kTiming;
  return detail::run_check(r, opt, [&](const std::string& trace, const std::string& cov) {
    return k == 8 ? apply<Vdpu_k8>(prog, r, ii, trace, cov)
                  : apply<Vdpu_k3>(prog, r, ii, trace, cov);
  });
}

}  // namespace tessel::rtl
