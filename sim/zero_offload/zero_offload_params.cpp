// Reads the offload system and job keys (every key documented in docs/zero_offload.md).
#include "sim/zero_offload/zero_offload_params.h"

#include <algorithm>

#include "sim/memory/memory_keys.h"

namespace tessel::zero_offload {

// Ranges are what the hardware and the job can be; they also keep byte and FLOP counts
// inside 64 bits and doubles exact enough.
const ModelKeys& model_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("zero_offload");
    KeySet& k = m.hw;
    k.text("description", "free text").opt("none");
    k.section("gpu", "the GPU (usually `{base: <preset>}`)");
    k.text("gpu.name", "the GPU's name (label `gpu`)");
    k.number("gpu.peak_tflops", 1e-6, 1e6,
             "dense 16-bit tensor peak (datasheet); used for MFU only")
        .in("TFLOP/s");
    k.number("gpu.sustained_tflops", 1e-9, 1e6,
             "what whole-model training sustains (at most peak_tflops); sets compute time")
        .in("TFLOP/s");
    k.number("gpu.memory_gib", 1e-6, 1e6, "GPU memory").in("GiB");
    k.number("gpu.reserved_gib", 0, 1e6, "driver reserve, CUDA context and library workspaces")
        .def("0")
        .in("GiB");
    k.flag("gpu.bf16", "has bf16 tensor cores (needed by `precision: bf16`)").def("false");
    k.text("gpu.source", "where the figures come from").opt("none");
    k.section("pcie", "the GPU's PCIe link (sim/memory's read_pcie_params)");
    k.include("pcie", memory::pcie_keys());
    k.section("host", "the CPU host (usually `{base: <preset>}`)");
    k.integer("host.sockets", 1, 64, "CPU sockets");
    k.integer("host.cores_per_socket", 1, 4096, "cores per socket");
    k.integer("host.cores", 1, 1 << 20,
              "cores CPU-Adam runs on (at most sockets × cores_per_socket)");
    k.number("host.adam_mparams_per_s_per_core", 1e-9, 1e9,
             "measured CPU-Adam rate per core (bench/cpu_adam_bench.cpp)")
        .in("M params/s");
    k.number("host.adam_bytes_per_param", 1, 1024,
             "DRAM traffic of one parameter's update: fp32 master, m and v read and written "
             "(24 B), fp16 gradient in and fp16 parameter out (4 B)")
        .def("28")
        .in("B");
    k.number("host.memory_gib", 1e-6, 1e9, "host memory").in("GiB");
    k.section("host.dram", "the host's DRAM: CPU-Adam's rate is capped by its bandwidth");
    k.file("host.dram.device",
           "a sim/memory DRAM device file (`kind: dram`) describing one channel (one DIMM); "
           "its refresh-bound bandwidth is used");
    k.integer("host.dram.channels_per_socket", 1, 64, "memory channels per socket");
    k.text("host.source", "where the figures come from").opt("none");

    KeySet& w = m.workload;
    w.integer("layers", 1, 100000, "Transformer blocks of the GPT-2-like model");
    w.integer("hidden", 1, 1 << 20, "hidden size");
    w.integer("heads", 1, 1 << 16, "attention heads (must divide hidden)");
    w.integer("seq", 1, 1 << 20, "sequence length").in("tokens");
    w.integer("vocab", 1, 1 << 24, "vocabulary size (the embedding is tied to the output head)");
    w.integer("micro_batch", 1, 1 << 16, "sequences per step");
    w.flag("checkpointing", "activation checkpointing (recompute the blocks' forward)").def("true");
    w.choice("precision", {"fp16", "bf16"}, "16-bit training type; bf16 needs `gpu.bf16`")
        .def("fp16");
    w.flag("dpu", "delayed parameter update (one-step-stale parameters after the warm-up)")
        .def("false");
    w.integer("dpu_warmup_steps", 0, 1000000, "synchronous steps before the delayed update")
        .def("40");
    w.integer("measure_steps", 1, 1000, "steady-state steps averaged").def("3");
    w.number("bucket_mparams", 1e-6, 1e6, "gradient bucket (DeepSpeed reduce_bucket_size)")
        .def("500")
        .in("M params");
    w.integer("adam_tile_params", 1, int64_t{1} << 40, "CPU-Adam tile (DeepSpeed TILE)")
        .def("134217728");
    w.number("dma_chunk_mib", 1.0 / 1024, 4095, "one DMA transaction").def("4").in("MiB");
    w.integer("dma_write_window", 1, 4096, "write transactions in flight (to the host)").def("2");
    w.integer("dma_read_window", 1, 4096, "read transactions in flight (to the GPU)").def("4");
    return m;
  }();
  return keys;
}

