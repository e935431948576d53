// Database: the one seam between Strata and a database engine.
//
// Everything above this interface (history, migrator, CLI) is engine-agnostic:
// it speaks through these calls and asks the engine for its SQL dialect where
// statements differ. Implementations: engine/sqlite (libsqlite3) and
// engine/postgres (libpq). A Database is one connection and is not
// thread-safe; open one per thread.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/status.h"
#include "strata/value.h"

namespace strata {

enum class Engine { kSqlite, kPostgres };

const char* EngineName(Engine engine);

/// Who is running strata, stored in the lock and in history.
struct LockOwner {
  std::string actor;
  std::string host;
  int pid = 0;
  std::string since;  // UTC, ISO 8601
};

/// Outcome of one attempt to take the migration lock.
struct LockAttempt {
  bool acquired = false;
  std::string holder;  // when not acquired: who holds it, for the user
};

/// One cell of a streamed row, borrowed from the engine.
struct CellView {
  Value::Type type = Value::Type::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string_view bytes;  // text or blob
};

/// The cell as an owned Value.
Value ToValue(const CellView& cell);

/// A statement of a batch, with its parameters ($1, $2, ...).
struct BatchStatement {
  std::string_view sql;
  std::vector<Value> params;
};

struct BatchResult {
  Status status;
  size_t failed = 0;  // index of the failing statement when !status.ok()
  /// How long the batch ran, as the server timed it (-1: not timed).
  int64_t server_ms = -1;
  /// SendBatch's: it did not run, as one sent before it failed (or the
  /// connection did).
  bool not_run = false;
};

/// The outcome of a batch sent after one that failed: it did not run.
BatchResult NotRunBatch();

/// How a migration step is made atomic with its history row.
enum class StepAtomicity {
  kSavepoint,    // a savepoint inside the run's transaction: commits are dear (SQLite syncs the disk)
  kTransaction,  // a transaction of its own: savepoints are dear (PostgreSQL subtransactions)
};

class Database {
 public:
  virtual ~Database() = default;

  virtual Engine engine() const = 0;
  virtual StepAtomicity step_atomicity() const = 0;

  /// The target, safe to print: any password is redacted.
  virtual std::string Describe() const = 0;

  /// Runs one SQL statement and discards any rows.
  virtual Status Exec(std::string_view sql) = 0;

  /// Runs one SQL statement with parameters `$1`, `$2`, ... bound to `params`
  /// and returns all rows.
  virtual Result<Rows> Query(std::string_view sql,
                             const std::vector<Value>& params = {}) = 0;

  /// Query for Strata's own fixed statements whose result columns cannot
  /// change (catalog reads): the engine may prepare each text once per
  /// connection and reuse its plan. Not for statements that name user tables.
  virtual Result<Rows> QueryFixed(std::string_view sql, const std::vector<Value>& params = {}) {
    return Query(sql, params);
  }

  /// QueryFixed for each of `queries` in order, stopping at the first
  /// failure, in as few round trips as the engine allows (PostgreSQL
  /// pipelines them: one round trip for the lot). A statement without rows
  /// (BEGIN, SET LOCAL) gives empty Rows. On failure an open transaction is in
  /// error until rolled back (to a savepoint), as after a failed QueryFixed.
  virtual Result<std::vector<Rows>> QueryFixedBatch(const std::vector<BatchStatement>& queries);

  /// Bounds how long each following statement may run; zero removes the bound.
  /// A statement over the bound fails with a message naming the timeout.
  /// Streams the rows of one query to `on_row` without holding them all in
  /// memory. The cells are borrowed: valid only during the call. A non-ok
  /// Status from `on_row` stops the query and is returned.
  virtual Status ForEachRow(std::string_view sql, const std::vector<Value>& params,
                            const std::function<Status(std::span<const CellView>)>& on_row) = 0;

