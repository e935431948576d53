// strata restore --to-version V: the database as it was at a migration boundary.
// strata show V: what history knows of V, with PostgreSQL recovery targets.
#include <algorithm>
#include <chrono>
#include <climits>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/snapshot_config.h"
#include "engine/url.h"
#include "history/history.h"
#include "snapshot/snapshot.h"
#include "util/json_text.h"

namespace strata::cli {
namespace {

struct RestoreFlags {
  int64_t version = 0;
  bool before = false;
  bool after = false;
  bool yes = false;
  bool json = false;
  std::string store;
};

/// History (listed in version order) put in the order the migrations were
/// applied: by applied_at, then by version (a run applies its migrations in
/// version order). With --allow-out-of-order that is not version order, and
/// the states the database went through are those of this order.
void InAppliedOrder(std::vector<AppliedMigration>& rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.applied_at < b.applied_at;
  });
}

/// History in the order it was applied (see InAppliedOrder), and the tables
/// that its migrations created outside the managed schema and that exist
/// now, each "schema.table (created by ID)" with the index of its row.
struct HistoryRead {
  std::vector<AppliedMigration> rows;
  std::vector<std::pair<size_t, std::string>> outside;
};

Result<HistoryRead> ReadHistory(const std::string& url) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenDatabase(url, /*create=*/false));
  History history(*db);
  HistoryRead read;
  // With scripts: the checks record the tables created in other schemas.
  STRATA_ASSIGN_OR_RETURN(read.rows, history.List(true));
  InAppliedOrder(read.rows);
  for (size_t i = 0; i < read.rows.size(); ++i) {
    auto checks = nlohmann::json::parse(read.rows[i].checks, nullptr, /*allow_exceptions=*/false);
    if (!checks.is_object() || !checks.contains("created_elsewhere")) continue;
    for (const auto& t : checks["created_elsewhere"]) {
      if (!t.contains("sql")) continue;  // in the managed schema after all
      const std::string schema = t.value("schema", ""), table = t.value("table", "");
      if (db->engine() != Engine::kPostgres) continue;
      auto exists = db->Query("SELECT (pg_catalog.to_regclass($1) IS NOT NULL)::int",
                              {Value(db->QuoteIdent(schema) + "." + db->QuoteIdent(table))});
      if (!exists.ok() || exists->rows.empty() || exists->rows[0][0].ToInt() == 0) continue;
      read.outside.emplace_back(i, fmt::format("{}.{} (created by {})", schema, table,
                                               read.rows[i].id()));
    }
  }
  return read;
}

