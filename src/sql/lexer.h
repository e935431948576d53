// A single-pass SQL tokenizer for SQLite and PostgreSQL text.
//
// Tokens are views into the input, which must outlive them; the lexer never
// allocates per token. Whitespace and comments are skipped. The lexer knows
// each engine's quoting rules (E'..' strings and $tag$ bodies in PostgreSQL,
// [..] and `..` identifiers in SQLite, nested block comments in PostgreSQL
// only), so that a ';' inside a literal is never mistaken for a terminator.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sql/dialect.h"
#include "strata/status.h"

namespace strata::sql {

enum class TokenKind {
  kEnd,               // past the last token
  kWord,              // keyword or bare identifier: CREATE, users
  kQuotedIdentifier,  // "Users"; in SQLite also [Users] and `Users`
  kString,            // 'it''s'; PostgreSQL also E'it\'s' and $tag$...$tag$
  kNumber,            // 42, 3.14, 1e-3, 0xff
  kParameter,         // PostgreSQL $1; SQLite ?, ?1, :name, @name, $name
  kPunct,             // one of ; ( ) , . [ ] { } : or an unexpected byte
  kOperator,          // a run of operator characters: = <> || -> ::
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;  // the token as written, quotes included
  int line = 0;           // 1-based
  int column = 0;         // 1-based, counted in bytes
  size_t offset = 0;      // of the token's first byte in the input

  size_t end() const { return offset + text.size(); }
  /// True for a kWord spelled `keyword`, ignoring ASCII case.
  bool IsWord(std::string_view keyword) const;
  bool IsPunct(char c) const {
    return kind == TokenKind::kPunct && text.size() == 1 && text[0] == c;
  }
};

class Lexer {
 public:
  Lexer(std::string_view input, Dialect dialect) : input_(input), dialect_(dialect) {}

  /// Returns the next token, or a kEnd token once the input is used up.
  /// A literal or comment left open is a kParse error "LINE:COL: what",
  /// pointing at where it starts, e.g. "3:14: unterminated single-quoted string".
  Result<Token> Next();

 private:
  Status SkipSpaceAndComments();
  Status ErrorAt(size_t offset, std::string_view what) const;
  /// Moves to `end`, counting the newlines passed over.
  void AdvanceTo(size_t end);
  char At(size_t i) const { return i < input_.size() ? input_[i] : '\0'; }

  // Each Scan returns the offset just past the construct starting at
  // `start`, or npos when it is not closed before the end of the input.
  size_t ScanQuoted(size_t start, char quote, bool backslash_escapes) const;
  size_t ScanBlockComment(size_t start) const;
  size_t ScanWord(size_t start) const;
  size_t ScanNumber(size_t start) const;
  size_t ScanOperator(size_t start) const;

  std::string_view input_;
  Dialect dialect_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;  // offset of the first byte of line_
};

/// Lexes all of `input`; the result does not include the kEnd token.
Result<std::vector<Token>> Tokenize(std::string_view input, Dialect dialect);

/// The name an identifier token denotes, as the engine sees it: quotes
/// removed and doubled quotes undone; a bare word is lower-cased in
/// PostgreSQL and kept as written in SQLite (which compares names
/// case-insensitively). SQLite also accepts a 'string' where a name goes.
std::string IdentifierName(const Token& token, Dialect dialect);

/// True when `name` must be double-quoted to be read back as itself: it is
/// empty, has characters other than letters, digits and '_', starts with a
/// digit, is a keyword, or (PostgreSQL) has upper-case letters.
bool NeedsQuotes(std::string_view name, Dialect dialect);

/// `name` in double quotes, inner double quotes doubled.
std::string QuoteIdentifier(std::string_view name);

/// `name` as SQL: quoted only when NeedsQuotes().
std::string IdentifierSql(std::string_view name, Dialect dialect);

}  // namespace strata::sql
