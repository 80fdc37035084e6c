// The continual-learning loop: stream mini-batches, replay from the episodic memory, memory
// updates, and Carousel Memory's storage writes and gated swaps.
#include "models/continual/learner.h"

#include <omp.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <ostream>

#include "models/common/rng.h"
#include "models/continual/cpu_pin.h"
#include "models/continual/episodic_memory.h"
#include "models/continual/net.h"
#include "models/continual/sample_store.h"
#include "models/continual/swapper.h"
#include "models/data/mnist.h"
#include "runtime/core/cpu_time.h"
#include "runtime/core/error.h"

namespace tessel::continual {
namespace {

using Mat = nn::Matrix<float>;

class Run {
 public:
  Run(const TaskStream& s, const ContinualConfig& c, uint64_t seed, std::ostream* log)
      : s_(s),
        c_(c),
        seed_(seed),
        rng_(seed ^ 0x9E3779B97F4A7C15ull),
        log_(log),
        net_(std::make_unique<Net>(mlp_config(), c.lr, seed)),
        tau_(c.carm.tau) {}

  ContinualResult go();

 private:
  nn::MlpConfig mlp_config() const {
    nn::MlpConfig m;
    m.inputs = s_.sample_bytes;
    m.hidden = c_.hidden;
    m.classes = s_.classes;
    return m;
  }
  bool replay() const { return c_.method == "er" || c_.method == "derpp"; }
  Sample sample_of(int64_t row, const float* logits) const {
    Sample x;
    x.label = s_.labels[size_t(row)];
    x.id = uint32_t(row);
    const uint8_t* p = s_.pixels.data() + row * s_.sample_bytes;
    x.pixels.assign(p, p + s_.sample_bytes);
    x.logits.assign(size_t(s_.classes), 0.0f);
    if (logits) std::copy(logits, logits + s_.classes, x.logits.begin());
    return x;
  }
  void set_row(Mat& x, int64_t r, const uint8_t* p) const {
    for (int k = 0; k < s_.sample_bytes; ++k) x(r, k) = float(p[k]) * (1.0f / 255.0f);
  }
  std::vector<int64_t> draw(int64_t k, int64_t n) {
    // k distinct slots of [0, n) (Floyd's algorithm).
    std::vector<int64_t> out;
    for (int64_t j = n - k; j < n; ++j) {
      const auto t = int64_t(rng_.uniform() * double(j + 1));
      out.push_back(std::find(out.begin(), out.end(), t) == out.end() ? t : j);
    }
    return out;
  }
  std::vector<double> evaluate();
  void train_stream_step(const std::vector<int64_t>& rows);
  void train_memory_step(const std::vector<int64_t>& slots);
  // Gate over the replayed slots (rows of `logits` from `row0`), then the swap request.
  void gate_and_swap(const std::vector<int64_t>& slots, const Mat& logits, int64_t row0,
                     const std::vector<int32_t>& labels);
  void store_put(const Sample& x);
  void finish_step(double compute_s);

