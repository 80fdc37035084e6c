// The "zero_offload" model: ZeRO-Offload training steps on one GPU + PCIe + CPU host;
// step time, GPU idle time, PCIe utilisation, TFLOP/s and the largest model that fits.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/core/registry.h"
#include "sim/core/sc_runtime.h"
#include "sim/zero_offload/memory_accounting.h"
#include "sim/zero_offload/zero_offload_system.h"

namespace tessel::zero_offload {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

void put_memory(const std::string& prefix, const MemoryUse& m, SimResult& r) {
  for (const auto& kv : m.parts) r.metrics[prefix + "." + kv.first + "_gib"] = kv.second / kGiB;
  r.metrics[prefix + ".total_gib"] = m.total() / kGiB;
  r.metrics[prefix + ".capacity_gib"] = m.capacity / kGiB;
}

class ZeroOffloadExperiment : public Experiment {
 public:
  const ModelKeys& keys() const override { return model_keys(); }
  void configure(const Config& hw, const Config& workload) override {
    sys_ = read_system(hw);
    job_ = read_offload(workload);
    check_compatible(sys_, job_, workload);
  }

  SimResult run(RunContext& ctx) override {
    SimResult r;
    const GptShape& s = job_.shape;
    const int64_t m = total_params(s);
    r.labels["gpu"] = sys_.gpu.name;
    r.labels["schedule"] = job_.dpu ? "delayed parameter update" : "synchronous update";
    r.metrics["params"] = static_cast<double>(m);
    r.metrics["params_b"] = static_cast<double>(m) / 1e9;
    r.metrics["tokens_per_step"] = static_cast<double>(tokens_per_step(s));

    // Memory: this model, and the largest of its width on this system, offloaded and not.
    const MemoryUse gpu_mem = offload_gpu_memory(s, job_, sys_.gpu);
    const MemoryUse host_mem = offload_host_memory(s, job_, sys_.host);
    put_memory("gpu_mem", gpu_mem, r);
    put_memory("host_mem", host_mem, r);
    put_memory("baseline_gpu_mem", baseline_gpu_memory(s, sys_.gpu), r);
    GptShape biggest = s, baseline = s;
    biggest.layers = max_layers(s, job_, sys_, false);
    baseline.layers = max_layers(s, job_, sys_, true);
    r.metrics["max_layers_fit"] = static_cast<double>(biggest.layers);
    r.metrics["max_params_fit_b"] = biggest.layers ? total_params(biggest) / 1e9 : 0;
    r.metrics["baseline_max_layers_fit"] = static_cast<double>(baseline.layers);
    r.metrics["baseline_max_params_fit_b"] = baseline.layers ? total_params(baseline) / 1e9 : 0;
    if (baseline.layers)
      r.metrics["max_size_vs_baseline"] =
          static_cast<double>(total_params(biggest)) / static_cast<double>(total_params(baseline));
    const bool fits = gpu_mem.fits() && host_mem.fits();
    r.metrics["fits"] = fits ? 1 : 0;
    if (!fits) {
      // A result, not an error: the breakdown above says which side overflows.
      r.labels["fit"] = "does not fit";
      r.labels["does_not_fit"] = std::string(gpu_mem.fits() ? "" : "GPU ") +
                                 (host_mem.fits() ? "" : "host ") + "memory exceeded";
      return r;
    }
    r.labels["fit"] = "fits";

    sim::prepare_systemc();
    ZeroOffloadSystem system(sys_, job_);
    system.run();

    const std::vector<double> steps = system.measured_step_s();
    const double step = std::accumulate(steps.begin(), steps.end(), 0.0) / steps.size();
    const auto [lo, hi] = std::minmax_element(steps.begin(), steps.end());
    const double n = static_cast<double>(system.steps());
    const double gpu_s = system.gpu().compute_s();
    r.seconds = step;  // one steady-state step: what speedups compare
    r.clock_ghz = 1;
    r.cycles = static_cast<uint64_t>(std::llround(step * 1e9));
    r.metrics["step_time_s"] = step;
    r.metrics["step_time_spread"] = step > 0 ? (*hi - *lo) / step : 0;
    r.metrics["gpu_compute_s"] = gpu_s;
    r.metrics["gpu_idle_s"] = step - gpu_s;
    r.metrics["gpu_idle_fraction"] = (step - gpu_s) / step;
    r.metrics["cpu_adam_s"] = system.cpu().busy_s() / n;
    r.metrics["cpu_adam_gparams_per_s"] = sys_.host.adam_params_per_s() / 1e9;
    r.metrics["host_dram_gbps"] = sys_.host.dram_gbps();
    r.metrics["executed_tflop_per_step"] = executed_flops(s) / 1e12;
    r.metrics["tflops"] = executed_flops(s) / step / 1e12;
    r.metrics["model_tflops"] = model_flops(s) / step / 1e12;
    r.metrics["mfu"] = executed_flops(s) / step / 1e12 / sys_.gpu.peak_tflops;
    r.metrics["tokens_per_s"] = static_cast<double>(tokens_per_step(s)) / step;
    r.metrics["steps_simulated"] = n;
    r.metrics["simulated_s"] = sc_core::sc_time_stamp().to_seconds();

    // PCIe: payload per step each way, and how much of each direction's wire time it took.
    const uint64_t to_host = system.dma().payload_bytes(Direction::kToHost);
    const uint64_t to_gpu = system.dma().payload_bytes(Direction::kToGpu);
    system.report(ctx.counters, r.metrics);
    const auto flat = ctx.counters.flat();
    const double raw = sys_.pcie.raw_gbps() * 1e9;
    r.metrics["pcie_to_host_bytes_per_step"] = static_cast<double>(to_host) / n;
    r.metrics["pcie_to_gpu_bytes_per_step"] = static_cast<double>(to_gpu) / n;
    r.metrics["pcie_bytes_per_step"] = static_cast<double>(to_host + to_gpu) / n;
    r.metrics["pcie_bytes_per_param"] = static_cast<double>(to_host + to_gpu) / n / m;
    r.metrics["pcie_to_host_utilisation"] =
        static_cast<double>(flat.at("pcie.wire_bytes_down")) / n / raw / step;
    r.metrics["pcie_to_gpu_utilisation"] =
        static_cast<double>(flat.at("pcie.wire_bytes_up")) / n / raw / step;
    r.metrics["dma_transactions"] = static_cast<double>(system.dma().transactions());

    const uint64_t expected = 2 * static_cast<uint64_t>(m) * static_cast<uint64_t>(n);
    r.checks.push_back({"PCIe payload per step == 2 bytes/param each way",
                        to_host == expected && to_gpu == expected,
                        std::fabs(static_cast<double>(to_host + to_gpu) - 2.0 * expected), 0,
                        to_host == expected && to_gpu == expected
                            ? ""
                            : std::to_string(to_host) + " to host, " + std::to_string(to_gpu) +
                                  " to GPU, expected " + std::to_string(expected) + " each"});
    r.checks.push_back({"gradients reach host memory", system.host().bytes_written() == to_host,
                        std::fabs(static_cast<double>(system.host().bytes_written()) -
                                  static_cast<double>(to_host)),
                        0, ""});
    r.checks.push_back({"no DMA error responses", system.dma().errors() == 0,
                        static_cast<double>(system.dma().errors()), 0, ""});

    if (ctx.trace) {
      const int g = ctx.trace->track("gpu"), c = ctx.trace->track("cpu_adam");
      const int d2h = ctx.trace->track("pcie_to_host"), h2d = ctx.trace->track("pcie_to_gpu");
      for (const Span& x : system.gpu().forward_spans())
        ctx.trace->span(g, "forward " + std::to_string(x.step), x.start_ns, x.end_ns - x.start_ns);
      for (const Span& x : system.gpu().backward_spans())
        ctx.trace->span(g, "backward " + std::to_string(x.step), x.start_ns, x.end_ns - x.start_ns);
      for (const Span& x : system.cpu().updates())
        ctx.trace->span(c, "adam " + std::to_string(x.step), x.start_ns, x.end_ns - x.start_ns);
      for (const CopySpan& x : system.dma().spans())
        ctx.trace->span(x.dir == Direction::kToHost ? d2h : h2d,
                        x.dir == Direction::kToHost ? "gradients" : "parameters", x.start_ns,
                        x.end_ns - x.start_ns);
    }
    return r;
  }

 private:
  SystemSpec sys_;
  OffloadSpec job_;
};

}  // namespace
}  // namespace tessel::zero_offload

TESSEL_REGISTER_MODEL("zero_offload", tessel::zero_offload::ZeroOffloadExperiment,
                      "ZeRO-Offload training step on a GPU + PCIe + CPU-Adam host (SystemC)");
