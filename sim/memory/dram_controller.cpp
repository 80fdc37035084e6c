// DRAM controller: request splitting, channel interleaving, per-channel scheduling processes.
#include "sim/memory/dram_controller.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "sim/memory/dram_energy.h"

namespace tessel::memory {

using sc_core::sc_time;

DramController::DramController(sc_core::sc_module_name name, const DramParams& params)
    : MemoryDevice(name),
      params_(params),
      capacity_(params.capacity_bytes()),
      mapper_(params_),
      tck_ps_(std::llround(params.tck_ns * 1000)),
      ps_unit_(static_cast<uint64_t>(sc_time(1, sc_core::SC_PS).value())),
      channels_(static_cast<size_t>(params.channels)) {
  for (int ch = 0; ch < static_cast<int>(channels_.size()); ++ch) {
    channels_[ch].core = std::make_unique<DramChannel>(params_);
    // One method per channel, woken only when a command can issue (not every clock).
    sc_core::sc_spawn_options opt;
    opt.spawn_method();
    opt.dont_initialize();
    opt.set_sensitivity(&channels_[ch].wake);
    sc_core::sc_spawn([this, ch]() { run_channel(ch); }, sc_core::sc_gen_unique_name("channel"),
                      &opt);
  }
}

void DramController::set_command_logs(std::vector<std::vector<DramCommand>>* logs) {
  if (logs) logs->resize(channels_.size());
  for (size_t ch = 0; ch < channels_.size(); ++ch)
    channels_[ch].core->set_command_log(logs ? &(*logs)[ch] : nullptr);
}

void DramController::wake_channel(int ch, int64_t cycle) {
  Channel& c = channels_[ch];
  if (cycle >= c.wake_at) return;
  c.wake_at = cycle;
  const sc_time now = sc_core::sc_time_stamp();
  const sc_time at = at_cycle(cycle);
  c.wake.notify(at > now ? at - now : sc_core::SC_ZERO_TIME);
}

int64_t DramController::first_arrival(const tlm::tlm_generic_payload& p, int64_t arrival) {
  for (auto& r : refused_at_)
    if (r.first == &p) {
      arrival = r.second;
      r = refused_at_.back();
      refused_at_.pop_back();
      break;
    }
  return arrival;
}

bool DramController::refuse(const tlm::tlm_generic_payload& p, int64_t arrival) {
  for (const auto& r : refused_at_)
    if (r.first == &p) return false;  // keeps the first refusal's arrival
  refused_at_.emplace_back(&p, arrival);
  return false;
}

uint32_t DramController::new_txn(tlm::tlm_generic_payload& p, uint32_t bursts, int64_t arrival) {
  uint32_t slot;
  if (free_txns_.empty()) {
    slot = static_cast<uint32_t>(txns_.size());
    txns_.emplace_back();
  } else {
    slot = free_txns_.back();
    free_txns_.pop_back();
  }
  txns_[slot] = Txn{&p, bursts, 0, first_arrival(p, arrival), kNever};
  return slot;
}

bool DramController::try_accept(tlm::tlm_generic_payload& p, const sc_time& arrival) {
  const uint64_t bb = static_cast<uint64_t>(params_.burst_bytes());
  const uint64_t first = p.get_address() / bb;
  const uint64_t last = (p.get_address() + p.get_data_length() - 1) / bb;
  const bool write = p.is_write();
  const int64_t arrival_cycle = cycle_ceil(arrival);
  if (first == last) {
    // One burst (the common case of cache-line traffic): no splitting.
    AddressMapper::Fields f = mapper_.decode(first);
    Channel& c = channels_[f.channel];
    if (!c.core->can_accept(write)) return refuse(p, arrival_cycle);
    const uint32_t slot = new_txn(p, 1, arrival_cycle);
    DramBurst b;
    b.rank = static_cast<int32_t>(f.rank);
    b.bankgroup = static_cast<int32_t>(f.bankgroup);
    b.bank = static_cast<int32_t>(f.bank);
    b.row = f.row;
    b.write = write;
    b.arrival = arrival_cycle;
    b.txn = slot;
    if (c.core->empty() && c.wake_at == kNever) c.core->catch_up(arrival_cycle);
    c.core->enqueue(b);
    wake_channel(static_cast<int>(f.channel), arrival_cycle);
    return true;
  }
  // A refused request is offered again after every freed burst: keep its split.
  if (&p != split_of_ || p.get_address() != split_address_ ||
      p.get_data_length() != split_length_ || write != split_write_) {
    scratch_.clear();
    split_channels_.clear();
    for (uint64_t i = first; i <= last; ++i) {
      AddressMapper::Fields f = mapper_.decode(i);
      DramBurst b;
      b.rank = static_cast<int32_t>(f.rank);
      b.bankgroup = static_cast<int32_t>(f.bankgroup);
      b.bank = static_cast<int32_t>(f.bank);
      b.row = f.row;
      b.write = write;
      b.txn = static_cast<uint32_t>(f.channel);  // channel until the slot is known
      scratch_.push_back(b);
      if (std::find(split_channels_.begin(), split_channels_.end(), f.channel) ==
          split_channels_.end())
        split_channels_.push_back(static_cast<int>(f.channel));
    }
    split_of_ = &p;
    split_address_ = p.get_address();
    split_length_ = p.get_data_length();
    split_write_ = write;
  }
  // Admit the whole request while every channel it touches has a free entry: its bursts
  // may overfill a queue by less than one request (the front end's split buffer), so a
  // request as large as a queue does not wait for the queue to drain and the scheduler
  // keeps seeing the next request's rows.
  for (int ch : split_channels_)
    if (!channels_[ch].core->can_accept(write)) return refuse(p, arrival_cycle);
  const uint32_t slot = new_txn(p, static_cast<uint32_t>(scratch_.size()), arrival_cycle);
  split_of_ = nullptr;  // the split is consumed
  for (DramBurst b : scratch_) {
    const int ch = static_cast<int>(b.txn);
    b.txn = slot;
    b.arrival = arrival_cycle;
    Channel& c = channels_[ch];
    if (c.core->empty() && c.wake_at == kNever) c.core->catch_up(arrival_cycle);
    c.core->enqueue(b);
    wake_channel(ch, arrival_cycle);
  }
  return true;
}

void DramController::run_channel(int ch) {
  Channel& c = channels_[ch];
  const int64_t now = cycle_ceil(sc_core::sc_time_stamp());
  if (c.wake_at > now) return;  // superseded by an earlier wake that already ran
  c.wake_at = kNever;
  done_.clear();
  const int64_t next = c.core->step(now, done_);
  bool freed = false;
  for (const BurstDone& d : done_) {
    Txn& t = txns_[d.txn];
    t.done = std::max(t.done, d.done);
    t.first_cmd = std::min(t.first_cmd, d.first_cmd);
    freed = true;
    if (--t.remaining == 0) {
      from_arrival_.push_back(static_cast<int32_t>(t.done - t.arrival));
      from_issue_.push_back(static_cast<int32_t>(t.done - t.first_cmd));
      respond(*t.payload, at_cycle(t.done));
      t.payload = nullptr;
      free_txns_.push_back(d.txn);
    }
  }
  if (next != kNever) wake_channel(ch, next);
  if (freed) retry();
}

DramChannelStats DramController::total_stats() const {
  DramChannelStats s;
  for (const Channel& c : channels_) {
    const DramChannelStats& x = c.core->stats();
    s.act += x.act;
    s.pre += x.pre;
    s.rd += x.rd;
    s.wr += x.wr;
    s.ref += x.ref;
    s.hits += x.hits;
    s.misses += x.misses;
    s.conflicts += x.conflicts;
    s.active_cycles += x.active_cycles;
    s.data_cycles += x.data_cycles;
    s.write_drains += x.write_drains;
  }
  return s;
}

void DramController::report(const std::string& tier, const sc_time& end, Counters& counters,
                            std::map<std::string, double>& metrics) {
  const int64_t end_cycle = cycle_ceil(end);
  for (Channel& c : channels_) c.core->finish(end_cycle);
  DramChannelStats s = total_stats();
  const uint64_t rank_cycles =
      static_cast<uint64_t>(end_cycle) * static_cast<uint64_t>(params_.ranks * params_.channels);
  count_dram_energy(tier, params_, s, rank_cycles, counters);
  counters.stat(tier + ".act", s.act);
  counters.stat(tier + ".pre", s.pre);
  counters.stat(tier + ".rd", s.rd);
  counters.stat(tier + ".wr", s.wr);
  counters.stat(tier + ".ref", s.ref);
  counters.stat(tier + ".row_hits", s.hits);
  counters.stat(tier + ".row_misses", s.misses);
  counters.stat(tier + ".row_conflicts", s.conflicts);
  const double bursts = static_cast<double>(s.rd + s.wr);
  if (bursts > 0) metrics[tier + ".row_hit_rate"] = static_cast<double>(s.hits) / bursts;
  if (end_cycle > 0)
    metrics[tier + ".data_bus_utilization"] =
        static_cast<double>(s.data_cycles) /
        (static_cast<double>(end_cycle) * static_cast<double>(params_.channels));
  metrics[tier + ".peak_gbps"] = params_.peak_gbps();
  counters.stat(tier + ".write_drains", s.write_drains);
  // Latency two ways: from arrival at the controller (queueing included) and from the first
  // DRAM command issued for the request (device service, bank contention included).
  auto latency = [&](std::vector<int32_t>& v, const std::string& name) {
    if (v.empty()) return;
    double sum = 0;
    for (int32_t x : v) sum += x;
    const std::string key = tier + ".latency_from_" + name;
    metrics[key + "_mean_ns"] = sum / static_cast<double>(v.size()) * params_.tck_ns;
    for (auto [q, label] : {std::pair{0.5, "_p50_ns"}, std::pair{0.99, "_p99_ns"}}) {
      size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
      std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
      metrics[key + label] = v[k] * params_.tck_ns;
    }
  };
  latency(from_arrival_, "arrival");
  latency(from_issue_, "issue");
}

}  // namespace tessel::memory