  /// Runs `statements` in order, stopping at the first failure, in as few
  /// round trips as the engine allows (PostgreSQL pipelines them). On
  /// failure, `failed` is the index of the statement that failed, and an open
  /// transaction is in error until rolled back (to a savepoint).
  /// REQUIRES: a transaction is open, or the batch opens one (BEGIN first):
  /// PostgreSQL would otherwise run the batch as one implicit transaction.
  virtual BatchResult ExecBatch(const std::vector<BatchStatement>& statements);

  /// Runs `statements` as ExecBatch does, but where the engine can
  /// (PostgreSQL) returns before they end: batches sent while one runs wait
  /// and go out together, so the server goes from one to the next without
  /// waiting for the caller. Each must open and end a transaction of its own
  /// (BEGIN ... COMMIT). A batch after one that fails does not run. Any other
  /// call on the connection first waits for every batch sent.
  virtual void SendBatch(const std::vector<BatchStatement>& statements);
  /// The outcome of the oldest batch sent and not yet taken, waiting for it;
  /// one that did not run because an earlier one failed says so (kInternal).
  virtual BatchResult TakeBatch();
  /// Whether TakeBatch would return without waiting.
  virtual bool BatchDone() { return !sent_outcomes_.empty(); }

  virtual Status SetStatementTimeout(std::chrono::milliseconds timeout) = 0;
  /// How long a statement waits for a lock another session holds before
  /// failing (kLocked); 0: the engine's default (PostgreSQL: as long as it
  /// takes; SQLite: its busy timeout, 5 s).
  virtual Status SetLockTimeout(std::chrono::milliseconds timeout) = 0;

  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
  virtual bool InTransaction() const = 0;

  Status Savepoint(std::string_view name);
  Status ReleaseSavepoint(std::string_view name);
  Status RollbackToSavepoint(std::string_view name);

  /// Tries once to take the process-wide migration lock for this database.
  /// PostgreSQL: a session advisory lock held by this connection, released
  /// when it closes. SQLite: a row in strata_lock, judged stale when its
  /// owner process is gone.
  virtual Result<LockAttempt> TryLock(const LockOwner& owner) = 0;
  virtual Status Unlock() = 0;
  /// Who holds the migration lock, other than this connection ("" when
  /// nobody), without taking it or waiting.
  virtual Result<std::string> LockHolder() = 0;

  /// The schema of the table a statement names as `schema`.`table` (no
  /// schema: the one the engine finds), when that is not the managed schema
  /// Strata captures, checks and snapshots; "" when it is (or no such table).
  virtual Result<std::string> OutsideSchema(std::string_view schema, std::string_view table) = 0;

  /// The name of the managed schema (SQLite: "main"; PostgreSQL: the
  /// connection's current schema). kInvalidArgument, saying what to do, when
  /// there is none, so nowhere to keep strata_history (PostgreSQL: the URL's
  /// search_path names no schema that exists yet).
  virtual Result<std::string> ManagedSchema() { return std::string("main"); }

  /// Names of the user's tables in the managed schema, sorted; Strata's own
  /// tables (strata_*) are left out.
  virtual Result<std::vector<std::string>> ListTables() = 0;
  virtual Result<bool> TableExists(std::string_view table) = 0;
  /// Column names of `table` in their declared order.
  virtual Result<std::vector<std::string>> ListColumns(std::string_view table) = 0;

  /// A SQL expression for the engine's current log position, recorded with
  /// each migration for point-in-time recovery ('' where there is none).
  virtual std::string_view LogPositionSql() const { return "''"; }
  /// An expression for a migration's applied_at given the client's clock as
  /// text parameter `param` ("$8"): the server's clock where the server is
  /// elsewhere (PostgreSQL: the time a point-in-time recovery goes by), the
  /// client's otherwise. UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ".
  virtual std::string AppliedAtSql(std::string_view param) const { return std::string(param); }

  /// A SQL expression whose value changes whenever the schema changes
  /// ("" where the engine has no cheap one). SQLite: the schema cookie.
  virtual std::string_view SchemaCookieSql() const { return {}; }

