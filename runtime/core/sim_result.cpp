// SimResult JSON round trip.
#include "runtime/core/sim_result.h"

#include <nlohmann/json.hpp>

#include "runtime/core/json_integer.h"

namespace tessel {

double SimResult::total_energy_pj() const {
  double sum = 0;
  for (const auto& kv : energy_pj) sum += kv.second;
  return sum;
}

bool SimResult::checks_passed() const {
  for (const auto& c : checks)
    if (!c.passed) return false;
  return true;
}

nlohmann::json SimResult::to_json() const {
  nlohmann::json j;
  j["model"] = model;
  j["cycles"] = cycles;
  j["clock_ghz"] = clock_ghz;
  j["seconds"] = seconds;
  j["counters"] = counters;
  j["energy_pj"] = energy_pj;
  j["energy_total_pj"] = total_energy_pj();
  j["metrics"] = metrics;
  j["checks"] = nlohmann::json::array();
  for (const auto& c : checks)
    j["checks"].push_back({{"name", c.name},
                           {"passed", c.passed},
                           {"max_error", c.max_error},
                           {"tolerance", c.tolerance},
                           {"detail", c.detail}});
  // Only algorithm runs have these; leaving them out keeps simulation records as before.
  if (!labels.empty()) j["labels"] = labels;
  if (!artifacts.empty()) j["artifacts"] = artifacts;
  // Only models that price actions themselves (memory devices) have these.
  for (const auto& [name, a] : energy_actions)
    j["energy_actions"][name] = {{"pj", a.pj}, {"source", a.source}};
  return j;
}

SimResult SimResult::from_json(const nlohmann::json& j) {
  SimResult r;
  r.model = j.at("model").get<std::string>();
  r.cycles = json_integer<uint64_t>(j.at("cycles"));
  r.clock_ghz = j.at("clock_ghz").get<double>();
  r.seconds = j.at("seconds").get<double>();
  for (const auto& [name, count] : j.at("counters").items())
    r.counters[name] = json_integer<uint64_t>(count);
  r.energy_pj = j.at("energy_pj").get<std::map<std::string, double>>();
  r.metrics = j.at("metrics").get<std::map<std::string, double>>();
  for (const auto& c : j.at("checks")) {
    Check k;
    k.name = c.at("name").get<std::string>();
    k.passed = c.at("passed").get<bool>();
    k.max_error = c.at("max_error").get<double>();
    k.tolerance = c.at("tolerance").get<double>();
    k.detail = c.at("detail").get<std::string>();
    r.checks.push_back(k);
  }
  if (j.contains("labels")) r.labels = j.at("labels").get<std::map<std::string, std::string>>();
  if (j.contains("artifacts"))
    r.artifacts = j.at("artifacts").get<std::map<std::string, std::string>>();
  if (j.contains("energy_actions"))
    for (const auto& [name, a] : j.at("energy_actions").items())
      r.energy_actions[name] = {a.at("pj").get<double>(), a.at("source").get<std::string>()};
  return r;
}

}  // namespace tessel
