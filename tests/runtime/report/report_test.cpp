// Report generation from the committed fixture results folder (tests/.../fixtures/basic).
#include "runtime/report/report.h"

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/report/baseline.h"
#include "runtime/report/results_folder.h"

namespace tessel::report {
namespace {

namespace fs = std::filesystem;

const fs::path kFixture = fs::path(TESSEL_SOURCE_DIR) / "tests/runtime/report/fixtures/basic";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// A scratch copy of the fixture, so the committed folder is never written to.
class ReportFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tessel-report-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = fs::path(pattern) / "basic";
    fs::copy(kFixture, dir_);
  }
  void TearDown() override { fs::remove_all(dir_.parent_path()); }

  fs::path dir_;
};

// The markdown row of a point: "| p0002 | 8 | 64 | ok | ..." split into cells.
std::vector<std::string> md_row(const std::string& md, const std::string& id) {
  std::istringstream in(md);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| " + id + " | ", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) cells.push_back(cell.substr(1, cell.size() - 2));
    return cells;
  }
  return {};
}

TEST(ReportBaseline, SpeedupsAreAgainstTheMatchingBaseline) {
  ResultsFolder f = read_results_folder(kFixture.string());
  ASSERT_EQ(f.points.size(), 8u);
  std::vector<Comparison> c = compare_to_baseline(f.points, f.manifest.baseline);
  // hw.rows=4 is the baseline; each workload.m has its own.
  const std::vector<std::pair<size_t, double>> expected{{0, 1.0}, {0, 1.0}, {0, 2.0},
                                                        {1, 2.0}, {0, 4.0}, {1, 3.2}};
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(f.points[i].id);
    ASSERT_TRUE(c[i].baseline && c[i].speedup);
    EXPECT_EQ(*c[i].baseline, i % 2 == 0 ? 0u : 1u);
    EXPECT_DOUBLE_EQ(*c[i].speedup, expected[i].second);
  }
  EXPECT_DOUBLE_EQ(*c[2].energy_ratio, 2.0 / 2.4);
  EXPECT_DOUBLE_EQ(*c[3].energy_ratio, 4.0 / 4.2);
  EXPECT_DOUBLE_EQ(*c[5].energy_ratio, 0.8);
  EXPECT_FALSE(c[6].speedup);  // failed
  EXPECT_EQ(c[6].why_not, "point failed");
  EXPECT_FALSE(c[7].speedup);  // workload.m=256 has no hw.rows=4 point
  EXPECT_EQ(c[7].why_not, "no baseline point with these parameters");
}

TEST(ReportBaseline, FailedBaselineAndNoBaseline) {
  ResultsFolder f = read_results_folder(kFixture.string());
  f.points[0].ok = false;
  f.points[0].result.reset();
  std::vector<Comparison> c = compare_to_baseline(f.points, f.manifest.baseline);
  EXPECT_FALSE(c[2].speedup);
  EXPECT_EQ(c[2].why_not, "baseline p0000 failed");
  EXPECT_TRUE(c[3].speedup);
  for (const auto& x : compare_to_baseline(f.points, nullptr)) EXPECT_FALSE(x.speedup);
}

TEST(ReportBaseline, NumbersCompareByValueAndAnUnsweptKeyIsNamed) {
  ResultsFolder f = read_results_folder(kFixture.string());
  f.points[1].params["hw.rows"] = 4.0;  // a float baseline value still matches 4
  std::vector<Comparison> c = compare_to_baseline(f.points, f.manifest.baseline);
  ASSERT_TRUE(c[5].speedup);
  EXPECT_EQ(*c[5].baseline, 1u);
  EXPECT_DOUBLE_EQ(*c[5].speedup, 3.2);
  c = compare_to_baseline(f.points, {{"hw.cols", 4}});
  EXPECT_FALSE(c[2].speedup);
  EXPECT_EQ(c[2].why_not, "baseline key hw.cols is not a parameter of this point");
}

