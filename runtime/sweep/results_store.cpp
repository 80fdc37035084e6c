// Results folder bookkeeping with crash-safe appends.
#include "runtime/sweep/results_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"

namespace tessel::sweep {
namespace fs = std::filesystem;

ResultsStore::ResultsStore(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  fs::create_directories(dir_ + "/.points", ec);
  if (ec) throw IoError(dir_ + ": cannot create results folder (" + ec.message() + ")");
  lock_fd_ = ::open((dir_ + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  // A POSIX record lock, not flock(2): it is this process's alone, so the point children
  // forked from it do not hold it on for a moment after a kill -9 of the sweep (a --resume
  // started at once then found the folder locked).
  struct flock whole {};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;
  if (lock_fd_ < 0 || ::fcntl(lock_fd_, F_SETLK, &whole) != 0)
    throw IoError(dir_ + ": another sweep is writing this results folder");
  // Under the lock: temporaries of a killed run's whole-file writes.
  remove_stale_temps(dir_);
}

ResultsStore::~ResultsStore() {
  if (points_fd_ >= 0) ::close(points_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

bool ResultsStore::has_points() const {
  std::error_code ec;
  return fs::exists(points_path(), ec) && fs::file_size(points_path(), ec) > 0;
}

void ResultsStore::clear() {
  for (const char* name :
       {"points.jsonl", "manifest.json", "summary.csv", "report.md", "report.html", "speedup.svg",
        "energy_breakdown.svg", "pareto.svg", "area_pareto.svg"})
    fs::remove(dir_ + "/" + name);
  for (const auto& entry : fs::directory_iterator(dir_))
    if (entry.path().filename().string().rfind("plot_", 0) == 0) fs::remove(entry.path());
  for (const auto& entry : fs::directory_iterator(scratch_dir())) fs::remove_all(entry.path());
  fs::remove_all(artifacts_dir());
  fs::remove_all(cache_dir());
}

std::vector<PointRecord> ResultsStore::load_existing() {
  if (!fs::exists(points_path())) return {};
  size_t valid = 0;
  std::vector<PointRecord> records = read_points(points_path(), &valid);
  if (valid < fs::file_size(points_path())) fs::resize_file(points_path(), valid);
  return records;
}

void ResultsStore::append(const PointRecord& record) {
  if (points_fd_ < 0) {
    points_fd_ = ::open(points_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (points_fd_ < 0)
      throw IoError(points_path() + ": cannot open for append (" + std::strerror(errno) + ")");
  }
  std::string line = record.to_line() + "\n";
  ssize_t n = ::write(points_fd_, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size()))
    throw IoError(points_path() + ": short write (" + std::strerror(errno) + ")");
}

nlohmann::json ResultsStore::read_manifest() const {
  std::ifstream in(manifest_path());
  if (!in) throw IoError(manifest_path() + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw IoError(manifest_path() + ": malformed JSON: " + e.what());
  }
}

void ResultsStore::write_manifest(const nlohmann::json& manifest) const {
  write_file_atomic(manifest_path(), manifest.dump(2) + "\n");
}

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

std::string number(double v) {
  std::ostringstream ss;
  ss.precision(10);
  ss << v;
  return ss.str();
}

}  // namespace

void ResultsStore::write_summary(const std::vector<PointRecord>& records,
                                 const std::vector<std::string>& swept_keys) const {
  std::set<std::string> metric_keys, energy_keys;
  for (const auto& r : records) {
    if (!r.result) continue;
    for (const auto& kv : r.result->metrics) metric_keys.insert(kv.first);
    for (const auto& kv : r.result->energy_pj) energy_keys.insert(kv.first);
  }
  std::ostringstream out;
  out << "id,status";
  for (const auto& k : swept_keys) out << "," << csv_field(k);
  out << ",model,cycles,clock_ghz,seconds,energy_total_pj";
  for (const auto& k : energy_keys) out << "," << csv_field("energy_" + k + "_pj");
  for (const auto& k : metric_keys) out << "," << csv_field(k);
  out << ",checks_passed,failure\n";
  for (const auto& r : records) {
    out << r.id << "," << (r.ok ? "ok" : "failed");
    for (const auto& k : swept_keys) {
      const auto& v = r.params.contains(k) ? r.params.at(k) : nlohmann::json();
      out << "," << csv_field(v.is_string() ? v.get<std::string>() : v.dump());
    }
    if (r.result) {
      const SimResult& s = *r.result;
      out << "," << s.model << "," << s.cycles << "," << number(s.clock_ghz) << ","
          << number(s.seconds) << "," << number(s.total_energy_pj());
      for (const auto& k : energy_keys)
        out << "," << (s.energy_pj.count(k) ? number(s.energy_pj.at(k)) : "");
      for (const auto& k : metric_keys)
        out << "," << (s.metrics.count(k) ? number(s.metrics.at(k)) : "");
      out << "," << (s.checks_passed() ? "true" : "false") << ",";
    } else {
      out << ",,,,,";
      for (size_t i = 0; i < energy_keys.size() + metric_keys.size(); ++i) out << ",";
      out << ",," << csv_field(r.failure);
    }
    out << "\n";
  }
  write_file_atomic(dir_ + "/summary.csv", out.str());
}

}  // namespace tessel::sweep
