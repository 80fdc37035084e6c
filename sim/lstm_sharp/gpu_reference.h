// GPU baseline for LSTM-Sharp: batch-1 cuDNN time estimated from measured H100 anchors.
#pragma once

#include <map>
#include <string>

#include "runtime/core/config.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"

namespace tessel::lstm_sharp {

// Per layer-step time t(H, X) = max(L(H), 8·H·(X + H) / R): L is the measured
// time per layer-step, linear between the measured hidden sizes and flat beyond them
// (latency bound); R is the best measured rate, which bounds layers larger than any
// measured one. Directions run one after the other, as cuDNN does at batch 1.
class GpuReference {
 public:
  static GpuReference load(const std::string& path);
  double seconds(const LstmWorkload& w) const;
  double layer_step_seconds(double hidden, double input) const;

 private:
  std::map<double, double> step_s_by_hidden_;
  double peak_flops_ = 0;
};

}  // namespace tessel::lstm_sharp