  /// A statement that opens every migration step, inside its transaction
  /// ("" for none). PostgreSQL: a transaction-level advisory lock, so that a
  /// new run waits for a step whose client died to finish on the server.
  virtual std::string_view StepGuardSql() const { return {}; }

  /// A statement that lets the COMMIT of the transaction it runs in return
  /// before the commit is on disk ("" for none). PostgreSQL: SET LOCAL
  /// synchronous_commit = off. The transaction stays atomic; a server crash
  /// in the next moment can lose it whole, and the next commit that does
  /// wait for the disk makes it durable too (the log is written in order).
  virtual std::string_view NoWaitCommitSql() const { return {}; }

  /// Puts back the connection settings a migration may change for the rest
  /// of the session, as they were when Strata connected: SQLite's
  /// foreign_keys, legacy_alter_table and recursive_triggers pragmas;
  /// PostgreSQL's search_path, role and session_replication_role.
  /// The statements that do it (each one statement), for a transaction;
  /// ResetSession runs them.
  virtual const std::vector<std::string>& ResetSessionSql() const {
    static const std::vector<std::string> none;
    return none;
  }
  /// Statements that run Strata's own capture statements, inside a
  /// migration whose earlier statements changed the session, as if they had
  /// not (`first`: before them), then give the migration its settings back
  /// (`second`: after them). PostgreSQL: a search_path naming no schema
  /// (a pg_dump header empties it), where the capture tables could not be
  /// created, gives way to the connection's. None on SQLite.
  virtual std::pair<std::vector<std::string>, std::vector<std::string>> AroundCaptureSql() const {
    return {};
  }
  Status ResetSession() {
    for (const std::string& sql : ResetSessionSql()) STRATA_RETURN_IF_ERROR(Exec(sql));
    return Status::OK();
  }

  /// The primary key columns of `table` in key order; empty when it has none.
  virtual Result<std::vector<std::string>> ListPrimaryKey(std::string_view table) = 0;
  /// The generated columns of `table` (computed from others: the database
  /// fills them, and refuses values for them).
  virtual Result<std::vector<std::string>> ListGeneratedColumns(std::string_view table) = 0;
  /// The columns of each unique constraint or unique index of `table` other
  /// than the primary key, in index order; indexes on expressions and
  /// partial ones are left out.
  virtual Result<std::vector<std::vector<std::string>>> ListUniqueKeys(std::string_view table) = 0;
  /// The columns of `table` whose type is not one of the engine's own
  /// (PostgreSQL: an enum, domain, composite or range type, an extension's
  /// type such as citext, or an array of one), each with that type's
  /// schema-qualified name ("public"."role", "public"."role"[]). A capture
  /// keeps their values as text, so that it depends on no type a migration
  /// may drop (an enum swap moves the column to a new type and drops the
  /// old one), and casts them back to that type on restore, once the down
  /// script has made it again. None on SQLite, whose types are affinities.
  virtual Result<std::map<std::string, std::string>> ListUserTypedColumns(std::string_view /*table*/) {
    return std::map<std::string, std::string>{};
  }
  /// The columns of `table` declared NOT NULL where the engine can set that
  /// on a column afterwards (ALTER COLUMN ... SET NOT NULL). A dropped one
  /// comes back NOT NULL once a rollback has put its values back: its down
  /// script cannot add it so, while its rows hold no value yet. None on
  /// SQLite, which cannot.
  virtual Result<std::vector<std::string>> ListNotNullColumns(std::string_view /*table*/) {
    return std::vector<std::string>{};
  }

