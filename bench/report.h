// The benchmark's result table: medians, ratios against a named baseline and
// the targets from the issue, followed by the peer figures quoted there.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace strata::bench {

/// The middle sample (the mean of the middle two for an even count). REQUIRES: non-empty.
double Median(std::vector<double> samples);

struct Row {
  std::string workload;          // "up (SQLite, 1000)"
  std::string tool;              // "strata up"
  double seconds = 0;            // median
  int samples = 0;
  std::string baseline;          // the tool this row is divided by; empty: none
  double baseline_seconds = 0;
  std::string target;            // "<= 2.5x", "< 10 ms"; empty: none
  std::optional<bool> pass;      // set when there is a target
};

/// A row compared with `baseline`; `max_ratio` > 0 makes it a target.
Row Compare(std::string workload, std::string tool, const std::vector<double>& samples,
            const Row& baseline, double max_ratio = 0);

/// A row the rows after it are compared with; it shows as 1.00x.
Row Baseline(std::string workload, std::string tool, const std::vector<double>& samples);

/// A row with no baseline; `max_seconds` > 0 makes "median < max_seconds" a target.
Row Alone(std::string workload, std::string tool, const std::vector<double>& samples,
          double max_seconds = 0);

void PrintTable(const std::vector<Row>& rows);

/// The figures for other tools that the issue quotes, with their ratios.
void PrintPeers();

}  // namespace strata::bench
