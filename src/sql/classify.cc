#include "sql/classify.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <optional>
#include <span>
#include <utility>

#include "sql/lexer.h"
#include "util/text.h"

namespace strata::sql {

namespace {

void AddWriteTargets(std::span<const Token> b, Dialect dialect, std::vector<std::string>& out,
                     std::vector<std::string>& rewrites, std::vector<ObjectName>* qualified = nullptr);

std::string Qualified(const std::string& schema, const std::string& name) {
  return schema.empty() ? name : schema + "." + name;
}



/// "a, b, c"
std::string JoinNames(const std::vector<std::string>& names, const std::string& prefix) {
  std::string joined;
  for (const std::string& name : names) {
    if (!joined.empty()) joined += ", ";
    joined += prefix + name;
  }
  return joined;
}

enum class ActionKind { kAddColumn, kDropColumn, kAlterType, kRenameTable, kRenameColumn, kOther };

/// One action of an ALTER TABLE.
struct Action {
  ActionKind kind = ActionKind::kOther;
  std::string column;
  std::string new_name;
  bool if_exists = false;
  bool if_not_exists = false;
  bool fills = false;  // kAddColumn: existing rows get a value (a default, generated, serial)
  bool cascades = false;  // DROP CONSTRAINT .. CASCADE: other tables' foreign keys go with it
  std::string type, using_expr;  // kAlterType
  /// kOther that changes no rows and no column: ADD or DROP (not CASCADE)
  /// CONSTRAINT, ALTER COLUMN SET or DROP DEFAULT or NOT NULL.
  bool keeps_data = false;
};

/// A cursor over one statement's tokens that fills in a StatementInfo.
class Parser {
 public:
  Parser(std::string_view text, std::vector<Token> tokens, Dialect dialect)
      : text_(text), tokens_(std::move(tokens)), dialect_(dialect), end_(tokens_.size()) {
    end_token_.offset = text.size();
  }

  StatementInfo Parse();

 private:
  const Token& Peek(size_t ahead = 0) const {
    return pos_ + ahead < end_ ? tokens_[pos_ + ahead] : end_token_;
  }
  bool Accept(std::string_view word) {
    if (!Peek().IsWord(word)) return false;
    ++pos_;
    return true;
  }
  bool AcceptAll(std::initializer_list<std::string_view> words);
  bool AcceptPunct(char c);
  void AcceptStar();
  bool IsName(const Token& token) const;
  /// Reads one identifier; "" when the next token is not one.
  std::string ReadName();
  ObjectName ReadQualifiedName();
  void SetTable(const ObjectName& name);
  /// Whether the rest of an ADD COLUMN action (up to end_) gives existing rows a value.
  bool FillsExistingRows() const;
  /// Index of the first token in [from, end_) outside parentheses that is one
  /// of `words` (or the punct `punct`); end_ when there is none.
  size_t FindTopLevel(size_t from, std::initializer_list<std::string_view> words,
                      char punct = '\0') const;
  /// The statement text from token `first` to just before token `stop`.
  std::string TextBetween(size_t first, size_t stop) const;
  std::string WhereClause();
  /// The tables the DML in a dollar-quoted body (a DO block's) names.
  /// Sets info_.writes and info_.rewrites to what the routine or DO body
  /// among the statement's tokens writes.
  void BodyWrites();
  /// Adds to `calls` the names `b` calls as routines (a name before a
  /// parenthesis: some are tables or types, which no routine is named).
  void AddCalls(std::span<const Token> b);
  /// Sets body_ddl when a statement among `b` is DDL.
  void NoteDdl(std::span<const Token> b);

  void Create();
  void CreateTable();
  void CreateIndex(bool unique);
  void CreateTrigger();
  void CreateNamed(StatementKind kind, std::string_view what);
  void Drop();
  void Alter();
  void AlterTable();
  Action ParseAction();
  void Insert();
  void Merge();
  void Update();
  void Delete();
  void Truncate();
  void With();
  /// PostgreSQL's SELECT ... INTO [TEMP | UNLOGGED] [TABLE] t, the query at
  /// token `query`: CREATE TABLE t AS that query. Nothing otherwise.
  void SelectInto(size_t query);

