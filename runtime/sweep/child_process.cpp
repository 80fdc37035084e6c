// Child processes (fork/exec, or fork alone) with captured stderr.
#include "runtime/sweep/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "runtime/core/error.h"

namespace tessel::sweep {

std::string ChildOutcome::describe(double timeout_s) const {
  if (timed_out) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "timeout after %g s", timeout_s);
    return buf;
  }
  if (exited) return "exit " + std::to_string(exit_code);
  const char* name = sigabbrev_np(signal);
  return std::string("signal SIG") + (name ? name : std::to_string(signal).c_str());
}

namespace {

// Forks; in the child, sets up parent death, stdin/stdout to /dev/null and stderr to
// `err_fd`, then returns 0. In the parent returns the child's pid.
pid_t fork_child(const std::string& stderr_path) {
  int err_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (err_fd < 0) throw IoError(stderr_path + ": cannot create (" + std::strerror(errno) + ")");
  // Buffered output must not be written twice, once by each process.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(err_fd);
    throw IoError(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int null_fd = ::open("/dev/null", O_RDWR);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(err_fd, 2);
    return 0;
  }
  ::close(err_fd);
  return pid;
}

}  // namespace

Child::Child(const std::vector<std::string>& argv, const std::string& stderr_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork_child(stderr_path);
  if (pid_ == 0) {
    // Child: only async-signal-safe calls until exec.
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

Child::Child(const std::function<int()>& body, const std::string& stderr_path) {
  pid_ = fork_child(stderr_path);
  if (pid_ == 0) {
    int code = 1;
    try {
      code = body();
    } catch (...) {
      code = 1;  // the body reports its own errors; this is a last resort
    }
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    // _exit: the parent's atexit handlers and static destructors are not the child's to run.
    ::_exit(code);
  }
}

bool Child::poll(ChildOutcome& out) {
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return false;
  if (r < 0) throw IoError(std::string("waitpid failed: ") + std::strerror(errno));
  out = ChildOutcome{};
  if (WIFEXITED(status)) {
    out.exited = true;
    out.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
  }
  out.timed_out = killed_;
  return true;
}

void Child::kill_now() {
  killed_ = true;
  ::kill(pid_, SIGKILL);
}

std::string file_tail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  std::streamoff size = in.tellg();
  std::streamoff start = size > static_cast<std::streamoff>(max_bytes) ? size - max_bytes : 0;
  in.seekg(start);
  std::string data(static_cast<size_t>(size - start), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (start > 0) {
    size_t nl = data.find('\n');
    if (nl != std::string::npos && nl + 1 < data.size()) data = data.substr(nl + 1);
  }
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) data.pop_back();
  return data;
}

}  // namespace tessel::sweep
