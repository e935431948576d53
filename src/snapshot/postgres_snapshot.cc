// PostgreSQL snapshots: the managed schema's definition (pg_dump) and rows
// (COPY), read in one exported snapshot. See snapshot.h.
#include <algorithm>
#include <future>
#include <map>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "engine/postgres/client_connection.h"
#include "engine/postgres/postgres_database.h"
#include "engine/url.h"
#include "snapshot/chunker.h"
#include "snapshot/pg_conn.h"
#include "snapshot/subprocess.h"
#include "snapshot/snapshot.h"
#include "sql/splitter.h"
#include "util/interrupt.h"
#include "util/text.h"

namespace strata::snapshot {
namespace {

constexpr char kTablePrefix[] = "table:";

/// The names of `schema`'s relations of pg_class.relkind `kind`, in the
/// order they were created (pg_dump creates them in dependency order).
Result<std::vector<std::string>> RelationsOfKind(PgConn& conn, const std::string& schema,
                                                 char kind) {
  STRATA_ASSIGN_OR_RETURN(
      auto rows, conn.Query("SELECT c.relname FROM pg_catalog.pg_class c"
                            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                            " WHERE n.nspname = $1 AND c.relkind = $2 ORDER BY c.oid",
                            {schema, std::string(1, kind)}));
  std::vector<std::string> names;
  for (const auto& row : rows) names.push_back(row[0].value_or(""));
  return names;
}

// What DROP SCHEMA $1 CASCADE would drop beyond the schema itself, described,
// and whether each is a partition (of one of its partitioned tables). The
// objects that depend on the schema, on those, and so on (normal, automatic,
// internal, extension-member and partition dependencies, as CASCADE follows
// them), less those placed in the schema: a view's rule or a default sits
// with its table, an extension where it is installed, and an extension's
// members (an extension of $1 is created again) go with it. So a view or a
// foreign key in another schema counts, and so does what builds on an
// extension installed in $1 (a default calling public.gen_random_uuid(), an
// index with its operator class, a foreign server of its wrapper).
// pg_identify_object gives schemas quoted ("App"), compared with $1 quoted.
// Publications are checked on their own; TOAST tables go with their table.
constexpr char kDependentsOutsideSql[] =
    "WITH RECURSIVE dropped(classid, objid, objsubid) AS ("
    " SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass, n.oid, 0"
    "  FROM pg_catalog.pg_namespace n WHERE n.nspname = $1"
    " UNION SELECT d.classid, d.objid, d.objsubid FROM pg_catalog.pg_depend d"
    "  JOIN dropped x ON d.refclassid = x.classid AND d.refobjid = x.objid"
    "  WHERE d.deptype IN ('n', 'a', 'i', 'e', 'P', 'S')),"
    " outside AS (SELECT x.classid, x.objid, x.objsubid FROM dropped x"
    " CROSS JOIN LATERAL pg_catalog.pg_identify_object(x.classid, x.objid, x.objsubid) o"
    " CROSS JOIN LATERAL (SELECT coalesce(o.schema, (SELECT pg_catalog.quote_ident(n.nspname)"
    "  FROM pg_catalog.pg_namespace n WHERE n.oid = CASE x.classid"
    "   WHEN 'pg_catalog.pg_extension'::pg_catalog.regclass THEN"
    "    (SELECT e.extnamespace FROM pg_catalog.pg_extension e WHERE e.oid = x.objid)"
    "   WHEN 'pg_catalog.pg_amop'::pg_catalog.regclass THEN (SELECT f.opfnamespace"
    "    FROM pg_catalog.pg_amop a JOIN pg_catalog.pg_opfamily f ON f.oid = a.amopfamily"
    "    WHERE a.oid = x.objid)"
    "   WHEN 'pg_catalog.pg_amproc'::pg_catalog.regclass THEN (SELECT f.opfnamespace"
    "    FROM pg_catalog.pg_amproc a JOIN pg_catalog.pg_opfamily f ON f.oid = a.amprocfamily"
    "    WHERE a.oid = x.objid)"
    "   ELSE (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = CASE x.classid"
    "    WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass THEN"
    "     (SELECT a.adrelid FROM pg_catalog.pg_attrdef a WHERE a.oid = x.objid)"
    "    WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN"
    "     (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid = x.objid)"
    "    WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN"
    "     (SELECT t.tgrelid FROM pg_catalog.pg_trigger t WHERE t.oid = x.objid)"
    "    WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN"
    "     (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid = x.objid)"
    "    END) END)) AS schema) placed"
    " WHERE x.classid::pg_catalog.regclass::text NOT IN ('pg_namespace', 'pg_publication_rel',"
    "  'pg_publication_namespace')"
    " AND placed.schema IS DISTINCT FROM pg_catalog.quote_ident($1)"
    " AND placed.schema IS DISTINCT FROM 'pg_toast'"
    // A relation's row type and an array type go with what they belong to.
    " AND NOT (x.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND EXISTS (SELECT 1"
    "  FROM pg_catalog.pg_type t WHERE t.oid = x.objid AND (t.typrelid <> 0 OR t.typcategory = 'A')))"
    " AND NOT (placed.schema IS NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend m"
    "  WHERE m.classid = x.classid AND m.objid = x.objid AND m.deptype = 'e'))"
    // A cast the server made with a type of the schema (a range type's, to
    // its multirange) is made again with the type.
    " AND NOT (x.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass AND EXISTS (SELECT 1"
    "  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_type t ON t.oid = d.refobjid"
    "  JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace"
    "  WHERE d.classid = x.classid AND d.objid = x.objid AND d.deptype = 'i'"
    "  AND d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND tn.nspname = $1))"
    // A foreign key's own triggers on the table it references (auth.users)
    // go with the key, which the restore makes again.
    " AND NOT (x.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass AND EXISTS (SELECT 1"
    "  FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_constraint k ON k.oid = t.tgconstraint"
    "  JOIN pg_catalog.pg_class kc ON kc.oid = k.conrelid"
    "  JOIN pg_catalog.pg_namespace kn ON kn.oid = kc.relnamespace"
    "  WHERE t.oid = x.objid AND t.tgisinternal AND kn.nspname = $1))"
    // The schema's default privileges ($2: the snapshot holds them), when the
    // restore can make them again: they are for a role it is a member of.
    " AND NOT ($2::boolean AND x.classid = 'pg_catalog.pg_default_acl'::pg_catalog.regclass"
    "  AND EXISTS (SELECT 1 FROM pg_catalog.pg_default_acl d WHERE d.oid = x.objid"
    "   AND pg_catalog.pg_has_role(d.defaclrole, 'MEMBER'))))"
    // Named once: not what goes with another of them (a foreign key's
    // triggers, a partition's index).
    " SELECT DISTINCT pg_catalog.pg_describe_object(x.classid, x.objid, x.objsubid),"
    "  x.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND EXISTS (SELECT 1"
    "   FROM pg_catalog.pg_class p WHERE p.oid = x.objid AND p.relispartition)"
    " FROM outside x WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
    "  JOIN outside y ON d.refclassid = y.classid AND d.refobjid = y.objid"
    "  WHERE d.classid = x.classid AND d.objid = x.objid AND d.deptype IN ('i', 'a', 'P', 'S')"
    "  AND NOT (y.classid = x.classid AND y.objid = x.objid))"
    " ORDER BY 1";

// Of schema $1: whether it holds no object at all (nothing depends on it,
// as every object in a schema does, and nothing pg_dump -n would write but a
// comment on the schema itself), and that comment as pg_dump writes it.
constexpr char kEmptySchemaSql[] =
    "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
    "   WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass"
    "   AND d.refobjid = n.oid)"
    " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid)"
    " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t WHERE t.typnamespace = n.oid)"
    " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid)"
    " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_seclabel s"
    "   WHERE s.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND s.objoid = n.oid),"
    " (SELECT pg_catalog.format('COMMENT ON SCHEMA %I IS %L;', n.nspname, d.description)"
    "   FROM pg_catalog.pg_description d"
    "   WHERE d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass"
    "   AND d.objoid = n.oid AND d.objsubid = 0)"
    " FROM pg_catalog.pg_namespace n WHERE n.nspname = $1";

// Extensions installed outside schema $1 (and pg_catalog) that objects of
// $1 depend on: a column of one of their types, a default or check calling
// one of their functions, an index with one of their operator classes, a
// view over them, an extension of $1 built on them. A default, rule,
// trigger or policy is placed in the schema of its table. In the order the
// extensions were created, so one comes after those it requires.
constexpr char kOutsideExtensionsSql[] =
    "SELECT e.extname, en.nspname FROM pg_catalog.pg_depend d"
    " JOIN pg_catalog.pg_depend x ON x.classid = d.refclassid AND x.objid = d.refobjid"
    "  AND x.refclassid = 'pg_catalog.pg_extension'::regclass AND x.deptype = 'e'"
    " JOIN pg_catalog.pg_extension e ON e.oid = x.refobjid"
    " JOIN pg_catalog.pg_namespace en ON en.oid = e.extnamespace"
    " CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) o"
    " WHERE d.deptype IN ('n', 'a') AND en.nspname NOT IN ($1, 'pg_catalog')"
    " AND coalesce(o.schema, (SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_class c"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = CASE d.classid"
    "   WHEN 'pg_catalog.pg_attrdef'::regclass THEN"
    "    (SELECT a.adrelid FROM pg_catalog.pg_attrdef a WHERE a.oid = d.objid)"
    "   WHEN 'pg_catalog.pg_rewrite'::regclass THEN"
    "    (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid = d.objid)"
    "   WHEN 'pg_catalog.pg_trigger'::regclass THEN"
    "    (SELECT t.tgrelid FROM pg_catalog.pg_trigger t WHERE t.oid = d.objid)"
    "   WHEN 'pg_catalog.pg_policy'::regclass THEN"
    "    (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid = d.objid) END))"
    " = pg_catalog.quote_ident($1)"
    " GROUP BY e.oid, e.extname, en.nspname ORDER BY e.oid";

// Publications that list a table of schema $1, or (PostgreSQL 15+, the
// second query) the whole schema: dropping the schema takes the table or
// schema out of the publication without a word, and a snapshot of the
// schema does not hold publications, so logical replication of those tables
// would stop.
constexpr char kPublicationsSql[] =
    "SELECT pg_catalog.format('publication %I (table %I.%I)', p.pubname, n.nspname, c.relname)"
    " FROM pg_catalog.pg_publication_rel r"
    " JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid"
    " JOIN pg_catalog.pg_class c ON c.oid = r.prrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1";
constexpr char kSchemaPublicationsSql[] =
    "SELECT pg_catalog.format('publication %I (tables in schema %I)', p.pubname, n.nspname)"
    " FROM pg_catalog.pg_publication_namespace pn"
    " JOIN pg_catalog.pg_publication p ON p.oid = pn.pnpubid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid WHERE n.nspname = $1 ORDER BY 1";

/// The lines of `text`, each without its '\n'.
std::vector<std::string_view> Lines(const std::string& text) {
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    lines.emplace_back(text.data() + pos, eol - pos);
    pos = eol + 1;
  }
  return lines;
}

/// pg_dump's plain output may carry psql meta-commands (\restrict and
/// \unrestrict since the 2025 minor releases); the script runs through
/// libpq, so they are dropped. Any other meta-command is an error.
Result<std::string> StripMetaCommands(const std::string& script) {
  std::string out;
  for (std::string_view line : Lines(script)) {
    if (!line.empty() && line[0] == '\\') {
      if (line.rfind("\\restrict", 0) != 0 && line.rfind("\\unrestrict", 0) != 0) {
        return Status(Code::kInternal, "pg_dump wrote a psql command strata cannot run: " +
                                           std::string(line.substr(0, 40)));
      }
    } else {
      out.append(line);
      out += '\n';
    }
  }
  return out;
}

Result<std::string> Dump(const CreateOptions& options, const std::string& url,
                         const std::string& schema, const std::string& snapshot,
                         const char* section) {
  STRATA_ASSIGN_OR_RETURN(auto params, UrlOptions(url));
  STRATA_ASSIGN_OR_RETURN(ClientConnection conn, ClientConnection::Make(params));
  // -n takes a pattern: quoting makes it the exact name.
  std::vector<std::string> argv = {options.pg_dump,       "--schema-only",
                                   std::string("--section=") + section,
                                   "--no-owner",
                                   "--schema=" + SqlIdentifier(schema),
                                   "--snapshot=" + snapshot, "--dbname=" + conn.conninfo()};
  if (options.lock_timeout.count() > 0) {
    argv.push_back(fmt::format("--lock-wait-timeout={}", options.lock_timeout.count()));
  }
  auto out = RunProgram(argv, conn.env());
  if (!out.ok()) return out.status().WithContext(fmt::format("dumping the schema ({})", section));
  return StripMetaCommands(*out);
}

/// `s` as kLocked, saying so, when a read of the snapshot gave up waiting
/// for a table lock (lock_timeout, SQLSTATE 55P03; pg_dump's
/// --lock-wait-timeout times its LOCK TABLE out); otherwise `s`.
Status LockedOutOfTable(const Status& s, std::chrono::milliseconds waited) {
  const std::string& m = s.message();
  const bool dump_gave_up = m.find("LOCK TABLE") != std::string::npos &&
                            m.find("timeout") != std::string::npos;
  if (s.ok() || (s.code() != Code::kLocked && m.find("55P03") == std::string::npos &&
                 m.find("could not obtain lock") == std::string::npos && !dump_gave_up)) {
    return s;
  }
  return Status(Code::kLocked,
                fmt::format("the snapshot waited {} ms (--lock-timeout) for a table lock another "
                            "session holds (an ALTER TABLE or a LOCK under way, say) and gave up; "
                            "nothing of it was kept. Let that session finish, or give a longer "
                            "--lock-timeout: {}",
                            waited.count(), s.message()));
}

/// The dump less its CREATE SCHEMA line: the restorer creates the schema
/// itself, before the extensions the dump's tables may need.
std::string WithoutCreateSchema(const std::string& script) {
  std::string out;
  for (std::string_view line : Lines(script)) {
    if (line.rfind("CREATE SCHEMA ", 0) != 0) {
      out.append(line);
      out += '\n';
    }
  }
  return out;
}

std::string Qualified(const std::string& schema, const std::string& name) {
  return SqlIdentifier(schema) + "." + SqlIdentifier(name);
}

/// " (a, b)" for COPY; "" for no columns (the table's own order).
std::string ColumnList(const std::vector<std::string>& columns) {
  if (columns.empty()) return "";
  std::string out = " (";
  for (size_t i = 0; i < columns.size(); ++i) out += (i ? ", " : "") + SqlIdentifier(columns[i]);
  return out + ")";
}

/// Adds `text` as a part of its own, in content-defined chunks.
Status AddTextPart(ChunkPipeline& pipeline, const std::string& name, const std::string& kind,
                   std::string_view text, std::vector<std::pair<Part, size_t>>& parts) {
  Part part{name, kind, text.size(), {}, {}};
  size_t first = pipeline.count();
  ContentChunker chunker;
  auto emit = [&](std::string&& c) { return pipeline.Add(std::move(c)); };
  STRATA_RETURN_IF_ERROR(chunker.Add(text, emit));
  STRATA_RETURN_IF_ERROR(chunker.Finish(emit));
  parts.emplace_back(std::move(part), first);
  return Status::OK();
}

/// A read of the snapshot failed because row-level security applies to the
/// role: with row_security off (as pg_dump sets it) such a read fails rather
/// than returning only the rows a policy lets through, which a snapshot
/// would keep, verify and restore as if they were all of them.
Status RowSecurityRefused(const Status& s) {
  if (s.ok() || s.message().find("row-level security") == std::string::npos) return s;
  return Status(Code::kUnavailable, s.message() + "; nothing was taken");
}

}  // namespace


