// The SQLite catalog: facts from the pragmas where SQLite keeps them
// (table_xinfo, index_list/index_xinfo, foreign_key_list), and from the
// stored CREATE text only for what no pragma reports (CHECKs, collations,
// generated expressions, table options, view and trigger bodies).
//
// Stored CREATE text keeps the user's spelling and changes with ALTER TABLE
// RENAME (which adds quotes), so it is never used as written: it is
// re-tokenized and printed canonically (identifiers unquoted where they need
// no quotes, words and identifiers lower-cased since SQLite compares them
// without case, one spacing rule), see Canonical().
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "safety/catalog.h"
#include "sql/lexer.h"
#include "util/text.h"

namespace strata {
namespace {

using sql::Dialect;
using sql::Token;
using sql::TokenKind;
using Tokens = std::vector<Token>;



std::string Name(std::string_view name) { return sql::IdentifierSql(name, Dialect::kSqlite); }

std::string CanonicalToken(const Token& t) {
  switch (t.kind) {
    case TokenKind::kWord: return AsciiLower(t.text);
    case TokenKind::kQuotedIdentifier:
      return Name(AsciiLower(sql::IdentifierName(t, Dialect::kSqlite)));
    default: return std::string(t.text);
  }
}

/// Tokens [begin, end) printed canonically: single spaces, none inside
/// parentheses or around '.' and before ',' and ';'.
std::string Canonical(const Tokens& t, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end && i < t.size(); ++i) {
    bool glue = i == begin || t[i].IsPunct(')') || t[i].IsPunct(',') || t[i].IsPunct(';') ||
                t[i].IsPunct('.') || t[i].IsPunct('(') || t[i - 1].IsPunct('(') ||
                t[i - 1].IsPunct('.');
    if (!glue) out += ' ';
    out += CanonicalToken(t[i]);
  }
  return out;
}

std::string CanonicalSql(std::string_view text) {
  auto tokens = sql::Tokenize(text, Dialect::kSqlite);
  if (!tokens.ok()) return std::string(text);  // cannot happen for stored SQL
  return Canonical(*tokens, 0, tokens->size());
}

/// Index of the ')' closing the '(' at `open`, or t.size().
size_t Close(const Tokens& t, size_t open) {
  int depth = 0;
  for (size_t i = open; i < t.size(); ++i) {
    if (t[i].IsPunct('(')) ++depth;
    if (t[i].IsPunct(')') && --depth == 0) return i;
  }
  return t.size();
}

/// Index just past the object name that follows the word `kind` (TABLE,
/// INDEX, VIEW, TRIGGER), skipping IF NOT EXISTS and a schema qualifier.
size_t AfterName(const Tokens& t, std::string_view kind) {
  size_t i = 0;
  while (i < t.size() && !t[i].IsWord(kind)) ++i;
  ++i;
  if (i + 2 < t.size() && t[i].IsWord("if") && t[i + 1].IsWord("not") && t[i + 2].IsWord("exists")) i += 3;
  ++i;
  if (i + 1 < t.size() && t[i].IsPunct('.')) i += 2;
  return std::min(i, t.size());
}

/// The top-level comma-separated elements between `open` and its ')'.
std::vector<std::pair<size_t, size_t>> Elements(const Tokens& t, size_t open) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t close = Close(t, open), start = open + 1;
  for (size_t i = open + 1; i < close; ++i) {
    if (t[i].IsPunct('(')) {
      i = Close(t, i);
    } else if (t[i].IsPunct(',')) {
      out.push_back({start, i});
      start = i + 1;
    }
  }
  if (start < close) out.push_back({start, close});
  return out;
}

/// What only the CREATE TABLE text says.
struct TableText {
  std::map<std::string, std::string> column_extra;  // lower-cased name -> " collate x ..."
  std::map<std::string, std::string> generated;     // lower-cased name -> "(expr)"
  std::vector<std::string> checks;
  std::string options;  // "strict, without rowid"
  std::string virtual_using;
  // ON CONFLICT clauses other than the default, ABORT: what an INSERT or
  // UPDATE without an OR clause of its own does on a violation. No pragma
  // reports them.
  std::map<std::string, std::string> not_null_conflict;  // lower-cased column -> "ignore"
  std::string primary_key_conflict;
  std::map<std::string, std::string> unique_conflict;  // lower-cased "a, b" -> "replace"
  /// Per REFERENCES clause in text order: whether DEFERRABLE INITIALLY
  /// DEFERRED (the only spelling SQLite defers; any other is immediate).
  std::vector<bool> fk_deferred;
};