TEST_F(ReportFolder, MarkdownHasFactsAndEveryPointWithUnits) {
  ReportFiles files = write_report(dir_.string());
  EXPECT_FALSE(files.plots_skipped);
  std::string md = slurp(files.markdown);
  EXPECT_NE(md.find("# MAC array: rows × GEMM size\n"), std::string::npos);
  EXPECT_NE(md.find("```\ntessel sweep configs/sweeps/report_fixture.yaml --name basic -j 2\n```"),
            std::string::npos);
  for (const char* fact :
       {"| Git commit | cfd822f |", "| Config hash | 3f9a1c0d2b7e4a15 |", "| Seed | 1 |",
        "| Host | ci-runner-1 |", "| Started (UTC) | 2026-11-26T20:00:00Z |",
        "| Finished (UTC) | 2026-11-26T20:00:04Z |",
        "| Points | 8 of 8 recorded: 7 ok, 1 failed |"})
    EXPECT_NE(md.find(fact), std::string::npos) << fact;
  EXPECT_NE(md.find("| ID | hw.rows | workload.m | Status | Cycles | Latency (µs) | Energy (µJ) | "
                    "Baseline | Speedup (×) | Energy saving (×) | Utilization (%) | GFLOP/s | "
                    "Power (W) | Checks passed | Pareto |"),
            std::string::npos);
  using Row = std::vector<std::string>;
  EXPECT_EQ(md_row(md, "p0002"), (Row{"p0002", "8", "64", "ok", "2000", "2.000", "2.400", "p0000",
                                      "2.00", "0.83", "90.0", "262.1", "1.20", "1/1", "yes"}));
  EXPECT_EQ(md_row(md, "p0005"), (Row{"p0005", "16", "128", "ok", "2500", "2.500", "5.000", "p0001",
                                      "3.20", "0.80", "75.0", "419.4", "2.00", "1/1", ""}));
  EXPECT_EQ(md_row(md, "p0007")[8], "—");
  EXPECT_EQ(md_row(md, "p0006")[3], "failed");
  EXPECT_NE(md.find("- p0007 (hw.rows=8, workload.m=256): no baseline point with these "
                    "parameters"),
            std::string::npos);
  // The failed-points table, with the last stderr line (markup escaped).
  EXPECT_NE(md.find("| p0006 | hw.rows=32, workload.m=64 | signal SIGSEGV | 139 | assertion "
                    "failed: tile \\<3\\> & \"bank\" out of range |"),
            std::string::npos);
}

TEST_F(ReportFolder, ParetoFrontIsExact) {
  std::string md = slurp(write_report(dir_.string()).markdown);
  size_t at = md.find("## Pareto front");
  ASSERT_NE(at, std::string::npos);
  std::string section = md.substr(at, md.find("## Plots") - at);
  EXPECT_NE(section.find("| p0004 | hw.rows=16, workload.m=64 | 1.000 | 3.200 |\n"
                         "| p0002 | hw.rows=8, workload.m=64 | 2.000 | 2.400 |\n"
                         "| p0000 | hw.rows=4, workload.m=64 | 4.000 | 2.000 |\n\n"),
            std::string::npos)
      << section;
  for (const char* id : {"p0001", "p0003", "p0005", "p0007"})
    EXPECT_EQ(section.find(id), std::string::npos) << id;
  for (const char* id : {"p0000", "p0002", "p0004"}) EXPECT_EQ(md_row(md, id).back(), "yes");
}

TEST_F(ReportFolder, PlotsAreSvgFilesReferencedByTheMarkdown) {
  ReportFiles files = write_report(dir_.string());
  ASSERT_EQ(files.plots.size(), 3u);
  std::string md = slurp(files.markdown);
  for (const char* name : {"speedup.svg", "energy_breakdown.svg", "pareto.svg"}) {
    std::string svg = slurp(dir_ / name);
    ASSERT_FALSE(svg.empty()) << name;
    EXPECT_TRUE(svg.rfind("<?xml", 0) == 0 || svg.rfind("<svg", 0) == 0) << name;
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << name;
    EXPECT_NE(md.find(std::string("](") + name + ")"), std::string::npos) << name;
  }
  EXPECT_NE(slurp(dir_ / "speedup.svg").find("3.20×"), std::string::npos);
  EXPECT_NE(slurp(dir_ / "energy_breakdown.svg").find("dram"), std::string::npos);
  const std::string pareto = slurp(dir_ / "pareto.svg");
  EXPECT_NE(pareto.find("Latency (µs)"), std::string::npos);
  EXPECT_NE(pareto.find(">p0004<"), std::string::npos);  // front points are labelled
  EXPECT_EQ(pareto.find(">p0007<"), std::string::npos);  // the others are not
  EXPECT_NE(slurp(dir_ / "speedup.svg").find(">rows=16 m=128<"), std::string::npos);
  for (const auto& e : fs::directory_iterator(dir_))  // no temporaries left behind
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
}