  std::string_view text_;
  std::vector<Token> tokens_;
  Dialect dialect_;
  size_t pos_ = 0;
  size_t end_;  // tokens at or past end_ are out of reach (one ALTER action at a time)
  Token end_token_;
  StatementInfo info_;
};

bool Parser::AcceptAll(std::initializer_list<std::string_view> words) {
  size_t i = 0;
  for (std::string_view word : words) {
    if (!Peek(i++).IsWord(word)) return false;
  }
  pos_ += words.size();
  return true;
}

bool Parser::AcceptPunct(char c) {
  if (!Peek().IsPunct(c)) return false;
  ++pos_;
  return true;
}

void Parser::AcceptStar() {  // PostgreSQL's "table *": descendants included
  if (Peek().kind == TokenKind::kOperator && Peek().text == "*") ++pos_;
}

bool Parser::IsName(const Token& token) const {
  return token.kind == TokenKind::kWord || token.kind == TokenKind::kQuotedIdentifier ||
         (dialect_ == Dialect::kSqlite && token.kind == TokenKind::kString);
}

std::string Parser::ReadName() {
  const Token& token = Peek();
  if (!IsName(token)) return "";
  ++pos_;
  std::string name = IdentifierName(token, dialect_);
  if (token.kind != TokenKind::kWord &&
      std::find(info_.quoted_names.begin(), info_.quoted_names.end(), name) ==
          info_.quoted_names.end()) {
    info_.quoted_names.push_back(name);
  }
  return name;
}

ObjectName Parser::ReadQualifiedName() {
  ObjectName result;
  result.name = ReadName();
  // PostgreSQL allows database.schema.name; keep the last two parts.
  while (!result.name.empty() && Peek().IsPunct('.') && IsName(Peek(1))) {
    ++pos_;
    result.schema = std::move(result.name);
    result.name = ReadName();
  }
  return result;
}

void Parser::SetTable(const ObjectName& name) {
  info_.schema = name.schema;
  info_.object = name.name;
  info_.table = name.name;
}

size_t Parser::FindTopLevel(size_t from, std::initializer_list<std::string_view> words,
                            char punct) const {
  int depth = 0;
  for (size_t i = from; i < end_; ++i) {
    const Token& token = tokens_[i];
    if (depth == 0 && punct != '\0' && token.IsPunct(punct)) return i;
    if (token.IsPunct('(')) {
      ++depth;
    } else if (token.IsPunct(')')) {
      --depth;
    } else if (depth == 0) {
      for (std::string_view word : words) {
        if (token.IsWord(word)) return i;
      }
    }
  }
  return end_;
}

std::string Parser::TextBetween(size_t first, size_t stop) const {
  if (first >= stop) return "";
  const size_t begin = tokens_[first].offset;
  return std::string(text_.substr(begin, tokens_[stop - 1].end() - begin));
}

std::string Parser::WhereClause() {
  const size_t where = FindTopLevel(pos_, {"WHERE"});
  if (where == end_) return "";
  return TextBetween(where + 1, FindTopLevel(where + 1, {"RETURNING", "ORDER", "LIMIT"}));
}

StatementInfo Parser::Parse() {
  // A query in parentheses is the query: (WITH d AS (DELETE ...) SELECT ...).
  size_t open = 0;
  while (Peek(open).IsPunct('(')) ++open;
  if (open > 0 && Peek(open).IsWord("WITH")) pos_ += open;
  const Token& first = Peek();
  if (first.IsWord("CREATE")) {
    Create();
  } else if (first.IsWord("DROP")) {
    Drop();
  } else if (first.IsWord("ALTER")) {
    Alter();
  } else if (first.IsWord("INSERT") || first.IsWord("REPLACE")) {
    Insert();
  } else if (first.IsWord("MERGE")) {
    Merge();
  } else if (first.IsWord("UPDATE")) {
    Update();
  } else if (first.IsWord("DELETE")) {
    Delete();
  } else if (first.IsWord("TRUNCATE")) {
    Truncate();
  } else if (first.IsWord("WITH")) {
    With();
  } else if (first.IsWord("SELECT") || first.IsWord("VALUES")) {
    info_.kind = StatementKind::kSelect;
    info_.summary = "runs a query";
    SelectInto(pos_);
  } else if (first.IsWord("BEGIN") || first.IsWord("START") || first.IsWord("COMMIT") ||
             first.IsWord("END") || first.IsWord("ROLLBACK") || first.IsWord("ABORT") ||
             first.IsWord("SAVEPOINT") || first.IsWord("RELEASE")) {
    info_.kind = StatementKind::kTransactionControl;
    info_.summary = AsciiUpper(first.text) + " (transaction control)";
  } else if (first.kind == TokenKind::kEnd) {
    info_.summary = "runs an empty statement";
  } else {
    info_.summary = "runs " + AsciiUpper(first.text);
    // Commands of either engine that Strata does not model: anything else
    // is most likely a typo, which the engine would reject anyway.
    static const char* const kCommands[] = {
        "ALTER", "ANALYZE", "ATTACH", "CALL", "CHECKPOINT", "CLOSE", "CLUSTER", "COMMENT", "COPY",
        "CREATE", "DEALLOCATE", "DECLARE", "DETACH", "DISCARD", "DO", "DROP", "EXECUTE", "EXPLAIN",
        "FETCH", "GRANT", "IMPORT", "LISTEN", "LOAD", "LOCK", "MERGE", "MOVE", "NOTIFY", "PRAGMA",
        "PREPARE", "REASSIGN", "REFRESH", "REINDEX", "RESET", "REVOKE", "SECURITY", "SET", "SHOW",
        "TABLE", "UNLISTEN", "VACUUM"};
    if (first.kind == TokenKind::kWord &&
        std::none_of(std::begin(kCommands), std::end(kCommands),
                     [&](const char* c) { return first.IsWord(c); })) {
      info_.summary += " (not an SQL command Strata knows: a typo?)";
    }
    if (first.IsWord("DO")) BodyWrites();
    // Statements that run DML of their own: EXPLAIN ANALYZE runs it,
    // PREPARE keeps it for an EXECUTE, COPY (DELETE ... RETURNING) TO runs
    // it; their tables are captured whole, as a DO block's. COPY t FROM
    // adds rows to t, which the rollback check then holds to its old data.
    const bool analyzes = std::any_of(tokens_.begin() + pos_, tokens_.begin() + end_,
                                      [](const Token& t) { return t.IsWord("ANALYZE"); });
    const bool runs_dml = (first.IsWord("EXPLAIN") && analyzes) || first.IsWord("PREPARE") ||
                          first.IsWord("COPY");
    if (runs_dml) {
      AddWriteTargets(std::span<const Token>(tokens_.data() + pos_, end_ - pos_), dialect_,
                      info_.writes, info_.rewrites);
    }
    if (first.IsWord("COPY") && !Peek(1).IsPunct('(')) {
      ++pos_;
      const ObjectName name = ReadQualifiedName();
      if (!name.name.empty() && FindTopLevel(pos_, {"FROM"}) != end_) {
        SetTable(name);
        info_.writes.push_back(name.name);
        info_.summary = "copies rows into " + Qualified(name.schema, name.name);
      }
    }
  }
  return std::move(info_);
}

/// Adds to `out` (once each) the tables that the DML among `b` writes:
/// INSERT [OR ...] INTO, REPLACE INTO, UPDATE [OR ...], DELETE FROM,
/// TRUNCATE; and to `rewrites` those of them whose rows it may change or
/// remove (all but a plain INSERT; an upsert's DO UPDATE counts). The UPDATE
/// of a row lock (FOR [NO KEY] UPDATE) or of an upsert names no table.
/// With `qualified`, also the rewritten tables named with their schema
/// (schema.table), for the caller to tell another schema's from its own.
void AddWriteTargets(std::span<const Token> b, Dialect dialect, std::vector<std::string>& out,
                     std::vector<std::string>& rewrites, std::vector<ObjectName>* qualified) {
  auto word = [&](size_t k, std::string_view w) { return k < b.size() && b[k].IsWord(w); };
  // SQLite's conflict clause: INSERT OR REPLACE INTO, UPDATE OR IGNORE t.
  auto after_or = [&](size_t k) { return word(k, "OR") ? k + 2 : k; };
  auto add = [](std::vector<std::string>& to, const std::string& name) {
    if (std::find(to.begin(), to.end(), name) == to.end()) to.push_back(name);
  };
  std::string inserting;  // the table of the INSERT before an upsert's DO UPDATE
  for (size_t k = 0; k < b.size(); ++k) {
    size_t at = 0;
    bool rewrite = true;
    if (word(k, "UPDATE")) {
      if (k > 0 && b[k - 1].IsWord("DO") && !inserting.empty()) add(rewrites, inserting);
      if (k > 0 && (b[k - 1].IsWord("FOR") || b[k - 1].IsWord("KEY") || b[k - 1].IsWord("DO"))) continue;
      at = after_or(k + 1);
    } else if (word(k, "DELETE") && word(k + 1, "FROM")) {
      at = k + 2;
    } else if (word(k, "INSERT") && word(after_or(k + 1), "INTO")) {
      rewrite = word(k + 1, "OR") && word(k + 2, "REPLACE");
      at = after_or(k + 1) + 1;
    } else if (word(k, "REPLACE") && word(k + 1, "INTO") && !(k > 0 && b[k - 1].IsWord("OR"))) {
      at = k + 2;
    } else if (word(k, "TRUNCATE")) {
      at = word(k + 1, "TABLE") ? k + 2 : k + 1;
    } else if (word(k, "MERGE") && word(k + 1, "INTO")) {
      at = k + 2;
    } else {
      continue;
    }
    if (word(at, "ONLY")) ++at;
    // schema.table: the table's name.
    std::string schema;
    while (at + 2 < b.size() && b[at + 1].IsPunct('.')) {
      schema = IdentifierName(b[at], dialect);
      at += 2;
    }
    if (at < b.size() && (b[at].kind == TokenKind::kWord || b[at].kind == TokenKind::kQuotedIdentifier)) {
      std::string name = IdentifierName(b[at], dialect);
      inserting = word(k, "INSERT") ? name : "";
      add(out, name);
      if (rewrite) add(rewrites, name);
      if (rewrite && qualified && !schema.empty()) qualified->push_back({schema, name});
    }
  }
}

/// Adds to `out` and `rewrites` (once each) the tables whose rows the DDL
/// among `b` removes or may change: DROP TABLE, and ALTER TABLE with a DROP
/// [COLUMN] or a column's new TYPE (a DROP CONSTRAINT, DEFAULT, NOT NULL,
/// IDENTITY or EXPRESSION keeps every value). For a body, whose statements
/// the migration's classification does not see: the table is captured whole.
/// A table renamed (RENAME TO) goes to `renames` as {new name, old name}.
void AddRewritingDdlTargets(std::span<const Token> b, Dialect dialect, std::vector<std::string>& out,
                            std::vector<std::string>& rewrites,
                            std::vector<std::pair<std::string, std::string>>& renames,
                            std::vector<StatementInfo::ColumnRename>& column_renames) {
  auto word = [&](size_t k, std::string_view w) { return k < b.size() && b[k].IsWord(w); };
  auto add = [&](const std::string& name) {
    for (auto* to : {&out, &rewrites}) {
      if (std::find(to->begin(), to->end(), name) == to->end()) to->push_back(name);
    }
  };
  // The table name at `at` (schema.table: the table's) into `name` ("" when
  // there is none), and the index of the token after it.
  auto name_at = [&](size_t at, std::string* name) {
    name->clear();
    while (at + 2 < b.size() && b[at + 1].IsPunct('.')) at += 2;
    if (at >= b.size() || (b[at].kind != TokenKind::kWord && b[at].kind != TokenKind::kQuotedIdentifier)) {
      return b.size();
    }
    *name = IdentifierName(b[at], dialect);
    return at + 1;
  };
  for (size_t k = 0; k + 1 < b.size(); ++k) {
    // The word before: DROP TABLE, not the DROP of an ALTER TABLE's action.
    const bool starts = k == 0 || b[k - 1].IsPunct(';') || b[k - 1].IsWord("THEN") ||
                        b[k - 1].IsWord("ELSE") || b[k - 1].IsWord("LOOP") || b[k - 1].IsWord("BEGIN");
    if (!starts) continue;
    size_t at = k + 2;
    if (word(k, "DROP") && word(k + 1, "TABLE")) {
      if (word(at, "IF") && word(at + 1, "EXISTS")) at += 2;
      for (std::string name;;) {
        at = name_at(at, &name);
        if (name.empty()) break;
        add(name);
        if (at >= b.size() || !b[at].IsPunct(',')) break;
        ++at;
      }
    } else if (word(k, "ALTER") && word(k + 1, "TABLE")) {
      if (word(at, "IF") && word(at + 1, "EXISTS")) at += 2;
      if (word(at, "ONLY")) ++at;
      std::string name;
      at = name_at(at, &name);
      // Renamed: river's 005 then creates the new shape under the old name,
      // copies some columns over and drops the table under its new one.
      std::string to;
      if (!name.empty() && word(at, "RENAME") && word(at + 1, "TO")) name_at(at + 2, &to);
      if (!to.empty()) {
        renames.emplace_back(to, name);
        continue;
      }
      if (!name.empty() && word(at, "RENAME") && !word(at + 1, "CONSTRAINT")) {
        std::string column;
        const size_t after = name_at(word(at + 1, "COLUMN") ? at + 2 : at + 1, &column);
        if (!column.empty() && word(after, "TO")) name_at(after + 1, &to);
        if (!to.empty()) {
          column_renames.push_back({name, to, column});
          continue;
        }
      }
      for (; !name.empty() && at < b.size() && !b[at].IsPunct(';'); ++at) {
        const bool drops = b[at].IsWord("DROP") &&
                           !(word(at + 1, "CONSTRAINT") || word(at + 1, "DEFAULT") ||
                             word(at + 1, "NOT") || word(at + 1, "IDENTITY") ||
                             word(at + 1, "EXPRESSION"));
        if (drops || b[at].IsWord("TYPE")) {
          add(name);
          break;
        }
      }
    }
  }
}

/// The text of a string literal: '..' (quotes undoubled), E'..' (escapes
/// left as written), $tag$..$tag$; nullopt for any other token.
std::optional<std::string> LiteralText(const Token& t, Dialect dialect) {
  if (t.kind != TokenKind::kString || t.text.size() < 2) return std::nullopt;
  if (t.text[0] == '$') {
    const size_t tag = t.text.find('$', 1);
    if (tag == std::string_view::npos || t.text.size() < 2 * (tag + 1)) return std::nullopt;
    return std::string(t.text.substr(tag + 1, t.text.size() - 2 * (tag + 1)));
  }
  Token quoted = t;
  if (t.text[0] == 'E' || t.text[0] == 'e') quoted.text.remove_prefix(1);
  if (quoted.text.empty() || quoted.text[0] != '\'') return std::nullopt;
  return IdentifierName(quoted, dialect);
}

/// What `format(<literal>, <literal>, ...)` at `k` gives, when every
/// argument is a literal: the text with its %s, %I (a quoted identifier, as
/// quote_ident would give it), %L (a quoted literal) and %% filled in, with
/// n$ positions, as PostgreSQL's format() does. nullopt for anything else
/// (an argument computed at run time, a width).
std::optional<std::string> FormattedLiteral(std::span<const Token> b, size_t k, Dialect dialect) {
  if (k + 1 < b.size() && b[k].IsWord("pg_catalog") && b[k + 1].IsPunct('.')) k += 2;
  if (k + 2 >= b.size() || !b[k].IsWord("format") || !b[k + 1].IsPunct('(')) return std::nullopt;
  const std::optional<std::string> pattern = LiteralText(b[k + 2], dialect);
  if (!pattern) return std::nullopt;
  std::vector<std::string> args;
  size_t at = k + 3;
  for (; at + 1 < b.size() && b[at].IsPunct(','); at += 2) {
    std::optional<std::string> arg = LiteralText(b[at + 1], dialect);
    if (!arg) return std::nullopt;
    args.push_back(std::move(*arg));
  }
  if (at >= b.size() || !b[at].IsPunct(')')) return std::nullopt;
  auto quoted = [](const std::string& text, char quote) {
    std::string out(1, quote);
    for (char c : text) out.append(c == quote ? 2 : 1, c);
    return out + quote;
  };
  const std::string& f = *pattern;
  std::string out;
  size_t next = 0;  // the argument a specifier without n$ takes
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    if (++i < f.size() && f[i] == '%') {
      out += '%';
      continue;
    }
    size_t digits = i;
    while (digits < f.size() && std::isdigit(static_cast<unsigned char>(f[digits]))) ++digits;
    size_t arg = next;
    if (digits > i && digits - i <= 4 && digits < f.size() && f[digits] == '$') {
      arg = std::stoul(f.substr(i, digits - i)) - 1;
      i = digits + 1;
    }
    if (i >= f.size() || arg >= args.size()) return std::nullopt;
    next = arg + 1;
    switch (f[i]) {
      case 's': out += args[arg]; break;
      case 'I': out += quoted(args[arg], '"'); break;
      case 'L': out += quoted(args[arg], '\''); break;
      default: return std::nullopt;
    }
  }
  return out;
}

/// Whether the statement `b` (what a body EXECUTEs) changes or removes rows
/// of a table it does not name: the name is filled in at run time
/// (format('UPDATE %I ...'), 'DELETE FROM ' || t), so no table can be
/// captured for it.
bool RewritesAnUnnamedTable(std::span<const Token> b) {
  auto word = [&](size_t k, std::string_view w) { return k < b.size() && b[k].IsWord(w); };
  size_t at = 0;
  if (word(0, "UPDATE") || word(0, "TRUNCATE")) {
    at = word(1, "TABLE") ? 2 : 1;
  } else if ((word(0, "DELETE") || word(0, "MERGE")) && (word(1, "FROM") || word(1, "INTO"))) {
    at = 2;
  } else if (word(0, "DROP") && word(1, "TABLE")) {
    at = word(2, "IF") ? 4 : 2;
  } else if (word(0, "ALTER") && word(1, "TABLE")) {
    at = word(2, "IF") ? 4 : 2;
    if (word(at, "ONLY")) ++at;
    // 'ALTER TABLE ' || t || ' RENAME TO ..': neither the table nor what
    // is done to it is in the text.
    if (at >= b.size()) return true;
    // RENAME TO: where its rows go, a later DROP of the new name takes
    // them (river's 005, written with format()).
    bool changes = false;
    for (size_t k = 0; k < b.size(); ++k) {
      changes |= b[k].IsWord("DROP") || b[k].IsWord("TYPE") || (b[k].IsWord("RENAME") && word(k + 1, "TO"));
    }
    if (!changes) return false;
  } else if (word(0, "INSERT") && word(1, "INTO")) {
    at = 2;
    bool upsert = false;
    for (size_t k = 0; k + 1 < b.size(); ++k) upsert |= b[k].IsWord("DO") && b[k + 1].IsWord("UPDATE");
    if (!upsert) return false;
  } else {
    return false;
  }
  if (word(at, "ONLY")) ++at;
  return at >= b.size() || (b[at].kind != TokenKind::kWord && b[at].kind != TokenKind::kQuotedIdentifier);
}

void Parser::BodyWrites() {
  std::vector<std::string>& out = info_.writes;
  std::vector<std::string>& rewrites = info_.rewrites;
  // A body in SQL-standard form (PostgreSQL 14: BEGIN ATOMIC ... END) is
  // tokens of the statement itself.
  const std::span<const Token> atomic(tokens_.data() + pos_, end_ - pos_);
  AddWriteTargets(atomic, dialect_, out, rewrites, &info_.qualified_rewrites);
  AddCalls(atomic);
  for (size_t i = pos_; i < end_; ++i) {
    // AS 'UPDATE t SET ...' (or DO '...'), or a dollar-quoted body.
    std::optional<std::string> inner = LiteralText(tokens_[i], dialect_);
    if (!inner) continue;
    auto t = Tokenize(*inner, dialect_);
    if (!t.ok()) continue;
    AddWriteTargets(*t, dialect_, out, rewrites, &info_.qualified_rewrites);
    AddRewritingDdlTargets(*t, dialect_, out, rewrites, info_.body_renames, info_.body_column_renames);
    AddCalls(*t);
    NoteDdl(*t);
    // A statement the body EXECUTEs: the literal it starts with (EXECUTE
    // 'ALTER TABLE ...', EXECUTE format('UPDATE %I ...', ...)); literals
    // elsewhere are text (a RAISE's message), not statements. One whose
    // table is filled in at run time, or that is built from no literal at
    // all (EXECUTE a variable), may rewrite any table.
    const std::vector<Token>& b = *t;
    // The literal the statement from `k` to its ';' starts with; a
    // format() of literals only, filled in.
    auto first_literal = [&](size_t k) {
      if (std::optional<std::string> formatted = FormattedLiteral(b, k, dialect_)) return formatted;
      std::optional<std::string> text;
      for (; k < b.size() && !b[k].IsPunct(';') && !text; ++k) text = LiteralText(b[k], dialect_);
      return text;
    };
    // Whether the token at `k` starts a PL/pgSQL statement (EXECUTE in
    // GRANT EXECUTE or a trigger's EXECUTE FUNCTION runs nothing).
    auto starts_statement = [&](size_t k) {
      if (k == 0 || b[k - 1].IsPunct(';')) return true;
      for (std::string_view before : {"BEGIN", "THEN", "ELSE", "LOOP", "QUERY", "IN", "FOR"}) {
        if (b[k - 1].IsWord(before)) return true;
      }
      return false;
    };
    // Where the body gives variable `name` a value: the index of the
    // value's first token, for each assignment (name := .., name = ..) and
    // its declaration (name text := .., name text DEFAULT ..).
    auto values_of = [&](std::string_view name) {
      std::vector<size_t> starts;
      for (size_t k = 0; k + 2 < b.size(); ++k) {
        if (!b[k].IsWord(name) || !(starts_statement(k) || b[k - 1].IsWord("DECLARE"))) continue;
        for (size_t v = k + 1; v + 1 < b.size() && !b[v].IsPunct(';'); ++v) {
          if (b[v].text == ":=" || b[v].text == "=" || b[v].IsWord("DEFAULT")) {
            starts.push_back(v + 1);
            break;
          }
          if (b[v].IsPunct(':') && b[v + 1].text == "=") {
            starts.push_back(v + 2);
            break;
          }
        }
      }
      return starts;
    };
    // Whether the statement EXECUTEd at `e` names its table by the firing
    // trigger's own name (TG_TABLE_NAME, TG_RELNAME, with TG_TABLE_SCHEMA)
    // and nothing more: format('UPDATE %I.%I SET ..', TG_TABLE_SCHEMA,
    // TG_TABLE_NAME), or 'UPDATE ' || t || ' SET ..' where t is those quoted
    // and joined by '.'. A soft-delete trigger rewrites its own table so.
    auto names_trigger_table = [&](size_t e) {
      auto end_of = [&](size_t k) {
        while (k < b.size() && !b[k].IsPunct(';')) ++k;
        return k;
      };
      std::vector<std::pair<size_t, size_t>> ranges = {{e + 1, end_of(e + 1)}};
      for (size_t r = 0; r < ranges.size() && r < 16; ++r) {
        for (size_t k = ranges[r].first; k < ranges[r].second; ++k) {
          if (b[k].kind != TokenKind::kWord) continue;
          for (size_t value : values_of(b[k].text)) ranges.emplace_back(value, end_of(value));
        }
      }
      bool own = false;
      for (const auto& [from, to] : ranges) {
        for (size_t k = from; k < to; ++k) {
          if (b[k].IsWord("TG_TABLE_NAME") || b[k].IsWord("TG_RELNAME")) own = true;
          if (b[k].IsWord("TG_ARGV")) return false;
          std::optional<std::string> literal = LiteralText(b[k], dialect_);
          if (!literal || literal->empty() || *literal == ".") continue;
          auto tokens = Tokenize(*literal, dialect_);
          if (tokens.ok() && RewritesAnUnnamedTable(*tokens)) {
            // The statement: each placeholder stands for a whole name.
            for (size_t at = literal->find('%'); at != std::string::npos; at = literal->find('%', at + 2)) {
              const char after = at + 2 < literal->size() ? (*literal)[at + 2] : ' ';
              if (std::isalnum(static_cast<unsigned char>(after)) || after == '_' || after == '"') return false;
            }
          } else if (!std::isspace(static_cast<unsigned char>((*literal)[0]))) {
            return false;  // joined to the name ('_history')
          }
        }
      }
      return own;
    };
    for (size_t e = 0; e < b.size(); ++e) {
      if (!b[e].IsWord("EXECUTE") || !starts_statement(e) ||
          (e + 1 < b.size() && (b[e + 1].IsWord("FUNCTION") || b[e + 1].IsWord("PROCEDURE")))) {
        continue;
      }
      std::vector<std::string> statements;
      if (auto literal = first_literal(e + 1)) {
        statements.push_back(std::move(*literal));
      } else if (e + 1 < b.size() && b[e + 1].kind == TokenKind::kWord) {
        // EXECUTE sql: what the body gives that variable.
        for (size_t value : values_of(b[e + 1].text)) {
          if (auto literal = first_literal(value)) statements.push_back(std::move(*literal));
        }
      }
      if (statements.empty()) info_.dynamic_rewrites = true;
      for (const std::string& statement : statements) {
        auto executed = Tokenize(statement, dialect_);
        if (!executed.ok()) continue;
        AddWriteTargets(*executed, dialect_, out, rewrites, &info_.qualified_rewrites);
        AddRewritingDdlTargets(*executed, dialect_, out, rewrites, info_.body_renames,
                               info_.body_column_renames);
        AddCalls(*executed);
        NoteDdl(*executed);
        if (!RewritesAnUnnamedTable(*executed)) continue;
        if (names_trigger_table(e)) {
          info_.rewrites_trigger_table = true;
        } else {
          info_.dynamic_rewrites = true;
        }
      }
    }
  }
}

void Parser::NoteDdl(std::span<const Token> b) {
  for (size_t k = 0; k < b.size() && !info_.body_ddl; ++k) {
    const bool starts = k == 0 || b[k - 1].IsPunct(';') || b[k - 1].IsWord("BEGIN") ||
                        b[k - 1].IsWord("THEN") || b[k - 1].IsWord("ELSE") || b[k - 1].IsWord("LOOP");
    if (starts && (b[k].IsWord("CREATE") || b[k].IsWord("ALTER") || b[k].IsWord("DROP"))) {
      info_.body_ddl = true;
    }
  }
}

void Parser::AddCalls(std::span<const Token> b) {
  for (size_t k = 0; k + 1 < b.size(); ++k) {
    if ((b[k].kind != TokenKind::kWord && b[k].kind != TokenKind::kQuotedIdentifier) ||
        !b[k + 1].IsPunct('(')) {
      continue;
    }
    std::string name = IdentifierName(b[k], dialect_);
    if (std::find(info_.calls.begin(), info_.calls.end(), name) == info_.calls.end()) {
      info_.calls.push_back(std::move(name));
    }
  }
}

void Parser::Create() {
  ++pos_;
  info_.or_replace = AcceptAll({"OR", "REPLACE"});
  bool unique = false;
  for (;;) {  // modifiers before the object type
    if (Accept("TEMP") || Accept("TEMPORARY")) {
      info_.temporary = true;
    } else if (Accept("UNIQUE")) {
      unique = true;
    } else if (Accept("MATERIALIZED")) {
      info_.materialized = true;
    } else if (!(Accept("GLOBAL") || Accept("LOCAL") || Accept("UNLOGGED") ||
                 Accept("VIRTUAL") || Accept("RECURSIVE") || Accept("CONSTRAINT"))) {
      break;
    }
  }
  if (Accept("TABLE")) return CreateTable();
  if (Accept("INDEX")) return CreateIndex(unique);
  if (Accept("TRIGGER")) return CreateTrigger();
  if (Accept("VIEW")) {
    return CreateNamed(StatementKind::kCreateView,
                       info_.materialized ? "materialized view" : "view");
  }
  if (Accept("SEQUENCE")) return CreateNamed(StatementKind::kCreateSequence, "sequence");
  if (Accept("TYPE")) return CreateNamed(StatementKind::kCreateType, "type");
  for (const char* routine : {"function", "procedure"}) {
    if (!Accept(routine)) continue;
    CreateNamed(StatementKind::kCreateFunction, routine);
    // What its body writes: the migration may call it (a backfill), so
    // that data is checked on rollback, as a DO block's is.
    BodyWrites();
    return;
  }
  if (Accept("EXTENSION")) return CreateNamed(StatementKind::kCreateExtension, "extension");
  if (Accept("SCHEMA")) {
    info_.if_not_exists = AcceptAll({"IF", "NOT", "EXISTS"});
    Accept("AUTHORIZATION");  // CREATE SCHEMA AUTHORIZATION role names it after the role
    info_.object = ReadName();
    info_.kind = StatementKind::kCreateSchema;
    info_.summary = "creates schema " + info_.object;
    return;
  }
  info_.summary = "runs CREATE " + AsciiUpper(Peek().text);
}

void Parser::CreateTable() {
  info_.kind = StatementKind::kCreateTable;
  info_.if_not_exists = AcceptAll({"IF", "NOT", "EXISTS"});
  SetTable(ReadQualifiedName());
  const size_t as = FindTopLevel(pos_, {"AS"});
  info_.from_query = as != end_;
  info_.summary = std::string("creates ") + (info_.temporary ? "temporary " : "") + "table " +
                  Qualified(info_.schema, info_.object) + (info_.from_query ? " from a query" : "");
  // Its query's writable CTE: WITH d AS (DELETE FROM t ... RETURNING *) SELECT ...
  if (info_.from_query) {
    AddWriteTargets(std::span<const Token>(tokens_.data() + as + 1, end_ - as - 1), dialect_,
                    info_.writes, info_.rewrites);
  }
}

void Parser::CreateIndex(bool unique) {
  info_.kind = StatementKind::kCreateIndex;
  info_.concurrently = Accept("CONCURRENTLY");
  info_.if_not_exists = AcceptAll({"IF", "NOT", "EXISTS"});
  ObjectName index;
  if (!Peek().IsWord("ON")) index = ReadQualifiedName();  // PostgreSQL may leave it unnamed
  Accept("ON");
  Accept("ONLY");
  const ObjectName table = ReadQualifiedName();
  // SQLite qualifies the index, PostgreSQL the table; the index lives in that schema.
  info_.schema = index.schema.empty() ? table.schema : index.schema;
  info_.object = index.name;
  info_.table = table.name;
  const std::string kind = unique ? "unique index" : "index";
  info_.summary = index.name.empty()
                      ? "creates an unnamed " + kind + " on " + Qualified(table.schema, table.name)
                      : "creates " + kind + " " + index.name + " on " +
                            Qualified(table.schema, table.name);
}

void Parser::CreateTrigger() {
  info_.kind = StatementKind::kCreateTrigger;
  info_.if_not_exists = AcceptAll({"IF", "NOT", "EXISTS"});
  const ObjectName trigger = ReadQualifiedName();
  const size_t events_from = pos_;
  pos_ = FindTopLevel(pos_, {"ON"});
  for (size_t i = events_from; i < pos_; ++i) {
    if (tokens_[i].IsWord("INSERT")) info_.trigger_events |= 1;
    if (tokens_[i].IsWord("DELETE")) info_.trigger_events |= 4;
    if (!tokens_[i].IsWord("UPDATE")) continue;
    info_.trigger_events |= 2;
    if (i + 1 >= pos_ || !tokens_[i + 1].IsWord("OF")) continue;
    for (i += 2; i < pos_ && (tokens_[i].kind == TokenKind::kWord ||
                              tokens_[i].kind == TokenKind::kQuotedIdentifier);
         i += 2) {
      info_.trigger_columns.push_back(IdentifierName(tokens_[i], dialect_));
      if (i + 1 >= pos_ || !tokens_[i + 1].IsPunct(',')) break;
    }
  }
  Accept("ON");
  const ObjectName table = ReadQualifiedName();
  if (const size_t execute = FindTopLevel(pos_, {"EXECUTE"}); execute != end_) {
    pos_ = execute + 1;
    if (Accept("FUNCTION") || Accept("PROCEDURE")) info_.trigger_function = ReadQualifiedName().name;
  }
  const size_t body = FindTopLevel(pos_, {"BEGIN"});
  if (body != end_) {
    std::vector<std::string> writes;
    AddWriteTargets(std::span<const Token>(tokens_.data() + body + 1, end_ - body - 1), dialect_,
                    writes, info_.trigger_rewrites);
  }
  info_.schema = trigger.schema.empty() ? table.schema : trigger.schema;
  info_.object = trigger.name;
  info_.table = table.name;
  info_.summary = "creates trigger " + trigger.name + " on " + Qualified(table.schema, table.name);
}

void Parser::CreateNamed(StatementKind kind, std::string_view what) {
  info_.kind = kind;
  info_.if_not_exists = AcceptAll({"IF", "NOT", "EXISTS"});
  const ObjectName name = ReadQualifiedName();
  info_.schema = name.schema;
  info_.object = name.name;
  info_.summary = "creates " + std::string(what) + " " + Qualified(name.schema, name.name);
}

void Parser::Drop() {
  ++pos_;
  std::string what;
  if (Accept("TABLE")) {
    info_.kind = StatementKind::kDropTable;
    what = "table";
  } else if (Accept("INDEX")) {
    info_.kind = StatementKind::kDropIndex;
    info_.concurrently = Accept("CONCURRENTLY");
    what = "index";
  } else if (Accept("VIEW")) {
    info_.kind = StatementKind::kDropView;
    what = "view";
  } else if (AcceptAll({"MATERIALIZED", "VIEW"})) {
    info_.kind = StatementKind::kDropView;
    info_.materialized = true;
    what = "materialized view";
  } else if (Accept("TRIGGER")) {
    info_.kind = StatementKind::kDropTrigger;
    what = "trigger";
  } else {
    info_.kind = StatementKind::kDropOther;
    if (AcceptAll({"FOREIGN", "TABLE"}) || AcceptAll({"EVENT", "TRIGGER"})) {
      what = AsciiLower(TextBetween(pos_ - 2, pos_));
    } else {
      what = AsciiLower(Peek().text);
      ++pos_;
      if (what == "owned") Accept("BY");
    }
  }
  info_.if_exists = AcceptAll({"IF", "EXISTS"});
  std::vector<std::string> shown;
  for (;;) {
    ObjectName name = ReadQualifiedName();
    if (name.name.empty()) break;
    shown.push_back(Qualified(name.schema, name.name));
    info_.objects.push_back(std::move(name));
    if (Peek().IsPunct('(')) pos_ = FindTopLevel(pos_ + 1, {}, ')') + 1;  // function arguments
    if (!AcceptPunct(',')) break;
  }
  if (!info_.objects.empty()) {
    info_.schema = info_.objects[0].schema;
    info_.object = info_.objects[0].name;
  }
  std::string on;
  if (info_.kind == StatementKind::kDropTrigger && Accept("ON")) {  // PostgreSQL
    const ObjectName table = ReadQualifiedName();
    if (info_.schema.empty()) info_.schema = table.schema;
    info_.table = table.name;
    on = " on " + Qualified(table.schema, table.name);
  }
  if (info_.kind == StatementKind::kDropTable) info_.table = info_.object;

  const bool cascade = FindTopLevel(pos_, {"CASCADE"}) != end_;
  info_.cascade = cascade;
  if (info_.kind == StatementKind::kDropOther) info_.dropped_kind = what;
  // A sequence takes its position with it (the next invoice number).
  info_.destructive = info_.kind == StatementKind::kDropTable ||
                      (info_.kind == StatementKind::kDropOther &&
                       (cascade || what == "owned" || what == "database" || what == "sequence"));
  if (what == "owned") {
    info_.summary = "drops everything owned by " + JoinNames(shown, "");
    return;
  }
  if (shown.size() > 1) what += what == "index" ? "es" : "s";
  info_.summary = "drops " + what + " " + JoinNames(shown, "") + on;
}

void Parser::Alter() {
  ++pos_;
  if (Accept("TABLE")) return AlterTable();
  info_.kind = StatementKind::kAlterOther;
  info_.materialized = AcceptAll({"MATERIALIZED", "VIEW"});
  const std::string what = info_.materialized ? "materialized view" : AsciiLower(Peek().text);
  if (!info_.materialized) ++pos_;
  info_.if_exists = AcceptAll({"IF", "EXISTS"});
  const ObjectName name = ReadQualifiedName();
  info_.schema = name.schema;
  info_.object = name.name;
  info_.summary = "alters " + what + " " + Qualified(name.schema, name.name);
  // A view renamed: what is written through it later in the migration is
  // written through the view under its new name.
  if (what == "view" || what == "materialized view") {
    if (AcceptAll({"RENAME", "TO"})) {
      info_.new_name = ReadQualifiedName().name;
      info_.summary = "renames " + what + " " + Qualified(name.schema, name.name) + " to " +
                      info_.new_name;
    }
  }
  // A composite type's attribute dropped or retyped (CASCADE: in the
  // columns of that type too) loses or converts every value of it there.
  if (what == "type") {
    for (size_t i = pos_; i + 1 < end_; ++i) {
      if ((tokens_[i].IsWord("DROP") || tokens_[i].IsWord("ALTER")) && tokens_[i + 1].IsWord("ATTRIBUTE") &&
          (tokens_[i].IsWord("DROP") || FindTopLevel(i, {"TYPE"}) != end_)) {
        info_.destructive = true;
        info_.summary += tokens_[i].IsWord("DROP")
                             ? ", dropping an attribute (its value in every column of the type)"
                             : ", changing an attribute's type (its value in every column of the type)";
        break;
      }
    }
  }
}

void Parser::AlterTable() {
  info_.if_exists = AcceptAll({"IF", "EXISTS"});
  Accept("ONLY");
  SetTable(ReadQualifiedName());
  AcceptStar();
  const std::string table = Qualified(info_.schema, info_.table);

  std::vector<Action> actions;
  const size_t stop = end_;
  while (pos_ < stop) {
    const size_t comma = FindTopLevel(pos_, {}, ',');
    end_ = comma;
    actions.push_back(ParseAction());
    end_ = stop;
    pos_ = comma + 1;
  }

  info_.kind = StatementKind::kAlterOther;
  info_.summary = "alters table " + table;
  if (actions.empty()) return;
  const ActionKind kind = actions[0].kind;
  const bool same = std::all_of(actions.begin(), actions.end(),
                                [kind](const Action& a) { return a.kind == kind; });
  for (const Action& action : actions) {
    if (action.kind == ActionKind::kDropColumn || action.kind == ActionKind::kAlterType) {
      info_.destructive = true;
    }
    if (action.kind == ActionKind::kAddColumn) {
      info_.added.push_back({action.column, action.fills, action.if_not_exists});
    }
    if (action.kind == ActionKind::kAlterType) {
      info_.retyped.push_back({action.column, action.type, action.using_expr});
    }
    info_.if_exists |= action.if_exists;
    info_.if_not_exists |= action.if_not_exists;
    info_.cascade |= action.cascades;
  }
  if (actions.size() == 1 && kind == ActionKind::kRenameTable) {
    info_.kind = StatementKind::kRenameTable;
    info_.new_name = actions[0].new_name;
    info_.summary = "renames table " + table + " to " + info_.new_name;
  } else if (actions.size() == 1 && kind == ActionKind::kRenameColumn) {
    info_.kind = StatementKind::kRenameColumn;
    info_.column = actions[0].column;
    info_.new_name = actions[0].new_name;
    info_.summary = "renames column " + table + "." + info_.column + " to " + info_.new_name;
  } else if (same && (kind == ActionKind::kAddColumn || kind == ActionKind::kDropColumn ||
                      kind == ActionKind::kAlterType)) {
    for (const Action& action : actions) info_.columns.push_back(action.column);
    info_.column = info_.columns[0];
    const std::string columns = JoinNames(info_.columns, table + ".");
    const bool plural = info_.columns.size() > 1;
    if (kind == ActionKind::kAddColumn) {
      info_.kind = StatementKind::kAddColumn;
      info_.summary = (plural ? "adds columns " : "adds column ") + columns;
    } else if (kind == ActionKind::kDropColumn) {
      info_.kind = StatementKind::kDropColumn;
      info_.summary = (plural ? "drops columns " : "drops column ") + columns;
    } else {
      info_.kind = StatementKind::kAlterColumnType;
      info_.summary =
          (plural ? "changes the types of columns " : "changes the type of column ") + columns;
    }
  } else if (std::any_of(actions.begin(), actions.end(),
                         [](const Action& a) { return a.kind == ActionKind::kDropColumn; }) &&
             std::all_of(actions.begin(), actions.end(), [](const Action& a) {
               return a.kind == ActionKind::kDropColumn || a.kind == ActionKind::kAddColumn ||
                      (a.kind == ActionKind::kOther && a.keeps_data);
             })) {
    // DROP COLUMN a, ADD COLUMN b, ALTER COLUMN c SET NOT NULL (Prisma puts
    // a table's changes in one statement): a drop, whose columns are
    // captured, that adds columns too (`added`) and changes what keeps rows.
    std::vector<std::string> added;
    bool other = false;
    for (const Action& action : actions) {
      if (action.kind == ActionKind::kDropColumn) info_.columns.push_back(action.column);
      if (action.kind == ActionKind::kAddColumn) added.push_back(action.column);
      other |= action.kind == ActionKind::kOther;
    }
    info_.kind = StatementKind::kDropColumn;
    info_.column = info_.columns[0];
    info_.summary = (info_.columns.size() > 1 ? "drops columns " : "drops column ") +
                    JoinNames(info_.columns, table + ".");
    if (!added.empty()) {
      info_.summary += (added.size() > 1 ? " and adds columns " : " and adds column ") +
                       JoinNames(added, table + ".");
    }
    if (other) info_.summary += " (and alters constraints or defaults of " + table + ")";
  } else if (std::any_of(actions.begin(), actions.end(),
                         [](const Action& a) { return a.kind == ActionKind::kAlterType; }) &&
             std::all_of(actions.begin(), actions.end(), [](const Action& a) {
               return a.kind == ActionKind::kAlterType || (a.kind == ActionKind::kOther && a.keeps_data);
             })) {
    // ALTER COLUMN email TYPE citext, ALTER COLUMN email SET NOT NULL (Ecto's
    // `modify`): a type change, whose columns are captured, that changes
    // what keeps rows too.
    for (const Action& action : actions) {
      if (action.kind == ActionKind::kAlterType) info_.columns.push_back(action.column);
    }
    info_.kind = StatementKind::kAlterColumnType;
    info_.column = info_.columns[0];
    info_.summary = (info_.columns.size() > 1 ? "changes the types of columns " : "changes the type of column ") +
                    JoinNames(info_.columns, table + ".") + " (and alters constraints or defaults of " + table + ")";
  }
}

bool Parser::FillsExistingRows() const {
  // A column definition's words that give the rows already there a value;
  // DEFAULT NULL (or NULL::type) gives none.
  for (size_t i = pos_; i < end_; ++i) {
    const Token& t = tokens_[i];
    if (t.IsWord("DEFAULT")) {
      size_t next = i + 1;
      while (next < end_ && tokens_[next].IsPunct('(')) ++next;
      if (next < end_ && tokens_[next].IsWord("NULL")) continue;
      return true;
    }
    for (const char* word : {"GENERATED", "AS", "IDENTITY", "SERIAL", "BIGSERIAL", "SMALLSERIAL",
                             "SERIAL2", "SERIAL4", "SERIAL8"}) {
      if (t.IsWord(word)) return true;
    }
  }
  return false;
}

Action Parser::ParseAction() {
  Action action;
  if (Accept("ADD")) {
    const Token& next = Peek();
    if (!Accept("COLUMN") &&
        (next.IsWord("CONSTRAINT") || next.IsWord("PRIMARY") || next.IsWord("UNIQUE") ||
         next.IsWord("FOREIGN") || next.IsWord("CHECK") || next.IsWord("EXCLUDE"))) {
      action.keeps_data = true;
      return action;
    }
    action.if_not_exists = AcceptAll({"IF", "NOT", "EXISTS"});
    action.column = ReadName();
    action.kind = ActionKind::kAddColumn;
    action.fills = FillsExistingRows();
  } else if (Accept("DROP")) {
    if (Peek().IsWord("CONSTRAINT")) {
      action.cascades = FindTopLevel(pos_, {"CASCADE"}) != end_;
      action.keeps_data = !action.cascades;
      return action;
    }
    Accept("COLUMN");
    action.if_exists = AcceptAll({"IF", "EXISTS"});
    action.column = ReadName();
    action.kind = ActionKind::kDropColumn;
  } else if (Accept("RENAME")) {
    if (Accept("TO")) {
      action.new_name = ReadName();
      action.kind = ActionKind::kRenameTable;
    } else if (!Peek().IsWord("CONSTRAINT")) {
      Accept("COLUMN");
      action.column = ReadName();
      Accept("TO");
      action.new_name = ReadName();
      action.kind = ActionKind::kRenameColumn;
    }
  } else if (Accept("ALTER")) {
    Accept("COLUMN");
    action.column = ReadName();
    if (AcceptAll({"SET", "DATA", "TYPE"}) || Accept("TYPE")) {
      action.kind = ActionKind::kAlterType;
      const size_t type_end = FindTopLevel(pos_, {"COLLATE", "USING"});
      action.type = TextBetween(pos_, type_end);
      const size_t using_at = FindTopLevel(pos_, {"USING"});
      if (using_at != end_) action.using_expr = TextBetween(using_at + 1, end_);
    } else if ((Peek().IsWord("SET") || Peek().IsWord("DROP")) && pos_ + 1 < end_ &&
               (tokens_[pos_ + 1].IsWord("DEFAULT") || tokens_[pos_ + 1].IsWord("NOT"))) {
      action.keeps_data = true;
    }
  }
  return action;
}

void Parser::Insert() {
  info_.kind = StatementKind::kInsert;
  bool replace = Peek().IsWord("REPLACE");
  info_.own_conflict_clause = replace;
  ++pos_;
  if (Accept("OR")) {
    info_.own_conflict_clause = true;
    replace |= Peek().IsWord("REPLACE");
    ++pos_;
  }
  Accept("INTO");
  SetTable(ReadQualifiedName());
  if (Accept("AS")) info_.alias = ReadName();
  bool upsert = false;  // ON CONFLICT ... DO UPDATE rewrites rows
  for (size_t i = FindTopLevel(pos_, {"DO"}); i + 1 < end_; i = FindTopLevel(i + 1, {"DO"})) {
    if (tokens_[i + 1].IsWord("UPDATE")) upsert = true;
  }
  info_.destructive = replace || upsert;
  info_.deletes_colliding = replace;
  info_.updates_rows = upsert;
  // The names in its FROM and JOIN lists, anywhere in it (aliases too: a
  // name that is no table only makes the list say more).
  for (size_t i = 0; i < end_; ++i) {
    if (!tokens_[i].IsWord("FROM") && !tokens_[i].IsWord("JOIN")) continue;
    int depth = 0;
    for (size_t k = i + 1; k < end_; ++k) {
      const Token& t = tokens_[k];
      if (t.IsPunct('(')) ++depth;
      if (t.IsPunct(')') && --depth < 0) break;
      if (depth > 0) continue;
      if (t.IsPunct(';') || t.IsWord("WHERE") || t.IsWord("GROUP") || t.IsWord("ORDER") ||
          t.IsWord("LIMIT") || t.IsWord("UNION") || t.IsWord("EXCEPT") || t.IsWord("INTERSECT") ||
          t.IsWord("ON") || t.IsWord("USING") || t.IsWord("HAVING") || t.IsWord("WINDOW") ||
          t.IsWord("RETURNING") || t.IsWord("JOIN") || t.IsWord("FROM")) {
        break;
      }
      if ((t.kind == TokenKind::kWord && !t.IsWord("AS")) || t.kind == TokenKind::kQuotedIdentifier) {
        info_.reads.push_back(IdentifierName(t, dialect_));
      }
    }
  }
  const std::string table = Qualified(info_.schema, info_.table);
  info_.summary = replace  ? "inserts or replaces rows in " + table
                  : upsert ? "inserts or updates rows in " + table
                           : "inserts into " + table;
}

// PostgreSQL's MERGE INTO t USING ... WHEN ...: an upsert, like INSERT ...
// ON CONFLICT DO UPDATE, so it is classified as one; it rewrites rows when
// a WHEN clause updates or deletes.
void Parser::Merge() {
  info_.kind = StatementKind::kInsert;
  ++pos_;
  Accept("INTO");
  Accept("ONLY");
  SetTable(ReadQualifiedName());
  AcceptStar();
  if (Accept("AS") || (!Peek().IsWord("USING") && IsName(Peek()))) info_.alias = ReadName();
  for (size_t i = FindTopLevel(pos_, {"THEN"}); i + 1 < end_; i = FindTopLevel(i + 1, {"THEN"})) {
    info_.updates_rows |= tokens_[i + 1].IsWord("UPDATE");
    info_.deletes_rows |= tokens_[i + 1].IsWord("DELETE");
    info_.destructive = info_.updates_rows || info_.deletes_rows;
  }
  const std::string table = Qualified(info_.schema, info_.table);
  info_.summary = info_.destructive ? "merges rows into " + table + ", updating or deleting some"
                                    : "merges rows into " + table;
}

std::vector<std::string> UpdatedColumns(const std::vector<Token>& t, Dialect dialect) {
  size_t i = 0;
  int depth = 0;
  for (; i < t.size(); ++i) {  // to the top-level SET
    if (t[i].IsPunct('(')) ++depth;
    if (t[i].IsPunct(')')) --depth;
    if (depth == 0 && t[i].IsWord("set")) break;
  }
  auto is_name = [&](size_t k) {
    return k < t.size() &&
           (t[k].kind == TokenKind::kWord || t[k].kind == TokenKind::kQuotedIdentifier);
  };
  std::vector<std::string> columns;
  for (++i; i < t.size();) {
    if (t[i].IsPunct('(')) {  // (a, b) = (...)
      for (++i; is_name(i); i += 2) {
        columns.push_back(IdentifierName(t[i], dialect));
        if (i + 1 < t.size() && t[i + 1].IsPunct(')')) {
          ++i;
          break;
        }
        if (i + 1 >= t.size() || !t[i + 1].IsPunct(',')) return {};
      }
      if (i >= t.size() || !t[i].IsPunct(')')) return {};
      ++i;
    } else if (is_name(i)) {
      columns.push_back(IdentifierName(t[i], dialect));
      ++i;
      // PostgreSQL: SET col[1] = .., SET col.field = ..: still the column.
      while (i < t.size() && !(t[i].kind == TokenKind::kOperator && t[i].text == "=")) {
        if (t[i].IsPunct(';') || t[i].kind == TokenKind::kEnd) return {};
        ++i;
      }
    } else {
      return {};
    }
    if (i >= t.size() || t[i].kind != TokenKind::kOperator || t[i].text != "=") return {};
    // The value, to the next top-level comma or the clause after SET.
    depth = 0;
    for (++i; i < t.size(); ++i) {
      if (t[i].IsPunct('(')) ++depth;
      if (t[i].IsPunct(')')) --depth;
      if (depth > 0) continue;
      if (t[i].IsPunct(',') || t[i].IsWord("from") || t[i].IsWord("where") ||
          t[i].IsWord("returning") || t[i].IsWord("order") || t[i].IsWord("limit") ||
          t[i].kind == TokenKind::kEnd || t[i].IsPunct(';')) {
        break;
      }
    }
    if (i >= t.size() || !t[i].IsPunct(',')) break;
    ++i;
  }
  return columns;
}

void Parser::Update() {
  info_.kind = StatementKind::kUpdate;
  info_.destructive = true;
  ++pos_;
  if (Accept("OR")) {  // SQLite's conflict clause
    info_.own_conflict_clause = true;
    info_.deletes_colliding = Peek().IsWord("REPLACE");
    ++pos_;
  }
  Accept("ONLY");
  SetTable(ReadQualifiedName());
  AcceptStar();
  if (Accept("AS") || (!Peek().IsWord("SET") && !Peek().IsWord("INDEXED") &&
                       !Peek().IsWord("NOT") && IsName(Peek()))) {
    info_.alias = ReadName();
  }
  info_.where_clause = WhereClause();
  info_.columns = UpdatedColumns(tokens_, dialect_);
  const std::string table = Qualified(info_.schema, info_.table);
  info_.summary = info_.where_clause.empty() ? "updates every row of " + table
                                             : "updates rows of " + table;
}

void Parser::Delete() {
  info_.kind = StatementKind::kDelete;
  info_.destructive = true;
  ++pos_;
  Accept("FROM");
  Accept("ONLY");
  SetTable(ReadQualifiedName());
  AcceptStar();
  const Token& next = Peek();
  if (Accept("AS") || (IsName(next) && !next.IsWord("WHERE") && !next.IsWord("USING") &&
                       !next.IsWord("RETURNING") && !next.IsWord("INDEXED") &&
                       !next.IsWord("NOT") && !next.IsWord("ORDER") && !next.IsWord("LIMIT"))) {
    info_.alias = ReadName();
  }
  info_.where_clause = WhereClause();
  const std::string table = Qualified(info_.schema, info_.table);
  info_.summary = info_.where_clause.empty() ? "deletes every row of " + table
                                             : "deletes rows of " + table;
}

void Parser::Truncate() {
  info_.kind = StatementKind::kTruncate;
  info_.destructive = true;
  ++pos_;
  Accept("TABLE");
  std::vector<std::string> shown;
  do {
    Accept("ONLY");
    ObjectName name = ReadQualifiedName();
    if (name.name.empty()) break;
    AcceptStar();
    shown.push_back(Qualified(name.schema, name.name));
    info_.objects.push_back(std::move(name));
  } while (AcceptPunct(','));
  if (!info_.objects.empty()) SetTable(info_.objects[0]);
  info_.cascade = FindTopLevel(pos_, {"CASCADE"}) != end_;
  info_.summary = "truncates " + JoinNames(shown, "");
}

void Parser::SelectInto(size_t query) {
  const size_t into = FindTopLevel(query, {"INTO"});
  if (dialect_ != Dialect::kPostgres || into == end_) return;
  pos_ = into + 1;
  info_.temporary = Accept("TEMPORARY") || Accept("TEMP");
  Accept("UNLOGGED");
  Accept("TABLE");
  info_.kind = StatementKind::kCreateTable;
  info_.from_query = true;
  info_.destructive = false;  // what its query writes is in writes/rewrites
  SetTable(ReadQualifiedName());
  info_.summary = std::string("creates ") + (info_.temporary ? "temporary " : "") + "table " +
                  Qualified(info_.schema, info_.object) + " from a query (SELECT INTO)";
}

void Parser::With() {
  // The statement the common table expressions feed comes after them, at the
  // top level: WITH [RECURSIVE] a AS (...), b AS (...) <statement>.
  const size_t main =
      FindTopLevel(1, {"INSERT", "REPLACE", "MERGE", "UPDATE", "DELETE", "SELECT", "VALUES"});
  // Data-modifying CTEs (PostgreSQL); FOR [NO KEY] UPDATE is a lock.
  auto writes_at = [&](size_t i) {
    const Token& token = tokens_[i];
    return (token.IsWord("DELETE") || token.IsWord("UPDATE") || token.IsWord("INSERT") ||
            token.IsWord("MERGE")) &&
           !tokens_[i - 1].IsWord("FOR") && !tokens_[i - 1].IsWord("KEY");
  };
  bool modifying_cte = false;
  for (size_t i = 1; i < main; ++i) modifying_cte |= writes_at(i);
  if (!modifying_cte && main < end_ && !tokens_[main].IsWord("SELECT") &&
      !tokens_[main].IsWord("VALUES")) {
    // Read-only CTEs feeding an INSERT, MERGE, UPDATE or DELETE: the
    // statement is that one, captured as it is without a WITH; the WITH
    // goes with its WHERE clause, which may name the CTEs.
    info_.with_clause = TextBetween(0, main);
    pos_ = main;
    const Token& verb = tokens_[main];
    verb.IsWord("MERGE")    ? Merge()
    : verb.IsWord("UPDATE") ? Update()
    : verb.IsWord("DELETE") ? Delete()
                            : Insert();
    return;
  }
  for (size_t i = 1; i < end_; ++i) {
    const Token& token = tokens_[i];
    if ((token.IsWord("DELETE") || token.IsWord("UPDATE")) && !tokens_[i - 1].IsWord("FOR") &&
        !tokens_[i - 1].IsWord("KEY")) {
      info_.destructive = true;
    }
    // SQLite's INSERT OR REPLACE and REPLACE INTO delete the rows they collide with.
    if (dialect_ == Dialect::kSqlite && token.IsWord("REPLACE") && i + 1 < end_ &&
        (tokens_[i - 1].IsWord("OR") || tokens_[i + 1].IsWord("INTO"))) {
      info_.destructive = true;
    }
  }
  // The tables it writes: their data is recorded and checked like a DO
  // block's, so a down script that leaves the inserted rows is caught.
  AddWriteTargets(std::span<const Token>(tokens_.data(), end_), dialect_, info_.writes, info_.rewrites);
  info_.summary = info_.destructive ? "runs a WITH statement that deletes or updates rows"
                                    : "runs a WITH statement";
  // WITH d AS (DELETE ...) SELECT * INTO t FROM d: CREATE TABLE t AS that
  // query, whose writes are captured as CREATE TABLE AS's are.
  if (main < end_ && tokens_[main].IsWord("SELECT")) SelectInto(main);
}

}  // namespace

