// YAML → ContinualWorkload, ContinualResult → SimResult.
#include "models/continual/continual_io.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "runtime/core/atomic_file.h"
#include "runtime/core/limits.h"

namespace tessel::continual {

ContinualWorkload read_continual_workload(const Config& w) {
  ContinualWorkload out;
  const Config d = w.child("dataset");
  out.images = d.get_path("images");
  out.labels = d.get_path("labels");
  out.train_count = d.get_positive_int("train_count", 8000);
  if (w.has("tasks")) {
    for (const Config& t : w.items("tasks")) {
      std::vector<int32_t> classes;
      for (const Config& k : t.elements()) classes.push_back(int32_t(k.as_int_range(0, 9)));
      if (classes.empty()) w.fail("tasks", "a task needs at least one class");
      out.tasks.push_back(classes);
    }
  } else {
    for (int32_t t = 0; t < 5; ++t) out.tasks.push_back({2 * t, 2 * t + 1});  // split MNIST
  }
  ContinualConfig& c = out.config;
  c.method = w.get_choice("method", {"finetune", "joint", "er", "derpp", "gdumb"});
  if (w.has("model")) {
    const Config m = w.child("model");
    if (m.has("hidden")) {
      c.hidden.clear();
      for (const Config& h : m.items("hidden")) c.hidden.push_back(int(h.as_int_range(1, 1 << 16)));
    }
  }
  if (w.has("train")) {
    const Config t = w.child("train");
    c.lr = t.get_positive("lr", c.lr);
    c.batch = int(t.get_int_range("batch", 1, 4096, c.batch));
    c.replay_batch = int(t.get_int_range("replay_batch", 1, 4096, c.replay_batch));
    c.epochs_per_task = int(t.get_int_range("epochs_per_task", 1, 1000, c.epochs_per_task));
    c.threads = int(t.get_int_range("threads", 0, 1024, c.threads));
  }
  if (w.has("memory")) {
    const Config m = w.child("memory");
    c.em_size = m.get_positive_int("em_size", c.em_size);
    // An MNIST sample is 784 pixels at the least; fail here rather than in the allocation.
    check_allocation(m, "em_size", {c.em_size, 784}, 1, "(em_size x 784) sample bytes");
    c.derpp_alpha = m.get_non_negative("derpp_alpha", c.derpp_alpha);
    c.derpp_beta = m.get_non_negative("derpp_beta", c.derpp_beta);
    c.gdumb_epochs = int(m.get_int_range("gdumb_epochs", 1, 1000, c.gdumb_epochs));
  }
  if (w.has("carm")) {
    const Config k = w.child("carm");
    CarmOptions& o = c.carm;
    o.enabled = k.get<bool>("enabled", false);
    o.async = k.get_choice("mode", {"async", "sync"}, "async") == "async";
    if (k.has("store")) out.store_path = k.get_path("store");
    o.store_capacity = k.has("store_capacity") ? k.get_positive_int("store_capacity") : 0;
    o.policy = k.get_choice("policy", {"random", "entropy", "dynamic"}, o.policy);
    o.tau = k.get_number_range("tau", 0.0, 1.0, o.tau);
    o.dynamic_target = k.get_number_range("dynamic_target", 0.0, 1.0, o.dynamic_target);
    o.max_pending = int(k.get_int_range("max_pending", 1, 1 << 20, o.max_pending));
    o.io_threads = int(k.get_int_range("io_threads", 1, 64, o.io_threads));
    o.direct = k.get<bool>("direct", o.direct);
    o.refuse_crashed = k.get_choice("on_crash", {"rebuild", "refuse"}, "rebuild") == "refuse";
    o.keep_store = k.get<bool>("keep_store", o.keep_store);
    const bool memory = c.method == "er" || c.method == "derpp" || c.method == "gdumb";
    if (o.enabled && !memory)
      k.fail("enabled",
             "Carousel Memory needs a method with an episodic memory (er, derpp, "
             "gdumb), not '" +
                 c.method + "'");
    const int64_t cap = o.store_capacity > 0 ? o.store_capacity : out.train_count;
    if (o.enabled && c.em_size > cap)
      k.fail(k.has("store_capacity") ? "store_capacity" : "enabled",
             "the episodic memory (memory.em_size " + std::to_string(c.em_size) +
                 ") is larger than the sample store (" + std::to_string(cap) + " samples)");
  }
  return out;
}

std::string resolve_store_path(const ContinualWorkload& w, const std::string& artifact_dir) {
  if (!w.store_path.empty()) return w.store_path;
  if (!artifact_dir.empty()) return artifact_dir + "/carm_store.bin";
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/tessel_carm_" + std::to_string(::getpid()) +
         ".bin";
}

void report_continual(const ContinualResult& r, const ContinualWorkload& w,
                      const std::string& artifact_dir, SimResult& out) {
  const ContinualConfig& c = w.config;
  auto& m = out.metrics;
  m["final_avg_acc"] = r.final_average;
  m["forgetting"] = r.forgetting;
  for (size_t t = 0; t < r.acc.size(); ++t) {
    // Average over the tasks seen so far (the usual class-incremental curve).
    const size_t seen = c.method == "joint" ? r.acc[t].size() : t + 1;
    double s = 0;
    for (size_t j = 0; j < seen; ++j) s += r.acc[t][j];
    m["acc_after_task" + std::to_string(c.method == "joint" ? r.acc[t].size() - 1 : t)] =
        s / double(seen);
  }
  m["train_s"] = r.train_seconds;
  m["train_cpu_s"] = r.train_cpu_seconds;
  m["compute_s"] = r.compute_seconds;
  m["steps"] = double(r.steps);
  m["samples_seen"] = double(r.samples_seen);
  if (c.carm.enabled) {
    m["swap_wait_s"] = r.swap_wait_seconds;
    m["carm_thread_s"] = r.carm_seconds;
    // Training-thread overhead measured inside the run (robust to the host's load drift
    // between runs): CarM time over the rest of the training loop.
    m["carm_overhead"] =
        r.train_seconds > r.carm_seconds ? r.carm_seconds / (r.train_seconds - r.carm_seconds) : 0;
    m["pin_wait_s"] = r.pin_wait_seconds;
    m["blocking_fraction"] =
        r.train_seconds > 0 ? (r.swap_wait_seconds + r.pin_wait_seconds) / r.train_seconds : 0;
    m["swaps"] = double(r.swaps);
    m["swaps_skipped"] = double(r.swaps_skipped);
    m["swaps_unwritten"] = double(r.swaps_unwritten);
    m["samples_swapped_in"] = double(r.samples_swapped_in);
    m["swap_rate"] = r.steps ? double(r.samples_swapped_in) / double(r.steps) : 0;
    m["gate_fraction"] = r.gate_candidates ? double(r.samples_read) / double(r.gate_candidates) : 0;
    m["swaps_stale"] = double(r.swaps_stale);
    m["swaps_deferred"] = double(r.swaps_deferred);
    m["io_s"] = r.io_seconds;
    m["read_mb_per_s"] =
        r.train_seconds > 0 ? double(r.store_bytes_read) / r.train_seconds / 1e6 : 0;
    m["write_mb_per_s"] =
        r.train_seconds > 0 ? double(r.store_bytes_written) / r.train_seconds / 1e6 : 0;
    m["store_direct"] = r.store_direct ? 1 : 0;
    m["store_rebuilt"] = r.store_rebuilt ? 1 : 0;
    out.labels["carm"] = std::string(c.carm.async ? "async" : "sync") + "/" + c.carm.policy;
  } else {
    out.labels["carm"] = "off";
  }
  out.labels["method"] = c.method;
  if (!artifact_dir.empty()) {
    std::ostringstream s;
    for (size_t t = 0; t < r.acc.size(); ++t) {
      s << "{\"task\": " << t << ", \"acc\": [";
      for (size_t j = 0; j < r.acc[t].size(); ++j) s << (j ? ", " : "") << r.acc[t][j];
      s << "]}\n";
    }
    write_file_atomic(artifact_dir + "/accuracy.jsonl", s.str(), false);
    out.artifacts["accuracy"] = "accuracy.jsonl";
  }
}

}  // namespace tessel::continual
