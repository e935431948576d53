#include "safety/capture.h"

#include <algorithm>

#include <fmt/format.h>

#include "sql/lexer.h"
#include "util/text.h"

namespace strata {
namespace {

using sql::StatementKind;

constexpr const char* kRowIdAlias = "strata_rowid";

sql::Dialect DialectOf(const Database& db) {
  return db.engine() == Engine::kPostgres ? sql::Dialect::kPostgres : sql::Dialect::kSqlite;
}

/// True when a statement has the word `word` outside parentheses: an UPDATE
/// with FROM or a DELETE with USING, whose WHERE may name other tables.
bool HasTopLevelWord(const std::vector<sql::Token>& tokens, std::string_view word) {
  int depth = 0;
  for (const auto& t : tokens) {
    if (t.IsPunct('(')) ++depth;
    if (t.IsPunct(')')) --depth;
    if (depth == 0 && t.IsWord(word)) return true;
  }
  return false;
}

/// The FROM list of an UPDATE's `tokens` (UPDATE t SET .. FROM a, b
/// WHERE ..): its text in `statement`, up to the top-level WHERE or
/// RETURNING; nullopt without one.
std::optional<std::string> TopLevelFromList(const std::vector<sql::Token>& tokens, std::string_view statement) {
  int depth = 0;
  std::optional<size_t> begin;
  size_t end = statement.size();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const sql::Token& t = tokens[i];
    if (t.IsPunct('(')) ++depth;
    if (t.IsPunct(')')) --depth;
    if (depth != 0) continue;
    // Not the FROM of `SET a = b IS DISTINCT FROM c`.
    if (!begin && t.IsWord("from") && (i == 0 || !tokens[i - 1].IsWord("distinct"))) {
      begin = t.end();
    } else if (begin && (t.IsWord("where") || t.IsWord("returning") || t.IsPunct(';'))) {
      end = t.offset;
      break;
    }
  }
  if (!begin || *begin >= end) return std::nullopt;
  return std::string(Trim(statement.substr(*begin, end - *begin)));
}

/// The tokens of `statement` from its UPDATE or DELETE on: a WITH before
/// it (`with_clause`) left out, so that what follows reads as without one.
Result<std::vector<sql::Token>> MainTokens(std::string_view statement, sql::Dialect dialect,
                                           bool with_clause) {
  STRATA_ASSIGN_OR_RETURN(std::vector<sql::Token> tokens, sql::Tokenize(statement, dialect));
  if (!with_clause) return tokens;
  int depth = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].IsPunct('(')) ++depth;
    if (tokens[i].IsPunct(')')) --depth;
    if (depth == 0 && (tokens[i].IsWord("update") || tokens[i].IsWord("delete"))) {
      tokens.erase(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  return tokens;
}

/// Whether assigning `column` of SQLite table `t` sets its rowid: `rowid`,
/// `_rowid_` or `oid` where no declared column has that name. The rowid is the
/// key rows are matched back by (an INTEGER PRIMARY KEY is an alias of it),
/// so such an UPDATE moves rows as one assigning the key does.
bool AssignsRowid(const TableTracker::Table& t, const std::string& column, sql::Dialect dialect) {
  if (dialect != sql::Dialect::kSqlite) return false;
  std::string name = AsciiLower(column);
  if (name != "rowid" && name != "_rowid_" && name != "oid") return false;
  return std::none_of(t.columns.begin(), t.columns.end(),
                      [&](const auto& c) { return AsciiLower(c.now) == name; });
}


std::string Join(const std::vector<std::string>& parts, std::string_view sep = ", ") {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

/// Builds the SQL of one capture for a table that exists before the
/// migration: its rows are selected by the names of the moment, as the names
/// they had before, and put back under those.
class Planner {
 public:
  Planner(Database& db, const sql::StatementInfo& info, const TableTracker::Table& table,
          const std::string& name_now, int64_t version, int sequence)
      : db_(db), info_(info), table_(table), name_now_(name_now) {
    capture_.table = fmt::format("{}{}", CaptureTablePrefix(version), sequence);
    cap_ = db_.QuoteIdent(capture_.table);
    now_ = Qualified(info.schema, name_now);
    target_ = Qualified(table.schema, table.before);
    capture_.drop = "DROP TABLE " + cap_;
  }

  /// Every row: restored by deleting the rows whose key is not among them,
  /// updating those whose values differ and inserting those that are
  /// missing, matched by key (or SQLite's rowid).
  /// Rows the down script already put back as they were are left alone, so
  /// their triggers do not fire (an audit trail, an append-only guard) and
  /// no foreign key action reaches their children. A table with neither is
  /// emptied and filled again.
  Result<Capture> WholeTable() {
    STRATA_ASSIGN_OR_RETURN(Database::KeyCounterSql counter,
                            db_.KeyCounter(name_now_, table_.before, capture_.table + "_counter"));
    capture_.before = counter.save;
    capture_.before.push_back(fmt::format("CREATE TABLE {} AS SELECT {} FROM {}", cap_,
                                          SelectAll(now_ + "."), now_));
    const std::string c = "strata_c";
    auto equal = [&](const std::string& captured, const std::string& target) {
      return DialectOf(db_) == sql::Dialect::kPostgres
                 ? fmt::format("{}::text IS NOT DISTINCT FROM {}::text", captured, target)
                 : fmt::format("{} IS {}", captured, target);
    };
    // The key: its column in the capture and in the table.
    std::vector<std::pair<std::string, std::string>> key;
    if (ByRowId()) {
      key.emplace_back(kRowIdAlias, std::string(db_.RowIdColumn()));
    }
    bool keyed = !table_.key.empty() || !key.empty();
    for (const auto& k : table_.key) {
      keyed = keyed && std::any_of(table_.columns.begin(), table_.columns.end(),
                                   [&](const auto& col) { return col.before == k; });
      key.emplace_back(db_.QuoteIdent(k), db_.QuoteIdent(k));
    }
    std::vector<std::string> key_columns, key_pairs, same;  // "captured = target" conditions
    std::vector<std::string> set;  // the other columns, from the captured row
    const std::vector<std::string>& always = table_.identity_always;  // not assignable
    for (const auto& [captured, column] : key) {
      key_columns.push_back(captured);
      key_pairs.push_back(fmt::format("{} = {}.{}", Back(c + "." + captured, column), target_, column));
    }
    for (const auto& col : table_.columns) {
      if (col.before.empty()) continue;
      const std::string name = db_.QuoteIdent(col.before);
      same.push_back(equal(c + "." + name, target_ + "." + name));
      if (std::find(table_.key.begin(), table_.key.end(), col.before) == table_.key.end() &&
          std::find(always.begin(), always.end(), col.before) == always.end()) {
        set.push_back(fmt::format("{} = {}", name, Back(c + "." + name, col.before)));
      }
    }
    // Keys the rollback keeps the down script's rows of (Capture::Merge).
    std::string unwritten_target, unwritten_captured;
    if (!table_.key.empty() && keyed) {
      Capture::Merge& m = capture_.merge.emplace();
      m.since = capture_.table + "_since";
      m.left = capture_.table + "_left";
      const std::string since = db_.QuoteIdent(m.since), left = db_.QuoteIdent(m.left);
      m.key = table_.key;
      std::vector<std::string> keys, at_target, at_captured;
      const bool pg = DialectOf(db_) == sql::Dialect::kPostgres;
      for (const auto& k : table_.key) {
        const std::string name = db_.QuoteIdent(k);
        keys.push_back(name);
        // As text on PostgreSQL: the down script may give the key another
        // type; a SQLite key may hold a NULL (IS).
        at_target.push_back(pg ? fmt::format("s.{0}::text = {1}.{0}::text", name, target_)
                               : fmt::format("s.{0} IS {1}.{0}", name, target_));
        at_captured.push_back(pg ? fmt::format("s.{0}::text = {1}.{0}::text", name, c)
                                 : fmt::format("s.{0} IS {1}.{0}", name, c));
      }
      m.since_empty = fmt::format("CREATE TEMP TABLE {} AS SELECT {}, 1 AS strata_present FROM {} WHERE false",
                                  since, Join(keys), cap_);
      // Indexed by key: the rollback looks each row of the table up in it.
      m.keep = fmt::format("CREATE TABLE {0} AS SELECT * FROM {1}; CREATE INDEX {2} ON {0} ({3})", left,
                           target_, db_.QuoteIdent(capture_.table + "_left_key"), Join(keys));
      if (std::string revoke = db_.RevokeFromOthersSql(left); !revoke.empty()) m.keep += "; " + revoke;
      m.unkeep = "DROP TABLE IF EXISTS " + left;
      unwritten_target = fmt::format(" AND NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})", since,
                                     Join(at_target, " AND "));
      unwritten_captured = fmt::format(" AND NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})", since,
                                       Join(at_captured, " AND "));
    }
    if (!keyed) {
      capture_.restore.push_back("DELETE FROM " + target_);
      capture_.restore.push_back(Insert(/*upsert=*/false));
    } else {
      // Matched row by row: without an index on the captured key that is
      // quadratic on SQLite.
      capture_.restore.push_back(fmt::format("CREATE INDEX {} ON {} ({})",
                                             db_.QuoteIdent(capture_.table + "_key"), cap_,
                                             Join(key_columns)));
      // A row whose key was captured is updated in place, not deleted and
      // inserted again: deleting it would fire the ON DELETE actions of the
      // foreign keys that reference it (CASCADE deletes their rows).
      capture_.restore.push_back(fmt::format("DELETE FROM {} WHERE NOT EXISTS (SELECT 1 FROM {} AS {} WHERE {}){}",
                                             target_, cap_, c, Join(key_pairs, " AND "), unwritten_target));
      if (!set.empty()) {
        capture_.restore.push_back(fmt::format("UPDATE {} SET {} FROM {} AS {} WHERE {} AND NOT ({}){}",
                                               target_, Join(set), cap_, c, Join(key_pairs, " AND "),
                                               Join(same, " AND "), unwritten_target));
      }
      capture_.restore.push_back(fmt::format("{} AS {} WHERE NOT EXISTS (SELECT 1 FROM {} WHERE {}){}",
                                             Insert(/*upsert=*/false), c, target_,
                                             Join(key_pairs, " AND "), unwritten_captured));
    }
    // The table's own triggers stay still while its rows are put back (a
    // stamp would change them, an audit trigger log them): the statements
    // that removed them fired none of them on the way back.
    PauseTriggersAroundRestore();
    for (const std::string& sql : db_.AdvanceSequencesSql(target_)) capture_.restore.push_back(sql);
    for (std::string& sql : counter.restore) capture_.restore.push_back(std::move(sql));
    capture_.restore.push_back(capture_.drop);
    if (capture_.merge) capture_.restore.push_back(capture_.merge->unkeep);
    capture_.replaces = table_.before;
    return capture_;
  }

  /// The common table expressions the statement's WHERE clause may name,
  /// before the SELECT that captures the rows it matches ("" when none).
  std::string With() const { return info_.with_clause.empty() ? "" : info_.with_clause + " "; }

  /// The rows a DELETE removes: inserted back, replacing any row of the
  /// same primary key, and any other row that holds one of their unique
  /// values (a down script that inserted "the same" row again, under a new
  /// key: the captured row is the one that was there).
  Capture DeletedRows(const std::string& where) {
    MarkIfByRowId();
    std::string from = info_.alias.empty() ? now_ : now_ + " AS " + db_.QuoteIdent(info_.alias);
    std::string prefix = (info_.alias.empty() ? now_ : db_.QuoteIdent(info_.alias)) + ".";
    capture_.before.push_back(fmt::format("CREATE TABLE {} AS {}SELECT {} FROM {} WHERE {}", cap_,
                                          With(), SelectAll(prefix), from, where));
    if (!table_.key.empty()) {
      std::string key = Tuple(table_.key);
      for (const auto& unique : table_.unique) {
        std::string values = Tuple(unique);
        capture_.restore.push_back(fmt::format(
            "DELETE FROM {} WHERE {} IN (SELECT {} FROM {}) AND {} NOT IN (SELECT {} FROM {})",
            target_, values, Join(Backs(cap_, unique)), cap_, key, Join(Backs(cap_, table_.key)),
            cap_));
      }
    }
    capture_.restore.push_back(Insert(/*upsert=*/!table_.key.empty()));
    // As for a table put back whole, its own triggers stay still: a BEFORE
    // INSERT stamp would change the rows put back (the rollback check then
    // failed), an AFTER INSERT one write other tables (which nothing checked).
    PauseTriggersAroundRestore();
    capture_.restore.push_back(capture_.drop);
    if (!table_.key.empty()) {
      // The rows the restore would overwrite or delete: empty as the
      // migration leaves the table (but for a seed's, below), unless the
      // application wrote them since.
      std::vector<std::string> holds;
      for (const auto& names : Keys()) {
        std::vector<std::string> now = Of("t", NowNames(names));
        // Compared as captured: as text, whatever type the column has now.
        for (size_t i = 0; i < now.size(); ++i) now[i] = AsText(now[i], names[i]);
        holds.push_back(fmt::format("({}) IN (SELECT {} FROM {})", Join(now),
                                    Join(Of(cap_, names)), cap_));
      }
      // Whole rows: a row the migration left there (deleted and inserted
      // again, or one a seed's DELETE in the down script takes) changed
      // since is a write the restore would undo.
      capture_.probe = fmt::format("SELECT t.* FROM {} AS t WHERE {}", now_, Join(holds, " OR "));
      capture_.probed = "deleted rows of " + table_.before;
      capture_.probed_table = table_.before;
      capture_.probe_changed = "the application wrote rows with their keys";
    }
    return capture_;
  }

  /// Values of `columns` (names now; empty: every column but the key) of
  /// the rows matching `where` ("" = all): put back by key.
  Result<Capture> Values(const std::vector<std::string>& columns, const std::string& where) {
    MarkIfByRowId();
    std::vector<const TableTracker::Column*> known;  // columns the migration did not add itself
    for (const auto& c : table_.columns) {
      if (c.before.empty()) continue;
      bool named = columns.empty()
                       ? std::find(table_.key.begin(), table_.key.end(), c.before) == table_.key.end()
                       : std::any_of(columns.begin(), columns.end(), [&](const std::string& n) {
                           return SameName(n, c.now);
                         });
      if (named) known.push_back(&c);
    }
    if (known.empty()) return capture_;  // nothing that existed before is changed
    std::string from = now_, prefix = now_ + ".";
    if (!where.empty() && !info_.alias.empty()) {
      from += " AS " + db_.QuoteIdent(info_.alias);
      prefix = db_.QuoteIdent(info_.alias) + ".";
    }
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> select, KeySelect(prefix));
    std::vector<std::string> set, match, same;
    // The capture's alias in the restore: a name a user's table does not
    // have (a table named s made `UPDATE s .. FROM capture AS s` ambiguous).
    const std::string captured = "strata_c";
    for (const auto* c : known) {
      select.push_back(As(prefix, *c));
      const std::string name = db_.QuoteIdent(c->before);
      set.push_back(fmt::format("{} = {}", name, Back(captured + "." + name, c->before)));
      same.push_back(SameValue(captured + "." + name, target_ + "." + name));
    }
    capture_.before.push_back(fmt::format("CREATE TABLE {} AS {}SELECT {} FROM {}{}", cap_,
                                          where.empty() ? "" : With(), Join(select), from,
                                          where.empty() ? "" : " WHERE " + where));
    if (table_.key.empty()) {
      match.push_back(
          fmt::format("{}.{} = {}.{}", target_, db_.RowIdColumn(), captured, kRowIdAlias));
    } else {
      for (const auto& k : table_.key) {
        match.push_back(fmt::format("{}.{} = {}", target_, db_.QuoteIdent(k),
                                    Back(captured + "." + db_.QuoteIdent(k), k)));
      }
    }
    // Rows whose values are back already (a NULL the down script's ADD
    // COLUMN left) are not written: their update triggers do not fire.
    capture_.restore.push_back(fmt::format("UPDATE {} SET {} FROM {} AS {} WHERE {} AND NOT ({})",
                                           target_, Join(set), cap_, captured,
                                           Join(match, " AND "), Join(same, " AND ")));
    capture_.restore.push_back(capture_.drop);
    // The captured cells as they are now, by row.
    std::vector<std::string> cells, same_row, names;
    if (table_.key.empty()) {
      cells.push_back("s." + std::string(kRowIdAlias));
      same_row.push_back(fmt::format("t.{} = s.{}", db_.RowIdColumn(), kRowIdAlias));
    } else {
      for (const auto& k : table_.key) {
        cells.push_back("s." + db_.QuoteIdent(k));
        same_row.push_back(fmt::format("{} = s.{}", AsText("t." + db_.QuoteIdent(NowName(k)), k),
                                       db_.QuoteIdent(k)));
      }
    }
    for (const auto* c : known) {
      cells.push_back("t." + db_.QuoteIdent(c->now));
      names.push_back(table_.before + "." + c->before);
    }
    const std::string probed_rows =
        fmt::format("FROM {} AS t JOIN {} AS s ON {}", now_, cap_, Join(same_row, " AND "));
    capture_.probe = fmt::format("SELECT {} {}", Join(cells), probed_rows);
    capture_.probed = "values of " + Join(names);
    capture_.probed_table = table_.before;
    capture_.probe_changed = "the application changed some of them";
    // The copy: the key cells as strata_kN, the captured cells as strata_vN
    // (on PostgreSQL as text, compared so: a column of the table's type
    // would keep the down script from dropping that type).
    const std::string kept = db_.QuoteIdent(capture_.table + "_after");
    const size_t keys = cells.size() - known.size();
    const bool as_text = DialectOf(db_) == sql::Dialect::kPostgres;
    std::vector<std::string> named, same_key, same_cells;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string as = i < keys ? fmt::format("strata_k{}", i + 1) : fmt::format("strata_v{}", i - keys + 1);
      named.push_back(cells[i] + (i >= keys && as_text ? "::text" : "") + " AS " + as);
      if (i < keys) {
        same_key.push_back(fmt::format("k.{} = {}", as, cells[i]));
      } else {
        same_cells.push_back(SameValue("k." + as, cells[i]));
      }
    }
    // Only where the text is the value, before and after: strings and enum
    // labels (an enum or a domain is captured as text). Not numbers: 0.1 as
    // float8 and as real read alike and are not the same value, and the
    // down script's cast back does not go through text.
    std::vector<std::string> unchanged = same_row, typed;
    for (const auto* c : known) {
      unchanged.push_back(SameValue("s." + db_.QuoteIdent(c->before), "t." + db_.QuoteIdent(c->now)));
      typed.push_back(fmt::format("(a.attrelid = {}::regclass AND a.attname = {})", SqlLiteral(cap_),
                                    SqlLiteral(c->before)));
      typed.push_back(fmt::format("(a.attrelid = {}::regclass AND a.attname = {})", SqlLiteral(now_),
                                    SqlLiteral(c->now)));
    }
    capture_.prune = fmt::format(
        "DELETE FROM {} AS s WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a JOIN "
        "pg_catalog.pg_type ty ON ty.oid = a.atttypid WHERE ({}) AND ty.typcategory NOT IN ('S', 'E')) "
        "AND EXISTS (SELECT 1 FROM {} AS t WHERE {})",
        cap_, Join(typed, " OR "), now_, Join(unchanged, " AND "));
    capture_.unkeep = "DROP TABLE IF EXISTS " + kept;
    capture_.keep = fmt::format("CREATE TABLE {} AS SELECT {} {}", kept, Join(named), probed_rows);
    if (std::string revoke = db_.RevokeFromOthersSql(kept); !revoke.empty()) capture_.keep += "; " + revoke;
    capture_.changed_rows =
        fmt::format("SELECT count(*) {} JOIN {} AS k ON {} WHERE NOT ({})", probed_rows, kept,
                    Join(same_key, " AND "), Join(same_cells, " AND "));
    capture_.restore.push_back(capture_.unkeep);
    if (!table_.key.empty()) {
      Capture::Untouched& u = capture_.untouched.emplace();
      u.where = fmt::format("NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})", cap_, Join(same_row, " AND "));
      u.key = Join(table_.key);
      u.copy_table = capture_.table + "_untouched";
      for (const auto& k : table_.key) u.key_now.push_back(NowName(k));
      for (const auto* c : known) u.columns.push_back(c->now);
    }
    return capture_;
  }

  /// The columns (names now) that existed before the migration and an
  /// UPDATE may assign: neither key nor identity ALWAYS.
  std::vector<std::string> AssignableColumns() const {
    std::vector<std::string> out;
    const auto& key = table_.key;
    const auto& always = table_.identity_always;
    for (const auto& c : table_.columns) {
      if (!c.before.empty() && std::find(key.begin(), key.end(), c.before) == key.end() &&
          std::find(always.begin(), always.end(), c.before) == always.end()) {
        out.push_back(c.now);
      }
    }
    return out;
  }

  /// Pauses the table's triggers around the restore's statements so far
  /// (PostgreSQL; SQLite cannot pause a trigger).
  void PauseTriggersAroundRestore() {
    Database::TriggerPauseSql sql = db_.PauseTriggersSql(target_);
    capture_.restore.insert(capture_.restore.begin(), sql.pause.begin(), sql.pause.end());
    capture_.restore.insert(capture_.restore.end(), sql.resume.begin(), sql.resume.end());
  }

  /// Pauses the table's triggers around the UPDATE that Values() put first
  /// in `c.restore`: the drop or type change it undoes fired none, so
  /// putting the values back fires none either (an updated_at trigger would
  /// stamp every row, and the rollback check would fail).
  void WithoutTriggers(Capture& c) const {
    Database::TriggerPauseSql sql = db_.PauseTriggersSql(target_);
    c.restore.insert(c.restore.begin() + 1, sql.resume.begin(), sql.resume.end());
    c.restore.insert(c.restore.begin(), sql.pause.begin(), sql.pause.end());
  }

  /// Of `dropped` (names now), those that were NOT NULL are set so again
  /// once their values are back, before the capture table goes: the down
  /// script adds such a column without NOT NULL, as its rows hold no value
  /// until the restore (adding it NOT NULL fails on a table with rows).
  void NotNullAgain(const std::vector<std::string>& dropped, Capture& c) const {
    for (const auto& col : table_.columns) {
      if (col.before.empty() ||
          std::find(table_.not_null.begin(), table_.not_null.end(), col.before) ==
              table_.not_null.end() ||
          std::none_of(dropped.begin(), dropped.end(),
                       [&](const std::string& n) { return SameName(n, col.now); })) {
        continue;
      }
      c.restore.insert(c.restore.end() - 1,
                       fmt::format("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL", target_,
                                   db_.QuoteIdent(col.before)));
    }
  }

 private:
  std::string Qualified(const std::string& schema, const std::string& name) const {
    return (schema.empty() ? "" : db_.QuoteIdent(schema) + ".") + db_.QuoteIdent(name);
  }

  std::vector<std::string> Quoted(const std::vector<std::string>& names) const {
    std::vector<std::string> out;
    for (const auto& n : names) out.push_back(db_.QuoteIdent(n));
    return out;
  }
  /// The columns qualified by `table`, so that a name the table lacks is an
  /// error rather than the outer query's column.
  std::vector<std::string> Of(const std::string& table, const std::vector<std::string>& names) const {
    std::vector<std::string> out = Quoted(names);
    for (auto& n : out) n = table + "." + n;
    return out;
  }

  /// The name column `before` has at this statement.
  std::string NowName(const std::string& before) const {
    for (const auto& c : table_.columns) {
      if (c.before == before) return c.now;
    }
    return before;
  }
  std::vector<std::string> NowNames(const std::vector<std::string>& before) const {
    std::vector<std::string> out;
    for (const auto& b : before) out.push_back(NowName(b));
    return out;
  }
  /// The primary key, then the other unique keys (names before).
  std::vector<std::vector<std::string>> Keys() const {
    std::vector<std::vector<std::string>> out = {table_.key};
    out.insert(out.end(), table_.unique.begin(), table_.unique.end());
    return out;
  }

  /// "(a, b)": a row value of these columns of the target.
  std::string Tuple(const std::vector<std::string>& names) const {
    return "(" + Join(Quoted(names)) + ")";
  }

  bool SameName(std::string_view a, std::string_view b) const {
    return sql::NameKey(a, DialectOf(db_)) == sql::NameKey(b, DialectOf(db_));
  }

  /// `prefix`"now" AS "before", or just the name when it did not change;
  /// as text when its type is not the engine's own (see Back).
  std::string As(const std::string& prefix, const TableTracker::Column& c) const {
    std::string now = AsText(prefix + db_.QuoteIdent(c.now), c.before);
    return c.now == c.before && !table_.types.count(c.before)
               ? now
               : now + " AS " + db_.QuoteIdent(c.before);
  }

  /// A captured value of column `before`, as the table holds it: a value
  /// of a type that is not the engine's own (an enum, a domain, ...) was
  /// captured as text, so that the capture table does not depend on a type
  /// the migration may drop, and is cast back to the type the column had
  /// before the migration (the down script made it again by then).
  std::string Back(const std::string& captured, const std::string& before) const {
    auto it = table_.types.find(before);
    return it == table_.types.end() ? captured : captured + "::" + it->second;
  }
  /// A captured value equals the table's: as text on PostgreSQL (the
  /// capture may hold it as text), of the same storage class on SQLite.
  std::string SameValue(const std::string& captured, const std::string& target) const {
    return DialectOf(db_) == sql::Dialect::kPostgres
               ? fmt::format("{}::text IS NOT DISTINCT FROM {}::text", captured, target)
               : fmt::format("({0} IS {1} AND typeof({0}) = typeof({1}))", captured, target);
  }
  std::vector<std::string> Backs(const std::string& table, const std::vector<std::string>& names) const {
    std::vector<std::string> out = Of(table, names);
    for (size_t i = 0; i < out.size(); ++i) out[i] = Back(out[i], names[i]);
    return out;
  }
  /// `value` of column `before` as it is captured: as text for a type that
  /// is not the engine's own. Probes compare so, whatever type the column
  /// has after the migration.
  std::string AsText(const std::string& value, const std::string& before) const {
    return table_.types.count(before) ? value + "::text" : value;
  }

  /// The row id (tables without a key, where the engine has one) and every
  /// column that existed before the migration.
  std::string SelectAll(const std::string& prefix) const {
    std::vector<std::string> out;
    if (ByRowId()) {
      out.push_back(fmt::format("{}{} AS {}", prefix, db_.RowIdColumn(), kRowIdAlias));
    }
    for (const auto& c : table_.columns) {
      if (!c.before.empty()) out.push_back(As(prefix, c));
    }
    return Join(out);
  }

  /// Whether rows are told apart by the engine's row id (SQLite's rowid):
  /// the table has no primary key.
  bool ByRowId() const { return table_.key.empty() && !db_.RowIdColumn().empty(); }

  void MarkIfByRowId() {
    if (ByRowId()) capture_.by_rowid = table_.before;
  }

  /// The select-list items that identify a row, or an error when none does.
  Result<std::vector<std::string>> KeySelect(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& k : table_.key) {
      auto it = std::find_if(table_.columns.begin(), table_.columns.end(),
                             [&](const auto& c) { return c.before == k; });
      if (it == table_.columns.end()) {
        return Status(Code::kIrreversible,
                      fmt::format("the primary key column {}.{} was dropped earlier in the "
                                  "migration, so the values this statement changes cannot be "
                                  "matched back to their rows on rollback; keep the key until the "
                                  "last statement, or pass --allow-irreversible",
                                  table_.before, k));
      }
      out.push_back(As(prefix, *it));
    }
    if (!out.empty() && !db_.RowIdColumn().empty()) {
      // SQLite lets a PRIMARY KEY column hold NULL (but an INTEGER PRIMARY
      // KEY or a WITHOUT ROWID table's): such a row's key matches nothing,
      // and its captured values would never go back.
      // Read as the migration has not run yet (a rename before the
      // statement has not happened): by the names of before it.
      std::vector<std::string> nulls;
      for (const auto& k : table_.key) nulls.push_back(db_.QuoteIdent(k) + " IS NULL");
      auto found = db_.Query(fmt::format("SELECT 1 FROM {} WHERE {} LIMIT 1",
                                         Qualified(info_.schema, table_.before),
                                         Join(nulls, " OR ")));
      if (found.ok() && !found->empty()) {
        return Status(Code::kIrreversible,
                      fmt::format("table {} has rows whose primary key is NULL (SQLite allows it "
                                  "in a PRIMARY KEY column that is not NOT NULL), and the values "
                                  "this statement changes cannot be matched back to those rows "
                                  "on rollback; give them keys first, or pass "
                                  "--allow-irreversible to apply it without a way back",
                                  table_.before));
      }
    }
    if (!out.empty()) return out;
    if (db_.RowIdColumn().empty()) {
      return Status(Code::kIrreversible,
                    fmt::format("table {} has no primary key, so the values this statement "
                                "changes cannot be matched back to their rows on rollback; add a "
                                "primary key first, or pass --allow-irreversible to apply it "
                                "without a way back",
                                table_.before));
    }
    return std::vector<std::string>{fmt::format("{}{} AS {}", prefix, db_.RowIdColumn(), kRowIdAlias)};
  }

  std::string Insert(bool upsert) const {
    std::vector<std::string> cols, values;
    for (const auto& c : table_.columns) {
      if (c.before.empty()) continue;
      cols.push_back(db_.QuoteIdent(c.before));
      values.push_back(Back(cols.back(), c.before));
    }
    std::string into = Join(cols), select = Join(values);
    if (ByRowId()) {
      into = std::string(db_.RowIdColumn()) + ", " + into;
      select = std::string(kRowIdAlias) + ", " + select;
    }
    std::string sql = fmt::format("INSERT INTO {} ({}) {}SELECT {} FROM {}", target_, into,
                                  db_.InsertOverridingSql(), select, cap_);
    if (!upsert) return sql;
    std::vector<std::string> keys, set;
    for (const auto& k : table_.key) keys.push_back(db_.QuoteIdent(k));
    for (const auto& c : table_.columns) {
      if (c.before.empty() ||
          std::find(table_.key.begin(), table_.key.end(), c.before) != table_.key.end()) {
        continue;
      }
      set.push_back(fmt::format("{} = excluded.{}", db_.QuoteIdent(c.before), db_.QuoteIdent(c.before)));
    }
    // "WHERE true" keeps SQLite from reading ON CONFLICT as a join clause.
    return sql + fmt::format(" WHERE true ON CONFLICT ({}) DO {}", Join(keys),
                             set.empty() ? "NOTHING" : "UPDATE SET " + Join(set));
  }

  Database& db_;
  const sql::StatementInfo& info_;
  const TableTracker::Table& table_;
  const std::string name_now_;  // the table's name at the statement, unqualified
  Capture capture_;
  std::string cap_, now_, target_;
};

