#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "util/json_text.h"

namespace strata::cli {
namespace {

/// Appends `text` and spaces up to `width` characters (UTF-8 sequences count once).
void AppendPadded(std::string& out, std::string_view text, size_t width) {
  out += text;
  size_t chars = 0;
  for (char c : text) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (chars < width) out.append(width - chars, ' ');
}

}  // namespace

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
          j["way_back"] = HasWayBack(m.down_source, m.irreversible);
          if (!m.finalized_at.empty()) j["finalized_at"] = m.finalized_at;
          j["checksum"] = m.checksum;
        }
        if (!m.file_id.empty()) j["file_id"] = m.file_id;
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
      if (!report->note.empty()) out["note"] = report->note;
      out["running"] =
          report->running.empty() ? nlohmann::json(nullptr) : nlohmann::json(report->running);
      fmt::print("{}\n", JsonText(out, 2));
    } else {
      // One line per migration, built by hand and written 64 KiB at a time:
      // with thousands of migrations, formatting is a good part of `status`.
      constexpr size_t kFlushAt = 64 * 1024;
      std::string out;
      out.reserve(kFlushAt + 4096);
      out.append("database: ").append(report->database).append("\n");
      if (report->migrations.empty()) out += "no migrations\n";
      for (const auto& m : report->migrations) {
        out += "  ";
        AppendPadded(out, MigrationStateName(m.state), 13);
        out += ' ';
        if (m.applied_at.empty()) {
          out += m.id;
        } else {
          AppendPadded(out, m.id, 40);
          out.append(" ").append(m.applied_at).append(" by ").append(m.applied_by);
          // A change ran uncaptured (--allow-irreversible): `down` refuses it (exit 5).
          if (RanUncaptured(m.down_source, m.irreversible)) {
            out.append(" down: none (a change ran uncaptured; its ").append(m.down_source).append(" script cannot undo it)");
          } else {
            out.append(" down: ").append(m.down_source);
          }
          // Its captured data is gone: `down` refuses it (exit 5).
          if (!m.finalized_at.empty()) out.append(", finalized ").append(m.finalized_at);
        }
        out += '\n';
        if (!m.file_id.empty()) out.append("      its file was renamed since: now ").append(m.file_id).append("\n");
        if (!m.diff.empty()) {
          out += "      the file differs from what was applied:\n";
          std::string_view d = m.diff;
          while (!d.empty()) {
            size_t eol = d.find('\n');
            out.append("      ").append(d.substr(0, eol)).append("\n");
            if (eol == std::string_view::npos) break;
            d.remove_prefix(eol + 1);
          }
        }
        if (!m.error.empty()) out.append("      last error: ").append(m.error).append("\n");
        if (out.size() >= kFlushAt) {
          std::fwrite(out.data(), 1, out.size(), stdout);
          out.clear();
        }
      }
      std::fwrite(out.data(), 1, out.size(), stdout);
      // Each migration counted once, in its state, as --json's summary.
      fmt::print("{} applied, {} pending", report->Count(MigrationState::kApplied),
                 report->Count(MigrationState::kPending));
      for (auto state : {MigrationState::kOutOfOrder, MigrationState::kChanged,
                         MigrationState::kMissingFile, MigrationState::kInProgress}) {
        if (int n = report->Count(state)) fmt::print(", {} {}", n, MigrationStateName(state));
      }
      fmt::print("\n");
      if (!report->running.empty()) {
        fmt::print("running: a strata run holds the migration lock: {} (drift is not checked "
                   "while it runs)\n",
                   report->running);
      }
      if (!report->drift.empty()) fmt::print("drift: {}\n", report->drift);
      if (!report->note.empty()) fmt::print("note: {}\n", report->note);
    }
    if (report->Count(MigrationState::kInProgress)) {
      exit_code = kExitInProgress;
    } else if (report->Count(MigrationState::kChanged) || report->Count(MigrationState::kMissingFile)) {
      exit_code = kExitConflict;
    }
  });
}

}  // namespace strata::cli
