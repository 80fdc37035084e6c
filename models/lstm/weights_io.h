// Loads nn.LSTM weights exported from PyTorch as a NumPy .npz archive (state_dict naming).
#pragma once

#include <map>
#include <string>

#include "models/common/npy.h"
#include "models/lstm/lstm.h"

namespace tessel::lstm {

// File format (docs/lstm_kernels.md): an np.savez archive (stored, not compressed) with
// one float32 or float64 array per nn.LSTM parameter, named as in its state_dict:
//   weight_ih_l{k}[_reverse]  [4H, in_k]   weight_hh_l{k}[_reverse]  [4H, H]
//   bias_ih_l{k}[_reverse]    [4H]         bias_hh_l{k}[_reverse]    [4H]
// optionally with a common prefix (e.g. "encoder.lstm."). Exported from Python with
//   np.savez("w.npz", **{k: v.cpu().numpy() for k, v in lstm.state_dict().items()})

// Infers the shape (layers from weight_ih_l{k}, bidirectional from *_reverse, H and input
// size from weight_ih_l0 [4H, input]) and checks every array against it. Throws tessel::IoError
// naming the file and the array, e.g.
//   "w.npz: array 'weight_hh_l0': expected shape [1024, 256], got [1024, 255]".
LstmWeights load_lstm_weights(const std::string& path, const std::string& prefix = "");

// Same, but every array must match `expected`.
LstmWeights load_lstm_weights(const std::string& path, const LstmShape& expected,
                              const std::string& prefix = "");

// The checks of the loaders on arrays already in memory; `file` names the source in errors.
LstmWeights lstm_weights_from_arrays(const std::map<std::string, NpyArray>& arrays,
                                     const std::string& file, const std::string& prefix,
                                     const LstmShape* expected);

}  // namespace tessel::lstm
