// Report generation from the committed fixture results folder (tests/.../fixtures/basic).
#include "runtime/report/report.h"

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/report/baseline.h"
#include "runtime/report/plots.h"
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

// With an area proxy that varies, the front over latency, energy and area keeps a slow,
// costly point that is the smallest chip (p0001), and a latency-area plot is drawn. Area by
// hand: rows² / 100 mm², except p0001's 0.10 (smaller than p0000's 0.16). Fronts by hand:
// (latency µs, energy µJ, area) p0004 (1, 3.2, 2.56), p0002 (2, 2.4, 0.64), p0000 (4, 2.0,
// 0.16), p0001 (8, 4.0, 0.10); p0003 (4, 4.2, 0.64) and p0007 (8, 8, 0.64) are beaten by
// p0000 on all three, p0005 (2.5, 5.0, 2.56) by p0002. The latency-area front is the same four.
TEST_F(ReportFolder, AreaThatVariesAddsAThreeObjectiveFrontAndALatencyAreaPlot) {
  const std::map<std::string, double> area{{"p0000", 0.16}, {"p0001", 0.10}, {"p0002", 0.64},
                                           {"p0003", 0.64}, {"p0004", 2.56}, {"p0005", 2.56},
                                           {"p0007", 0.64}};
  std::istringstream in(slurp(dir_ / "points.jsonl"));
  std::string line, out;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (area.count(j["id"])) j["result"]["metrics"]["area_mm2"] = area.at(j["id"]);
    out += j.dump() + "\n";
  }
  spit(dir_ / "points.jsonl", out);
  ReportFiles files = write_report(dir_.string());
  ASSERT_EQ(files.plots.size(), 4u);
  const std::string md = slurp(files.markdown);
  for (const char* id : {"p0000", "p0001", "p0002", "p0003", "p0004", "p0005", "p0007"}) {
    const std::vector<std::string> row = md_row(md, id);
    ASSERT_GE(row.size(), 2u) << id;
    const bool on2 =
        id == std::string("p0000") || id == std::string("p0002") || id == std::string("p0004");
    const bool on3 = on2 || id == std::string("p0001");
    EXPECT_EQ(row[row.size() - 2], on2 ? "yes" : "") << id;
    EXPECT_EQ(row.back(), on3 ? "yes" : "") << id;
  }
  EXPECT_NE(md.find("| p0004 | hw.rows=16, workload.m=64 | 1.000 | 3.200 | 2.560 |\n"
                    "| p0002 | hw.rows=8, workload.m=64 | 2.000 | 2.400 | 0.6400 |\n"
                    "| p0000 | hw.rows=4, workload.m=64 | 4.000 | 2.000 | 0.1600 |\n"
                    "| p0001 | hw.rows=4, workload.m=128 | 8.000 | 4.000 | 0.1000 |\n"),
            std::string::npos)
      << md;
  const std::string svg = slurp(dir_ / "area_pareto.svg");
  EXPECT_NE(svg.find("Area (mm²)"), std::string::npos);
  for (const char* id : {"p0004", "p0002", "p0000", "p0001"})
    EXPECT_NE(svg.find(std::string(">") + id + "<"), std::string::npos) << id;
  EXPECT_EQ(svg.find(">p0003<"), std::string::npos);
  EXPECT_NE(md.find("](area_pareto.svg)"), std::string::npos);

  // Area taken away again: the plot and the column go with it.
  fs::copy_file(kFixture / "points.jsonl", dir_ / "points.jsonl",
                fs::copy_options::overwrite_existing);
  write_report(dir_.string());
  EXPECT_FALSE(fs::exists(dir_ / "area_pareto.svg"));
  EXPECT_EQ(slurp(dir_ / "report.md").find("Pareto with area"), std::string::npos);
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

// --- The plots themselves, rendered by gnuplot and read back from the SVG ---

// One text element of a gnuplot SVG: where it is anchored and what it says.
struct SvgText {
  double x = 0, y = 0, font_px = 0;
  std::string anchor, text;
  bool rotated = false;
};

struct Svg {
  double width = 0, height = 0;
  std::vector<SvgText> texts;
  std::vector<std::string> series_fills;  // the first fill colour of each plotted series
};

std::string xml_text(std::string s) {
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}}) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
      s.replace(at, from.size(), to);
  }
  return s;
}

