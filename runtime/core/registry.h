// Model registry: a config's `model:` name picks the Experiment class.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/experiment.h"

namespace tessel {

class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Experiment>()>;
  struct Entry {
    std::string name;
    std::string description;
    Factory factory;
  };

  static Registry& instance();
  void add(const std::string& name, const std::string& description, Factory factory);
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  std::unique_ptr<Experiment> create(const std::string& name) const;
  std::vector<Entry> entries() const;  // sorted by name

 private:
  std::map<std::string, Entry> entries_;
};

struct ModelRegistrar {
  ModelRegistrar(const char* name, const char* description, Registry::Factory factory) {
    Registry::instance().add(name, description, std::move(factory));
  }
};

}  // namespace tessel

#define TESSEL_CONCAT_INNER(a, b) a##b
#define TESSEL_CONCAT(a, b) TESSEL_CONCAT_INNER(a, b)
// TESSEL_REGISTER_MODEL("name", Class, "one-line description") at namespace scope in the
// model's .cpp; the library must be a tessel_model_library so the linker keeps it.
#define TESSEL_REGISTER_MODEL(name, Class, description)                       \
  static ::tessel::ModelRegistrar TESSEL_CONCAT(tessel_registrar_, __LINE__)( \
      name, description, []() { return std::make_unique<Class>(); })
