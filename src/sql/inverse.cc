#include "sql/inverse.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "sql/classify.h"
#include "sql/lexer.h"
#include "strata/status.h"

namespace strata::sql {

namespace {

// Writes names as SQL, quoting those that need it or were written quoted.
class Namer {
 public:
  Namer(const StatementInfo& info, Dialect dialect) : info_(info), dialect_(dialect) {}

  std::string Name(const std::string& name) const {
    const auto& quoted = info_.quoted_names;
    if (std::find(quoted.begin(), quoted.end(), name) != quoted.end()) {
      return QuoteIdentifier(name);
    }
    return IdentifierSql(name, dialect_);
  }
  std::string Qualified(const std::string& name) const {
    return info_.schema.empty() ? Name(name) : Name(info_.schema) + "." + Name(name);
  }

 private:
  const StatementInfo& info_;
  Dialect dialect_;
};

Status Irreversible(std::string why) { return Status(Code::kIrreversible, std::move(why)); }

bool IsCreate(StatementKind kind) {
  switch (kind) {
    case StatementKind::kCreateTable:
    case StatementKind::kCreateIndex:
    case StatementKind::kCreateView:
    case StatementKind::kCreateTrigger:
    case StatementKind::kCreateSequence:
    case StatementKind::kCreateSchema:
    case StatementKind::kCreateType:
    case StatementKind::kCreateFunction:
    case StatementKind::kCreateExtension:
      return true;
    default:
      return false;
  }
}

/// The statements undoing `info`, each ending ";\n", or kIrreversible with why not.
Result<std::string> InverseOf(const StatementInfo& info, Dialect dialect) {
  const Namer namer(info, dialect);
  const bool pg = dialect == Dialect::kPostgres;
  if (IsCreate(info.kind)) {
    if (info.or_replace) return Irreversible("it may have replaced an existing object");
    if (info.if_not_exists) return Irreversible("the object may have existed before");
    if (info.object.empty()) return Irreversible("no name to drop it by");
  }
  switch (info.kind) {
    case StatementKind::kCreateTable:
      return "DROP TABLE " + namer.Qualified(info.object) + ";\n";
    case StatementKind::kCreateIndex:
      return std::string("DROP INDEX ") + (pg && info.concurrently ? "CONCURRENTLY " : "") +
             namer.Qualified(info.object) + ";\n";
    case StatementKind::kCreateView:
      return std::string(info.materialized ? "DROP MATERIALIZED VIEW " : "DROP VIEW ") +
             namer.Qualified(info.object) + ";\n";
    case StatementKind::kCreateTrigger:
      if (pg) {
        return "DROP TRIGGER " + namer.Name(info.object) + " ON " +
               namer.Qualified(info.table) + ";\n";
      }
      return "DROP TRIGGER " + namer.Qualified(info.object) + ";\n";
    case StatementKind::kCreateSequence:
      return "DROP SEQUENCE " + namer.Qualified(info.object) + ";\n";
    case StatementKind::kCreateSchema:
      return "DROP SCHEMA " + namer.Name(info.object) + ";\n";
    case StatementKind::kCreateType:
      return "DROP TYPE " + namer.Qualified(info.object) + ";\n";
    case StatementKind::kCreateExtension:
      return "DROP EXTENSION " + namer.Name(info.object) + ";\n";
    case StatementKind::kCreateFunction:
      return Irreversible("dropping it needs its exact signature");
    case StatementKind::kAddColumn: {
      if (info.if_not_exists) return Irreversible("the column may have existed before");
      // IF EXISTS on the table carries over: no table, nothing added, nothing to drop.
      const std::string alter = std::string("ALTER TABLE ") + (info.if_exists ? "IF EXISTS " : "") +
                                namer.Qualified(info.table) + " DROP COLUMN ";
      std::string down;
      for (auto it = info.columns.rbegin(); it != info.columns.rend(); ++it) {
        down += alter + namer.Name(*it) + ";\n";
      }
      return down;
    }
    case StatementKind::kRenameTable:
      if (info.if_exists) return Irreversible("the table may not have existed");
      return "ALTER TABLE " + namer.Qualified(info.new_name) + " RENAME TO " +
             namer.Name(info.table) + ";\n";
    case StatementKind::kRenameColumn:
      if (info.if_exists) return Irreversible("the table may not have existed");
      return "ALTER TABLE " + namer.Qualified(info.table) + " RENAME COLUMN " +
             namer.Name(info.new_name) + " TO " + namer.Name(info.column) + ";\n";
    default:
      return Irreversible("no certain inverse");
  }
}

/// The text of tokens [from, to) of `t`, as written, joined by single spaces
/// ("s . a" for s.a is valid SQL too).
std::string Spelled(const std::vector<Token>& t, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to && i < t.size(); ++i) {
    if (!out.empty() && !t[i].IsPunct('.') && !t[i - 1].IsPunct('.')) out += ' ';
    out += t[i].text;
  }
  return out;
}

bool IsName(const Token& t) {
  return t.kind == TokenKind::kWord || t.kind == TokenKind::kQuotedIdentifier;
}

/// Reads a name, possibly schema-qualified, at t[*i]; moves past it and
/// says where its last part is, or npos when there is no name there.
size_t ReadName(const std::vector<Token>& t, size_t* i) {
  if (*i >= t.size() || !IsName(t[*i])) return std::string::npos;
  size_t last = (*i)++;
  while (*i + 1 < t.size() && t[*i].IsPunct('.') && IsName(t[*i + 1])) {
    last = *i + 1;
    *i += 2;
  }
  return last;
}

/// The inverse of a PostgreSQL ALTER whose undoing is certain from its text:
/// a rename of an index, view, sequence, type, enum value or constraint;
/// ADD CONSTRAINT (a named CHECK, UNIQUE, FOREIGN KEY or EXCLUDE: dropping it
/// takes exactly what it made); VALIDATE CONSTRAINT of a constraint the
/// script added (dropping that one undoes both). nullopt: not such an ALTER.
/// `added` collects "table\x1fconstraint" keys of the constraints added.
std::optional<Result<std::string>> InverseOfAlter(std::string_view text,
                                                  std::set<std::string>& added) {
  auto tokens = Tokenize(text, Dialect::kPostgres);
  if (!tokens.ok()) return std::nullopt;
  const std::vector<Token>& t = *tokens;
  size_t i = 1;
  if (t.empty() || !t[0].IsWord("ALTER") || t.size() < 2) return std::nullopt;
  // One action only: a top-level comma means several.
  int depth = 0;
  for (const Token& k : t) {
    if (k.IsPunct('(')) ++depth;
    if (k.IsPunct(')')) --depth;
    if (depth == 0 && k.IsPunct(',')) return std::nullopt;
  }
  std::string kind;
  if (t[i].IsWord("MATERIALIZED") && i + 1 < t.size() && t[i + 1].IsWord("VIEW")) {
    kind = "MATERIALIZED VIEW";
    i += 2;
  } else if (t[i].IsWord("INDEX") || t[i].IsWord("VIEW") || t[i].IsWord("SEQUENCE") ||
             t[i].IsWord("TYPE") || t[i].IsWord("TABLE")) {
    kind = Spelled(t, i, i + 1);
    ++i;
  } else {
    return std::nullopt;
  }
  const bool table = t[i - 1].IsWord("TABLE");
  const bool type = t[i - 1].IsWord("TYPE");
  if (i < t.size() && t[i].IsWord("IF")) {
    return Result<std::string>(Irreversible("with IF EXISTS the object may not have existed"));
  }
  if (table && i < t.size() && t[i].IsWord("ONLY")) ++i;
  const size_t name_start = i;
  const size_t last = ReadName(t, &i);
  if (last == std::string::npos) return std::nullopt;
  const std::string name = Spelled(t, name_start, i);
  const std::string qualifier = Spelled(t, name_start, last);  // "s ." or ""
  auto at = [&](size_t k, std::string_view word) { return k < t.size() && t[k].IsWord(word); };
  const size_t n = t.size();
  // ALTER <kind> name RENAME TO new
  if (!table && at(i, "RENAME") && at(i + 1, "TO") && i + 3 == n && IsName(t[i + 2])) {
    return Result<std::string>(fmt::format("ALTER {} {}{} RENAME TO {};\n", kind, qualifier,
                                           t[i + 2].text, t[last].text));
  }
  // ALTER TYPE name RENAME VALUE 'a' TO 'b'
  if (type) {
    if (at(i, "RENAME") && at(i + 1, "VALUE") && i + 5 == n &&
        t[i + 2].kind == TokenKind::kString && at(i + 3, "TO") &&
        t[i + 4].kind == TokenKind::kString) {
      return Result<std::string>(fmt::format("ALTER TYPE {} RENAME VALUE {} TO {};\n", name,
                                             t[i + 4].text, t[i + 2].text));
    }
    return std::nullopt;
  }
  if (!table) return std::nullopt;
  auto key = [&](const Token& constraint) {
    return NameKey(IdentifierName(t[last], Dialect::kPostgres), Dialect::kPostgres) + "\x1f" +
           NameKey(IdentifierName(constraint, Dialect::kPostgres), Dialect::kPostgres);
  };
  // ALTER TABLE name RENAME CONSTRAINT a TO b
  if (at(i, "RENAME") && at(i + 1, "CONSTRAINT") && i + 5 == n && IsName(t[i + 2]) &&
      at(i + 3, "TO") && IsName(t[i + 4])) {
    return Result<std::string>(fmt::format("ALTER TABLE {} RENAME CONSTRAINT {} TO {};\n", name,
                                           t[i + 4].text, t[i + 2].text));
  }
  // ALTER TABLE name ADD CONSTRAINT c CHECK|UNIQUE|FOREIGN KEY|EXCLUDE ...
  if (at(i, "ADD") && at(i + 1, "CONSTRAINT") && i + 3 < n && IsName(t[i + 2])) {
    const Token& what = t[i + 3];
    if (!what.IsWord("CHECK") && !what.IsWord("UNIQUE") && !what.IsWord("FOREIGN") &&
        !what.IsWord("EXCLUDE")) {
      // A primary key also sets its columns NOT NULL, which dropping it
      // leaves; USING INDEX takes over an index that was there before.
      return std::nullopt;
    }
    for (size_t k = i + 4; k + 1 < n; ++k) {
      if (t[k].IsWord("USING") && t[k + 1].IsWord("INDEX")) return std::nullopt;
    }
    added.insert(key(t[i + 2]));
    return Result<std::string>(
        fmt::format("ALTER TABLE {} DROP CONSTRAINT {};\n", name, t[i + 2].text));
  }
  // ALTER TABLE name VALIDATE CONSTRAINT c, of a constraint added above.
  if (at(i, "VALIDATE") && at(i + 1, "CONSTRAINT") && i + 3 == n && IsName(t[i + 2])) {
    if (added.count(key(t[i + 2]))) return Result<std::string>(std::string());
    return Result<std::string>(Irreversible("a validated constraint cannot be marked NOT VALID again"));
  }
  return std::nullopt;
}

/// The key of the possibly qualified name at t[*i] ("schema.name" as
/// DeriveInverse keys the tables a script creates), moving past it; "" when
/// there is no name there.
std::string NameKeyAt(const std::vector<Token>& t, size_t* i) {
  const size_t start = *i;
  const size_t last = ReadName(t, i);
  if (last == std::string::npos) return "";
  std::string schema = last == start ? "" : IdentifierName(t[start], Dialect::kPostgres);
  return NameKey(schema + "." + IdentifierName(t[last], Dialect::kPostgres), Dialect::kPostgres);
}

/// The name PostgreSQL gives a constraint of table `table` on `columns`
/// ("a_b") with `label` ("fkey"): "table_a_b_fkey", the longer of the two
/// names shortened a byte at a time (never into a UTF-8 character) until it
/// fits in 63 bytes (makeObjectName in its source).
std::string ConstraintName(const std::string& table, const std::string& columns, const std::string& label) {
  const size_t room = 63 - (label.size() + 2);
  size_t a = table.size(), b = columns.size();
  while (a + b > room) (a > b ? a : b)--;
  auto clip = [](const std::string& s, size_t n) {
    while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
  };
  return clip(table, a) + "_" + clip(columns, b) + "_" + label;
}

/// The inverse of PostgreSQL's ALTER TABLE t ADD FOREIGN KEY (a, b)
/// REFERENCES .. on a table t the script created (`created` holds their
/// keys): dropping the constraint by the name PostgreSQL gives it,
/// "t_a_b_fkey". Dropping t would take it too, but the table it references
/// may be created after t and so dropped before it, which the constraint
/// forbids (Prisma adds every foreign key after all its CREATE TABLEs).
/// nullopt when the statement is not such an ALTER.
std::optional<std::string> InverseOfUnnamedForeignKey(std::string_view text,
                                                      const std::set<std::string>& created) {
  auto tokens = Tokenize(text, Dialect::kPostgres);
  if (!tokens.ok()) return std::nullopt;
  const std::vector<Token>& t = *tokens;
  const size_t n = t.size();
  auto at = [&](size_t k, std::string_view word) { return k < n && t[k].IsWord(word); };
  if (!at(0, "ALTER") || !at(1, "TABLE")) return std::nullopt;
  size_t i = 2;
  if (at(i, "ONLY")) ++i;
  const size_t name_start = i;
  const size_t last = ReadName(t, &i);
  if (last == std::string::npos) return std::nullopt;
  size_t key_at = name_start;
  if (!created.count(NameKeyAt(t, &key_at))) return std::nullopt;
  if (!at(i, "ADD") || !at(i + 1, "FOREIGN") || !at(i + 2, "KEY") || i + 3 >= n ||
      !t[i + 3].IsPunct('(')) {
    return std::nullopt;
  }
  // The columns joined by "_", no further than PostgreSQL's 64 bytes.
  std::string columns;
  size_t k = i + 4;
  for (; k < n && IsName(t[k]); k += 2) {
    if (columns.size() < 64) columns += (columns.empty() ? "" : "_") + IdentifierName(t[k], Dialect::kPostgres);
    if (k + 1 < n && t[k + 1].IsPunct(')')) break;
    if (k + 1 >= n || !t[k + 1].IsPunct(',')) return std::nullopt;
  }
  if (k >= n || k + 1 >= n || !t[k + 1].IsPunct(')')) return std::nullopt;
  // One action only: a top-level comma after the column list means several.
  int depth = 0;
  for (size_t j = k + 2; j < n; ++j) {
    if (t[j].IsPunct('(')) ++depth;
    if (t[j].IsPunct(')')) --depth;
    if (depth == 0 && t[j].IsPunct(',')) return std::nullopt;
  }
  const std::string name = ConstraintName(IdentifierName(t[last], Dialect::kPostgres), columns, "fkey");
  return fmt::format("ALTER TABLE {} DROP CONSTRAINT {};\n", Spelled(t, name_start, i),
                     IdentifierSql(name, Dialect::kPostgres));
}

/// Whether `t`, COMMENT ON COLUMN [schema.]relation.column IS .., names a
/// relation `made` says the script created.
bool CommentsOnColumnOf(const std::vector<Token>& t, const std::function<bool(const std::string&)>& made) {
  size_t i = 3;
  const size_t start = i;
  const size_t last = ReadName(t, &i);
  if (last == std::string::npos || last == start || i >= t.size() || !t[i].IsWord("IS")) return false;
  size_t table_end = last - 1;  // the '.' before the column
  std::vector<Token> table(t.begin() + static_cast<std::ptrdiff_t>(start),
                           t.begin() + static_cast<std::ptrdiff_t>(table_end));
  size_t j = 0;
  return made(NameKeyAt(table, &j)) && j == table.size();
}

/// Whether PostgreSQL statement `text` only dresses a table the same script
/// created (`created` holds their keys), so that dropping the table undoes
/// it too: COMMENT ON TABLE t / COLUMN t.c, GRANT or REVOKE ... ON [TABLE]
/// t[, u], CREATE POLICY p ON t, and ALTER TABLE t with any action but a
/// rename, SET SCHEMA or ATTACH PARTITION (which would make dropping t drop
/// a table that was there before). Supabase and Rails migrations write these
/// right after their CREATE TABLE.
bool OnlyDressesCreatedTable(std::string_view text, const std::set<std::string>& created) {
  auto tokens = Tokenize(text, Dialect::kPostgres);
  if (!tokens.ok() || tokens->size() < 3) return false;
  const std::vector<Token>& t = *tokens;
  const size_t n = t.size();
  auto at = [&](size_t k, std::string_view word) { return k < n && t[k].IsWord(word); };
  auto made = [&](const std::string& key) { return !key.empty() && created.count(key) > 0; };
  size_t i = 0;
  if (at(0, "COMMENT") && at(1, "ON")) {
    i = 3;
    if (at(2, "TABLE")) return made(NameKeyAt(t, &i)) && at(i, "IS");
    return at(2, "COLUMN") && CommentsOnColumnOf(t, made);
  }
  if (at(0, "GRANT") || at(0, "REVOKE")) {
    // ... ON [TABLE] t[, u] TO|FROM ...: every object named must be one created.
    while (i < n && !t[i].IsWord("ON")) ++i;
    ++i;
    if (at(i, "TABLE")) ++i;
    // A keyword naming another kind of object (ALL, SCHEMA, SEQUENCE,
    // FUNCTION, ...) is not a created table's name, so it is refused here.
    for (;;) {
      if (!made(NameKeyAt(t, &i))) return false;
      if (i >= n || !t[i].IsPunct(',')) break;
      ++i;
    }
    return at(i, "TO") || at(i, "FROM");
  }
  if (at(0, "CREATE") && at(1, "POLICY")) {
    i = 2;
    if (ReadName(t, &i) == std::string::npos || !at(i, "ON")) return false;
    ++i;
    return made(NameKeyAt(t, &i));
  }
  if (at(0, "ALTER") && at(1, "TABLE")) {
    i = 2;
    if (at(i, "IF")) return false;
    if (at(i, "ONLY")) ++i;
    if (!made(NameKeyAt(t, &i)) || i >= n) return false;
    for (size_t k = i; k < n; ++k) {
      if (t[k].IsWord("RENAME") || t[k].IsWord("ATTACH") ||
          (t[k].IsWord("SET") && at(k + 1, "SCHEMA"))) {
        return false;
      }
    }
    return true;
  }
  return false;
}

/// Whether PostgreSQL statement `text` only comments on or grants a view,
/// materialized view, sequence, type, index, function or procedure the same
/// script created (`objects` holds their keys, a routine's without its
/// arguments; `tables` the tables', which a GRANT may list with them), so
/// that dropping the object undoes it too: COMMENT ON VIEW v, COMMENT ON
/// COLUMN v.c, COMMENT ON FUNCTION f(int), GRANT SELECT ON v TO ..., GRANT
/// USAGE ON SEQUENCE s TO ...
bool OnlyDressesCreatedObject(std::string_view text, const std::set<std::string>& tables,
                              const std::set<std::string>& objects) {
  auto tokens = Tokenize(text, Dialect::kPostgres);
  if (!tokens.ok() || tokens->size() < 3) return false;
  const std::vector<Token>& t = *tokens;
  const size_t n = t.size();
  auto at = [&](size_t k, std::string_view word) { return k < n && t[k].IsWord(word); };
  auto made = [&](const std::string& key) { return !key.empty() && objects.count(key) > 0; };
  size_t i = 2;
  if (at(0, "COMMENT") && at(1, "ON")) {
    if (at(i, "COLUMN")) return CommentsOnColumnOf(t, made);
    const bool routine = at(i, "FUNCTION") || at(i, "PROCEDURE") || at(i, "ROUTINE");
    if (at(i, "MATERIALIZED") && at(i + 1, "VIEW")) {
      i += 2;
    } else if (routine || at(i, "VIEW") || at(i, "SEQUENCE") || at(i, "TYPE") || at(i, "INDEX")) {
      ++i;
    } else {
      return false;
    }
    if (!made(NameKeyAt(t, &i))) return false;
    if (routine && i < n && t[i].IsPunct('(')) {  // its arguments
      for (int depth = 0; i < n; ++i) {
        if (t[i].IsPunct('(')) ++depth;
        if (t[i].IsPunct(')') && --depth == 0) break;
      }
      ++i;
    }
    return at(i, "IS");
  }
  if (!at(0, "GRANT") && !at(0, "REVOKE")) return false;
  i = 0;
  while (i < n && !t[i].IsWord("ON")) ++i;
  ++i;
  if (at(i, "TABLE") || at(i, "SEQUENCE") || at(i, "TYPE")) ++i;
  bool object = false;  // one of them is not a table (those are OnlyDressesCreatedTable's)
  for (;;) {
    const std::string key = NameKeyAt(t, &i);
    if (made(key)) {
      object = true;
    } else if (key.empty() || tables.count(key) == 0) {
      return false;
    }
    if (i >= n || !t[i].IsPunct(',')) break;
    ++i;
  }
  return object && (at(i, "TO") || at(i, "FROM"));
}

/// The inverse of PostgreSQL's CREATE POLICY p ON t (there is no OR REPLACE
/// nor IF NOT EXISTS: it made the policy); nullopt for another statement.
std::optional<std::string> InverseOfCreatePolicy(std::string_view text) {
  auto tokens = Tokenize(text, Dialect::kPostgres);
  if (!tokens.ok()) return std::nullopt;
  const std::vector<Token>& t = *tokens;
  if (t.size() < 5 || !t[0].IsWord("CREATE") || !t[1].IsWord("POLICY")) return std::nullopt;
  size_t i = 2;
  const size_t name = ReadName(t, &i);  // a policy's name is never qualified
  if (name != 2 || i != 3 || !t[i].IsWord("ON")) return std::nullopt;
  const size_t start = ++i;
  if (ReadName(t, &i) == std::string::npos) return std::nullopt;
  return fmt::format("DROP POLICY {} ON {};\n", t[2].text, Spelled(t, start, i));
}

/// The inverse of a PostgreSQL CREATE FUNCTION or CREATE PROCEDURE (not OR
/// REPLACE, which may have replaced one): DROP FUNCTION name(arguments), the
/// arguments as written less their defaults, which is exactly the routine
/// it made (a trigger function `set_updated_at()`, a backfill `f(a int)`).
/// nullopt: not such a statement, or its argument list does not read.
std::optional<std::string> InverseOfCreateRoutine(std::string_view text) {
  auto tokens = Tokenize(text, Dialect::kPostgres);
  if (!tokens.ok()) return std::nullopt;
  const std::vector<Token>& t = *tokens;
  if (t.size() < 5 || !t[0].IsWord("CREATE")) return std::nullopt;
  size_t i = 1;
  if (!t[i].IsWord("FUNCTION") && !t[i].IsWord("PROCEDURE")) return std::nullopt;
  const std::string kind = t[i].IsWord("FUNCTION") ? "FUNCTION" : "PROCEDURE";
  const size_t start = ++i;
  if (ReadName(t, &i) == std::string::npos || i >= t.size() || !t[i].IsPunct('(')) return std::nullopt;
  const std::string name = Spelled(t, start, i);
  // The arguments: each as written up to its DEFAULT (or `=`) at depth 1.
  std::vector<std::string> args;
  size_t arg_start = ++i, arg_end = std::string::npos;
  int depth = 1;
  for (; i < t.size() && depth > 0; ++i) {
    if (t[i].IsPunct('(') || t[i].IsPunct('[')) ++depth;
    if (t[i].IsPunct(')') || t[i].IsPunct(']')) --depth;
    const bool ends = depth == 0 || (depth == 1 && t[i].IsPunct(','));
    if (depth == 1 && arg_end == std::string::npos &&
        (t[i].IsWord("DEFAULT") || (t[i].kind == TokenKind::kOperator && t[i].text == "="))) {
      arg_end = i;
    }
    if (ends) {
      const size_t end = arg_end == std::string::npos ? i : arg_end;
      if (end > arg_start) {
        args.push_back(Spelled(t, arg_start, end));
      } else if (t[i].IsPunct(',')) {
        return std::nullopt;  // an empty argument: not a list that reads
      }
      arg_start = i + 1;
      arg_end = std::string::npos;
    }
  }
  if (depth != 0) return std::nullopt;
  std::string list;
  for (const auto& a : args) list += (list.empty() ? "" : ", ") + a;
  return fmt::format("DROP {} {}({});\n", kind, name, list);
}

/// The inverse of a PostgreSQL CREATE DOMAIN: DROP DOMAIN name (a domain
/// has no IF NOT EXISTS or OR REPLACE: it is the one the statement made).
std::optional<std::string> InverseOfCreateDomain(std::string_view text) {
  auto tokens = Tokenize(text, Dialect::kPostgres);
  if (!tokens.ok()) return std::nullopt;
  const std::vector<Token>& t = *tokens;
  if (t.size() < 4 || !t[0].IsWord("CREATE") || !t[1].IsWord("DOMAIN")) return std::nullopt;
  size_t i = 2;
  if (ReadName(t, &i) == std::string::npos) return std::nullopt;
  return fmt::format("DROP DOMAIN {};\n", Spelled(t, 2, i));
}

/// Whether `text` leaves nothing behind to undo: a setting of the session
/// or transaction (SET, RESET), a transaction-level advisory lock, or a
/// SELECT that calls no function (SELECT 1).
bool LeavesNothing(std::string_view text, Dialect dialect) {
  auto tokens = Tokenize(text, dialect);
  if (!tokens.ok() || tokens->empty()) return false;
  const std::vector<Token>& t = *tokens;
  if (t[0].IsWord("SET") || t[0].IsWord("RESET")) return dialect == Dialect::kPostgres;
  if (!t[0].IsWord("SELECT")) return false;
  if (t.size() >= 3 && (t[1].IsWord("pg_advisory_xact_lock") || t[1].IsWord("pg_advisory_xact_lock_shared")) &&
      t[2].IsPunct('(')) {
    int depth = 0;  // the call is the whole statement
    for (size_t i = 2; i < t.size(); ++i) {
      if (t[i].IsPunct('(')) ++depth;
      if (t[i].IsPunct(')') && --depth == 0) {
        return i + 1 == t.size() || t[i + 1].kind == TokenKind::kEnd;
      }
    }
    return false;
  }
  return std::none_of(t.begin(), t.end(), [](const Token& k) {
    return k.IsPunct('(') || k.IsWord("FROM") || k.IsWord("INTO");
  });
}

/// Whether a CREATE SCHEMA statement also creates objects in it
/// (PostgreSQL's schema elements: CREATE SCHEMA s CREATE TABLE t .. CREATE
/// VIEW v ..), found as a CREATE or GRANT after its first word.
bool MakesSchemaElements(std::string_view text, Dialect dialect) {
  auto tokens = Tokenize(text, dialect);
  if (!tokens.ok()) return false;
  for (size_t i = 1; i < tokens->size(); ++i) {
    if ((*tokens)[i].IsWord("CREATE") || (*tokens)[i].IsWord("GRANT")) return true;
  }
  return false;
}

/// The statement's first word, upper-cased: "BEGIN".
std::string FirstWord(std::string_view text, Dialect dialect) {
  Lexer lexer(text, dialect);
  Result<Token> token = lexer.Next();
  std::string word(token.ok() ? token->text : std::string_view());
  for (char& c : word) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return word;
}

}  // namespace