Svg parse_svg(const std::string& svg) {
  Svg out;
  std::smatch m;
  if (std::regex_search(svg, m, std::regex(R"re(viewBox="0 0 ([0-9.]+) ([0-9.]+)")re"))) {
    out.width = std::stod(m[1]);
    out.height = std::stod(m[2]);
  }
  const std::regex text_re(
      R"re(<g transform="translate\(([-0-9.]+),([-0-9.]+)\)( rotate\([-0-9.]+\))?"[^>]*font-size="([0-9.]+)"\s*text-anchor="(\w+)">\s*<text>([^<]*)</text>)re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), text_re);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& t = *it;
    out.texts.push_back(
        {std::stod(t[1]), std::stod(t[2]), std::stod(t[4]), t[5], xml_text(t[6]), t[3].matched});
  }
  // Each series is a <g id="gnuplot_plot_N"> group; its boxes carry fill colours.
  const std::regex series_re(R"re(<g id="gnuplot_plot_\d+")re");
  const std::regex fill_re(R"re(fill\s*=\s*['"](rgb\([^)]*\)|#[0-9a-fA-F]{6})['"])re");
  std::vector<size_t> starts;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), series_re);
       it != std::sregex_iterator(); ++it)
    starts.push_back(static_cast<size_t>(it->position()));
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t end = i + 1 < starts.size() ? starts[i + 1] : svg.size();
    const std::string part = svg.substr(starts[i], end - starts[i]);
    std::smatch f;
    if (std::regex_search(part, f, fill_re)) out.series_fills.push_back(f[1]);
  }
  return out;
}

// Width of `s` at 0.6 em a character: wider than Helvetica's average (about 0.5 em), so a
// text that passes fits in any common sans-serif font.
double estimated_px(const std::string& s, double font_px) {
  double chars = 0;
  for (unsigned char c : s)
    if ((c & 0xc0) != 0x80) ++chars;
  return 0.6 * font_px * chars;
}

// Every horizontal text lies inside the canvas (rotated ones are tick and value labels whose
// extent the canvas check cannot judge from the anchor alone).
void expect_texts_inside(const Svg& svg) {
  ASSERT_GT(svg.width, 0);
  for (const SvgText& t : svg.texts) {
    if (t.rotated) continue;
    const double w = estimated_px(t.text, t.font_px);
    const double left = t.anchor == "middle" ? t.x - w / 2 : t.anchor == "end" ? t.x - w : t.x;
    EXPECT_GE(left, 0) << "'" << t.text << "' starts left of the canvas";
    EXPECT_LE(left + w, svg.width) << "'" << t.text << "' ends right of the canvas";
    EXPECT_GE(t.y - t.font_px, 0) << "'" << t.text << "' is above the canvas";
    EXPECT_LE(t.y, svg.height) << "'" << t.text << "' is below the canvas";
  }
}

std::string render(const PlotJob& job) {
  const std::string gnuplot = find_program("gnuplot");
  EXPECT_FALSE(gnuplot.empty()) << "gnuplot is needed for the plot tests (scripts/deps.sh)";
  if (gnuplot.empty()) return "";
  return render_plot(gnuplot, job);
}

bool has_text(const Svg& svg, const std::string& text) {
  for (const SvgText& t : svg.texts)
    if (t.text == text) return true;
  return false;
}

// The memory sweep's speedups (results/memory): 0.01× to 14.73× over DDR4 streaming.
std::vector<Bar> memory_bars() {
  const double v[] = {1,    1.44, 7.86, 14.73, 0.14, 0.018, 0.016, 0.01, 1,    3.05, 4.57,  8.79,
                      0.30, 0.02, 0.02, 0.03,  1,    2.20,  3.98,  7.62, 0.31, 0.02, 0.019, 0.04};
  std::vector<Bar> bars;
  for (size_t i = 0; i < std::size(v); ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "p%04zu", i);
    bars.push_back({id, v[i]});
  }
  return bars;
}

const std::string kMemoryBaseline =
    "hw.device=../hw/memory/ddr4_3200.yaml, workload.footprint_mib=256, "
    "workload.max_outstanding=64, workload.request_bytes=64, workload.requests=200000";

TEST(Plots, LongSpeedupTitleWrapsInsideTheCanvasAndKeepsEveryWord) {
  const Svg svg = parse_svg(render(speedup_plot(memory_bars(), kMemoryBaseline)));
  EXPECT_EQ(svg.width, 1000);
  expect_texts_inside(svg);
  // The title's lines, in order, spell the whole baseline.
  std::string title;
  for (const SvgText& t : svg.texts)
    if (!t.rotated && t.y < 80 && t.font_px == 14) title += (title.empty() ? "" : " ") + t.text;
  EXPECT_EQ(title, "Speedup over the baseline baseline: " + kMemoryBaseline);
}

TEST(Plots, WideSpeedupRangeGetsALogAxisWithDecadeTicks) {
  const Svg svg = parse_svg(render(speedup_plot(memory_bars(), kMemoryBaseline)));
  for (const char* tick : {"0.01×", "0.1×", "1×", "10×"}) EXPECT_TRUE(has_text(svg, tick)) << tick;
  for (const char* tick : {"2×", "4×", "0×"}) EXPECT_FALSE(has_text(svg, tick)) << tick;
  // Every bar keeps its value label, the smallest included.
  EXPECT_TRUE(has_text(svg, "0.01×"));
  EXPECT_TRUE(has_text(svg, "14.73×"));
}

