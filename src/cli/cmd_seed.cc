// strata seed: fills empty tables with generated rows that satisfy the schema.
#include <chrono>

#include <fmt/format.h>

#include "cli/cli.h"
#include "safety/seed.h"

namespace strata::cli {

void SetupSeed(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto options = std::make_shared<SeedOptions>();
  CLI::App* cmd = app.add_subcommand(
      "seed", "fill empty tables with generated rows that satisfy the schema, edge values included");
  cmd->add_option("--rows", options->rows_per_table, "rows per table")->required()->check(WholeNumberFrom(0));
  cmd->add_option("--seed-value", options->seed, "PRNG seed: the same value gives the same rows (default 42)");
  cmd->add_option("--table", options->tables, "fill only this table (repeatable); parents must have rows");
  cmd->add_flag("--allow-non-empty", options->allow_non_empty, "add rows to tables that already have some");
  cmd->footer("Parents are filled before children, all in one transaction: on an error nothing is "
              "inserted. Exits 2 when a table has rows or the schema cannot be satisfied.");
  cmd->callback([&global, &exit_code, options] {
    auto resolved = ResolveOptions(global, true);
    if (!resolved.ok()) {
      exit_code = Fail(resolved.status());
      return;
    }
    auto db = OpenDatabase(resolved->database_url, /*create=*/false);
    if (!db.ok()) {
      exit_code = Fail(db.status());
      return;
    }
    auto started = std::chrono::steady_clock::now();
    auto report = Seed(**db, *options);
    if (!report.ok()) {
      exit_code = Fail(report.status());
      return;
    }
    int64_t total = 0;
    for (const auto& [table, rows] : report->rows_per_table) {
      fmt::print("  {:<32} {} rows\n", table, rows);
      total += rows;
    }
    for (const auto& [table, why] : report->skipped) {
      fmt::print("  {:<32} skipped: {}\n", table, why);
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    fmt::print("seeded {} rows in {} tables ({} ms)\n", total, report->rows_per_table.size(), ms.count());
  });
}

}  // namespace strata::cli
