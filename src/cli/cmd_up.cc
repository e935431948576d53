#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "cli/cli.h"
#include "cli/snapshot_config.h"
#include "engine/sqlite/sqlite_database.h"
#include "engine/url.h"

namespace strata::cli {
namespace {

/// The SQLite file `up` on `database_url` would create: its path when it
/// names a plain file that is not there yet, else "".
std::string SqliteFileToMake(const std::string& database_url) {
  auto url = ParseDatabaseUrl(database_url);
  if (!url.ok() || url->engine != Engine::kSqlite || url->target.empty() ||
      url->target == ":memory:" || url->target.rfind("file:", 0) == 0) {
    return "";
  }
  std::error_code ec;
  return std::filesystem::exists(url->target, ec) || ec ? "" : url->target;
}

/// Removes the SQLite file at `path`, made by a run that then stopped
/// before applying anything (a migration that does not parse, a refusal),
/// when it holds nothing but Strata's own empty tables: a mistyped path or
/// a broken directory leaves no stray database behind.
void RemoveIfUntouched(const std::string& path) {
  {
    auto db = OpenSqlite(path, /*create=*/false);
    if (!db.ok()) return;
    auto rows = (*db)->Query(
        "SELECT (SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'strata\\_%' ESCAPE '\\')"
        " + (SELECT count(*) FROM sqlite_schema WHERE name = 'strata_history')");
    if (!rows.ok() || rows->empty() || rows->rows[0][0].ToInt() != 0) return;
  }
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) unlink((path + suffix).c_str());
}

struct UpFlags {
  int64_t to = 0;
  bool dry_run = false;
  bool allow_irreversible = false;
  bool allow_out_of_order = false;
  bool allow_missing = false;
  bool no_snapshot = false;
};

void PrintPlan(const RunReport& report, const char* verb) {
  if (report.plan.empty()) {
    fmt::print("nothing to {}\n", verb);
    return;
  }
  for (const auto& step : report.plan) {
    fmt::print("-- {} {}{}\n", verb, step.id, step.no_transaction ? " [no-transaction]" : "");
    if (step.left_out > 0) {
      fmt::print("-- (its own {} transaction statement{} left out: it runs in the "
                 "transaction Strata opens for it)\n",
                 step.left_out, step.left_out == 1 ? " is" : "s are");
    }
    fmt::print("{}\n", step.script);
    if (!step.restore_script.empty()) {
      fmt::print("-- then the data captured when it was applied is put back:\n{}\n",
                 step.restore_script);
    }
    if (step.down_source == "none") {
      fmt::print("-- way back: none (irreversible)\n\n");
    } else if (!step.down_source.empty()) {
      fmt::print("-- way back ({}), stored in history:\n{}\n", step.down_source, step.down_script);
    }
  }
  fmt::print("dry run: {} migration{} would be {}; nothing was changed\n", report.plan.size(),
             report.plan.size() == 1 ? "" : "s",
             std::string_view(verb) == "apply" ? "applied" : "rolled back");
}

}  // namespace

