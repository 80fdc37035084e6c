// Generates the golden-vector text of a fixed-point LSTM case, every intermediate per step.
#include "models/lstm/golden.h"

#include <sstream>

#include "models/common/fixed.h"
#include "models/common/rng.h"
#include "models/lstm/lstm_fixed.h"

namespace tessel::lstm {
namespace {

template <typename T>
void record(std::ostringstream& out, const char* name, const std::vector<T>& v) {
  out << name << ' ' << v.size();
  for (const T& e : v) out << ' ' << static_cast<int64_t>(e);
  out << '\n';
}

std::vector<int16_t> draw(Rng& rng, std::size_t n, double scale, fixed::QFormat f) {
  std::vector<int16_t> v(n);
  for (auto& e : v) e = fixed::quantize(static_cast<float>(rng.uniform(-scale, scale)), f);
  return v;
}

}  // namespace

const std::vector<GoldenCase>& golden_cases() {
  static const std::vector<GoldenCase> cases = {
      // PyTorch init scale 1/sqrt(H), |x| <= 1: the ordinary operating point.
      {"tiny_i3_h4", 3, 4, 5, 1, 0.5, 1.0, 0.5},
      {"small_i8_h16", 8, 16, 8, 2, 0.25, 1.0, 0.5},
      // Large weights, inputs and states: pre-activations and c saturate at +-16.
      {"saturate_i4_h8", 4, 8, 6, 3, 3.9, 3.9, 15.9},
  };
  return cases;
}

std::string golden_text(const GoldenCase& gc) {
  Rng rng(gc.seed);
  const int h = gc.hidden_size;
  const std::size_t rows = static_cast<std::size_t>(4 * h);
  FixedLayerParams p;
  p.input_size = gc.input_size;
  p.hidden_size = h;
  p.w_ih = draw(rng, rows * gc.input_size, gc.weight_scale, fixed::kWeightFormat);
  p.w_hh = draw(rng, rows * h, gc.weight_scale, fixed::kWeightFormat);
  std::vector<double> b(rows);
  for (auto& e : b) e = static_cast<float>(rng.uniform(-gc.weight_scale, gc.weight_scale));
  p.bias.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const float b_hh = static_cast<float>(rng.uniform(-gc.weight_scale, gc.weight_scale));
    p.bias[r] = fixed::quantize(static_cast<float>(b[r]) + b_hh, fixed::kBiasFormat);
  }
  std::vector<int16_t> hs =
      draw(rng, h, gc.state_scale > 3.9 ? 3.9 : gc.state_scale, fixed::kActFormat);
  std::vector<int16_t> cs = draw(rng, h, gc.state_scale, fixed::kCellFormat);

  std::ostringstream out;
  out << "# Tessel fixed-point LSTM golden vector, format 1 (see docs/lstm_kernels.md).\n"
      << "# Regenerate: tessel_lstm_golden tests/models/lstm/golden\n"
      << "# Formats: w_ih w_hh x h Q2.13; bias preact c Q4.11; gate Q0.15; acc int64 with 26\n"
      << "# fraction bits. Records: <name> <count> <values...>, matrices row-major,\n"
      << "# gate rows ordered i, f, g, o.\n";
  out << "case " << gc.name << '\n'
      << "input_size " << gc.input_size << '\n'
      << "hidden_size " << h << '\n'
      << "steps " << gc.steps << '\n';
  record(out, "w_ih", p.w_ih);
  record(out, "w_hh", p.w_hh);
  record(out, "bias", p.bias);
  record(out, "h0", hs);
  record(out, "c0", cs);
  std::vector<int16_t> h_next(h), c_next(h);
  for (int t = 0; t < gc.steps; ++t) {
    const std::vector<int16_t> x = draw(rng, gc.input_size, gc.input_scale, fixed::kActFormat);
    FixedStepTrace tr;
    fixed_cell_step(p, x.data(), hs.data(), cs.data(), h_next.data(), c_next.data(), &tr);
    out << "step " << t << '\n';
    record(out, "x", x);
    record(out, "acc", tr.acc);
    record(out, "preact", tr.preact);
    record(out, "gate", tr.gate);
    record(out, "c", tr.c);
    record(out, "h", tr.h);
    hs = h_next;
    cs = c_next;
  }
  return out.str();
}

}  // namespace tessel::lstm