/// DROP SEQUENCE: the positions of the sequences it drops, set again once
/// the down script has created them again (one it did not create is left
/// to the rollback check, which sees it missing).
Capture SequencePositions(Database& db, const sql::StatementInfo& info, int64_t version,
                          int sequence) {
  Capture capture;
  capture.table = fmt::format("{}{}", CaptureTablePrefix(version), sequence);
  std::vector<std::string> names;
  for (const auto& o : info.objects) {
    names.push_back((o.schema.empty() ? "" : db.QuoteIdent(o.schema) + ".") + db.QuoteIdent(o.name));
  }
  Database::KeyCounterSql sql = db.SequencePositions(names, capture.table);
  capture.before = std::move(sql.save);
  capture.restore = std::move(sql.restore);
  capture.drop = "DROP TABLE " + db.QuoteIdent(capture.table);
  return capture;
}

}  // namespace

std::string CaptureTablePrefix(int64_t version) { return fmt::format("strata_capture_{}_", version); }

std::string TableTracker::Key(std::string_view name) const {
  return sql::NameKey(name, DialectOf(db_));
}

Result<TableTracker::Table*> TableTracker::Load(const std::string& schema, const std::string& name) {
  if (name.empty()) return static_cast<Table*>(nullptr);
  auto [it, added] = tables_.try_emplace(Key(name));
  if (added) {
    // Not named by the migration yet: the table of that name before it.
    Status s = [&]() -> Status {
      STRATA_ASSIGN_OR_RETURN(bool exists, db_.TableExists(name));
      if (!exists) return Status::OK();
      STRATA_ASSIGN_OR_RETURN(std::vector<std::string> columns, db_.ListColumns(name));
      STRATA_ASSIGN_OR_RETURN(std::vector<std::string> key, db_.ListPrimaryKey(name));
      STRATA_ASSIGN_OR_RETURN(auto unique, db_.ListUniqueKeys(name));
      STRATA_ASSIGN_OR_RETURN(auto generated, db_.ListGeneratedColumns(name));
      STRATA_ASSIGN_OR_RETURN(auto types, db_.ListUserTypedColumns(name));
      STRATA_ASSIGN_OR_RETURN(auto not_null, db_.ListNotNullColumns(name));
      STRATA_ASSIGN_OR_RETURN(auto identity_always, db_.ListIdentityAlwaysColumns(name));
      // A unique key the database computes is not in the capture: rows are
      // matched by the others.
      std::erase_if(unique, [&](const std::vector<std::string>& k) {
        return std::any_of(k.begin(), k.end(), [&](const std::string& c) {
          return std::find(generated.begin(), generated.end(), c) != generated.end();
        });
      });
      Table t{schema, name, {}, std::move(key), std::move(unique), std::move(types),
              std::move(not_null), std::move(identity_always)};
      for (auto& c : columns) {
        // The database computes a generated column: nothing to put back.
        if (std::find(generated.begin(), generated.end(), c) == generated.end()) {
          t.columns.push_back({c, c});
        }
      }
      it->second = std::move(t);
      return Status::OK();
    }();
    if (!s.ok()) {
      tables_.erase(it);
      return s;
    }
  }
  return it->second ? &*it->second : nullptr;
}

