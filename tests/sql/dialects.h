// Short names for the two SQL dialects, shared by the SQL unit tests.
#pragma once

#include "sql/dialect.h"

inline constexpr strata::sql::Dialect kPg = strata::sql::Dialect::kPostgres;
inline constexpr strata::sql::Dialect kLite = strata::sql::Dialect::kSqlite;
