// Migrator: applies, reports on and rolls back a directory of migrations.
//
// Guarantees (DESIGN.md): each migration is atomic together with its history
// row; its down script is stored at apply time; one run at a time holds the
// database's migration lock. Not thread-safe: one Migrator per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/database.h"
#include "strata/status.h"

namespace strata {

struct Migration;
struct AppliedMigration;

struct AppliedMigration;  // history/history.h
class History;

struct MigratorOptions {
  std::string database_url;  // empty: file-only commands still work
  std::string migrations_dir = "migrations";
  std::string actor;         // empty: STRATA_ACTOR, else the OS user
  std::chrono::milliseconds lock_timeout{10'000};
  /// How long a migration's statements wait for another session's lock
  /// when its scripts have no `-- strata:lock-timeout` (0: no limit).
  std::chrono::milliseconds statement_lock_timeout{0};
  /// Retention of captured data: at the end of `up`, migrations applied at
  /// least this long ago are finalized (their capture tables dropped, and
  /// reported in RunReport::finalized). Unset: only `strata finalize` does it.
  std::optional<std::chrono::milliseconds> finalize_after;
  /// A SQLite file that is not there is made (for `up`); otherwise opening
  /// fails rather than leave an empty database behind a mistyped path.
  bool create_database = false;
  /// Run on each connection the migrator opens (the run's and the lock's)
  /// right after connecting. Rehearsal waives waiting for the disk on its
  /// throw-away copy with it.
  std::string session_sql;
  /// Values of Flyway's `${name}` placeholders ([placeholders] in
  /// strata.toml), replaced in the scripts of a Flyway directory; the
  /// built-in flyway:* ones are filled unless given here.
  std::map<std::string, std::string> placeholders;
};

/// Something the migrator did or is about to do, for the caller to show.
struct Event {
  enum class Kind { kWaitingForLock, kApplying, kApplied, kRollingBack, kRolledBack, kFailed };
  Kind kind;
  int64_t version = 0;
  std::string id;       // "0003_add_orders"
  int64_t duration_ms = 0;
  std::string detail;
};
using EventHandler = std::function<void(const Event&)>;

enum class MigrationState {
  kApplied,      // applied, file unchanged
  kPending,      // file present, not applied
  kOutOfOrder,   // pending, but a later version is already applied
  kChanged,      // applied, and the file's checksum no longer matches
  kMissingFile,  // applied, and its up file is gone
  kInProgress,   // a no-transaction migration that started and did not finish
};
const char* MigrationStateName(MigrationState state);

struct MigrationStatus {
  int64_t version = 0;
  std::string id;
  MigrationState state = MigrationState::kPending;
  std::string applied_at, applied_by;  // when applied
  int64_t duration_ms = 0;
  std::string down_source;  // applied: "file", "derived" or "none"; pending: what it would be
  /// Applied with --allow-irreversible and a change that ran without its
  /// capture: its down script (if any) is no way back.
  bool irreversible = false;
  std::string finalized_at;  // applied: when `finalize` released its captured data ("" = not)
  std::string checksum;     // applied: of the up script as applied
  std::string file_id;      // applied: its file's name now, when renamed since (else "")
  std::string diff;         // kChanged: what changed in the file since it was applied
  std::string error;        // kInProgress: the last failure
};

struct StatusReport {
  std::string database;  // redacted
  std::vector<MigrationStatus> migrations;
  /// Non-empty when the live schema differs from what history says it should
  /// be (the schema hash recorded after the newest applied migration): someone
  /// changed the schema outside Strata.
  std::string drift;
  /// Non-empty when the SQLite file is not there yet (nothing applied; only
  /// `up` makes it).
  std::string note;
  /// Who holds the migration lock (a run in progress), "" when nobody. The
  /// schema is then not checked for drift: it is changing, and reading it
  /// would wait for the migration's table locks.
  std::string running;
  int Count(MigrationState state) const;
};

struct PlanStep {
  int64_t version = 0;
  std::string id;
  std::string script;       // the SQL that will run (up, or the stored down)
  std::string down_source;  // up: "file", "derived" or "none"
  std::string down_script;  // up: the way back that will be stored
  /// down: what puts back the data captured at apply time, after `script`
  /// ("" when nothing was captured).
  std::string restore_script;
  bool no_transaction = false;
  /// How many statements run: those of `script` less a BEGIN/COMMIT wrapper.
  size_t statements = 0;
  /// How many of the script's own transaction statements (BEGIN, COMMIT)
  /// are left out: it runs in the transaction Strata opens for it.
  size_t left_out = 0;
};

struct RunReport {
  std::vector<PlanStep> plan;
  int completed = 0;
  /// Migrations whose captured data `up` released under finalize_after.
  std::vector<std::string> finalized;
  /// up: why the schema differed, before it applied anything, from what
  /// history recorded after the newest migration (a change made outside
  /// Strata, which history now records as part of the schema); "" when not.
  std::string drift;
};

struct BaselineReport {
  std::vector<std::string> recorded;  // the ids recorded as applied, in order
  /// Tables the schema check left out: another migration tool's history
  /// table ("schema_migrations", "flyway_schema_history") the database has
  /// and the migrations do not create.
  std::vector<std::string> left_out;
};

struct UpOptions {
  std::optional<int64_t> to = std::nullopt;  // apply pending versions <= to
  bool dry_run = false;
  bool allow_irreversible = false;
  bool allow_out_of_order = false;
  /// Apply even when an applied migration's file is gone (deleted, or a
  /// checkout without it); otherwise that is a conflict.
  bool allow_missing = false;
  /// When not empty: apply exactly these versions (each must be pending),
  /// in version order, out of order or not, and no other. Restoring to a
  /// migration boundary re-applies what history had applied this way.
  std::vector<int64_t> only = {};
  /// Versions that may be applied without a way back (history recorded that
  /// someone accepted it), as allow_irreversible does for all.
  std::vector<int64_t> irreversible_accepted = {};
  /// Called once, under the lock, before the first migration is applied (not
  /// on a dry run, nor when nothing is pending): takes a restoration point
  /// and returns its id, which history records for each migration of the run.
  /// An error stops the run before anything is applied.
  std::function<Result<std::string>()> before_apply = nullptr;
  /// Rehearsal: statement N (1-based) of each migration applied is replaced
  /// by one that fails, to prove the migration leaves no trace when it does.
  std::optional<size_t> inject_failure_at = std::nullopt;
};

struct DownOptions {
  std::optional<int> steps = std::nullopt;   // default 1 when `to` is not given
  std::optional<int64_t> to = std::nullopt;  // roll back every applied version > to
  bool dry_run = false;
  /// Put back tables captured whole even when they were written to since
  /// their migration (those writes are lost); without it such a rollback
  /// is refused (kVerifyFailed).
  bool discard_later_writes = false;
  /// The rollback rehearses one in a sandbox (`strata rehearse`): a failure
  /// says to fix the down file and rehearse again, not how to store the
  /// file in the history of a target where the migration is pending.
  bool rehearsal = false;
};

/// A finding of `validate`: an error (code != kOk) or a warning.
struct Finding {
  Code code = Code::kOk;  // kOk for warnings
  std::string message;
};

class Migrator {
 public:
  /// Loads the migrations directory and, when a URL is given, connects.
  /// A directory that fails to load fails status, up and validate, not down.
  static Result<std::unique_ptr<Migrator>> Open(const MigratorOptions& options);
  ~Migrator();