  const TaskStream& s_;
  const ContinualConfig& c_;
  uint64_t seed_;
  Rng rng_;
  std::ostream* log_;
  std::unique_ptr<Net> net_;
  std::unique_ptr<EpisodicMemory> em_;
  std::unique_ptr<SampleStore> store_;
  std::unique_ptr<Swapper> swapper_;
  ContinualResult r_;
  int64_t seen_ = 0;
  int64_t clock_ps_ = 0;  // compute-time clock of the trace
  int64_t pending_batch_ = -1;
  double tau_;
};

std::vector<double> Run::evaluate() {
  std::vector<double> acc;
  for (const auto& task : s_.tasks) {
    std::vector<int64_t> rows;
    for (int64_t i = s_.train_count; i < s_.rows(); ++i)
      if (std::find(task.begin(), task.end(), s_.labels[size_t(i)]) != task.end())
        rows.push_back(i);
    int64_t right = 0;
    for (size_t b = 0; b < rows.size(); b += 1000) {
      const size_t n = std::min<size_t>(1000, rows.size() - b);
      Mat x(Eigen::Index(n), s_.sample_bytes);
      for (size_t i = 0; i < n; ++i)
        set_row(x, Eigen::Index(i), s_.pixels.data() + rows[b + i] * s_.sample_bytes);
      const Mat& z = net_->forward(x);
      for (size_t i = 0; i < n; ++i) {
        Eigen::Index arg = 0;
        z.row(Eigen::Index(i)).maxCoeff(&arg);
        right += arg == s_.labels[size_t(rows[b + i])];
      }
    }
    acc.push_back(rows.empty() ? 0 : double(right) / double(rows.size()));
  }
  return acc;
}

void Run::store_put(const Sample& x) {
  const int64_t rec = store_->put(x, rng_);
  MemoryRequest w;
  w.time_ps = clock_ps_;
  w.write = true;
  w.object = 0;
  w.address = store_->record_offset(rec);
  w.bytes = store_->record_bytes();
  r_.trace.requests.push_back(w);
}

void Run::finish_step(double compute_s) {
  r_.step_compute_s.push_back(compute_s);
  r_.step_swap_batch.push_back(pending_batch_);
  pending_batch_ = -1;
  clock_ps_ += int64_t(compute_s * 1e12);
  ++r_.steps;
}

void Run::gate_and_swap(const std::vector<int64_t>& slots, const Mat& z, int64_t row0,
                        const std::vector<int32_t>& labels) {
  const int C = s_.classes;
  std::vector<SlotSwap> swap;
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto r = Eigen::Index(row0 + int64_t(i));
    double score;
    if (c_.carm.policy == "random") {
      score = rng_.uniform();
    } else {
      // Entropy policy: a sample the model already gets right with a confident (low
      // entropy) prediction teaches little; score 1 - H(p)/ln C, 0 when misclassified.
      Eigen::Index arg = 0;
      const float mx = z.row(r).maxCoeff(&arg);
      const nn::RowVec<float> e = (z.row(r).array() - mx).exp().matrix();
      const double sum = e.sum();
      double h = 0;
      for (int k = 0; k < C; ++k) {
        const double p = e(k) / sum;
        if (p > 0) h -= p * std::log(p);
      }
      score = arg == labels[size_t(r)] ? 1.0 - h / std::log(double(C)) : 0.0;
    }
    ++r_.gate_candidates;
    if (score > tau_ && std::none_of(swap.begin(), swap.end(),
                                     [&](const SlotSwap& w) { return w.slot == slots[i]; }))
      swap.push_back({slots[i], em_->version(slots[i]), -1});
  }
  if (c_.carm.policy == "dynamic" && !slots.empty()) {
    // Dynamic: steer tau so the swapped fraction follows dynamic_target (our reading of
    // the paper's adaptive policy; docs/carm.md).
    const double frac = double(swap.size()) / double(slots.size());
    tau_ = std::clamp(tau_ + 0.05 * (frac - c_.carm.dynamic_target), 0.0, 0.999);
  }
  std::vector<SlotSwap> ready;
  for (SlotSwap& w : swap) {
    if (c_.carm.async) {
      // Async never waits: only samples already on disk are candidates.
      w.record = store_->random_written(rng_);
    } else {
      // Sync waits for the writer when the chosen record's latest put is not on disk yet,
      // so what it swaps in does not depend on thread timing (the writer is almost always
      // ahead: the wait is rare).
      w.record = store_->random_put(rng_);
      if (w.record >= 0 && store_->write_pending(w.record)) {
        const double t0 = steady_seconds();
        store_->flush();
        r_.swap_wait_seconds += steady_seconds() - t0;
      }
    }
    if (w.record >= 0) ready.push_back(w);
  }
  em_->unpin(slots);
  swapper_->notify_unpinned();
  if (ready.empty()) {
    if (!swap.empty()) ++r_.swaps_unwritten;
    return;
  }
  const double t0 = steady_seconds();
  const bool taken = swapper_->submit(ready);
  r_.swap_wait_seconds += steady_seconds() - t0;
  if (!taken) return;
  const auto batch = uint32_t(r_.swaps++);
  pending_batch_ = int64_t(batch);
  for (const SlotSwap& w : ready) {
    MemoryRequest q;
    q.time_ps = clock_ps_;
    q.object = 0;
    q.address = store_->record_offset(w.record);
    q.bytes = store_->record_bytes();
    q.batch = batch;
    r_.trace.requests.push_back(q);
  }
}

void Run::train_stream_step(const std::vector<int64_t>& rows) {
  const auto B = int64_t(rows.size());
  std::vector<int64_t> r1, r2;
  const int64_t nf = em_ ? em_->filled() : 0;
  if (replay() && nf > 0) {
    r1 = draw(std::min<int64_t>(c_.replay_batch, nf), nf);
    if (c_.method == "derpp") r2 = draw(std::min<int64_t>(c_.replay_batch, nf), nf);
  }
  std::vector<int64_t> pins = r1;
  pins.insert(pins.end(), r2.begin(), r2.end());
  if (!pins.empty()) em_->pin(pins);
  const auto n = Eigen::Index(B + int64_t(pins.size()));
  Mat x(n, s_.sample_bytes);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < B; ++i) {
    set_row(x, i, s_.pixels.data() + rows[size_t(i)] * s_.sample_bytes);
    labels[size_t(i)] = s_.labels[size_t(rows[size_t(i)])];
  }
  for (size_t i = 0; i < pins.size(); ++i) {
    const Sample& m = em_->at(pins[i]);
    set_row(x, B + int64_t(i), m.pixels.data());
    labels[size_t(B) + i] = m.label;
  }
  const double t0 = steady_seconds();
  const Mat& z = net_->forward(x);
  Mat dz = Mat::Zero(n, s_.classes);
  if (c_.method == "derpp") {
    add_cross_entropy(z, labels, 0, B, 1.0 / double(B), dz);
    const auto n1 = int64_t(r1.size()), n2 = int64_t(r2.size());
    // α·MSE between the logits now and those stored with the sample (mean over entries).
    for (int64_t i = 0; i < n1; ++i) {
      const auto& old = em_->at(r1[size_t(i)]).logits;
      for (int k = 0; k < s_.classes; ++k)
        dz(B + i, k) =
            float(c_.derpp_alpha * 2.0 * (z(B + i, k) - old[size_t(k)]) / double(n1 * s_.classes));
    }
    if (n2 > 0) add_cross_entropy(z, labels, B + n1, n2, c_.derpp_beta / double(n2), dz);
  } else {
    add_cross_entropy(z, labels, 0, int64_t(n), 1.0 / double(n), dz);
  }
  net_->backward(dz);
  net_->step();
  const double compute = steady_seconds() - t0;
  // z still holds this step's (pre-update) logits: the gate scores and DER++'s stored logits.
  if (c_.carm.enabled && !pins.empty()) {
    const double g0 = steady_seconds();
    gate_and_swap(pins, z, B, labels);
    r_.carm_seconds += steady_seconds() - g0;
  } else if (!pins.empty()) {
    em_->unpin(pins);
  }
  if (replay() || c_.carm.enabled) {
    for (int64_t i = 0; i < B; ++i) {
      const Sample smp = sample_of(rows[size_t(i)], &z(i, 0));
      if (replay()) {
        const int64_t slot = reservoir_slot(em_->capacity(), seen_, rng_);
        if (slot >= 0) em_->write(slot, smp);
      }
      ++seen_;
      if (c_.carm.enabled) {
        const double p0 = steady_seconds();
        store_put(smp);
        r_.carm_seconds += steady_seconds() - p0;
      }
    }
  }
  if (c_.carm.enabled) store_->kick();
  r_.samples_seen += B;
  finish_step(compute);
}

