// A GPT-2-like decoder as the offload model sees it: units (embedding, blocks, head) with
// their parameter counts and forward FLOPs per micro-batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/keys.h"

namespace tessel::zero_offload {

struct GptShape {
  int64_t layers = 0, hidden = 0, heads = 0, seq = 0, vocab = 0, micro_batch = 0;
  bool checkpointing = true;
};

// One unit of the backward order. The output head shares the embedding matrix (GPT-2 ties
// them), so the head unit holds only the final LayerNorm and the embedding unit the matrix,
// whose gradient is complete only after the last backward unit.
struct Unit {
  enum class Kind { kEmbedding, kBlock, kHead };
  Kind kind;
  int64_t params = 0;
  double fwd_flops = 0;  // one forward of one micro-batch
};

// Reads the shape keys of zero_offload's workload (declared in zero_offload_params.cpp).
GptShape read_gpt_shape(const Keyed& workload);

// 12h² + 13h: QKV (3h² + 3h), attention projection (h² + h), MLP (8h² + 5h), two
// LayerNorms (4h).
int64_t block_params(int64_t hidden);
// Units in forward order: embedding, blocks, head.
std::vector<Unit> units(const GptShape& s);
int64_t total_params(const GptShape& s);
int64_t tokens_per_step(const GptShape& s);
// FLOPs the GPU executes per step: blocks run forward, backward (2× forward) and, with
// checkpointing, the recomputed forward; the head is not checkpointed (Megatron-LM's
// count, Narayanan et al. 2021, appendix: 96·B·s·l·h²·(1 + s/6h + V/16lh) with recompute).
double executed_flops(const GptShape& s);
// 6 · parameters · tokens: the model FLOPs without recompute or attention scores.
double model_flops(const GptShape& s);

}  // namespace tessel::zero_offload