  /// The applied and pending migrations, who is running, and drift.
  Result<StatusReport> GetStatus();
  Result<RunReport> Up(const UpOptions& options, const EventHandler& on_event = nullptr);
  Result<RunReport> Down(const DownOptions& options, const EventHandler& on_event = nullptr);
  /// Checks every file (names, SQL, directives, reversibility) and, with a
  /// database, that applied files are unchanged. A pending migration with no
  /// way back is an error, or with `allow_irreversible` a warning (as `up`
  /// would apply it with that flag).
  /// Without a database the files are read as `engine`'s SQL (default:
  /// SQLite's; FilesEngine guesses).
  Result<std::vector<Finding>> Validate(bool allow_irreversible = false,
                                        std::optional<Engine> engine = std::nullopt);
  /// The engine whose SQL the files read as, for `validate` without a
  /// database: PostgreSQL when they use more of what only it has (`::`
  /// casts, dollar quotes, ADD CONSTRAINT, CREATE TYPE ..) than of what only
  /// SQLite has (AUTOINCREMENT, PRAGMA, WITHOUT ROWID ..); the reason, some
  /// of what was found.
  Result<std::pair<Engine, std::string>> FilesEngine();
  /// Settles a migration left in progress by an interrupted no-transaction
  /// run, after the user has checked the database: `applied` keeps it as
  /// applied, otherwise its history row is removed. Unless `unchecked`, the
  /// database must agree first: the tables, columns and indexes the up script
  /// creates exist (applied) or do not (rolled back), and no index is left
  /// invalid by an interrupted CREATE INDEX CONCURRENTLY. Applied: history
  /// records the database as it is now as what the migration left (a
  /// rollback's checks compare later writes with it). Rolled back: the
  /// tables the run saved rows into before its destructive statements are
  /// kept under new names (strata_resolved_V_N), which it returns.
  Result<std::vector<std::string>> Resolve(int64_t version, bool applied, bool unchecked = false);
  /// Accepts the changes made to applied migration `version`'s up file since
  /// it was applied (a comment, a reformat): history takes the file's
  /// checksum and text; the down script stored at apply time stays. Returns
  /// the diff accepted.
  Result<std::string> AcceptChangedFile(int64_t version);
  /// Adopts a database that already holds what the migrations up to
  /// `version` create (it was built before Strata managed it): each of
  /// those migrations is recorded as applied without running it, with no
  /// way back below `version`. History must be empty. Unless `unchecked`,
  /// they are first applied to an empty sandbox beside the database and the
  /// two schemas must be equal (kVerifyFailed naming the differences).
  /// The history table of the tool that built the database (dbmate's,
  /// golang-migrate's or Flyway's) is left out of that comparison when the
  /// migrations do not create it.
  Result<BaselineReport> Baseline(int64_t version, bool unchecked = false);
  /// Declares the applied migrations up to `version` that captured data
  /// final: that data is dropped, and they can no longer be rolled back.
  /// Returns the ids finalized.
  Result<std::vector<std::string>> Finalize(int64_t version);
  /// The tables whose data now differs from what a migration's recorded
  /// `checks` (its history row's) say it was just before that migration was
  /// applied (the tables it touched that existed then): after putting a
  /// state back by re-applying migrations, what that state does not hold as
  /// it was. Empty when it all matches or nothing was recorded.
  Result<std::vector<std::string>> DataUnlikeBefore(const std::string& checks);
  /// The same against what the checks say the migration left (the tables it
  /// touched, as it ended): after re-applying it as the newest.
  Result<std::vector<std::string>> DataUnlikeAfter(const std::string& checks);
  /// Each table of the managed schema and the fingerprint of its rows now,
  /// to compare two states of the database with.
  Result<std::map<std::string, std::string>> DataHashes();
  /// The tables whose data a migration's recorded `checks` cover, by their
  /// names before it.
  static std::vector<std::string> TablesTouched(const std::string& checks);

