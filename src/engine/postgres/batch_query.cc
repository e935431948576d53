#include "engine/postgres/batch_query.h"

#include <algorithm>
#include <charconv>

#include "sql/lexer.h"

namespace strata {
namespace {

/// `sql` with each `$N` replaced by the literal of params[N-1].
Result<std::string> Substitute(std::string_view sql, const std::vector<Value>& params,
                               const LiteralWriter& literal) {
  std::string out;
  out.reserve(sql.size() + 16 * params.size());
  sql::Lexer lexer(sql, sql::Dialect::kPostgres);
  size_t copied = 0;
  while (true) {
    STRATA_ASSIGN_OR_RETURN(sql::Token token, lexer.Next());
    if (token.kind == sql::TokenKind::kEnd) break;
    if (token.kind != sql::TokenKind::kParameter) continue;
    size_t n = 0;
    auto [ptr, ec] = std::from_chars(token.text.data() + 1, token.text.data() + token.text.size(), n);
    if (ec != std::errc() || n == 0 || n > params.size()) {
      return Status(Code::kInvalidArgument, "parameter " + std::string(token.text) + " of " +
                                                std::to_string(params.size()) + " given");
    }
    STRATA_ASSIGN_OR_RETURN(std::string value, literal(params[n - 1]));
    out.append(sql.substr(copied, token.offset - copied));
    out += value;
    copied = token.end();
  }
  out.append(sql.substr(copied));
  return out;
}

}  // namespace

size_t BatchQuery::StatementAt(int position) const {
  // Walk to the byte of the position-th character (UTF-8: continuation
  // bytes do not start a character).
  size_t byte = 0;
  for (int chars = 0; byte < text.size(); ++byte) {
    if ((static_cast<unsigned char>(text[byte]) & 0xC0) != 0x80 && ++chars == position) break;
  }
  auto after = std::upper_bound(starts.begin(), starts.end(), byte);
  return after == starts.begin() ? 0 : static_cast<size_t>(after - starts.begin()) - 1;
}

Result<BatchQuery> BuildBatchQuery(const std::vector<BatchStatement>& statements,
                                   const LiteralWriter& literal, size_t* failed) {
  BatchQuery query;
  size_t size = 0;
  for (const BatchStatement& st : statements) size += st.sql.size() + 3;
  query.text.reserve(size);
  for (size_t i = 0; i < statements.size(); ++i) {
    const BatchStatement& st = statements[i];
    query.starts.push_back(query.text.size());
    if (st.params.empty()) {
      query.text.append(st.sql);
    } else {
      auto substituted = Substitute(st.sql, st.params, literal);
      if (!substituted.ok()) {
        *failed = i;
        return substituted.status();
      }
      query.text += *substituted;
    }
    // The newline keeps a statement that ends in a `--` comment from
    // swallowing the ';'.
    query.text += "\n;";
  }
  return query;
}

}  // namespace strata
