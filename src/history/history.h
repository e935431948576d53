// History: the strata_history table, one row per applied migration.
//
// A row keeps what is needed to undo the migration without today's files:
// the up script as applied (so `status` can show what changed in an edited
// file) and the down script as it was at apply time, written or derived.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "strata/database.h"
#include "strata/status.h"

namespace strata {

enum class AppliedState {
  kApplied,     // committed together with its history row
  kInProgress,  // a no-transaction migration that started and has not finished
};

const char* AppliedStateName(AppliedState state);

struct AppliedMigration {
  int64_t version = 0;
  std::string version_text;   // as in the file name: "0001"
  std::string name;
  std::string checksum;
  std::string up_script;      // empty when listed without scripts
  std::string down_script;    // empty when irreversible (or listed without scripts)
  std::string down_source;    // "file", "derived" or "none"
  std::string applied_at;     // UTC, ISO 8601
  std::string applied_by;
  int64_t duration_ms = 0;
  AppliedState state = AppliedState::kApplied;
  bool irreversible = false;  // applied with --allow-irreversible and no way back
  bool no_transaction = false;
  std::string error;          // the last failure of an in-progress migration
  std::string snapshot_id;    // the restoration point taken before the run that applied it
  std::string schema_before;  // SHA-256 of the whole managed schema before and after it
  std::string schema_after;
  /// JSON: what its rollback is checked against (the objects and tables it
  /// touches, as they were before it). Only with scripts.
  std::string checks;
  /// SQL that puts back the data it removed, run after its down script.
  /// Only with scripts.
  std::string restore_script;
  std::string finalized_at;   // when its captured data was released ("" = not final)
  std::string log_position;   // PostgreSQL: WAL position as it was applied
  /// On the newest row: the engine's schema cookie (Database::SchemaCookieSql)
  /// when a run last left the schema as this row's schema_after ("" = unknown).
  std::string schema_cookie;

  /// "0001_create_users", as the file was named.
  std::string id() const { return name.empty() ? version_text : version_text + "_" + name; }
};

/// The statements of `m` that --allow-irreversible let run without a
/// capture (an UPDATE of a table without a primary key, rows of another
/// schema, of a table named at run time), as its checks record them: what
/// they changed no rollback can put back. Empty without scripts.
std::vector<std::string> UncapturedChanges(const AppliedMigration& m);
/// The same, of its checks already parsed.
std::vector<std::string> UncapturedChanges(const nlohmann::json& checks);

/// How `m` was finished by hand after it stopped part-way (`strata resolve
/// V --applied`): "at TIME by ACTOR"; "" when it ran to the end. Only with
/// scripts.
std::string ResolvedByHand(const AppliedMigration& m);

class History {
 public:
  explicit History(Database& db);

  /// Creates strata_history when it does not exist.
  Status Ensure();

  /// All rows, oldest version first. Without `with_scripts` the script
  /// columns are not fetched (status stays fast with thousands of rows).
  /// A database without the table has an empty history.
  Result<std::vector<AppliedMigration>> List(bool with_scripts);

  /// The rows without their scripts, in storage order (usually but not
  /// always version order), each passed to `on_row` in one reused object:
  /// for a caller that keeps a little of each row (status with thousands).
  /// No other query may run on this connection during the scan.
  Status Scan(const std::function<Status(const AppliedMigration&)>& on_row);

  /// One row with its scripts, or nullopt.
  Result<std::optional<AppliedMigration>> Get(int64_t version);

  Status Insert(const AppliedMigration& row);
  /// The statement Insert() runs, for a caller that batches it with others.
  BatchStatement InsertStatement(const AppliedMigration& row) const;
  /// The statement Remove() runs.
  BatchStatement RemoveStatement(int64_t version) const;
  /// What is known of a migration only once it has run.
  struct Outcome {
    int64_t version = 0;
    int64_t duration_ms = 0;
    std::string schema_before;  // hex; "" = as inserted
    std::string schema_after;   // hex
    std::string checks;        // "" = as inserted
  };
  /// Records several outcomes in one statement per few hundred rows.
  Status SetOutcomes(const std::vector<Outcome>& outcomes);
  Status MarkApplied(int64_t version, int64_t duration_ms);
  /// Marks an applied migration in progress again: its no-transaction
  /// rollback is about to run, and what stops it part-way stays visible.
  Status MarkInProgress(int64_t version);
  Status RecordError(int64_t version, const std::string& error);
  Status SetSchemaAfter(int64_t version, const std::string& hash);
  /// Writes the newest row again, unchanged, in a transaction of its own
  /// that waits for the disk: commits before it that did not wait
  /// (Database::NoWaitCommitSql) are durable once it returns.
  Status Sync();
  Status Remove(int64_t version);
  /// Stores the engine's current schema cookie on `version`'s row (nothing
  /// where the engine has none): the schema is now that row's schema_after.
  Status RecordSchemaCookie(int64_t version);
  /// The engine's current schema cookie ("" where it has none).
  Result<std::string> SchemaCookie();

 private:
  Status ScanRows(bool with_scripts, const std::function<Status(std::span<const CellView>)>& on_row);

  Database& db_;
  std::string insert_sql_;
};

/// A time as history writes it, UTC, ISO 8601 with milliseconds:
/// 2026-11-28T10:37:59.123Z (so later times sort later as text).
std::string FormatUtc(std::chrono::system_clock::time_point time);
/// FormatUtc of now.
std::string NowUtc();

}  // namespace strata
