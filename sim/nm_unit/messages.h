// Messages passed between the N:M unit's SystemC blocks over sc_fifo channels.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <vector>

#include "sim/nm_unit/nm_unit_params.h"

namespace tessel::nm_unit {

// A step whose metadata the decoders have turned into mux selects: for each row of the
// step and each stored weight of the chunk, the K position (relative to the chunk) of
// the activation its lane must pick. Null in timing-only mode and in dense mode.
struct DecodedStep {
  Step step;
  std::shared_ptr<const std::vector<int32_t>> select;
};

// A finished output tile (rows x toks, row-major) on its way to the storer; one of the
// two value vectors is filled in functional mode, none in timing mode.
struct OutputTile {
  Step step;
  std::vector<int32_t> i32;
  std::vector<float> f32;
};

inline std::ostream& operator<<(std::ostream& os, const Step& s) {
  return os << "step " << s.tile;
}
inline std::ostream& operator<<(std::ostream& os, const DecodedStep& d) {
  return os << d.step;
}
inline std::ostream& operator<<(std::ostream& os, const OutputTile& t) {
  return os << "tile " << t.step.tile;
}

}  // namespace tessel::nm_unit