/// Lower-cased column names of the list in parentheses at `open`
/// ("a, b"), without their COLLATE and ASC/DESC.
std::string ColumnNames(const Tokens& t, size_t open) {
  std::string out;
  for (auto [b, e] : Elements(t, open)) {
    out += (out.empty() ? "" : ", ") + AsciiLower(sql::IdentifierName(t[b], Dialect::kSqlite));
  }
  return out;
}

TableText ParseTable(std::string_view create) {
  TableText out;
  auto parsed = sql::Tokenize(create, Dialect::kSqlite);
  if (!parsed.ok()) return out;
  const Tokens& t = *parsed;
  size_t i = AfterName(t, "table");
  if (i < t.size() && t[i].IsWord("using")) {
    out.virtual_using = Canonical(t, i, t.size());
    return out;
  }
  if (i >= t.size() || !t[i].IsPunct('(')) return out;
  size_t close = Close(t, i);
  for (auto [b, e] : Elements(t, i)) {
    bool is_column = !(t[b].IsWord("constraint") || t[b].IsWord("primary") ||
                       t[b].IsWord("unique") || t[b].IsWord("check") || t[b].IsWord("foreign"));
    std::string column = is_column ? AsciiLower(sql::IdentifierName(t[b], Dialect::kSqlite)) : "";
    std::string constraint;
    // The constraint an ON CONFLICT clause belongs to: the one it follows.
    enum { kNone, kNotNull, kPrimaryKey, kUnique } clause = kNone;
    std::string unique_columns;
    for (size_t k = is_column ? b + 1 : b; k < e; ++k) {
      if (t[k].IsWord("constraint") && k + 1 < e) {
        constraint = "constraint " + CanonicalToken(t[k + 1]) + " ";
        ++k;
      } else if (t[k].IsWord("on") && k + 2 < e && t[k + 1].IsWord("conflict")) {
        std::string action = AsciiLower(t[k + 2].text);
        k += 2;
        if (action == "abort") continue;
        if (clause == kNotNull && is_column) out.not_null_conflict[column] = action;
        if (clause == kPrimaryKey) out.primary_key_conflict = action;
        if (clause == kUnique) out.unique_conflict[unique_columns] = action;
      } else if (t[k].IsWord("not") && k + 1 < e && t[k + 1].IsWord("null")) {
        clause = kNotNull;
        ++k;
      } else if (t[k].IsWord("primary") && k + 1 < e && t[k + 1].IsWord("key")) {
        clause = kPrimaryKey;
        ++k;
        if (k + 1 < e && t[k + 1].IsPunct('(')) k = Close(t, k + 1);
      } else if (t[k].IsWord("unique")) {
        clause = kUnique;
        unique_columns = column;
        if (k + 1 < e && t[k + 1].IsPunct('(')) {
          unique_columns = ColumnNames(t, k + 1);
          k = Close(t, k + 1);
        }
      } else if (t[k].IsWord("null") || t[k].IsWord("default")) {
        clause = kNone;  // NULL takes an ON CONFLICT that SQLite ignores
      } else if (t[k].IsWord("references")) {
        clause = kNone;
        out.fk_deferred.push_back(false);
      } else if (t[k].IsWord("deferrable")) {
        // As SQLite does: it applies to the last foreign key so far, and
        // NOT DEFERRABLE ... is immediate whatever follows.
        bool deferred = !t[k - 1].IsWord("not") && k + 2 < e && t[k + 1].IsWord("initially") &&
                        t[k + 2].IsWord("deferred");
        if (!out.fk_deferred.empty()) out.fk_deferred.back() = deferred;
      } else if (t[k].IsWord("check") && k + 1 < e && t[k + 1].IsPunct('(')) {
        clause = kNone;
        size_t end = Close(t, k + 1);
        out.checks.push_back("check " + constraint + Canonical(t, k + 1, end + 1));
        k = end;
      } else if (is_column && t[k].IsWord("collate") && k + 1 < e) {
        out.column_extra[column] += " collate " + CanonicalToken(t[k + 1]);
        ++k;
      } else if (is_column && t[k].IsWord("as") && k + 1 < e && t[k + 1].IsPunct('(')) {
        size_t end = Close(t, k + 1);
        out.generated[column] = Canonical(t, k + 1, end + 1);
        k = end;
      } else if (is_column && t[k].IsWord("autoincrement")) {
        out.column_extra[column] += " autoincrement";
      } else if (t[k].IsPunct('(')) {
        k = Close(t, k);
      }
    }
  }
  std::vector<std::string> options;  // STRICT, WITHOUT ROWID in either order
  for (size_t k = close + 1, start = k; k <= t.size(); ++k) {
    if (k == t.size() || t[k].IsPunct(',') || t[k].IsPunct(';')) {
      if (k > start) options.push_back(Canonical(t, start, k));
      start = k + 1;
    }
  }
  std::sort(options.begin(), options.end());
  for (const auto& o : options) out.options += (out.options.empty() ? "" : ", ") + o;
  std::sort(out.checks.begin(), out.checks.end());
  return out;
}

