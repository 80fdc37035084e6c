// The passes (layer × direction) an LSTM workload runs as, each with its chosen plan.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/core/counters.h"
#include "sim/lstm_sharp/buffers.h"
#include "sim/lstm_sharp/layer_plan.h"

namespace tessel::lstm_sharp {

// Reconfiguration rule: the DPU width of every layer, chosen for the whole stack at once
// (dynamic programming over layers × widths): each layer's cycles at each width the datapath
// supports, from the analytical model, plus reconfig_cycles wherever the width differs from
// the previous layer's (the first layer's width is set before the run), minimised in total;
// ties go to the narrower width (the shorter adder tree). A layer-by-layer greedy choice can
// end slower than the fixed shape: a first layer's favourite width then costs a switch or
// a poor fit later. With `reconfigurable: false` every layer runs at dpu_width. `cycles`, if
// given, receives the twin's cycles of the whole stack at those widths, switches included.
std::vector<int64_t> choose_widths(const MachineParams& m, const LstmWorkload& w,
                                   uint64_t* cycles = nullptr);
std::vector<PassPlan> plan_workload(const MachineParams& m, const LstmWorkload& w);
// Width changes between consecutive passes: each costs the datapath reconfig_cycles.
int64_t reconfigurations(const std::vector<PassPlan>& passes);
// The twin's latency for a whole workload: each layer at the width the reconfiguration
// rule picks, in closed form, without building row blocks.
uint64_t analytical_workload_cycles(const MachineParams& m, const LstmWorkload& w);
// Useful MACs of the whole workload (no padding): Σ 4H·(X_l + H) per step, pass and sequence.
double workload_macs(const std::vector<PassPlan>& passes, int64_t seq_len);
// Metrics every LSTM-Sharp model reports (the SystemC model and its twin alike).
// The GPU baseline (hw.gpu_reference) for the same workload: estimated seconds and the
// speedup of this machine over it; none at batch > 1 (the anchors are batch 1).
void add_gpu_metrics(const MachineParams& m, const LstmWorkload& w, double seconds,
                     std::map<std::string, double>& metrics);
void add_plan_metrics(const std::vector<PassPlan>& passes, std::map<std::string, double>& metrics);
// The whole run's cycles per sequence and sequences per second (a batch's
// sequences all finish with its run: cycles is the latency of each of them).
void add_batch_metrics(const MachineParams& m, const LstmWorkload& w, uint64_t cycles,
                       std::map<std::string, double>& metrics);
// Weight SRAM as built: banks, and the share of the datapath's weight demand they feed.
void add_sram_metrics(const MachineParams& m, std::map<std::string, double>& metrics);

}  // namespace tessel::lstm_sharp

namespace tessel::lstm_sharp {

// Counters the twin reports: the SystemC model's activity in closed form. Exact for MACs,
// SRAM, off-chip and MFU traffic; partial-sum traffic assumes every W·x block of the
// unfolded and SHARP schedules runs ahead (an upper bound: the model counts only those
// that did).
void analytical_activity(const MachineParams& m, const LstmWorkload& w,
                         const std::vector<PassPlan>& passes, Counters& out);
// Off-chip traffic for the network's inputs and outputs (layer 0 reads x, the last layer
// writes h); intermediate layers stay in the on-chip hidden buffer.
void add_io_counters(const LstmWorkload& w, Counters& out);

}  // namespace tessel::lstm_sharp
