// strata rehearse: every pending migration up, down, injected failures and up
// again on a sandbox copy of the target, with a report.
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "rehearse/rehearse.h"
#include "util/interrupt.h"
#include "util/json_text.h"

namespace strata::cli {
namespace {

struct RehearseFlags {
  int64_t to = 0;
  bool json = false;
  RehearseOptions options;
};

std::string Ms(int64_t ms) { return ms < 0 ? "-" : std::to_string(ms); }

std::string Indent(std::string_view text, std::string_view prefix) {
  std::string out;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    out += fmt::format("{}{}\n", prefix, text.substr(0, eol));
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
  return out;
}

void PrintProgress(const RehearsalEvent& e) {
  const RehearsalReport& r = e.report;
  switch (e.kind) {
    case RehearsalEvent::Kind::kSandboxReady:
      if (r.migrations.empty()) return;
      fmt::print("rehearsing {} pending migration{} of {}\n", r.migrations.size(),
                 r.migrations.size() == 1 ? "" : "s", r.target);
      fmt::print("sandbox: {} (copied in {} ms)\n", r.sandbox, r.copy_ms);
      break;
    case RehearsalEvent::Kind::kSeeded: {
      if (r.seeded.empty()) {
        fmt::print("seeding: the copy has no tables yet; each table a migration creates gets {} "
                   "generated rows when later migrations follow\n",
                   r.seed_rows);
        break;
      }
      fmt::print("seeded {} table{} with {} generated rows each ({} ms)\n", r.seeded.size(),
                 r.seeded.size() == 1 ? "" : "s", r.seed_rows, r.seed_ms);
      break;
    }
    case RehearsalEvent::Kind::kMigrationDone: {
      const MigrationRehearsal& m = *e.migration;
      // As wide as the longest name of the run, so that the columns line up.
      size_t width = 36;
      for (const MigrationRehearsal& each : r.migrations) width = std::max(width, each.id.size());
      if (&m == &r.migrations.front()) {
        fmt::print("\n  {:<{}} {:<6} {:>5} {:>7} {:>7} {:>8}\n", "migration", width, "result", "stmts",
                   "up ms", "down ms", "injected");
      }
      std::string injected = m.injections ? fmt::format("{}/{}", m.injections_passed, m.injections) : "-";
      const char* result = m.result == RehearsalResult::kFail ? "FAIL" : RehearsalResultName(m.result);
      if (m.result == RehearsalResult::kNotRehearsed) result = "-";
      fmt::print("  {:<{}} {:<6} {:>5} {:>7} {:>7} {:>8}\n", m.id, width, result, m.statements,
                 Ms(m.up_ms), Ms(m.down_ms), injected);
      for (const Risk& risk : m.risks) fmt::print("      risk {}: {}\n", risk.tag, risk.detail);
      for (const auto& [table, rows] : m.seeded) fmt::print("      seeded {} ({} rows) for the next migrations\n", table, rows);
      for (const std::string& f : m.failures) fmt::print("{}", Indent(f, "      "));
      if (!m.note.empty()) fmt::print("      {}\n", m.note);
      break;
    }
  }
  std::fflush(stdout);
}

nlohmann::json ToJson(const RehearsalReport& r) {
  auto tables = [](const std::vector<std::pair<std::string, int64_t>>& seeded) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [table, rows] : seeded) out.push_back({{"table", table}, {"rows", rows}});
    return out;
  };
  nlohmann::json out;
  out["target"] = r.target;
  out["sandbox"] = {{"location", r.sandbox}, {"kept", r.sandbox_kept}, {"copy_ms", r.copy_ms}};
  out["seed"] = {{"rows_per_table", r.seed_rows}, {"tables", tables(r.seeded)}, {"ms", r.seed_ms}};
  out["migrations"] = nlohmann::json::array();
  for (const MigrationRehearsal& m : r.migrations) {
    nlohmann::json j = {{"version", m.version},
                        {"id", m.id},
                        {"result", RehearsalResultName(m.result)},
                        {"statements", m.statements},
                        {"down", m.down_source},
                        {"up_ms", m.up_ms},
                        {"down_ms", m.down_ms},
                        {"reapply_ms", m.reapply_ms},
                        {"injections", {{"run", m.injections}, {"passed", m.injections_passed}}},
                        {"failures", m.failures},
                        {"seeded", tables(m.seeded)}};
    j["risks"] = nlohmann::json::array();
    for (const Risk& risk : m.risks) j["risks"].push_back({{"tag", risk.tag}, {"detail", risk.detail}});
    if (!m.note.empty()) j["note"] = m.note;
    out["migrations"].push_back(std::move(j));
  }
  out["summary"] = {{"passed", r.Count(RehearsalResult::kPass)},
                    {"failed", r.Count(RehearsalResult::kFail)},
                    {"not_rehearsed", r.Count(RehearsalResult::kNotRehearsed)},
                    {"ok", r.passed()},
                    {"total_ms", r.total_ms}};
  out["warnings"] = r.warnings;
  return out;
}

