// MPI sweeps: rank 0 runs the ordinary sweep loop with the other ranks as remote slots;
// every other rank runs the points it is handed in child processes and sends back results.
#include "runtime/sweep/mpi_sweep.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/sweep/remote.h"

namespace tessel::sweep {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

// Messages are JSON text (small: a point index, or one point's SimResult).
enum Tag : int {
  kStart = 1,  // 0 -> worker: {config_hash, scratch, cache}
  kAbort,      // 0 -> worker: {exit_code}; rank 0 failed, exit quietly
  kHello,      // worker -> 0: {host, pid, jobs, error}
  kAssign,     // 0 -> worker: {index}
  kResult,     // worker -> 0: {index, exited, exit_code, signal, timed_out, result, stderr_tail}
  kAlive,      // worker -> 0: heartbeat while the rank waits or runs points
  kStop,       // 0 -> worker: every point is recorded
};

void send(int dest, Tag tag, const json& message) {
  const std::string text = message.dump();
  // Errors are returned (MPI_ERRORS_RETURN), not fatal: a send to a rank that died must not
  // take rank 0 down with it; that rank is then counted as lost.
  MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD);
}

struct Message {
  int from = -1;
  int tag = 0;
  json body;
};

// A waiting message from `source` (MPI_ANY_SOURCE for any), without blocking: Open MPI's
// blocking probe spins a core, which a machine running points cannot spare.
bool receive(int source, Message& m) {
  int flag = 0;
  MPI_Status status;
  MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status);
  if (!flag) return false;
  int size = 0;
  MPI_Get_count(&status, MPI_CHAR, &size);
  std::string text(static_cast<size_t>(size), '\0');
  MPI_Recv(text.data(), size, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  m.from = status.MPI_SOURCE;
  m.tag = status.MPI_TAG;
  m.body = json::parse(text);
  return true;
}

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// Sleeps that grow while nothing happens (100 us to 1 ms), as the local sweep loop does.
class Backoff {
 public:
  void progressed() { us_ = 100; }
  void idle() {
    std::this_thread::sleep_for(std::chrono::microseconds(us_));
    us_ = std::min(us_ * 2, 1000);
  }

 private:
  int us_ = 100;
};

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// Rank 0's view of the other ranks.
class Coordinator : public RemoteRunner {
 public:
  Coordinator(int size, const SweepOptions& opt) : opt_(opt), ranks_(size) {}

  json start(const SweepPlan& plan, const std::string& scratch_dir,
             const std::string& cache_dir) override {
    plan_ = &plan;
    for (size_t r = 1; r < ranks_.size(); ++r)
      send(static_cast<int>(r), kStart,
           {{"config_hash", plan.config_hash}, {"scratch", scratch_dir}, {"cache", cache_dir}});
    json listing = json::array();
    listing.push_back({{"rank", 0},
                       {"host", host_name()},
                       {"pid", ::getpid()},
                       {"jobs", std::max(1, opt_.jobs)}});
    // Every rank answers once it has loaded the sweep itself; one that does not within the
    // rank timeout is lost from the start.
    size_t waiting = ranks_.size() - 1;
    const auto began = clock_type::now();
    Backoff backoff;
    Message m;
    while (waiting > 0 && seconds_since(began) < opt_.rank_timeout_s) {
      if (!receive(MPI_ANY_SOURCE, m)) {
        backoff.idle();
        continue;
      }
      backoff.progressed();
      if (m.tag != kHello) continue;
      Rank& r = ranks_[m.from];
      if (r.answered) continue;
      const std::string error = m.body.value("error", "");
      if (!error.empty())
        throw ConfigError("rank " + std::to_string(m.from) + " on " + m.body.value("host", "?") +
                          ": " + error);
      r.answered = true;
      r.host = m.body.value("host", "?");
      r.pid = m.body.value("pid", 0);
      r.free = std::max(1, m.body.value("jobs", 1));
      r.heard = clock_type::now();
      --waiting;
    }
    for (size_t i = 1; i < ranks_.size(); ++i) {
      Rank& r = ranks_[i];
      if (!r.answered) {
        r.lost = true;
        std::fprintf(stderr, "rank %zu did not answer within %g s; running without it\n", i,
                     opt_.rank_timeout_s);
        continue;
      }
      listing.push_back({{"rank", i}, {"host", r.host}, {"pid", r.pid}, {"jobs", r.free}});
    }
    return listing;
  }

  bool can_take() override {
    for (size_t i = 1; i < ranks_.size(); ++i)
      if (!ranks_[i].lost && ranks_[i].free > 0) return true;
    return false;
  }

  void assign(size_t index) override {
    // The rank with the most free slots, so the work spreads across hosts.
    size_t best = 0;
    for (size_t i = 1; i < ranks_.size(); ++i)
      if (!ranks_[i].lost && ranks_[i].free > 0 &&
          (best == 0 || ranks_[i].free > ranks_[best].free))
        best = i;
    if (best == 0) throw SimError("internal: no MPI rank has a free slot");
    Rank& r = ranks_[best];
    --r.free;
    r.points.insert(index);
    owner_[index] = static_cast<int>(best);
    assigned_at_[index] = clock_type::now();
    send(static_cast<int>(best), kAssign, {{"index", index}});
  }

