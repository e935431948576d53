#include "sql/lexer.h"

#include <algorithm>
#include <cstring>

namespace strata::sql {

namespace {

constexpr size_t kNpos = std::string_view::npos;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsHighBit(char c) { return static_cast<unsigned char>(c) >= 0x80; }
bool IsIdentStart(char c) { return IsAlpha(c) || c == '_' || IsHighBit(c); }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c) || c == '$'; }
// A dollar-quote tag is an identifier without '$'.
bool IsTagChar(char c) { return IsIdentStart(c) || IsDigit(c); }
bool IsHexDigit(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsOperatorChar(char c, Dialect dialect) {
  if (c == '\0') return false;  // strchr would match the terminator
  if (dialect == Dialect::kPostgres) return std::strchr("+-*/<>=~!@#%^&|`?", c) != nullptr;
  return std::strchr("+-*/<>=~!|&%", c) != nullptr;
}

// Words either engine treats as reserved somewhere; quoting them is always safe.
constexpr std::string_view kKeywords[] = {
    "abort", "action", "add", "after", "all", "alter", "analyse", "analyze", "and", "any",
    "array", "as", "asc", "asymmetric", "attach", "authorization", "autoincrement", "before",
    "begin", "between", "binary", "both", "by", "cascade", "case", "cast", "check",
    "collate", "collation", "column", "commit", "concurrently", "conflict", "constraint",
    "create", "cross", "current_catalog", "current_date", "current_role", "current_schema",
    "current_time", "current_timestamp", "current_user", "database", "default",
    "deferrable", "deferred", "delete", "desc", "detach", "distinct", "do", "drop", "each",
    "else", "end", "escape", "except", "exclusive", "exists", "explain", "fail", "false",
    "fetch", "for", "foreign", "freeze", "from", "full", "glob", "grant", "group", "having",
    "if", "ignore", "ilike", "immediate", "in", "index", "indexed", "initially", "inner",
    "insert", "instead", "intersect", "into", "is", "isnull", "join", "key", "lateral",
    "leading", "left", "like", "limit", "localtime", "localtimestamp", "match", "natural",
    "no", "not", "notnull", "null", "of", "offset", "on", "only", "or", "order", "outer",
    "overlaps", "placing", "plan", "pragma", "primary", "query", "raise", "recursive",
    "references", "regexp", "reindex", "release", "rename", "replace", "restrict",
    "returning", "right", "rollback", "row", "savepoint", "select", "session_user", "set",
    "similar", "some", "symmetric", "table", "tablesample", "temp", "temporary", "then",
    "to", "trailing", "transaction", "trigger", "true", "union", "unique", "update", "user",
    "using", "vacuum", "values", "variadic", "verbose", "view", "virtual", "when", "where",
    "window", "with", "without"};

bool IsKeyword(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), ToLower);
  return std::find(std::begin(kKeywords), std::end(kKeywords), lower) != std::end(kKeywords);
}

}  // namespace

bool Token::IsWord(std::string_view keyword) const {
  if (kind != TokenKind::kWord || text.size() != keyword.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (ToLower(text[i]) != ToLower(keyword[i])) return false;
  }
  return true;
}

Status Lexer::ErrorAt(size_t offset, std::string_view what) const {
  // Errors are raised before advancing, so `offset` is on line_.
  const size_t column = offset - line_start_ + 1;
  return Status(Code::kParse, std::to_string(line_) + ":" + std::to_string(column) + ": " +
                                  std::string(what));
}

void Lexer::AdvanceTo(size_t end) {
  const char* data = input_.data();
  const char* p = data + pos_;
  const char* stop = data + end;
  while (p < stop) {
    const void* nl = std::memchr(p, '\n', static_cast<size_t>(stop - p));
    if (nl == nullptr) break;
    p = static_cast<const char*>(nl) + 1;
    ++line_;
    line_start_ = static_cast<size_t>(p - data);
  }
  pos_ = end;
}