TEST(Plots, SpeedupAxisIsLogPastARatioOfTwenty) {
  auto ticks_of = [](double lo, double hi) {
    return parse_svg(render(speedup_plot({{"a", lo}, {"b", 1}, {"c", hi}}, "x=1")));
  };
  const Svg narrow = ticks_of(0.5, 9.5);  // ratio 19: linear from 0
  EXPECT_TRUE(has_text(narrow, "0×"));
  EXPECT_FALSE(has_text(narrow, "0.1×"));
  const Svg wide = ticks_of(0.5, 10.5);  // ratio 21: log
  // Under three decades the log axis labels 1-2-5 steps.
  for (const char* tick : {"0.5×", "1×", "2×", "5×", "10×"})
    EXPECT_TRUE(has_text(wide, tick)) << tick;
  EXPECT_FALSE(has_text(wide, "0×"));
  expect_texts_inside(narrow);
  expect_texts_inside(wide);
}

TEST(Plots, LogSpeedupsAllOnOneSideOfTheBaselineStillRender) {
  // Every bar above 1× (and then every bar below): one side has no value label at all.
  for (const auto& bars :
       {std::vector<Bar>{{"a", 1.5}, {"b", 40}}, std::vector<Bar>{{"a", 0.5}, {"b", 0.013}}}) {
    const Svg svg = parse_svg(render(speedup_plot(bars, "x=1")));
    EXPECT_TRUE(has_text(svg, "1×"));
    EXPECT_TRUE(has_text(svg, bars[1].value > 1 ? "40.00×" : "0.013×"));
    expect_texts_inside(svg);
  }
}

// Component names of the memory sweep (results/memory): five devices, sixteen actions.
std::vector<std::string> memory_components() {
  return {"dram.activate", "dram.background",  "dram.read",      "dram.refresh",
          "dram.write",    "hbm.activate",     "hbm.background", "hbm.read",
          "hbm.refresh",   "hbm.write",        "nvm.media_read", "nvm.media_write",
          "ssd.erase",     "ssd.page_program", "ssd.page_read",  "ssd_link.serdes"};
}

TEST(Plots, SixteenEnergyComponentsGetSixteenDistinctFills) {
  const auto comps = memory_components();
  std::vector<std::vector<double>> values;
  std::vector<std::string> labels;
  for (int p = 0; p < 4; ++p) {
    labels.push_back("p" + std::to_string(p));
    values.emplace_back();
    for (size_t c = 0; c < comps.size(); ++c) values.back().push_back(1.0 + c + p);
  }
  const Svg svg = parse_svg(render(energy_plot(labels, comps, values, "µJ")));
  ASSERT_EQ(svg.series_fills.size(), comps.size());
  EXPECT_EQ(std::set<std::string>(svg.series_fills.begin(), svg.series_fills.end()).size(),
            comps.size());
  for (const auto& c : comps) EXPECT_TRUE(has_text(svg, c)) << c;
  expect_texts_inside(svg);
}

TEST(Plots, EnergyBeyondTwentyComponentsFoldsTheSmallestIntoOther) {
  // 25 components; component c is worth (c + 1) at every point, and component 24 is zero.
  std::vector<std::string> comps;
  for (int c = 0; c < 25; ++c) comps.push_back("unit" + std::to_string(c) + ".action");
  std::vector<std::vector<double>> values(3);
  for (auto& row : values)
    for (int c = 0; c < 25; ++c) row.push_back(c == 24 ? 0.0 : c + 1.0);
  const PlotJob job = energy_plot({"a", "b", "c"}, comps, values, "pJ");
  // 24 non-zero components: the 19 heaviest (unit5..unit23) kept, unit0..unit4 summed.
  const std::string data = job.data_files.at("energy.dat");
  EXPECT_NE(data.find("\tother (5 components)\n"), std::string::npos) << data;
  EXPECT_EQ(data.find("unit24.action"), std::string::npos) << "an all-zero component is dropped";
  EXPECT_EQ(data.find("unit4.action"), std::string::npos);
  EXPECT_NE(data.find("point\tunit5.action\tunit6.action"), std::string::npos);
  EXPECT_NE(data.find("\na\t6\t7\t8\t"), std::string::npos) << data;
  EXPECT_NE(data.find("\t24\t15\n"), std::string::npos) << data;  // unit23, other = 1+...+5
  const Svg svg = parse_svg(render(job));
  ASSERT_EQ(svg.series_fills.size(), 20u);
  EXPECT_EQ(std::set<std::string>(svg.series_fills.begin(), svg.series_fills.end()).size(), 20u);
  EXPECT_TRUE(has_text(svg, "other (5 components)"));
  expect_texts_inside(svg);
}

}  // namespace
}  // namespace tessel::report
