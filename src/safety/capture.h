// Capture: what a destructive statement removes, kept so a rollback loses
// nothing (DESIGN.md guarantee 4).
//
// Before a statement that removes or rewrites data of a table that existed
// before the migration (drop table, drop column, alter column type, delete,
// update, truncate, insert-or-replace), the rows or values it will change are
// copied, inside the migration's own transaction, into a table of Strata's
// own (strata_capture_<version>_<n>). The SQL that puts them back is written
// at the same time and stored in history; a rollback runs it after the down
// script has recreated the structure, then drops the capture table.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "sql/classify.h"
#include "sql/lexer.h"
#include "strata/database.h"

namespace strata {

struct Capture {
  std::string table;                // the capture table
  std::vector<std::string> before;  // run just before the statement
  std::vector<std::string> restore; // run after the down script, in order
  std::string drop;                 // removes the capture table
  /// The table (name before the migration) whose whole contents the
  /// restore replaces, "" when it puts back only some rows or values.
  std::string replaces;
  /// A query of what the restore writes over, by the names the table has
  /// after the statement: the captured values' cells, or the rows holding a
  /// deleted row's key or unique values. Hashed as the migration leaves
  /// them and again before a rollback: a difference means the application
  /// wrote them since. "" when the restore writes only where the down
  /// script rebuilt (a dropped column) or replaces the table whole.
  std::string probe;
  /// The table the probe reads, by its name before the migration: when a
  /// later statement renames it away the probe no longer reads, and the
  /// table's data as the migration left it stands in.
  std::string probed_table;
  // For messages: what the restore puts back ("values of users.tags"), and
  // what a change in the probe means.
  std::string probed, probe_changed;
  /// For a probe of captured values, a finer comparison than its hash: once
  /// the migration has run, `keep` (after `unkeep`) copies the cells it
  /// reads, by row, into a table of Strata's; `changed_rows` then counts the
  /// rows still there whose cells differ from that copy. A row deleted since
  /// is not written by the restore and does not count. The restore drops
  /// the copy. Empty for other probes.
  std::string keep, unkeep, changed_rows;
  /// PostgreSQL, a column retyped (ALTER COLUMN ... TYPE): deletes from the
  /// capture, once the migration has run, the rows whose captured cells the
  /// retype left as they were, read as text (varchar(64) to text, an enum
  /// swapped for one with more values): nothing of theirs to put back, and
  /// what the application writes to them afterwards stays its own. Empty
  /// for other captures.
  std::string prune;
  /// For captured values of a table with a key: which rows and columns the
  /// statement changes. The rest are the application's (or were there
  /// before), so a rollback after it wrote to the table holds the down
  /// script to leaving them as they are (and to deleting none of the rows
  /// the statement changed: their captured values go back into them).
  /// `where` holds of the rows the statement left alone, on the table read
  /// as t; `key_now` and `columns` name the key's columns and the captured
  /// ones as at the statement; `key` names the key for messages; the
  /// rollback copies the table into `copy_table`.
  struct Untouched {
    std::string where, key, copy_table;
    std::vector<std::string> key_now, columns;
  };
  std::optional<Untouched> untouched;
  /// For a table put back whole (`replaces`) by its primary key: what lets
  /// a rollback keep the rows the application wrote since, when the down
  /// script copies the table's rows back itself (a rebuild's down script).
  /// The restore leaves alone the keys listed in the temporary table
  /// `since` (a name, unquoted, as `left` is; with strata_present 0 for a
  /// row deleted since), which every
  /// rollback makes: `since_empty` makes it empty. `keep` copies the table
  /// as the migration left it into `left` (once it has run; `unkeep` drops
  /// the copy, with the capture), which a rollback compares with the table
  /// to find the keys written since. `key`: the key columns' names.
  struct Merge {
    std::string since, since_empty, left, keep, unkeep;
    std::vector<std::string> key;
  };
  std::optional<Merge> merge;
  /// The table (name before the migration) whose captured rows or values go
  /// back by SQLite's rowid, having no primary key: a row written since may
  /// hold a captured row's rowid (reused after a delete, renumbered by
  /// VACUUM), so a rollback after writes to it is refused. "" otherwise.
  std::string by_rowid;
};

/// The tables a migration's statements act on, as the statements before
/// each one leave them, with the names they had before the migration. A
/// capture selects by the names of its moment (a table renamed earlier in
/// the migration, a column renamed or dropped) and restores by the old ones,
/// which the rollback's down script has brought back.
class TableTracker {
 public:
  struct Column {
    std::string now;
    std::string before;  // "" when the migration added it
  };
  struct Table {
    std::string schema;  // as the statement that first named it qualified it
    std::string before;  // the table's name before the migration
    std::vector<Column> columns;
    std::vector<std::string> key;  // primary key columns, names before
    std::vector<std::vector<std::string>> unique;  // other unique keys, names before
    /// Columns (names before) captured as text, with the type a restore
    /// casts them back to (Database::ListUserTypedColumns).
    std::map<std::string, std::string> types;
    /// Columns (names before) declared NOT NULL, where the engine can set
    /// that again after a rollback put a dropped one's values back
    /// (Database::ListNotNullColumns).
    std::vector<std::string> not_null = {};
    /// Columns (names before) an UPDATE may not assign: a table put back
    /// whole leaves them as they are (Database::ListIdentityAlwaysColumns).
    std::vector<std::string> identity_always = {};
  };

