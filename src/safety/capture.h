// Capture: what a destructive statement removes, kept so a rollback loses
// nothing (DESIGN.md guarantee 4).
//
// Before a statement that removes or rewrites data of a table that existed
// before the migration (drop table, drop column, alter column type, delete,
// update, truncate, insert-or-replace), the rows or values it will change are
// copied, inside the migration's own transaction, into a table of Strata's
// own (strata_capture_<version>_<n>). The SQL that puts them back is written
// at the same time and stored in history; a rollback runs it after the down
// script has recreated the structure, then drops the capture table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sql/classify.h"
#include "strata/database.h"

namespace strata {

struct Capture {
  std::string table;                // the capture table
  std::vector<std::string> before;  // run just before the statement
  std::vector<std::string> restore; // run after the down script, in order
  std::string drop;                 // removes the capture table
};

/// Plans the capture for one statement on `db` as it is before the
/// migration. nullopt when the statement removes nothing that existed before
/// it (not destructive, or its table is created by the migration itself).
/// kIrreversible when it removes data Strata cannot capture; the message
/// says why and what to do.
Result<std::optional<Capture>> PlanCapture(Database& db, std::string_view statement,
                                           const sql::StatementInfo& info, int64_t version,
                                           int sequence);

/// The prefix of every capture table, for finalize to find them.
std::string CaptureTablePrefix(int64_t version);

}  // namespace strata