namespace {

Result<Manifest> CaptureSchema(SnapshotStore& store, const std::string& url, Manifest m,
                               const CreateOptions& options) {
  // The fingerprints' connection (below) is opened beside this one: each
  // takes the server a new backend's start.
  auto fp_conn = std::async(std::launch::async, [&url] { return OpenDatabase(url); });
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Open(url));
  // Every row or an error, never the rows a policy shows (RowSecurityRefused).
  STRATA_RETURN_IF_ERROR(conn->Exec("SET row_security = off"));
  STRATA_RETURN_IF_ERROR(conn->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  const std::string lock_timeout =
      fmt::format("SET LOCAL lock_timeout = {}", options.lock_timeout.count());
  STRATA_RETURN_IF_ERROR(conn->Exec(lock_timeout));
  STRATA_ASSIGN_OR_RETURN(
      auto info, conn->Query("SELECT pg_export_snapshot(), current_schema(), "
                             "current_setting('server_version_num')::int, "
                             "pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype "
                             "FROM pg_catalog.pg_database d WHERE d.datname = current_database()"));
  if (!info[0][1]) {
    return NoWorkingSchema();
  }
  std::string snapshot = *info[0][0];
  m.pg_schema = *info[0][1];
  m.pg_server_version = std::stoi(*info[0][2]);
  m.pg_encoding = info[0][3].value_or("");
  m.pg_collate = info[0][4].value_or("");
  m.pg_ctype = info[0][5].value_or("");
  m.pg_privileges = true;  // pg_dump keeps the ACL entries
  STRATA_ASSIGN_OR_RETURN(
      auto tables, conn->Query("SELECT c.relname, pg_catalog.pg_relation_size(c.oid) "
                               "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                               "ON n.oid = c.relnamespace WHERE n.nspname = $1 "
                               "AND c.relkind = 'r' ORDER BY c.relname COLLATE \"C\"",
                               {m.pg_schema}));
  STRATA_ASSIGN_OR_RETURN(auto sequences, RelationsOfKind(*conn, m.pg_schema, 'S'));
  std::sort(sequences.begin(), sequences.end());
  for (const std::string& sequence : sequences) {
    STRATA_ASSIGN_OR_RETURN(auto v, conn->Query("SELECT last_value, is_called FROM " +
                                                Qualified(m.pg_schema, sequence)));
    m.sequences.push_back(SequenceValue{sequence, std::stoll(*v[0][0]), *v[0][1] == "t"});
  }
  STRATA_ASSIGN_OR_RETURN(
      auto extensions, conn->Query("SELECT e.extname FROM pg_catalog.pg_extension e JOIN "
                                   "pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
                                   "WHERE n.nspname = $1 ORDER BY 1",
                                   {m.pg_schema}));
  for (const auto& row : extensions) m.pg_extensions.push_back(*row[0]);
  STRATA_ASSIGN_OR_RETURN(auto outside, conn->Query(kOutsideExtensionsSql, {m.pg_schema}));
  for (const auto& row : outside) m.pg_outside_extensions.push_back({*row[0], *row[1]});
  STRATA_ASSIGN_OR_RETURN(auto versions,
                          conn->Query("SELECT extname, extversion FROM pg_catalog.pg_extension"));
  for (const auto& row : versions) {
    const std::string& name = *row[0];
    const auto& own = m.pg_extensions;
    const auto& others = m.pg_outside_extensions;
    if (std::find(own.begin(), own.end(), name) != own.end() ||
        std::any_of(others.begin(), others.end(), [&](const auto& e) { return e.name == name; })) {
      m.pg_extension_versions[name] = row[1].value_or("");
    }
  }
  STRATA_ASSIGN_OR_RETURN(
      auto unpopulated, conn->Query("SELECT c.relname FROM pg_catalog.pg_class c"
                                    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                                    " WHERE n.nspname = $1 AND c.relkind = 'm'"
                                    " AND NOT c.relispopulated ORDER BY 1",
                                    {m.pg_schema}));
  for (const auto& row : unpopulated) m.pg_unpopulated_matviews.push_back(*row[0]);
  // Large objects belong to the database, not to a schema: like pg_dump -n,
  // the snapshot leaves them out, and says so.
  STRATA_ASSIGN_OR_RETURN(auto objects,
                          conn->Query("SELECT count(*) FROM pg_catalog.pg_largeobject_metadata"));
  if (const int64_t n = std::stoll(objects[0][0].value_or("0")); n > 0) {
    m.notes.push_back(fmt::format(
        "the database's {} large object{} (lo_import, lo_from_bytea; an oid column's content) "
        "{} not in the snapshot: they belong to the whole database, not to schema '{}', and a "
        "restore leaves them as they are (pg_dump --large-objects saves them)",
        n, n == 1 ? "" : "s", n == 1 ? "is" : "are", m.pg_schema));
  }
  bool has_history = std::any_of(tables.begin(), tables.end(),
                                 [](const auto& r) { return *r[0] == "strata_history"; });
  if (has_history) {
    STRATA_ASSIGN_OR_RETURN(
        auto v, conn->Query("SELECT version_text FROM " + Qualified(m.pg_schema, "strata_history") +
                            " WHERE status = 'applied' ORDER BY version DESC LIMIT 1"));
    if (!v.empty()) m.schema_version = v[0][0].value_or("");
  }

  // Fingerprints on a connection of their own, in the same snapshot.
  // The exported snapshot lives only as long as this transaction: it ends
  // once that connection has taken the snapshot up (or failed to).
  Status fp_status;
  std::promise<void> imported;
  std::future<void> snapshot_taken_up = imported.get_future();
  std::thread fingerprint([&] {
    bool told = false;
    auto tell = [&] {
      if (!told) imported.set_value();
      told = true;
    };
    fp_status = [&]() -> Status {
      STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, fp_conn.get());
      STRATA_RETURN_IF_ERROR(db->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
      STRATA_RETURN_IF_ERROR(db->Exec("SET TRANSACTION SNAPSHOT " + SqlLiteral(snapshot)));
      STRATA_RETURN_IF_ERROR(db->Exec(lock_timeout));
      // It reads every row: no statement_timeout of the role's stops it.
      STRATA_RETURN_IF_ERROR(db->Exec("SET LOCAL statement_timeout = 0; "
                                      "SET LOCAL idle_in_transaction_session_timeout = 0"));
      tell();
      STRATA_ASSIGN_OR_RETURN(m.schema, FingerprintSchema(*db));
      m.schema.canonical_text.clear();
      m.columns_in_any_order = true;
      STRATA_ASSIGN_OR_RETURN(m.data, FingerprintData(*db, {}, m.columns_in_any_order));
      return db->Exec("COMMIT");
    }();
    tell();
  });

  uint64_t total = 0;
  for (const auto& row : tables) total += std::stoull(*row[1]);
  std::vector<std::pair<Part, size_t>> parts;  // with the index of the part's first chunk
  std::vector<PutResult> puts;
  Status s = [&]() -> Status {
    std::string pre, post;
    STRATA_ASSIGN_OR_RETURN(auto empty, conn->Query(kEmptySchemaSql, {m.pg_schema}));
    if (!empty.empty() && empty[0][0] == "t") {
      // Nothing for pg_dump to write but the schema's comment: a fresh
      // database's first `up` does not wait for two pg_dump runs.
      pre = fmt::format("-- schema {} held no objects\n{}\n", SqlIdentifier(m.pg_schema),
                        empty[0][1].value_or(""));
    } else {
      // The two pg_dump runs (mostly start-up and catalog reads) side by side.
      auto post_dump = std::async(std::launch::async, [&] {
        return Dump(options, url, m.pg_schema, snapshot, "post-data");
      });
      Result<std::string> pre_dump = Dump(options, url, m.pg_schema, snapshot, "pre-data");
      Result<std::string> post_result = post_dump.get();
      STRATA_ASSIGN_OR_RETURN(pre, std::move(pre_dump));
      STRATA_ASSIGN_OR_RETURN(post, std::move(post_result));
    }
    ChunkPipeline pipeline(store, options.threads > 0 ? options.threads : DefaultThreads());
    STRATA_RETURN_IF_ERROR(AddTextPart(pipeline, "pre-data.sql", "sql", pre, parts));
    if (options.progress) options.progress->Start("snapshot", total);
    // Rows are copied out under the search_path the restore copies them in
    // with, the empty one of pg_dump's scripts: a regclass, regtype, regproc
    // or other reg* value is then written with its schema (pg_catalog's
    // objects aside), as pg_dump writes it. Under the URL's search_path it
    // came out bare ("target"), and named nothing when copied back in.
    // Until COMMIT only: the fingerprints read on their own connection.
    STRATA_RETURN_IF_ERROR(conn->Exec("SELECT pg_catalog.set_config('search_path', '', true)"));
    for (const auto& row : tables) {
      Part part{kTablePrefix + *row[0], "copy-text", 0, {}, {}};
      // Named, as pg_dump's COPY does: the restored table may order them otherwise.
      STRATA_ASSIGN_OR_RETURN(
          auto columns, conn->Query("SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = "
                                    "$1::regclass AND attnum > 0 AND NOT attisdropped AND "
                                    "attgenerated = '' ORDER BY attnum",
                                    {Qualified(m.pg_schema, *row[0])}));
      for (const auto& c : columns) part.columns.push_back(c[0].value_or(""));
      size_t first = pipeline.count();
      ContentChunker chunker;
      auto emit = [&](std::string&& c) { return pipeline.Add(std::move(c)); };
      STRATA_RETURN_IF_ERROR(conn->CopyOut(
          "COPY " + Qualified(m.pg_schema, *row[0]) + ColumnList(part.columns) + " TO STDOUT",
          [&](std::string_view data) {
            part.bytes += data.size();
            if (options.progress) options.progress->Advance(data.size());
            return chunker.Add(data, emit);
          }));
      STRATA_RETURN_IF_ERROR(chunker.Finish(emit));
      parts.emplace_back(std::move(part), first);
    }
    if (options.progress) options.progress->Done();
    STRATA_RETURN_IF_ERROR(AddTextPart(pipeline, "post-data.sql", "sql", post, parts));
    STRATA_ASSIGN_OR_RETURN(puts, pipeline.Finish());
    snapshot_taken_up.wait();
    return conn->Exec("COMMIT");
  }();
  if (options.progress) options.progress->Done();
  fingerprint.join();
  STRATA_RETURN_IF_ERROR(RowSecurityRefused(s));
  STRATA_RETURN_IF_ERROR(RowSecurityRefused(fp_status));
  for (size_t i = 0; i < parts.size(); ++i) {
    size_t end = i + 1 < parts.size() ? parts[i + 1].second : puts.size();
    for (size_t j = parts[i].second; j < end; ++j) parts[i].first.chunks.push_back(puts[j].ref);
    m.parts.push_back(std::move(parts[i].first));
  }
  STRATA_RETURN_IF_ERROR(Account(store, puts, m));
  return m;
}

}  // namespace

