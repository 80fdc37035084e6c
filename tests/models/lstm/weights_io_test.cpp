// Loads nn.LSTM weights from .npz archives written by the test's own zip/npy writer.
#include "models/lstm/weights_io.h"

#include <functional>

#include <gtest/gtest.h>

#include "runtime/core/error.h"
#include "tests/models/common/npy_writer.h"

namespace tessel::lstm {
namespace {

using tessel::testing::npy_bytes;
using tessel::testing::ZipEntry;

std::vector<double> row_major(const Eigen::MatrixXf& m) {
  std::vector<double> v;
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c) v.push_back(m(r, c));
  return v;
}

// The arrays np.savez(**lstm.state_dict()) would write, optionally edited by the caller.
std::vector<ZipEntry> entries(const LstmWeights& w, const std::string& prefix = "") {
  std::vector<ZipEntry> out;
  for (int l = 0; l < w.shape.num_layers; ++l)
    for (int d = 0; d < w.shape.directions(); ++d) {
      const LayerParams& p = w.at(l, d);
      const std::string s = std::to_string(l) + (d ? "_reverse" : "");
      out.push_back({prefix + "weight_ih_l" + s + ".npy",
                     npy_bytes({p.w_ih.rows(), p.w_ih.cols()}, row_major(p.w_ih))});
      out.push_back({prefix + "weight_hh_l" + s + ".npy",
                     npy_bytes({p.w_hh.rows(), p.w_hh.cols()}, row_major(p.w_hh))});
      out.push_back(
          {prefix + "bias_ih_l" + s + ".npy", npy_bytes({p.b_ih.rows()}, row_major(p.b_ih))});
      out.push_back({prefix + "bias_hh_l" + s + ".npy",
                     npy_bytes({p.b_hh.rows()}, row_major(p.b_hh)), 0, true});
    }
  return out;
}

std::string io_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  }
  return "(no IoError thrown)";
}

TEST(LstmWeightsIo, LoadsBidirectionalTwoLayerAndInfersShape) {
  const LstmShape shape{5, 6, 2, true};
  const LstmWeights w = LstmWeights::random(shape, 3);
  const std::string path = testing::write_file("lstm_ok.npz", testing::zip_bytes(entries(w)));
  const LstmWeights got = load_lstm_weights(path);
  EXPECT_TRUE(got.shape == shape);
  ASSERT_EQ(got.params.size(), w.params.size());
  for (std::size_t k = 0; k < w.params.size(); ++k) {
    EXPECT_EQ(got.params[k].w_ih, w.params[k].w_ih);
    EXPECT_EQ(got.params[k].w_hh, w.params[k].w_hh);
    EXPECT_EQ(got.params[k].b_ih, w.params[k].b_ih);
    EXPECT_EQ(got.params[k].b_hh, w.params[k].b_hh);
  }
  EXPECT_NO_THROW(load_lstm_weights(path, shape));
}

TEST(LstmWeightsIo, Prefix) {
  const LstmWeights w = LstmWeights::random({3, 4, 1, false}, 3);
  const std::string path =
      testing::write_file("lstm_prefix.npz", testing::zip_bytes(entries(w, "encoder.lstm.")));
  EXPECT_EQ(load_lstm_weights(path, "encoder.lstm.").params[0].w_hh, w.params[0].w_hh);
  EXPECT_EQ(io_error([&] { load_lstm_weights(path); }),
            path +
                ": missing array 'weight_ih_l0' (expected PyTorch nn.LSTM state_dict names); the "
                "file holds 'encoder.lstm.bias_hh_l0', 'encoder.lstm.bias_ih_l0', "
                "'encoder.lstm.weight_hh_l0', 'encoder.lstm.weight_ih_l0'; load it with prefix "
                "\"encoder.lstm.\"");
}

TEST(LstmWeightsIo, WholeModelStateDictNamesEveryLstmPrefix) {
  // model.state_dict() of a seq2seq model: an embedding and two LSTMs (8 arrays each).
  const LstmWeights w = LstmWeights::random({3, 4, 2, true}, 3);
  auto e = entries(w, "encoder.lstm.");
  for (const auto& d : entries(w, "decoder.lstm.")) e.push_back(d);
  e.push_back({"embedding.weight.npy", npy_bytes({10, 3}, std::vector<double>(30, 0.0))});
  const std::string path = testing::write_file("lstm_model.npz", testing::zip_bytes(e));
  EXPECT_EQ(io_error([&] { load_lstm_weights(path); }),
            path +
                ": missing array 'weight_ih_l0' (expected PyTorch nn.LSTM state_dict names); the "
                "file holds 'decoder.lstm.bias_hh_l0', 'decoder.lstm.bias_hh_l0_reverse', "
                "'decoder.lstm.bias_hh_l1', 'decoder.lstm.bias_hh_l1_reverse', "
                "'decoder.lstm.bias_ih_l0', 'decoder.lstm.bias_ih_l0_reverse', "
                "'decoder.lstm.bias_ih_l1', 'decoder.lstm.bias_ih_l1_reverse' and 25 more; load "
                "it with prefix \"decoder.lstm.\", \"encoder.lstm.\"");
  EXPECT_TRUE(load_lstm_weights(path, "encoder.lstm.").shape == w.shape);
}

