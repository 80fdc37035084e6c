// Corpus reading, splitting and sampling; the synthetic Markov-chain corpus.
#include "models/data/corpus.h"

#include "runtime/core/error.h"
#include "runtime/core/file_io.h"

namespace tessel::data {

std::string read_text_file(const std::string& path) {
  std::string text = read_file(path, "corpus file");
  if (text.empty()) throw IoError(path + ": corpus file is empty");
  return text;
}

TokenSplit split_tokens(const std::vector<int32_t>& ids, double val_fraction) {
  if (!(val_fraction >= 0 && val_fraction < 1))
    throw Error("corpus: val_fraction must be in [0, 1)", kExitConfig);
  const auto n_train =
      static_cast<std::size_t>(static_cast<double>(ids.size()) * (1.0 - val_fraction));
  TokenSplit s;
  s.train.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n_train));
  s.val.assign(ids.begin() + static_cast<std::ptrdiff_t>(n_train), ids.end());
  return s;
}

TokenSampler::TokenSampler(const std::vector<int32_t>* ids, int seq) : ids_(ids), seq_(seq) {
  if (seq <= 0) throw Error("corpus: sequence length must be positive", kExitConfig);
  if (static_cast<int64_t>(ids->size()) < seq + 1)
    throw Error("corpus: " + std::to_string(ids->size()) +
                    " tokens are fewer than seq + 1 = " + std::to_string(seq + 1),
                kExitConfig);
}

TokenBatch TokenSampler::from_offsets(const std::vector<int64_t>& offsets) const {
  TokenBatch b;
  b.batch = static_cast<int>(offsets.size());
  b.seq = seq_;
  b.tokens.reserve(static_cast<std::size_t>(b.size()));
  b.targets.reserve(static_cast<std::size_t>(b.size()));
  for (int64_t o : offsets) {
    auto it = ids_->begin() + o;
    b.tokens.insert(b.tokens.end(), it, it + seq_);
    b.targets.insert(b.targets.end(), it + 1, it + seq_ + 1);
  }
  return b;
}

TokenBatch TokenSampler::sample(int batch, Rng& rng) const {
  const auto span = static_cast<uint64_t>(ids_->size()) - static_cast<uint64_t>(seq_);
  std::vector<int64_t> offsets(static_cast<std::size_t>(batch));
  for (auto& o : offsets) o = static_cast<int64_t>(rng.next_u64() % span);
  return from_offsets(offsets);
}

TokenBatch TokenSampler::fixed(int batch, int64_t index, int64_t batches) const {
  const int64_t span = static_cast<int64_t>(ids_->size()) - seq_ - 1;
  const int64_t windows = static_cast<int64_t>(batch) * batches;
  std::vector<int64_t> offsets(static_cast<std::size_t>(batch));
  for (int b = 0; b < batch; ++b) {
    const int64_t w = index * batch + b;
    offsets[static_cast<std::size_t>(b)] = windows > 1 ? span * w / (windows - 1) : 0;
  }
  return from_offsets(offsets);
}

std::string synthetic_corpus(std::size_t chars, uint64_t seed) {
  static const char* kWords[] = {
      "the",   "a",    "king", "queen", "lord",  "lady",  "good",  "noble", "sweet", "fair",
      "shall", "will", "doth", "hath",  "speak", "come",  "go",    "love",  "know",  "see",
      "my",    "thy",  "our",  "his",   "her",   "heart", "night", "day",   "world", "blood",
      "to",    "of",   "and",  "in",    "with",  "not",   "but",   "is",    "be",    "for",
      "thee",  "me",   "him",  "death", "crown", "sword", "true",  "now"};
  constexpr int kN = sizeof(kWords) / sizeof(kWords[0]);
  constexpr int kFanout = 4;  // successors per word: low entropy, learnable
  Rng rng(seed);
  int next[kN][kFanout];
  for (auto& row : next)
    for (int& w : row) w = static_cast<int>(rng.next_u64() % kN);
  std::string out;
  out.reserve(chars + 16);
  int word = 0, in_sentence = 0;
  while (out.size() < chars) {
    if (in_sentence == 0) {
      std::string w = kWords[word];
      w[0] = static_cast<char>(w[0] - 'a' + 'A');
      out += w;
    } else {
      out += ' ';
      out += kWords[word];
    }
    ++in_sentence;
    // Sentences of 4..11 words end with a period and a newline.
    if (in_sentence >= 4 && rng.uniform() < 0.15 + 0.1 * (in_sentence >= 12)) {
      out += ".\n";
      in_sentence = 0;
    }
    word = next[word][rng.next_u64() % kFanout];
  }
  out.resize(chars);
  return out;
}

}  // namespace tessel::data
