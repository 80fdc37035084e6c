// Sentinel planner speed: profiling and planning a generated Transformer trace of about
// one million events (goal: < 1 s), against profiling alone and the static first-touch
// planner on the same profile (baselines measured in the same run). The trace is generated
// once, outside the timed loops: parsing is not part of the measured planning.
#include <benchmark/benchmark.h>

#include "sim/sentinel/policies.h"
#include "sim/sentinel/tensor_profile.h"
#include "sim/sentinel/trace_gen.h"

namespace {

using namespace tessel::sentinel;

// 14,000 blocks of a narrow Transformer: 68 events per block plus the optimizer.
const TraceFile& trace() {
  static const TraceFile t = [] {
    TransformerShape s;
    s.vocab = 256;
    s.max_seq = 64;
    s.seq = 64;
    s.layers = 14000;
    s.width = 64;
    s.heads = 4;
    s.batch = 4;
    return generate_transformer_trace(s);
  }();
  return t;
}

const Profile& profile() {
  static const Profile p = build_profile(trace());
  return p;
}

void BM_Profile(benchmark::State& state) {
  trace();  // generated outside the timed loop (it is the input, not the profiler's work)
  for (auto _ : state) benchmark::DoNotOptimize(build_profile(trace()).events);
  state.counters["events"] = static_cast<double>(trace().events.size());
}
BENCHMARK(BM_Profile)->Unit(benchmark::kMillisecond);

void plan(benchmark::State& state, const char* policy) {
  const Profile& p = profile();
  PolicyOptions o;
  o.policy = policy;
  o.fast_bytes = p.peak_bytes / 5;
  for (auto _ : state) benchmark::DoNotOptimize(make_plan(p, o).migrations.size());
  state.counters["events"] = static_cast<double>(p.events);
}
void BM_PlanFirstTouch(benchmark::State& state) {
  plan(state, "first_touch");
}
void BM_PlanSentinel(benchmark::State& state) {
  plan(state, "sentinel");
}
BENCHMARK(BM_PlanFirstTouch)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlanSentinel)->Unit(benchmark::kMillisecond);

// The whole planner path the experiment runs: profile, then plan.
void BM_ProfileAndPlanSentinel(benchmark::State& state) {
  PolicyOptions o;
  o.policy = "sentinel";
  trace();  // generated outside the timed loop
  for (auto _ : state) {
    const Profile p = build_profile(trace());
    o.fast_bytes = p.peak_bytes / 5;
    benchmark::DoNotOptimize(make_plan(p, o).migrations.size());
  }
  state.counters["events"] = static_cast<double>(trace().events.size());
  state.counters["events_per_s"] = benchmark::Counter(
      static_cast<double>(trace().events.size()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ProfileAndPlanSentinel)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
