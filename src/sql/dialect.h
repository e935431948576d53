// The SQL dialects the splitter, classifier and inverse derivation know.
#pragma once

#include <string>
#include <string_view>

namespace strata::sql {

enum class Dialect { kSqlite, kPostgres };

/// A name as the engine tells names apart, to compare by: SQLite ignores
/// ASCII case; PostgreSQL compares exactly (Classify has folded unquoted
/// names already).
std::string NameKey(std::string_view name, Dialect dialect);

}  // namespace strata::sql
