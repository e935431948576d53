// The benchmark's migrations: N small files that are valid SQLite and
// PostgreSQL alike, plus the same SQL concatenated for the baselines.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "strata/status.h"

namespace strata::bench {

/// What WriteWorkload wrote, and what a database holds once all of it is applied.
struct Workload {
  std::filesystem::path migrations;     // NNNN_name.up.sql and NNNN_name.down.sql
  std::filesystem::path dbmate;         // the same in dbmate's layout: NNNN_name.sql with
                                        // "-- migrate:up" and "-- migrate:down" sections
  std::filesystem::path up_sql;         // every up script in order, no transaction
  std::filesystem::path up_one_txn;     // the same inside one BEGIN/COMMIT
  std::filesystem::path down_one_txn;   // every down script, newest first, in one BEGIN/COMMIT
  int tables = 0;                       // bench_tNNNN
  int columns = 0;                      // over all bench_t tables, added ones included
  int indexes = 0;                      // bench_iNNNN

  /// "tables columns indexes" as the validation queries print them.
  std::string Shape() const;
};

/// Writes `count` migrations under `root`: by turns a CREATE TABLE, an ADD COLUMN
/// to an earlier table and a CREATE INDEX on an earlier table's column, each with
/// its down script (DROP TABLE, DROP COLUMN, DROP INDEX). `seed` picks the targets.
/// The same migrations are written in dbmate's layout too, for timing it alongside.
Result<Workload> WriteWorkload(const std::filesystem::path& root, int count, uint32_t seed);

}  // namespace strata::bench
