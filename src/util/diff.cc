#include "util/diff.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace strata {
namespace {

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    lines.push_back(text.substr(0, eol));
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
  return lines;
}

struct Op {
  char tag;  // ' ', '-', '+'
  std::string_view line;
  int new_line;  // 1-based line in `after` (for '-', the line it would precede)
};

// Longest common subsequence table over the lines between a common prefix
// and suffix; migrations are small, and larger inputs are cut to a summary.
std::vector<Op> Diff(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  std::vector<Op> ops;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ops.push_back({' ', a[i], static_cast<int>(j + 1)});
      ++i, ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.push_back({'-', a[i], static_cast<int>(j + 1)});
      ++i;
    } else {
      ops.push_back({'+', b[j], static_cast<int>(j + 1)});
      ++j;
    }
  }
  return ops;
}

}  // namespace

std::string LineDiff(std::string_view before, std::string_view after, int context) {
  if (before == after) return "";
  auto a = SplitLines(before);
  auto b = SplitLines(after);
  if (a.size() * b.size() > 4'000'000) {
    return fmt::format("(scripts differ: {} lines before, {} now; too large to compare line by line)\n",
                       a.size(), b.size());
  }
  std::vector<Op> ops = Diff(a, b);
  std::vector<bool> show(ops.size(), false);
  for (size_t k = 0; k < ops.size(); ++k) {
    if (ops[k].tag == ' ') continue;
    size_t lo = k >= static_cast<size_t>(context) ? k - context : 0;
    size_t hi = std::min(ops.size() - 1, k + context);
    for (size_t x = lo; x <= hi; ++x) show[x] = true;
  }
  std::string out;
  bool in_hunk = false;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (!show[k]) {
      in_hunk = false;
      continue;
    }
    if (!in_hunk) out += fmt::format("@@ line {} @@\n", ops[k].new_line);
    in_hunk = true;
    out += ops[k].tag;
    out.append(ops[k].line);
    out += '\n';
  }
  return out;
}

}  // namespace strata