  /// The migration files (empty when the directory did not load).
  const std::vector<Migration>& migrations() {
    Loaded().IgnoreError();
    return *migrations_;
  }
  Database* database() { return db_.get(); }

 private:
  Result<std::vector<std::string>> DataUnlike(const std::string& checks, bool after);
  Migrator(MigratorOptions options, std::future<Result<std::vector<Migration>>> loading,
           std::unique_ptr<Database> db);
  class Run;

  /// Waits for the files to load (once); why they did not, if they did not.
  Status Loaded();
  /// GetStatus; `check_drift` false leaves out drift and the lock holder
  /// (up and validate need only the migrations' states).
  Result<StatusReport> ReadStatus(bool check_drift);

  /// Drops one applied migration's capture tables and marks it final.
  Status FinalizeOne(const AppliedMigration& migration);
  /// Whether `migration` (with its scripts) is applied, not final, and a
  /// capture of it holds a row: what finalizing it would release.
  Result<bool> HoldsDataToRelease(const AppliedMigration& migration);
  /// Finalizes the migrations with captured data applied at least
  /// options_.finalize_after ago (none when unset); returns their ids.
  Result<std::vector<std::string>> FinalizeExpired(History& history);
  /// kUnavailable when the SQLite file is not there (see missing_file_).
  Status FileIsThere() const;

  MigratorOptions options_;
  std::future<Result<std::vector<Migration>>> loading_;  // the files, read in the background
  std::unique_ptr<std::vector<Migration>> migrations_;
  std::unique_ptr<Database> db_;
  /// The SQLite file that is not there (db_ is then an empty in-memory
  /// database standing for it, so that status and plans read "nothing
  /// applied" without making the file).
  std::string missing_file_;
  Status load_status_;  // why the migrations directory did not load, if it did not
};

}  // namespace strata