int RunRestoreToVersion(const GlobalOptions& global, const RestoreFlags& flags) {
  StopGracefullyOnSignals();  // a restore's scratch file, re-applied migrations
  auto options = ResolveOptions(global, true);
  if (!options.ok()) return Fail(options.status());
  auto config = LoadSnapshotConfig(global, flags.store);
  if (!config.ok()) return Fail(config.status());
  auto store = OpenStore(*config, /*create=*/false);
  if (!store.ok()) return Fail(store.status());
  auto applied = ReadHistory(options->database_url);
  if (!applied.ok()) return Fail(applied.status());
  const auto& rows = applied->rows;
  auto it = std::find_if(rows.begin(), rows.end(),
                         [&](const auto& a) { return a.version == flags.version; });
  if (it == rows.end()) {
    return Fail(Status(Code::kNotFound,
                       fmt::format("migration {} is not in the history of {}; `strata snapshot "
                                   "list` shows the snapshots that can be restored by id",
                                   flags.version, RedactUrl(options->database_url))));
  }
  // rows[0, keep) (in the order they were applied) stay applied at the
  // boundary: the state just after V is the one before the migration
  // applied after it, whatever its version.
  size_t keep = static_cast<size_t>(it - rows.begin()) + (flags.after ? 1 : 0);
  std::string boundary = (flags.after ? "just after " : "just before ") + it->id();
  // A run's snapshot shows the state before the first migration it applied,
  // the first row recording it. The newest one at or before the boundary
  // is used: exact when its run began there, otherwise the migrations from
  // its run's start up to the boundary are re-applied.
  std::map<std::string, size_t> run_start;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].snapshot_id.empty()) run_start.emplace(rows[i].snapshot_id, i);
  }
  std::vector<std::pair<size_t, std::string>> candidates;  // newest first
  for (const auto& [id, start] : run_start) {
    if (start <= keep) candidates.emplace_back(start, id);
  }
  std::sort(candidates.rbegin(), candidates.rend());
  const AppliedMigration* first = nullptr;
  Result<snapshot::Manifest> manifest = Status(Code::kNotFound, "none");
  std::string skipped;
  size_t run = 0;  // where in rows its run began
  for (const auto& [at, id] : candidates) {
    auto m = (*store)->Load(id);
    if (!m.ok()) {
      skipped += fmt::format("\n  skipped {} (recorded by {}): {}", id, rows[at].id(),
                             m.status().message());
      continue;
    }
    first = &rows[at];
    run = at;
    manifest = std::move(m);
    break;
  }
  if (first == nullptr) {
    return Fail(Status(Code::kNotFound,
                       fmt::format("no snapshot in {} shows the state {} or earlier{}",
                                   config->dir, boundary, skipped)));
  }
  std::vector<const AppliedMigration*> reapply;
  for (size_t i = run; i < keep; ++i) reapply.push_back(&rows[i]);
  std::string plan = fmt::format("restore snapshot {} (taken before {})", manifest->id, first->id());
  // Re-applied across runs (one of them, or the migration at the boundary,
  // came in a run after the snapshot's, which took none): the application
  // may have written between those runs, to any table, and no snapshot
  // holds that. Every table the migrations from the boundary on leave
  // alone must then hold after the restore what it holds now.
  const bool across_runs =
      std::any_of(reapply.begin(), reapply.end(),
                  [&](const AppliedMigration* r) { return r->snapshot_id != manifest->id; }) ||
      (keep < rows.size() && rows[keep].snapshot_id != manifest->id);
  std::map<std::string, std::string> data_now;
  for (const AppliedMigration* r : reapply) {
    const std::string by_hand = ResolvedByHand(*r);
    if (by_hand.empty()) continue;
    return Fail(Status(
        Code::kConflict,
        fmt::format("putting {} back to the state {} means restoring snapshot {} and re-applying "
                    "{} from its file, but that file stopped part-way when it ran and the "
                    "migration was finished by hand (`strata resolve {} --applied` {}): applying it "
                    "again would not do what was done. Nothing was restored; restore the state "
                    "just before it (`strata restore --to-version {}`) or a snapshot taken after "
                    "it (`strata snapshot list`)",
                    RedactUrl(options->database_url), boundary, manifest->id, r->id(), r->version,
                    by_hand, r->version)));
  }
  if (!reapply.empty()) {
    plan += ", then re-apply";
    for (const auto* r : reapply) plan += " " + r->id();
    // Re-applied from their files: each must still be the file history
    // applied, checked before the database is touched. (This connection is
    // closed before the restore replaces the database.)
    int exit_code = kExitOk;
    auto migrator = OpenMigrator(global, true, &exit_code);
    if (!migrator) return exit_code;
    auto status = migrator->GetStatus();
    if (!status.ok()) return Fail(status.status().WithContext("nothing was restored"));
    std::string problems;
    for (const auto& m : status->migrations) {
      if (std::none_of(reapply.begin(), reapply.end(),
                       [&](const AppliedMigration* r) { return r->version == m.version; })) {
        continue;
      }
      if (m.state == MigrationState::kChanged) {
        problems += fmt::format("\n  {} was changed after it was applied:\n{}", m.id, m.diff);
      } else if (m.state == MigrationState::kMissingFile) {
        problems += fmt::format("\n  {}: its file is gone", m.id);
      }
    }
    if (across_runs) {
      auto hashes = migrator->DataHashes();
      if (!hashes.ok()) return Fail(hashes.status().WithContext("reading the data; nothing was restored"));
      data_now = std::move(hashes).value();
    }
    if (!problems.empty()) {
      return Fail(Status(
          Code::kConflict,
          fmt::format("putting {} back to the state {} means restoring snapshot {} and re-applying "
                      "migrations from their files, but these are not the files history applied; "
                      "nothing was restored (put the files back as they were, or restore the "
                      "snapshot by id with `strata snapshot restore {}`):{}",
                      RedactUrl(options->database_url), boundary, manifest->id, manifest->id,
                      problems)));
    }
  }
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> left_out;
  Status s = RestoreOverTarget(*options, *config, **store, *manifest, flags.yes,
                               fmt::format("Put {} back to the state {}: {}?",
                                           RedactUrl(options->database_url), boundary, plan),
                               &left_out);
  if (!s.ok()) return Fail(s);
  fmt::print("restored snapshot {} (the state before {}); fingerprints match\n", manifest->id,
             first->id());
  PrintNotes(*manifest);
  PrintNotes(left_out);
  std::vector<std::string> unlike;  // tables whose re-applied data is not what history recorded
  std::set<std::string> unlike_tables;  // and their names alone
  // Compared with what history recorded at the boundary: the migrations
  // re-applied, and the tables the migration after the boundary touched
  // (rows the application committed after the snapshot and before that
  // migration are in no snapshot).
  if (!reapply.empty() || keep < rows.size()) {
    int exit_code = kExitOk;
    auto migrator = OpenMigrator(global, true, &exit_code);
    if (!migrator) return exit_code;
    // Each is re-applied on its own, in the order history applied them, and
    // the tables it wrote must then hold what history recorded as it left
    // them when it was first applied (its row is rewritten by this `up`:
    // the copy read before the restore is compared with). Rows written
    // after the snapshot and before the boundary are in no snapshot, and a
    // migration applied again may generate other values (random keys,
    // timestamps).
    // The tables `differ` names, each with where it differs ("after 0002_x").
    auto note_unlike = [&](Result<std::vector<std::string>> differ, const std::string& where) {
      if (!differ.ok()) return differ.status().WithContext("comparing the data with history");
      // (A table rebuilt under its own name has two facts: named once.)
      for (const std::string& table : *differ) {
        unlike_tables.insert(table);
        std::string named = fmt::format("{} ({})", table, where);
        if (std::find(unlike.begin(), unlike.end(), named) == unlike.end()) unlike.push_back(std::move(named));
      }
      return Status::OK();
    };
    for (size_t i = 0; i < reapply.size(); ++i) {
      const AppliedMigration& r = *reapply[i];
      UpOptions up;
      up.only = {r.version};
      // Accepted without a way back when it was applied: history says so.
      if (r.irreversible || r.down_source == "none") up.irreversible_accepted = {r.version};
      // The state before the first is the snapshot just restored: history
      // records it as the run's restoration point of each, as `up` records
      // its own.
      up.before_apply = [&]() -> Result<std::string> { return manifest->id; };
      // History orders by applied_at (to the millisecond), then version: one
      // applied out of order must not share the previous one's millisecond.
      if (i > 0 && r.version < reapply[i - 1]->version) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      auto report = migrator->Up(up, PrintEvent);
      if (!report.ok()) {
        // Each re-applied migration is atomic with its history row: the
        // database is at a migration boundary, which history shows.
        return Fail(report.status().WithContext(fmt::format(
            "the database holds snapshot {}{}; re-applying the migrations up to {} did not "
            "finish (run `strata up --to {}` to finish the restore, or restore the snapshot "
            "taken before it, named above, to undo it)",
            manifest->id, i == 0 ? "" : " with the migrations up to " + reapply[i - 1]->id() + " re-applied",
            reapply.back()->id(), reapply.back()->version)));
      }
      if (Status s = note_unlike(migrator->DataUnlikeAfter(r.checks), "after " + r.id()); !s.ok()) {
        return Fail(s);
      }
    }
    // At the boundary, the tables the migration after it touched must hold
    // what they held just before it.
    if (keep < rows.size()) {
      if (Status s = note_unlike(migrator->DataUnlikeBefore(rows[keep].checks),
                                 "before " + rows[keep].id());
          !s.ok()) {
        return Fail(s);
      }
    }
    if (across_runs) {
      std::set<std::string> later;  // touched from the boundary on: their states differ by design
      for (size_t i = keep; i < rows.size(); ++i) {
        for (std::string& table : Migrator::TablesTouched(rows[i].checks)) later.insert(std::move(table));
      }
      auto restored = migrator->DataHashes();
      if (!restored.ok()) return Fail(restored.status().WithContext("comparing the data with the state before"));
      for (const auto& [table, hash] : *restored) {
        auto before = data_now.find(table);
        if (unlike_tables.count(table) || later.count(table) || before == data_now.end() ||
            before->second == hash) {
          continue;
        }
        unlike.push_back(fmt::format("{} (other rows than before the restore, written after the run "
                                     "that applied {})",
                                     table, first->id()));
      }
    }
  }
  // A snapshot holds the managed schema only: what the migrations undone by
  // the restore created in other schemas is still there, and applying them
  // again fails on it.
  std::string left;
  for (const auto& [row, table] : applied->outside) {
    if (row >= keep) left += (left.empty() ? "" : ", ") + table;
  }
  if (!left.empty()) {
    fmt::print("note: left as they were, outside the schema snapshots hold: {}; drop them "
               "before applying those migrations again, or roll those back with `strata down` "
               "instead of restoring\n",
               left);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!unlike.empty()) {
    return Fail(Status(
        Code::kVerifyFailed,
        fmt::format("{} has the schema of the state {}, but the data of {} differs from what "
                    "history recorded there: snapshot {} was taken before {}, and the rows "
                    "written between then and {} are in no snapshot, or a migration re-applied "
                    "generated other values (random keys, timestamps). Put those rows back from "
                    "another backup, or restore a later snapshot by id (`strata snapshot list`; "
                    "the snapshot taken before this restore holds the state before it)",
                    RedactUrl(options->database_url), boundary, fmt::join(unlike, ", "),
                    manifest->id, first->id(), boundary)));
  }
  fmt::print("{} is at the state {}{} ({:.2f} s)\n", RedactUrl(options->database_url), boundary,
             left.empty() ? "" : " in its managed schema", seconds);
  if (!reapply.empty()) {
    // History records the data of the tables a migration touched, not of
    // the others: their rows are the snapshot's.
    fmt::print("note: the tables the re-applied migrations touched hold what history recorded; "
               "the others hold what snapshot {} holds, without rows written to them after it "
               "was taken (before {})\n",
               manifest->id, first->id());
  }
  return kExitOk;
}

