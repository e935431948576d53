// Seed: fills a database's tables with generated rows that satisfy the schema
// (types, NOT NULL, UNIQUE and primary keys, foreign keys, simple CHECKs) and
// carry the edge values real tables hold. Deterministic given `seed`.
//
// Tables are filled parents first, all in one transaction (or inside the
// caller's, when one is open): either every table gets its rows or none does.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "strata/database.h"

namespace strata {

struct SeedOptions {
  int64_t rows_per_table = 1000;
  uint64_t seed = 42;
  std::vector<std::string> tables;  // empty = all user tables (strata_* never)
  bool allow_non_empty = false;     // add rows to tables that already have some
};

struct SeedReport {
  std::vector<std::pair<std::string, int64_t>> rows_per_table;  // in fill order
  /// Tables left alone when seeding all tables, with why: virtual tables
  /// (their module keeps them: an FTS index follows its content table) and
  /// partitions (filled through their partitioned table).
  std::vector<std::pair<std::string, std::string>> skipped;
};

/// Fills the tables named by `options`. Fails, having inserted nothing, when a
/// table has rows (unless allow_non_empty), when tables reference each other
/// through NOT NULL foreign keys, or when a constraint cannot be satisfied
/// after a few tries; the message names the table and the constraint.
Result<SeedReport> Seed(Database& db, const SeedOptions& options);

}  // namespace strata
