#include "sql/splitter.h"

#include "sql/lexer.h"

namespace strata::sql {

namespace {

// Follows one statement's tokens to tell whether it is inside a body whose
// ';' do not end the statement: SQLite's CREATE [TEMP] TRIGGER ... BEGIN ...
// END and PostgreSQL's CREATE ... BEGIN ATOMIC ... END. CASE ... END pairs
// are counted so that their END does not close the body.
class BodyTracker {
 public:
  explicit BodyTracker(Dialect dialect) : dialect_(dialect) {}

  void Observe(const Token& token);
  bool InOpenBody() const { return in_body_ && !closed_; }
  /// The BEGIN that opened the body.
  const Token& begin() const { return begin_; }

 private:
  Dialect dialect_;
  int index_ = 0;  // of the token within the statement
  bool create_ = false;
  bool temp_ = false;       // CREATE TEMP|TEMPORARY
  bool trigger_ = false;    // SQLite CREATE [TEMP] TRIGGER
  bool after_begin_ = false;
  bool in_body_ = false;
  bool closed_ = false;
  int case_depth_ = 0;
  Token begin_;
};

void BodyTracker::Observe(const Token& token) {
  const int index = index_++;
  if (index == 0) {
    create_ = token.IsWord("CREATE");
    return;
  }
  if (!create_ || closed_) return;
  if (dialect_ == Dialect::kSqlite) {
    if (index == 1) temp_ = token.IsWord("TEMP") || token.IsWord("TEMPORARY");
    if ((index == 1 || (index == 2 && temp_)) && token.IsWord("TRIGGER")) trigger_ = true;
  }
  const bool after_begin = after_begin_;
  after_begin_ = false;
  if (token.kind != TokenKind::kWord) return;

  if (token.IsWord("CASE")) {
    ++case_depth_;
  } else if (token.IsWord("END")) {
    if (case_depth_ > 0) {
      --case_depth_;
    } else if (in_body_) {
      closed_ = true;
    }
  } else if (!in_body_ && token.IsWord("BEGIN")) {
    begin_ = token;
    if (trigger_) {
      in_body_ = true;
    } else if (dialect_ == Dialect::kPostgres) {
      after_begin_ = true;
    }
  } else if (!in_body_ && after_begin && token.IsWord("ATOMIC")) {
    in_body_ = true;
  }
}

}  // namespace

Result<std::vector<Statement>> SplitStatements(std::string_view script, Dialect dialect) {
  std::vector<Statement> statements;
  Lexer lexer(script, dialect);
  BodyTracker body(dialect);
  Token first;  // of the current statement; kEnd while there is none
  size_t last_end = 0;
  // Like psql, PostgreSQL ignores ';' inside parentheses (CREATE RULE ... DO (a; b)).
  int paren_depth = 0;

  auto finish = [&]() {
    if (first.kind == TokenKind::kEnd) return;
    statements.push_back(
        Statement{std::string(script.substr(first.offset, last_end - first.offset)), first.line});
    first = Token();
    body = BodyTracker(dialect);
  };

  for (;;) {
    STRATA_ASSIGN_OR_RETURN(Token token, lexer.Next());
    if (token.kind == TokenKind::kEnd) break;
    if (dialect == Dialect::kPostgres) {
      if (token.IsPunct('(')) ++paren_depth;
      if (token.IsPunct(')') && paren_depth > 0) --paren_depth;
    }
    if (token.IsPunct(';') && paren_depth == 0 && !body.InOpenBody()) {
      finish();
      continue;
    }
    if (first.kind == TokenKind::kEnd) first = token;
    last_end = token.end();
    body.Observe(token);
  }
  if (body.InOpenBody()) {
    const Token& begin = body.begin();
    const char* what = dialect == Dialect::kSqlite ? "CREATE TRIGGER body has no END"
                                                   : "BEGIN ATOMIC body has no END";
    return Status(Code::kParse,
                  std::to_string(begin.line) + ":" + std::to_string(begin.column) + ": " + what);
  }
  finish();
  return statements;
}

}  // namespace strata::sql
