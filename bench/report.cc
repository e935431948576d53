#include "report.h"

#include <algorithm>
#include <cassert>
#include <string_view>

#include <fmt/format.h>

namespace strata::bench {
namespace {

std::string FormatSeconds(double seconds) {
  if (seconds < 0.1) return fmt::format("{:.1f} ms", seconds * 1000);
  return fmt::format("{:.3f} s", seconds);
}

/// Measured elsewhere on this machine type with N=1000; quoted from the issue.
struct Peer {
  const char* workload;
  const char* tool;
  double seconds;
  const char* baseline;  // the peer row (same workload) the ratio is taken against
};

constexpr Peer kPeers[] = {
    {"up (SQLite)", "shell, one transaction", 0.21, "shell, one transaction"},
    {"up (SQLite)", "knex", 0.61, "shell, one transaction"},
    {"up (SQLite)", "dbmate", 1.28, "shell, one transaction"},
    {"up (SQLite)", "shell, autocommit", 1.43, "shell, one transaction"},
    {"up (SQLite)", "alembic", 3.45, "shell, one transaction"},
    {"up (SQLite)", "sqitch", 15.3, "shell, one transaction"},
    {"down --to 0 (SQLite)", "shell, one transaction", 1.60, "shell, one transaction"},
    {"down --to 0 (SQLite)", "knex", 2.92, "shell, one transaction"},
    {"down --to 0 (SQLite)", "alembic", 4.94, "shell, one transaction"},
    {"down --to 0 (SQLite)", "dbmate", 18.1, "shell, one transaction"},
    {"up (PostgreSQL)", "psql, autocommit", 3.01, "psql, autocommit"},
    {"up (PostgreSQL)", "dbmate", 3.43, "psql, autocommit"},
    {"status (SQLite)", "dbmate", 0.017, nullptr},
};

/// Prints `line` without its trailing blanks.
void PrintLine(std::string line) {
  while (!line.empty() && line.back() == ' ') line.pop_back();
  fmt::print("{}\n", line);
}

}  // namespace

double Median(std::vector<double> samples) {
  assert(!samples.empty());
  std::sort(samples.begin(), samples.end());
  size_t mid = samples.size() / 2;
  return samples.size() % 2 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
}

Row Compare(std::string workload, std::string tool, const std::vector<double>& samples,
            const Row& baseline, double max_ratio) {
  Row row = Alone(std::move(workload), std::move(tool), samples);
  row.baseline = baseline.tool;
  row.baseline_seconds = baseline.seconds;
  if (max_ratio > 0) {
    row.target = fmt::format("<= {}x", max_ratio);
    row.pass = row.seconds <= max_ratio * baseline.seconds;
  }
  return row;
}

Row Baseline(std::string workload, std::string tool, const std::vector<double>& samples) {
  Row row = Alone(std::move(workload), std::move(tool), samples);
  row.baseline = "(the baseline)";
  row.baseline_seconds = row.seconds;
  return row;
}

Row Alone(std::string workload, std::string tool, const std::vector<double>& samples,
          double max_seconds) {
  Row row;
  row.workload = std::move(workload);
  row.tool = std::move(tool);
  row.seconds = Median(samples);
  row.samples = static_cast<int>(samples.size());
  if (max_seconds > 0) {
    row.target = "< " + FormatSeconds(max_seconds);
    row.pass = row.seconds < max_seconds;
  }
  return row;
}

void PrintTable(const std::vector<Row>& rows) {
  PrintLine(fmt::format("{:<28} {:<24} {:>10} {:>3}  {:>6}  {:<24} {:<9} {}", "workload", "tool",
                        "median", "n", "ratio", "vs. baseline", "target", "result"));
  for (const Row& r : rows) {
    std::string ratio = r.baseline.empty() ? "" : fmt::format("{:.2f}x", r.seconds / r.baseline_seconds);
    PrintLine(fmt::format("{:<28} {:<24} {:>10} {:>3}  {:>6}  {:<24} {:<9} {}", r.workload, r.tool,
                          FormatSeconds(r.seconds), r.samples, ratio, r.baseline, r.target,
                          !r.pass ? "" : *r.pass ? "PASS" : "FAIL"));
  }
}

void PrintPeers() {
  fmt::print("\nPeer figures quoted in the issue (N=1000, measured elsewhere on this machine "
             "type, not in this run; dbmate, when found, is timed in the table above):\n");
  PrintLine(fmt::format("{:<28} {:<24} {:>10}  {:>6}  {}", "workload", "tool", "time", "ratio",
                        "vs. baseline (peer figure)"));
  for (const Peer& p : kPeers) {
    std::string ratio, against;
    if (p.baseline) {
      for (const Peer& b : kPeers) {
        if (std::string_view(b.workload) == p.workload && std::string_view(b.tool) == p.baseline) {
          ratio = fmt::format("{:.2f}x", p.seconds / b.seconds);
          against = b.tool == p.tool ? "(the baseline)" : p.baseline;
        }
      }
    }
    PrintLine(fmt::format("{:<28} {:<24} {:>10}  {:>6}  {}", p.workload, p.tool,
                          FormatSeconds(p.seconds), ratio, against));
  }
}

}  // namespace strata::bench
