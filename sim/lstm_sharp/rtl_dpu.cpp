// Co-simulation adapter: drives the Verilated dpu (K = 8) pass by pass and measures its timing.
#include "sim/lstm_sharp/rtl_dpu.h"

#include <Vdpu_k8.h>

#include <atomic>
#include <string>

#include "rtl/harness/harness.h"
#include "runtime/core/error.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"

namespace tessel::lstm_sharp {
namespace {

constexpr int kAccBits = 48;
std::atomic<uint64_t> g_rows{0};

// Linking this file makes rtl.dpu available (dpu.h).
const bool g_registered = [] {
  register_rtl_dpu([]() -> std::unique_ptr<DpuModel> { return std::make_unique<RtlDpu>(); });
  return true;
}();

}  // namespace

struct RtlDpu::Impl {
  rtl::Harness<Vdpu_k8> h{std::string()};

  // Presents one pass (or an idle cycle) and clocks it in; returns whether a sum came out.
  bool step(bool valid, bool first, bool last, const int16_t* w, const int16_t* a, int64_t n,
            int64_t psum, int64_t* out) {
    Vdpu_k8& io = h.io();
    io.in_valid = valid;
    io.in_first = first;
    io.in_last = last;
    if (valid) {
      for (int j = 0; j < kRtlDpuWidth; ++j) {
        const bool live = j < n;
        rtl::put_bits(io.in_w, 16 * j, 16, live ? static_cast<uint16_t>(w[j]) : 0);
        rtl::put_bits(io.in_a, 16 * j, 16, live ? static_cast<uint16_t>(a[j]) : 0);
      }
      rtl::put_bits(io.in_psum, 0, kAccBits, static_cast<uint64_t>(psum));
    }
    h.tick();
    if (!io.out_valid) return false;
    *out = rtl::sign_extend(rtl::get_bits(io.out_acc, 0, kAccBits), kAccBits);
    return true;
  }

  // One row; returns the sum and, through `lat`, the cycles from its last pass to the sum.
  int64_t row(int64_t psum, const int16_t* w, const int16_t* a, int64_t n, int64_t* lat) {
    const int64_t passes = n > 0 ? (n + kRtlDpuWidth - 1) / kRtlDpuWidth : 1;
    int64_t sum = 0;
    for (int64_t p = 0; p < passes; ++p) {
      const int64_t off = p * kRtlDpuWidth;
      if (step(true, p == 0, p == passes - 1, w + off, a + off, n - off, psum, &sum))
        throw SimError("rtl dpu: a sum appeared before the row's last pass");
    }
    const int64_t last = h.cycle() - 1;
    for (int i = 0; i < 64; ++i)
      if (step(false, false, false, nullptr, nullptr, 0, 0, &sum)) {
        if (lat) *lat = h.cycle() - last;
        ++g_rows;
        return sum;
      }
    throw SimError("rtl dpu: no sum within 64 cycles of the row's last pass");
  }
};

RtlDpu::RtlDpu() : impl_(std::make_unique<Impl>()) {
  // Measure the pipeline: one row for the latency, then two single-pass rows back to back,
  // whose sums leave `ii` cycles apart.
  const int16_t one[kRtlDpuWidth] = {1, 1, 1, 1, 1, 1, 1, 1};
  impl_->row(0, one, one, kRtlDpuWidth, &latency_);
  int64_t sum = 0, first_out = -1;
  impl_->step(true, true, true, one, one, kRtlDpuWidth, 0, &sum);
  impl_->step(true, true, true, one, one, kRtlDpuWidth, 0, &sum);
  for (int i = 0; i < 64 && ii_ == 0; ++i)
    if (impl_->step(false, false, false, nullptr, nullptr, 0, 0, &sum)) {
      if (first_out < 0)
        first_out = impl_->h.cycle();
      else
        ii_ = impl_->h.cycle() - first_out;
    }
  if (latency_ <= 0 || ii_ <= 0) throw SimError("rtl dpu: could not measure latency and II");
}

RtlDpu::~RtlDpu() = default;

int64_t RtlDpu::accumulate(int64_t psum, const int16_t* w, const int16_t* a, int64_t n) {
  int64_t lat = 0;
  const int64_t sum = impl_->row(psum, w, a, n, &lat);
  if (lat != latency_)
    throw SimError("rtl dpu: latency " + std::to_string(lat) + " after " +
                   std::to_string(latency_) + " when calibrated");
  return sum;
}

uint64_t RtlDpu::rows_simulated() {
  return g_rows.load();
}

}  // namespace tessel::lstm_sharp