TEST_F(ReportFolder, HtmlIsSelfContainedAndEscaped) {
  std::string html = slurp(write_report(dir_.string()).html);
  EXPECT_FALSE(std::regex_search(html, std::regex(R"((src|href)\s*=\s*["']?\s*(https?:)?//)")));
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
  size_t svgs = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1))
    ++svgs;
  EXPECT_EQ(svgs, 3u);
  EXPECT_NE(html.find("tile &lt;3&gt; &amp; &quot;bank&quot; out of range"), std::string::npos);
  EXPECT_NE(html.find("<td>p0002</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">3.20</td>"), std::string::npos);
  EXPECT_NE(html.find("<style>"), std::string::npos);
  // Three inlined plots reuse gnuplot's ids; each is prefixed so ids stay unique.
  std::set<std::string> ids;
  std::regex id_attr(R"( id=['"]([^'"]+)['"])");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), id_attr);
       it != std::sregex_iterator(); ++it)
    EXPECT_TRUE(ids.insert((*it)[1]).second) << "duplicate id " << (*it)[1];
  EXPECT_GT(ids.size(), 3u);
}

TEST_F(ReportFolder, WithoutBaselineThereIsNoSpeedupAndTheReportSaysSo) {
  // A sweep still running writes "finished": null; a sweep without `report:` writes null.
  nlohmann::json j = nlohmann::json::parse(slurp(dir_ / "manifest.json"));
  j["report"] = nullptr;
  j["finished"] = nullptr;
  spit(dir_ / "manifest.json", j.dump());
  spit(dir_ / "speedup.svg", "<svg>stale</svg>");
  ReportFiles files = write_report(dir_.string());
  std::string md = slurp(files.markdown);
  EXPECT_EQ(md.find("Speedup (×)"), std::string::npos);
  EXPECT_NE(md.find("No baseline is named in manifest.json"), std::string::npos);
  EXPECT_NE(md.find("No speedup plot"), std::string::npos);
  EXPECT_NE(md.find("| Finished (UTC) | not recorded |"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "speedup.svg"));
  EXPECT_EQ(files.plots.size(), 2u);
}

TEST_F(ReportFolder, NoSuccessfulPointStillGivesAReport) {
  std::string points = slurp(dir_ / "points.jsonl");
  std::string failed_line;
  std::istringstream in(points);
  for (std::string line; std::getline(in, line);)
    if (line.find("\"status\":\"failed\"") != std::string::npos) failed_line = line + "\n";
  ASSERT_FALSE(failed_line.empty());
  spit(dir_ / "points.jsonl", failed_line);
  ReportFiles files = write_report(dir_.string());
  EXPECT_TRUE(files.plots.empty());
  std::string md = slurp(files.markdown);
  EXPECT_NE(md.find("| Points | 1 of 8 recorded: 0 ok, 1 failed |"), std::string::npos);
  EXPECT_NE(md.find("The run is incomplete: 7 points have no record"), std::string::npos);
  EXPECT_NE(md.find("No point succeeded, so there is no front."), std::string::npos);
  EXPECT_NE(md.find("No latency-energy plot: no point succeeded."), std::string::npos);
  EXPECT_NE(md.find("| p0006 | 32 | 64 | failed |"), std::string::npos);
}

TEST_F(ReportFolder, MissingGnuplotWritesTablesAndSaysPlotsWereSkipped) {
  ReportOptions options;
  options.gnuplot = "tessel-no-such-gnuplot";
  ReportFiles files = write_report(dir_.string(), options);
  EXPECT_TRUE(files.plots_skipped);
  EXPECT_TRUE(files.plots.empty());
  std::string md = slurp(files.markdown);
  EXPECT_NE(md.find("Plots skipped: gnuplot was not found"), std::string::npos);
  EXPECT_NE(md.find("| p0002 | 8 | 64 | ok |"), std::string::npos);
  EXPECT_EQ(md.find(".svg)"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "pareto.svg"));
}

TEST_F(ReportFolder, GnuplotFailureNamesThePlotAndWritesNothing) {
  ReportOptions options;
  options.gnuplot = "/bin/false";
  spit(dir_ / "report.md", "previous report\n");
  try {
    write_report(dir_.string(), options);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("plot speedup: gnuplot (/bin/false) failed with exit 1"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(slurp(dir_ / "report.md"), "previous report\n");
  EXPECT_FALSE(fs::exists(dir_ / "report.html"));
}

TEST_F(ReportFolder, MalformedPointsLineNamesFileAndLine) {
  std::string points = slurp(dir_ / "points.jsonl");
  size_t third = points.find('\n', points.find('\n') + 1) + 1;
  points.insert(third, "{\"index\": 2, \"id\": \n");
  spit(dir_ / "points.jsonl", points);
  try {
    write_report(dir_.string());
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()).rfind((dir_ / "points.jsonl").string() + ":3: ", 0), 0u)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "report.md"));
}

