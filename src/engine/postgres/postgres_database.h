// PostgreSQL engine: a strata::Database over one libpq connection.
//
// Values travel as text (integers in decimal, reals with 17 significant
// digits) except blobs, which are bound as binary bytea. Results come back in
// text format and are typed by column: int2/int4/int8/oid give integers,
// float4/float8 give reals, bytea gives a Blob, and everything else (numeric,
// bool, dates, json, ...) is returned as the server's text.
//
// The migration lock is a session-level advisory lock, so it is released by
// the server when the connection closes, however the process ended.
//
// Like every Database, the object is one connection and is not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "strata/database.h"
#include "strata/status.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace strata {

/// Connects to `url`, a postgres:// or postgresql:// URI as libpq reads it.
/// Adds connect_timeout=10 unless the URL sets its own. A URL libpq cannot
/// parse is kInvalidArgument; a failed connection is kUnavailable. Neither
/// message contains the password.
Result<std::unique_ptr<Database>> OpenPostgres(const std::string& url);

/// OK when libpq reads `url` and its settings are valid; else kInvalidArgument
/// saying what is wrong, the password left out (libpq quotes the token it
/// could not read, which may be the password).
Status CheckPostgresUrl(const std::string& url);

/// A Database over `conn`, a connection its caller keeps and closes after
/// the Database is gone: for work on a transaction that connection has open
/// (a restore checks what it wrote before it commits).
Result<std::unique_ptr<Database>> BorrowPostgres(PGconn* conn, std::string described);

/// "<primary> (SQLSTATE xxxxx); detail: ...; hint: ..." for a failed result
/// (`conn`'s message when there is none), the password left out. A read
/// that row-level security refuses says what role to connect as.
std::string DescribeError(const PGresult* result, const PGconn* conn);

/// Why nothing can be kept when the connection has no current schema (the
/// URL's search_path names none that exists), and what to do.
Status NoWorkingSchema();

}  // namespace strata
