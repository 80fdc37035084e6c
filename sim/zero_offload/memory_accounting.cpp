// Memory accounting of offloaded and GPU-only mixed-precision training.
#include "sim/zero_offload/memory_accounting.h"

#include <algorithm>

namespace tessel::zero_offload {

namespace {
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
}

double MemoryUse::total() const {
  double t = 0;
  for (const auto& kv : parts) t += kv.second;
  return t;
}

double activation_bytes(const GptShape& s) {
  const double b = static_cast<double>(s.micro_batch), n = static_cast<double>(s.seq),
               h = static_cast<double>(s.hidden), a = static_cast<double>(s.heads),
               l = static_cast<double>(s.layers), v = static_cast<double>(s.vocab);
  const double block = b * n * h * (34 + 5 * a * n / h);
  const double logits = b * n * v * 6;
  // With checkpointing the logits (live at the loss) and a recomputed block's working set
  // (live during its backward) are never held at once.
  if (s.checkpointing) return l * 2 * b * n * h + std::max(block, logits);
  return l * block + logits;
}

MemoryUse offload_gpu_memory(const GptShape& s, const OffloadSpec& job, const GpuSpec& gpu) {
  MemoryUse m;
  m.capacity = gpu.memory_gib * kGiB;
  int64_t largest = 0;
  for (const Unit& u : units(s)) largest = std::max(largest, u.params);
  m.parts["params_16bit"] = 2.0 * static_cast<double>(total_params(s));
  m.parts["activations"] = activation_bytes(s);
  m.parts["grad_buckets"] = 2.0 * 2.0 * static_cast<double>(job.bucket_params);
  m.parts["grad_largest_unit"] = 2.0 * static_cast<double>(largest);
  m.parts["reserved"] = gpu.reserved_gib * kGiB;
  return m;
}

MemoryUse offload_host_memory(const GptShape& s, const OffloadSpec& job, const HostSpec& host) {
  MemoryUse m;
  m.capacity = host.memory_gib * kGiB;
  const double p = static_cast<double>(total_params(s));
  m.parts["master_fp32"] = 4 * p;
  m.parts["adam_moments"] = 8 * p;
  m.parts["grad_buffer_fp16"] = 2 * p * (job.dpu ? 2 : 1);
  m.parts["staging_tiles"] = 2.0 * 4.0 * static_cast<double>(job.adam_tile_params);
  return m;
}

MemoryUse baseline_gpu_memory(const GptShape& s, const GpuSpec& gpu) {
  MemoryUse m;
  m.capacity = gpu.memory_gib * kGiB;
  m.parts["model_states"] = 16.0 * static_cast<double>(total_params(s));
  m.parts["activations"] = activation_bytes(s);
  m.parts["reserved"] = gpu.reserved_gib * kGiB;
  return m;
}

int64_t max_layers(GptShape s, const OffloadSpec& job, const SystemSpec& sys, bool baseline) {
  auto fits = [&](int64_t layers) {
    s.layers = layers;
    if (baseline) return baseline_gpu_memory(s, sys.gpu).fits();
    return offload_gpu_memory(s, job, sys.gpu).fits() &&
           offload_host_memory(s, job, sys.host).fits();
  };
  // Memory grows with the layer count: double, then bisect.
  if (!fits(1)) return 0;
  int64_t lo = 1, hi = 2;
  while (fits(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > (int64_t{1} << 40)) return lo;
  }
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace tessel::zero_offload
