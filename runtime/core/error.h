// Error types shared by every floor; each carries the exit code the tool reports.
#pragma once

#include <exception>
#include <ostream>
#include <stdexcept>
#include <string>

namespace tessel {

// Exit codes of the `tessel` tool (documented in README.md and `tessel --help`).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // a simulation failed or a functional check did not pass
  kExitUsage = 2,        // bad command line
  kExitConfig = 3,       // bad config, experiment, sweep or energy file
  kExitIo = 4,           // a file or folder could not be read or written
  kExitPointsFailed = 5  // a sweep finished but some points failed
};

// Base of every error the tool reports to the user as a one-line message.
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, int exit_code)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Bad configuration; the message starts with file:line:col and the key path.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message) : Error(message, kExitConfig) {}
};

// A file or folder that cannot be read or written (message names the path).
class IoError : public Error {
 public:
  explicit IoError(const std::string& message) : Error(message, kExitIo) {}
};

// A simulation that could not complete (deadlock, violated invariant...).
class SimError : public Error {
 public:
  explicit SimError(const std::string& message) : Error(message, kExitFailure) {}
};

// Call inside a catch block: prints the exception being handled as the tool reports it
// ("tessel: <message>", or "tessel: internal error: ..." for anything not a tessel::Error)
// and returns the exit code to end with. Shared by main() and the forked sweep points.
inline int report_current_exception(std::ostream& err) {
  try {
    throw;
  } catch (const Error& e) {
    err << "tessel: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    err << "tessel: internal error: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace tessel