  void poll(std::vector<std::pair<size_t, PointRecord>>& done,
            std::vector<size_t>& requeue) override {
    Message m;
    while (receive(MPI_ANY_SOURCE, m)) {
      Rank& r = ranks_[m.from];
      if (r.lost) continue;  // a rank given up on: its points belong to others now
      r.heard = clock_type::now();
      if (m.tag != kResult) continue;
      const size_t i = m.body.at("index").get<size_t>();
      auto owner = owner_.find(i);
      if (owner == owner_.end() || owner->second != m.from) continue;
      owner_.erase(owner);
      r.points.erase(i);
      ++r.free;
      // What the hand-out cost this point: assignment to result, less the time the rank
      // spent on it (its fork, run and result file, which a local sweep pays too).
      hand_out_ms_.push_back(seconds_since(assigned_at_[i]) * 1000 - m.body.value("run_ms", 0.0));
      assigned_at_.erase(i);
      ChildOutcome outcome;
      outcome.exited = m.body.at("exited").get<bool>();
      outcome.exit_code = m.body.at("exit_code").get<int>();
      outcome.signal = m.body.at("signal").get<int>();
      outcome.timed_out = m.body.at("timed_out").get<bool>();
      std::optional<std::string> text;
      if (m.body.at("result").is_string()) text = m.body.at("result").get<std::string>();
      done.emplace_back(
          i, outcome_record(*plan_, i, outcome, text, m.body.at("stderr_tail").get<std::string>(),
                            opt_.point_timeout_s));
    }
    // A rank that has sent nothing (not even its heartbeat) for the rank timeout is lost:
    // its points run once more elsewhere; a point lost twice is recorded as failed, since
    // it may be what brings its rank down.
    for (size_t n = 1; n < ranks_.size(); ++n) {
      Rank& r = ranks_[n];
      if (r.lost || seconds_since(r.heard) < opt_.rank_timeout_s) continue;
      r.lost = true;
      std::fprintf(stderr,
                   "rank %zu (%s) sent nothing for %g s: counted as lost; %zu of its "
                   "points run again elsewhere\n",
                   n, r.host.c_str(), opt_.rank_timeout_s, r.points.size());
      std::fflush(stderr);
      for (size_t i : r.points) {
        owner_.erase(i);
        if (retried_.insert(i).second) {
          requeue.push_back(i);
          continue;
        }
        ChildOutcome outcome;  // unknown: the process went with its rank
        PointRecord rec = outcome_record(*plan_, i, outcome, std::nullopt, "", 0);
        rec.exit_status = -1;
        rec.failure = "lost twice with its MPI rank (rank " + std::to_string(n) + " on " + r.host +
                      " stopped answering)";
        done.emplace_back(i, std::move(rec));
      }
      r.points.clear();
    }
  }

  size_t in_flight() const override { return owner_.size(); }
  bool lost_any() const {
    for (size_t r = 1; r < ranks_.size(); ++r)
      if (ranks_[r].lost) return true;
    return false;
  }

  void stop() override {
    for (size_t r = 1; r < ranks_.size(); ++r) send(static_cast<int>(r), kStop, json::object());
    if (hand_out_ms_.empty()) return;
    std::sort(hand_out_ms_.begin(), hand_out_ms_.end());
    std::fprintf(stderr,
                 "MPI hand-out: %zu points ran on other ranks; scheduling overhead per point "
                 "median %.3f ms, max %.3f ms\n",
                 hand_out_ms_.size(), hand_out_ms_[hand_out_ms_.size() / 2], hand_out_ms_.back());
    std::fflush(stderr);
  }

  // Rank 0 failed: every other rank leaves with the same exit code.
  void abort(int exit_code) {
    for (size_t r = 1; r < ranks_.size(); ++r)
      send(static_cast<int>(r), kAbort, {{"exit_code", exit_code}});
  }

 private:
  struct Rank {
    bool answered = false, lost = false;
    int free = 0;
    long pid = 0;
    std::string host;
    std::set<size_t> points;
    clock_type::time_point heard = clock_type::now();
  };
  const SweepOptions& opt_;
  const SweepPlan* plan_ = nullptr;
  std::vector<Rank> ranks_;
  std::map<size_t, int> owner_;  // point -> rank running it
  std::map<size_t, clock_type::time_point> assigned_at_;
  std::vector<double> hand_out_ms_;
  std::set<size_t> retried_;
};

struct WorkerPoint {
  std::unique_ptr<Child> child;
  clock_type::time_point start;
};

