#include "sql/inverse.h"

#include <algorithm>
#include <set>

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
  auto key = [dialect](const std::string& name) { return NameKey(name, dialect); };
  for (const Statement& statement : up) {
    const StatementInfo info = Classify(statement.text, dialect);
    const std::string line = "line " + std::to_string(statement.line) + ": ";
    if (info.kind == StatementKind::kTransactionControl) {
      inverse.reason = line + FirstWord(statement.text, dialect) + " manages its own transaction";
      return inverse;
    }
    bool dml = info.kind == StatementKind::kInsert || info.kind == StatementKind::kUpdate ||
               info.kind == StatementKind::kDelete;
    if (dml && !info.table.empty() && created.count(key(info.schema + "." + info.table))) continue;
    if (LeavesNothing(statement.text, dialect)) continue;
    Result<std::string> step = InverseOf(info, dialect);
    if (!step.ok()) {
      inverse.reason = line + info.summary + " (" + step.status().message() + ")";
      return inverse;
    }
    steps.push_back(std::move(step).value());
    if (info.kind == StatementKind::kCreateTable) created.insert(key(info.schema + "." + info.object));
  }
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) inverse.down_script += *it;
  inverse.reversible = true;
  return inverse;
}

}  // namespace strata::sql
