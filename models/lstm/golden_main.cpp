// Writes the fixed-point LSTM golden vectors, and the sample weights and input that
// configs/experiments/lstm_reference.yaml runs: tessel_lstm_golden <output folder>.
#include <fstream>
#include <iostream>
#include <map>

#include "models/common/npy.h"
#include "models/lstm/golden.h"
#include "models/lstm/lstm.h"

namespace {

// A 2-layer bidirectional nn.LSTM(8, 8) at PyTorch's initialisation scale, as its state_dict
// exported with np.savez, and a batch of 2 sequences of 12 steps, (seq, batch, feature).
void write_sample(const std::string& folder) {
  using namespace tessel;
  const lstm::LstmShape shape{8, 8, 2, true};
  const lstm::LstmWeights w = lstm::LstmWeights::random(shape, 2026);
  std::map<std::string, NpyArray> arrays;
  const auto matrix = [](const Eigen::MatrixXf& m) {
    NpyArray a;
    a.shape = {m.rows(), m.cols()};
    for (Eigen::Index r = 0; r < m.rows(); ++r)
      for (Eigen::Index c = 0; c < m.cols(); ++c) a.data.push_back(m(r, c));
    return a;
  };
  const auto vector = [](const Eigen::VectorXf& v) {
    NpyArray a;
    a.shape = {v.size()};
    a.data.assign(v.data(), v.data() + v.size());
    return a;
  };
  for (int l = 0; l < shape.num_layers; ++l)
    for (int d = 0; d < shape.directions(); ++d) {
      const std::string suffix = "_l" + std::to_string(l) + (d ? "_reverse" : "");
      const lstm::LayerParams& p = w.at(l, d);
      arrays["weight_ih" + suffix] = matrix(p.w_ih);
      arrays["weight_hh" + suffix] = matrix(p.w_hh);
      arrays["bias_ih" + suffix] = vector(p.b_ih);
      arrays["bias_hh" + suffix] = vector(p.b_hh);
    }
  write_npz(folder + "/bilstm_i8_h8.npz", arrays);
  const lstm::Sequence x = lstm::random_sequence(12, 8, 2, 2027);
  NpyArray in;
  in.shape = {12, 2, 8};
  for (const auto& m : x)
    for (Eigen::Index b = 0; b < m.cols(); ++b)
      for (Eigen::Index f = 0; f < m.rows(); ++f) in.data.push_back(m(f, b));
  write_npy(folder + "/bilstm_i8_h8_input.npy", in);
  std::cout << "wrote " << folder << "/bilstm_i8_h8.npz, bilstm_i8_h8_input.npy\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <output folder, e.g. tests/models/lstm/golden>\n";
    return 2;
  }
  for (const auto& c : tessel::lstm::golden_cases()) {
    const std::string path = std::string(argv[1]) + "/" + c.name + ".txt";
    std::ofstream out(path, std::ios::binary);
    out << tessel::lstm::golden_text(c);
    if (!out) {
      std::cerr << path << ": cannot write\n";
      return 4;
    }
    std::cout << "wrote " << path << '\n';
  }
  write_sample(argv[1]);
  return 0;
}
