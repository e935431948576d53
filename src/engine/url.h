// Database URLs: parsing into an engine and a target, and redaction of secrets.
#pragma once

#include <string>
#include <string_view>

#include "strata/database.h"
#include "strata/status.h"

namespace strata {

struct DatabaseUrl {
  Engine engine = Engine::kSqlite;
  /// SQLite: the file path (or ":memory:"). PostgreSQL: the URL as given,
  /// which libpq accepts as a connection string.
  std::string target;
};

/// Accepts sqlite:path, sqlite://path, sqlite::memory:, postgres://...,
/// postgresql://... Anything else is kInvalidArgument with the accepted forms.
Result<DatabaseUrl> ParseDatabaseUrl(std::string_view url);

/// Whether `url` names a SQLite file that is not there (":memory:" and
/// file: URIs are never taken to be missing).
bool SqliteFileMissing(const DatabaseUrl& url);
/// The error for such a file, for commands that do not make it.
Status SqliteFileMissingError(std::string_view path);

/// The file a SQLite target names: a URI (file:app.db?mode=rw,
/// file:///srv/app.db, file:my%20app.db) as SQLite reads its path; any
/// other target as it is. For the code that reads or replaces the file
/// itself (snapshots), not through SQLite.
std::string SqliteFilePath(std::string_view target);

/// A PostgreSQL URL as libpq must read it: an '@' inside the user or
/// password (written unencoded, a common slip) becomes %40, so that the last
/// '@' before the host ends the credentials, as RedactUrl takes it; a '?' or
/// '#' there becomes %3F or %23, so that code that looks for the query or
/// the database name in the URL does not find it inside the password. Without
/// this libpq splits at the first '@' and echoes the rest of the password as
/// the host name in its errors.
std::string EncodeCredentials(std::string_view url);

/// The password of a URL's credentials as written (postgres://u:PW@h/db),
/// or empty. A '?' or '#' in it belongs to it, as libpq reads it.
std::string_view UrlPassword(std::string_view url);

/// `url` (postgres://...) naming the database `dbname` instead of its own:
/// the path replaced, a dbname= query parameter dropped, the other
/// parameters kept; credentials as EncodeCredentials writes them.
std::string UrlWithDatabase(const std::string& url, const std::string& dbname);

/// The URL with any password replaced by "***": postgres://u:***@h/db.
/// Also redacts `password=...` in key/value connection strings and query
/// parameters.
std::string RedactUrl(std::string_view url);

/// The URL without its password, in the credentials (postgres://u@h/db) or
/// as a query parameter (password=, sslpassword=): what may be written into
/// a file a project commits.
std::string UrlWithoutPassword(std::string_view url);

/// Redacts every URL-embedded password found anywhere in `text` (error
/// messages that echo a URL, for instance).
std::string RedactSecrets(std::string_view text);

}  // namespace strata