Status TableTracker::After(const sql::StatementInfo& info) {
  using K = sql::StatementKind;
  // A table of another schema is another table, whatever its name (CREATE
  // TABLE archive.orders leaves the managed schema's orders as it was).
  if (!info.schema.empty()) {
    if (!managed_) {
      STRATA_ASSIGN_OR_RETURN(std::string managed, db_.ManagedSchema());
      managed_ = std::move(managed);
    }
    if (Key(info.schema) != Key(*managed_)) return Status::OK();
  }
  switch (info.kind) {
    case K::kCreateTable: {
      // IF NOT EXISTS leaves a table that was there as it was.
      Table* existing = nullptr;
      if (info.if_not_exists) {
        STRATA_ASSIGN_OR_RETURN(existing, Load(info.schema, info.table));
      }
      if (existing == nullptr) tables_[Key(info.table)] = std::nullopt;
      return Status::OK();
    }
    case K::kDropTable:
      for (const auto& o : info.objects) tables_[Key(o.name)] = std::nullopt;
      return Status::OK();
    case K::kRenameTable: {
      STRATA_ASSIGN_OR_RETURN(Table* t, Load(info.schema, info.table));
      // PostgreSQL renames a view with ALTER TABLE too.
      if (t == nullptr) STRATA_RETURN_IF_ERROR(RenameView(info.table, info.new_name));
      std::optional<Table> moved = std::move(tables_[Key(info.table)]);
      tables_[Key(info.table)] = std::nullopt;
      tables_[Key(info.new_name)] = std::move(moved);
      return Status::OK();
    }
    case K::kAlterOther:
      if (!info.new_name.empty() && !info.materialized) return RenameView(info.object, info.new_name);
      return Status::OK();
    case K::kRenameColumn:
    case K::kAddColumn:
    case K::kDropColumn: {
      STRATA_ASSIGN_OR_RETURN(Table* t, Load(info.schema, info.table));
      if (t == nullptr) return Status::OK();
      auto& cols = t->columns;
      if (info.kind == K::kAddColumn) {
        for (const auto& c : info.columns) cols.push_back({c, ""});
      } else if (info.kind == K::kDropColumn) {
        std::erase_if(cols, [&](const Column& c) {
          return std::any_of(info.columns.begin(), info.columns.end(),
                             [&](const std::string& n) { return Same(n, c.now); });
        });
        for (const auto& a : info.added) cols.push_back({a.name, ""});  // DROP a, ADD b
      } else {
        for (auto& c : cols) {
          if (Same(c.now, info.column)) c.now = info.new_name;
        }
      }
      return Status::OK();
    }
    case K::kCreateView:
      if (!info.materialized) views_.insert(Key(info.object));
      return Status::OK();
    case K::kDropView:
      for (const auto& o : info.objects) views_.erase(Key(o.name));
      return Status::OK();
    default:
      return Status::OK();
  }
}

