// What FGD decodes: a trained word-level language model's output layer and the final hidden
// states (input to the head) of its validation text, with the next word of each position.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/fgd/output_layer.h"
#include "models/nn/trainer.h"

namespace tessel::fgd {

struct DecodeSet {
  OutputLayer head;            // W = the trained wte (tied head), b = 0
  int64_t positions = 0;       // decoding steps
  std::vector<float> hidden;   // positions x head.dim, row-major: LN_f(x) per position
  std::vector<int32_t> next;   // the validation text's next word at each position
  double val_loss = 0;         // mean cross-entropy of the model over these positions (nats)
  std::string tokenizer_kind;  // "word"
};

// Builds the training run's data and model from `config` (the same file that trained it, so
// the vocabulary is rebuilt exactly), loads `checkpoint`, and runs the model over consecutive
// windows of seq_len tokens of the validation split until `positions` positions are
// collected (fewer when the split is shorter). Errors (tessel::Error / IoError) name the
// checkpoint: a parameter or vocabulary that differs from the config's (the trainer's
// checks), a model that is not a language model, a head whose rows differ from the
// vocabulary size.
DecodeSet load_decode_set(const nn::TrainConfig& config, const std::string& checkpoint,
                          int64_t positions);

}  // namespace tessel::fgd
