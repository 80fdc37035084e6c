// Dot-product unit: K int16 × int16 products per cycle into an exact int64 accumulator.
#pragma once

#include <cstdint>
#include <memory>

#include "models/common/fixed.h"

namespace tessel::lstm_sharp {

// A K-wide DPU is a multiplier row, a log2(K)-deep adder tree and an accumulator. A row
// needs ceil(n / K) passes; its sum leaves the accumulator `latency(K)` cycles after the
// last pass. The arithmetic is models/common/fixed.h's exact dot product, so splitting a
// row into passes (or W·x and U·h parts run at different times) cannot change a bit.
struct Dpu {
  static int64_t latency(int64_t k) {
    int64_t depth = 0;
    while ((int64_t{1} << depth) < k) ++depth;
    return depth + 1;
  }
  static int64_t accumulate(int64_t acc, const int16_t* w, const int16_t* a, int64_t n) {
    return acc + fixed::dot(w, a, static_cast<std::size_t>(n));
  }
};

// The DPU as a tile uses it: its arithmetic and its timing. Two implementations: the
// behavioural one below and the co-simulated Verilated DPU (rtl_dpu.h, hw key rtl.dpu).
class DpuModel {
 public:
  virtual ~DpuModel() = default;
  // psum + sum(w[i] * a[i]) for i < n, run as ceil(n / K) passes.
  virtual int64_t accumulate(int64_t psum, const int16_t* w, const int16_t* a, int64_t n) = 0;
  virtual int64_t latency(int64_t k) const = 0;  // cycles from a row's last pass to its sum
  virtual int64_t ii() const = 0;                // cycles per pass, at least
};

class BehaviouralDpu final : public DpuModel {
 public:
  int64_t accumulate(int64_t psum, const int16_t* w, const int16_t* a, int64_t n) override {
    return Dpu::accumulate(psum, w, a, n);
  }
  int64_t latency(int64_t k) const override { return Dpu::latency(k); }
  int64_t ii() const override { return 1; }
};

// The co-simulated DPU registers its constructor when its object file is linked
// (rtl_dpu.cpp, built only with Verilator and SystemC), so whether it is there is known at
// run time: read_machine() rejects rtl.dpu when nothing registered, without a build define.
using DpuFactory = std::unique_ptr<DpuModel> (*)();
void register_rtl_dpu(DpuFactory make);
bool rtl_dpu_available();
// The behavioural DPU, or (rtl) the registered co-simulated one; throws SimError if none is.
std::unique_ptr<DpuModel> make_dpu(bool rtl);

}  // namespace tessel::lstm_sharp