Result<Manifest> CapturePostgres(SnapshotStore& store, const std::string& url, Manifest m,
                                 const CreateOptions& options) {
  Result<Manifest> out = CaptureSchema(store, url, std::move(m), options);
  if (!out.ok()) return LockedOutOfTable(out.status(), options.lock_timeout);
  return out;
}

namespace {

/// Streams a part's chunks, each checked, as the producer CopyIn wants.
class PartReader {
 public:
  PartReader(SnapshotStore& store, const Part& part, Progress* progress)
      : store_(store), part_(part), progress_(progress) {}
  Result<std::string> Next() {
    if (next_ == part_.chunks.size()) return std::string();
    STRATA_ASSIGN_OR_RETURN(std::string bytes, store_.ReadChunk(part_.chunks[next_++]));
    if (progress_) progress_->Advance(bytes.size());
    return bytes;
  }
  Result<std::string> All() {
    std::string out;
    for (;;) {
      STRATA_ASSIGN_OR_RETURN(std::string bytes, Next());
      if (bytes.empty()) return out;
      out += bytes;
    }
  }

 private:
  SnapshotStore& store_;
  const Part& part_;
  Progress* progress_;
  size_t next_ = 0;
};

/// " VERSION '1.4'" for an extension the snapshot recorded at a version;
/// "" (the default version) otherwise.
std::string AtVersion(const Manifest& m, const std::string& extension) {
  auto it = m.pg_extension_versions.find(extension);
  return it == m.pg_extension_versions.end() || it->second.empty()
             ? std::string()
             : " VERSION " + SqlLiteral(it->second);
}

/// Makes in the target the extensions the snapshot's schema uses from other
/// schemas (and those schemas), where it lacks them, as a DBA restoring a
/// schema dump would first. Their objects are not part of the snapshot; an
/// existing one is left as it is. kUnavailable, saying what to do, when one
/// cannot be made or is installed in another schema than the one the
/// snapshot's definition names.
Status MakeOutsideExtensions(PgConn& conn, const Manifest& m, const std::string& url) {
  for (const auto& ext : m.pg_outside_extensions) {
    STRATA_ASSIGN_OR_RETURN(
        auto have, conn.Query("SELECT n.nspname FROM pg_catalog.pg_extension e JOIN "
                              "pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
                              "WHERE e.extname = $1",
                              {ext.name}));
    if (!have.empty()) {
      if (have[0][0].value_or("") == ext.schema) continue;
      return Status(Code::kUnavailable,
                    fmt::format("schema '{}' of snapshot {} uses extension {} from schema '{}', "
                                "but {} has that extension in schema '{}'; nothing was restored "
                                "(move it with ALTER EXTENSION {} SET SCHEMA {}, or restore into "
                                "another database)",
                                m.pg_schema, m.id, ext.name, ext.schema, RedactUrl(url),
                                have[0][0].value_or(""), SqlIdentifier(ext.name), SqlIdentifier(ext.schema)));
    }
    // Only when missing: CREATE SCHEMA IF NOT EXISTS checks the privilege first.
    STRATA_ASSIGN_OR_RETURN(
        auto schema, conn.Query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
                                {ext.schema}));
    Status made = schema.empty() ? conn.Exec("CREATE SCHEMA " + SqlIdentifier(ext.schema)) : Status::OK();
    if (made.ok()) {
      made = conn.Exec("CREATE EXTENSION " + SqlIdentifier(ext.name) + " WITH SCHEMA " +
                       SqlIdentifier(ext.schema) + AtVersion(m, ext.name) + " CASCADE");
    }
    if (!made.ok()) {
      return Status(Code::kUnavailable,
                    fmt::format("schema '{}' of snapshot {} uses extension {}, installed in "
                                "schema '{}' (not part of the snapshot); {} lacks it and strata "
                                "could not create it: {}. Nothing was restored; create it there "
                                "as a role allowed to (CREATE EXTENSION {} WITH SCHEMA {}; "
                                "`snapshot verify` makes its scratch database from template1), "
                                "or let this role create it, then try again",
                                m.pg_schema, m.id, ext.name, ext.schema, RedactUrl(url),
                                made.message(), SqlIdentifier(ext.name), SqlIdentifier(ext.schema)));
    }
  }
  return Status::OK();
}

