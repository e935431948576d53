// The PostgreSQL sandbox: a scratch database, strata_rehearse_<pid>_<random>,
// created on the target's server and filled with a copy of the target
// (pg_copy.h), then dropped (WITH (FORCE)) when the sandbox goes, also when
// the copy failed. The session on the target that creates and drops it runs
// nothing else than a read of pg_database: only pg_dump reads the target.
#include <unistd.h>

#include <random>

#include <fmt/format.h>

#include "engine/url.h"
#include "rehearse/pg_copy.h"
#include "rehearse/sandbox.h"
#include "strata/database.h"
#include "util/text.h"

namespace strata {
namespace {


/// CREATE DATABASE for a copy of the database `admin` is connected to:
/// same encoding and locale, from the empty template0.
Result<std::string> CreateStatement(Database& admin, const std::string& name) {
  STRATA_ASSIGN_OR_RETURN(Rows version, admin.Query("SELECT current_setting('server_version_num')::int"));
  int64_t server = version.rows.at(0).at(0).ToInt();
  std::string provider = server >= 170000 ? "datlocprovider::text, datlocale"
                         : server >= 150000 ? "datlocprovider::text, daticulocale"
                                            : "'c', NULL";
  STRATA_ASSIGN_OR_RETURN(
      Rows rows, admin.Query(fmt::format("SELECT pg_encoding_to_char(encoding), datcollate, datctype, {} "
                                         "FROM pg_database WHERE datname = current_database()",
                                         provider)));
  if (rows.empty()) return Status(Code::kNotFound, "the target database is not in pg_database");
  const auto& r = rows.rows[0];
  std::string sql = fmt::format("CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}",
                                admin.QuoteIdent(name), SqlLiteral(r[0].ToString()),
                                SqlLiteral(r[1].ToString()), SqlLiteral(r[2].ToString()));
  std::string kind = r[3].ToString();
  if (kind == "i") sql += " LOCALE_PROVIDER icu ICU_LOCALE " + SqlLiteral(r[4].ToString());
  if (kind == "b") sql += " LOCALE_PROVIDER builtin BUILTIN_LOCALE " + SqlLiteral(r[4].ToString());
  return sql;
}

Status DropDatabase(const std::string& url, const std::string& name) {
  auto admin = OpenDatabase(url);
  Status s = admin.ok() ? (*admin)->Exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)",
                                                     (*admin)->QuoteIdent(name)))
                        : admin.status();
  if (s.ok()) return s;
  return Status(s.code(), fmt::format("could not drop the sandbox database {} (drop it by hand): {}",
                                      name, s.message()));
}

}  // namespace

Result<std::unique_ptr<Sandbox>> CreatePostgresSandbox(const std::string& url, SandboxContent content) {
  STRATA_ASSIGN_OR_RETURN(ConnParams source, ParseConnParams(url));
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> admin, OpenDatabase(url));
  STRATA_RETURN_IF_ERROR(admin->ManagedSchema().status());  // before a sandbox is made for nothing
  // The schema the URL works in (its search_path), which an empty sandbox
  // needs too for the URL to work there the same way.
  STRATA_ASSIGN_OR_RETURN(Rows schema, admin->Query("SELECT current_schema()"));
  const std::string working_schema = schema.empty() ? "" : schema.rows[0][0].ToString();
  std::random_device random;
  std::string name = fmt::format("strata_rehearse_{}_{:08x}", getpid(), random());
  // Extensions the target has in the other schemas of its search_path
  // (citext in an "extensions" schema): migrations use them by name without
  // creating them, so an empty sandbox gets them too.
  Rows outside_extensions;
  if (content == SandboxContent::kEmpty) {
    STRATA_ASSIGN_OR_RETURN(
        outside_extensions,
        admin->Query("SELECT e.extname, n.nspname FROM pg_catalog.pg_extension e"
                     " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
                     " WHERE n.nspname IS DISTINCT FROM current_schema()"
                     " AND n.nspname = ANY (current_schemas(false))"
                     " AND e.extname <> 'plpgsql' ORDER BY e.oid"));
  }
  STRATA_ASSIGN_OR_RETURN(std::string create, CreateStatement(*admin, name));
  Status created = admin->Exec(create);
  if (!created.ok()) {
    return Status(Code::kUnavailable,
                  fmt::format("cannot create the sandbox database {} on the target's server: {} "
                              "(a sandbox on PostgreSQL needs a role allowed to create databases: CREATEDB)",
                              name, created.message()));
  }
  admin.reset();
  std::string sandbox_url = UrlWithDatabase(url, name);
  auto sandbox = std::make_unique<Sandbox>(sandbox_url, RedactUrl(sandbox_url),
                                           "SET synchronous_commit = off",
                                           [url, name] { return DropDatabase(url, name); });
  if (content == SandboxContent::kCopy) {
    STRATA_RETURN_IF_ERROR(CopyPostgresDatabase(source, WithDbname(source, name)));
  } else if ((!working_schema.empty() && working_schema != "public") || !outside_extensions.empty()) {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenDatabase(sandbox_url));
    if (!working_schema.empty() && working_schema != "public") {
      STRATA_RETURN_IF_ERROR(db->Exec("CREATE SCHEMA " + db->QuoteIdent(working_schema)));
    }
    for (const auto& row : outside_extensions.rows) {
      const std::string ext = row[0].ToString(), in = row[1].ToString();
      STRATA_RETURN_IF_ERROR(
          db->Exec(fmt::format("CREATE SCHEMA IF NOT EXISTS {0}; CREATE EXTENSION IF NOT EXISTS {1} "
                               "WITH SCHEMA {0}",
                               db->QuoteIdent(in), db->QuoteIdent(ext)))
              .WithContext(fmt::format("creating extension {} (schema {}) in the sandbox, as the "
                                       "target has it",
                                       ext, in)));
    }
  }
  return sandbox;
}

}  // namespace strata