class SqliteCatalog : public Catalog {
 public:
  explicit SqliteCatalog(Database& db) : db_(db) {}

  Result<std::vector<SchemaObject>> Objects(const std::vector<std::string>* tables) override {
    // A virtual table's shadow tables (an FTS5 index's _data, _idx, ...)
    // come and go with it: they are its objects, read with it, so that a
    // run's read of the tables a migration touched (CREATE VIRTUAL TABLE)
    // finds them as a read of the whole schema does.
    STRATA_ASSIGN_OR_RETURN(auto shadow_owner, ShadowTables());
    auto owner = [&](const std::string& table) {
      auto it = shadow_owner.find(AsciiLower(table));
      return it == shadow_owner.end() ? table : it->second;
    };
    auto wanted = [&](const std::string& type, const std::string& table) {
      if (tables == nullptr) return true;
      if (type != "table" && type != "trigger") return false;
      return std::any_of(tables->begin(), tables->end(), [&](const std::string& t) {
        return AsciiLower(t) == AsciiLower(owner(table));
      });
    };
    // With a filter, only the rows of those tables (their indexes and
    // triggers too) are read: a migration's refresh does not grow with the
    // size of the schema.
    std::string only;
    std::vector<Value> params;
    if (tables != nullptr) {
      std::vector<std::string> names = *tables;
      for (const auto& [shadow, of] : shadow_owner) {
        if (wanted("table", shadow)) names.push_back(shadow);
      }
      for (const auto& t : names) {
        params.emplace_back(t);
        only += fmt::format("{}${}", only.empty() ? "" : ", ", params.size());
      }
      // First, so that other rows are passed over before their text is read.
      only = fmt::format("tbl_name COLLATE NOCASE IN ({}) AND ", only.empty() ? "NULL" : only);
    }
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, db_.Query("SELECT type, name, tbl_name, sql FROM sqlite_schema "
                             "WHERE " + only +
                                 "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                                 "AND name NOT LIKE 'strata\\_%' ESCAPE '\\' "
                                 "AND tbl_name NOT LIKE 'strata\\_%' ESCAPE '\\' "
                                 "AND sql IS NOT NULL ORDER BY type, name",
                             params));
    std::vector<SchemaObject> out;
    for (const auto& row : rows.rows) {
      index_sql_[row[1].ToString()] = row[3].ToString();
    }
    for (const auto& row : rows.rows) {
      const std::string type = row[0].ToString(), name = row[1].ToString();
      const std::string table = row[2].ToString(), text = row[3].ToString();
      if (!wanted(type, table)) continue;
      if (type == "table") {
        STRATA_ASSIGN_OR_RETURN(SchemaObject t, Table(name, text, &out));
        out.push_back(std::move(t));
      } else if (type == "view" || type == "trigger") {
        auto tokens = sql::Tokenize(text, Dialect::kSqlite);
        std::string body = tokens.ok() ? Canonical(*tokens, AfterName(*tokens, type), tokens->size())
                                       : text;
        out.push_back(SchemaObject{type, name, {body}, type == "trigger" ? table : ""});
      }
    }
    for (SchemaObject& o : out) {
      if (!o.table.empty()) o.table = owner(o.table);
    }
    return out;
  }

 private:
  /// Each shadow table of a virtual table (lower case) -> the virtual
  /// table: the one whose name and '_' its name begins with.
  Result<std::map<std::string, std::string>> ShadowTables() {
    STRATA_ASSIGN_OR_RETURN(Rows rows, db_.Query("SELECT name, type FROM pragma_table_list "
                                                 "WHERE schema = 'main' AND type IN ('virtual', 'shadow')"));
    std::vector<std::string> virtuals;
    for (const auto& row : rows.rows) {
      if (row[1].ToString() == "virtual") virtuals.push_back(row[0].ToString());
    }
    std::map<std::string, std::string> out;
    for (const auto& row : rows.rows) {
      if (row[1].ToString() != "shadow") continue;
      const std::string shadow = AsciiLower(row[0].ToString());
      std::string of;
      for (const std::string& v : virtuals) {
        if (v.size() > of.size() && shadow.rfind(AsciiLower(v) + "_", 0) == 0) of = v;
      }
      if (!of.empty()) out[shadow] = of;
    }
    return out;
  }

  Result<SchemaObject> Table(const std::string& name, const std::string& create,
                             std::vector<SchemaObject>* indexes) {
    SchemaObject obj{"table", name, {}, name};
    TableText text = ParseTable(create);
    if (!text.virtual_using.empty()) {
      obj.facts.push_back(text.virtual_using);
      return obj;
    }
    if (!text.options.empty()) obj.facts.push_back(text.options);
    STRATA_ASSIGN_OR_RETURN(
        Rows cols, db_.Query("SELECT name, type, \"notnull\", dflt_value, pk, hidden "
                             "FROM pragma_table_xinfo($1) ORDER BY cid",
                             {name}));
    STRATA_ASSIGN_OR_RETURN(Rows index_list, db_.Query("SELECT name, \"unique\", origin "
                                                       "FROM pragma_index_list($1)",
                                                       {name}));
    const bool not_rowid_alias = IntegerKeyNotRowidAlias(text, cols, index_list);
    for (const auto& c : cols.rows) {
      const std::string col = c[0].ToString();
      std::string type = AsciiUpper(CanonicalSql(c[1].ToString()));
      std::string fact = fmt::format("column {} {}", Name(col), type.empty() ? "(no type)" : type);
      // Each addition below prints only when it is not the default, so a
      // table without it prints (and hashes) as before it was read.
      if (c[2].ToInt()) {
        fact += " not null";
        auto conflict = text.not_null_conflict.find(AsciiLower(col));
        if (conflict != text.not_null_conflict.end()) fact += " on conflict " + conflict->second;
      }
      if (!c[3].is_null()) fact += " default " + CanonicalSql(c[3].ToString());
      if (c[4].ToInt()) {
        fact += fmt::format(" primary key #{}", c[4].ToInt());
        if (not_rowid_alias) fact += " desc (not a rowid alias)";
        if (!text.primary_key_conflict.empty()) fact += " on conflict " + text.primary_key_conflict;
      }
      fact += text.column_extra[AsciiLower(col)];
      int64_t hidden = c[5].ToInt();
      if (hidden == 1) fact += " hidden";
      if (hidden == 2 || hidden == 3) {
        fact += fmt::format(" generated {} as {}", hidden == 2 ? "virtual" : "stored",
                            text.generated[AsciiLower(col)]);
      }
      obj.facts.push_back(std::move(fact));
    }
    std::vector<std::string> constraints = text.checks;
    STRATA_RETURN_IF_ERROR(ForeignKeys(name, text, &constraints));
    STRATA_RETURN_IF_ERROR(Indexes(name, text, index_list, &constraints, indexes));
    std::sort(constraints.begin(), constraints.end());
    obj.facts.insert(obj.facts.end(), constraints.begin(), constraints.end());
    return obj;
  }

  /// Whether the table's one-column primary key is declared INTEGER but is
  /// not the rowid: SQLite's quirk for a column written INTEGER PRIMARY KEY
  /// DESC, which gets an index of its own (origin "pk") and keeps values a
  /// rowid would not (NULL, non-integers) instead of aliasing the rowid.
  static bool IntegerKeyNotRowidAlias(const TableText& text, const Rows& cols,
                                      const Rows& index_list) {
    if (text.options.find("without rowid") != std::string::npos) return false;
    int keys = 0;
    bool integer = false;
    for (const auto& c : cols.rows) {
      if (!c[4].ToInt()) continue;
      ++keys;
      integer = AsciiUpper(c[1].ToString()) == "INTEGER";
    }
    return keys == 1 && integer &&
           std::any_of(index_list.rows.begin(), index_list.rows.end(),
                       [](const auto& index) { return index[2].ToString() == "pk"; });
  }

  Status ForeignKeys(const std::string& table, const TableText& text,
                     std::vector<std::string>* out) {
    STRATA_ASSIGN_OR_RETURN(
        Rows fks, db_.Query("SELECT id, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" "
                            "FROM pragma_foreign_key_list($1) ORDER BY id, seq",
                            {table}));
    // SQLite lists the foreign keys last written first (id 0 is the last
    // REFERENCES of the text); if the counts disagree nothing is said.
    const int64_t count = fks.rows.empty() ? 0 : fks.rows.back()[0].ToInt() + 1;
    auto deferred = [&](int64_t id) {
      return count == static_cast<int64_t>(text.fk_deferred.size()) && id >= 0 && id < count &&
             text.fk_deferred[static_cast<size_t>(count - 1 - id)];
    };
    for (size_t i = 0; i < fks.rows.size();) {
      const auto& first = fks.rows[i];
      std::string parent = first[1].ToString(), from, to;
      bool implicit = false;
      for (; i < fks.rows.size() && fks.rows[i][0] == first[0]; ++i) {
        from += (from.empty() ? "" : ", ") + Name(fks.rows[i][2].ToString());
        if (fks.rows[i][3].is_null()) implicit = true;
        to += (to.empty() ? "" : ", ") + Name(fks.rows[i][3].ToString());
      }
      if (implicit) {  // REFERENCES parent: its primary key
        STRATA_ASSIGN_OR_RETURN(Rows pk, db_.Query("SELECT name FROM pragma_table_info($1) "
                                                   "WHERE pk > 0 ORDER BY pk",
                                                   {parent}));
        to.clear();
        for (const auto& r : pk.rows) to += (to.empty() ? "" : ", ") + Name(r[0].ToString());
      }
      std::string fact = fmt::format("foreign key ({}) references {} ({}) on update {} on delete {}",
                                     from, Name(parent), to, AsciiLower(first[4].ToString()),
                                     AsciiLower(first[5].ToString()));
      if (first[6].ToString() != "NONE") fact += " match " + AsciiLower(first[6].ToString());
      if (deferred(first[0].ToInt())) fact += " deferrable initially deferred";
      out->push_back(std::move(fact));
    }
    return Status::OK();
  }

  /// `list`: the table's pragma_index_list (name, unique, origin).
  Status Indexes(const std::string& table, const TableText& text, const Rows& list,
                 std::vector<std::string>* constraints, std::vector<SchemaObject>* out) {
    for (const auto& index : list.rows) {
      const std::string name = index[0].ToString(), origin = index[2].ToString();
      if (origin == "pk") continue;  // the columns' "primary key #n" says it
      STRATA_ASSIGN_OR_RETURN(Rows keys, db_.Query("SELECT cid, name, \"desc\", coll "
                                                   "FROM pragma_index_xinfo($1) "
                                                   "WHERE key ORDER BY seqno",
                                                   {name}));
      // Expressions and WHERE exist only in the CREATE INDEX text.
      Tokens t;
      std::vector<std::pair<size_t, size_t>> elements;
      size_t close = 0;
      if (auto it = index_sql_.find(name); it != index_sql_.end()) {
        if (auto parsed = sql::Tokenize(it->second, Dialect::kSqlite); parsed.ok()) t = *parsed;
        size_t open = AfterName(t, "on");
        if (open < t.size() && t[open].IsPunct('(')) {
          elements = Elements(t, open);
          close = Close(t, open);
        }
      }
      std::vector<std::string> parts;
      std::string names;  // lower-cased, as TableText::unique_conflict has them
      for (size_t k = 0; k < keys.rows.size(); ++k) {
        names += (k ? ", " : "") + AsciiLower(keys.rows[k][1].ToString());
        const auto& key = keys.rows[k];
        if (key[0].ToInt() == -2) {
          parts.push_back(k < elements.size() ? Canonical(t, elements[k].first, elements[k].second)
                                              : "(expression)");
          continue;
        }
        std::string part = Name(key[1].ToString());
        if (key[2].ToInt()) part += " desc";
        if (AsciiUpper(key[3].ToString()) != "BINARY") part += " collate " + AsciiLower(key[3].ToString());
        parts.push_back(std::move(part));
      }
      std::string columns;
      for (const auto& p : parts) columns += (columns.empty() ? "" : ", ") + p;
      if (origin == "u") {
        // Two UNIQUE constraints on the same columns are one index, which
        // takes the ON CONFLICT of whichever has one (SQLite refuses two).
        auto conflict = text.unique_conflict.find(names);
        std::string fact = "unique (" + columns + ")";
        if (conflict != text.unique_conflict.end()) fact += " on conflict " + conflict->second;
        constraints->push_back(std::move(fact));
        continue;
      }
      SchemaObject obj{"index", name, {}, table};
      obj.facts.push_back(fmt::format("{}on {} ({})", index[1].ToInt() ? "unique " : "",
                                      Name(table), columns));
      if (close && close + 1 < t.size() && t[close + 1].IsWord("where")) {
        obj.facts.push_back(Canonical(t, close + 1, t.size()));
      }
      out->push_back(std::move(obj));
    }
    return Status::OK();
  }

  Database& db_;
  std::map<std::string, std::string> index_sql_;  // every object's CREATE text by name
};

}  // namespace

std::unique_ptr<Catalog> NewSqliteCatalog(Database& db) { return std::make_unique<SqliteCatalog>(db); }

}  // namespace strata
