// The `tessel` command-line tool: run, sweep, report, list.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/cli/ann_command.h"
#include "runtime/cli/cli_checks.h"
#include "runtime/cli/key_docs.h"
#include "runtime/cli/lstm_command.h"
#include "runtime/cli/summary.h"
#include "runtime/cli/train_command.h"
#include "runtime/cli/validate_command.h"
#include "runtime/core/atomic_file.h"
#include "runtime/core/error.h"
#include "runtime/core/file_io.h"
#include "runtime/core/registry.h"
#include "runtime/core/runner.h"
#include "runtime/report/report.h"
#include "runtime/sweep/merge.h"
#include "runtime/sweep/mpi_sweep.h"
#include "runtime/sweep/sweep.h"

#ifndef TESSEL_VERSION
#define TESSEL_VERSION "unknown"
#endif
#ifndef TESSEL_SOURCE_DIR
#define TESSEL_SOURCE_DIR "."
#endif

namespace fs = std::filesystem;
using namespace tessel;

namespace {

const char* kExitCodes =
    "Exit codes: 0 success; 1 a simulation failed or a functional check did not pass; "
    "2 bad command line; 3 bad configuration; 4 a file could not be read or written; "
    "5 a sweep finished with failed points.";

int cmd_run(const std::string& file, const std::vector<std::string>& sets, bool json,
            const std::string& trace_path, const std::string& out_dir) {
  std::vector<Override> overrides;
  for (const auto& s : sets) overrides.push_back(parse_override(s));
  Config experiment = load_experiment(file, overrides);
  PreparedRun prepared = prepare_experiment(experiment);
  std::unique_ptr<TraceWriter> trace;
  if (!trace_path.empty()) trace = std::make_unique<TraceWriter>(trace_path);
  // With --out the run's own files (curves, checkpoints) and result.json land there.
  SimResult r = execute(prepared, trace.get(), RunOutputs{out_dir, "", &std::cerr});
  if (trace) trace->close();
  if (!out_dir.empty())
    write_file_atomic((fs::path(out_dir) / "result.json").string(), r.to_json().dump(2) + "\n",
                      false);
  if (json)
    std::cout << r.to_json().dump(2) << "\n";
  else
    std::cout << cli::format_summary(file, prepared.seed, r);
  if (trace && !json) std::cout << "trace        " << trace_path << " (open in ui.perfetto.dev)\n";
  return r.checks_passed() ? kExitOk : kExitFailure;
}

// `list --keys MODEL` and `list --readme FILE [--check]`.
int cmd_list_keys(const std::string& model, const std::string& readme, bool check) {
  if (!model.empty()) {
    std::cout << cli::model_keys_markdown(model);
    return kExitOk;
  }
  const std::string text = read_file(readme, "README");
  const std::string fresh = cli::regenerate_key_sections(text, readme);
  if (check) {
    if (fresh == text) return kExitOk;
    std::cerr << "error: " << readme
              << ": the key tables differ from the models' declarations; run `tessel list "
                 "--readme "
              << readme << "` and commit the result\n";
    return kExitFailure;
  }
  if (fresh != text) write_file_atomic(readme, fresh);
  return kExitOk;
}

int cmd_list(std::ostream& out) {
  out << "Models:\n";
  for (const auto& e : Registry::instance().entries())
    out << "  " << e.name << std::string(e.name.size() < 24 ? 24 - e.name.size() : 1, ' ')
        << e.description << "\n";
  fs::path root =
      fs::exists("configs") ? fs::path("configs") : fs::path(TESSEL_SOURCE_DIR) / "configs";
  for (const char* kind : {"experiments", "sweeps", "hw", "workloads", "energy", "train"}) {
    fs::path dir = root / kind;
    if (!fs::exists(dir)) continue;
    std::vector<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.is_regular_file() && entry.path().extension() == ".yaml")
        files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    out << "\nConfigs: " << kind << "\n";
    for (const auto& f : files) out << "  " << f << "\n";
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tessel: cycle-level ML hardware models checked against real software.", "tessel"};
  app.footer(kExitCodes);
  app.set_version_flag("--version", std::string("tessel ") + TESSEL_VERSION);
  app.require_subcommand(1);

  std::string run_file, trace_path;
  std::vector<std::string> sets;
  bool json = false;
  auto* run =
      app.add_subcommand("run", "Run one experiment (hardware + workload) and print a summary");
  run->add_option("experiment", run_file, "Experiment YAML file")->required();
  run->add_option("--set", sets, "Override a key, e.g. --set hw.rows=32 (repeatable)");
  run->add_flag("--json", json, "Print the SimResult as JSON instead of the summary");
  run->add_option("--trace", trace_path, "Write a Perfetto/Chrome trace of block activity");
  std::string run_out;
  run->add_option("--out", run_out,
                  "Folder for result.json and the run's own files (training curves, "
                  "checkpoints, indexes)");

  sweep::SweepOptions sopt;
  bool dry_run = false, no_report = false;
  auto* sw = app.add_subcommand("sweep", "Run every design point of a sweep file");
  sw->add_option("sweep", sopt.sweep_file, "Sweep YAML file")->required();
  sw->add_option("-j,--jobs", sopt.jobs, "Points run at once (default: number of cores)")
      ->check(cli::positive_integer());
  sw->add_flag("--dry-run", dry_run, "List the points and exit");
  sw->add_flag("--resume", sopt.resume, "Continue an interrupted sweep, skipping finished points");
  sw->add_option("--point-timeout", sopt.point_timeout_s,
                 "Seconds after which a point is killed and recorded as failed (0: none)")
      ->check(cli::non_negative_number());
  sw->add_flag("--overwrite", sopt.overwrite, "Replace earlier results in the results folder")
      ->excludes(sw->get_option("--resume"));
  sw->add_option("--out", sopt.out_dir, "Results folder (default: results/<sweep name>)");
  sw->add_flag("--no-report", no_report, "Do not write report.md / report.html at the end");
  std::string shard_text;
  bool mpi = false;
  sw->add_option("--shard", shard_text,
                 "Run only shard i of n (points with index mod n == i, i from 0) into its own "
                 "folder; join the shards with tessel merge");
  sw->add_flag("--mpi", mpi,
               "Run across the ranks of an MPI job (mpirun/srun start it; also implied when "
               "started as one of several ranks); rank 0 writes the results");
  sw->add_option("--rank-timeout", sopt.rank_timeout_s,
                 "With MPI: seconds of silence after which a rank counts as lost and its "
                 "points run once more elsewhere (default 60)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            char* end = nullptr;
            double v = std::strtod(text.c_str(), &end);
            return *end == '\0' && v > 0 ? "" : "must be a positive number of seconds, got " + text;
          },
          "SECONDS"));
  sopt.jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  sopt.point_timeout_s = 600;

  std::vector<std::string> merge_dirs;
  std::string merge_out;
  bool merge_no_report = false;
  auto* merge = app.add_subcommand(
      "merge", "Join the folders of a sharded sweep (--shard i/n) into one results folder");
  merge->add_option("shards", merge_dirs, "Shard results folders")->required();
  merge->add_option("--out", merge_out, "Results folder (default: results/<sweep name>)");
  merge->add_flag("--no-report", merge_no_report, "Do not write report.md / report.html");

  std::string report_dir;
  auto* rep = app.add_subcommand("report", "Write report.md and report.html for a results folder");
  rep->add_option("results", report_dir, "Results folder, e.g. results/quickstart")->required();

  auto* list = app.add_subcommand("list", "List registered models and shipped configs");
  std::string keys_model, keys_readme;
  bool keys_check = false;
  auto* keys_opt =
      list->add_option("--keys", keys_model, "Print one model's keys (hw and workload tables)");
  auto* readme_opt = list->add_option(
      "--readme", keys_readme,
      "Regenerate the key tables of a README (configs/README.md) from the models' declarations");
  list->add_flag("--check", keys_check,
                 "With --readme: change nothing; exit 1 when the tables are not current")
      ->needs(readme_opt);
  keys_opt->excludes(readme_opt);

  std::string point_sweep, point_out, point_artifacts, point_cache;
  size_t point_index = 0;
  auto* point = app.add_subcommand("point", "Run one point of a sweep (used by `tessel sweep`)");
  point->group("");  // internal: hidden from --help
  point->add_option("sweep", point_sweep)->required();
  point->add_option("--index", point_index)->required();
  point->add_option("--out", point_out)->required();
  point->add_option("--artifacts", point_artifacts);
  point->add_option("--cache", point_cache);

  std::function<int()> ann_action;
  cli::add_ann_command(app, ann_action);
  std::function<int()> lstm_action;
  cli::add_lstm_command(app, lstm_action);
  CLI::App* validate = cli::add_validate_command(app);
  CLI::App* train = cli::add_train_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  try {
    if (ann_action) return ann_action();
    if (lstm_action) return lstm_action();
    if (*validate) return cli::run_validate_command();
    if (*train) return cli::run_train_command();
    if (*run) return cmd_run(run_file, sets, json, trace_path, run_out);
    if (*list)
      return keys_model.empty() && keys_readme.empty()
                 ? cmd_list(std::cout)
                 : cmd_list_keys(keys_model, keys_readme, keys_check);
    if (*point) {
      sweep::run_point(point_sweep, point_index, point_out, point_artifacts, point_cache);
      return kExitOk;
    }
    if (*rep) {
      auto files = report::write_report(report_dir);
      std::cout << "wrote " << files.markdown << "\n      " << files.html << "\n";
      for (const auto& note : files.notes) std::cerr << "note: " << note << "\n";
      return kExitOk;
    }
    std::string cmd = "tessel";
    for (int i = 1; i < argc; ++i) cmd += std::string(" ") + argv[i];
    if (*merge) {
      auto summary = sweep::merge_shards(merge_dirs, merge_out, cmd);
      std::cout << "results: " << summary.out_dir << " (" << summary.points << " points, "
                << summary.failed << " failed)\n";
      if (!merge_no_report) {
        auto files = report::write_report(summary.out_dir);
        std::cout << "report:  " << files.markdown << "\n         " << files.html << "\n";
        for (const auto& note : files.notes) std::cerr << "note: " << note << "\n";
      }
      return summary.failed ? kExitPointsFailed : kExitOk;
    }
    if (*sw) {
      // Flags first: a bad --shard or --mpi fails before the sweep is read or anything written.
      if (!shard_text.empty()) sopt.shard = sweep::parse_shard(shard_text);
      const bool under_mpi = !dry_run && sweep::use_mpi(mpi, sopt.shard);
      auto plan = sweep::load_sweep(sopt.sweep_file, /*expand=*/false);
      if (dry_run) {
        std::cout << sweep::list_points(plan);
        return kExitOk;
      }
      sopt.command_line = cmd;
      // A shard's report would describe a fraction of the sweep: tessel merge writes it.
      if (!sopt.shard.whole()) no_report = true;
      auto finish = [&](const sweep::SweepSummary& summary) {
        std::cout << "results: " << summary.out_dir << " (" << summary.points << " points, "
                  << summary.failed << " failed)\n";
        if (!no_report) {
          auto files = report::write_report(summary.out_dir);
          std::cout << "report:  " << files.markdown << "\n         " << files.html << "\n";
          for (const auto& note : files.notes) std::cerr << "note: " << note << "\n";
        }
        std::cout.flush();
      };
      // Under MPI rank 0 writes the report while the job still stands.
      auto summary = under_mpi ? sweep::run_sweep_mpi(sopt, finish) : sweep::run_sweep(sopt);
      if (!summary.writer) return kExitOk;  // an MPI rank other than 0: rank 0 reports
      if (!under_mpi) finish(summary);
      return summary.failed ? kExitPointsFailed : kExitOk;
    }
  } catch (const std::bad_alloc&) {
    // Sizes no configuration check caught: name what was running instead of "internal error".
    std::string what = "tessel";
    if (*run) what = run_file;
    if (*point) what = point_sweep + " point " + std::to_string(point_index);
    if (*sw) what = sopt.sweep_file;
    std::cerr << "tessel: " << what
              << ": out of memory (std::bad_alloc): the configured sizes need more memory than "
                 "this machine could allocate; see Limits in configs/README.md\n";
    return kExitFailure;
  } catch (const std::exception&) {
    return report_current_exception(std::cerr);
  }
  return kExitUsage;
}
