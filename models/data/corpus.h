// Plain-text corpus loading, train/validation split, batch sampling, synthetic corpus.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/common/rng.h"
#include "models/data/batch.h"

namespace tessel::data {

// Whole file as bytes. Throws tessel::IoError naming the file when it is missing,
// unreadable or empty.
std::string read_text_file(const std::string& path);

// Tokens split by position: the first (1 - val_fraction) for training, the rest for
// validation (contiguous, as nanoGPT splits tinyshakespeare, so no text leaks).
struct TokenSplit {
  std::vector<int32_t> train, val;
};
TokenSplit split_tokens(const std::vector<int32_t>& ids, double val_fraction);

// Windows of seq + 1 tokens from one token stream: inputs are the first seq, targets the
// last seq (next-token prediction).
class TokenSampler {
 public:
  // Throws tessel::Error when the stream is shorter than seq + 1 tokens.
  TokenSampler(const std::vector<int32_t>* ids, int seq);
  int seq() const { return seq_; }
  // `batch` windows at uniformly random offsets drawn from rng.
  TokenBatch sample(int batch, Rng& rng) const;
  // Deterministic batch number `index` of an evaluation pass: windows at evenly spaced
  // offsets, so every evaluation sees the same tokens.
  TokenBatch fixed(int batch, int64_t index, int64_t batches) const;

 private:
  TokenBatch from_offsets(const std::vector<int64_t>& offsets) const;
  const std::vector<int32_t>* ids_;
  int seq_;
};

// Deterministic English-like text for default jobs and tests (no data files needed):
// sentences from a 48-word vocabulary whose next-word choice follows a sparse random
// Markov chain drawn from `seed`, so a model can learn it well below the unigram entropy.
// Exactly `chars` bytes.
std::string synthetic_corpus(std::size_t chars, uint64_t seed);

}  // namespace tessel::data
