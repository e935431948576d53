// Rehearsal: every pending migration run on a sandbox copy of the target
// before it runs for real (DESIGN.md, guarantee 6).
//
// For each pending migration, in version order, on the copy: fingerprint
// (schema and the data of every table); up (its verify script included);
// down; the schema and data must equal the first fingerprint; then with a
// failure injected at each statement in turn, up must fail and leave the
// state exactly as before with the migration not in history; finally up
// again, which must give the same state as the first up. The migration stays
// applied and the next one is rehearsed on top of it.
//
// The target is only read (sandbox.h). Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rehearse/risk.h"
#include "strata/status.h"

namespace strata {

struct RehearseOptions {
  std::string database_url;  // the target
  std::string migrations_dir = "migrations";
  std::string actor;
  std::optional<int64_t> to;  // rehearse pending versions <= to
  /// Generated rows per table (0: none): the copy's tables before the first
  /// migration, and each table a migration creates right after it (when
  /// migrations follow), so that later migrations run on data.
  int64_t seed_rows = 0;
  uint64_t seed_value = 42;
  bool allow_irreversible = false;  // rehearse migrations without a way back (up only)
  bool inject_failures = true;
  bool keep_sandbox = false;  // leave the copy in place (its location is in the report)
  std::map<std::string, std::string> placeholders;  // MigratorOptions::placeholders
};

enum class RehearsalResult { kPass, kFail, kNotRehearsed };
const char* RehearsalResultName(RehearsalResult result);

struct MigrationRehearsal {
  int64_t version = 0;
  std::string id;
  RehearsalResult result = RehearsalResult::kNotRehearsed;
  /// Why it failed, one entry per failed check, each readable on its own
  /// (a schema diff, or the tables whose data differ with row counts).
  std::vector<std::string> failures;
  std::string note;  // kNotRehearsed: why; otherwise a remark that is no failure
  size_t statements = 0;
  std::string down_source;  // "file", "derived" or "none"
  int64_t up_ms = -1;       // the first up, as the migrator timed it (-1: did not run)
  int64_t down_ms = -1;     // the rollback: the measured recovery time
  int64_t reapply_ms = -1;
  size_t injections = 0;         // statements at which a failure was injected
  size_t injections_passed = 0;  // ... that left no trace
  std::vector<Risk> risks;
  std::vector<std::pair<std::string, int64_t>> seeded;  // tables it created, filled after it
};

struct RehearsalReport {
  std::string target;   // redacted
  std::string sandbox;  // redacted; still there only when kept
  bool sandbox_kept = false;
  int64_t copy_ms = 0;
  int64_t seed_rows = 0;
  std::vector<std::pair<std::string, int64_t>> seeded;  // the copy's tables, before the first migration
  int64_t seed_ms = 0;  // all seeding
  int64_t total_ms = 0;
  std::vector<MigrationRehearsal> migrations;
  std::vector<std::string> warnings;  // e.g. the sandbox could not be removed

  int Count(RehearsalResult result) const;
  bool passed() const { return Count(RehearsalResult::kPass) == static_cast<int>(migrations.size()); }
};

/// What the rehearsal is doing, for a caller that shows progress.
struct RehearsalEvent {
  enum class Kind { kSandboxReady, kSeeded, kMigrationDone };
  Kind kind;
  const RehearsalReport& report;         // as far as it goes
  const MigrationRehearsal* migration;   // kMigrationDone
};
using RehearsalHandler = std::function<void(const RehearsalEvent&)>;

/// Rehearses the pending migrations of `options.database_url`. Errors that
/// stop it before any migration is rehearsed are returned as a Status (the
/// target cannot be reached or copied, the files conflict with history, a
/// migration has no way back); what a rehearsal finds is in the report.
Result<RehearsalReport> Rehearse(const RehearseOptions& options,
                                 const RehearsalHandler& on_event = nullptr);

}  // namespace strata
