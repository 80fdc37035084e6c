// Training checkpoints: parameters, AdamW moments, step and metadata in one atomic file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Full header, not json_fwd.hpp: Checkpoint holds `params` and `meta` by value.
#include <nlohmann/json.hpp>

namespace tessel::nn {

// File layout (little-endian):
//   8 bytes magic "TSLNNCK1"
//   u64 header length, then the header: JSON with "step", "adam_steps", "params" (list of
//     {name, rows, cols}) and anything the trainer adds under "meta" (tokenizer, model)
//   f32 values[n], f32 adam_m[n], f32 adam_v[n]   (n = Σ rows·cols)
//   u64 FNV-1a hash of every byte before it
// Written with tessel::write_file_atomic, so a crash mid-write leaves the old checkpoint.
struct Checkpoint {
  int64_t step = 0;        // steps completed
  int64_t adam_steps = 0;  // AdamW's t
  nlohmann::json params;   // [{name, rows, cols}, ...]
  nlohmann::json meta;
  std::vector<float> values, m, v;
};

void write_checkpoint(const std::string& path, const Checkpoint& c);
// Throws tessel::IoError naming the file: missing, bad magic, truncated, hash mismatch.
Checkpoint read_checkpoint(const std::string& path);
// The Transformer block layout the weights were trained in, meta "layout" (`model.layout`'s
// values): files written before the post-LN layout existed hold pre-LN weights.
std::string checkpoint_layout(const Checkpoint& c);
// Empty when the weights are in `layout` (a `model.layout` value); otherwise why they cannot
// be loaded there, naming both layouts (the same names in the other layout are another
// function).
std::string layout_mismatch(const Checkpoint& c, const std::string& layout);

}  // namespace tessel::nn
