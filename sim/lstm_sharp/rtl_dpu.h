// Co-simulation: the Verilated DPU (rtl/lstm_sharp/dpu.sv, K = 8) behind the tile's DPU calls.
#pragma once

#include <cstdint>
#include <memory>

#include "sim/lstm_sharp/dpu.h"

namespace tessel::lstm_sharp {

// Runs every row the tile computes through the Verilated RTL, in the RTL's own clock
// domain: the tile asks for a sum, the adapter streams the row's K-element passes into the
// DPU cycle by cycle and returns what the RTL produced. The latency and initiation
// interval the tile then charges are the ones measured from the RTL when the adapter is
// built (two back-to-back rows), so a pipeline that differs from Dpu::latency(K) changes
// the simulated cycle count instead of hiding behind the behavioural constant.
// It registers itself (dpu.h, register_rtl_dpu) when this file's object is linked.
class RtlDpu final : public DpuModel {
 public:
  RtlDpu();
  ~RtlDpu();
  RtlDpu(const RtlDpu&) = delete;
  RtlDpu& operator=(const RtlDpu&) = delete;

  // psum + sum(w[i] * a[i]) for i < n, computed by the RTL: the row starts from psum (the
  // partial sum the tile parked, e.g. W·x before U·h) and runs ceil(n / K) passes.
  int64_t accumulate(int64_t psum, const int16_t* w, const int16_t* a, int64_t n) override;
  // read_machine() holds the tiles to K = kRtlDpuWidth, the one width the RTL has.
  int64_t latency(int64_t /*k*/) const override { return latency_; }  // last pass -> sum
  int64_t ii() const override { return ii_; }                         // cycles per pass

  // Rows run through any RtlDpu in this process (tests use it to see the RTL was used).
  static uint64_t rows_simulated();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t latency_ = 0, ii_ = 0;
};

}  // namespace tessel::lstm_sharp
