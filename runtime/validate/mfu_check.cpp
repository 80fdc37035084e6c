// MFU checks: gate activations and c/h update against sim/lstm_sharp/mfu.h and the golden c, h.
#include <Vmfu_l16.h>

#include <array>
#include <vector>

#include "models/common/rng.h"
#include "rtl/harness/harness.h"
#include "runtime/core/config.h"
#include "runtime/validate/check_common.h"
#include "runtime/validate/golden_file.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"
#include "sim/lstm_sharp/mfu.h"

namespace tessel::rtl {
namespace {

using detail::compare;
using detail::note_latency;

constexpr int kLanes = 16;  // rtl/CMakeLists.txt: Vmfu_l16

// One element: z (gates i, f, g, o; Q4.11), c before the step (Q4.11), and what the
// reference says c and h become.
struct Element {
  std::array<int16_t, 4> z;
  int16_t c_prev;
  int16_t c, h;
  std::string what;  // empty: derive a name from the index when reporting
};

struct Program {
  std::vector<Element> elements;
  std::vector<int64_t> gaps;  // idle cycles before beat b (one beat = kLanes elements)

  void add(std::array<int16_t, 4> z, int16_t c_prev, std::string what = "") {
    int16_t c = c_prev;
    const int16_t h = lstm_sharp::Mfu::element(z.data(), c);
    elements.push_back({z, c_prev, c, h, std::move(what)});
  }
};

UnitCheck apply(const Program& prog, UnitCheck r, bool measure_ii, const std::string& trace,
                const std::string& cov) {
  Harness<Vmfu_l16> h(trace);
  Vmfu_l16& io = h.io();
  const size_t n = prog.elements.size();
  const size_t beats = (n + kLanes - 1) / kLanes;
  std::vector<int64_t> beat_cycle;
  size_t next_out = 0;
  int64_t last_out_cycle = -1, ii = -1;
  auto collect = [&] {
    if (!io.out_valid) return;
    if (next_out >= beats) {
      ++r.mismatches;
      if (r.first_mismatch.empty()) r.first_mismatch = "output beat with no input";
      return;
    }
    const size_t b = next_out++;
    note_latency(r, h.cycle() - beat_cycle[b], "beat " + std::to_string(b));
    if (measure_ii && last_out_cycle >= 0) ii = std::max(ii, h.cycle() - last_out_cycle);
    last_out_cycle = h.cycle();
    for (int l = 0; l < kLanes && b * kLanes + l < n; ++l) {
      const Element& e = prog.elements[b * kLanes + static_cast<size_t>(l)];
      const std::string what =
          e.what.empty() ? "element " + std::to_string(b * kLanes + l) : e.what;
      const int64_t c = sign_extend(get_bits(io.out_c, 16 * l, 16), 16);
      const int64_t hv = sign_extend(get_bits(io.out_h, 16 * l, 16), 16);
      compare(r, c, e.c, what + " c");
      --r.vectors;  // c and h of one element count as one vector
      compare(r, hv, e.h, what + " h");
    }
  };
  for (size_t b = 0; b < beats; ++b) {
    for (int64_t g = 0; b < prog.gaps.size() && g < prog.gaps[b]; ++g) {
      io.in_valid = 0;
      h.tick();
      collect();
    }
    io.in_valid = 1;
    for (int l = 0; l < kLanes; ++l) {
      const size_t i = b * kLanes + static_cast<size_t>(l);
      // Lanes past the last element get zeros; their outputs are not compared.
      const Element e = i < n ? prog.elements[i] : Element{{0, 0, 0, 0}, 0, 0, 0, ""};
      put_bits(io.in_zi, 16 * l, 16, static_cast<uint16_t>(e.z[0]));
      put_bits(io.in_zf, 16 * l, 16, static_cast<uint16_t>(e.z[1]));
      put_bits(io.in_zg, 16 * l, 16, static_cast<uint16_t>(e.z[2]));
      put_bits(io.in_zo, 16 * l, 16, static_cast<uint16_t>(e.z[3]));
      put_bits(io.in_c, 16 * l, 16, static_cast<uint16_t>(e.c_prev));
    }
    beat_cycle.push_back(h.cycle());
    h.tick();
    collect();
  }
  io.in_valid = 0;
  for (int i = 0; i < 32; ++i) {
    h.tick();
    collect();
  }
  if (next_out != beats) {
    ++r.mismatches;
    r.first_mismatch = std::to_string(next_out) + " output beats for " + std::to_string(beats);
  }
  if (measure_ii) r.ii_rtl = ii;
  if (!cov.empty()) h.write_coverage(cov);
  return r;
}

int16_t draw_z(Rng& rng) {
  const uint64_t u = rng.next_u64();
  // Half over the whole Q4.11 range (mostly saturated gates), half within ±4 where the
  // interpolation does its work.
  return u & 1 ? static_cast<int16_t>(u >> 16)
               : static_cast<int16_t>(static_cast<int64_t>((u >> 16) % 16385) - 8192);
}

Program random_program(const CheckOptions& opt) {
  Program p;
  Rng rng(opt.seed * 0xbf58476d1ce4e5b9ull + 5);
  for (int64_t i = 0; i < opt.random_vectors; ++i)
    p.add({draw_z(rng), draw_z(rng), draw_z(rng), draw_z(rng)}, draw_z(rng));
  for (size_t b = 0; b < p.elements.size() / kLanes + 1; ++b)
    p.gaps.push_back(rng.next_u64() % 10 == 0 ? 1 + static_cast<int64_t>(rng.next_u64() % 3) : 0);
  return p;
}

Program directed_program(const CheckOptions& opt) {
  Program p;
  Rng rng(opt.seed + 3);
  // Every Q4.11 input through each gate's activation (the others random), which covers
  // every ROM entry, segment boundary and both saturation ends of sigmoid and tanh.
  for (int gate = 0; gate < 4; ++gate)
    for (int32_t z = -32768; z <= 32767; ++z) {
      std::array<int16_t, 4> zs = {draw_z(rng), draw_z(rng), draw_z(rng), draw_z(rng)};
      zs[static_cast<size_t>(gate)] = static_cast<int16_t>(z);
      p.add(zs, draw_z(rng));
    }
  // Every cell state through f ≈ 1 with i·g = 0, so c passes nearly unchanged into tanh(c).
  for (int32_t c = -32768; c <= 32767; ++c) p.add({0, 32767, 0, 32767}, static_cast<int16_t>(c));
  // All combinations of corner values: zeros, most-negative, saturation of c and h.
  static constexpr int16_t kCorner[] = {-32768, -32767, -16384, -128,  -1,   0,
                                        1,      127,    128,    16384, 32767};
  for (int16_t zi : kCorner)
    for (int16_t zf : kCorner)
      for (int16_t zg : kCorner)
        for (int16_t zo : kCorner)
          for (int16_t c : kCorner) p.add({zi, zf, zg, zo}, c);
  return p;
}

// Golden c and h from the committed preact records, carrying c from step to step.
Program golden_program(const CheckOptions& opt) {
  Program p;
  for (const std::string& path : golden_paths(detail::source_dir(opt))) {
    const GoldenFile g = read_golden(path);
    const int hid = g.hidden_size;
    for (int t = 0; t < g.steps; ++t) {
      const GoldenStep& s = g.step[static_cast<size_t>(t)];
      const auto& c_prev = t == 0 ? g.c0 : g.step[static_cast<size_t>(t - 1)].c;
      for (int j = 0; j < hid; ++j) {
        std::array<int16_t, 4> z;
        for (int gate = 0; gate < 4; ++gate)
          z[static_cast<size_t>(gate)] =
              static_cast<int16_t>(s.preact[static_cast<size_t>(gate * hid + j)]);
        p.add(z, static_cast<int16_t>(c_prev[static_cast<size_t>(j)]),
              g.name + " step " + std::to_string(t) + " element " + std::to_string(j));
        p.elements.back().c = static_cast<int16_t>(s.c[static_cast<size_t>(j)]);
        p.elements.back().h = static_cast<int16_t>(s.h[static_cast<size_t>(j)]);
      }
    }
  }
  return p;
}

}  // namespace

UnitCheck check_mfu(Suite suite, const CheckOptions& opt) {
  UnitCheck r;
  r.unit = "lstm_sharp/mfu";
  r.params = "LANES=" + std::to_string(kLanes);
  r.suite = suite;
  // The SystemC MFU's numbers come from the shipped machine: an element's h is ready
  // mfu.latency_cycles after it was taken, mfu.lanes elements are taken per cycle.
  const Config hw = Config::load(detail::source_dir(opt) + "/configs/hw/lstm_sharp/base.yaml");
  const lstm_sharp::MachineParams m = lstm_sharp::read_machine(hw);
  r.latency_sc = m.mfu_latency;
  r.timing_note = "configs/hw/lstm_sharp/base.yaml mfu: lanes " + std::to_string(m.mfu_lanes) +
                  ", latency_cycles " + std::to_string(m.mfu_latency) + "; II in cycles per " +
                  std::to_string(kLanes) + " elements";
  Program prog;
  switch (suite) {
    case Suite::kRandom:
      prog = random_program(opt);
      break;
    case Suite::kDirected:
      prog = directed_program(opt);
      break;
    case Suite::kGolden:
      prog = golden_program(opt);
      break;
    case Suite::kTiming: {
      Rng rng(opt.seed + 11);
      for (int i = 0; i < 64 * kLanes; ++i)
        prog.add({draw_z(rng), draw_z(rng), draw_z(rng), draw_z(rng)}, draw_z(rng));
      // Mfu::accept: the cycles the SystemC unit is busy taking one beat's elements.
      lstm_sharp::Mfu sc(m.mfu_lanes, m.mfu_latency);
      r.ii_sc = sc.accept(0, kLanes) - m.mfu_latency;
      break;
    }
  }
  const bool ii = suite == Suite::kTiming;
  return detail::run_check(r, opt, [&](const std::string& trace, const std::string& cov) {
    return apply(prog, r, ii, trace, cov);
  });
}

}  // namespace tessel::rtl