  /// The other sessions holding locks on `tables` (all tables when empty),
  /// one line each for a user who must end them or wait them out: who, what
  /// they are doing, since when, which of the tables. Empty where the engine
  /// keeps no such record (SQLite names its writer in its busy error).
  virtual Result<std::vector<std::string>> LockHoldersOn(const std::vector<std::string>& /*tables*/) {
    return std::vector<std::string>{};
  }
  /// While on, a read (Query, QueryFixed, QueryFixedBatch, ForEachRow) that
  /// fails inside a transaction leaves the transaction usable, for reads
  /// whose failure the caller passes over. PostgreSQL aborts a transaction
  /// on any error, so there each read runs under a savepoint; SQLite needs
  /// nothing.
  virtual void KeepTransactionOnReadErrors(bool /*on*/) {}
  /// Keeps other sessions from writing to `tables` (quoted names, as
  /// QuoteIdent gives them, schema-qualified or not) until the transaction
  /// ends, while they may still read them; names of no table are passed
  /// over. Waits as long as the lock timeout allows. Nothing to do where the
  /// transaction keeps every other writer out already (SQLite's BEGIN IMMEDIATE).
  virtual Status LockAgainstWrites(const std::vector<std::string>& /*tables*/) {
    return Status::OK();
  }
  /// The statement that, run in a transaction, does what LockAgainstWrites
  /// does for one table that exists then (`table` quoted); "" where the
  /// transaction keeps other writers out already.
  virtual std::string LockAgainstWritesSql(const std::string& /*table*/) const { return {}; }
  /// The statement that takes every privilege on `table` (quoted), one of
  /// Strata's own just made, from all roles but its owner: the schema's
  /// default privileges give its new tables to the application's roles,
  /// and Strata's hold captured values (a dropped column's, rows a policy
  /// hides) and the scripts a rollback runs. "" where there are no roles.
  virtual std::string RevokeFromOthersSql(const std::string& /*table*/) const { return {}; }
  /// The columns of `table` that an UPDATE may not assign a value to:
  /// PostgreSQL's GENERATED ALWAYS AS IDENTITY. None on SQLite.
  virtual Result<std::vector<std::string>> ListIdentityAlwaysColumns(std::string_view /*table*/) {
    return std::vector<std::string>{};
  }
  /// Whether `table` has an enabled BEFORE UPDATE row trigger of the user's,
  /// which may write columns an UPDATE does not assign (updated_at = now());
  /// SQLite: an UPDATE trigger that updates or deletes rows (an AFTER
  /// UPDATE one sets updated_at).
  virtual Result<bool> HasBeforeUpdateTriggers(std::string_view /*table*/) { return false; }
  /// How rows of a table go away or change, for CascadingChildren.
  enum class RowChange {
    kDelete,           // DELETE: ON DELETE actions
    kUpdate,           // UPDATE of keys: ON UPDATE actions
    kTruncateCascade,  // PostgreSQL TRUNCATE ... CASCADE: every referencing table is emptied
  };
  /// The tables whose rows the engine changes itself when rows of `table`
  /// change as `change` says: foreign keys with ON DELETE / ON UPDATE
  /// CASCADE, SET NULL or SET DEFAULT, or (TRUNCATE ... CASCADE) every
  /// foreign key whatever its action, one level deep.
  /// `enforced`: whether foreign keys act (nullopt: as they do on this
  /// connection now; see ForeignKeysAfter). `assigned` (kUpdate): the
  /// columns of `table` the UPDATE assigns, when known; only foreign keys
  /// referencing one of them (or a generated column) act.
  virtual Result<std::vector<std::string>> CascadingChildren(
      std::string_view table, RowChange change, std::optional<bool> enforced,
      const std::vector<std::string>* assigned = nullptr) = 0;
  /// The definitions (CREATE FUNCTION/PROCEDURE text) of the routines
  /// named `names` outside the system schemas, as pairs of name and
  /// definition, for reading what a call to one writes. None on SQLite.
  virtual Result<std::vector<std::pair<std::string, std::string>>> RoutineDefinitions(
      const std::vector<std::string>& /*names*/) {
    return std::vector<std::pair<std::string, std::string>>{};
  }
  /// The triggers on table `name` (enabled, not the engine's own), for
  /// reading what the DML that fires them writes to other tables. SQLite:
  /// each CREATE TRIGGER statement (events 0: the statement says them);
  /// PostgreSQL: the definition (CREATE FUNCTION text) of each trigger's
  /// function, with the events it fires on as TriggerEvent bits.
  enum TriggerEvent : unsigned { kOnInsert = 1, kOnUpdate = 2, kOnDelete = 4 };
  struct TriggerSource {
    unsigned events = 0;
    std::string definition;
    std::vector<std::string> columns;  // PostgreSQL's UPDATE OF columns (none: any)
    bool enabled = true;  // PostgreSQL: ALTER TABLE .. DISABLE TRIGGER makes it false
  };
  virtual Result<std::vector<TriggerSource>> TriggersOn(std::string_view /*name*/) {
    return std::vector<TriggerSource>{};
  }
  /// Whether `name` is a view of the managed schema: writing to it writes
  /// the tables under it (PostgreSQL's updatable views, INSTEAD OF triggers).
  virtual Result<bool> IsView(std::string_view /*name*/) { return false; }
  /// Whether table `name` has rules (PostgreSQL's CREATE RULE) that rewrite
  /// an UPDATE or DELETE of it into statements on other tables. None on SQLite.
  virtual Result<bool> HasRewriteRules(std::string_view /*name*/) { return false; }
  /// Whether a type (or domain) `name` (as SQL: quoted as needed, maybe
  /// schema-qualified) exists. None on SQLite.
  virtual Result<bool> TypeExists(std::string_view /*name*/) { return false; }
  /// Whether anything (a trigger, a default, a view, an index, a constraint,
  /// another routine) depends on a function or procedure named `name` (in
  /// `schema`, or the search path when ""), so that dropping it with
  /// CASCADE drops more: any of its overloads counts. None on SQLite.
  virtual Result<bool> RoutineHasDependents(std::string_view /*schema*/, std::string_view /*name*/) {
    return false;
  }
  /// What a write through `name` reaches, when it is a view: the tables under
  /// it when the engine writes them itself (PostgreSQL's automatically
  /// updatable views), or `by_triggers` when the view's own INSTEAD OF
  /// triggers or rules do the writing (what they write is not known).
  struct ViewWrites {
    bool view = false;
    bool by_triggers = false;
    std::vector<std::string> tables;
  };
  virtual Result<ViewWrites> WritesThroughView(std::string_view name) {
    ViewWrites w;
    STRATA_ASSIGN_OR_RETURN(w.view, IsView(name));
    w.by_triggers = w.view;  // only INSTEAD OF triggers make a view writable
    return w;
  }
  /// Whether a plain INSERT or UPDATE of `table` (one without a conflict
  /// clause of its own) deletes the rows its new values collide with, as
  /// SQLite's `UNIQUE` / `PRIMARY KEY ... ON CONFLICT REPLACE` in the table's
  /// definition makes it. False where the engine has no such thing.
  virtual Result<bool> ReplacesOnConflict(std::string_view /*table*/) { return false; }
  /// The tables that inherit from `table` (PostgreSQL INHERITS; not its
  /// partitions, whose rows go back through the parent), qualified.
  virtual Result<std::vector<std::string>> InheritingTables(std::string_view /*table*/) {
    return std::vector<std::string>{};
  }
  /// Whether foreign keys act once `statement` has run, when it says
  /// (SQLite: `PRAGMA foreign_keys = ON`); nullopt when it does not.
  virtual std::optional<bool> ForeignKeysAfter(std::string_view /*statement*/) const {
    return std::nullopt;
  }

