// ZeRO-Offload memory accounting against hand arithmetic on a toy model, and the largest
// model on the paper's own setup against its published 13B.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "runtime/core/config.h"
#include "sim/zero_offload/memory_accounting.h"

namespace tessel::zero_offload {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// 2 layers, h = 64, 2 heads, sequence 16, vocabulary 128, micro-batch 2.
GptShape toy() {
  GptShape s;
  s.layers = 2;
  s.hidden = 64;
  s.heads = 2;
  s.seq = 16;
  s.vocab = 128;
  s.micro_batch = 2;
  s.checkpointing = true;
  return s;
}

// Block: 12·64² + 13·64 = 49152 + 832 = 49984. Embedding: 128·64 + 16·64 = 9216.
// Final LayerNorm: 128. Total: 2·49984 + 9216 + 128 = 109312.
TEST(ZeroOffloadMemory, ToyParameterCount) {
  EXPECT_EQ(total_params(toy()), 109312);
  EXPECT_EQ(tokens_per_step(toy()), 32);
}

TEST(ZeroOffloadMemory, ToyGpuAndHostByHand) {
  OffloadSpec job;
  job.bucket_params = 50000;
  job.adam_tile_params = 1000;
  GpuSpec gpu;
  gpu.memory_gib = 1;
  gpu.reserved_gib = 0.5;
  const MemoryUse g = offload_gpu_memory(toy(), job, gpu);
  EXPECT_EQ(g.parts.at("params_16bit"), 218624);  // 2 · 109312
  // Checkpoints 2 layers · 2·B·s·h = 2·2·2·16·64 = 8192; a block's working set
  // B·s·h·(34 + 5·a·s/h) = 2048 · 36.5 = 74752 exceeds the logits 2·16·128·6 = 24576.
  EXPECT_EQ(g.parts.at("activations"), 8192 + 74752);
  EXPECT_EQ(g.parts.at("grad_buckets"), 200000);      // two fp16 buckets of 50000
  EXPECT_EQ(g.parts.at("grad_largest_unit"), 99968);  // one block's fp16 gradient
  EXPECT_EQ(g.parts.at("reserved"), 0.5 * kGiB);
  EXPECT_EQ(g.total(), 218624 + 82944 + 200000 + 99968 + 536870912.0);
  EXPECT_TRUE(g.fits());

  HostSpec host;
  host.memory_gib = 1;
  const MemoryUse h = offload_host_memory(toy(), job, host);
  EXPECT_EQ(h.parts.at("master_fp32"), 437248);       // 4 · M
  EXPECT_EQ(h.parts.at("adam_moments"), 874496);      // 8 · M
  EXPECT_EQ(h.parts.at("grad_buffer_fp16"), 218624);  // 2 · M
  EXPECT_EQ(h.parts.at("staging_tiles"), 8000);       // two fp32 tiles of 1000
  job.dpu = true;                                     // a second gradient buffer
  EXPECT_EQ(offload_host_memory(toy(), job, host).total(), 437248 + 874496 + 437248 + 8000.0);

  GptShape flat = toy();
  flat.checkpointing = false;  // every block's working set plus the logits
  EXPECT_EQ(activation_bytes(flat), 2 * 74752 + 24576);

  // GPU-only mixed precision: 16 bytes per parameter.
  const MemoryUse b = baseline_gpu_memory(toy(), gpu);
  EXPECT_EQ(b.parts.at("model_states"), 16.0 * 109312);
}

// GPU bytes with L layers: 2·(49984·L + 9344) + 8192·L + 74752 + 200000 + 99968
// = 108160·L + 393408; 1 MiB holds L = 6. GPU-only: 16·(49984·L + 9344) + 8192·L + 74752
// = 807936·L + 224256; 1 MiB holds L = 1.
TEST(ZeroOffloadMemory, ToyLargestModelByHand) {
  SystemSpec sys;
  sys.gpu.memory_gib = 1.0 / 1024;
  sys.host.memory_gib = 1;
  OffloadSpec job;
  job.bucket_params = 50000;
  job.adam_tile_params = 1000;
  EXPECT_EQ(max_layers(toy(), job, sys, false), 6);
  EXPECT_EQ(max_layers(toy(), job, sys, true), 1);
  sys.host.memory_gib = 1e-6;  // 1074 bytes: nothing fits the host
  EXPECT_EQ(max_layers(toy(), job, sys, false), 0);
}

SystemSpec v100_dgx2() {
  return read_system(Config::load(
      std::string(TESSEL_SOURCE_DIR) + "/configs/hw/zero_offload/v100_dgx2.yaml", "hw"));
}

// ZeRO-Offload trains "over 13 billion parameters on a single GPU" (arXiv 2101.06840,
// abstract; 32 GB V100). Its 12-13B runs use hidden 4096, 32 heads, micro-batch 4 and
// activation checkpointing; DeepSpeed's defaults set the buckets and tiles.
TEST(ZeroOffloadMemory, PaperLargestModelOnV100Within15Percent) {
  GptShape s;
  s.layers = 65;
  s.hidden = 4096;
  s.heads = 32;
  s.seq = 1024;
  s.vocab = 50304;
  s.micro_batch = 4;
  OffloadSpec job;
  job.shape = s;
  const SystemSpec sys = v100_dgx2();
  s.layers = max_layers(s, job, sys, false);
  const double billions = static_cast<double>(total_params(s)) / 1e9;
  EXPECT_NEAR(billions, 13.0, 0.15 * 13.0);
  // The tutorial's 10B model (50 × 4096, micro-batch 10) trains on one 32 GB V100.
  GptShape ten = s;
  ten.layers = 50;
  ten.micro_batch = 10;
  EXPECT_TRUE(offload_gpu_memory(ten, job, sys.gpu).fits());
  // And offload is what makes it fit: GPU-only mixed precision needs 16 bytes a parameter.
  EXPECT_FALSE(baseline_gpu_memory(ten, sys.gpu).fits());
}

}  // namespace
}  // namespace tessel::zero_offload
