#include "strata/database.h"

#include <fmt/format.h>

#include "engine/postgres/postgres_database.h"
#include "engine/sqlite/sqlite_database.h"
#include "engine/url.h"
#include "util/text.h"

namespace strata {

const char* EngineName(Engine engine) {
  switch (engine) {
    case Engine::kSqlite: return "sqlite";
    case Engine::kPostgres: return "postgres";
  }
  return "unknown";
}

Value ToValue(const CellView& cell) {
  switch (cell.type) {
    case Value::Type::kNull: return Value();
    case Value::Type::kInteger: return Value(cell.integer);
    case Value::Type::kReal: return Value(cell.real);
    case Value::Type::kText: return Value(std::string(cell.bytes));
    case Value::Type::kBlob: return Value(Blob{std::string(cell.bytes)});
  }
  return Value();
}

Status Database::Savepoint(std::string_view name) {
  return Exec(fmt::format("SAVEPOINT {}", QuoteIdent(name)));
}

Status Database::ReleaseSavepoint(std::string_view name) {
  return Exec(fmt::format("RELEASE SAVEPOINT {}", QuoteIdent(name)));
}

Status Database::RollbackToSavepoint(std::string_view name) {
  return Exec(fmt::format("ROLLBACK TO SAVEPOINT {}", QuoteIdent(name)));
}

BatchResult Database::ExecBatch(const std::vector<BatchStatement>& statements) {
  for (size_t i = 0; i < statements.size(); ++i) {
    const BatchStatement& st = statements[i];
    Status s = st.params.empty() ? Exec(st.sql) : Query(st.sql, st.params).status();
    if (!s.ok()) return BatchResult{s, i};
  }
  return BatchResult{};
}

void Database::SendBatch(const std::vector<BatchStatement>& statements) {
  const bool stopped = !sent_outcomes_.empty() && !sent_outcomes_.back().status.ok();
  sent_outcomes_.push_back(stopped ? NotRunBatch() : ExecBatch(statements));
}

BatchResult NotRunBatch() {
  BatchResult out{Status(Code::kInternal, "not run: a batch sent before it failed"), 0};
  out.not_run = true;
  return out;
}

BatchResult Database::TakeBatch() {
  if (sent_outcomes_.empty()) return BatchResult{Status(Code::kInternal, "no batch was sent"), 0};
  BatchResult out = std::move(sent_outcomes_.front());
  sent_outcomes_.pop_front();
  return out;
}

Result<std::vector<Rows>> Database::QueryFixedBatch(const std::vector<BatchStatement>& queries) {
  std::vector<Rows> out;
  out.reserve(queries.size());
  for (const BatchStatement& q : queries) {
    STRATA_ASSIGN_OR_RETURN(Rows rows, QueryFixed(q.sql, q.params));
    out.push_back(std::move(rows));
  }
  return out;
}

std::string Database::QuoteIdent(std::string_view ident) const { return SqlIdentifier(ident); }

Result<std::unique_ptr<Database>> OpenDatabase(std::string_view url, bool create) {
  STRATA_ASSIGN_OR_RETURN(DatabaseUrl parsed, ParseDatabaseUrl(url));
  switch (parsed.engine) {
    case Engine::kSqlite: return OpenSqlite(parsed.target, create);
    case Engine::kPostgres: return OpenPostgres(parsed.target);
  }
  return Status(Code::kInternal, "unknown engine");
}

std::vector<std::vector<std::string>> Database::GroupKeys(const Rows& rows) {
  std::vector<std::vector<std::string>> keys;
  std::string current;
  bool expression = false;
  for (size_t i = 0; i < rows.rows.size(); ++i) {
    const auto& row = rows.rows[i];
    std::string name = row[0].ToString();
    if (i == 0 || name != current) {
      if (expression) keys.pop_back();
      keys.emplace_back();
      current = name;
      expression = false;
    }
    if (row[1].is_null()) expression = true;
    else keys.back().push_back(row[1].ToString());
  }
  if (expression) keys.pop_back();
  return keys;
}

}  // namespace strata
