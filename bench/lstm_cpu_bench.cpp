// CPU LSTM time per step: float32 (Eigen) vs bit-exact fixed point, batch 1, input = hidden.
#include <benchmark/benchmark.h>

#include "models/lstm/lstm.h"
#include "models/lstm/lstm_fixed.h"

namespace {

using namespace tessel::lstm;

// One time step of one layer: W_ih x + W_hh h + b, activations, state update.
void BM_LstmStepFloat(benchmark::State& state) {
  const int hid = static_cast<int>(state.range(0));
  const LstmWeights w = LstmWeights::random({hid, hid, 1, false}, 1);
  const Sequence x = random_sequence(1, hid, 1, 2);
  Eigen::MatrixXf h = Eigen::MatrixXf::Zero(hid, 1), c = Eigen::MatrixXf::Zero(hid, 1);
  Sequence y(1, Eigen::MatrixXf(hid, 1));
  for (auto _ : state) {
    lstm_layer_forward(w.params[0], x, false, h, c, y, 0);
    benchmark::DoNotOptimize(y[0].data());
  }
  state.counters["MAC/s"] =
      benchmark::Counter(4.0 * hid * 2 * hid * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_LstmStepFixed(benchmark::State& state) {
  const int hid = static_cast<int>(state.range(0));
  const FixedLayerParams p = quantize_layer(LstmWeights::random({hid, hid, 1, false}, 1).params[0]);
  const FixedSequence x = quantize_sequence(random_sequence(1, hid, 1, 2));
  std::vector<int16_t> h(hid, 0), c(hid, 0), h2(hid), c2(hid);
  for (auto _ : state) {
    fixed_cell_step(p, x[0].data(), h.data(), c.data(), h2.data(), c2.data());
    h.swap(h2);
    c.swap(c2);
    benchmark::DoNotOptimize(h.data());
  }
  state.counters["MAC/s"] =
      benchmark::Counter(4.0 * hid * 2 * hid * state.iterations(), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_LstmStepFloat)
    ->Arg(256)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(1536)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LstmStepFixed)
    ->Arg(256)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(1536)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
