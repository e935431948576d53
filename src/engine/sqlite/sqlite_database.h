// The SQLite engine, over libsqlite3.
#pragma once

#include <memory>
#include <string>

#include "strata/database.h"

namespace strata {

/// Opens (creating if needed) the SQLite database at `path`; ":memory:" gives
/// a private in-memory database.
Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path, bool create = true);

}  // namespace strata