Inverse DeriveInverse(const std::vector<Statement>& up, Dialect dialect) {
  Inverse inverse;
  std::vector<std::string> steps;
  steps.reserve(up.size());
  // Rows written to a table the script creates go when it is dropped.
  std::set<std::string> created;
  std::set<std::string> constraints_added;
  std::set<std::string> created_objects;  // views, sequences, types, routines: what dresses them goes too
  auto key = [dialect](const std::string& name) { return NameKey(name, dialect); };
  for (const Statement& statement : up) {
    const StatementInfo info = Classify(statement.text, dialect);
    const std::string line = "line " + std::to_string(statement.line) + ": ";
    if (info.kind == StatementKind::kTransactionControl) {
      inverse.reason = line + FirstWord(statement.text, dialect) + " manages its own transaction";
      return inverse;
    }
    // A temporary table goes with the session that applied the script; the
    // rollback drops it only if it runs in that session still (a rehearsal),
    // never a permanent table of that name. What is written to it goes too.
    if (info.kind == StatementKind::kCreateTable && info.temporary && !info.object.empty() &&
        !info.or_replace) {
      steps.push_back(fmt::format("DROP TABLE IF EXISTS {}.{};\n",
                                  dialect == Dialect::kPostgres ? "pg_temp" : "temp",
                                  Namer(info, dialect).Name(info.object)));
      created.insert(key(info.schema + "." + info.object));
      continue;
    }
    bool dml = info.kind == StatementKind::kInsert || info.kind == StatementKind::kUpdate ||
               info.kind == StatementKind::kDelete;
    if (dml && !info.table.empty() && created.count(key(info.schema + "." + info.table))) continue;
    if (info.kind == StatementKind::kCreateSchema && MakesSchemaElements(statement.text, dialect)) {
      if (inverse.reason.empty()) {
        inverse.reason = line + info.summary +
                         " (it also creates the tables, views or grants it lists, which DROP "
                         "SCHEMA would not drop; write a down script that drops them first)";
      }
      continue;
    }
    // An index on a table the script created goes with the table: one
    // without a name (CREATE INDEX ON t (c)) needs no name to drop it by.
    if (info.kind == StatementKind::kCreateIndex && info.object.empty() && !info.table.empty() &&
        created.count(key(info.schema + "." + info.table))) {
      continue;
    }
    if (LeavesNothing(statement.text, dialect)) continue;
    const bool pg = dialect == Dialect::kPostgres;
    std::optional<Result<std::string>> alter;
    if (pg && info.kind == StatementKind::kAlterOther) {
      alter = InverseOfAlter(statement.text, constraints_added);
    }
    const bool other = info.kind == StatementKind::kAlterOther || info.kind == StatementKind::kOther;
    if (pg && other && !alter) {
      if (auto drop = InverseOfUnnamedForeignKey(statement.text, created)) alter = Result<std::string>(*drop);
    }
    if (pg && other && (!alter || !alter->ok()) && OnlyDressesCreatedTable(statement.text, created)) {
      continue;
    }
    if (pg && other && (!alter || !alter->ok()) &&
        OnlyDressesCreatedObject(statement.text, created, created_objects)) {
      continue;
    }
    if (pg && !alter) {
      if (auto drop = InverseOfCreatePolicy(statement.text)) alter = Result<std::string>(*drop);
    }
    if (pg && !alter && info.kind == StatementKind::kOther) {
      if (auto drop = InverseOfCreateDomain(statement.text)) alter = Result<std::string>(*drop);
    }
    if (pg && !alter && info.kind == StatementKind::kCreateFunction && !info.or_replace) {
      if (auto drop = InverseOfCreateRoutine(statement.text)) alter = Result<std::string>(*drop);
    }
    Result<std::string> step = alter ? std::move(*alter) : InverseOf(info, dialect);
    if (!step.ok()) {
      // The reason names the first statement that destroys data, else the
      // first without an inverse (a PRAGMA before a table rebuild's DROP
      // TABLE is not what a user needs to hear about).
      std::string reason = line + info.summary + " (" + step.status().message() + ")";
      if (info.destructive) {
        inverse.reason = std::move(reason);
        return inverse;
      }
      if (inverse.reason.empty()) inverse.reason = std::move(reason);
      continue;
    }
    steps.push_back(std::move(step).value());
    if (info.kind == StatementKind::kCreateTable) created.insert(key(info.schema + "." + info.object));
    if (info.kind == StatementKind::kCreateView || info.kind == StatementKind::kCreateSequence ||
        info.kind == StatementKind::kCreateType || info.kind == StatementKind::kCreateIndex ||
        info.kind == StatementKind::kCreateFunction) {
      created_objects.insert(key(info.schema + "." + info.object));
    }
  }
  if (!inverse.reason.empty()) return inverse;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) inverse.down_script += *it;
  inverse.reversible = true;
  return inverse;
}

}  // namespace strata::sql
