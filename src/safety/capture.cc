#include "safety/capture.h"

#include <algorithm>

#include <fmt/format.h>

#include "sql/lexer.h"
#include "util/text.h"

namespace strata {
namespace {

using sql::StatementKind;

constexpr const char* kRowIdAlias = "strata_rowid";

/// True when `statement` has the word `word` outside parentheses: an UPDATE
/// with FROM or a DELETE with USING, whose WHERE may name other tables.
bool HasTopLevelWord(std::string_view statement, std::string_view word, sql::Dialect dialect) {
  auto tokens = sql::Tokenize(statement, dialect);
  if (!tokens.ok()) return true;  // cannot tell: capture the whole table
  int depth = 0;
  for (const auto& t : *tokens) {
    if (t.IsPunct('(')) ++depth;
    if (t.IsPunct(')')) --depth;
    if (depth == 0 && t.IsWord(word)) return true;
  }
  return false;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep = ", ") {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

/// Builds the SQL of one capture for a table that exists before the migration.
class Planner {
 public:
  Planner(Database& db, const sql::StatementInfo& info, std::string table_schema,
          std::string table, int64_t version, int sequence)
      : db_(db), info_(info), schema_(std::move(table_schema)), table_(std::move(table)) {
    capture_.table = fmt::format("{}{}", CaptureTablePrefix(version), sequence);
    cap_ = db_.QuoteIdent(capture_.table);
    target_ = (schema_.empty() ? "" : db_.QuoteIdent(schema_) + ".") + db_.QuoteIdent(table_);
    capture_.drop = "DROP TABLE " + cap_;
  }

  Status Load() {
    STRATA_ASSIGN_OR_RETURN(columns_, db_.ListColumns(table_));
    STRATA_ASSIGN_OR_RETURN(key_, db_.ListPrimaryKey(table_));
    return Status::OK();
  }

  /// Every row: restored by emptying the table and inserting them back.
  Capture WholeTable() {
    std::string rowid = RowIdSelect("");
    capture_.before.push_back(fmt::format("CREATE TABLE {} AS SELECT {}* FROM {}", cap_,
                                          rowid.empty() ? "" : rowid + ", ", target_));
    capture_.restore.push_back("DELETE FROM " + target_);
    capture_.restore.push_back(Insert(/*upsert=*/false));
    capture_.restore.push_back(capture_.drop);
    return capture_;
  }

  /// The rows a DELETE removes: inserted back, replacing any row of the same key.
  Capture DeletedRows(const std::string& where) {
    std::string from = info_.alias.empty() ? target_ : target_ + " AS " + db_.QuoteIdent(info_.alias);
    std::string prefix = (info_.alias.empty() ? target_ : db_.QuoteIdent(info_.alias)) + ".";
    std::string rowid = RowIdSelect(prefix);
    capture_.before.push_back(fmt::format("CREATE TABLE {} AS SELECT {}{}* FROM {} WHERE {}",
                                          cap_, rowid.empty() ? "" : rowid + ", ", prefix, from,
                                          where));
    capture_.restore.push_back(Insert(/*upsert=*/!key_.empty()));
    capture_.restore.push_back(capture_.drop);
    return capture_;
  }

  /// Values of `columns` (empty: every column but the key) of the rows
  /// matching `where` ("" = all): put back by key.
  Result<Capture> Values(std::vector<std::string> columns, const std::string& where) {
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> keys, KeySelect());
    if (columns.empty()) {
      for (const auto& c : columns_) {
        if (std::find(key_.begin(), key_.end(), c) == key_.end()) columns.push_back(c);
      }
    }
    std::vector<std::string> known;  // columns the migration did not add itself
    for (const auto& c : columns) {
      auto it = std::find_if(columns_.begin(), columns_.end(), [&](const std::string& have) {
        return AsciiLower(have) == AsciiLower(c);
      });
      if (it != columns_.end()) known.push_back(*it);
    }
    if (known.empty()) return capture_;  // nothing that existed before is changed
    std::string from = target_, prefix = target_ + ".";
    if (!where.empty() && !info_.alias.empty()) {
      from += " AS " + db_.QuoteIdent(info_.alias);
      prefix = db_.QuoteIdent(info_.alias) + ".";
    }
    std::vector<std::string> select, set, match;
    for (size_t i = 0; i < keys.size(); ++i) select.push_back(prefix + keys[i]);
    for (const auto& c : known) {
      select.push_back(prefix + db_.QuoteIdent(c));
      set.push_back(fmt::format("{} = s.{}", db_.QuoteIdent(c), db_.QuoteIdent(c)));
    }
    capture_.before.push_back(fmt::format("CREATE TABLE {} AS SELECT {} FROM {}{}", cap_,
                                          Join(select), from,
                                          where.empty() ? "" : " WHERE " + where));
    if (key_.empty()) {
      match.push_back(fmt::format("{}.{} = s.{}", target_, db_.RowIdColumn(), kRowIdAlias));
    } else {
      for (const auto& k : key_) {
        match.push_back(fmt::format("{}.{} = s.{}", target_, db_.QuoteIdent(k), db_.QuoteIdent(k)));
      }
    }
    capture_.restore.push_back(fmt::format("UPDATE {} SET {} FROM {} AS s WHERE {}", target_,
                                           Join(set), cap_, Join(match, " AND ")));
    capture_.restore.push_back(capture_.drop);
    return capture_;
  }

 private:

  /// "rowid AS strata_rowid" when the table has no key and the engine has row ids.
  std::string RowIdSelect(const std::string& prefix) const {
    if (!key_.empty() || db_.RowIdColumn().empty()) return "";
    return fmt::format("{}{} AS {}", prefix, db_.RowIdColumn(), kRowIdAlias);
  }

  /// The select-list items that identify a row, or an error when none does.
  Result<std::vector<std::string>> KeySelect() const {
    std::vector<std::string> out;
    for (const auto& k : key_) out.push_back(db_.QuoteIdent(k));
    if (!out.empty()) return out;
    if (db_.RowIdColumn().empty()) {
      return Status(Code::kIrreversible,
                    fmt::format("table {} has no primary key, so the values this statement "
                                "changes cannot be matched back to their rows on rollback; add a "
                                "primary key first, or pass --allow-irreversible to apply it "
                                "without a way back",
                                table_));
    }
    return std::vector<std::string>{fmt::format("{} AS {}", db_.RowIdColumn(), kRowIdAlias)};
  }

  std::string Insert(bool upsert) const {
    std::vector<std::string> cols;
    for (const auto& c : columns_) cols.push_back(db_.QuoteIdent(c));
    std::string into = Join(cols), select = Join(cols);
    if (key_.empty() && !db_.RowIdColumn().empty()) {
      into = std::string(db_.RowIdColumn()) + ", " + into;
      select = std::string(kRowIdAlias) + ", " + select;
    }
    std::string sql = fmt::format("INSERT INTO {} ({}) {}SELECT {} FROM {}", target_, into,
                                  db_.InsertOverridingSql(), select, cap_);
    if (!upsert) return sql;
    std::vector<std::string> keys, set;
    for (const auto& k : key_) keys.push_back(db_.QuoteIdent(k));
    for (const auto& c : columns_) {
      if (std::find(key_.begin(), key_.end(), c) != key_.end()) continue;
      set.push_back(fmt::format("{} = excluded.{}", db_.QuoteIdent(c), db_.QuoteIdent(c)));
    }
    // "WHERE true" keeps SQLite from reading ON CONFLICT as a join clause.
    return sql + fmt::format(" WHERE true ON CONFLICT ({}) DO {}", Join(keys),
                             set.empty() ? "NOTHING" : "UPDATE SET " + Join(set));
  }

  Database& db_;
  const sql::StatementInfo& info_;
  std::string schema_, table_;
  Capture capture_;
  std::string cap_, target_;
  std::vector<std::string> columns_, key_;
};

}  // namespace

std::string CaptureTablePrefix(int64_t version) { return fmt::format("strata_capture_{}_", version); }

Result<std::optional<Capture>> PlanCapture(Database& db, std::string_view statement,
                                           const sql::StatementInfo& info, int64_t version,
                                           int sequence) {
  if (!info.destructive) return std::optional<Capture>();
  const sql::Dialect dialect =
      db.engine() == Engine::kPostgres ? sql::Dialect::kPostgres : sql::Dialect::kSqlite;
  auto cannot = [&](std::string why) {
    return Status(Code::kIrreversible,
                  fmt::format("this statement {}; Strata cannot capture what it removes ({}), so "
                              "a rollback could not restore it; split it into simpler statements, "
                              "or pass --allow-irreversible to apply it without a way back",
                              info.summary, why));
  };
  // A table the migration creates itself holds nothing from before it.
  auto existing = [&](const std::string& table) -> Result<bool> {
    if (table.empty()) return false;
    return db.TableExists(table);
  };
  auto plan = [&](const std::string& schema, const std::string& table) -> Result<std::optional<Planner>> {
    STRATA_ASSIGN_OR_RETURN(bool exists, existing(table));
    if (!exists) return std::optional<Planner>();
    Planner p(db, info, schema, table, version, sequence);
    STRATA_RETURN_IF_ERROR(p.Load());
    return std::optional<Planner>(std::move(p));
  };

  switch (info.kind) {
    case StatementKind::kDropTable:
    case StatementKind::kTruncate: {
      if (info.objects.size() > 1) {
        return cannot("it names several tables: drop or truncate one table per statement");
      }
      STRATA_ASSIGN_OR_RETURN(auto p, plan(info.schema, info.table));
      if (!p) return std::optional<Capture>();
      return std::optional<Capture>(p->WholeTable());
    }
    case StatementKind::kInsert: {  // insert or replace / upsert
      STRATA_ASSIGN_OR_RETURN(auto p, plan(info.schema, info.table));
      if (!p) return std::optional<Capture>();
      return std::optional<Capture>(p->WholeTable());
    }
    case StatementKind::kDelete: {
      STRATA_ASSIGN_OR_RETURN(auto p, plan(info.schema, info.table));
      if (!p) return std::optional<Capture>();
      if (info.where_clause.empty() || HasTopLevelWord(statement, "using", dialect)) {
        return std::optional<Capture>(p->WholeTable());
      }
      return std::optional<Capture>(p->DeletedRows(info.where_clause));
    }
    case StatementKind::kUpdate: {
      STRATA_ASSIGN_OR_RETURN(auto p, plan(info.schema, info.table));
      if (!p) return std::optional<Capture>();
      std::string where = HasTopLevelWord(statement, "from", dialect) ? "" : info.where_clause;
      STRATA_ASSIGN_OR_RETURN(Capture c, p->Values({}, where));
      if (c.before.empty()) return std::optional<Capture>();
      return std::optional<Capture>(std::move(c));
    }
    case StatementKind::kDropColumn:
    case StatementKind::kAlterColumnType: {
      STRATA_ASSIGN_OR_RETURN(auto p, plan(info.schema, info.table));
      if (!p) return std::optional<Capture>();
      STRATA_ASSIGN_OR_RETURN(Capture c, p->Values(info.columns, ""));
      if (c.before.empty()) return std::optional<Capture>();
      return std::optional<Capture>(std::move(c));
    }
    default:
      return cannot("not a statement whose effect Strata can capture");
  }
}

}  // namespace strata
