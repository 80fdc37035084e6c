// The report as a document (headings, text, tables, figures) rendered to Markdown and HTML.
// One model feeds both renderers, so report.md and report.html carry the same content.
#pragma once

#include <string>
#include <vector>

namespace tessel::report {

struct Table {
  std::vector<std::string> header;
  std::vector<bool> numeric;  // per column: right-aligned
  std::vector<std::vector<std::string>> rows;

  void add_column(const std::string& name, bool is_numeric) {
    header.push_back(name);
    numeric.push_back(is_numeric);
  }
};

struct Figure {
  std::string file;     // SVG written beside the report, referenced by report.md
  std::string caption;  // alt text and caption
  std::string svg;      // the SVG itself, inlined into report.html
};

struct Block {
  enum class Kind { kHeading, kParagraph, kList, kCode, kTable, kFigure };
  Kind kind = Kind::kParagraph;
  int level = 2;                   // heading level
  std::string text;                // heading, paragraph or code text
  std::vector<std::string> items;  // list items
  Table table;
  Figure figure;
};

// All text is plain: the renderers escape it for their format.
struct Document {
  std::string title;
  std::vector<Block> blocks;

  void heading(int level, const std::string& text);
  void paragraph(const std::string& text);
  void list(const std::vector<std::string>& items);
  void code(const std::string& text);
  void table(const Table& table);
  void figure(const Figure& figure);
};

std::string render_markdown(const Document& doc);
// A self-contained page: inline CSS, SVGs inlined, nothing fetched from elsewhere.
std::string render_html(const Document& doc);

std::string html_escape(const std::string& text);
// `sig` significant digits, never in exponent notation (tables are read by people).
std::string format_sig(double v, int sig);
// Makes a gnuplot SVG embeddable in HTML: drops the XML prolog and the <title> tooltips,
// and prefixes every id (and its references) with `id_prefix`, since several plots on one
// page reuse ids.
std::string inline_svg(const std::string& svg, const std::string& id_prefix);

}  // namespace tessel::report
