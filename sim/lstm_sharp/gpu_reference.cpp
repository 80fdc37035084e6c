// Anchor table → GPU time estimate.
#include "sim/lstm_sharp/gpu_reference.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>

namespace tessel::lstm_sharp {

const KeySet& gpu_reference_keys() {
  static const KeySet keys = [] {
    KeySet k("lstm_sharp gpu_reference");
    k.text("source", "where the measurements come from");
    k.number("layers", 1, 1024, "layers of the measured runs");
    k.number("steps", 1, 1e9, "time steps of the measured runs");
    // Its keys are hidden sizes, not names: GpuReference::load checks them.
    k.open("ms_by_hidden",
           "mapping hidden size → measured time of a whole run in ms (10⁻⁶–10⁹); at least one");
    k.number("peak_gflops", 0.001, 1e7,
             "best measured rate; bounds layers larger than any measured")
        .in("GFLOP/s");
    return k;
  }();
  return keys;
}

GpuReference GpuReference::load(const std::string& path) {
  const Config c = Config::load(path, "gpu_reference");
  gpu_reference_keys().check(c);
  const Keyed k(gpu_reference_keys(), c);
  GpuReference g;
  k.text("source");  // required: an anchor table says where its figures come from
  const double runs = k.number("layers") * k.number("steps");
  // Required (an open key's absence is not caught by check()).
  const Config ms = c.child("ms_by_hidden");
  for (const auto& key : ms.keys()) {
    char* end = nullptr;
    const double h = std::strtod(key.c_str(), &end);
    if (*end != '\0' || h <= 0) ms.fail(key, "expected a hidden size as the key");
    g.step_s_by_hidden_[h] = ms.get_number_range(key, 1e-6, 1e9) * 1e-3 / runs;
  }
  if (g.step_s_by_hidden_.empty()) c.fail("ms_by_hidden", "needs at least one measurement");
  g.peak_flops_ = k.number("peak_gflops") * 1e9;
  return g;
}

double GpuReference::layer_step_seconds(double hidden, double input, double directions) const {
  auto hi = step_s_by_hidden_.lower_bound(hidden);
  double latency;
  if (hi == step_s_by_hidden_.end()) {
    latency = std::prev(hi)->second;
  } else if (hi == step_s_by_hidden_.begin() || hi->first == hidden) {
    latency = hi->second;
  } else {
    auto lo = std::prev(hi);
    const double f = (hidden - lo->first) / (hi->first - lo->first);
    latency = lo->second + f * (hi->second - lo->second);
  }
  return std::max(latency, directions * 8.0 * hidden * (input + hidden) / peak_flops_);
}

double GpuReference::seconds(const LstmWorkload& w) const {
  const double dirs = w.bidirectional ? 2 : 1;
  double s = 0;
  for (int64_t l = 0; l < w.layers; ++l) {
    const double input = l == 0 ? static_cast<double>(w.input_size) : dirs * w.hidden_size;
    s += static_cast<double>(w.seq_len) *
         layer_step_seconds(static_cast<double>(w.hidden_size), input, dirs);
  }
  return s;
}

}  // namespace tessel::lstm_sharp
