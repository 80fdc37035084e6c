// Runs a child process with a time limit, its stderr captured to a file.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace tessel::sweep {

struct ChildOutcome {
  bool exited = false;     // exited normally (see exit_code)
  int exit_code = 0;       // when exited
  int signal = 0;          // when killed by a signal
  bool timed_out = false;  // killed by us after the time limit
  int exit_status() const { return exited ? exit_code : 128 + signal; }
  std::string describe(double timeout_s) const;  // "exit 3", "signal SIGSEGV", "timeout ..."
};

// A started child. Children die with their parent (PR_SET_PDEATHSIG), so a killed sweep
// leaves no orphan points behind.
class Child {
 public:
  // argv[0] is the program path; stdout goes to /dev/null, stderr to `stderr_path`.
  Child(const std::vector<std::string>& argv, const std::string& stderr_path);
  // A fork of this process that runs `body` and exits with its return value, with the same
  // stdout, stderr and parent-death handling: no exec, so no dynamic loading and no static
  // initialisers are paid again (about 12 ms per process with libsystemc). Only for a caller
  // that has started no threads, no SystemC simulation and no CUDA context: the child gets
  // a copy of the caller's memory, and after a fork only the forking thread exists.
  Child(const std::function<int()>& body, const std::string& stderr_path);
  pid_t pid() const { return pid_; }
  // Non-blocking: true once the child has ended; fills `out`.
  bool poll(ChildOutcome& out);
  void kill_now();  // SIGKILL (used for timeouts)

 private:
  pid_t pid_ = -1;
  bool killed_ = false;
};

// The last `max_bytes` of a file, starting at a line boundary where possible.
std::string file_tail(const std::string& path, size_t max_bytes = 2048);

}  // namespace tessel::sweep