void Run::train_memory_step(const std::vector<int64_t>& slots) {
  em_->pin(slots);
  const auto n = Eigen::Index(slots.size());
  Mat x(n, s_.sample_bytes);
  std::vector<int32_t> labels(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    const Sample& m = em_->at(slots[i]);
    set_row(x, Eigen::Index(i), m.pixels.data());
    labels[i] = m.label;
  }
  const double t0 = steady_seconds();
  const Mat& z = net_->forward(x);
  Mat dz = Mat::Zero(n, s_.classes);
  add_cross_entropy(z, labels, 0, int64_t(n), 1.0 / double(n), dz);
  net_->backward(dz);
  net_->step();
  const double compute = steady_seconds() - t0;
  if (c_.carm.enabled) {
    const double g0 = steady_seconds();
    gate_and_swap(slots, z, 0, labels);
    r_.carm_seconds += steady_seconds() - g0;
  } else {
    em_->unpin(slots);
  }
  finish_step(compute);
}

ContinualResult Run::go() {
  const ThreadPin pin(c_.carm.train_cpu);
  if (!pin.error().empty()) throw Error("carm.train_cpu: " + pin.error(), kExitConfig);
  if (c_.threads > 0) omp_set_num_threads(c_.threads);
  const std::string& m = c_.method;
  if (m == "er" || m == "derpp" || m == "gdumb") em_ = std::make_unique<EpisodicMemory>(c_.em_size);
  if (c_.carm.enabled) {
    StoreOptions o;
    o.path = c_.carm.store_path;
    o.capacity = c_.carm.store_records(s_.train_count);
    if (c_.em_size > o.capacity)
      throw Error("continual: the episodic memory (" + std::to_string(c_.em_size) +
                      " samples) is larger than the sample store (" + std::to_string(o.capacity) +
                      ")",
                  kExitConfig);
    o.sample_bytes = s_.sample_bytes;
    o.logit_count = s_.classes;
    o.classes = s_.classes;
    o.direct = c_.carm.direct;
    o.refuse_crashed = c_.carm.refuse_crashed;
    o.writer_cpu = c_.carm.io_cpu;
    store_ = std::make_unique<SampleStore>(o);
    if (store_->rebuilt() && log_)
      *log_ << "carm: store " << o.path << " was left by an interrupted run; rebuilt it\n";
    swapper_ = std::make_unique<Swapper>(*store_, *em_, c_.carm.async, c_.carm.max_pending,
                                         c_.carm.io_threads, c_.carm.io_cpu);

    r_.trace.object_index("carm_store");
  }
  const double wall0 = steady_seconds(), cpu0 = thread_cpu_seconds();
  double eval_wall = 0, eval_cpu = 0;
  auto record_eval = [&](int t) {
    const double w = steady_seconds(), c = thread_cpu_seconds();
    r_.acc.push_back(evaluate());
    eval_wall += steady_seconds() - w;
    eval_cpu += thread_cpu_seconds() - c;
    if (log_) {
      *log_ << m << (c_.carm.enabled ? "+carm" : "") << " after task " << t << ":";
      for (double a : r_.acc.back()) *log_ << " " << a;
      *log_ << "\n";
    }
  };
  auto shuffled = [&](std::vector<int64_t> v) {
    for (size_t i = v.size(); i > 1; --i)
      std::swap(v[i - 1], v[size_t(rng_.uniform() * double(i))]);
    return v;
  };
  auto task_rows = [&](const std::vector<int32_t>& classes) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < s_.train_count; ++i)
      if (std::find(classes.begin(), classes.end(), s_.labels[size_t(i)]) != classes.end())
        rows.push_back(i);
    return rows;
  };
  auto batches = [&](const std::vector<int64_t>& rows, int b, auto&& f) {
    for (size_t i = 0; i < rows.size(); i += size_t(b))
      f(std::vector<int64_t>(rows.begin() + long(i),
                             rows.begin() + long(std::min(rows.size(), i + size_t(b)))));
  };

  if (m == "joint") {
    std::vector<int32_t> all;
    for (const auto& t : s_.tasks) all.insert(all.end(), t.begin(), t.end());
    const auto rows = task_rows(all);
    for (int e = 0; e < c_.epochs_per_task; ++e)
      batches(shuffled(rows), c_.batch,
              [&](const std::vector<int64_t>& b) { train_stream_step(b); });
    record_eval(int(s_.tasks.size()) - 1);
  } else if (m == "gdumb") {
    std::vector<int32_t> seen_classes;
    for (size_t t = 0; t < s_.tasks.size(); ++t) {
      // Stream phase: the greedy balanced sampler (and the store) see every sample.
      std::vector<int64_t> counts = em_->class_counts(s_.classes);
      std::vector<int32_t> slot_labels(size_t(em_->capacity()));
      for (int64_t i = 0; i < em_->capacity(); ++i) slot_labels[size_t(i)] = em_->at(i).label;
      for (int32_t k : s_.tasks[t]) seen_classes.push_back(k);
      for (int e = 0; e < c_.epochs_per_task; ++e)
        batches(shuffled(task_rows(s_.tasks[t])), c_.batch, [&](const std::vector<int64_t>& b) {
          for (int64_t row : b) {
            const Sample smp = sample_of(row, nullptr);
            const int64_t slot = gdumb_slot(counts, slot_labels, em_->filled(), smp.label,
                                            int(seen_classes.size()), rng_);
            if (slot >= 0) {
              if (slot_labels[size_t(slot)] >= 0) --counts[size_t(slot_labels[size_t(slot)])];
              ++counts[size_t(smp.label)];
              slot_labels[size_t(slot)] = smp.label;
              em_->write(slot, smp);
            }
            if (c_.carm.enabled) {
              const double p0 = steady_seconds();
              store_put(smp);
              r_.carm_seconds += steady_seconds() - p0;
            }
          }
          if (c_.carm.enabled) store_->kick();
          r_.samples_seen += int64_t(b.size());
        });
      // Learning phase: a fresh model trained on the memory only.
      net_ = std::make_unique<Net>(mlp_config(), c_.lr, seed_);
      std::vector<int64_t> slots(size_t(em_->filled()));
      for (size_t i = 0; i < slots.size(); ++i) slots[i] = int64_t(i);
      for (int e = 0; e < c_.gdumb_epochs; ++e)
        batches(shuffled(slots), c_.batch + c_.replay_batch,
                [&](const std::vector<int64_t>& b) { train_memory_step(b); });
      if (swapper_) {
        const double w = steady_seconds();
        swapper_->drain();  // the next stream phase counts classes from settled slots
        r_.swap_wait_seconds += steady_seconds() - w;
      }
      record_eval(int(t));
    }
  } else {
    for (size_t t = 0; t < s_.tasks.size(); ++t) {
      const auto rows = task_rows(s_.tasks[t]);
      for (int e = 0; e < c_.epochs_per_task; ++e)
        batches(shuffled(rows), c_.batch,
                [&](const std::vector<int64_t>& b) { train_stream_step(b); });
      record_eval(int(t));
    }
  }
  if (swapper_) swapper_->drain();
  r_.train_seconds = steady_seconds() - wall0 - eval_wall;
  r_.train_cpu_seconds = thread_cpu_seconds() - cpu0 - eval_cpu;
  for (double s : r_.step_compute_s) r_.compute_seconds += s;
  if (em_) r_.pin_wait_seconds = em_->lock_wait_seconds();
  r_.carm_seconds += r_.pin_wait_seconds;
  if (swapper_) {
    const Swapper::Stats st = swapper_->stats();
    swapper_.reset();
    r_.swaps_skipped = st.skipped;
    r_.samples_read = st.samples_read;
    r_.samples_swapped_in = st.committed;
    r_.swaps_stale = st.stale;
    r_.swaps_deferred = st.deferred;
    r_.io_seconds = st.io_seconds;
  }
  if (store_) {
    store_->close();
    r_.store_bytes_written = store_->bytes_written();
    r_.store_bytes_read = store_->bytes_read();
    r_.store_direct = store_->direct();
    r_.store_rebuilt = store_->rebuilt();
    r_.store_class_counts = store_->class_counts();
    if (!c_.carm.keep_store) ::unlink(c_.carm.store_path.c_str());
  }
  r_.final_average = final_average_accuracy(r_.acc);
  r_.forgetting = average_forgetting(r_.acc);
  return r_;
}

}  // namespace

