// Classifying one SQL statement: what it does, to which object, and whether
// it destroys data. Used to derive inverses and to decide what to capture
// before a destructive statement runs. Purely lexical: it reads the leading
// keywords and names, not a full grammar, and never fails; what it does not
// recognise is kOther.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sql/dialect.h"

namespace strata::sql {

enum class StatementKind {
  kCreateTable, kCreateIndex, kCreateView, kCreateTrigger, kCreateSequence, kCreateSchema,
  kCreateType, kCreateFunction, kCreateExtension, kAddColumn, kRenameTable, kRenameColumn,
  kDropTable, kDropColumn, kDropIndex, kDropView, kDropTrigger, kDropOther, kAlterColumnType,
  kAlterOther, kInsert, kUpdate, kDelete, kTruncate, kSelect, kTransactionControl, kOther
};

/// A possibly schema-qualified name, unquoted.
struct ObjectName {
  std::string schema;  // "" when not qualified
  std::string name;
};

/// A column an ALTER TABLE adds, whatever its other actions.
struct AddedColumn {
  std::string name;
  bool fills = false;  // the rows already there get a value: a default (not NULL), generated, serial
  bool if_not_exists = false;
};

/// A column an ALTER TABLE gives a new type (PostgreSQL's ALTER COLUMN c TYPE t).
struct Retype {
  std::string column;
  std::string type;        // as written, e.g. "numeric(10, 2)"
  std::string using_expr;  // the USING expression as written; "" for the default conversion
};

/// Names are unquoted as the engine reads them: "Users" -> Users; a bare
/// Users -> users in PostgreSQL and Users in SQLite (case-insensitive there).
struct StatementInfo {
  StatementKind kind = StatementKind::kOther;
  std::string schema;        // "" when not qualified
  std::string object;        // the created/dropped/altered object (for table statements, the table)
  std::string table;         // the table acted on (indexes, triggers, columns, DML)
  std::string column;        // add/drop/rename column, alter column type: the first column
  std::string new_name;      // rename target (kAlterOther: a view's, ALTER VIEW .. RENAME TO)
  std::string where_clause;  // UPDATE/DELETE: text after the top-level WHERE ("" = every row)
  std::string alias;         // UPDATE/DELETE/INSERT: the table's alias, if any
  /// UPDATE/DELETE/INSERT/MERGE after read-only common table expressions:
  /// the `WITH ...` before it, which where_clause may name.
  std::string with_clause;
  /// kAddColumn, kDropColumn, kAlterColumnType: every column, in order
  /// (a PostgreSQL ALTER TABLE may have several actions of the same kind).
  /// kUpdate: the columns it assigns (SET a = .., (b, c) = ..), as the
  /// engine reads their names; empty when the statement does not read as
  /// expected (then any column may change).
  std::vector<std::string> columns;
  /// ALTER TABLE: the columns its ADD COLUMN actions add, also among other
  /// kinds of action (ADD COLUMN a, ADD CONSTRAINT ...: kAlterOther).
  std::vector<AddedColumn> added;
  /// ALTER TABLE: the columns its ALTER COLUMN ... TYPE actions retype, also
  /// among other kinds of action.
  std::vector<Retype> retyped;
  /// DROP/TRUNCATE: every object named, in order; the first is also in schema/object.
  std::vector<ObjectName> objects;
  bool if_exists = false, if_not_exists = false, or_replace = false, concurrently = false,
       temporary = false;
  bool materialized = false;  // CREATE/DROP/ALTER MATERIALIZED VIEW
  bool from_query = false;    // CREATE TABLE ... AS query: the new table has rows
  bool destructive = false;   // removes or rewrites existing data
  bool cascade = false;       // TRUNCATE ... CASCADE: empties the tables that reference it too;
                              // ALTER TABLE .. DROP CONSTRAINT .. CASCADE: drops their foreign keys;
                              // DROP ... CASCADE: drops what depends on the objects
  std::string dropped_kind;   // kDropOther: what it drops ("type", "schema", "function", ...)
  /// SQLite's REPLACE conflict resolution (INSERT OR REPLACE, REPLACE INTO,
  /// UPDATE OR REPLACE): deletes the rows its new values collide with.
  bool deletes_colliding = false;
  /// An INSERT that updates rows too (ON CONFLICT DO UPDATE, MERGE's WHEN ..
  /// THEN UPDATE), or deletes some (MERGE's THEN DELETE): the foreign key
  /// actions of an UPDATE or DELETE reach from it.
  bool updates_rows = false, deletes_rows = false;
  /// SQLite INSERT OR ..., REPLACE INTO, UPDATE OR ...: the statement's own
  /// conflict resolution, which overrides the one in the table's definition.
  bool own_conflict_clause = false;
  std::string summary;        // e.g. "drops column users.email"
  /// kOther: the tables a PostgreSQL DO block's body names after UPDATE,
  /// DELETE FROM, INSERT INTO or TRUNCATE (what it may write; found by
  /// reading the body, so a name built at run time is not seen).
  std::vector<std::string> writes;
  /// kInsert: the names in its FROM and JOIN lists (the tables an INSERT
  /// .. SELECT copies from, and their aliases).
  std::vector<std::string> reads;
  /// Of `writes`: those whose rows it may change or remove (UPDATE, DELETE,
  /// TRUNCATE, a REPLACE or upsert), not only add to (INSERT).
  std::vector<std::string> rewrites;
  /// A body (routine, DO block) that EXECUTEs a statement changing or
  /// removing rows of a table named only at run time (format('DELETE FROM
  /// %I', ...), 'UPDATE ' || t), or a statement built from no literal.
  bool dynamic_rewrites = false;
  /// The tables a body (DO block) renames (RENAME TO): {new name, old
  /// name}. Strata follows no rename in a body: what the body, or a later
  /// statement, then does to the rows under the new name is not captured.
  std::vector<std::pair<std::string, std::string>> body_renames;
  /// The columns a body renames (RENAME [COLUMN] .. TO). A capture by a
  /// later statement names the column as it is then, which the down script
  /// renames back before the captured values are put back.
  struct ColumnRename {
    std::string table, to, from;
  };
  std::vector<ColumnRename> body_column_renames;
  /// A trigger function that EXECUTEs such a statement on the table it
  /// fires on (TG_TABLE_NAME): a soft delete's UPDATE of its own row.
  bool rewrites_trigger_table = false;
  /// Set beside dynamic_rewrites by the migrator when it is not the
  /// statement's own body: the routine (or trigger) that does it.
  std::string dynamic_in;
  /// Of a body's rewrites (routine, DO block), those named with a schema
  /// (DELETE FROM audit.t): another schema's are not captured.
  std::vector<ObjectName> qualified_rewrites;
  /// A body (routine, DO block) that runs DDL (CREATE, ALTER, DROP), itself
  /// or through EXECUTE: a call of it changes the schema beyond the tables
  /// it names (a partition helper).
  bool body_ddl = false;
  /// A body's calls of other routines (names before a parenthesis; the
  /// keywords, tables and types among them name no routine).
  std::vector<std::string> calls;
  /// CREATE TRIGGER: the events it fires on (Database::TriggerEvent bits:
  /// 1 INSERT, 2 UPDATE, 4 DELETE) and the tables whose rows the DML of its
  /// body (SQLite's BEGIN ... END) may change or remove, as `rewrites` (an
  /// INSERT into an audit trail only adds); not in `writes`, which says
  /// what the statement itself writes.
  unsigned trigger_events = 0;
  std::vector<std::string> trigger_rewrites;
  std::string trigger_function;  // PostgreSQL: EXECUTE FUNCTION f() names f
  std::vector<std::string> trigger_columns;  // UPDATE OF a, b: fires only when one is assigned
  /// Names that were written quoted; generated SQL quotes them again.
  std::vector<std::string> quoted_names;
};

/// Classifies one statement as SplitStatements returns it (no trailing ';').
///
/// ALTER TABLE with several comma-separated actions (PostgreSQL): when all
/// add columns, or all drop columns, or all change column types, the kind is
/// that of the action and `columns` lists them; otherwise kAlterOther,
/// destructive when any action drops or retypes a column. WITH with read-only
/// common table expressions is the statement they feed (with_clause set);
/// otherwise WITH ... is kOther, destructive when it deletes or updates rows.
StatementInfo Classify(std::string_view statement, Dialect dialect);

/// SQLite: for `CREATE VIRTUAL TABLE .. USING fts..(.., content=X)`, X as
/// written ("'history'": an index of that table's text; "''": a contentless
/// one, its text only in the index); nullopt for any other statement or
/// without a content option.
std::optional<std::string> FullTextContentOption(std::string_view create);

}  // namespace strata::sql