Status TableTracker::RenameView(const std::string& name, const std::string& new_name) {
  bool view = views_.erase(Key(name)) > 0;
  if (!view) {
    STRATA_ASSIGN_OR_RETURN(view, db_.IsView(name));
  }
  if (view) views_.insert(Key(new_name));
  return Status::OK();
}

std::string OutsideSchemaRefusal(const sql::StatementInfo& info, const std::string& schema) {
  // The system catalogs are no schema anyone migrates.
  if (schema == "pg_catalog" || schema == "information_schema" || schema.starts_with("pg_")) {
    return fmt::format("this statement {}, in PostgreSQL's system catalog ({}); Strata captures "
                       "and checks only the schema it manages, and no rollback could put the "
                       "catalog's rows back. Leave the catalog to the server (as for pg_index's "
                       "indisready, drop and create the index instead), or pass "
                       "--allow-irreversible to apply it without a way back",
                       info.summary, schema);
  }
  return fmt::format("this statement {}, in schema {}; Strata captures, checks and snapshots "
                     "only the schema it manages (the connection's current schema), so a "
                     "rollback could not restore what it removes. Migrate schema {} with a "
                     "database URL whose search_path puts it first (e.g. "
                     "?options=-csearch_path%3D{}), or pass --allow-irreversible to apply it "
                     "without a way back",
                     info.summary, schema, schema, schema);
}

