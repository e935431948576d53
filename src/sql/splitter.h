// Splitting a migration script into the statements an engine runs one by one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sql/dialect.h"
#include "strata/status.h"

namespace strata::sql {

struct Statement {
  std::string text;  // without its terminating ';', from its first token to its last; inner comments kept
  int line = 0;      // 1-based line of the statement's first token (not of a comment before it)
};

/// Splits `script` at the ';' that end statements, skipping those inside
/// literals, quoted names, comments, SQLite CREATE TRIGGER ... BEGIN ... END
/// bodies, PostgreSQL BEGIN ATOMIC ... END bodies and (PostgreSQL, as psql
/// does) parentheses. Statements made only
/// of comments and whitespace are dropped; a last statement without ';' is
/// kept. Errors are kParse "LINE:COL: what", pointing at where the unclosed
/// construct starts: "3:14: unterminated single-quoted string",
/// "1:20: CREATE TRIGGER body has no END". The caller adds the file name.
Result<std::vector<Statement>> SplitStatements(std::string_view script, Dialect dialect);

}  // namespace strata::sql
