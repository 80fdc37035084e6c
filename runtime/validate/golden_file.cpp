// Golden-vector text parser: header lines, then `<name> <count> <values...>` records.
#include "runtime/validate/golden_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/core/error.h"

namespace tessel::rtl {

GoldenFile read_golden(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read golden file " + path);
  GoldenFile g;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string key;
    ls >> key;
    auto fail = [&](const std::string& why) {
      throw IoError(path + ":" + std::to_string(line_no) + ": " + why);
    };
    if (key == "case") {
      ls >> g.name;
    } else if (key == "input_size") {
      ls >> g.input_size;
    } else if (key == "hidden_size") {
      ls >> g.hidden_size;
    } else if (key == "steps") {
      ls >> g.steps;
    } else if (key == "step") {
      g.step.emplace_back();
    } else {
      int64_t count = -1;
      ls >> count;
      std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(count, 0)));
      for (auto& e : v) ls >> e;
      if (count < 0 || !ls) fail("bad record '" + key + "'");
      GoldenStep* s = g.step.empty() ? nullptr : &g.step.back();
      std::vector<int64_t>* dst = nullptr;
      if (key == "w_ih") dst = &g.w_ih;
      if (key == "w_hh") dst = &g.w_hh;
      if (key == "bias") dst = &g.bias;
      if (key == "h0") dst = &g.h0;
      if (key == "c0") dst = &g.c0;
      if (s && key == "x") dst = &s->x;
      if (s && key == "acc") dst = &s->acc;
      if (s && key == "preact") dst = &s->preact;
      if (s && key == "gate") dst = &s->gate;
      if (s && key == "c") dst = &s->c;
      if (s && key == "h") dst = &s->h;
      if (!dst) fail("unknown record '" + key + "'");
      *dst = std::move(v);
    }
  }
  if (g.input_size <= 0 || g.hidden_size <= 0 || static_cast<int>(g.step.size()) != g.steps)
    throw IoError(path + ": incomplete golden file");
  return g;
}

std::vector<std::string> golden_paths(const std::string& source_dir) {
  std::vector<std::string> out;
  for (const auto& e :
       std::filesystem::directory_iterator(source_dir + "/tests/models/lstm/golden"))
    if (e.path().extension() == ".txt") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tessel::rtl