// A rank other than 0: runs the points it is handed until rank 0 says stop (or failed).
void run_worker(const SweepOptions& opt) {
  Backoff backoff;
  Message m;
  // Rank 0 may check the points' configurations for a while before it starts.
  while (!receive(0, m)) backoff.idle();
  if (m.tag == kAbort) return;  // rank 0 reports why
  if (m.tag != kStart) throw SimError("internal: MPI rank expected the start message");
  const std::string scratch = m.body.at("scratch"), cache = m.body.at("cache");
  const double heartbeat_s = std::min(1.0, opt.rank_timeout_s / 4);

  // Each rank loads the sweep itself (files on a shared file system); a different sweep or
  // experiment than rank 0's (an unsynchronised copy on one node) is refused.
  json hello = {{"host", host_name()}, {"pid", ::getpid()}, {"jobs", std::max(1, opt.jobs)}};
  SweepPlan plan;
  try {
    plan = load_sweep(opt.sweep_file, /*expand=*/false);
    if (plan.config_hash != m.body.at("config_hash").get<std::string>())
      hello["error"] = opt.sweep_file + ": config hash " + plan.config_hash +
                       " differs from rank 0's " + m.body.at("config_hash").get<std::string>() +
                       " (the sweep or its experiment differs on this host)";
  } catch (const std::exception& e) {
    hello["error"] = e.what();
  }
  send(0, kHello, hello);
  std::error_code ec;
  fs::create_directories(scratch, ec);

  std::map<size_t, WorkerPoint> running;
  auto last_sent = clock_type::now();
  auto report = [&](size_t i, const ChildOutcome& outcome, const std::optional<std::string>& text,
                    const std::string& tail, clock_type::time_point received) {
    send(0, kResult,
         {{"index", i},
          {"run_ms", seconds_since(received) * 1000},
          {"exited", outcome.exited},
          {"exit_code", outcome.exit_code},
          {"signal", outcome.signal},
          {"timed_out", outcome.timed_out},
          {"result", text ? json(*text) : json()},
          {"stderr_tail", tail}});
    last_sent = clock_type::now();
  };
  for (;;) {
    bool progressed = false;
    while (receive(0, m)) {
      progressed = true;
      if (m.tag == kStop || m.tag == kAbort) return;
      if (m.tag != kAssign) continue;
      const size_t i = m.body.at("index").get<size_t>();
      const auto received = clock_type::now();
      // A result left by a run that was killed after the point finished is reused.
      if (auto text = read_result_text(scratch_path(scratch, i, ".json"))) {
        report(i, ChildOutcome{true, 0}, text, "", received);
        continue;
      }
      running[i] = WorkerPoint{start_point(plan, i, scratch, cache), received};
    }
    for (auto it = running.begin(); it != running.end();) {
      ChildOutcome outcome;
      if (!it->second.child->poll(outcome)) {
        if (opt.point_timeout_s > 0 && seconds_since(it->second.start) > opt.point_timeout_s)
          it->second.child->kill_now();
        ++it;
        continue;
      }
      const size_t i = it->first;
      auto text = outcome.exited && outcome.exit_code == 0
                      ? read_result_text(scratch_path(scratch, i, ".json"))
                      : std::nullopt;
      report(i, outcome, text, text ? "" : file_tail(scratch_path(scratch, i, ".stderr")),
             it->second.start);
      it = running.erase(it);
      progressed = true;
    }
    if (seconds_since(last_sent) >= heartbeat_s) {
      send(0, kAlive, json::object());
      last_sent = clock_type::now();
    }
    if (progressed)
      backoff.progressed();
    else
      backoff.idle();
  }
}

}  // namespace

SweepSummary run_sweep_mpi(const SweepOptions& opt,
                           const std::function<void(const SweepSummary&)>& finish) {
  // Open MPI's handler for SIGSEGV, SIGBUS, SIGFPE and SIGABRT would be inherited by the
  // forked points and print its backtrace into a crashed point's stderr tail; without it the
  // record is the one a local sweep writes. A user's own setting is kept.
  ::setenv("OMPI_MCA_opal_signal", "", 0);
  MPI_Init(nullptr, nullptr);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank != 0) {
    SweepSummary summary;
    summary.writer = false;
    try {
      run_worker(opt);
    } catch (...) {
      MPI_Finalize();
      throw;
    }
    MPI_Finalize();
    return summary;
  }
  Coordinator coordinator(size, opt);
  // MPI_Finalize waits for every rank, a dead one too: a job that lost a rank ends with
  // MPI_Abort instead, once rank 0 has written everything.
  auto end = [&](int code) {
    if (!coordinator.lost_any()) {
      MPI_Finalize();
      return;
    }
    std::fprintf(stderr,
                 "a rank was lost: every point is recorded; ending the MPI job with "
                 "MPI_Abort (MPI_Finalize would wait for the lost rank)\n");
    std::fflush(stderr);
    std::fflush(stdout);
    MPI_Abort(MPI_COMM_WORLD, code);
  };
  SweepSummary summary;
  try {
    summary = run_sweep(opt, &coordinator);
    finish(summary);
  } catch (const std::exception&) {
    int code = kExitFailure;
    try {
      throw;
    } catch (const Error& e) {
      code = e.exit_code();
    } catch (...) {
    }
    coordinator.abort(code);
    end(code);
    throw;
  }
  end(summary.failed ? kExitPointsFailed : kExitOk);
  return summary;
}

}  // namespace tessel::sweep
