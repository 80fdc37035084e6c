// Builds and wires the offload system; the steady-state measurement window.
#include "sim/zero_offload/zero_offload_system.h"

#include <algorithm>

namespace tessel::zero_offload {

namespace {
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
}

ZeroOffloadSystem::ZeroOffloadSystem(const SystemSpec& sys, const OffloadSpec& job)
    : sys_(sys), job_(job) {
  const std::vector<Unit> us = units(job.shape);
  const uint64_t m = static_cast<uint64_t>(total_params(job.shape));
  // DPU starts after the warm-up, and no earlier than step 1 (step 0 has no earlier update
  // to overlap with). Two steps after the switch the schedule is periodic; then measure.
  const int64_t dpu_from = job.dpu ? std::max<int64_t>(job.dpu_warmup_steps, 1) : -1;
  steps_ = std::max<int64_t>(dpu_from, 0) + 2 + job.measure_steps + 1;
  const int64_t grad_buffers = job.dpu ? 2 : 1;
  // Host address map: gradient buffers, then the fp16 parameter staging copy.
  const uint64_t param_base = static_cast<uint64_t>(grad_buffers) * 2 * m;

  link_ = std::make_unique<memory::PcieLink>("pcie", sys.pcie);
  host_ = std::make_unique<HostMemory>(
      "host_dram", static_cast<uint64_t>(sys.host.memory_gib * kGiB), sys.host.dram_gbps());
  dma_ = std::make_unique<DmaEngine>("dma", static_cast<uint64_t>(job.dma_chunk_bytes),
                                     job.dma_write_window, job.dma_read_window);
  dma_->socket.bind(link_->upstream);
  link_->downstream.bind(host_->socket);
  orch_ =
      std::make_unique<StepOrchestrator>(us, steps_, dpu_from, *dma_, 0, grad_buffers, param_base);
  gpu_ = std::make_unique<GpuCompute>("gpu", us, job.shape.checkpointing,
                                      sys.gpu.sustained_tflops * 1e12, steps_,
                                      2 * static_cast<uint64_t>(job.bucket_params), *orch_);
  cpu_ = std::make_unique<CpuAdamHost>("cpu_adam", us, job.adam_tile_params,
                                       sys.host.adam_params_per_s(), steps_, *orch_);
}

void ZeroOffloadSystem::run() {
  sc_core::sc_start();
}

std::vector<double> ZeroOffloadSystem::measured_step_s() const {
  const std::vector<double>& start = gpu_->step_start_ns();
  std::vector<double> out;
  const size_t n = start.size();
  for (size_t i = n - 1 - static_cast<size_t>(job_.measure_steps); i + 1 < n; ++i)
    out.push_back((start[i + 1] - start[i]) * 1e-9);
  return out;
}

void ZeroOffloadSystem::report(Counters& counters, std::map<std::string, double>& metrics) {
  link_->report("pcie", counters, metrics);
  host_->report("host_dram", sc_core::sc_time_stamp(), counters, metrics);
}

}  // namespace tessel::zero_offload
