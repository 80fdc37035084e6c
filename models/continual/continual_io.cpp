// YAML → ContinualWorkload, ContinualResult → SimResult.
#include "models/continual/continual_io.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "models/continual/cpu_pin.h"
#include "models/continual/shakespeare_stream.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/core/limits.h"

namespace tessel::continual {

const KeySet& continual_workload_keys() {
  static const KeySet keys = [] {
    KeySet k("continual workload");
    k.section("dataset", "the stream (required)");
    k.choice("dataset.kind", {"mnist", "shakespeare"},
             "MNIST digits, or speaker attribution on tinyshakespeare (10 speakers, "
             "hashed character 3-grams; docs/carm.md)")
        .def("mnist");
    k.file("dataset.images", "MNIST IDX image file (plain or .gz)")
        .opt("required with `kind: mnist`")
        .when("kind", {"mnist"});
    k.file("dataset.labels", "MNIST IDX label file (plain or .gz)")
        .opt("required with `kind: mnist`")
        .when("kind", {"mnist"});
    k.positive_integer("dataset.train_count",
                       "rows 0..n-1 train the stream, the rest are the test set")
        .def("8000")
        .when("kind", {"mnist"});
    k.file("dataset.text",
           "tinyshakespeare text; the last 20 % of each speaker's turns are the test set")
        .opt("required with `kind: shakespeare`")
        .when("kind", {"shakespeare"});
    // A list of lists: its elements are checked where they are read.
    k.open("tasks",
           "classes of each task: a list of lists of labels 0–9, each task at least one class "
           "(a class in two tasks is an error)")
        .def("[[0,1],[2,3],[4,5],[6,7],[8,9]]");
    k.choice("method", {"finetune", "joint", "er", "derpp", "gdumb"}, "the learner");
    k.section("model", "the network");
    k.list("model.hidden", "MLP hidden widths (models/nn MLP, GELU)").def("[100, 100]");
    k.integer("model.hidden[]", 1, 1 << 16, "a hidden layer's width");
    k.section("train", "optimisation");
    k.positive_number("train.lr", "Adam learning rate (no decay)").def("0.001");
    k.integer("train.batch", 1, 4096, "stream samples per step").def("10");
    k.integer("train.replay_batch", 1, 4096,
              "episodic-memory samples per step (each DER++ draw; GDumb trains on batch + "
              "replay_batch)")
        .def("10");
    k.integer("train.epochs_per_task", 1, 1000, "passes over each task's stream").def("1");
    k.integer("train.threads", 0, 1024, "OpenMP threads").def("1");
    k.section("memory", "the episodic memory (EM)");
    k.positive_integer("memory.em_size", "episodic-memory slots in RAM").def("500");
    k.non_negative_number("memory.derpp_alpha", "DER++ logit-MSE weight").def("0.3");
    k.non_negative_number("memory.derpp_beta", "DER++ replay-CE weight").def("0.5");
    k.integer("memory.gdumb_epochs", 1, 1000,
              "GDumb: epochs over the memory, from scratch, after each task")
        .def("10");
    k.section("carm", "Carousel Memory: the EM swapped with a sample store on disk");
    k.flag("carm.enabled", "Carousel Memory on (needs method er, derpp or gdumb)").def("false");
    k.choice("carm.mode", {"async", "sync"}, "swap while the next mini-batch trains, or before it")
        .def("async");
    k.file("carm.store", "the sample store file")
        .opt("`<point folder>/carm_store.bin`, else in `$TMPDIR`");
    k.positive_integer("carm.store_capacity",
                       "samples the store holds (class-balanced eviction beyond); below "
                       "`memory.em_size` is an error")
        .opt("all training rows");
    k.choice("carm.policy", {"random", "entropy", "dynamic"},
             "gate score: uniform; 1 − H(p)/ln C when predicted right, else 0; entropy with τ "
             "steered to `dynamic_target`")
        .def("entropy");
    k.number("carm.tau", 0, 1, "swap an EM slot when its score > τ").def("0.5");
    k.number("carm.dynamic_target", 0, 1,
             "dynamic policy: the swapped fraction of replayed slots τ is steered to")
        .def("0.5");
    k.integer("carm.max_pending", 1, 1 << 20,
              "async: samples queued or being read; a swap beyond is skipped, never waited for")
        .def("16");
    k.integer("carm.io_threads", 1, 64, "threads reading the store (pread) in parallel").def("2");
    k.flag("carm.direct", "O_DIRECT (bypass the page cache) where the filesystem takes it")
        .def("true");
    k.choice("carm.on_crash", {"rebuild", "refuse"},
             "a store left by an interrupted run (header still `open`)")
        .def("rebuild");
    k.flag("carm.keep_store", "leave the store file after the run").def("false");
    k.integer("carm.train_cpu", -1, 4095, "CPU the training thread is pinned to; -1: not pinned")
        .def("-1");
    k.integer("carm.io_cpu", -1, 4095,
              "CPU the store's I/O and writer threads are pinned to; -1: not pinned")
        .def("-1");
    return k;
  }();
  return keys;
}

ContinualWorkload read_continual_workload(const Config& config) {
  const Keyed w(continual_workload_keys(), config);
  ContinualWorkload out;
  const Keyed d = w.child("dataset");
  out.kind = d.choice("kind");
  if (out.kind == "mnist") {
    out.images = d.path("images");
    out.labels = d.path("labels");
    out.train_count = d.integer("train_count");
  } else {
    out.text = d.path("text");
    out.train_count = 0;  // known once the text is parsed (load_stream checks em_size then)
  }
  if (w.has("tasks")) {
    for (const Config& t : config.items("tasks")) {
      std::vector<int32_t> classes;
      for (const Config& k : t.elements()) classes.push_back(int32_t(k.as_int_range(0, 9)));
      if (classes.empty()) w.fail("tasks", "a task needs at least one class");
      out.tasks.push_back(classes);
    }
  } else {
    for (int32_t t = 0; t < 5; ++t) out.tasks.push_back({2 * t, 2 * t + 1});  // split MNIST
  }
  ContinualConfig& c = out.config;
  c.method = w.choice("method");
  if (w.has("model")) {
    const Keyed m = w.child("model");
    if (m.has("hidden")) {
      c.hidden.clear();
      for (const Keyed& h : m.items("hidden")) c.hidden.push_back(int(h.as_integer()));
    }
  }
  if (w.has("train")) {
    const Keyed t = w.child("train");
    c.lr = t.number("lr");
    c.batch = int(t.integer("batch"));
    c.replay_batch = int(t.integer("replay_batch"));
    c.epochs_per_task = int(t.integer("epochs_per_task"));
    c.threads = int(t.integer("threads"));
  }
  if (w.has("memory")) {
    const Keyed m = w.child("memory");
    c.em_size = m.integer("em_size");
    // An MNIST sample is 784 pixels at the least; fail here rather than in the allocation.
    check_allocation(m.config(), "em_size", {c.em_size, 784}, 1, "(em_size x 784) sample bytes");
    c.derpp_alpha = m.number("derpp_alpha");
    c.derpp_beta = m.number("derpp_beta");
    c.gdumb_epochs = int(m.integer("gdumb_epochs"));
  }
  if (w.has("carm")) {
    const Keyed k = w.child("carm");
    CarmOptions& o = c.carm;
    o.enabled = k.flag("enabled");
    o.async = k.choice("mode") == "async";
    if (k.has("store")) out.store_path = k.path("store");
    o.store_capacity = k.has("store_capacity") ? k.integer("store_capacity") : 0;
    o.policy = k.choice("policy");
    o.tau = k.number("tau");
    o.dynamic_target = k.number("dynamic_target");
    o.max_pending = int(k.integer("max_pending"));
    o.io_threads = int(k.integer("io_threads"));
    o.direct = k.flag("direct");
    o.refuse_crashed = k.choice("on_crash") == "refuse";
    o.keep_store = k.flag("keep_store");
    for (const char* key : {"train_cpu", "io_cpu"}) {
      const int cpu = int(k.integer(key));
      if (cpu >= cpu_count())
        k.fail(key, "CPU " + std::to_string(cpu) + " does not exist here (" +
                        std::to_string(cpu_count()) + " CPUs)");
      (std::string(key) == "train_cpu" ? o.train_cpu : o.io_cpu) = cpu;
    }
    const bool memory = c.method == "er" || c.method == "derpp" || c.method == "gdumb";
    if (o.enabled && !memory)
      k.fail("enabled",
             "Carousel Memory needs a method with an episodic memory (er, derpp, "
             "gdumb), not '" +
                 c.method + "'");
    const int64_t cap = o.store_records(out.train_count);
    if (o.enabled && cap > 0 && c.em_size > cap)
      k.fail(k.has("store_capacity") ? "store_capacity" : "enabled",
             "the episodic memory (memory.em_size " + std::to_string(c.em_size) +
                 ") is larger than the sample store (" + std::to_string(cap) + " samples)");
  }
  return out;
}

TaskStream load_stream(const ContinualWorkload& w) {
  if (w.kind == "mnist") return load_mnist_stream(w.images, w.labels, w.train_count, w.tasks);
  TaskStream s = load_shakespeare_stream(w.text, 10, w.tasks);
  const CarmOptions& o = w.config.carm;
  const int64_t cap = o.store_records(s.train_count);
  if (o.enabled && w.config.em_size > cap)
    throw Error("continual: the episodic memory (memory.em_size " +
                    std::to_string(w.config.em_size) + ") is larger than the sample store (" +
                    std::to_string(cap) + " samples of " + w.text + ")",
                kExitConfig);
  return s;
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
