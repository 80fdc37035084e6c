// Reads the offload system and job keys (every key documented in docs/zero_offload.md).
#include "sim/zero_offload/zero_offload_params.h"

#include <algorithm>

namespace tessel::zero_offload {

double HostSpec::adam_params_per_s() const {
  return std::min(static_cast<double>(cores) * adam_params_per_s_per_core,
                  dram_gbps() * 1e9 / adam_bytes_per_param);
}

namespace {

GpuSpec read_gpu(const Config& g) {
  GpuSpec s;
  s.name = g.get<std::string>("name");
  s.peak_tflops = g.get_number_range("peak_tflops", 1e-6, 1e6);
  s.sustained_tflops = g.get_number_range("sustained_tflops", 1e-9, 1e6);
  if (s.sustained_tflops > s.peak_tflops) g.fail("sustained_tflops", "exceeds peak_tflops");
  s.memory_gib = g.get_number_range("memory_gib", 1e-6, 1e6);
  s.reserved_gib = g.get_number_range("reserved_gib", 0, 1e6, 0);
  s.bf16 = g.get<bool>("bf16", false);
  if (g.has("source")) g.get<std::string>("source");
  return s;
}

HostSpec read_host(const Config& h) {
  HostSpec s;
  s.sockets = h.get_int_range("sockets", 1, 64);
  s.cores_per_socket = h.get_int_range("cores_per_socket", 1, 4096);
  s.cores = h.get_int_range("cores", 1, 1 << 20);
  if (s.cores > s.sockets * s.cores_per_socket)
    h.fail("cores", "exceeds sockets × cores_per_socket (" +
                        std::to_string(s.sockets * s.cores_per_socket) + ")");
  s.adam_params_per_s_per_core = h.get_number_range("adam_mparams_per_s_per_core", 1e-9, 1e9) * 1e6;
  s.adam_bytes_per_param = h.get_number_range("adam_bytes_per_param", 1, 1024, 28);
  s.memory_gib = h.get_number_range("memory_gib", 1e-6, 1e9);
  const Config dram = h.child("dram");
  const Config device = Config::load(dram.get_path("device"), "host.dram.device");
  s.dram = memory::read_dram_params(device.child("dram"), device.child("controller"));
  s.channels_per_socket = dram.get_int_range("channels_per_socket", 1, 64);
  if (h.has("source")) h.get<std::string>("source");
  return s;
}

}  // namespace

SystemSpec read_system(const Config& hw) {
  hw.get<std::string>("description", "");
  SystemSpec s;
  s.gpu = read_gpu(hw.child("gpu"));
  s.pcie = memory::read_pcie_params(hw.child("pcie"));
  s.host = read_host(hw.child("host"));
  return s;
}

OffloadSpec read_offload(const Config& w) {
  OffloadSpec j;
  j.shape = read_gpt_shape(w);
  j.precision = w.get_choice("precision", {"fp16", "bf16"}, "fp16");
  j.dpu = w.get<bool>("dpu", false);
  j.dpu_warmup_steps = w.get_int_range("dpu_warmup_steps", 0, 1000000, 40);
  j.measure_steps = w.get_int_range("measure_steps", 1, 1000, 3);
  j.bucket_params =
      static_cast<int64_t>(w.get_number_range("bucket_mparams", 1e-6, 1e6, 500) * 1e6);
  j.adam_tile_params = w.get_int_range("adam_tile_params", 1, int64_t{1} << 40, 134217728);
  j.dma_chunk_bytes =
      static_cast<int64_t>(w.get_number_range("dma_chunk_mib", 1.0 / 1024, 4095, 4) * (1 << 20));
  j.dma_write_window = w.get_int_range("dma_write_window", 1, 4096, 2);
  j.dma_read_window = w.get_int_range("dma_read_window", 1, 4096, 4);
  if (j.bucket_params < 1) w.fail("bucket_mparams", "must be at least one parameter");
  return j;
}

void check_compatible(const SystemSpec& sys, const OffloadSpec& job, const Config& workload) {
  if (job.precision == "bf16" && !sys.gpu.bf16)
    workload.fail("precision", "GPU '" + sys.gpu.name + "' has no bf16 tensor cores");
}

}  // namespace tessel::zero_offload
