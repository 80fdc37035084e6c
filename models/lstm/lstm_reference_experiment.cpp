// lstm.reference: the LSTM reference kernels (models/lstm) on a user's nn.LSTM weights (.npz)
// and input sequence (.npy), in float32 or in the accelerator's fixed-point formats; writes
// the outputs as .npy and reports the fixed-point error against float. `tessel lstm run` is
// its front end.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "models/common/fixed.h"
#include "models/common/npy.h"
#include "models/lstm/lstm.h"
#include "models/lstm/lstm_fixed.h"
#include "models/lstm/weights_io.h"
#include "runtime/core/error.h"
#include "runtime/core/experiment.h"
#include "runtime/core/keys.h"
#include "runtime/core/registry.h"

namespace tessel::lstm {
namespace {

namespace fs = std::filesystem;

// y [T] of [D*H, B] -> an array [T, B, D*H] (PyTorch's output layout), or [T, D*H] for an
// unbatched input. h_n / c_n ([L*D] of [H, B]) become [L*D, B, H] the same way.
NpyArray sequence_array(const Sequence& y, bool batched) {
  NpyArray a;
  const int64_t steps = static_cast<int64_t>(y.size());
  const int64_t features = steps ? y[0].rows() : 0, batch = steps ? y[0].cols() : 0;
  a.shape = batched ? std::vector<int64_t>{steps, batch, features}
                    : std::vector<int64_t>{steps, features};
  a.data.reserve(static_cast<std::size_t>(steps * batch * features));
  for (const auto& m : y)
    for (Eigen::Index b = 0; b < m.cols(); ++b)
      for (Eigen::Index f = 0; f < m.rows(); ++f) a.data.push_back(m(f, b));
  return a;
}

// Largest and root-mean-square difference over every element of the outputs.
struct ErrorStats {
  double max_abs = 0, sum_sq = 0;
  int64_t n = 0;
  void add(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
    const Eigen::MatrixXd d = a.cast<double>() - b.cast<double>();
    max_abs = std::max(max_abs, d.cwiseAbs().maxCoeff());
    sum_sq += d.squaredNorm();
    n += d.size();
  }
  double rms() const { return n ? std::sqrt(sum_sq / static_cast<double>(n)) : 0; }
};

const ModelKeys& reference_keys() {
  static const ModelKeys keys = [] {
    ModelKeys m("lstm.reference");
    m.hw.choice("precision", {"fixed", "float"},
                "the accelerator's fixed-point formats (error against float32 reported as "
                "`max_abs_error`, `rms_error`, `h_n_max_abs_error`, `c_n_max_abs_error`) or "
                "float32")
        .def("fixed");
    KeySet& w = m.workload;
    w.text("description", "free text (not read)").opt();
    w.file("weights",
           "`numpy.savez` of the state_dict (.npz: `weight_ih_l0`, ..., `bias_hh_l0`, "
           "`_reverse` for bidirectional)");
    w.file("input", "input sequence (.npy), [steps, batch, input_size] or [steps, input_size]");
    w.text("prefix", "prefix of the arrays in a whole-model state_dict, e.g. `encoder.lstm.`")
        .opt("none");
    w.file("output",
           "also write the outputs there (.npy; with a run folder, `tessel run --out` or a sweep "
           "point, they are also the artifacts `output.npy`, `h_n.npy`, `c_n.npy`)")
        .opt("not written");
    return m;
  }();
  return keys;
}

class LstmReference : public Experiment {
 public:
  const ModelKeys& keys() const override { return reference_keys(); }
  void configure(const Config& hw, const Config& config) override {
    precision_ = Keyed(keys().hw, hw).choice("precision");
    const Keyed workload(keys().workload, config);
    weights_path_ = workload.path("weights");
    input_path_ = workload.path("input");
    if (workload.has("prefix")) prefix_ = workload.text("prefix");
    if (workload.has("output")) output_path_ = workload.path("output");
    // Both files are read here, so that a bad file fails before anything runs.
    weights_ = load_lstm_weights(weights_path_, prefix_);
    const NpyArray in = read_npy(input_path_);
    const int features = weights_.shape.input_size;
    const std::string want = "[steps, batch, " + std::to_string(features) + "] or [steps, " +
                             std::to_string(features) + "]";
    batched_ = in.shape.size() == 3;
    if ((in.shape.size() != 2 && in.shape.size() != 3) || in.shape.back() != features)
      throw ConfigError(input_path_ + ": expected shape " + want + " (input_size " +
                        std::to_string(features) + " of " + weights_path_ + "), got " +
                        in.shape_string());
    const int64_t steps = in.shape[0], batch = batched_ ? in.shape[1] : 1;
    if (steps < 1 || batch < 1)
      throw ConfigError(input_path_ + ": expected shape " + want +
                        " with at least one step and one sequence, got " + in.shape_string());
    x_.assign(static_cast<std::size_t>(steps), Eigen::MatrixXf(features, batch));
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t b = 0; b < batch; ++b)
        for (int f = 0; f < features; ++f)
          x_[static_cast<std::size_t>(t)](f, b) =
              in.data[static_cast<std::size_t>((t * batch + b) * features + f)];
  }

