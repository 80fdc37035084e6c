// Class-incremental continual learning on a task stream: fine-tuning, joint training, ER,
// DER++ and GDumb on the engine's MLP, each optionally with Carousel Memory (a sample store
// on disk and gated swaps into the episodic memory after every mini-batch).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "runtime/core/memory_trace.h"

namespace tessel::continual {

// A labelled image set split once into train (the first `train_count` rows) and test (the
// rest), and a sequence of tasks, each a set of classes.
struct TaskStream {
  int sample_bytes = 0, classes = 0;
  std::vector<uint8_t> pixels;  // [rows, sample_bytes]
  std::vector<int32_t> labels;
  int64_t train_count = 0;
  std::vector<std::vector<int32_t>> tasks;
  int64_t rows() const { return int64_t(labels.size()); }
};

// MNIST IDX files (models/data/mnist.h) as a class-incremental stream. Throws IoError /
// Error on unreadable files, train_count outside (0, rows), a class in no or two tasks.
TaskStream load_mnist_stream(const std::string& images, const std::string& labels,
                             int64_t train_count, const std::vector<std::vector<int32_t>>& tasks);
// Sets s.tasks; throws Error (kExitConfig) for no tasks, a class outside 0..classes-1 or in
// two tasks.
void assign_tasks(TaskStream& s, const std::vector<std::vector<int32_t>>& tasks);

struct CarmOptions {
  bool enabled = false;
  bool async = true;
  std::string store_path;          // file of the sample store
  int64_t store_capacity = 0;      // records; 0: every training sample of the stream
  std::string policy = "entropy";  // random | entropy | dynamic
  double tau = 0.5;                // gate: swap a slot whose score > tau; in [0, 1]
  double dynamic_target = 0.5;     // dynamic: swap fraction tau is steered to
  int max_pending = 16;            // async: samples in flight; a swap beyond is skipped
  int io_threads = 2;              // I/O threads reading the store in parallel
  bool direct = true;              // O_DIRECT where the filesystem takes it
  bool refuse_crashed = false;     // on_crash: refuse (true) | rebuild (false)
  bool keep_store = false;         // leave the store file after the run
  // CPUs for the training thread and for the store's I/O and writer threads (-1: not pinned).
  int train_cpu = -1, io_cpu = -1;
  // The records the store holds for a stream of `train_count` training samples.
  int64_t store_records(int64_t train_count) const {
    return store_capacity > 0 ? store_capacity : train_count;
  }
};

struct ContinualConfig {
  std::string method = "er";  // finetune | joint | er | derpp | gdumb
  std::vector<int> hidden = {100, 100};
  double lr = 1e-3;
  int batch = 10;         // stream samples per step
  int replay_batch = 10;  // EM samples per step (each of DER++'s two draws)
  int epochs_per_task = 1;
  int64_t em_size = 500;
  double derpp_alpha = 0.3, derpp_beta = 0.5;
  int gdumb_epochs = 10;  // GDumb: epochs over the memory, from scratch, after each task
  int threads = 1;
  CarmOptions carm;
  void validate() const;  // throws Error (kExitConfig) with the problem
};

struct ContinualResult {
  // acc[t][j]: accuracy on task j's test rows after training on tasks 0..t (joint: one row).
  std::vector<std::vector<double>> acc;
  double final_average = 0, forgetting = 0;
  double train_seconds = 0;      // wall time of the training loop (evaluation excluded)
  double train_cpu_seconds = 0;  // the training thread's CPU time in that loop
  double compute_seconds = 0;    // inside forward/backward/optimizer steps
  double swap_wait_seconds = 0;  // training thread blocked on swaps (sync: the reads)
  double pin_wait_seconds = 0;   // training thread waiting for an EM slot lock
  // Training thread's time in Carousel work: store writes handed to the writer, the gate,
  // swap submission (sync: the swap itself) and slot-lock waits.
  double carm_seconds = 0;
  int64_t steps = 0, samples_seen = 0;
  // Carousel Memory.
  uint64_t swaps = 0, swaps_skipped = 0, samples_swapped_in = 0, samples_read = 0, swaps_stale = 0,
           swaps_deferred = 0, gate_candidates = 0;
  // Async gates that chose slots to swap while the store had no sample on disk yet (its
  // writer thread lags the stream on a loaded host): no swap was submitted. Sync waits.
  uint64_t swaps_unwritten = 0;
  double io_seconds = 0;
  uint64_t store_bytes_written = 0, store_bytes_read = 0;
  bool store_direct = false, store_rebuilt = false;
  std::vector<int64_t> store_class_counts;
  // The store's traffic on the compute-time axis (writes of streamed samples; each swap's
  // reads one batch), for replay on a storage model; and per step its compute time (s)
  // and the swap batch issued after it (-1: none).
  MemoryTrace trace;
  std::vector<double> step_compute_s;
  std::vector<int64_t> step_swap_batch;
};

ContinualResult run_continual(const TaskStream& stream, const ContinualConfig& config,
                              uint64_t seed, std::ostream* log);

// Average of the last row of acc; forgetting: mean over tasks j < T-1 of the best earlier
// accuracy on j minus the final one (Chaudhry et al., 2018).
double final_average_accuracy(const std::vector<std::vector<double>>& acc);
double average_forgetting(const std::vector<std::vector<double>>& acc);

}  // namespace tessel::continual
