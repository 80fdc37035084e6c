// Real operands for the N:M unit: weight and activation matrices read from .npy files, their
// checks against the workload, and the unit's int8 quantisation.
//
// The unit's int8 datapath (and rtl/nm_unit/sparse_dot.sv) multiplies int8 by int8 and
// accumulates in int32 with no scale anywhere inside the array, so a scale can only act
// outside it: per output row on the weights (one multiplier per row of Y after the storer)
// and per tensor on the activations. Both are symmetric (zero maps to zero, so pruned
// positions stay pruned and the N:M pattern survives quantisation):
//   scale = max|v| / 127 over the row (weights) or the tensor (activations), in float32;
//           an all-zero row or tensor gets scale 1
//   q     = clamp(round_half_even(v / scale), -127, 127)   (v / scale rounded to float32 first)
// so Y ≈ scale_w[row] · scale_x · (Wq Xq). With max-abs scales the clamp only guards the
// rounding of v / scale; -128 is never produced (the range stays symmetric).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/sparse/nm_pattern.h"
#include "runtime/core/config.h"

namespace tessel::nm_unit {

struct Int8Quantized {
  sparse::MatrixI8 q;
  std::vector<float> scales;  // one per row (per-row quantisation) or one (per tensor)
};

// Symmetric int8 per output row (weights) and per tensor (activations), as above.
Int8Quantized quantize_int8_per_row(const sparse::MatrixF& w);
Int8Quantized quantize_int8_per_tensor(const sparse::MatrixF& x);

// A value as messages show it: shortest form that reads back as the same float ("0.25",
// "1e-08", "nan").
std::string value_text(float v);

// Reads workload key `key` (a .npy path) as a float matrix of exactly rows x cols;
// `what` names the two dimensions in messages ("m x k"). A file that cannot be read is an
// IoError, a wrong shape or a non-finite value a ConfigError; both start with the key's
// file:line:col and name the .npy file. `int8` (when given) is set when the file holds int8
// values, which the unit then takes as they are (scale 1) instead of quantising them.
std::shared_ptr<const sparse::MatrixF> read_operand(const Config& workload, const std::string& key,
                                                    int64_t rows, int64_t cols,
                                                    const std::string& what, bool* int8 = nullptr);

// Int8 operands given as int8 (from an int8 .npy): the values themselves, scales of 1.
Int8Quantized int8_as_is(const sparse::MatrixF& v, int64_t scales);

}  // namespace tessel::nm_unit
