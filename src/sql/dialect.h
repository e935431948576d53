// The SQL dialects the splitter, classifier and inverse derivation know.
#pragma once

namespace strata::sql {

enum class Dialect { kSqlite, kPostgres };

}  // namespace strata::sql