/// A schema script of the snapshot failed: when it names what the target
/// lacks (a schema, type, function or table of another schema, which a
/// snapshot of one schema does not hold), kUnavailable saying so.
Status ScriptFailed(const Status& s, const Manifest& m, const std::string& url) {
  const std::string& msg = s.message();
  // A role is the server's, not a schema's (a policy's TO names one).
  if (const size_t role = msg.find(": role \""); role != std::string::npos &&
      msg.find("(SQLSTATE 42704)") != std::string::npos) {
    return Status(Code::kUnavailable,
                  fmt::format("{}. Roles belong to the server, not to a snapshot: the definition "
                              "of snapshot {} (a policy's TO, an owner) names one {} lacks. Nothing "
                              "was restored; create the role there first, or restore into a "
                              "database on a server that has it",
                              msg, m.id, RedactUrl(url)));
  }
  for (const char* state : {"3F000", "42704", "42883", "42P01"}) {
    if (msg.find(std::string("(SQLSTATE ") + state + ")") == std::string::npos) continue;
    return Status(Code::kUnavailable,
                  fmt::format("{}. Snapshot {} holds schema '{}' only (and makes the extensions it "
                              "uses); what its definition names in other schemas must be in {} "
                              "already. Nothing was restored; create it there first, or restore "
                              "into a database that has it",
                              msg, m.id, m.pg_schema, RedactUrl(url)));
  }
  return s;
}

