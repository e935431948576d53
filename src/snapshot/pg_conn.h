// A bare libpq connection for what the Database seam does not offer: COPY
// streams in both directions and multi-statement scripts. Used only by the
// PostgreSQL snapshot source and restorer.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/database.h"
#include "strata/status.h"
#include "util/interrupt.h"

typedef struct pg_conn PGconn;
typedef struct pg_cancel PGcancel;

namespace strata::snapshot {

class PgConn {
 public:
  /// Connects to `url` (postgres://...). Errors never show the password.
  static Result<std::unique_ptr<PgConn>> Open(const std::string& url);
  ~PgConn();

  /// Runs one or more statements (simple query protocol), discarding rows.
  Status Exec(std::string_view sql) { return Exec(sql, {}); }
  /// As Exec, an error saying `what` was being done instead of quoting the
  /// start of the SQL (a script's first line is a comment that says nothing).
  Status Exec(std::string_view sql, std::string_view what);
  /// Runs one query with text parameters; cells in text form, NULL as nullopt.
  Result<std::vector<std::vector<std::optional<std::string>>>> Query(
      const std::string& sql, const std::vector<std::string>& params = {});
  /// Runs `COPY ... TO STDOUT` and passes each piece of data to `on_data`.
  Status CopyOut(const std::string& sql, const std::function<Status(std::string_view)>& on_data);
  /// Runs `COPY ... FROM STDIN`, sending what `next` produces until it
  /// returns an empty string; an error from `next` aborts the COPY.
  Status CopyIn(const std::string& sql, const std::function<Result<std::string>()>& next);
  /// A Database over this connection, in whatever transaction it has open;
  /// one per PgConn (its prepared statements are the connection's), which
  /// the PgConn owns.
  Result<Database*> AsDatabase(std::string described);

 private:
  explicit PgConn(PGconn* conn);
  Status LastError(std::string_view what) const;
  PGconn* conn_;
  std::unique_ptr<Database> borrowed_;  // AsDatabase's, gone before conn_
  // SIGINT/SIGTERM (Interrupt) cancel the statement or COPY running.
  PGcancel* cancel_ = nullptr;
  std::optional<Interrupt::Hook> interrupt_;
};

/// The options `url` sets, as libpq reads them (percent-decoded), in
/// libpq's order; an error names the URL redacted.
Result<std::vector<std::pair<std::string, std::string>>> UrlOptions(const std::string& url);

/// The database name of `url` as libpq reads it (percent-decoded), or "" when
/// the URL names none.
Result<std::string> DatabaseName(const std::string& url);

}  // namespace strata::snapshot
