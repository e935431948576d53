// Risk tags: what a rehearsal report warns about in a migration beyond
// pass or fail. Pure: fed the up script's statements and a few facts.
#pragma once

#include <string>
#include <vector>

#include "sql/dialect.h"
#include "sql/splitter.h"

namespace strata {

struct Risk {
  std::string tag;     // "destructive", "lock", "table-rewrite", "no-transaction", "irreversible"
  std::string detail;  // for a person: "drops column customers.phone"
  /// A table-rewrite of a column's new type: the table. The rehearsal
  /// drops the risk when PostgreSQL kept the table's files (a type it
  /// converts without rewriting: varchar(255) to varchar(1000) or text).
  std::string retyped = "";
};

struct RiskFacts {
  sql::Dialect dialect = sql::Dialect::kSqlite;
  std::vector<std::string> existing_tables;  // before the migration
  bool no_transaction = false;
  bool irreversible = false;  // no down script and no derived inverse
};

/// The risks of one migration's up statements, in statement order, then
/// those of the migration as a whole.
std::vector<Risk> AssessRisks(const std::vector<sql::Statement>& up, const RiskFacts& facts);

}  // namespace strata