/// Refuses (kIrreversible, naming them, nothing changed) a restore whose
/// DROP SCHEMA ... CASCADE would take what no snapshot of the schema holds:
/// what other schemas built on it, the publications listing it or its tables.
Status RefuseWhatDroppingTheSchemaTakes(PgConn& conn, const Manifest& m) {
  // The schema is dropped with CASCADE: what other schemas built on it
  // (a view, a foreign key) would go too, without a word, and no
  // snapshot of this schema holds it.
  STRATA_ASSIGN_OR_RETURN(
      auto outside,
      conn.Query(kDependentsOutsideSql, {m.pg_schema, m.pg_privileges ? "true" : "false"}));
  if (!outside.empty()) {
    std::string names;
    bool partitions = false;
    constexpr size_t kNamed = 12;  // an extension's operator classes run to hundreds
    for (size_t i = 0; i < outside.size(); ++i) {
      if (i < kNamed) names += (names.empty() ? "" : "; ") + outside[i][0].value_or("?");
      partitions = partitions || outside[i][1] == "t";
    }
    if (outside.size() > kNamed) names += fmt::format("; and {} more", outside.size() - kNamed);
    if (partitions) {
      // A partition's rows are in it, not in its parent: a snapshot of
      // this schema has neither, wherever it is restored.
      return Status(Code::kIrreversible,
                    fmt::format("restoring schema '{}' drops and recreates it, which would also "
                                "drop what is outside it and built on it (or on an extension "
                                "installed in it): {}. Nothing was restored: "
                                "a snapshot of schema '{}' holds neither the partitions of its "
                                "tables that are in other schemas nor their rows, so it cannot "
                                "bring those tables' rows back; restore a backup of the whole "
                                "database instead",
                                m.pg_schema, names, m.pg_schema));
    }
    return Status(Code::kIrreversible,
                  fmt::format("restoring schema '{}' drops and recreates it, which would also drop "
                              "what is outside it and built on it (or on an extension installed "
                              "in it): {}. Nothing was restored; drop "
                              "those first (and create them again after), or restore --into a "
                              "new database",
                              m.pg_schema, names));
  }
  STRATA_ASSIGN_OR_RETURN(auto publications, conn.Query(kPublicationsSql, {m.pg_schema}));
  STRATA_ASSIGN_OR_RETURN(auto version,
                          conn.Query("SELECT current_setting('server_version_num')::int"));
  if (std::stoi(version[0][0].value_or("0")) >= 150000) {
    STRATA_ASSIGN_OR_RETURN(auto in_schema, conn.Query(kSchemaPublicationsSql, {m.pg_schema}));
    publications.insert(publications.end(), in_schema.begin(), in_schema.end());
  }
  if (!publications.empty()) {
    std::string names;
    for (const auto& row : publications) names += (names.empty() ? "" : "; ") + row[0].value_or("?");
    return Status(Code::kIrreversible,
                  fmt::format("restoring schema '{}' drops and recreates it, which would also "
                              "take its tables out of these publications, and logical "
                              "replication of them would stop: {}. Nothing was restored; "
                              "remove them from the publications first (ALTER PUBLICATION ... "
                              "DROP TABLE) and add them again after, or restore --into a new "
                              "database",
                              m.pg_schema, names));
  }
  return Status::OK();
}

