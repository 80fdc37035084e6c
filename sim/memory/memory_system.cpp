// Hierarchy construction from YAML and its wiring: router → (PCIe link) → device.
#include "sim/memory/memory_system.h"

#include "sim/memory/dram_controller.h"
#include "sim/memory/ssd.h"

namespace tessel::memory {
namespace {

// Reads one device description (the mapping that holds `kind:`) into `t`.
void read_device(const Config& d, TierSpec& t) {
  const std::string kind = d.get_choice("kind", {"dram", "nvm", "ssd"});
  // Device files are complete hw configs of their own: `model` and `energy` are read by
  // the runner when the file is used alone, and ignored inside a hierarchy.
  if (d.has("model")) d.get<std::string>("model");
  if (d.has("energy")) d.child("energy").mark_used();
  if (d.has("description")) d.get<std::string>("description");
  if (d.has("name")) d.get<std::string>("name");
  if (kind == "dram") {
    t.kind = DeviceKind::kDram;
    t.dram = read_dram_params(d.child("dram"), d.child("controller"));
    t.capacity = t.dram.capacity_bytes();
  } else if (kind == "nvm") {
    t.kind = DeviceKind::kNvm;
    t.nvm = read_nvm_params(d.child("nvm"));
    t.capacity = t.nvm.capacity_per_dimm * static_cast<uint64_t>(t.nvm.dimms);
  } else {
    t.kind = DeviceKind::kSsd;
    t.ssd = read_ssd_params(d.child("ssd"));
    t.capacity = t.ssd.logical_bytes;
  }
  if (d.has("link")) {
    // A link file (path relative to this file) or an inline mapping.
    t.has_link = true;
    if (d.at("link").is_scalar()) {
      Config lc = Config::load(d.get_path("link"), "link");
      t.link = read_pcie_params(lc);
      lc.reject_unused();
    } else {
      t.link = read_pcie_params(d.child("link"));
    }
  }
}

}  // namespace

int HierarchySpec::tier_index(const std::string& name) const {
  for (size_t i = 0; i < tiers.size(); ++i)
    if (tiers[i].name == name) return static_cast<int>(i);
  return -1;
}

HierarchySpec read_hierarchy(const Config& hw) {
  HierarchySpec h;
  if (hw.has("description")) hw.get<std::string>("description");
  if (hw.has("device")) {
    // One device named by path (relative to the file that holds the key: a sweep may
    // swap it) or given inline.
    TierSpec t;
    if (hw.at("device").is_scalar()) {
      Config dev = Config::load(hw.get_path("device"), "device");
      read_device(dev, t);
      t.name = dev.get<std::string>("name", "mem");
      dev.reject_unused();
    } else {
      read_device(hw.child("device"), t);
      t.name = hw.child("device").get<std::string>("name", "mem");
    }
    if (hw.has("link")) {
      t.has_link = true;
      t.link = read_pcie_params(hw.child("link"));
    }
    h.tiers.push_back(t);
    return h;
  }
  if (!hw.has("tiers")) {
    TierSpec t;
    t.name = hw.get<std::string>("name", "mem");
    read_device(hw, t);
    h.tiers.push_back(t);
    return h;
  }
  uint64_t base = 0;
  for (const Config& tc : hw.items("tiers")) {
    TierSpec t;
    t.name = tc.get<std::string>("name");
    if (h.tier_index(t.name) >= 0) tc.fail("name", "tier '" + t.name + "' appears twice");
    Config dev;
    if (tc.at("device").is_scalar()) {
      dev = Config::load(tc.get_path("device"), "device");
      read_device(dev, t);
      dev.reject_unused();
    } else {
      read_device(tc.child("device"), t);
    }
    if (tc.has("link")) {
      Config lc =
          tc.at("link").is_scalar() ? Config::load(tc.get_path("link"), "link") : tc.child("link");
      t.has_link = true;
      t.link = read_pcie_params(lc);
      if (tc.at("link").is_scalar()) lc.reject_unused();
    }
    if (t.capacity > ~uint64_t{0} - base)
      tc.fail("device", "the tiers together hold more than 2^64 bytes (flat addresses are 64-bit)");
    t.base = base;
    base += t.capacity;
    h.tiers.push_back(t);
  }
  if (h.tiers.empty()) hw.fail("tiers", "needs at least one tier");
  if (hw.has("placement")) {
    Config pl = hw.child("placement");
    if (pl.has("default")) {
      const std::string d = pl.get<std::string>("default");
      const int i = h.tier_index(d);
      if (i < 0) pl.fail("default", "no tier named '" + d + "'");
      h.default_tier = static_cast<size_t>(i);
    }
    if (pl.has("objects")) {
      Config objs = pl.child("objects");
      for (const std::string& obj : objs.keys()) {
        const std::string tier = objs.get<std::string>(obj);
        const int i = h.tier_index(tier);
        if (i < 0) objs.fail(obj, "no tier named '" + tier + "'");
        h.placement[obj] = static_cast<size_t>(i);
      }
    }
  }
  return h;
}

MemorySystem::MemorySystem(const HierarchySpec& spec) : spec_(spec) {
  std::vector<uint64_t> bases, sizes;
  for (const TierSpec& t : spec_.tiers) {
    bases.push_back(t.base);
    sizes.push_back(t.capacity);
  }
  router_ = std::make_unique<TierRouter>("router", bases, sizes);
  for (size_t i = 0; i < spec_.tiers.size(); ++i) {
    const TierSpec& t = spec_.tiers[i];
    const std::string name = t.name;
    switch (t.kind) {
      case DeviceKind::kDram:
        devices_.push_back(std::make_unique<DramController>(name.c_str(), t.dram));
        break;
      case DeviceKind::kNvm:
        devices_.push_back(std::make_unique<Nvm>(name.c_str(), t.nvm));
        break;
      case DeviceKind::kSsd:
        devices_.push_back(std::make_unique<Ssd>(name.c_str(), t.ssd));
        break;
    }
    if (t.has_link) {
      links_.push_back(std::make_unique<PcieLink>((name + "_link").c_str(), t.link));
      router_->tier(i).bind(links_.back()->upstream);
      links_.back()->downstream.bind(devices_.back()->socket);
    } else {
      links_.push_back(nullptr);
      router_->tier(i).bind(devices_.back()->socket);
    }
  }
}

void MemorySystem::report(const sc_core::sc_time& end, Counters& counters,
                          std::map<std::string, double>& metrics) {
  for (size_t i = 0; i < devices_.size(); ++i) {
    devices_[i]->report(spec_.tiers[i].name, end, counters, metrics);
    if (links_[i]) links_[i]->report(spec_.tiers[i].name + "_link", counters, metrics);
  }
}

}  // namespace tessel::memory