void SetupUp(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto flags = std::make_shared<UpFlags>();
  CLI::App* cmd = app.add_subcommand("up", "apply pending migrations, each atomically with its history row");
  auto* to = cmd->add_option("--to", flags->to, "apply pending versions up to and including V")
      ->transform(DecimalVersion());
  cmd->add_flag("--dry-run", flags->dry_run, "print the plan and the SQL; change nothing");
  cmd->add_flag("--allow-irreversible", flags->allow_irreversible,
                "apply migrations that have no down script and no derivable inverse "
                "(recorded in history)");
  cmd->add_flag("--allow-out-of-order", flags->allow_out_of_order,
                "apply pending migrations older than the newest applied one");
  cmd->add_flag("--allow-missing", flags->allow_missing,
                "apply even when the file of an applied migration is missing (deleted, or a "
                "checkout without it)");
  cmd->add_flag("--no-snapshot", flags->no_snapshot,
                "do not take a snapshot before applying (default: [snapshots] before_up)");
  cmd->add_option("--lock-timeout", global.lock_timeout,
                  "how long to wait for another run's lock, and for the table locks of other "
                  "sessions while the snapshot before applying reads (default 10s)");
  cmd->callback([&global, &exit_code, flags, to] {
    StopGracefullyOnSignals();
    // Resolved before the database is opened: whether this run makes its file.
    auto resolved = ResolveOptions(global, true);
    const std::string made =
        flags->dry_run || !resolved.ok() ? "" : SqliteFileToMake(resolved->database_url);
    auto migrator = OpenMigrator(global, true, &exit_code, /*create_database=*/!flags->dry_run);
    if (!migrator) return;
    UpOptions options;
    auto snapshots = LoadSnapshotConfig(global);
    if (!snapshots.ok()) {
      exit_code = Fail(snapshots.status());
      return;
    }
    // An in-memory database (migrations tried out in CI) ends with the run:
    // there is nothing a snapshot of it could be restored to.
    const bool in_memory = resolved.ok() && migrator->database()->engine() == Engine::kSqlite &&
                           migrator->database()->Describe() == "sqlite::memory:";
    if (!flags->no_snapshot && snapshots->before_up && resolved.ok() && !in_memory) {
      // Called under the lock, before the first migration: the restoration
      // point whose id history records for every migration of this run.
      options.before_apply = [config = *snapshots, url = resolved->database_url,
                              db = migrator->database(), wait = resolved->lock_timeout] {
        return TakeRestorationPoint(config, url, *db, wait);
      };
    }
    if (to->count() > 0) options.to = flags->to;
    options.dry_run = flags->dry_run;
    options.allow_irreversible = flags->allow_irreversible;
    options.allow_out_of_order = flags->allow_out_of_order;
    options.allow_missing = flags->allow_missing;
    auto started = std::chrono::steady_clock::now();
    auto report = migrator->Up(options, PrintEvent);
    if (!report.ok()) {
      exit_code = Fail(report.status());
      if (!made.empty()) {
        migrator.reset();
        RemoveIfUntouched(made);
      }
      return;
    }
    if (options.dry_run) {
      PrintPlan(*report, "apply");
      return;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started).count();
    // Going back to --to is `down`'s, when something above it is applied.
    auto above_to = [&] {
      auto status = migrator->GetStatus();
      return status.ok() &&
             std::any_of(status->migrations.begin(), status->migrations.end(), [&](const auto& m) {
               return m.version > *options.to && m.state != MigrationState::kPending;
             });
    };
    if (report->completed == 0 && options.to && above_to()) {
      fmt::print("no pending migration at or below version {} ({}); to go back to it, use "
                 "`strata down --to {}`\n",
                 *options.to, migrator->database()->Describe(), *options.to);
    } else if (report->completed == 0) {
      fmt::print("database is up to date ({})\n", migrator->database()->Describe());
    } else {
      fmt::print("applied {} migration{} in {} ms\n", report->completed,
                 report->completed == 1 ? "" : "s", ms);
    }
    for (const auto& id : report->finalized) {
      fmt::print("finalized {}: its captured data was dropped ([captures] finalize_after)\n", id);
    }
    if (!report->drift.empty()) fmt::print(stderr, "warning: {}\n", report->drift);
  });
}

void SetupDown(CLI::App& app, GlobalOptions& global, int& exit_code) {
  struct DownFlags {
    int steps = 1;
    int64_t to = 0;
    bool all = false;
    bool dry_run = false;
    bool discard_later_writes = false;
  };
  auto flags = std::make_shared<DownFlags>();
  CLI::App* cmd = app.add_subcommand(
      "down", "roll back applied migrations with the down scripts stored at apply time");
  auto* steps =
      cmd->add_option("-n,--steps", flags->steps, "roll back the newest N migrations (default 1)")
          ->check(WholeNumberFrom(1));
  auto* to = cmd->add_option("--to", flags->to, "roll back every migration newer than V")
      ->transform(DecimalVersion());
  auto* all = cmd->add_flag("--all", flags->all,
                            "roll back every applied migration, a version 0 included");
  steps->excludes(to);
  steps->excludes(all);
  to->excludes(all);
  cmd->add_flag("--dry-run", flags->dry_run, "print the plan and the SQL; change nothing");
  cmd->add_flag("--discard-later-writes", flags->discard_later_writes,
                "put captured data back even over what was written since the migration: a table "
                "captured whole, changed or deleted rows, a column it added empty (those writes "
                "are lost)");
  cmd->add_option("--lock-timeout", global.lock_timeout,
                  "how long to wait for another run's lock (default 10s)");
  cmd->callback([&global, &exit_code, flags, steps, to] {
    StopGracefullyOnSignals();
    auto migrator = OpenMigrator(global, true, &exit_code);
    if (!migrator) return;
    DownOptions options;
    if (steps->count() > 0) options.steps = flags->steps;
    if (to->count() > 0) options.to = flags->to;
    if (flags->all) options.to = std::numeric_limits<int64_t>::min();
    options.dry_run = flags->dry_run;
    options.discard_later_writes = flags->discard_later_writes;
    auto started = std::chrono::steady_clock::now();
    auto report = migrator->Down(options, PrintEvent);
    if (!report.ok()) {
      exit_code = Fail(report.status());
      return;
    }
    if (options.dry_run) {
      PrintPlan(*report, "roll back");
      return;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started).count();
    if (report->completed == 0) {
      fmt::print("nothing to roll back\n");
    } else {
      fmt::print("rolled back {} migration{} in {} ms\n", report->completed,
                 report->completed == 1 ? "" : "s", ms);
    }
  });
}

}  // namespace strata::cli