namespace {

std::string CannotCapture(const sql::StatementInfo& info, std::string_view why) {
  return fmt::format("this statement {}; Strata cannot capture what it removes ({}), so a "
                     "rollback could not restore it; split it into simpler statements, or pass "
                     "--allow-irreversible to apply it without a way back",
                     info.summary, why);
}

constexpr std::string_view kNoCapture = "not a statement whose effect Strata can capture";
constexpr std::string_view kCascadeDrops = "CASCADE drops what depends on it too: columns, defaults, views";

}  // namespace

std::optional<std::string> NeverCapturable(const sql::StatementInfo& info) {
  using K = sql::StatementKind;
  if (!info.destructive) return std::nullopt;
  switch (info.kind) {
    case K::kDropTable:
    case K::kTruncate:
      if (info.objects.size() > 1) {
        return CannotCapture(info, "it names several tables: drop or truncate one table per statement");
      }
      return std::nullopt;
    case K::kInsert: case K::kDelete: case K::kUpdate: case K::kDropColumn:
    case K::kAlterColumnType:
      return std::nullopt;
    case K::kDropOther: {
      // What PlanCapture decides by the database: whether anything depends
      // on a routine, whether a type dropped IF EXISTS is there; a
      // sequence's position is captured. Nothing else is, whatever the
      // database holds (Ghostfolio's DROP TYPE "Currency" CASCADE passed
      // validate and --dry-run, then up refused it part-way; hunt87 #1).
      const std::string& what = info.dropped_kind;
      if (what == "function" || what == "procedure" || what == "routine" ||
          (what == "sequence" && !info.cascade) ||
          ((what == "type" || what == "domain") && info.if_exists)) {
        return std::nullopt;
      }
      return CannotCapture(info, info.cascade ? kCascadeDrops : kNoCapture);
    }
    default:
      return CannotCapture(info, kNoCapture);
  }
}

