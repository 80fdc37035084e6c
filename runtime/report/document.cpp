// Markdown and HTML renderers for the report document.
#include "runtime/report/document.h"

#include <cmath>
#include <cstdio>

#include <algorithm>
#include <regex>

namespace tessel::report {
namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

// Backslash-escapes the characters Markdown would read as markup; '_' is left alone
// because names like sram_read are common and intraword underscores are not emphasis.
std::string md_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    if (std::string("\\`*[]<>|#").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

// A code fence longer than any backtick run in the text, so the text cannot close it.
std::string md_fence(const std::string& text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

const char* kCss = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
  max-width:1400px;margin:2em auto;padding:0 1em;color:#1f2328;line-height:1.45}
h1{font-size:1.8em;border-bottom:2px solid #d0d7de;padding-bottom:.3em}
h2{font-size:1.35em;margin-top:1.8em;border-bottom:1px solid #d8dee4;padding-bottom:.2em}
h3{font-size:1.1em;margin-top:1.4em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.8em 0;font-size:.82em}
th,td{border:1px solid #d0d7de;padding:.2em .45em;text-align:left;vertical-align:top;
  white-space:nowrap}
th{background:#f3f5f7}
tr:nth-child(even) td{background:#f9fafb}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;padding:.8em 1em;overflow-x:auto;border-radius:6px;white-space:pre-wrap}
figure{margin:1.2em 0}
figure svg{display:block;width:100%;max-width:1000px;height:auto;border:1px solid #e5e7eb}
figcaption{color:#57606a;font-size:.9em;margin-top:.4em}
)";

}  // namespace

void Document::heading(int level, const std::string& text) {
  Block b;
  b.kind = Block::Kind::kHeading;
  b.level = level;
  b.text = text;
  blocks.push_back(b);
}

void Document::paragraph(const std::string& text) {
  Block b;
  b.kind = Block::Kind::kParagraph;
  b.text = text;
  blocks.push_back(b);
}

void Document::list(const std::vector<std::string>& items) {
  Block b;
  b.kind = Block::Kind::kList;
  b.items = items;
  blocks.push_back(b);
}

void Document::code(const std::string& text) {
  Block b;
  b.kind = Block::Kind::kCode;
  b.text = text;
  blocks.push_back(b);
}

void Document::table(const Table& table) {
  Block b;
  b.kind = Block::Kind::kTable;
  b.table = table;
  blocks.push_back(b);
}

void Document::figure(const Figure& figure) {
  Block b;
  b.kind = Block::Kind::kFigure;
  b.figure = figure;
  blocks.push_back(b);
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string inline_svg(const std::string& svg, const std::string& id_prefix) {
  size_t start = svg.find("<svg");
  std::string s = start == std::string::npos ? svg : svg.substr(start);
  for (const char* q : {"'", "\""}) {
    s = replace_all(s, std::string(" id=") + q, std::string(" id=") + q + id_prefix + "-");
    s = replace_all(s, std::string("href=") + q + "#",
                    std::string("href=") + q + "#" + id_prefix + "-");
  }
  s = replace_all(s, "url(#", "url(#" + id_prefix + "-");
  // gnuplot titles every group ("gnuplot_plot_1"); inline, those become hover tooltips.
  return std::regex_replace(s, std::regex("<title>[^<]*</title>"), "");
}

std::string render_markdown(const Document& doc) {
  std::string out = "# " + md_escape(doc.title) + "\n";
  for (const Block& b : doc.blocks) {
    out += "\n";
    switch (b.kind) {
      case Block::Kind::kHeading:
        out += std::string(b.level, '#') + " " + md_escape(b.text) + "\n";
        break;
      case Block::Kind::kParagraph:
        out += md_escape(b.text) + "\n";
        break;
      case Block::Kind::kList:
        for (const auto& item : b.items) out += "- " + md_escape(item) + "\n";
        break;
      case Block::Kind::kCode: {
        std::string fence = md_fence(b.text);
        out += fence + "\n" + b.text + "\n" + fence + "\n";
        break;
      }
      case Block::Kind::kTable: {
        const Table& t = b.table;
        out += "|";
        for (const auto& h : t.header) out += " " + md_escape(h) + " |";
        out += "\n|";
        for (size_t c = 0; c < t.header.size(); ++c)
          out += c < t.numeric.size() && t.numeric[c] ? " ---: |" : " --- |";
        out += "\n";
        for (const auto& row : t.rows) {
          out += "|";
          for (const auto& cell : row) out += " " + md_escape(cell) + " |";
          out += "\n";
        }
        break;
      }
      case Block::Kind::kFigure:
        out += "![" + md_escape(b.figure.caption) + "](" + b.figure.file + ")\n";
        break;
    }
  }
  return out;
}

std::string render_html(const Document& doc) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
      html_escape(doc.title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n<h1>" +
      html_escape(doc.title) + "</h1>\n";
  int figures = 0;
  for (const Block& b : doc.blocks) {
    switch (b.kind) {
      case Block::Kind::kHeading: {
        std::string tag = "h" + std::to_string(b.level);
        out += "<" + tag + ">" + html_escape(b.text) + "</" + tag + ">\n";
        break;
      }
      case Block::Kind::kParagraph:
        out += "<p>" + html_escape(b.text) + "</p>\n";
        break;
      case Block::Kind::kList:
        out += "<ul>\n";
        for (const auto& item : b.items) out += "<li>" + html_escape(item) + "</li>\n";
        out += "</ul>\n";
        break;
      case Block::Kind::kCode:
        out += "<pre><code>" + html_escape(b.text) + "</code></pre>\n";
        break;
      case Block::Kind::kTable: {
        const Table& t = b.table;
        auto cls = [&](size_t c) {
          return c < t.numeric.size() && t.numeric[c] ? std::string(" class=\"num\"")
                                                      : std::string();
        };
        out += "<div class=\"scroll\"><table>\n<thead><tr>";
        for (size_t c = 0; c < t.header.size(); ++c)
          out += "<th" + cls(c) + ">" + html_escape(t.header[c]) + "</th>";
        out += "</tr></thead>\n<tbody>\n";
        for (const auto& row : t.rows) {
          out += "<tr>";
          for (size_t c = 0; c < row.size(); ++c)
            out += "<td" + cls(c) + ">" + html_escape(row[c]) + "</td>";
          out += "</tr>\n";
        }
        out += "</tbody></table></div>\n";
        break;
      }
      case Block::Kind::kFigure:
        out += "<figure>\n" + inline_svg(b.figure.svg, "fig" + std::to_string(++figures)) +
               "\n<figcaption>" + html_escape(b.figure.caption) + "</figcaption>\n</figure>\n";
        break;
    }
  }
  return out + "</body>\n</html>\n";
}

std::string format_sig(double v, int sig) {
  if (v == 0 || !std::isfinite(v)) return v == 0 ? "0" : std::to_string(v);
  int decimals = sig - 1 - static_cast<int>(std::floor(std::log10(std::fabs(v))));
  decimals = std::max(0, std::min(decimals, 9));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace tessel::report
