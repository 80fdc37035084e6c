// Maps PyTorch nn.LSTM state_dict arrays onto LstmWeights, checking every shape.
#include "models/lstm/weights_io.h"

#include "runtime/core/error.h"

namespace tessel::lstm {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t k = 0; k < s.size(); ++k) out += (k ? ", " : "") + std::to_string(s[k]);
  return out + "]";
}

class ArraySet {
 public:
  ArraySet(const std::map<std::string, NpyArray>& a, const std::string& file,
           const std::string& prefix)
      : arrays_(a), file_(file), prefix_(prefix) {}

  bool has(const std::string& name) const { return arrays_.count(prefix_ + name) > 0; }

  const NpyArray& get(const std::string& name, const std::vector<int64_t>& shape) const {
    auto it = arrays_.find(prefix_ + name);
    if (it == arrays_.end()) missing(name);
    if (it->second.shape != shape)
      throw IoError(file_ + ": array '" + prefix_ + name + "': expected shape " + shape_str(shape) +
                    ", got " + it->second.shape_string());
    return it->second;
  }

  const NpyArray& get_any(const std::string& name) const {
    auto it = arrays_.find(prefix_ + name);
    if (it == arrays_.end()) missing(name);
    if (it->second.shape.size() != 2)
      throw IoError(file_ + ": array '" + prefix_ + name + "': expected 2 dimensions, got " +
                    it->second.shape_string());
    return it->second;
  }

 private:
  // Says what the file holds instead. A whole-model state_dict names the LSTM's arrays
  // under its attribute path ("encoder.lstm.weight_ih_l0"): that path is the prefix.
  [[noreturn]] void missing(const std::string& name) const {
    std::string msg = file_ + ": missing array '" + prefix_ + name +
                      "' (expected PyTorch nn.LSTM state_dict names); the file holds ";
    const size_t kShown = 8;
    size_t shown = 0;
    std::string prefixes;
    for (const auto& kv : arrays_) {
      const std::string& k = kv.first;
      if (shown < kShown) msg += (shown++ ? ", '" : "'") + k + "'";
      if (k.size() > name.size() && k.compare(k.size() - name.size(), name.size(), name) == 0) {
        const std::string p = k.substr(0, k.size() - name.size());
        if (p.back() == '.' && p != prefix_)
          prefixes += (prefixes.empty() ? "\"" : ", \"") + p + "\"";
      }
    }
    if (arrays_.empty()) msg += "no arrays";
    if (arrays_.size() > kShown) msg += " and " + std::to_string(arrays_.size() - kShown) + " more";
    if (!prefixes.empty()) msg += "; load it with prefix " + prefixes;
    throw IoError(msg);
  }

  const std::map<std::string, NpyArray>& arrays_;
  const std::string& file_;
  const std::string& prefix_;
};

Eigen::MatrixXf to_matrix(const NpyArray& a) {
  const Eigen::Index rows = a.shape[0];
  const Eigen::Index cols = a.shape.size() > 1 ? a.shape[1] : 1;
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index r = 0; r < rows; ++r)
    for (Eigen::Index c = 0; c < cols; ++c)
      m(r, c) = a.data[static_cast<std::size_t>(r * cols + c)];
  return m;
}

}  // namespace

LstmWeights lstm_weights_from_arrays(const std::map<std::string, NpyArray>& arrays,
                                     const std::string& file, const std::string& prefix,
                                     const LstmShape* expected) {
  ArraySet set(arrays, file, prefix);
  LstmShape shape;
  if (expected) {
    shape = *expected;
  } else {
    // weight_ih_l0 [4H, input] fixes both sizes; every other array is checked against them.
    const NpyArray& ih = set.get_any("weight_ih_l0");
    if (ih.shape[0] % 4 != 0)
      throw IoError(file + ": array '" + prefix + "weight_ih_l0': first dimension " +
                    std::to_string(ih.shape[0]) + " is not 4 * hidden_size");
    shape.hidden_size = static_cast<int>(ih.shape[0] / 4);
    shape.input_size = static_cast<int>(ih.shape[1]);
    shape.num_layers = 0;
    while (set.has("weight_ih_l" + std::to_string(shape.num_layers))) ++shape.num_layers;
    shape.bidirectional = set.has("weight_ih_l0_reverse");
    if (shape.hidden_size <= 0 || shape.input_size <= 0)
      throw IoError(file + ": array '" + prefix + "weight_ih_l0' has a zero dimension");
  }
  if (set.has("weight_hr_l0"))
    throw IoError(file + ": array '" + prefix +
                  "weight_hr_l0' found: LSTMs with projections (proj_size > 0) are not supported");
  // A layer beyond the expected or inferred count means the file is not this LSTM.
  const std::string extra = "weight_ih_l" + std::to_string(shape.num_layers);
  if (set.has(extra))
    throw IoError(file + ": unexpected array '" + prefix + extra + "' (expected " +
                  std::to_string(shape.num_layers) +
                  (shape.num_layers == 1 ? " layer)" : " layers)"));
  if (!shape.bidirectional && set.has("weight_ih_l0_reverse"))
    throw IoError(file + ": unexpected array '" + prefix +
                  "weight_ih_l0_reverse' (file holds a bidirectional LSTM)");

  LstmWeights w;
  w.shape = shape;
  const int64_t h = shape.hidden_size;
  for (int l = 0; l < shape.num_layers; ++l) {
    for (int d = 0; d < shape.directions(); ++d) {
      const std::string sfx = std::to_string(l) + (d ? "_reverse" : "");
      LayerParams p;
      p.w_ih = to_matrix(set.get("weight_ih_l" + sfx, {4 * h, shape.layer_input_size(l)}));
      p.w_hh = to_matrix(set.get("weight_hh_l" + sfx, {4 * h, h}));
      p.b_ih = to_matrix(set.get("bias_ih_l" + sfx, {4 * h}));
      p.b_hh = to_matrix(set.get("bias_hh_l" + sfx, {4 * h}));
      w.params.push_back(std::move(p));
    }
  }
  return w;
}

LstmWeights load_lstm_weights(const std::string& path, const std::string& prefix) {
  return lstm_weights_from_arrays(read_npz(path), path, prefix, nullptr);
}

LstmWeights load_lstm_weights(const std::string& path, const LstmShape& expected,
                              const std::string& prefix) {
  return lstm_weights_from_arrays(read_npz(path), path, prefix, &expected);
}

}  // namespace tessel::lstm
