// Which DPU implementation a tile gets: the behavioural one, or the co-simulated one if linked.
#include "sim/lstm_sharp/dpu.h"

#include "runtime/core/error.h"

namespace tessel::lstm_sharp {
namespace {

// A function-local static: rtl_dpu.cpp registers during static initialisation, whose order
// across object files is unspecified.
DpuFactory& rtl_factory() {
  static DpuFactory make = nullptr;
  return make;
}

}  // namespace

void register_rtl_dpu(DpuFactory make) {
  rtl_factory() = make;
}

bool rtl_dpu_available() {
  return rtl_factory() != nullptr;
}

std::unique_ptr<DpuModel> make_dpu(bool rtl) {
  if (!rtl) return std::make_unique<BehaviouralDpu>();
  if (!rtl_dpu_available())
    throw SimError("lstm_sharp: rtl.dpu asks for the Verilated DPU, which this program lacks");
  return rtl_factory()();
}

}  // namespace tessel::lstm_sharp