void ContinualConfig::validate() const {
  auto bad = [](const std::string& m) { throw Error("continual: " + m, kExitConfig); };
  const std::vector<std::string> methods = {"finetune", "joint", "er", "derpp", "gdumb"};
  if (std::find(methods.begin(), methods.end(), method) == methods.end())
    bad("unknown method '" + method + "'");
  if (batch <= 0 || replay_batch <= 0 || epochs_per_task <= 0 || gdumb_epochs <= 0 || lr <= 0)
    bad("batch sizes, epochs and lr must be positive");
  const bool memory = method == "er" || method == "derpp" || method == "gdumb";
  if (memory && em_size <= 0) bad("em_size must be positive");
  if (carm.enabled && !memory) bad("carm needs a method with an episodic memory");
  if (carm.tau < 0 || carm.tau > 1) bad("carm tau must lie in [0, 1]");
  if (carm.enabled && carm.store_path.empty()) bad("carm needs a store path");
  if (carm.enabled && carm.store_capacity > 0 && em_size > carm.store_capacity)
    bad("em_size exceeds the store capacity");
}

TaskStream load_mnist_stream(const std::string& images, const std::string& labels,
                             int64_t train_count, const std::vector<std::vector<int32_t>>& tasks) {
  const data::IdxArray im = data::read_idx(images, 3);
  const data::IdxArray lb = data::read_idx(labels, 1);
  if (im.dims[0] != lb.dims[0])
    throw IoError(images + ": " + std::to_string(im.dims[0]) + " images but " + labels + " has " +
                  std::to_string(lb.dims[0]) + " labels");
  TaskStream s;
  s.sample_bytes = im.dims[1] * im.dims[2];
  s.classes = 10;
  s.pixels = im.data;
  s.labels.assign(lb.data.begin(), lb.data.end());
  for (int32_t y : s.labels)
    if (y < 0 || y >= s.classes) throw IoError(labels + ": label out of range 0..9");
  if (train_count <= 0 || train_count >= s.rows())
    throw Error("continual: train_count must lie in (0, " + std::to_string(s.rows()) + ")",
                kExitConfig);
  s.train_count = train_count;
  assign_tasks(s, tasks);
  return s;
}