TEST(LstmWeightsIo, TorchSaveFilesAreRecognised) {
  const std::string hint =
      "; export the arrays with numpy.savez, e.g. np.savez(\"w.npz\", **{k: v.cpu().numpy() for "
      "k, v in model.state_dict().items()})";
  // torch.save (PyTorch >= 1.6): a zip of archive/data.pkl, archive/data/0, ...
  const std::string zip = testing::write_file(
      "lstm_torch.pt", testing::zip_bytes({{"archive/data.pkl", "\x80\x02}q\x00."},
                                           {"archive/data/0", std::string(64, '\0')},
                                           {"archive/version", "3\n"}}));
  EXPECT_EQ(io_error([&] { load_lstm_weights(zip); }),
            zip +
                ": is a PyTorch torch.save file (zip archive with 'archive/data.pkl'), not an "
                ".npz archive" +
                hint);
  // Legacy torch.save and plain pickles start with the PROTO opcode.
  const std::string pkl =
      testing::write_file("lstm_legacy.pt", std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46", 8));
  EXPECT_EQ(io_error([&] { load_lstm_weights(pkl); }),
            pkl + ": is a Python pickle (torch.save's legacy format?), not an .npz archive" + hint);
  const std::string npy = testing::write_file("lstm_one.npy", npy_bytes({4}, {1, 2, 3, 4}));
  EXPECT_EQ(io_error([&] { load_lstm_weights(npy); }),
            npy + ": is a single .npy array, not an .npz archive of named arrays" + hint);
}

TEST(LstmWeightsIo, WrongShape) {
  const LstmWeights w = LstmWeights::random({4, 6, 1, false}, 3);
  auto e = entries(w);
  e[1].data = npy_bytes({24, 5}, std::vector<double>(120, 0.0));  // weight_hh_l0
  const std::string path = testing::write_file("lstm_shape.npz", testing::zip_bytes(e));
  EXPECT_EQ(io_error([&] { load_lstm_weights(path); }),
            path + ": array 'weight_hh_l0': expected shape [24, 6], got [24, 5]");
  const std::string ok = testing::write_file("lstm_ok2.npz", testing::zip_bytes(entries(w)));
  EXPECT_EQ(io_error([&] {
              load_lstm_weights(ok, LstmShape{4, 8, 1, false});
            }),
            ok + ": array 'weight_ih_l0': expected shape [32, 4], got [24, 4]");
  EXPECT_EQ(io_error([&] {
              load_lstm_weights(ok, LstmShape{4, 6, 2, false});
            }),
            ok + ": missing array 'weight_ih_l1' (expected PyTorch nn.LSTM state_dict names); the "
                 "file holds 'bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0'");
}

TEST(LstmWeightsIo, MissingExtraAndMalformed) {
  const LstmWeights w = LstmWeights::random({4, 6, 2, false}, 3);
  auto e = entries(w);
  e.erase(e.begin() + 7);  // bias_hh_l1
  std::string path = testing::write_file("lstm_missing.npz", testing::zip_bytes(e));
  EXPECT_EQ(io_error([&] { load_lstm_weights(path); }),
            path +
                ": missing array 'bias_hh_l1' (expected PyTorch nn.LSTM state_dict names); the "
                "file holds 'bias_hh_l0', 'bias_ih_l0', 'bias_ih_l1', 'weight_hh_l0', "
                "'weight_hh_l1', 'weight_ih_l0', 'weight_ih_l1'");

  path = testing::write_file("lstm_extra.npz", testing::zip_bytes(entries(w)));
  EXPECT_EQ(io_error([&] {
              load_lstm_weights(path, LstmShape{4, 6, 1, false});
            }),
            path + ": unexpected array 'weight_ih_l1' (expected 1 layer)");

  const std::string full = testing::zip_bytes(entries(w));
  path = testing::write_file("lstm_trunc.npz", full.substr(0, full.size() / 2));
  EXPECT_EQ(io_error([&] { load_lstm_weights(path); }),
            path + ": truncated zip archive (no end-of-central-directory record)");

  auto d = entries(w);
  d[2].method = 8;
  path = testing::write_file("lstm_deflate.npz", testing::zip_bytes(d));
  EXPECT_EQ(io_error([&] { load_lstm_weights(path); }),
            path +
                ": entry 'bias_ih_l0.npy' is compressed (zip method 8, deflate); only stored "
                "entries are supported: save with np.savez, not np.savez_compressed");
}

}  // namespace
}  // namespace tessel::lstm