  /// Indexes of the managed schema the engine keeps but does not use: on
  /// PostgreSQL, those an interrupted CREATE INDEX CONCURRENTLY left INVALID.
  /// None where indexes are built atomically (SQLite).
  virtual Result<std::vector<std::string>> ListInvalidIndexes() { return std::vector<std::string>{}; }

  /// A stable row identity for tables without a primary key ("rowid" on
  /// SQLite), or "" where the engine has none that survives updates.
  virtual std::string_view RowIdColumn() const { return {}; }

  /// Written between INSERT's column list and its SELECT when putting rows
  /// back, so identity columns keep their values ("" where not needed).
  virtual std::string_view InsertOverridingSql() const { return {}; }

  /// After rows were put back into `table` (quoted, maybe schema-qualified)
  /// with their own key values: statements that move the sequences behind
  /// its serial and identity columns past them, so the next insert does not
  /// collide (a table a down script created again starts its sequence at 1).
  /// None where the engine keeps up by itself (SQLite).
  virtual std::vector<std::string> AdvanceSequencesSql(std::string_view table) const {
    (void)table;
    return {};
  }

  /// Around the UPDATE that puts a dropped or retyped column's values back
  /// into `table` (quoted, maybe schema-qualified): `pause` turns off the
  /// table's enabled user triggers, `resume` turns those back on as they
  /// were, so the restore fires none, as the drop or type change fired none
  /// (an updated_at trigger would stamp every row). SQLite, which cannot
  /// disable a trigger, drops those of the table that update or delete rows
  /// and creates them again, inside the rollback's transaction (outside one
  /// they fire); one that only inserts (a full-text index kept in step)
  /// fires.
  struct TriggerPauseSql {
    std::vector<std::string> pause, resume;
  };
  virtual TriggerPauseSql PauseTriggersSql(std::string_view /*table*/) const { return {}; }