StatementInfo Classify(std::string_view statement, Dialect dialect) {
  Result<std::vector<Token>> tokens = Tokenize(statement, dialect);
  if (!tokens.ok()) {
    StatementInfo info;
    info.summary = "runs a statement that does not parse (" + tokens.status().message() + ")";
    return info;
  }
  return Parser(statement, std::move(tokens).value(), dialect).Parse();
}

std::string NameKey(std::string_view name, Dialect dialect) {
  return dialect == Dialect::kPostgres ? std::string(name) : AsciiLower(name);
}

std::optional<std::string> FullTextContentOption(std::string_view create) {
  auto tokens = Tokenize(create, Dialect::kSqlite);
  if (!tokens.ok()) return std::nullopt;
  const auto& t = *tokens;
  bool is_virtual = false, fts = false;
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (t[i].IsWord("virtual") && t[i + 1].IsWord("table")) is_virtual = true;
    if (t[i].IsWord("using") && t[i + 1].kind == TokenKind::kWord &&
        AsciiLower(t[i + 1].text).rfind("fts", 0) == 0) {
      fts = true;
    }
    if (is_virtual && fts && t[i].IsWord("content") && t[i + 1].kind == TokenKind::kOperator &&
        t[i + 1].text == "=") {
      return i + 2 < t.size() ? std::string(t[i + 2].text) : std::string();
    }
  }
  return std::nullopt;
}

}  // namespace strata::sql
