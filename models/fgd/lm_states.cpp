// Loads a trained LM's head and the hidden states of its validation text (models/nn Trainer).
#include "models/fgd/lm_states.h"

#include <algorithm>

#include "runtime/core/error.h"

namespace tessel::fgd {

DecodeSet load_decode_set(const nn::TrainConfig& config, const std::string& checkpoint,
                          int64_t positions) {
  if (config.task != "lm")
    throw Error(checkpoint + ": FGD decodes a language model (task lm), the config's task is " +
                    config.task,
                kExitFailure);
  if (positions < 1)
    throw Error("fgd: positions must be at least 1 (got " + std::to_string(positions) + ")",
                kExitFailure);
  nn::Trainer trainer(config, "");
  trainer.load_checkpoint(checkpoint);
  nn::Transformer<float>* lm = trainer.transformer();
  if (!lm || lm->config().head != nn::Head::kLanguageModel)
    throw Error(checkpoint + ": not a Transformer language model", kExitFailure);
  const nn::ParamStore<float>& params = lm->params();
  const int wte = params.index("wte");
  const nn::ParamInfo& info = params.info(wte);
  const int vocab = trainer.tokenizer()->vocab_size();
  if (info.rows != vocab)
    throw IoError(checkpoint + ": the output head has " + std::to_string(info.rows) +
                  " rows, the vocabulary has " + std::to_string(vocab) + " words");

  DecodeSet set;
  set.tokenizer_kind = trainer.tokenizer()->kind();
  set.head.vocab = info.rows;
  set.head.dim = info.cols;
  const auto w = params.value(wte);
  set.head.weight.assign(w.data(), w.data() + w.size());
  set.head.bias.assign(static_cast<std::size_t>(info.rows), 0.0f);

  // Consecutive windows of the validation text; each window's positions see only that
  // window's earlier tokens (the model's context is seq_len).
  const std::vector<int32_t>& val = trainer.lm_tokens().val;
  const int seq = config.seq_len;
  double loss_sum = 0;
  for (int64_t off = 0;
       off + seq + 1 <= static_cast<int64_t>(val.size()) && set.positions < positions; off += seq) {
    data::TokenBatch b;
    b.batch = 1;
    b.seq = seq;
    b.tokens.assign(val.begin() + off, val.begin() + off + seq);
    b.targets.assign(val.begin() + off + 1, val.begin() + off + seq + 1);
    loss_sum += static_cast<double>(lm->loss(b)) * seq;
    const auto& h = lm->final_hidden();
    const int64_t take = std::min<int64_t>(seq, positions - set.positions);
    set.hidden.insert(set.hidden.end(), h.data(), h.data() + take * set.head.dim);
    set.next.insert(set.next.end(), b.targets.begin(), b.targets.begin() + take);
    set.positions += take;
  }
  if (set.positions == 0)
    throw Error(checkpoint + ": the validation split is shorter than one window of " +
                    std::to_string(seq) + " tokens",
                kExitFailure);
  const int64_t windows = (set.positions + seq - 1) / seq;
  set.val_loss = loss_sum / static_cast<double>(windows * seq);
  return set;
}

}  // namespace tessel::fgd