  bool uses_energy_table() const override { return false; }

  SimResult run(RunContext& ctx) override {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    const LstmOutput ref = lstm_forward(weights_, x_);
    LstmOutput out;
    SimResult r;
    if (precision_ == "float") {
      out = ref;
    } else {
      const FixedLstmOutput q =
          fixed_lstm_forward(quantize_weights(weights_), quantize_sequence(x_));
      out.y.reserve(q.y.size());
      for (const auto& m : q.y) out.y.push_back(dequantize(m, fixed::kActFormat));
      for (const auto& m : q.final.h) out.final.h.push_back(dequantize(m, fixed::kActFormat));
      for (const auto& m : q.final.c) out.final.c.push_back(dequantize(m, fixed::kCellFormat));
    }
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    if (precision_ == "fixed") {
      // Error of the fixed-point outputs (y over every step; h_n, c_n) against float32.
      ErrorStats e, eh, ec;
      for (std::size_t t = 0; t < out.y.size(); ++t) e.add(out.y[t], ref.y[t]);
      for (std::size_t k = 0; k < out.final.h.size(); ++k) {
        eh.add(out.final.h[k], ref.final.h[k]);
        ec.add(out.final.c[k], ref.final.c[k]);
      }
      r.metrics["max_abs_error"] = e.max_abs;
      r.metrics["rms_error"] = e.rms();
      r.metrics["h_n_max_abs_error"] = eh.max_abs;
      r.metrics["c_n_max_abs_error"] = ec.max_abs;
    }
    const LstmShape& s = weights_.shape;
    r.metrics["steps"] = static_cast<double>(x_.size());
    r.metrics["batch"] = static_cast<double>(x_[0].cols());
    r.metrics["input_size"] = s.input_size;
    r.metrics["hidden"] = s.hidden_size;
    r.metrics["layers"] = s.num_layers;
    r.metrics["directions"] = s.directions();
    r.metrics["wall_s"] = wall;
    r.labels["precision"] = precision_;
    r.labels["weights"] = weights_path_;
    r.labels["input"] = input_path_;
    if (precision_ == "fixed")
      r.labels["formats"] =
          "weights, x, h Q2.13; bias, c Q4.11; gates Q0.15 (docs/lstm_kernels.md)";

    const NpyArray y = sequence_array(out.y, batched_);
    if (!output_path_.empty()) write_npy(output_path_, y);
    if (!ctx.artifact_dir.empty()) {
      fs::create_directories(ctx.artifact_dir);
      const auto put = [&](const std::string& name, const NpyArray& a) {
        write_npy((fs::path(ctx.artifact_dir) / name).string(), a);
        r.artifacts[fs::path(name).stem().string()] = name;
      };
      put("output.npy", y);
      put("h_n.npy", sequence_array(out.final.h, batched_));
      put("c_n.npy", sequence_array(out.final.c, batched_));
    }
    if (ctx.log)
      *ctx.log << "lstm.reference: " << precision_ << ", " << x_.size() << " steps x batch "
               << x_[0].cols() << ", " << s.num_layers << " layer(s) x " << s.directions()
               << " direction(s), hidden " << s.hidden_size << " (" << wall << " s)\n";
    return r;
  }

 private:
  std::string precision_, weights_path_, input_path_, prefix_, output_path_;
  LstmWeights weights_;
  Sequence x_;
  bool batched_ = true;
};

}  // namespace
}  // namespace tessel::lstm

TESSEL_REGISTER_MODEL("lstm.reference", tessel::lstm::LstmReference,
                      "Run the LSTM reference kernels (float or fixed point) on .npz weights and "
                      "a .npy input (models/lstm)");