void assign_tasks(TaskStream& s, const std::vector<std::vector<int32_t>>& tasks) {
  std::vector<int> owner(size_t(s.classes), -1);
  for (size_t t = 0; t < tasks.size(); ++t)
    for (int32_t k : tasks[t]) {
      if (k < 0 || k >= s.classes)
        throw Error("continual: task class " + std::to_string(k) + " outside 0.." +
                        std::to_string(s.classes - 1),
                    kExitConfig);
      if (owner[size_t(k)] >= 0)
        throw Error("continual: class " + std::to_string(k) + " is in two tasks", kExitConfig);
      owner[size_t(k)] = int(t);
    }
  if (tasks.empty()) throw Error("continual: no tasks", kExitConfig);
  s.tasks = tasks;
}

ContinualResult run_continual(const TaskStream& stream, const ContinualConfig& config,
                              uint64_t seed, std::ostream* log) {
  config.validate();
  Run run(stream, config, seed, log);
  return run.go();
}

double final_average_accuracy(const std::vector<std::vector<double>>& acc) {
  if (acc.empty() || acc.back().empty()) return 0;
  double s = 0;
  for (double a : acc.back()) s += a;
  return s / double(acc.back().size());
}

double average_forgetting(const std::vector<std::vector<double>>& acc) {
  if (acc.size() < 2) return 0;
  const size_t T = acc.size();
  double s = 0;
  for (size_t j = 0; j + 1 < T; ++j) {
    double best = 0;
    for (size_t t = j; t + 1 < T; ++t) best = std::max(best, acc[t][j]);
    s += best - acc[T - 1][j];
  }
  return s / double(T - 1);
}

}  // namespace tessel::continual