TEST_F(ReportFolder, MissingOrMalformedManifestIsIoError) {
  const std::string path = (dir_ / "manifest.json").string();
  std::string good = slurp(path);
  fs::remove(path);
  try {
    write_report(dir_.string());
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": cannot open");
  }
  spit(path, "{\"name\": \"basic\",");
  EXPECT_THROW(write_report(dir_.string()), IoError);
  nlohmann::json j = nlohmann::json::parse(good);
  j.erase("command");
  spit(path, j.dump());
  try {
    write_report(dir_.string());
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": missing key 'command'");
  }
  EXPECT_FALSE(fs::exists(dir_ / "report.md"));
}

TEST_F(ReportFolder, TornFinalLineIsIgnoredAndNoted) {
  std::ofstream(dir_ / "points.jsonl", std::ios::app) << "{\"index\": 8, \"id\": \"p00";
  std::string md = slurp(write_report(dir_.string()).markdown);
  EXPECT_NE(md.find("| Points | 8 of 8 recorded: 7 ok, 1 failed |"), std::string::npos);
  EXPECT_NE(md.find("ends in an incomplete line"), std::string::npos);
}

}  // namespace
}  // namespace tessel::report

namespace tessel::report {
namespace {

// Named comparisons over a subject, metric summaries and published figures.
TEST_F(ReportFolder, ComparisonsSummariseTheSubjectAgainstEachNamedBaseline) {
  auto manifest = nlohmann::json::parse(std::ifstream(dir_ / "manifest.json"));
  manifest["report"]["subject"] = {{"hw.rows", 16}};
  manifest["report"]["compare"] = {{"rows4", {{"hw.rows", 4}}}};
  manifest["report"]["summarize"] = {"utilization"};
  manifest["report"]["reference"] = {{"rows4", 3.0}, {"metric utilization", 0.5}};
  manifest["report"]["notes"] = {"Published figures are invented for this test."};
  spit(dir_ / "manifest.json", manifest.dump());
  write_report(dir_.string());
  std::ifstream in(dir_ / "report.md");
  std::string md((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto cells = md_row(md, "rows4");
  // Subject: p0004 (4 µs / 1 µs = 4×) and p0005 (8 / 2.5 = 3.2×) against hw.rows=4; energy
  // savings 2.0/3.2 = 0.625 and 4.0/5.0 = 0.8.
  ASSERT_EQ(cells.size(), 11u) << md;
  EXPECT_EQ(cells[1], "2");
  EXPECT_NEAR(std::stod(cells[2]), std::sqrt(4.0 * 3.2), 0.01);
  EXPECT_NEAR(std::stod(cells[3]), 3.6, 0.01);
  EXPECT_NEAR(std::stod(cells[4]), 3.2, 0.01);
  EXPECT_NEAR(std::stod(cells[5]), 4.0, 0.01);
  EXPECT_NEAR(std::stod(cells[6]), std::sqrt(0.625 * 0.8), 0.001);
  EXPECT_NEAR(std::stod(cells[10]), 3.0, 1e-9);
  auto metric = md_row(md, "metric utilization");
  ASSERT_EQ(metric.size(), 11u);
  EXPECT_NEAR(std::stod(metric[2]), std::sqrt(0.8 * 0.75), 0.001);
  EXPECT_NEAR(std::stod(metric[10]), 0.5, 1e-9);
  EXPECT_NE(md.find("Published figures are invented for this test."), std::string::npos);
}

}  // namespace
}  // namespace tessel::report
