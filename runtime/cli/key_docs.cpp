// Markdown key tables generated from each model's KeySet (runtime/core/keys.h).
#include "runtime/cli/key_docs.h"

#include <memory>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/core/registry.h"

namespace tessel::cli {
namespace {

const ModelKeys& keys_of(const std::string& model, const std::string& where) {
  std::unique_ptr<Experiment> e = Registry::instance().create(model);
  if (!e) throw ConfigError(where + "unknown model '" + model + "' (see `tessel list`)");
  // The experiment object goes away; its declaration is a static that outlives it.
  return e->keys();
}

}  // namespace

std::string model_keys_markdown(const std::string& model) {
  const ModelKeys& keys = keys_of(model, "");
  std::string out =
      "hw (besides `model`, and `energy.*` for simulations, which every hw file has):\n\n" +
      keys.hw.markdown() + "\nworkload:\n\n" + keys.workload.markdown();
  for (const auto& [name, set] : keys.files)
    out += "\n" + name + " (a file it loads):\n\n" + set->markdown();
  return out;
}

std::string regenerate_key_sections(const std::string& text, const std::string& file) {
  std::istringstream in(text);
  std::string out, line;
  int number = 0, open_line = 0;
  const std::string begin = "<!-- keys: ", end = "<!-- end keys -->";
  while (std::getline(in, line)) {
    ++number;
    if (open_line) {
      if (line == end) {
        out += line + "\n";
        open_line = 0;
      }
      continue;  // the old table is dropped; the declaration's replaces it
    }
    out += line + "\n";
    if (line.rfind(begin, 0) != 0) continue;
    const std::string where = file + ":" + std::to_string(number) + ": ";
    std::istringstream words(line.substr(begin.size()));
    std::string model, part, close;
    words >> model >> part >> close;
    if (close != "-->") throw ConfigError(where + "expected '<!-- keys: MODEL PART -->'");
    const KeySet* set = nullptr;
    if (model == "shared" && part == "hw") {
      set = &shared_hw_keys(true);
    } else {
      const ModelKeys& keys = keys_of(model, where);
      std::string parts = "hw, workload";
      if (part == "hw") set = &keys.hw;
      if (part == "workload") set = &keys.workload;
      for (const auto& [name, file] : keys.files) {
        if (part == name) set = file;
        parts += ", " + name;
      }
      if (!set) throw ConfigError(where + "part '" + part + "': expected one of " + parts);
    }
    out += set->markdown();
    open_line = number;
  }
  if (open_line)
    throw ConfigError(file + ":" + std::to_string(open_line) + ": section has no '" + end + "'");
  return out;
}

}  // namespace tessel::cli
