// Hierarchy construction from YAML and its wiring: router → (PCIe link) → device.
#include "sim/memory/memory_system.h"

#include "sim/memory/dram_controller.h"
#include "sim/memory/memory_keys.h"
#include "sim/memory/ssd.h"

namespace tessel::memory {
namespace {

// A link in front of a device (`link:` of `parent`): a link file, path relative to the file
// that names it, or an inline mapping.
PcieParams read_link(const Keyed& parent) {
  if (parent.config().at("link").is_scalar()) {
    const Config lc = Config::load(parent.path("link"), "link");
    pcie_keys().check(lc);
    return read_pcie_params(lc);
  }
  return read_pcie_params(parent.child("link").config());
}

// The device `key` of `parent` names: a device file (path relative to the file that holds
// the key: a sweep may swap it) or an inline mapping.
Keyed device_at(const Keyed& parent, const std::string& key) {
  if (parent.config().at(key).is_scalar()) {
    const Config dev = Config::load(parent.path(key), "device");
    device_keys().check(dev);
    return Keyed(device_keys(), dev);
  }
  return parent.child(key);
}

// Reads one device description (the mapping that holds `kind:`) into `t`. A device file is
// a complete hw config of its own: its `model` and `energy` are read by the runner when the
// file is used alone, and ignored here.
void read_device(const Keyed& d, TierSpec& t) {
  const std::string kind = d.choice("kind");
  if (kind == "dram") {
    t.kind = DeviceKind::kDram;
    t.dram = read_dram_params(d.child("dram").config(), d.child("controller").config());
    t.capacity = t.dram.capacity_bytes();
  } else if (kind == "nvm") {
    t.kind = DeviceKind::kNvm;
    t.nvm = read_nvm_params(d.child("nvm").config());
    t.capacity = t.nvm.capacity_per_dimm * static_cast<uint64_t>(t.nvm.dimms);
  } else {
    t.kind = DeviceKind::kSsd;
    t.ssd = read_ssd_params(d.child("ssd").config());
    t.capacity = t.ssd.logical_bytes;
  }
  if (d.has("link")) {
    t.has_link = true;
    t.link = read_link(d);
  }
}

}  // namespace

int HierarchySpec::tier_index(const std::string& name) const {
  for (size_t i = 0; i < tiers.size(); ++i)
    if (tiers[i].name == name) return static_cast<int>(i);
  return -1;
}

HierarchySpec read_hierarchy(const Config& config) {
  const Keyed hw(hierarchy_keys(), config);
  HierarchySpec h;
  // The keys of the other forms would be ignored: a device's keys belong in the device
  // next to `device:` or `tiers:`, and `placement` needs tiers.
  const std::string form = hw.has("device") ? "device" : hw.has("tiers") ? "tiers" : "";
  if (!form.empty())
    for (const std::string k : {"kind", "name", "dram", "controller", "nvm", "ssd", "tiers"})
      if (k != form && hw.has(k)) hw.fail(k, "has no meaning next to `" + form + ":`");
  if (form == "tiers" && hw.has("link"))
    hw.fail("link", "has no meaning next to `tiers:` (give each tier its `link:`)");
  if (form != "tiers" && hw.has("placement")) hw.fail("placement", "needs `tiers:`");
  if (hw.has("device")) {
    TierSpec t;
    const Keyed dev = device_at(hw, "device");
    read_device(dev, t);
    t.name = dev.text("name");
    if (hw.has("link")) {
      t.has_link = true;
      t.link = read_link(hw);
    }
    h.tiers.push_back(t);
    return h;
  }
  if (!hw.has("tiers")) {
    TierSpec t;
    t.name = hw.text("name");
    read_device(hw, t);
    h.tiers.push_back(t);
    return h;
  }
  uint64_t base = 0;
  for (const Keyed& tc : hw.items("tiers")) {
    TierSpec t;
    t.name = tc.text("name");
    if (h.tier_index(t.name) >= 0) tc.fail("name", "tier '" + t.name + "' appears twice");
    read_device(device_at(tc, "device"), t);
    if (tc.has("link")) {
      t.has_link = true;
      t.link = read_link(tc);
    }
    if (t.capacity > ~uint64_t{0} - base)
      tc.fail("device", "the tiers together hold more than 2^64 bytes (flat addresses are 64-bit)");
    t.base = base;
    base += t.capacity;
    h.tiers.push_back(t);
  }
  if (h.tiers.empty()) hw.fail("tiers", "needs at least one tier");
  if (hw.has("placement")) {
    const Keyed pl = hw.child("placement");
    if (pl.has("default")) {
      const std::string d = pl.text("default");
      const int i = h.tier_index(d);
      if (i < 0) pl.fail("default", "no tier named '" + d + "'");
      h.default_tier = static_cast<size_t>(i);
    }
    if (pl.has("objects")) {
      const Config objs = pl.config().child("objects");
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