int RunShowVersion(const GlobalOptions& global, const RestoreFlags& flags) {
  auto options = ResolveOptions(global, true);
  if (!options.ok()) return Fail(options.status());
  auto db = OpenDatabase(options->database_url, /*create=*/false);
  if (!db.ok()) return Fail(db.status());
  bool pg = (*db)->engine() == Engine::kPostgres;
  History history(**db);
  auto all = history.List(false);
  if (!all.ok()) return Fail(all.status());
  InAppliedOrder(*all);  // "just after V" is before the migration applied next
  auto it = std::find_if(all->begin(), all->end(),
                         [&](const auto& a) { return a.version == flags.version; });
  if (it == all->end()) {
    return Fail(Status(Code::kNotFound,
                       fmt::format("migration {} is not in the history of {}: it is not applied "
                                   "(`strata status` lists what is; `strata up --to {} --dry-run` "
                                   "shows what applying up to it would do)",
                                   flags.version, (*db)->Describe(), flags.version)));
  }
  const AppliedMigration& a = *it;
  auto full = history.Get(a.version);  // with its checks
  const std::string by_hand = full.ok() && *full ? ResolvedByHand(**full) : "";
  const AppliedMigration* next = std::next(it) == all->end() ? nullptr : &*std::next(it);
  std::string snapshot_note;
  if (!a.snapshot_id.empty()) {
    auto config = LoadSnapshotConfig(global, flags.store);
    if (config.ok()) {
      auto store = OpenStore(*config, /*create=*/false);
      auto m = store.ok() ? (*store)->Load(a.snapshot_id) : Result<snapshot::Manifest>(store.status());
      snapshot_note = m.ok() ? "in " + config->dir : "NOT available: " + m.status().message();
    }
  }
  if (flags.json) {
    nlohmann::json out = {{"version", a.version},       {"id", a.id()},
                          {"state", AppliedStateName(a.state)},
                          {"applied_at", a.applied_at}, {"applied_by", a.applied_by},
                          {"duration_ms", a.duration_ms}, {"down_source", a.down_source},
                          {"way_back", HasWayBack(a.down_source, a.irreversible)},
                          {"schema_before", a.schema_before}, {"schema_after", a.schema_after},
                          {"snapshot_id", a.snapshot_id}, {"log_position", a.log_position},
                          {"last_error", a.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.error)},
                          {"finished_by_hand", by_hand.empty() ? nlohmann::json(nullptr) : nlohmann::json(by_hand)},
                          {"finalized_at", a.finalized_at.empty() ? nlohmann::json(nullptr)
                                                                  : nlohmann::json(a.finalized_at)}};
    if (pg && !a.log_position.empty()) {
      out["recovery_target_before"] = {{"recovery_target_lsn", a.log_position},
                                       {"recovery_target_inclusive", false}};
      if (next && !next->log_position.empty()) {
        out["recovery_target_after"] = {{"recovery_target_lsn", next->log_position},
                                        {"recovery_target_inclusive", false}};
      }
    }
    fmt::print("{}\n", JsonText(out, 2));
    return kExitOk;
  }
  fmt::print("{}  ({})\n", a.id(), AppliedStateName(a.state));
  if (a.state == AppliedState::kInProgress) {
    fmt::print("  started       {} by {}; not finished (`strata resolve {}` settles it)\n",
               a.applied_at, a.applied_by, a.version);
  } else {
    fmt::print("  applied       {} by {} in {} ms\n", a.applied_at, a.applied_by, a.duration_ms);
  }
  if (!a.error.empty()) fmt::print("  last error    {}\n", a.error);
  if (!by_hand.empty()) {
    fmt::print("  finished by hand {} (`strata resolve {} --applied`): its file stopped part-way\n",
               by_hand, a.version);
  }
  // A baselined migration was never applied here: nothing undoes it.
  // Listed without scripts: the statements that ran uncaptured are in the row's checks.
  std::vector<std::string> uncaptured;
  if (RanUncaptured(a.down_source, a.irreversible)) {
    if (full.ok() && *full) uncaptured = UncapturedChanges(**full);
    if (uncaptured.empty()) uncaptured.push_back("see its checks in strata_history");
  }
  fmt::print("  way back      {}\n",
             a.down_source == "none"       ? "none (applied as irreversible)"
             : a.down_source == "baseline" ? "none (recorded by `strata baseline`: the database "
                                             "held it before Strata managed it, and nothing was "
                                             "stored to undo it)"
             : !uncaptured.empty()
                 ? fmt::format("none: applied with --allow-irreversible, and what this ran "
                               "without a capture cannot be put back ({}); its {} down script "
                               "is stored in history",
                               fmt::join(uncaptured, "; "), a.down_source)
                 : a.down_source + " down script, stored in history");
  if (!a.finalized_at.empty()) {
    fmt::print("  finalized     {} (its captured data was dropped: it cannot be rolled back)\n",
               a.finalized_at);
  }
  if (!a.schema_before.empty()) fmt::print("  schema        {} -> {}\n", a.schema_before, a.schema_after);
  if (a.snapshot_id.empty()) {
    fmt::print("  snapshot      none recorded\n");
  } else {
    fmt::print("  snapshot      {} (taken before the run that applied it; {})\n", a.snapshot_id,
               snapshot_note);
  }
  if (!a.log_position.empty()) fmt::print("  WAL position  {}\n", a.log_position);
  if (!pg) {
    // restore --to-version starts from the snapshot at that boundary or the
    // nearest earlier one.
    const bool reachable = std::any_of(all->begin(), std::next(it),
                                       [](const auto& m) { return !m.snapshot_id.empty(); });
    if (reachable) {
      fmt::print("\n`strata restore --to-version {} [--before|--after]` puts the database back to "
                 "that boundary from a snapshot.\n", a.version);
    } else {
      fmt::print("\nNo snapshot was recorded at or before it (runs with --no-snapshot, or "
                 "[snapshots] before_up = false), so `strata restore --to-version` cannot reach "
                 "that boundary; `strata down --to V` rolls back with the stored down scripts.\n");
    }
    return kExitOk;
  }
  if (a.log_position.empty()) {
    fmt::print("\nNo WAL position was recorded for it (applied by an older strata).\n");
    return kExitOk;
  }
  fmt::print("\nPoint-in-time recovery of the whole cluster to just before {}: restore a base "
             "backup taken earlier, then in postgresql.conf (with a recovery.signal file):\n"
             "  recovery_target_lsn = '{}'\n"
             "  recovery_target_inclusive = off\n"
             "  recovery_target_action = 'pause'\n"
             "or by time (less exact: the server's clock as the migration began):\n"
             "  recovery_target_time = '{}'\n"
             "  recovery_target_inclusive = off\n",
             a.id(), a.log_position, a.applied_at, a.applied_at);
  if (next && !next->log_position.empty()) {
    fmt::print("To just after it (before {}): recovery_target_lsn = '{}', recovery_target_inclusive = off\n",
               next->id(), next->log_position);
  }
  return kExitOk;
}

}  // namespace

