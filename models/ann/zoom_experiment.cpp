// `ann.zoom`: the Zoom study on the host alone (no simulated SSD; sim/zoom's `zoom` adds it).
#include "models/ann/zoom.h"
#include "runtime/core/registry.h"

namespace tessel::ann {
namespace {

class AnnZoom : public Experiment {
 public:
  bool uses_energy_table() const override { return false; }
  const ModelKeys& keys() const override { return zoom_study_keys(); }
  void configure(const Config& hw, const Config& w) override { study_.configure(hw, w); }
  SimResult run(RunContext& ctx) override { return study_.run(ctx); }

 private:
  ZoomStudy study_;
};

}  // namespace
}  // namespace tessel::ann

TESSEL_REGISTER_MODEL("ann.zoom", tessel::ann::AnnZoom,
                      "Zoom: PQ preview in RAM + full-view re-rank from a file (models/ann)");
