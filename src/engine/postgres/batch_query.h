// BatchQuery: the statements of a batch as one simple-protocol query.
//
// PostgreSQL runs the statements of a simple query string in order and stops
// at the first failure, so a batch costs one message and one round trip, and
// the server parses the text once, where the extended protocol takes a
// Parse, Bind, Describe and Execute per statement. Parameters become literals.
//
// Which statement failed is told by counting the results before the error,
// except for a syntax error: the server parses the whole string before it
// runs any of it, so that error comes first and is placed by its position.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "strata/database.h"
#include "strata/status.h"

namespace strata {

struct BatchQuery {
  std::string text;
  std::vector<size_t> starts;  // byte offset of each statement in `text`

  /// The index of the statement holding `position`, the 1-based character
  /// (not byte) position PostgreSQL reports for an error in `text`.
  size_t StatementAt(int position) const;
};

/// Writes a value as an SQL literal for the connection at hand.
using LiteralWriter = std::function<Result<std::string>(const Value& value)>;

/// Joins `statements` with ';' into one query, each parameter `$N` (outside
/// literals, quoted names and comments) replaced by `literal(params[N-1])`.
/// REQUIRES: each statement is one non-empty statement without its ';', as
/// the splitter makes them. On failure `*failed` is the statement's index.
Result<BatchQuery> BuildBatchQuery(const std::vector<BatchStatement>& statements,
                                   const LiteralWriter& literal, size_t* failed);

}  // namespace strata