double HostSpec::adam_params_per_s() const {
  return std::min(static_cast<double>(cores) * adam_params_per_s_per_core,
                  dram_gbps() * 1e9 / adam_bytes_per_param);
}

namespace {

GpuSpec read_gpu(const Keyed& g) {
  GpuSpec s;
  s.name = g.text("name");
  s.peak_tflops = g.number("peak_tflops");
  s.sustained_tflops = g.number("sustained_tflops");
  if (s.sustained_tflops > s.peak_tflops) g.fail("sustained_tflops", "exceeds peak_tflops");
  s.memory_gib = g.number("memory_gib");
  s.reserved_gib = g.number("reserved_gib");
  s.bf16 = g.flag("bf16");
  return s;
}

HostSpec read_host(const Keyed& h) {
  HostSpec s;
  s.sockets = h.integer("sockets");
  s.cores_per_socket = h.integer("cores_per_socket");
  s.cores = h.integer("cores");
  if (s.cores > s.sockets * s.cores_per_socket)
    h.fail("cores", "exceeds sockets × cores_per_socket (" +
                        std::to_string(s.sockets * s.cores_per_socket) + ")");
  s.adam_params_per_s_per_core = h.number("adam_mparams_per_s_per_core") * 1e6;
  s.adam_bytes_per_param = h.number("adam_bytes_per_param");
  s.memory_gib = h.number("memory_gib");
  const Keyed dram = h.child("dram");
  // A device file of sim/memory's form, loaded here: checked against its own keys.
  const Config device = Config::load(dram.path("device"), "host.dram.device");
  memory::device_keys().check(device);
  s.dram = memory::read_dram_params(device.child("dram"), device.child("controller"));
  s.channels_per_socket = dram.integer("channels_per_socket");
  return s;
}

}  // namespace

SystemSpec read_system(const Config& hw) {
  const Keyed k(model_keys().hw, hw);
  SystemSpec s;
  s.gpu = read_gpu(k.child("gpu"));
  s.pcie = memory::read_pcie_params(hw.child("pcie"));
  s.host = read_host(k.child("host"));
  return s;
}

OffloadSpec read_offload(const Config& workload) {
  const Keyed w(model_keys().workload, workload);
  OffloadSpec j;
  j.shape = read_gpt_shape(w);
  j.precision = w.choice("precision");
  j.dpu = w.flag("dpu");
  j.dpu_warmup_steps = w.integer("dpu_warmup_steps");
  j.measure_steps = w.integer("measure_steps");
  j.bucket_params = static_cast<int64_t>(w.number("bucket_mparams") * 1e6);
  j.adam_tile_params = w.integer("adam_tile_params");
  j.dma_chunk_bytes = static_cast<int64_t>(w.number("dma_chunk_mib") * (1 << 20));
  j.dma_write_window = w.integer("dma_write_window");
  j.dma_read_window = w.integer("dma_read_window");
  if (j.bucket_params < 1) w.fail("bucket_mparams", "must be at least one parameter");
  return j;
}

void check_compatible(const SystemSpec& sys, const OffloadSpec& job, const Config& workload) {
  if (job.precision == "bf16" && !sys.gpu.bf16)
    workload.fail("precision", "GPU '" + sys.gpu.name + "' has no bf16 tensor cores");
}

}  // namespace tessel::zero_offload