namespace {

/// SQLite: whether `table` is an FTS virtual table created with
/// `content=''`, whose columns read as NULL.
Result<bool> IsContentlessFullText(Database& db, const std::string& table) {
  if (DialectOf(db) != sql::Dialect::kSqlite) return false;
  STRATA_ASSIGN_OR_RETURN(Rows rows, db.Query("SELECT sql FROM sqlite_master WHERE type = 'table' "
                                              "AND name = ?1 COLLATE NOCASE",
                                              {Value(table)}));
  if (rows.empty() || rows.rows[0][0].is_null()) return false;
  return sql::FullTextContentOption(rows.rows[0][0].ToString()) == "''";
}

}  // namespace

Result<std::optional<Capture>> PlanCapture(Database& db, TableTracker& tables,
                                           std::string_view statement,
                                           const sql::StatementInfo& info, int64_t version,
                                           int sequence) {
  if (!info.destructive) return std::optional<Capture>();
  if (auto never = NeverCapturable(info)) return Status(Code::kIrreversible, *never);
  const sql::Dialect dialect = DialectOf(db);
  auto cannot = [&](std::string_view why) { return Status(Code::kIrreversible, CannotCapture(info, why)); };
  // A table the migration creates itself holds nothing from before it.
  auto plan = [&](const std::string& schema, const std::string& table) -> Result<std::optional<Planner>> {
    STRATA_ASSIGN_OR_RETURN(std::string outside, db.OutsideSchema(schema, table));
    if (!outside.empty()) return Status(Code::kIrreversible, OutsideSchemaRefusal(info, outside));
    STRATA_ASSIGN_OR_RETURN(const TableTracker::Table* t, tables.Find(schema, table));
    if (t == nullptr) {
      // Rows written through a view are those of the tables under it.
      STRATA_ASSIGN_OR_RETURN(bool view, db.IsView(table));
      if (view || tables.KnownView(table)) {
        return Status(Code::kIrreversible,
                      fmt::format("this statement {}, a view: the rows it changes are those of "
                                  "the tables under it (an updatable view's, or those its "
                                  "INSTEAD OF triggers write), which Strata does not capture or "
                                  "check, so a rollback could not restore them; "
                                  "write the statement against those tables, or pass "
                                  "--allow-irreversible to apply it without a way back",
                                  info.summary));
      }
      return std::optional<Planner>();
    }
    if (info.kind == sql::StatementKind::kDelete || info.kind == sql::StatementKind::kUpdate) {
      STRATA_ASSIGN_OR_RETURN(bool rules, db.HasRewriteRules(t->before));
      if (rules) {
        return Status(Code::kIrreversible,
                      fmt::format("this statement {}, and {} has rules (CREATE RULE ... ON UPDATE "
                                  "or ON DELETE) that run other statements with it, on tables "
                                  "Strata does not capture or check, so a rollback could not "
                                  "restore what they change; pass --allow-irreversible to apply "
                                  "it without a way back",
                                  info.summary, t->before));
      }
    }
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> heirs, db.InheritingTables(t->before));
    if (!heirs.empty()) {
      return Status(Code::kIrreversible,
                    fmt::format("this statement {}, and tables inherit from {} ({}): Strata "
                                "captures only {}'s own rows, so a rollback could not put theirs "
                                "back where they were; pass --allow-irreversible to apply it "
                                "without a way back",
                                info.summary, t->before, fmt::join(heirs, ", "), t->before));
    }
    return std::optional<Planner>(Planner(db, info, *t, table, version, sequence));
  };

  // A WHERE whose value changes from one statement to the next picks other
  // rows for the capture than for the statement: random(), and on SQLite
  // the time ('now', CURRENT_TIMESTAMP: fixed per statement, not per
  // transaction as on PostgreSQL).
  auto changes_between_statements = [&](const std::string& where) {
    auto tokens = sql::Tokenize(where, dialect);
    if (!tokens.ok()) return true;
    for (size_t i = 0; i < tokens->size(); ++i) {
      const sql::Token& t = (*tokens)[i];
      const bool call = i + 1 < tokens->size() && (*tokens)[i + 1].text == "(";
      for (const char* f : {"random", "randomblob", "gen_random_uuid", "uuid_generate_v1",
                            "uuid_generate_v4", "clock_timestamp", "timeofday", "statement_timestamp"}) {
        if (call && t.IsWord(f)) return true;
      }
      if (dialect != sql::Dialect::kSqlite) continue;
      for (const char* word : {"current_timestamp", "current_date", "current_time"}) {
        if (t.IsWord(word)) return true;
      }
      if (t.kind == sql::TokenKind::kString && AsciiLower(std::string(t.text)) == "'now'") return true;
    }
    return false;
  };
  auto Whole = [](Planner& p) -> Result<std::optional<Capture>> {
    STRATA_ASSIGN_OR_RETURN(Capture c, p.WholeTable());
    return std::optional<Capture>(std::move(c));
  };
  switch (info.kind) {
    case StatementKind::kDropTable:
    case StatementKind::kTruncate: {
      STRATA_ASSIGN_OR_RETURN(auto p, plan(info.schema, info.table));
      if (!p) return std::optional<Capture>();
      STRATA_ASSIGN_OR_RETURN(bool contentless, IsContentlessFullText(db, info.table));
      if (contentless) {
        return cannot("it is a contentless full-text index (content=''): what was written to it "
                      "is kept only in the index, which reads back as NULL, so no capture can put "
                      "it back");
      }
      return Whole(*p);
    }
    case StatementKind::kInsert: {  // insert or replace / upsert
      STRATA_ASSIGN_OR_RETURN(auto p, plan(info.schema, info.table));
      if (!p) return std::optional<Capture>();
      return Whole(*p);
    }
    case StatementKind::kDelete: {
      STRATA_ASSIGN_OR_RETURN(auto p, plan(info.schema, info.table));
      if (!p) return std::optional<Capture>();
      if (info.where_clause.empty() || changes_between_statements(info.where_clause)) return Whole(*p);
      auto tokens = MainTokens(statement, dialect, !info.with_clause.empty());
      if (!tokens.ok() || HasTopLevelWord(*tokens, "using")) {
        return Whole(*p);
      }
      return std::optional<Capture>(p->DeletedRows(info.where_clause));
    }
    case StatementKind::kUpdate: {
      STRATA_ASSIGN_OR_RETURN(auto p, plan(info.schema, info.table));
      if (!p) return std::optional<Capture>();
      // SQLite's UPDATE OR REPLACE deletes the rows its new values collide
      // with; a statement that does not read as expected is captured whole.
      auto tokens = MainTokens(statement, dialect, !info.with_clause.empty());
      if (!tokens.ok() || info.deletes_colliding || info.own_conflict_clause) {
        return Whole(*p);
      }
      // Every row's values when the rows it picks cannot be picked again.
      std::string where = changes_between_statements(info.where_clause) ? "" : info.where_clause;
      // UPDATE .. FROM others WHERE c: the rows of the table that some row
      // of the others meets c with (not every row: a rollback would put back
      // the application's later writes to rows it never changed).
      if (!where.empty() || !HasTopLevelWord(*tokens, "where")) {
        if (std::optional<std::string> others = TopLevelFromList(*tokens, statement)) {
          where = changes_between_statements(*others)
                      ? ""
                      : fmt::format("EXISTS (SELECT 1 FROM {}{})", *others,
                                    where.empty() ? "" : " WHERE " + where);
        }
      }
      // Only the columns it assigns: values written to other columns since
      // (by the application) are not put back on rollback. An assigned key
      // column moves the row to a key the capture cannot know, so the table
      // is captured whole (and put back whole, refused if written to since).
      std::vector<std::string> columns = info.columns;
      STRATA_ASSIGN_OR_RETURN(const TableTracker::Table* t, tables.Find(info.schema, info.table));
      bool moves_rows = std::any_of(columns.begin(), columns.end(), [&](const std::string& c) {
        return std::any_of(t->key.begin(), t->key.end(), [&](const std::string& k) {
          return sql::NameKey(k, dialect) == sql::NameKey(c, dialect);
        }) || AssignsRowid(*t, c, dialect);
      });
      if (moves_rows) return Whole(*p);
      // A BEFORE UPDATE trigger may write other columns (updated_at =
      // now()): the rows' every column is captured, and put back with the
      // triggers paused, or the restore would stamp them again.
      STRATA_ASSIGN_OR_RETURN(bool stamps, db.HasBeforeUpdateTriggers(info.table));
      if (stamps) {
        std::vector<std::string> assignable = p->AssignableColumns();
        if (!assignable.empty()) columns = std::move(assignable);
      }
      STRATA_ASSIGN_OR_RETURN(Capture c, p->Values(columns, where));
      if (c.before.empty()) return std::optional<Capture>();
      c.prune.clear();  // the rows it assigns the same value keep their capture
      if (stamps) p->WithoutTriggers(c);
      return std::optional<Capture>(std::move(c));
    }
    case StatementKind::kDropColumn:
    case StatementKind::kAlterColumnType: {
      STRATA_ASSIGN_OR_RETURN(auto p, plan(info.schema, info.table));
      if (!p) return std::optional<Capture>();
      // A key column retyped or dropped: the rows' keys change with it (or
      // go), so they cannot be matched back by key; the table is captured
      // whole, as for an UPDATE that assigns a key column.
      STRATA_ASSIGN_OR_RETURN(const TableTracker::Table* t, tables.Find(info.schema, info.table));
      const bool changes_key = std::any_of(t->columns.begin(), t->columns.end(), [&](const auto& col) {
        return std::find(t->key.begin(), t->key.end(), col.before) != t->key.end() &&
               std::any_of(info.columns.begin(), info.columns.end(), [&](const std::string& n) {
                 return sql::NameKey(n, dialect) == sql::NameKey(col.now, dialect);
               });
      });
      if (changes_key) return Whole(*p);
      STRATA_ASSIGN_OR_RETURN(Capture c, p->Values(info.columns, ""));
      if (c.before.empty()) return std::optional<Capture>();
      p->WithoutTriggers(c);
      if (info.kind == StatementKind::kDropColumn) {
        c.probe.clear();  // the down script adds it anew
        p->NotNullAgain(info.columns, c);
      }
      if (info.kind != StatementKind::kAlterColumnType || dialect != sql::Dialect::kPostgres) c.prune.clear();
      return std::optional<Capture>(std::move(c));
    }
    case StatementKind::kDropOther: {
      auto tokens = sql::Tokenize(statement, dialect);
      const bool cascade = tokens.ok() && HasTopLevelWord(*tokens, "cascade");
      // DROP TYPE IF EXISTS x CASCADE of a type not there drops nothing
      // (listmonk's schema.sql starts with seven).
      if (dialect == sql::Dialect::kPostgres && tokens.ok() && tokens->size() >= 2 && info.if_exists &&
          ((*tokens)[1].IsWord("type") || (*tokens)[1].IsWord("domain"))) {
        bool any = false;
        for (const auto& o : info.objects) {
          STRATA_ASSIGN_OR_RETURN(bool exists,
                                  db.TypeExists((o.schema.empty() ? "" : db.QuoteIdent(o.schema) + ".") +
                                                db.QuoteIdent(o.name)));
          any = any || exists;
        }
        if (!any) return std::optional<Capture>();
      }
      // A function or procedure nothing depends on (a trigger, a default, a
      // view...) takes nothing with it, CASCADE or not (Lemmy's fix-timezones
      // starts with DROP FUNCTION IF EXISTS hot_rank CASCADE); the routine
      // itself is the down script's to make again, as the schema check holds.
      if (dialect == sql::Dialect::kPostgres && cascade && tokens.ok() && tokens->size() >= 2 &&
          ((*tokens)[1].IsWord("function") || (*tokens)[1].IsWord("procedure") ||
           (*tokens)[1].IsWord("routine"))) {
        bool reaches = false;
        for (const auto& o : info.objects) {
          STRATA_ASSIGN_OR_RETURN(bool depended_on, db.RoutineHasDependents(o.schema, o.name));
          reaches = reaches || depended_on;
        }
        if (!reaches) return std::optional<Capture>();
      }
      if (dialect != sql::Dialect::kPostgres || !tokens.ok() || tokens->size() < 2 ||
          !(*tokens)[1].IsWord("sequence") || cascade) {
        return cannot(cascade ? kCascadeDrops : kNoCapture);
      }
      return std::optional<Capture>(SequencePositions(db, info, version, sequence));
    }
    default:  // NeverCapturable said so above
      return cannot(kNoCapture);
  }
}

}  // namespace strata
