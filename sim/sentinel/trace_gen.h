// A training step's tensor trace generated from the engine's Transformer shapes without
// running the maths: the same events, in the same order, that models/nn's Transformer
// (language-model head) and Trainer record, for models too large to train here.
#pragma once

#include <cstdint>

#include "sim/sentinel/tensor_profile.h"

namespace tessel::sentinel {

struct TransformerShape {
  int64_t vocab = 0, max_seq = 0, layers = 0, width = 0, heads = 0, mlp_ratio = 4;
  int64_t batch = 0, seq = 0;
  int64_t step = 0;
};

// Throws ConfigError naming the field when a dimension is not positive or width % heads.
TraceFile generate_transformer_trace(const TransformerShape& s);

}  // namespace tessel::sentinel
