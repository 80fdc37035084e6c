// One GPU + PCIe link + host running ZeRO-Offload training steps: the GPU's copy engines
// reach host DRAM through the sim/memory PCIe link model; CPU-Adam updates on the host.
#pragma once

#include <systemc>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/counters.h"
#include "sim/memory/pcie_link.h"
#include "sim/zero_offload/cpu_adam_host.h"
#include "sim/zero_offload/dma_engine.h"
#include "sim/zero_offload/gpu_compute.h"
#include "sim/zero_offload/host_memory.h"
#include "sim/zero_offload/step_orchestrator.h"
#include "sim/zero_offload/zero_offload_params.h"

namespace tessel::zero_offload {

class ZeroOffloadSystem {
 public:
  ZeroOffloadSystem(const SystemSpec& sys, const OffloadSpec& job);
  void run();  // simulates every step to the end

  int64_t steps() const { return steps_; }
  // Steady-state step times: starts of consecutive forwards over the last measured steps.
  std::vector<double> measured_step_s() const;

  const GpuCompute& gpu() const { return *gpu_; }
  const CpuAdamHost& cpu() const { return *cpu_; }
  const DmaEngine& dma() const { return *dma_; }
  const HostMemory& host() const { return *host_; }
  const StepOrchestrator& orchestrator() const { return *orch_; }
  void report(Counters& counters, std::map<std::string, double>& metrics);

 private:
  SystemSpec sys_;
  OffloadSpec job_;
  int64_t steps_ = 0;
  std::unique_ptr<memory::PcieLink> link_;
  std::unique_ptr<HostMemory> host_;
  std::unique_ptr<DmaEngine> dma_;
  std::unique_ptr<StepOrchestrator> orch_;
  std::unique_ptr<GpuCompute> gpu_;
  std::unique_ptr<CpuAdamHost> cpu_;
};

}  // namespace tessel::zero_offload
