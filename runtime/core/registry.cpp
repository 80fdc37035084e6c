// Model registry storage.
#include "runtime/core/registry.h"

#include "runtime/core/error.h"

namespace tessel {

Registry& Registry::instance() {
  static Registry registry;
  return registry;
}

void Registry::add(const std::string& name, const std::string& description, Factory factory) {
  if (entries_.count(name)) throw Error("model '" + name + "' registered twice", kExitFailure);
  entries_[name] = Entry{name, description, std::move(factory)};
}

std::unique_ptr<Experiment> Registry::create(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return nullptr;
  return it->second.factory();
}

std::vector<Registry::Entry> Registry::entries() const {
  std::vector<Entry> out;
  for (const auto& kv : entries_) out.push_back(kv.second);
  return out;
}

}  // namespace tessel