Status Lexer::SkipSpaceAndComments() {
  const size_t n = input_.size();
  while (pos_ < n) {
    const char c = input_[pos_];
    if (c == '\n') {
      ++line_;
      line_start_ = ++pos_;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++pos_;
    } else if (c == '-' && At(pos_ + 1) == '-') {
      const size_t nl = input_.find('\n', pos_);
      pos_ = nl == kNpos ? n : nl;
    } else if (c == '/' && At(pos_ + 1) == '*') {
      const size_t end = ScanBlockComment(pos_);
      if (end == kNpos) return ErrorAt(pos_, "unterminated block comment");
      AdvanceTo(end);
    } else {
      break;
    }
  }
  return Status::OK();
}

size_t Lexer::ScanQuoted(size_t start, char quote, bool backslash_escapes) const {
  const size_t n = input_.size();
  size_t i = start + 1;
  while (i < n) {
    const char c = input_[i];
    if (c == '\\' && backslash_escapes) {
      i += 2;
    } else if (c == quote) {
      if (At(i + 1) != quote) return i + 1;
      i += 2;  // a doubled quote stands for itself
    } else {
      ++i;
    }
  }
  return kNpos;
}

size_t Lexer::ScanBlockComment(size_t start) const {
  // PostgreSQL nests /* */; SQLite ends the comment at the first */.
  const bool nested = dialect_ == Dialect::kPostgres;
  const size_t n = input_.size();
  int depth = 1;
  size_t i = start + 2;
  while (i + 1 < n) {
    if (input_[i] == '*' && input_[i + 1] == '/') {
      i += 2;
      if (--depth == 0) return i;
    } else if (nested && input_[i] == '/' && input_[i + 1] == '*') {
      ++depth;
      i += 2;
    } else {
      ++i;
    }
  }
  return kNpos;
}

size_t Lexer::ScanWord(size_t start) const {
  size_t i = start;
  while (i < input_.size() && IsIdentChar(input_[i])) ++i;
  return i;
}

size_t Lexer::ScanNumber(size_t start) const {
  const size_t n = input_.size();
  size_t i = start;
  if (input_[i] == '0' && (At(i + 1) == 'x' || At(i + 1) == 'X')) {
    i += 2;
    while (i < n && (IsHexDigit(input_[i]) || input_[i] == '_')) ++i;
    return i;
  }
  while (i < n && (IsDigit(input_[i]) || input_[i] == '_')) ++i;
  if (At(i) == '.' && At(i + 1) != '.') {
    ++i;
    while (i < n && (IsDigit(input_[i]) || input_[i] == '_')) ++i;
  }
  if (At(i) == 'e' || At(i) == 'E') {
    size_t j = i + 1;
    if (At(j) == '+' || At(j) == '-') ++j;
    if (IsDigit(At(j))) {
      i = j;
      while (i < n && IsDigit(input_[i])) ++i;
    }
  }
  return i;
}

size_t Lexer::ScanOperator(size_t start) const {
  size_t i = start + 1;
  while (i < input_.size() && IsOperatorChar(input_[i], dialect_)) {
    const char next = At(i + 1);
    if ((input_[i] == '-' && next == '-') || (input_[i] == '/' && next == '*')) break;
    ++i;
  }
  return i;
}

