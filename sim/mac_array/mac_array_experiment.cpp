// The cycle-level MAC-array experiment: builds the SystemC model, runs it, checks C = A·B.
#include <memory>

#include "runtime/core/error.h"
#include "runtime/core/registry.h"
#include "runtime/core/seed.h"
#include "sim/mac_array/mac_array.h"
#include "sim/system/offchip.h"

namespace tessel::mac_array {
namespace {

linalg::MatrixI8 random_matrix(int64_t rows, int64_t cols, uint64_t& state) {
  linalg::MatrixI8 m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i)
    m.data()[i] = static_cast<int8_t>(static_cast<uint8_t>(splitmix64(state) >> 56));
  return m;
}

class MacArrayExperiment : public Experiment {
 public:
  const ModelKeys& keys() const override { return model_keys(); }
  void configure(const Config& hw, const Config& workload) override {
    params_ = read_params(hw);
    workload_ = read_workload(workload);
    check_size(workload, params_, workload_, /*simulated=*/true);
    layout_ = make_layout(workload_);
    offchip_ = sim::read_offchip(hw, params_.clock_ghz);
    sim::check_fits(offchip_, hw, layout_.end, "the GEMM's layout (A, B and C, tile-major)");
  }

  SimResult run(RunContext& ctx) override {
    sim::prepare_systemc();
    auto chunks = schedule(params_, workload_);
    int64_t tiles = chunks.back().tile + 1;
    linalg::MatrixI8 a, b;
    linalg::MatrixI32 c;
    if (workload_.functional) {
      uint64_t state = ctx.seed;
      a = random_matrix(workload_.m, workload_.k, state);
      b = random_matrix(workload_.k, workload_.n, state);
      c = linalg::MatrixI32::Zero(workload_.m, workload_.n);
    }
    const bool f = workload_.functional;
    const sim::Clock clock(params_.clock_ghz);
    // One outstanding request on a link (latency + transfer per chunk, serialised), as the
    // model's DMA engine has always been; with a memory the port's outstanding cap applies.
    sim::OffchipSystem offchip(offchip_, clock, /*pipelined_link=*/false);
    auto top =
        std::make_unique<MacArray>("mac_array", params_, workload_, layout_, chunks, tiles, clock,
                                   offchip.read_port(), offchip.write_port(), f ? &a : nullptr,
                                   f ? &b : nullptr, f ? &c : nullptr, ctx.counters, ctx.trace);
    sc_core::sc_start();
    SimResult r;
    r.cycles = top->finish_cycle();
    if (r.cycles == 0)
      throw SimError("mac_array: simulation ended before the last tile was stored");
    r.clock_ghz = params_.clock_ghz;
    offchip.report(clock.cycles(r.cycles), ctx.counters, r.metrics);
    r.labels["offchip"] = offchip_.label();
    double macs = static_cast<double>(workload_.m) * workload_.n * workload_.k;
    r.metrics["utilization"] = macs / (static_cast<double>(params_.rows * params_.cols) * r.cycles);
    r.metrics["gflops"] = 2 * macs * params_.clock_ghz / static_cast<double>(r.cycles);
    r.metrics["pe_array_busy_fraction"] =
        static_cast<double>(top->busy_cycles()) / static_cast<double>(r.cycles);
    if (f) {
      linalg::MatrixI32 ref = linalg::gemm_int8(a, b);
      Check check{"C == A*B (int8, int32 accumulation)", true, 0, 0, ""};
      for (int64_t i = 0; i < ref.rows() && check.passed; ++i)
        for (int64_t j = 0; j < ref.cols(); ++j) {
          double err = std::abs(static_cast<double>(c(i, j)) - ref(i, j));
          check.max_error = std::max(check.max_error, err);
          if (err > 0 && check.passed) {
            check.passed = false;
            check.detail = "C[" + std::to_string(i) + "][" + std::to_string(j) +
                           "] = " + std::to_string(c(i, j)) + ", reference " +
                           std::to_string(ref(i, j));
          }
        }
      r.checks.push_back(check);
    }
    return r;
  }

 private:
  MacArrayParams params_;
  GemmWorkload workload_;
  Layout layout_;
  sim::OffchipSpec offchip_;
};

}  // namespace

TESSEL_REGISTER_MODEL(
    "mac_array", MacArrayExperiment,
    "cycle-level SystemC int8 MAC-array GEMM accelerator (demo of the full path)");

}  // namespace tessel::mac_array