void PrintSummary(const RehearsalReport& r, const std::string& dir) {
  if (r.migrations.empty()) {
    fmt::print("nothing to rehearse: no migration in {} is pending for {}\n", dir, r.target);
    return;
  }
  size_t injected = 0;
  for (const auto& m : r.migrations) injected += m.injections;
  fmt::print("\n");
  if (r.passed()) {
    size_t rolled = 0;
    for (const auto& m : r.migrations) rolled += m.down_ms >= 0;
    std::string downs =
        rolled == r.migrations.size()
            ? "went up, down to the same schema and data, and up again to the same state"
            : fmt::format("went up; {} of them went down to the same schema and data and up "
                          "again to the same state (the others have no way back)",
                          rolled);
    fmt::print("rehearsal passed: {} migration{} {}; {} injected failure{} left no trace ({} ms)\n",
               r.migrations.size(), r.migrations.size() == 1 ? "" : "s", downs, injected,
               injected == 1 ? "" : "s", r.total_ms);
  } else if (Interrupt::Requested()) {
    fmt::print("rehearsal {}: {} of {} migrations rehearsed, {} failed ({} ms)\n",
               Interrupt::Describe(),
               r.Count(RehearsalResult::kPass) + r.Count(RehearsalResult::kFail),
               r.migrations.size(), r.Count(RehearsalResult::kFail), r.total_ms);
  } else {
    fmt::print("rehearsal FAILED: {} of {} migrations failed", r.Count(RehearsalResult::kFail),
               r.migrations.size());
    if (int n = r.Count(RehearsalResult::kNotRehearsed)) fmt::print(", {} not rehearsed", n);
    fmt::print(" ({} ms)\n", r.total_ms);
  }
  fmt::print("the target was only read; the sandbox {}\n",
             r.sandbox_kept ? "is kept at " + r.sandbox : std::string("was removed"));
  for (const std::string& w : r.warnings) fmt::print("warning: {}\n", w);
}

}  // namespace

void SetupRehearse(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto flags = std::make_shared<RehearseFlags>();
  RehearseOptions& o = flags->options;
  CLI::App* cmd = app.add_subcommand(
      "rehearse", "rehearse pending migrations on a sandbox copy: up, down, injected failures, up again");
  auto* to = cmd->add_option("--to", flags->to, "rehearse pending versions up to and including V")
      ->transform(DecimalVersion());
  cmd->add_option("--seed", o.seed_rows, "fill the sandbox's tables with ROWS generated rows each")
      ->check(WholeNumberFrom(0));
  auto* seed_value = cmd->add_option("--seed-value", o.seed_value, "PRNG seed for --seed (default 42)");
  cmd->add_flag("--keep-sandbox", o.keep_sandbox, "leave the sandbox copy in place and print where");
  cmd->add_flag("--no-inject", [&o](int64_t) { o.inject_failures = false; },
                "skip failure injection (faster, proves less)");
  cmd->add_flag("--allow-irreversible", o.allow_irreversible,
                "rehearse migrations that have no way back (up only)");
  cmd->add_flag("--json", flags->json, "print the report as JSON for machines");
  cmd->footer("The target is only read. Exits 0 when every migration passes, 6 when one fails "
              "(the report says why), and as `up` does for bad input (2, 4, 5, 7, 8).");
  cmd->callback([&global, &exit_code, flags, to, seed_value] {
    StopGracefullyOnSignals();
    // Without --seed nothing is generated: a seed value would be ignored.
    if (seed_value->count() > 0 && flags->options.seed_rows == 0) {
      exit_code = Fail(Status(Code::kInvalidArgument,
                              "--seed-value chooses the rows --seed generates; without --seed ROWS "
                              "(or with 0) nothing is generated"));
      return;
    }
    auto resolved = ResolveOptions(global, true);
    if (!resolved.ok()) {
      exit_code = Fail(resolved.status());
      return;
    }
    RehearseOptions options = flags->options;
    options.database_url = resolved->database_url;
    options.migrations_dir = resolved->migrations_dir;
    options.placeholders = resolved->placeholders;
    if (to->count() > 0) options.to = flags->to;
    auto report = Rehearse(options, flags->json ? RehearsalHandler() : PrintProgress);
    if (!report.ok()) {
      exit_code = Fail(report.status());
      return;
    }
    if (flags->json) {
      fmt::print("{}\n", JsonText(ToJson(*report), 2));
    } else {
      PrintSummary(*report, options.migrations_dir);
    }
    if (Interrupt::Requested()) {
      exit_code = kExitInterrupted;
    } else if (!report->passed()) {
      exit_code = kExitVerifyFailed;
    }
  });
}

}  // namespace strata::cli