  /// Keeping a table's key counter across a whole-table capture and restore:
  /// `save` runs before the capture (into a new table named `saved`),
  /// `restore` after the rows are back, so that the keys of rows deleted
  /// before the migration are not handed out again. SQLite: the
  /// AUTOINCREMENT counter in sqlite_sequence; PostgreSQL: the positions of
  /// the table's serial and identity sequences (restored after
  /// AdvanceSequencesSql, never below it). None where there is no such counter.
  /// `now` is the table's name when the capture is taken, `before` the one
  /// its rows are put back under (the migration may have renamed it: SQLite
  /// renames its counter with it, and a new table may hold the old name).
  struct KeyCounterSql {
    std::vector<std::string> save, restore;
  };
  virtual Result<KeyCounterSql> KeyCounter(std::string_view /*now*/, std::string_view /*before*/,
                                           std::string_view /*saved*/) {
    return KeyCounterSql{};
  }

  /// Keeping the positions of the sequences a statement drops (`sequences`,
  /// quoted and maybe schema-qualified): `save` into a new table named
  /// `saved` before it runs, `restore` once the down script has created them
  /// again (one it did not create is left alone). Empty where the engine has
  /// no sequences (SQLite).
  virtual KeyCounterSql SequencePositions(const std::vector<std::string>& /*sequences*/,
                                          std::string_view /*saved*/) {
    return KeyCounterSql{};
  }

  /// Quotes an identifier for this engine.
  virtual std::string QuoteIdent(std::string_view ident) const;

 protected:
  /// Rows of (key, column) in order, as lists of columns per key; a key
  /// with a NULL column (an expression) is left out.
  static std::vector<std::vector<std::string>> GroupKeys(const Rows& rows);

 private:
  std::deque<BatchResult> sent_outcomes_;  // SendBatch's, as ExecBatch ran them
};

/// Connects to the database named by `url`:
///   sqlite:path, sqlite://path, sqlite::memory:, or a path ending in .db/.sqlite
///   postgres://user:pass@host:port/db?params, postgresql://...
/// With `create` false a SQLite file that is not there is an error (kUnavailable)
/// instead of a new, empty database: only `up` (and restores) make one.
Result<std::unique_ptr<Database>> OpenDatabase(std::string_view url, bool create = true);

/// Runs `body` inside a transaction: commit when it returns ok, roll back otherwise.
template <typename F>
Status InTransaction(Database& db, F&& body) {
  STRATA_RETURN_IF_ERROR(db.Begin());
  Status s = body();
  if (!s.ok()) {
    db.Rollback().IgnoreError();
    return s;
  }
  return db.Commit();
}

}  // namespace strata
