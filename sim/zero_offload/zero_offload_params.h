// Parameters of the offload system (GPU, PCIe link, host) and of the offloaded training job.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/core/config.h"
#include "runtime/core/keys.h"
#include "sim/memory/dram_params.h"
#include "sim/memory/pcie_link.h"
#include "sim/zero_offload/gpt_shape.h"

namespace tessel::zero_offload {

struct GpuSpec {
  std::string name;
  double peak_tflops = 0;       // dense 16-bit tensor peak (datasheet), for MFU only
  double sustained_tflops = 0;  // what whole-model training sustains: sets compute time
  double memory_gib = 0;
  double reserved_gib = 0;  // driver reserve, CUDA context, library workspaces
  bool bf16 = false;        // has bf16 tensor cores
};

struct HostSpec {
  int64_t sockets = 1, cores_per_socket = 1;
  int64_t cores = 1;  // cores CPU-Adam runs on
  // CPU-Adam throughput per core (parameters per second), from a measurement.
  double adam_params_per_s_per_core = 0;
  // Host DRAM traffic of one parameter's update: fp32 master, m and v read and written
  // (24 B), fp16 gradient read and fp16 parameter written (4 B).
  double adam_bytes_per_param = 28;
  double memory_gib = 0;
  memory::DramParams dram;  // one memory channel (one DIMM: DDR5's two subchannels)
  int64_t channels_per_socket = 1;
  // Sustained DRAM bandwidth of the whole host: sockets × channels × refresh-bound peak.
  double dram_gbps() const {
    return static_cast<double>(sockets * channels_per_socket) * dram.refresh_bound_gbps();
  }
  // CPU-Adam parameters per second: the cores' rate, capped by the DRAM bandwidth.
  double adam_params_per_s() const;
};

// Software side of the offloaded job.
struct OffloadSpec {
  GptShape shape;
  std::string precision = "fp16";
  bool dpu = false;
  int64_t dpu_warmup_steps = 40;
  int64_t measure_steps = 3;
  int64_t bucket_params = 500000000;     // gradient bucket (DeepSpeed reduce_bucket_size)
  int64_t adam_tile_params = 134217728;  // CPU-Adam tile (DeepSpeed TILE)
  int64_t dma_chunk_bytes = 4 << 20;     // one DMA transaction
  int64_t dma_write_window = 2;          // write transactions in flight (to the host)
  int64_t dma_read_window = 4;           // read transactions in flight (to the GPU)
};

struct SystemSpec {
  GpuSpec gpu;
  memory::PcieParams pcie;
  HostSpec host;
};

// The system's (hw) and the job's (workload) keys (configs/README.md is generated from them).
const ModelKeys& model_keys();
SystemSpec read_system(const Config& hw);
OffloadSpec read_offload(const Config& workload);
// Checks that need both halves (bf16 on a GPU without it).
void check_compatible(const SystemSpec& sys, const OffloadSpec& job, const Config& workload);

}  // namespace tessel::zero_offload