/// A pg_dump script cut in two: its ACL entries (grants, revokes and
/// default privileges, each entry from its "-- Name: ...; Type: ACL;"
/// header on) and the rest.
struct Privileges {
  std::string rest, acl;
};
Privileges SplitPrivileges(const std::string& script) {
  Privileges out;
  bool acl = false;
  for (std::string_view line : Lines(script)) {
    if (line.rfind("-- Name: ", 0) == 0) {
      acl = line.find("; Type: ACL;") != std::string_view::npos ||
            line.find("; Type: DEFAULT ACL;") != std::string_view::npos;
    }
    std::string& to = acl ? out.acl : out.rest;
    to.append(line);
    to += '\n';
  }
  return out;
}

/// Runs the snapshot's grants, revokes and default privileges one by one,
/// each in a savepoint: one that fails (a role the server lacks, in a
/// restore into another server; default privileges for a role the restoring
/// one is not a member of) is left out and told in `notes`, the rest kept.
Status RestorePrivileges(PgConn& conn, const std::string& acl, std::vector<std::string>* notes) {
  STRATA_ASSIGN_OR_RETURN(auto statements, sql::SplitStatements(acl, sql::Dialect::kPostgres));
  for (const sql::Statement& statement : statements) {
    STRATA_RETURN_IF_ERROR(conn.Exec("SAVEPOINT strata_privilege"));
    Status s = conn.Exec(statement.text);
    if (s.ok()) {
      STRATA_RETURN_IF_ERROR(conn.Exec("RELEASE SAVEPOINT strata_privilege"));
      continue;
    }
    if (Interrupt::Requested()) return s;
    STRATA_RETURN_IF_ERROR(conn.Exec("ROLLBACK TO SAVEPOINT strata_privilege"));
    if (notes) notes->push_back("not restored: " + s.message());
  }
  return Status::OK();
}

/// Opens `url`; with `create`, creates the database first when it does not
/// exist, as the snapshot's source was (CreateDatabaseLike).
Result<std::unique_ptr<PgConn>> Connect(const std::string& given_url, bool create, const Manifest& m) {
  const std::string url = EncodeCredentials(given_url);
  auto conn = PgConn::Open(url);
  if (conn.ok() || !create) return conn;
  // The name as the server saw it: decoded ("my%20db" is "my db").
  STRATA_ASSIGN_OR_RETURN(std::string name, DatabaseName(url));
  if (name.empty() || conn.status().message().find("database \"" + name + "\" does not exist") ==
                          std::string::npos) {
    return conn;
  }
  // The database is missing: create it from the server's maintenance database.
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> admin, PgConn::Open(UrlWithDatabase(url, "postgres")));
  STRATA_RETURN_IF_ERROR(CreateDatabaseLike(*admin, m, name));
  return PgConn::Open(url);
}

}  // namespace

Status CreateDatabaseLike(PgConn& admin, const Manifest& m, const std::string& name) {
  const std::string plain = "CREATE DATABASE " + SqlIdentifier(name);
  if (m.pg_encoding.empty()) return admin.Exec(plain);
  STRATA_ASSIGN_OR_RETURN(auto server, admin.Query("SELECT pg_catalog.pg_encoding_to_char(encoding), datcollate, "
                                                  "datctype FROM pg_catalog.pg_database WHERE datname = 'template1'"));
  if (!server.empty() && server[0][0].value_or("") == m.pg_encoding &&
      server[0][1].value_or("") == m.pg_collate && server[0][2].value_or("") == m.pg_ctype) {
    return admin.Exec(plain);
  }
  Status made = admin.Exec(fmt::format("{} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}", plain,
                                       SqlLiteral(m.pg_encoding), SqlLiteral(m.pg_collate),
                                       SqlLiteral(m.pg_ctype)));
  // A locale this server lacks: its defaults do when the encoding is theirs.
  if (!made.ok() && !server.empty() && server[0][0].value_or("") == m.pg_encoding) return admin.Exec(plain);
  if (!made.ok()) {
    return Status(made.code(), fmt::format("cannot create database {} with the encoding and locale of "
                                           "the snapshot's source ({}, {}): {}",
                                           name, m.pg_encoding, m.pg_collate, made.message()));
  }
  return made;
}

/// CompareFingerprints on the restore's session, with text read as a
/// snapshot's fingerprints read it (UTF8, or a SQL_ASCII database's bytes
/// as they are), whatever encoding the session copies in (pg_dump's scripts
/// set the source's: LATIN1 text hashed as LATIN1 bytes differed); the
/// session's encoding is set back after.
Result<std::string> CompareAsTaken(PgConn& conn, Database& db, const Manifest& expected) {
  STRATA_ASSIGN_OR_RETURN(auto was, conn.Query("SELECT current_setting('client_encoding'), "
                                               "current_setting('server_encoding')"));
  const std::string before = was[0][0].value_or("UTF8");
  const std::string read = was[0][1].value_or("") == "SQL_ASCII" ? "SQL_ASCII" : "UTF8";
  STRATA_RETURN_IF_ERROR(conn.Exec("SELECT pg_catalog.set_config('client_encoding', " + SqlLiteral(read) + ", false)"));
  Result<std::string> out = CompareFingerprints(db, expected);
  STRATA_RETURN_IF_ERROR(conn.Exec("SELECT pg_catalog.set_config('client_encoding', " + SqlLiteral(before) + ", false)"));
  return out;
}

/// The restore could not lock the tables of `schema` within `waited`: who
/// holds locks on them (other sessions, an open transaction say), for the
/// user to end or wait out.
Status LockedOut(PgConn& conn, const std::string& schema, std::chrono::milliseconds waited) {
  auto holders = conn.Query(
      "SELECT DISTINCT a.pid, a.usename, a.application_name, a.state,"
      " to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
      " FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid = l.relation"
      " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
      " JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
      " WHERE n.nspname = $1 AND l.granted AND l.pid <> pg_catalog.pg_backend_pid() ORDER BY 1",
      {schema});
  std::string who;
  if (holders.ok()) {
    for (const auto& row : *holders) {
      who += fmt::format("{}pid {} ({}, {}, {}, transaction open since {})", who.empty() ? "" : "; ",
                         row[0].value_or("?"), row[1].value_or("?"),
                         row[2].value_or("").empty() ? "no application_name" : *row[2],
                         row[3].value_or("?"), row[4].value_or("?"));
    }
  }
  return Status(Code::kLocked,
                fmt::format("the restore waited {} ms (--lock-timeout) for the locks of the "
                            "tables in schema '{}', which other sessions hold{}; nothing was restored "
                            "(while it waited, their other users queued behind it). End those "
                            "sessions or their transactions, or give a longer --lock-timeout",
                            waited.count(), schema, who.empty() ? "" : ": " + who));
}

