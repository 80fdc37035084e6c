// Fuzz target: the YAML config loader, text alone (Config::parse) and files with base: and
// include: (Config::load). The input is up to three files separated by NUL bytes: main.yaml,
// a.yaml and b.yaml, so one file can pull in the others.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/core/config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessel;
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string parts[3];
  size_t k = 0;
  for (char c : input) {
    if (c == '\0' && k < 2)
      ++k;
    else
      parts[k] += c;
  }
  fuzz::expect_clean("main.yaml", [&] {
    Config c = Config::parse(parts[0], "main.yaml", "root");
    c.to_json().dump();
  });
  fuzz::write_temp("a.yaml", parts[1]);
  fuzz::write_temp("b.yaml", parts[2]);
  const std::string main_path = fuzz::write_temp("main.yaml", parts[0]);
  fuzz::expect_clean(fuzz::temp_dir(), [&] {
    Config c = Config::load(main_path, "root");
    c.to_json().dump();
    // The typed getters on every top-level key, as a model's configure() would read them.
    for (const auto& key : c.keys()) {
      for (auto get : {+[](const Config&x, const std::string&k) { x.get<int64_t>(k); },
                       +[](const Config&x, const std::string&k) { x.get<double>(k); },
                       +[](const Config&x, const std::string&k) { x.get_path(k); },
                       +[](const Config&x, const std::string&k) { x.get_int_range(k, 1, 64); }}) {
        try {
          get(c, key);
        } catch (const ConfigError& e) {
          if (std::string(e.what()).find(fuzz::temp_dir()) == std::string::npos)
            fuzz::finding(std::string("getter error without the file: ") + e.what());
        }
      }
    }
    c.reject_unused();
  });
  return 0;
}