void SetupRestore(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto flags = std::make_shared<RestoreFlags>();
  CLI::App* cmd = app.add_subcommand(
      "restore", "put the database back to a migration boundary from a snapshot");
  cmd->add_option("--to-version", flags->version, "the migration V whose boundary to restore")
      ->transform(DecimalVersion())
      ->required();
  auto* before = cmd->add_flag("--before", flags->before, "the state just before V was applied (the default)");
  auto* after = cmd->add_flag("--after", flags->after, "the state just after V was applied");
  before->excludes(after);
  cmd->add_flag("-y,--yes", flags->yes, "do not ask before replacing the database's contents");
  cmd->add_option("--store", flags->store, "snapshot store directory (default: strata.toml, then .strata/snapshots)");
  cmd->add_option("--lock-timeout", global.lock_timeout,
                  "how long to wait for another run's lock, and on PostgreSQL for the locks of the "
                  "tables it replaces (default 10s)");
  cmd->footer("Uses the snapshot `up` took at that boundary, or the nearest earlier one and "
              "re-applies the migrations between. Asks first (or --yes) and takes a snapshot of "
              "the current state before restoring.");
  cmd->callback([&global, &exit_code, flags] { exit_code = RunRestoreToVersion(global, *flags); });
}

void SetupShow(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto flags = std::make_shared<RestoreFlags>();
  CLI::App* cmd = app.add_subcommand(
      "show", "what history knows of migration V: when, by whom, snapshot, recovery targets");
  cmd->add_option("version", flags->version, "the migration's version")
      ->transform(DecimalVersion())->required();
  cmd->add_flag("--json", flags->json, "print JSON for machines");
  cmd->add_option("--store", flags->store, "snapshot store directory (default: strata.toml, then .strata/snapshots)");
  cmd->callback([&global, &exit_code, flags] { exit_code = RunShowVersion(global, *flags); });
}

}  // namespace strata::cli
