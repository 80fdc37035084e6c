// Parameter and FLOP counts of a GPT-2-like decoder.
#include "sim/zero_offload/gpt_shape.h"

namespace tessel::zero_offload {

GptShape read_gpt_shape(const Keyed& w) {
  GptShape s;
  s.layers = w.integer("layers");
  s.hidden = w.integer("hidden");
  s.heads = w.integer("heads");
  if (s.hidden % s.heads) w.fail("heads", "must divide hidden (" + std::to_string(s.hidden) + ")");
  s.seq = w.integer("seq");
  s.vocab = w.integer("vocab");
  s.micro_batch = w.integer("micro_batch");
  s.checkpointing = w.flag("checkpointing");
  return s;
}

int64_t block_params(int64_t h) {
  return 12 * h * h + 13 * h;
}

std::vector<Unit> units(const GptShape& s) {
  const double b = static_cast<double>(s.micro_batch), n = static_cast<double>(s.seq),
               h = static_cast<double>(s.hidden), v = static_cast<double>(s.vocab);
  std::vector<Unit> u;
  // Token and learned position embeddings; the lookup's FLOPs are negligible.
  u.push_back({Unit::Kind::kEmbedding, s.vocab * s.hidden + s.seq * s.hidden, 0});
  // Per block: QKV 6Bsh², projection 2Bsh², MLP 16Bsh², scores and weighted values 4Bs²h.
  for (int64_t l = 0; l < s.layers; ++l)
    u.push_back(
        {Unit::Kind::kBlock, block_params(s.hidden), 24 * b * n * h * h + 4 * b * n * n * h});
  // Final LayerNorm and the logits against the tied embedding.
  u.push_back({Unit::Kind::kHead, 2 * s.hidden, 2 * b * n * h * v});
  return u;
}

int64_t total_params(const GptShape& s) {
  int64_t m = 0;
  for (const Unit& u : units(s)) m += u.params;
  return m;
}

int64_t tokens_per_step(const GptShape& s) {
  return s.micro_batch * s.seq;
}

double executed_flops(const GptShape& s) {
  double f = 0;
  for (const Unit& u : units(s))
    f += u.fwd_flops * ((u.kind == Unit::Kind::kBlock && s.checkpointing) ? 4 : 3);
  return f;
}

double model_flops(const GptShape& s) {
  return 6.0 * static_cast<double>(total_params(s)) * static_cast<double>(tokens_per_step(s));
}

}  // namespace tessel::zero_offload
