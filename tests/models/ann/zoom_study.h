// Runs the Zoom study (models/ann/zoom.h) on a whole experiment given as YAML text.
#pragma once

#include <string>

#include "models/ann/zoom.h"
#include "runtime/core/config.h"

namespace tessel::ann::testing {

inline SimResult run_study(const std::string& text, RunContext& ctx) {
  const Config root = Config::parse(text, "zoom.yaml");
  ZoomStudy s;
  s.configure(root.child("hw"), root.child("workload"));
  return s.run(ctx);
}

}  // namespace tessel::ann::testing
