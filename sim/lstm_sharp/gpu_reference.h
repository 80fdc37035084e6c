// GPU baseline for LSTM-Sharp: batch-1 cuDNN time estimated from measured H100 anchors.
#pragma once

#include <map>
#include <string>

#include "runtime/core/config.h"
#include "runtime/core/keys.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"

namespace tessel::lstm_sharp {

// Per layer-step time t(H, X, d) = max(L(H), d·8·H·(X + H) / R) for d directions: L is
// the measured time per layer-step, linear between the measured hidden sizes and flat
// beyond them (latency bound); R is the best measured rate, which bounds layers larger
// than any measured one. cuDNN runs the two directions of a bidirectional layer in one
// call, concurrently (they are independent), so they share the latency and add only
// their arithmetic. The anchors hold no bidirectional measurement: this is an assumption
// until scripts/gpu-check.sh measures one (docs/lstm_sharp.md).
// The keys of an anchor table file (configs/baselines/*.yaml).
const KeySet& gpu_reference_keys();

class GpuReference {
 public:
  static GpuReference load(const std::string& path);
  double seconds(const LstmWorkload& w) const;
  double layer_step_seconds(double hidden, double input, double directions = 1) const;

 private:
  std::map<double, double> step_s_by_hidden_;
  double peak_flops_ = 0;
};

}  // namespace tessel::lstm_sharp