Result<Token> Lexer::Next() {
  STRATA_RETURN_IF_ERROR(SkipSpaceAndComments());
  Token token;
  token.offset = pos_;
  token.line = line_;
  token.column = static_cast<int>(pos_ - line_start_ + 1);
  if (pos_ >= input_.size()) return token;

  const bool pg = dialect_ == Dialect::kPostgres;
  const char c = input_[pos_];
  const char next = At(pos_ + 1);
  size_t end = pos_ + 1;
  const char* unterminated = "";  // what to report when end == npos
  std::string_view delimiter;     // of a dollar-quoted string
  token.kind = TokenKind::kPunct;

  if (pg && (c == 'E' || c == 'e') && next == '\'') {
    token.kind = TokenKind::kString;
    end = ScanQuoted(pos_ + 1, '\'', /*backslash_escapes=*/true);
    unterminated = "unterminated single-quoted string";
  } else if (IsIdentStart(c)) {
    token.kind = TokenKind::kWord;
    end = ScanWord(pos_);
  } else if (IsDigit(c) || (c == '.' && IsDigit(next))) {
    token.kind = TokenKind::kNumber;
    end = ScanNumber(pos_);
  } else if (c == '\'') {
    token.kind = TokenKind::kString;
    end = ScanQuoted(pos_, '\'', false);
    unterminated = "unterminated single-quoted string";
  } else if (c == '"' || (!pg && c == '`')) {
    token.kind = TokenKind::kQuotedIdentifier;
    end = ScanQuoted(pos_, c, false);
    unterminated = "unterminated quoted identifier";
  } else if (!pg && c == '[') {
    token.kind = TokenKind::kQuotedIdentifier;
    const size_t close = input_.find(']', pos_ + 1);
    end = close == kNpos ? kNpos : close + 1;
    unterminated = "unterminated quoted identifier";
  } else if (pg && c == '$') {
    if (IsDigit(next)) {
      token.kind = TokenKind::kParameter;
      end = pos_ + 1;
      while (IsDigit(At(end))) ++end;
    } else {
      size_t tag_end = pos_ + 1;
      while (IsTagChar(At(tag_end))) ++tag_end;
      if (At(tag_end) == '$') {
        delimiter = input_.substr(pos_, tag_end + 1 - pos_);
        const size_t close = input_.find(delimiter, tag_end + 1);
        token.kind = TokenKind::kString;
        end = close == kNpos ? kNpos : close + delimiter.size();
        unterminated = "unterminated dollar-quoted string ";
      }
    }
  } else if (!pg && (c == '?' || ((c == ':' || c == '@' || c == '$') && IsIdentChar(next)))) {
    token.kind = TokenKind::kParameter;
    end = pos_ + 1;
    while (c == '?' ? IsDigit(At(end)) : IsIdentChar(At(end))) ++end;
  } else if (pg && c == ':' && next == ':') {
    token.kind = TokenKind::kOperator;
    end = pos_ + 2;
  } else if (IsOperatorChar(c, dialect_)) {
    token.kind = TokenKind::kOperator;
    end = ScanOperator(pos_);
  }

  if (end == kNpos) return ErrorAt(pos_, std::string(unterminated) + std::string(delimiter));
  token.text = input_.substr(pos_, end - pos_);
  if (token.kind == TokenKind::kString || token.kind == TokenKind::kQuotedIdentifier) {
    AdvanceTo(end);  // only these can span lines
  } else {
    pos_ = end;
  }
  return token;
}

Result<std::vector<Token>> Tokenize(std::string_view input, Dialect dialect) {
  Lexer lexer(input, dialect);
  std::vector<Token> tokens;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(Token token, lexer.Next());
    if (token.kind == TokenKind::kEnd) break;
    tokens.push_back(token);
  }
  return tokens;
}

std::string IdentifierName(const Token& token, Dialect dialect) {
  std::string_view text = token.text;
  if (token.kind == TokenKind::kWord) {
    std::string name(text);
    if (dialect == Dialect::kPostgres) std::transform(name.begin(), name.end(), name.begin(), ToLower);
    return name;
  }
  if ((token.kind != TokenKind::kQuotedIdentifier && token.kind != TokenKind::kString) ||
      text.size() < 2) {
    return std::string(text);
  }
  const char open = text.front();
  const char close = open == '[' ? ']' : open;
  std::string name;
  name.reserve(text.size() - 2);
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    name += text[i];
    if (text[i] == close && close != ']') ++i;  // skip the second of a doubled quote
  }
  return name;
}

bool NeedsQuotes(std::string_view name, Dialect dialect) {
  if (name.empty() || IsDigit(name[0])) return true;
  for (char c : name) {
    const bool plain = (c >= 'a' && c <= 'z') || IsDigit(c) || c == '_' ||
                       (dialect == Dialect::kSqlite && c >= 'A' && c <= 'Z');
    if (!plain) return true;
  }
  return IsKeyword(name);
}

std::string QuoteIdentifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string IdentifierSql(std::string_view name, Dialect dialect) {
  return NeedsQuotes(name, dialect) ? QuoteIdentifier(name) : std::string(name);
}

}  // namespace strata::sql
