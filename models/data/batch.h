// A batch of token sequences: inputs, next-token targets, optional sequence labels.
#pragma once

#include <cstdint>
#include <vector>

namespace tessel::data {

// tokens and targets are [batch, seq] row-major. A negative target is not counted in the
// loss. `labels` ([batch]) is used by the sequence classifier instead of targets.
struct TokenBatch {
  int batch = 0;
  int seq = 0;
  std::vector<int32_t> tokens;
  std::vector<int32_t> targets;
  std::vector<int32_t> labels;

  int64_t size() const { return static_cast<int64_t>(batch) * seq; }
  // The first `seq_len` positions of every sequence (sequence-length warm-up): the same
  // examples, shorter. seq_len >= seq returns a copy.
  TokenBatch truncated(int seq_len) const {
    if (seq_len >= seq || seq_len <= 0) return *this;
    TokenBatch out;
    out.batch = batch;
    out.seq = seq_len;
    out.labels = labels;
    for (int b = 0; b < batch; ++b) {
      const auto from = static_cast<std::ptrdiff_t>(b) * seq;
      out.tokens.insert(out.tokens.end(), tokens.begin() + from, tokens.begin() + from + seq_len);
      if (!targets.empty())
        out.targets.insert(out.targets.end(), targets.begin() + from,
                           targets.begin() + from + seq_len);
    }
    return out;
  }
};

}  // namespace tessel::data
