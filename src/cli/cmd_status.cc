#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"

namespace strata::cli {

void SetupStatus(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "status", "show applied, pending, changed, missing and in-progress migrations");
  cmd->add_flag("--json", *json, "print JSON for machines");
  cmd->footer("Exits 0 when history and files agree (pending migrations are fine), 7 when an "
              "applied file changed or is missing, 8 when a migration is in progress.");
  cmd->callback([&global, &exit_code, json] {
    auto migrator = OpenMigrator(global, true, &exit_code);
    if (!migrator) return;
    auto report = migrator->GetStatus();
    if (!report.ok()) {
      exit_code = Fail(report.status());
      return;
    }
    if (*json) {
      nlohmann::json out;
      out["database"] = report->database;
      out["migrations"] = nlohmann::json::array();
      for (const auto& m : report->migrations) {
        nlohmann::json j = {{"version", m.version}, {"id", m.id},
                            {"state", MigrationStateName(m.state)}};
        if (!m.applied_at.empty()) {
          j["applied_at"] = m.applied_at;
          j["applied_by"] = m.applied_by;
          j["duration_ms"] = m.duration_ms;
          j["down"] = m.down_source;
        }
        if (!m.diff.empty()) j["diff"] = m.diff;
        if (!m.error.empty()) j["error"] = m.error;
        out["migrations"].push_back(std::move(j));
      }
      for (auto state : {MigrationState::kApplied, MigrationState::kPending,
                         MigrationState::kOutOfOrder, MigrationState::kChanged,
                         MigrationState::kMissingFile, MigrationState::kInProgress}) {
        out["summary"][MigrationStateName(state)] = report->Count(state);
      }
      out["drift"] = report->drift.empty() ? nlohmann::json(nullptr) : nlohmann::json(report->drift);
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("database: {}\n", report->database);
      if (report->migrations.empty()) fmt::print("no migrations\n");
      for (const auto& m : report->migrations) {
        std::string when = m.applied_at.empty() ? "" : fmt::format("{} by {}", m.applied_at, m.applied_by);
        std::string down = m.applied_at.empty() ? "" : "down: " + m.down_source;
        std::string line = fmt::format("  {:<13} {:<40} {} {}", MigrationStateName(m.state), m.id, when, down);
        while (!line.empty() && line.back() == ' ') line.pop_back();
        fmt::print("{}\n", line);
        if (!m.diff.empty()) {
          fmt::print("      the file differs from what was applied:\n");
          std::string_view d = m.diff;
          while (!d.empty()) {
            size_t eol = d.find('\n');
            fmt::print("      {}\n", d.substr(0, eol));
            if (eol == std::string_view::npos) break;
            d.remove_prefix(eol + 1);
          }
        }
        if (!m.error.empty()) fmt::print("      last error: {}\n", m.error);
      }
      fmt::print("{} applied, {} pending", report->Count(MigrationState::kApplied) +
                                               report->Count(MigrationState::kChanged) +
                                               report->Count(MigrationState::kMissingFile),
                 report->Count(MigrationState::kPending) + report->Count(MigrationState::kOutOfOrder));
      for (auto state : {MigrationState::kOutOfOrder, MigrationState::kChanged,
                         MigrationState::kMissingFile, MigrationState::kInProgress}) {
        if (int n = report->Count(state)) fmt::print(", {} {}", n, MigrationStateName(state));
      }
      fmt::print("\n");
      if (!report->drift.empty()) fmt::print("drift: {}\n", report->drift);
    }
    if (report->Count(MigrationState::kInProgress)) {
      exit_code = kExitInProgress;
    } else if (report->Count(MigrationState::kChanged) || report->Count(MigrationState::kMissingFile)) {
      exit_code = kExitConflict;
    }
  });
}

}  // namespace strata::cli
