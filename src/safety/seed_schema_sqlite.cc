// SeedSchemaReader for SQLite: pragma table_xinfo, index_list/index_info,
// foreign_key_list, and the CREATE TABLE text for CHECKs.
#include <algorithm>
#include <cctype>
#include <map>

#include "safety/seed_schema.h"
#include "sql/lexer.h"
#include "util/text.h"

namespace strata {
namespace {


/// The generator's kind for a declared type, following SQLite's affinity
/// rules and, within NUMERIC affinity, the names people use for dates.
SeedKind KindOf(const std::string& declared) {
  std::string t = AsciiLower(declared);
  auto has = [&](const char* s) { return t.find(s) != std::string::npos; };
  if (has("bool")) return SeedKind::kBool;
  if (has("int")) return SeedKind::kInteger;
  if (has("char") || has("clob") || has("text")) return SeedKind::kText;
  if (has("blob")) return SeedKind::kBlob;
  if (t.empty()) return SeedKind::kText;
  if (has("real") || has("floa") || has("doub")) return SeedKind::kReal;
  if (has("datetime") || has("timestamp")) return SeedKind::kTimestamp;
  if (has("date")) return SeedKind::kDate;
  if (has("time")) return SeedKind::kTime;
  if (has("uuid")) return SeedKind::kUuid;
  if (has("json")) return SeedKind::kJson;
  return SeedKind::kNumeric;
}

/// The module of a CREATE VIRTUAL TABLE statement ("" for any other).
std::string VirtualModuleOf(std::string_view create) {
  auto tokens = sql::Tokenize(create, sql::Dialect::kSqlite);
  if (!tokens.ok()) return "";
  const std::vector<sql::Token>& t = *tokens;
  if (t.size() < 2 || !t[0].IsWord("CREATE") || !t[1].IsWord("VIRTUAL")) return "";
  for (size_t i = 2; i + 1 < t.size(); ++i) {
    if (t[i].IsWord("USING")) return AsciiLower(sql::IdentifierName(t[i + 1], sql::Dialect::kSqlite));
  }
  return "virtual";
}

/// The CHECK clauses of a CREATE TABLE statement, column and table level.
std::vector<SeedCheck> ChecksOf(std::string_view create) {
  std::vector<SeedCheck> out;
  auto tokens = sql::Tokenize(create, sql::Dialect::kSqlite);
  if (!tokens.ok()) return out;
  const std::vector<sql::Token>& t = *tokens;
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (!t[i].IsWord("CHECK") || !t[i + 1].IsPunct('(')) continue;
    int depth = 0;
    size_t j = i + 1;
    for (; j < t.size(); ++j) {
      if (t[j].IsPunct('(')) ++depth;
      if (t[j].IsPunct(')') && --depth == 0) break;
    }
    if (j >= t.size()) break;
    SeedCheck check;
    if (i >= 2 && t[i - 2].IsWord("CONSTRAINT")) {
      check.name = sql::IdentifierName(t[i - 1], sql::Dialect::kSqlite);
    }
    check.expr = std::string(create.substr(t[i + 1].end(), t[j].offset - t[i + 1].end()));
    out.push_back(std::move(check));
    i = j;
  }
  return out;
}

class SqliteSeedSchemaReader : public SeedSchemaReader {
 public:
  explicit SqliteSeedSchemaReader(Database& db) : db_(db) {}

  Result<SeedTable> ReadTable(std::string_view name) override {
    SeedTable table;
    table.name = std::string(name);
    const Value tv{table.name};
    STRATA_ASSIGN_OR_RETURN(
        Rows cols, db_.Query("SELECT name, type, \"notnull\", dflt_value, pk, hidden "
                             "FROM pragma_table_xinfo($1) ORDER BY cid", {tv}));
    std::vector<std::pair<int64_t, std::string>> pk;
    for (const auto& r : cols.rows) {
      SeedColumn c;
      c.name = r[0].ToString();
      c.type = r[1].ToString();
      c.kind = KindOf(c.type);
      c.not_null = r[2].ToInt() != 0;
      c.has_default = !r[3].is_null();
      c.skip = r[5].ToInt() != 0;  // hidden or generated
      if (r[4].ToInt() > 0) pk.emplace_back(r[4].ToInt(), c.name);
      table.columns.push_back(std::move(c));
    }
    std::sort(pk.begin(), pk.end());
    if (pk.size() == 1) {
      SeedColumn* c = table.Find(pk[0].second);
      if (AsciiLower(c->type) == "integer") c->auto_increment = true;  // the rowid alias
    }
    if (!pk.empty()) {
      std::vector<std::string>& key = table.unique_keys.emplace_back();
      for (auto& [seq, col] : pk) {
        key.push_back(col);
        table.Find(col)->not_null = true;  // SQLite would take NULL (a rowid, or a legacy quirk)
      }
    }
    STRATA_ASSIGN_OR_RETURN(Rows indexes, db_.Query("SELECT name, \"unique\", origin "
                                                    "FROM pragma_index_list($1) ORDER BY name", {tv}));
    for (const auto& ix : indexes.rows) {
      if (ix[1].ToInt() == 0 || ix[2].ToString() == "pk") continue;
      STRATA_ASSIGN_OR_RETURN(Rows info, db_.Query("SELECT cid, name FROM pragma_index_info($1) "
                                                   "ORDER BY seqno", {ix[0]}));
      std::vector<std::string> key;
      bool expression = false;
      for (const auto& r : info.rows) {
        if (r[0].ToInt() < 0) expression = true;
        key.push_back(r[1].ToString());
      }
      if (!expression && !key.empty()) table.unique_keys.push_back(std::move(key));
    }
    STRATA_ASSIGN_OR_RETURN(Rows fks, db_.Query("SELECT id, \"table\", \"from\", \"to\" "
                                                "FROM pragma_foreign_key_list($1) ORDER BY id, seq", {tv}));
    std::map<int64_t, SeedForeignKey> by_id;
    for (const auto& r : fks.rows) {
      SeedForeignKey& fk = by_id[r[0].ToInt()];
      fk.parent = r[1].ToString();
      fk.columns.push_back(r[2].ToString());
      if (!r[3].is_null()) fk.parent_columns.push_back(r[3].ToString());
    }
    for (auto& [id, fk] : by_id) {
      fk.name = table.name + "." + fk.columns[0] + " -> " + fk.parent;
      if (fk.parent_columns.empty()) {  // REFERENCES parent: its primary key
        STRATA_ASSIGN_OR_RETURN(Rows ppk, db_.Query("SELECT name FROM pragma_table_info($1) "
                                                    "WHERE pk > 0 ORDER BY pk", {Value(fk.parent)}));
        for (const auto& r : ppk.rows) fk.parent_columns.push_back(r[0].ToString());
      }
      table.foreign_keys.push_back(std::move(fk));
    }
    STRATA_ASSIGN_OR_RETURN(Rows create, db_.Query("SELECT sql FROM sqlite_schema "
                                                   "WHERE type = 'table' AND name = $1 COLLATE NOCASE",
                                                   {tv}));
    if (!create.empty()) {
      table.checks = ChecksOf(create.rows[0][0].ToString());
      table.module = VirtualModuleOf(create.rows[0][0].ToString());
    }
    for (const SeedCheck& check : table.checks) ApplyCheck(check.expr, table);
    return table;
  }

  Status AfterFill(const SeedTable&) override { return Status::OK(); }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<SeedSchemaReader> NewSqliteSeedSchemaReader(Database& db) {
  return std::make_unique<SqliteSeedSchemaReader>(db);
}

}  // namespace strata
