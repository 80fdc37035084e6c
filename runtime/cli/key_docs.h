// Key tables from the models' declarations: `tessel list --keys MODEL` and the generated
// sections of configs/README.md (`tessel list --readme FILE [--check]`).
#pragma once

#include <string>

namespace tessel::cli {

// The hw and workload tables of one registered model, as Markdown. Throws ConfigError for an
// unknown model name.
std::string model_keys_markdown(const std::string& model);

// `text` (the contents of `file`) with every generated section replaced by the current
// declaration. A section is the lines between
//   <!-- keys: MODEL PART -->   (PART hw, workload or one of the model's files; MODEL
//                                 "shared" for the keys every hw file has)
// and
//   <!-- end keys -->
// Throws ConfigError naming file:line for an unknown model, part or unclosed section.
std::string regenerate_key_sections(const std::string& text, const std::string& file);

}  // namespace tessel::cli