  explicit TableTracker(Database& db) : db_(db) {}

  /// What the table called `name` at this point of the migration was before
  /// it; nullptr when the migration created it or there is no such table.
  Result<const Table*> Find(const std::string& schema, const std::string& name) {
    STRATA_ASSIGN_OR_RETURN(Table* t, Load(schema, name));
    return static_cast<const Table*>(t);
  }
  /// Learns what a statement did to names and columns; call it after the
  /// statement's capture is planned.
  Status After(const sql::StatementInfo& info);
  /// Whether `name` is a view the migration created or renamed (not yet
  /// under that name in the database when captures are planned).
  bool KnownView(const std::string& name) const { return views_.count(Key(name)) > 0; }

 private:
  /// A view (the migration's, or one in the database) renamed to `new_name`.
  Status RenameView(const std::string& name, const std::string& new_name);
  std::string Key(std::string_view name) const;
  bool Same(std::string_view a, std::string_view b) const { return Key(a) == Key(b); }
  Result<Table*> Load(const std::string& schema, const std::string& name);

  Database& db_;
  /// By Key(name now); nullopt: created by the migration, dropped or renamed away.
  std::map<std::string, std::optional<Table>> tables_;
  std::optional<std::string> managed_;  // Database::ManagedSchema, once asked
  std::set<std::string> views_;  // by Key: created or renamed by the migration, not dropped since
};

/// Why a destructive statement on a table of `schema`, not the managed one,
/// is refused, and what to do.
std::string OutsideSchemaRefusal(const sql::StatementInfo& info, const std::string& schema);

/// Why a destructive statement can never be captured, whatever the
/// database holds (a DROP TABLE of several tables, a statement of a kind
/// Strata has no capture for): PlanCapture refuses it so, and validate and
/// `up --dry-run` say so beforehand. nullopt otherwise.
std::optional<std::string> NeverCapturable(const sql::StatementInfo& info);

/// Plans the capture for one statement, at its place in the migration as
/// `tables` knows it. nullopt when the statement removes nothing that
/// existed before the migration (not destructive, or its table is created by
/// the migration itself). kIrreversible when it removes data Strata cannot
/// capture; the message says why and what to do.
Result<std::optional<Capture>> PlanCapture(Database& db, TableTracker& tables,
                                           std::string_view statement,
                                           const sql::StatementInfo& info, int64_t version,
                                           int sequence);

/// The prefix of every capture table, for finalize to find them.
std::string CaptureTablePrefix(int64_t version);

}  // namespace strata
