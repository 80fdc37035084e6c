// GPU and host memory of ZeRO-Offload training (and of GPU-only mixed-precision training,
// the baseline), and the largest model of a given width that fits.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "sim/zero_offload/zero_offload_params.h"

namespace tessel::zero_offload {

// Bytes by part; `total` sums them.
struct MemoryUse {
  std::map<std::string, double> parts;
  double capacity = 0;
  double total() const;
  bool fits() const { return total() <= capacity; }
};

// Peak activation bytes of one micro-batch (16-bit). With checkpointing: every block's
// input (2·B·s·h each) plus the larger of the logits and the working set of the one block
// being recomputed; without: every block's working set plus the logits. Per block
// B·s·h·(34 + 5·a·s/h) bytes (Korthikanti et al. 2022, "Reducing Activation Recomputation
// in Large Transformer Models", eq. 1 without parallelism). Logits: fp16 plus the fp32
// copy Megatron-LM's cross entropy works in, B·s·V·6 bytes.
double activation_bytes(const GptShape& s);

// ZeRO-Offload. GPU: 16-bit parameters (2M), activations, two gradient buckets (DeepSpeed
// stage 2 with overlap_comm allocates two reduce_bucket_size fp16 buffers), the largest
// unit's 16-bit gradient before it is copied into a bucket, and the reserve. Host: fp32
// master (4M), Adam moments (8M), the fp16 gradient buffer (2M; two with DPU, so that step
// i+1's gradients land while step i's are read), and CPU-Adam's two pinned staging tiles
// (fp32-sized, as DeepSpeed allocates them).
MemoryUse offload_gpu_memory(const GptShape& s, const OffloadSpec& job, const GpuSpec& gpu);
MemoryUse offload_host_memory(const GptShape& s, const OffloadSpec& job, const HostSpec& host);

// GPU-only mixed-precision Adam (PyTorch data parallel on one GPU): 16 bytes per parameter
// (fp16 parameters and gradients, fp32 master and two moments: ZeRO, Rajbhandari et al.
// 2020, section 3.1), activations and the reserve.
MemoryUse baseline_gpu_memory(const GptShape& s, const GpuSpec& gpu);

// Largest layer count (same width, heads, sequence and micro-batch) for which ZeRO-Offload
// fits on both sides, or with `baseline` the GPU-only run fits; 0 when not even one layer.
int64_t max_layers(GptShape s, const OffloadSpec& job, const SystemSpec& sys, bool baseline);

}  // namespace tessel::zero_offload