Status CheckPostgresRestorableInPlace(const Manifest& m, const std::string& url) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, Connect(url, false, m));
  // The schema is dropped and made again: that takes CREATE on the
  // database, which a schema's owner may lack (Supabase's auth admin).
  STRATA_ASSIGN_OR_RETURN(auto can, conn->Query("SELECT pg_catalog.has_database_privilege("
                                                "pg_catalog.current_database(), 'CREATE')::text, "
                                                "pg_catalog.current_database(), current_user"));
  if (!can.empty() && can[0][0] == std::optional<std::string>("false")) {
    return Status(Code::kDatabase,
                  fmt::format("restoring schema '{}' in place drops it and creates it again, which "
                              "needs CREATE on database {}, and role {} lacks it; nothing was "
                              "restored. GRANT CREATE ON DATABASE {} TO {}, restore as a role that "
                              "has it, or restore --into a new database",
                              m.pg_schema, can[0][1].value_or("?"), can[0][2].value_or("?"),
                              SqlIdentifier(can[0][1].value_or("?")), SqlIdentifier(can[0][2].value_or("?"))));
  }
  return RefuseWhatDroppingTheSchemaTakes(*conn, m);
}

Result<std::string> RestorePostgres(SnapshotStore& store, const Manifest& m,
                                    const std::string& url, const RestoreOptions& options) {
  const Part* pre = m.FindPart("pre-data.sql");
  const Part* post = m.FindPart("post-data.sql");
  if (!pre || !post) return Status(Code::kVerifyFailed, "the manifest lacks its schema parts");
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, Connect(url, !options.replace, m));
  STRATA_ASSIGN_OR_RETURN(auto current,
                          conn->Query("SELECT current_schema(), current_setting('search_path')"));
  if (m.pg_encoding == "SQL_ASCII") {
    STRATA_ASSIGN_OR_RETURN(auto target, conn->Query("SELECT pg_catalog.pg_encoding_to_char(encoding) FROM "
                                                     "pg_catalog.pg_database WHERE datname = current_database()"));
    if (!target.empty() && target[0][0].value_or("") != "SQL_ASCII") {
      return Status(Code::kInvalidArgument,
                    fmt::format("the snapshot is of a SQL_ASCII database, whose text is bytes no "
                                "encoding checked, but {} is {}: its text would be stored there "
                                "unchecked, maybe invalid; nothing was restored. Restore it into a "
                                "SQL_ASCII database (--into a database that does not exist yet is "
                                "created so)",
                                RedactUrl(url), *target[0][0]));
    }
  }
  if (current[0][0] && *current[0][0] != m.pg_schema) {
    return Status(Code::kInvalidArgument,
                  fmt::format("the snapshot is of schema '{}' but {} works in schema '{}'; set "
                              "its search_path (options=-csearch_path={}) to restore there",
                              m.pg_schema, RedactUrl(url), *current[0][0], m.pg_schema));
  }
  if (!options.replace) {
    // The schema is dropped and made anew, so a new database's must hold
    // nothing yet: no relation, but no function, type or extension either
    // (an extension's members go with it and are not named).
    STRATA_ASSIGN_OR_RETURN(
        auto found, conn->Query("SELECT pg_catalog.pg_describe_object(d.classid, d.objid, 0),"
                               " (SELECT e.extname FROM pg_catalog.pg_extension e"
                               "  WHERE d.classid = 'pg_catalog.pg_extension'::pg_catalog.regclass"
                               "  AND e.oid = d.objid)"
                               " FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_namespace n"
                               " ON d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass"
                               " AND d.refobjid = n.oid WHERE n.nspname = $1 AND d.deptype = 'n'"
                               " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e"
                               "  WHERE e.classid = d.classid AND e.objid = d.objid"
                               "  AND e.deptype = 'e')"
                               " ORDER BY 1",
                               {m.pg_schema}));
    // An extension the snapshot has too is made again; one it uses from
    // another schema is checked (and named) where the restore makes those.
    std::vector<std::vector<std::optional<std::string>>> held;
    for (auto& row : found) {
      const std::optional<std::string>& ext = row[1];
      const auto& own = m.pg_extensions;
      const auto& outside = m.pg_outside_extensions;
      if (ext && (std::find(own.begin(), own.end(), *ext) != own.end() ||
                  std::any_of(outside.begin(), outside.end(),
                              [&](const OutsideExtension& e) { return e.name == *ext; }))) {
        continue;
      }
      held.push_back(std::move(row));
    }
    if (!held.empty()) {
      std::string names;
      for (size_t i = 0; i < held.size() && i < 5; ++i) {
        names += (names.empty() ? "" : ", ") + held[i][0].value_or("?");
      }
      if (held.size() > 5) names += fmt::format(" and {} more", held.size() - 5);
      return Status(Code::kInvalidArgument,
                    fmt::format("{} already holds objects in schema '{}' ({}), which restoring "
                                "the schema would drop; nothing was restored. Restore into an "
                                "empty database, or into the target itself with --yes",
                                RedactUrl(url), m.pg_schema, names));
    }
  }
  uint64_t total = 0;
  for (const auto& p : m.parts) total += p.bytes;
  if (options.progress) options.progress->Start("restore", total);
  std::string mismatch;
  Status s = [&]() -> Status {
    // Everything in one transaction: the target changes whole or not at all.
    STRATA_RETURN_IF_ERROR(conn->Exec("BEGIN"));
    // Dropping the schema takes its owner and grants with it: put them back.
    STRATA_ASSIGN_OR_RETURN(
        auto owner, conn->Query("SELECT pg_catalog.pg_get_userbyid(nspowner), "
                                "(SELECT string_agg(format('GRANT %s ON SCHEMA %I TO %s', "
                                "a.privilege_type, nspname, CASE WHEN a.grantee = 0 THEN "
                                "'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) "
                                "END), '; ') FROM aclexplode(nspacl) a), current_user "
                                "FROM pg_catalog.pg_namespace WHERE nspname = $1",
                                {m.pg_schema}));
    STRATA_RETURN_IF_ERROR(RefuseWhatDroppingTheSchemaTakes(*conn, m));
    STRATA_RETURN_IF_ERROR(MakeOutsideExtensions(*conn, m, url));
    if (options.lock_timeout.count() > 0) {
      STRATA_RETURN_IF_ERROR(conn->Exec(
          fmt::format("SET LOCAL lock_timeout = {}", options.lock_timeout.count())));
    }
    if (options.unchanged_since != nullptr) {
      // The snapshot of the current state was taken before this transaction
      // held any lock: writers kept from the tables now, what they committed
      // in between would go with the schema, in no snapshot. Refused then.
      STRATA_ASSIGN_OR_RETURN(Database* db, conn->AsDatabase(RedactUrl(url)));
      STRATA_ASSIGN_OR_RETURN(std::vector<std::string> tables, db->ListTables());
      for (std::string& t : tables) t = db->QuoteIdent(t);
      Status locked = db->LockAgainstWrites(tables);
      if (locked.code() == Code::kLocked) {
        conn->Exec("ROLLBACK").IgnoreError();
        return LockedOut(*conn, m.pg_schema, options.lock_timeout);
      }
      STRATA_RETURN_IF_ERROR(locked);
      STRATA_ASSIGN_OR_RETURN(std::string changed, CompareAsTaken(*conn, *db, *options.unchanged_since));
      if (!changed.empty()) {
        return Status(Code::kLocked,
                      fmt::format("schema '{}' changed while the snapshot of its current state ({}) "
                                  "was taken, before the restore could keep writers out, so that "
                                  "snapshot lacks what was written; nothing was restored. Run the "
                                  "restore again, once the writers are stopped:\n{}",
                                  m.pg_schema, options.unchanged_since->id, changed));
      }
    }
    Status dropped = conn->Exec("DROP SCHEMA IF EXISTS " + SqlIdentifier(m.pg_schema) + " CASCADE");
    if (dropped.code() == Code::kLocked) {
      conn->Exec("ROLLBACK").IgnoreError();
      return LockedOut(*conn, m.pg_schema, options.lock_timeout);
    }
    STRATA_RETURN_IF_ERROR(dropped);
    if (options.lock_timeout.count() > 0) STRATA_RETURN_IF_ERROR(conn->Exec("SET LOCAL lock_timeout = 0"));
    STRATA_RETURN_IF_ERROR(conn->Exec("CREATE SCHEMA " + SqlIdentifier(m.pg_schema)));
    // pg_dump -n leaves out the extensions the schema's tables may use.
    for (const auto& ext : m.pg_extensions) {
      STRATA_RETURN_IF_ERROR(conn->Exec("CREATE EXTENSION IF NOT EXISTS " + SqlIdentifier(ext) +
                                        " WITH SCHEMA " + SqlIdentifier(m.pg_schema) +
                                        AtVersion(m, ext)));
    }
    PartReader pre_reader(store, *pre, options.progress);
    STRATA_ASSIGN_OR_RETURN(std::string pre_sql, pre_reader.All());
    Privileges pre_parts = SplitPrivileges(pre_sql);
    Status created = conn->Exec(WithoutCreateSchema(pre_parts.rest),
                                fmt::format("creating schema '{}' from the snapshot", m.pg_schema));
    if (!created.ok()) return ScriptFailed(created, m, url);
    for (const auto& p : m.parts) {
      if (p.name.rfind(kTablePrefix, 0) != 0) continue;
      std::string table = p.name.substr(sizeof(kTablePrefix) - 1);
      PartReader reader(store, p, options.progress);
      STRATA_RETURN_IF_ERROR(conn->CopyIn("COPY " + Qualified(m.pg_schema, table) +
                                              ColumnList(p.columns) + " FROM STDIN",
                                          [&] { return reader.Next(); })
                                 .WithContext("restoring table " + table));
    }
    for (const auto& seq : m.sequences) {
      STRATA_RETURN_IF_ERROR(conn->Exec(fmt::format(
          "SELECT pg_catalog.setval({}, {}, {})", SqlLiteral(Qualified(m.pg_schema, seq.name)),
          seq.last_value, seq.is_called ? "true" : "false")));
    }
    PartReader post_reader(store, *post, options.progress);
    STRATA_ASSIGN_OR_RETURN(std::string post_sql, post_reader.All());
    Privileges post_parts = SplitPrivileges(post_sql);
    created = conn->Exec(post_parts.rest, "creating the snapshot's indexes, constraints and triggers");
    if (!created.ok()) return ScriptFailed(created, m, url);
    // The schema-only dump creates materialized views empty (a whole dump's
    // data section refreshes them): refresh them, in the order pg_dump
    // created them, so one built on another comes after it. One that was
    // never populated stays so, as pg_restore leaves it (its query may not
    // even run on these rows).
    // A view's query is bound to its tables when it is created, but a
    // function it calls finds those its body names by search_path when it
    // runs: refreshed under the dump's empty one, a SQL function's bare
    // `items` named nothing. So they run under the snapshot's schema, as the
    // application ran them; the empty search_path comes back after them.
    STRATA_ASSIGN_OR_RETURN(auto matviews, RelationsOfKind(*conn, m.pg_schema, 'm'));
    if (!matviews.empty()) {
      STRATA_RETURN_IF_ERROR(conn->Exec("SELECT pg_catalog.set_config('search_path', " +
                                        SqlLiteral(SqlIdentifier(m.pg_schema)) + ", true)"));
    }
    for (const std::string& matview : matviews) {
      const auto& unpopulated = m.pg_unpopulated_matviews;
      if (std::find(unpopulated.begin(), unpopulated.end(), matview) != unpopulated.end()) continue;
      STRATA_RETURN_IF_ERROR(
          conn->Exec("REFRESH MATERIALIZED VIEW " + Qualified(m.pg_schema, matview))
              .WithContext("refreshing materialized view " + matview));
    }
    if (!matviews.empty()) {
      STRATA_RETURN_IF_ERROR(conn->Exec("SELECT pg_catalog.set_config('search_path', '', true)"));
    }
    STRATA_RETURN_IF_ERROR(RestorePrivileges(*conn, pre_parts.acl + post_parts.acl, options.notes));
    if (!owner.empty() && owner[0][0] && *owner[0][0] != *owner[0][2]) {
      STRATA_RETURN_IF_ERROR(conn->Exec("ALTER SCHEMA " + SqlIdentifier(m.pg_schema) + " OWNER TO " +
                                        SqlIdentifier(*owner[0][0])));
    }
    if (!owner.empty() && owner[0][1]) STRATA_RETURN_IF_ERROR(conn->Exec(*owner[0][1]));
    // Compared before it commits: a restore over the target that does not
    // give back what the snapshot holds is rolled back, and the target
    // stays as it was. A new database has nothing to keep: it keeps what
    // was restored, for a look at what differs.
    // The dump's scripts emptied search_path, which the fingerprints read
    // names by (as the snapshot did, on the URL's own).
    STRATA_RETURN_IF_ERROR(conn->Exec("SELECT pg_catalog.set_config('search_path', " +
                                      SqlLiteral(current[0][1].value_or("")) + ", true)"));
    STRATA_ASSIGN_OR_RETURN(Database* db, conn->AsDatabase(RedactUrl(url)));
    STRATA_ASSIGN_OR_RETURN(mismatch, CompareAsTaken(*conn, *db, m));
    return conn->Exec(mismatch.empty() || !options.replace ? "COMMIT" : "ROLLBACK");
  }();
  if (options.progress) options.progress->Done();
  if (!s.ok()) {
    conn->Exec("ROLLBACK").IgnoreError();
    return s;
  }
  return mismatch;
}

}  // namespace strata::snapshot
