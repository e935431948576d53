// Copying one PostgreSQL database into another: pg_dump reads the source in
// one consistent snapshot, and its plain-SQL output is run on a libpq
// connection to the destination as it streams in (SQL with PQexec, table data
// with COPY ... FROM STDIN), so memory does not grow with the database.
//
// pg_dump is $STRATA_PG_DUMP, else `pg_dump` on PATH. It gets the
// connection parameters without the password, which travels in its
// environment (PGPASSWORD), never on a command line.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "strata/status.h"

namespace strata {

/// libpq connection parameters, keyword and value, as PQconninfoParse gives them.
using ConnParams = std::vector<std::pair<std::string, std::string>>;

/// Parses a postgres:// URL (or key=value string) into its parameters.
Result<ConnParams> ParseConnParams(const std::string& url);

/// `params` with dbname set to `dbname`.
ConnParams WithDbname(ConnParams params, const std::string& dbname);

/// Dumps the database `source` names and restores it into `dest`'s
/// (an empty database). Owners, privileges, subscriptions, publications,
/// security labels and tablespaces are left out: the copy belongs to the
/// connecting user. Any error stops the copy and is returned; one the
/// destination reports while running the dump is kUnavailable (the source
/// could not be copied), as is one of pg_dump.
Status CopyPostgresDatabase(const ConnParams& source, const ConnParams& dest);

}  // namespace strata
