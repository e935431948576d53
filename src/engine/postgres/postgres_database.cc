// PostgreSQL engine over libpq. See postgres_database.h for the contract.

#include "engine/postgres/postgres_database.h"

#include "engine/postgres/libpq.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/postgres/batch_query.h"
#include "engine/url.h"
#include "util/interrupt.h"
#include "util/text.h"

namespace strata {
namespace {

// libpq's functions, loaded by OpenPostgres before any connection exists.
const LibPq* loaded_libpq = nullptr;
const LibPq& Pq() { return *loaded_libpq; }

/// The advisory-lock key of the migration lock: the ASCII bytes "STRATALK".
/// Session-level advisory locks are per database, so this is one lock per
/// database. pg_locks shows a bigint key split in two: classid holds the high
/// 32 bits (0x53545241), objid the low 32 bits (0x54414C4B), objsubid is 1.
constexpr int64_t kLockKey = 0x5354524154414C4B;
constexpr int64_t kLockClassId = kLockKey >> 32;
constexpr int64_t kLockObjId = kLockKey & 0xFFFFFFFF;
// Held by each migration step's transaction (pg_advisory_xact_lock): a step
// whose client died mid-pipeline may still be running on the server after
// the session lock of its run is gone; the next run waits for it to end.
constexpr int64_t kStepKey = kLockKey + 1;
// How long a new run waits for such a killed run's steps, and how often it looks.
constexpr std::chrono::milliseconds kZombieWait{10000};
constexpr std::chrono::milliseconds kZombiePoll{50};

// Type OIDs from pg_type; catalog/pg_type_d.h ships only with the server headers.
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;

// Who holds the lock: the granted advisory lock on our key in this database,
// with the session behind it. A LEFT JOIN keeps the pid if the activity row
// is gone or hidden.
constexpr char kLockHolderSql[] =
    "SELECT a.application_name, l.pid,"
    " to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    " FROM pg_catalog.pg_locks l"
    " LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted"
    " AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 1"
    " AND l.database = (SELECT oid FROM pg_catalog.pg_database"
    "                   WHERE datname = current_database())"
    " AND l.pid <> pg_backend_pid()"
    " ORDER BY l.pid LIMIT 1";

// Tables live in current_schema(): the first existing schema on search_path.
constexpr char kListTablesSql[] =
    "SELECT c.relname FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
    " AND left(c.relname, 7) <> 'strata_'"
    " ORDER BY c.relname COLLATE \"C\"";

constexpr char kTableExistsSql[] =
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
    " AND c.relname = $1)";

// One row per live column; a single row with a NULL name for a table without
// columns; no row at all when the relation does not exist.
constexpr char kListPrimaryKeySql[] =
    "SELECT a.attname FROM pg_catalog.pg_index i"
    " JOIN pg_catalog.pg_class c ON c.oid = i.indrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)"
    " WHERE i.indisprimary AND n.nspname = current_schema() AND c.relname = $1"
    " ORDER BY array_position(i.indkey::int2[], a.attnum)";

/// The columns of table $1 in the current schema for which `predicate` (on
/// pg_attribute a) holds, in their order.
std::string ColumnsWhereSql(std::string_view predicate) {
  return fmt::format(
      "SELECT a.attname FROM pg_catalog.pg_attribute a"
      " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
      " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attnum > 0"
      " AND NOT a.attisdropped AND {} ORDER BY a.attnum",
      predicate);
}

constexpr char kListUniqueKeysSql[] =
    "SELECT i.indexrelid::text, a.attname FROM pg_catalog.pg_index i"
    " JOIN pg_catalog.pg_class c ON c.oid = i.indrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
    " WHERE i.indisunique AND NOT i.indisprimary AND i.indpred IS NULL AND i.indexprs IS NULL"
    " AND n.nspname = current_schema() AND c.relname = $1"
    " ORDER BY i.indexrelid, k.ord";

// The element type of an array stands for it (a domain over an array is a
// type of its own); the engine's types are those of pg_catalog and
// information_schema.
constexpr char kListUserTypedColumnsSql[] =
    "SELECT a.attname, pg_catalog.quote_ident(bn.nspname) || '.' ||"
    " pg_catalog.quote_ident(b.typname) || CASE WHEN b.oid <> t.oid THEN '[]' ELSE '' END"
    " FROM pg_catalog.pg_attribute a"
    " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
    " JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'b' AND t.typcategory = 'A'"
    "   AND t.typelem <> 0 THEN t.typelem ELSE t.oid END"
    " JOIN pg_catalog.pg_namespace bn ON bn.oid = b.typnamespace"
    " WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attnum > 0"
    " AND NOT a.attisdropped AND bn.nspname NOT IN ('pg_catalog', 'information_schema')"
    " ORDER BY a.attnum";

constexpr char kCascadingChildrenSql[] =
    "SELECT DISTINCT c.relname, cn.nspname <> current_schema(), cn.nspname"
    " FROM pg_catalog.pg_constraint k"
    " JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
    " JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace"
    " JOIN pg_catalog.pg_class p ON p.oid = k.confrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = p.relnamespace"
    " WHERE k.contype = 'f' AND n.nspname = current_schema() AND p.relname = $1"
    " AND ($2 = 2 OR (CASE WHEN $2 = 1 THEN k.confdeltype ELSE k.confupdtype END)"
    "   IN ('c', 'n', 'd'))"
    " AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a"
    "   WHERE a.attrelid = k.confrelid AND a.attnum = ANY(k.confkey)"
    "   AND (a.attname = ANY(string_to_array($3, chr(31))) OR a.attgenerated <> '')))"
    " ORDER BY 1";

constexpr char kListColumnsSql[] =
    "SELECT a.attname FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_catalog.pg_attribute a"
    "   ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
    " AND c.relname = $1"
    " ORDER BY a.attnum";

constexpr char kNoCopy[] =
    "COPY from STDIN or to STDOUT is not supported; use INSERT, or COPY with a server-side file";

struct PGresultDeleter {
  void operator()(PGresult* result) const { Pq().PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, PGresultDeleter>;

void DiscardNotice(void* /*arg*/, const char* /*message*/) {}

/// libpq messages end in a newline and some span lines ("...failed: ...\n\t
/// Is the server running..."); joins them into one line without the tail.
std::string OneLine(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty() && out.back() != ' ') out += ' ';
    pending_space = false;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

/// Passwords exactly as written in `url` (userinfo and password= parameter).
/// libpq's URI parse errors quote the offending token verbatim, so these are
/// scrubbed from such errors before anyone sees them.
std::vector<std::string> RawPasswords(std::string_view url) {
  std::vector<std::string> found;
  if (std::string_view password = UrlPassword(url); !password.empty()) found.emplace_back(password);
  for (size_t pos = url.find("password="); pos != std::string_view::npos;
       pos = url.find("password=", pos + 1)) {
    std::string_view value = url.substr(pos + 9);
    value = value.substr(0, value.find_first_of("& "));
    if (!value.empty()) found.emplace_back(value);
  }
  return found;
}

std::string Scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    for (size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + 3)) {
      text.replace(pos, secret.size(), "***");
    }
  }
  return text;
}

/// Locale-independent shortest-safe text of a double ("%.17g"), spelled the
/// way float8in reads non-finite values.
std::string FormatReal(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v,
                                 std::chars_format::general, 17);
  if (ec != std::errc()) return "NaN";  // Cannot happen: 32 bytes always fit.
  return std::string(buf, end);
}

/// The four parallel arrays PQexecParams wants. Text and blob values point
/// into `params`, which must outlive this object.
class BoundParams {
 public:
  explicit BoundParams(const std::vector<Value>& params)
      : formatted_(params.size()) {
    for (size_t i = 0; i < params.size(); ++i) {
      const Value& p = params[i];
      Oid type = 0;  // Let the server infer it from the statement.
      int format = 0;
      const char* data = nullptr;
      int length = 0;
      switch (p.type()) {
        case Value::Type::kNull:
          break;
        case Value::Type::kInteger:
          formatted_[i] = std::to_string(p.integer());
          data = formatted_[i].c_str();
          break;
        case Value::Type::kReal:
          formatted_[i] = FormatReal(p.real());
          data = formatted_[i].c_str();
          break;
        case Value::Type::kText:
          data = p.text().c_str();
          break;
        case Value::Type::kBlob:
          // Binary input needs a known type for its receive function.
          type = kByteaOid;
          format = 1;
          data = p.blob().bytes.data();
          length = static_cast<int>(p.blob().bytes.size());
          break;
      }
      types_.push_back(type);
      values_.push_back(data);
      lengths_.push_back(length);
      formats_.push_back(format);
    }
  }

  int size() const { return static_cast<int>(values_.size()); }
  const Oid* types() const { return types_.data(); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<std::string> formatted_;  // Sized once; never reallocated.
  std::vector<Oid> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

/// One text-format cell as a borrowed CellView, typed by its column's type
/// OID; bytea (hex or escape output) is decoded into `scratch`, which must
/// outlive the view. Text that does not parse as its type stays text.
CellView Cell(const PGresult* result, int row, int col, std::string* scratch) {
  if (Pq().PQgetisnull(result, row, col)) return CellView{};
  const char* text = Pq().PQgetvalue(result, row, col);
  const char* end = text + Pq().PQgetlength(result, row, col);
  switch (Pq().PQftype(result, col)) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid: {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(text, end, v);
      if (ec == std::errc() && ptr == end) return CellView{Value::Type::kInteger, v, 0, {}};
      break;
    }
    case kFloat4Oid:
    case kFloat8Oid: {
      double v = 0;
      auto [ptr, ec] = std::from_chars(text, end, v);
      if (ec == std::errc() && ptr == end) return CellView{Value::Type::kReal, 0, v, {}};
      break;
    }
    case kByteaOid: {
      size_t size = 0;
      unsigned char* bytes = Pq().PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &size);
      if (bytes != nullptr) {
        scratch->assign(reinterpret_cast<const char*>(bytes), size);
        Pq().PQfreemem(bytes);
        return CellView{Value::Type::kBlob, 0, 0, *scratch};
      }
      break;
    }
    default:
      break;
  }
  return CellView{Value::Type::kText, 0, 0, std::string_view(text, end - text)};
}

/// True when `rows` is a single boolean cell holding true.
bool SingleTrue(const Rows& rows) {
  return rows.size() == 1 && rows.rows[0].size() == 1 &&
         rows.rows[0][0].type() == Value::Type::kText &&
         rows.rows[0][0].text() == "t";
}

class PostgresDatabase final : public Database {
 public:
  /// Uses `conn`, which is connected; closes it at the end if `owned`.
  PostgresDatabase(PGconn* conn, std::string described, bool owned = true)
      : conn_(conn), owned_(owned), described_(std::move(described)),
        cancel_(Pq().PQgetCancel(conn)) {
    if (cancel_ != nullptr) {
      interrupt_.emplace([this] {
        char why[256];
        Pq().PQcancel(cancel_, why, sizeof(why));  // a statement that has ended ignores it
      });
    }
  }
  ~PostgresDatabase() override {
    interrupt_.reset();  // before what it uses goes
    if (cancel_ != nullptr) Pq().PQfreeCancel(cancel_);
    if (owned_) Pq().PQfinish(conn_);
  }

  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  Engine engine() const override { return Engine::kPostgres; }
  StepAtomicity step_atomicity() const override { return StepAtomicity::kTransaction; }
  std::string_view InsertOverridingSql() const override { return "OVERRIDING SYSTEM VALUE "; }

  std::vector<std::string> AdvanceSequencesSql(std::string_view table) const override {
    // Each column with a sequence (serial or identity) gets setval past its
    // largest value, never back from where it is (the application may have
    // taken and dropped keys above the rows put back since); a sequence
    // never called, as the down script created it, starts at 1.
    const std::string literal = SqlLiteral(table);
    return {fmt::format(
        "DO $strata$ DECLARE r record; BEGIN "
        "FOR r IN SELECT a.attname, pg_catalog.pg_get_serial_sequence({0}, a.attname) AS seq "
        "FROM pg_catalog.pg_attribute a WHERE a.attrelid = {0}::regclass AND a.attnum > 0 "
        "AND NOT a.attisdropped LOOP "
        "IF r.seq IS NOT NULL THEN EXECUTE pg_catalog.format('SELECT pg_catalog.setval(%L, "
        "greatest(coalesce(max(%I), 1), coalesce(pg_catalog.pg_sequence_last_value(%L), 1)), "
        "max(%I) IS NOT NULL OR pg_catalog.pg_sequence_last_value(%L) IS NOT NULL) FROM %s', "
        "r.seq, r.attname, r.seq, r.attname, r.seq, {0}); "
        "END IF; END LOOP; END $strata$",
        literal)};
  }
  // Each enabled user trigger (ALWAYS ones too) is disabled and its name
  // and state kept in a setting of the session, for `resume`, which clears
  // it: a no-transaction rollback runs the two in transactions of their own
  // (a setting of the transaction was gone by then, and the triggers were
  // left disabled). One that cannot be altered now (the transaction has
  // events of it pending) is left to fire.
  TriggerPauseSql PauseTriggersSql(std::string_view table) const override {
    const std::string literal = SqlLiteral(table);
    TriggerPauseSql sql;
    sql.pause = {fmt::format(
        "DO $strata$ DECLARE r record; paused text[] := '{{}}'; BEGIN "
        "FOR r IN SELECT t.tgname, t.tgenabled FROM pg_catalog.pg_trigger t "
        "WHERE t.tgrelid = {0}::regclass AND NOT t.tgisinternal AND t.tgenabled IN ('O', 'A') "
        "LOOP BEGIN "
        "EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER %I', {0}, r.tgname); "
        "paused := paused || (r.tgenabled::text || r.tgname::text); "
        "EXCEPTION WHEN object_in_use THEN NULL; END; END LOOP; "
        "PERFORM pg_catalog.set_config('strata.paused_triggers', paused::text, false); "
        "END $strata$",
        literal)};
    sql.resume = {fmt::format(
        "DO $strata$ DECLARE t text; BEGIN "
        "FOREACH t IN ARRAY coalesce(nullif(pg_catalog.current_setting("
        "'strata.paused_triggers', true), ''), '{{}}')::text[] LOOP "
        "EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE %s TRIGGER %I', {0}, "
        "CASE WHEN pg_catalog.left(t, 1) = 'A' THEN 'ALWAYS' ELSE '' END, "
        "pg_catalog.substr(t, 2)); END LOOP; "
        "PERFORM pg_catalog.set_config('strata.paused_triggers', '', false); END $strata$",
        literal)};
    return sql;
  }
  // The positions of the table's serial and identity sequences: after
  // AdvanceSequencesSql moved them past the rows put back, they go no lower
  // than they were, so the keys of rows deleted before the migration are
  // not handed out again.
  Result<KeyCounterSql> KeyCounter(std::string_view now, std::string_view /*before*/,
                                   std::string_view saved) override {
    // The sequences are found by the table of the moment and set by name.
    const std::string literal = SqlLiteral(QuoteIdent(now)), into = QuoteIdent(saved);
    KeyCounterSql sql;
    sql.save = {fmt::format(
        "CREATE TABLE {0} AS SELECT s.seq, pg_catalog.pg_sequence_last_value(s.seq::regclass)"
        " AS last_value FROM (SELECT pg_catalog.pg_get_serial_sequence({1}, a.attname) AS seq"
        " FROM pg_catalog.pg_attribute a WHERE a.attrelid = pg_catalog.to_regclass({1})"
        " AND a.attnum > 0 AND NOT a.attisdropped) AS s WHERE s.seq IS NOT NULL",
        into, literal), RevokeFromOthersSql(into)};
    sql.restore = {SetSequencesSql(into, "greatest(s.last_value, coalesce("
                                         "pg_catalog.pg_sequence_last_value(s.seq::regclass), "
                                         "s.last_value))"),
                   "DROP TABLE " + into};
    return sql;
  }
  KeyCounterSql SequencePositions(const std::vector<std::string>& sequences,
                                  std::string_view saved) override {
    const std::string into = QuoteIdent(saved);
    std::vector<std::string> rows;
    for (const auto& name : sequences) rows.push_back("(" + SqlLiteral(name) + ")");
    KeyCounterSql sql;
    sql.save = {fmt::format(
        "CREATE TABLE {} AS SELECT v.seq, pg_catalog.pg_sequence_last_value("
        "pg_catalog.to_regclass(v.seq)) AS last_value FROM (VALUES {}) AS v(seq)",
        into, fmt::join(rows, ", ")), RevokeFromOthersSql(into)};
    sql.restore = {SetSequencesSql(into, "s.last_value"), "DROP TABLE " + into};
    return sql;
  }
  /// Sets each sequence of the saved table `into` (seq, last_value) that
  /// exists again to `position`, an expression of s.seq and s.last_value.
  static std::string SetSequencesSql(const std::string& into, std::string_view position) {
    return fmt::format("SELECT pg_catalog.setval(s.seq, {}) FROM {} AS s WHERE s.last_value IS "
                       "NOT NULL AND pg_catalog.to_regclass(s.seq) IS NOT NULL",
                       position, into);
  }
  std::string_view LogPositionSql() const override { return "pg_current_wal_lsn()::text"; }
  std::string AppliedAtSql(std::string_view param) const override {
    // The parameter is named, typed, and unused: the server's clock wins.
    return fmt::format("CASE WHEN {}::text IS NULL THEN NULL ELSE to_char(clock_timestamp() AT "
                       "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') END",
                       param);
  }
  std::string_view StepGuardSql() const override {
    static const std::string guard =
        "SELECT pg_advisory_xact_lock(" + std::to_string(kStepKey) + ")";
    return guard;
  }
  std::string_view NoWaitCommitSql() const override { return "SET LOCAL synchronous_commit = off"; }
  std::string Describe() const override { return described_; }

  Status Exec(std::string_view sql) override {
    return Execute(sql, nullptr).status();
  }

  void KeepTransactionOnReadErrors(bool on) override { keep_transaction_ = on; }

  Result<Rows> Query(std::string_view sql,
                     const std::vector<Value>& params) override {
    return Kept([&]() -> Result<Rows> {
      STRATA_ASSIGN_OR_RETURN(ResultPtr result, Execute(sql, &params));
      return ToRows(result.get());
    });
  }

  Result<Rows> QueryFixed(std::string_view sql, const std::vector<Value>& params) override {
    return Kept([&] { return QueryFixedAsIs(sql, params); });
  }

  Result<Rows> QueryFixedAsIs(std::string_view sql, const std::vector<Value>& params) {
    const std::string* name = PreparedName(sql, params.size());
    if (name == nullptr) return Query(sql, params);
    BoundParams bound(params);
    ResultPtr result(Pq().PQexecPrepared(conn_, name->c_str(), bound.size(), bound.values(),
                                         bound.lengths(), bound.formats(), /*resultFormat=*/0));
    if (result && Pq().PQresultStatus(result.get()) == PGRES_TUPLES_OK) return ToRows(result.get());
    // Gone (DEALLOCATE ALL, DISCARD ALL in a migration) or failed: the
    // plain query says what is wrong, if anything.
    prepared_.erase(std::string(sql));
    return Query(sql, params);
  }

  Result<std::vector<Rows>> QueryFixedBatch(const std::vector<BatchStatement>& queries) override {
    return Kept([&] { return QueryFixedBatchAsIs(queries); });
  }

  // Sends the lot in one pipeline: one round trip, each on its kept plan.
  Result<std::vector<Rows>> QueryFixedBatchAsIs(const std::vector<BatchStatement>& queries) {
    std::vector<const std::string*> names;
    for (const BatchStatement& q : queries) {
      names.push_back(PreparedName(q.sql, q.params.size()));
      // One that does not prepare fails on its own, saying why.
      if (names.back() == nullptr) return Database::QueryFixedBatch(queries);
    }
    Settle();
    const bool was_idle = Pq().PQtransactionStatus(conn_) == PQTRANS_IDLE;
    if (!Pq().PQenterPipelineMode(conn_)) return Database::QueryFixedBatch(queries);
    bool sent = true;
    for (size_t i = 0; i < queries.size() && sent; ++i) {
      BoundParams bound(queries[i].params);
      sent = Pq().PQsendQueryPrepared(conn_, names[i]->c_str(), bound.size(), bound.values(),
                                      bound.lengths(), bound.formats(), /*resultFormat=*/0) == 1;
    }
    Status failure = sent ? Status::OK()
                          : Status(Code::kDatabase, OneLine(Pq().PQerrorMessage(conn_)));
    std::string failed_state;
    std::vector<Rows> out;
    Rows rows;  // of the query being read
    // The sync ends the pipeline even after a failed send: each query sent
    // then answers with its results and a null, and the sync with its own.
    if (Pq().PQpipelineSync(conn_) == 1) {
      bool synced = false;
      size_t ends = 0;  // of one query's results each; more than were sent cannot come
      while (!synced && Pq().PQstatus(conn_) == CONNECTION_OK && ends <= queries.size()) {
        PGresult* raw = Pq().PQgetResult(conn_);
        if (raw == nullptr) {
          ++ends;
          continue;
        }
        ResultPtr result(raw);
        const ExecStatusType status = Pq().PQresultStatus(raw);
        if (status == PGRES_PIPELINE_SYNC) {
          synced = true;
        } else if (status == PGRES_SINGLE_TUPLE) {
          // libpq keeps the single-row mode of an earlier ForEachRow for
          // the first query of a pipeline: its rows come one by one, then
          // an empty PGRES_TUPLES_OK.
          if (failure.ok()) AppendRows(raw, rows);
        } else if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
          if (failure.ok()) AppendRows(raw, rows);
          out.push_back(std::move(rows));
          rows = Rows();
        } else if (status != PGRES_PIPELINE_ABORTED && failure.ok()) {
          failure = Status(Code::kDatabase, DescribeError(raw, conn_));
          const char* state = Pq().PQresultErrorField(raw, PG_DIAG_SQLSTATE);
          failed_state = state ? state : "";
        }
      }
    } else if (failure.ok()) {
      failure = Status(Code::kDatabase, OneLine(Pq().PQerrorMessage(conn_)));
    }
    Pq().PQexitPipelineMode(conn_);
    if (Pq().PQstatus(conn_) != CONNECTION_OK) {
      return Status(Code::kUnavailable, "lost the connection to " + described_ + ": " +
                                            (failure.ok() ? OneLine(Pq().PQerrorMessage(conn_))
                                                          : failure.message()));
    }
    if (failure.ok() && out.size() != queries.size()) {
      failure = Status(Code::kInternal, fmt::format("the server answered {} of {} queries of a "
                                                    "pipeline", out.size(), queries.size()));
    }
    if (failure.ok()) return out;
    // A statement gone since it was prepared (DEALLOCATE ALL or DISCARD ALL
    // in a migration): prepared anew, one by one, when nothing was open
    // before, which the batch's own transaction, if any, is rolled back to.
    if (failed_state == "26000" && was_idle) {
      prepared_.clear();
      if (InTransaction()) STRATA_RETURN_IF_ERROR(Rollback());
      return Database::QueryFixedBatch(queries);
    }
    return failure;
  }

  /// Sets `setting` (statement_timeout, lock_timeout; `what` in errors) to
  /// `timeout`; `known` is the value in force, -1 when unknown.
  Status SetTimeout(std::string_view setting, std::string_view what,
                    std::chrono::milliseconds timeout, int64_t& known) {
    if (timeout.count() < 0) {
      return Status(Code::kInvalidArgument, fmt::format("{} cannot be negative", what));
    }
    // The server's limit is INT_MAX ms (about 24 days); longer means no limit.
    int64_t ms = timeout.count() > INT_MAX ? 0 : timeout.count();
    // A migration run sets the timeouts before every step; skip the round
    // trip when one is known to be in force already. A SET inside a
    // transaction may be rolled back, so only one outside counts as known.
    // Batches sent open and end transactions of their own: not waited for.
    const bool sent = !wire_.empty() || !waiting_.empty();
    if (known == ms && (sent || !InTransaction())) return Status::OK();
    Status s = Exec(fmt::format("SET {} = {}", setting, ms));
    known = (s.ok() && !InTransaction()) ? ms : -1;
    return s;
  }

  /// The name `sql` is prepared under on this connection, prepared now if it
  /// is not yet; null if it does not prepare.
  const std::string* PreparedName(std::string_view sql, size_t param_count) {
    Settle();
    std::string text(sql);
    auto found = prepared_.find(text);
    if (found == prepared_.end()) {
      std::string name = "strata_fixed_" + std::to_string(++prepared_count_);
      ResultPtr made(Pq().PQprepare(conn_, name.c_str(), text.c_str(),
                                    static_cast<int>(param_count), nullptr));
      if (!made || Pq().PQresultStatus(made.get()) != PGRES_COMMAND_OK) return nullptr;
      found = prepared_.emplace(std::move(text), std::move(name)).first;
    }
    return &found->second;
  }

  Rows ToRows(PGresult* result) {
    Rows rows;
    AppendRows(result, rows);
    return rows;
  }

  /// Adds the rows of `result` to `rows`, and its columns if `rows` has none.
  void AppendRows(PGresult* result, Rows& rows) {
    const int columns = Pq().PQnfields(result);
    const int count = Pq().PQntuples(result);
    if (rows.columns.empty()) {
      for (int c = 0; c < columns; ++c) rows.columns.emplace_back(Pq().PQfname(result, c));
    }
    if (rows.rows.empty()) rows.rows.reserve(count);
    std::string scratch;
    for (int r = 0; r < count; ++r) {
      std::vector<Value>& row = rows.rows.emplace_back();
      row.reserve(columns);
      for (int c = 0; c < columns; ++c) row.push_back(ToValue(Cell(result, r, c, &scratch)));
    }
  }

  Status ForEachRow(std::string_view sql, const std::vector<Value>& params,
                    const std::function<Status(std::span<const CellView>)>& on_row) override {
    return Kept([&] { return ForEachRowAsIs(sql, params, on_row); });
  }

  Status ForEachRowAsIs(std::string_view sql, const std::vector<Value>& params,
                        const std::function<Status(std::span<const CellView>)>& on_row) {
    Settle();
    const std::string text(sql);
    BoundParams bound(params);
    if (!Pq().PQsendQueryParams(conn_, text.c_str(), bound.size(), bound.types(), bound.values(),
                                bound.lengths(), bound.formats(), /*resultFormat=*/0)) {
      return Status(Code::kDatabase, OneLine(Pq().PQerrorMessage(conn_)));
    }
    // Single-row mode: one PGresult per row, so memory stays flat.
    Pq().PQsetSingleRowMode(conn_);
    Status failure;
    std::vector<CellView> cells;
    std::vector<std::string> bytea;  // decoded bytea cells of the current row
    while (PGresult* raw = Pq().PQgetResult(conn_)) {
      ResultPtr result(raw);
      const ExecStatusType status = Pq().PQresultStatus(raw);
      if (status == PGRES_SINGLE_TUPLE) {
        if (!failure.ok()) continue;  // drain what the server still sends
        const int columns = Pq().PQnfields(raw);
        cells.assign(columns, CellView{});
        bytea.resize(columns);
        for (int c = 0; c < columns; ++c) cells[c] = Cell(raw, 0, c, &bytea[c]);
        failure = on_row(std::span<const CellView>(cells));
      } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && failure.ok()) {
        failure = Status(Code::kDatabase, DescribeError(raw, conn_));
      }
    }
    return failure;
  }

  // Sends the statements as one simple-protocol query (batch_query.h): one
  // round trip, and no Parse/Bind/Describe/Execute per statement.
  BatchResult ExecBatch(const std::vector<BatchStatement>& statements) override {
    if (statements.size() <= 1) return Database::ExecBatch(statements);
    Settle();
    size_t failed = 0;
    auto query = BuildBatchQuery(
        statements, [this](const Value& v) { return Literal(v); }, &failed);
    if (!query.ok()) return BatchResult{query.status(), failed};
    std::vector<Pending> one;
    one.push_back({std::move(query).value(), false});
    if (Status sent = SendWire(std::move(one)); !sent.ok()) return BatchResult{sent, 0};
    return ReadWire().front();
  }

  // Pipelining: a batch sent while others run waits in `waiting_`; once the
  // server has answered the query on the wire, all that wait go out as one
  // query. The server stops at the first failure in a query string (a
  // failing COMMIT too), so a batch behind a failed one does not run.
  void SendBatch(const std::vector<BatchStatement>& statements) override {
    if (stopped_ || Interrupt::Requested()) {
      outcomes_.push_back(NotRunBatch());
      return;
    }
    // The server's clock, read after each batch (and before the first of
    // a query, SendWire), times it.
    std::vector<BatchStatement> timed;
    timed.reserve(statements.size() + 1);
    timed.insert(timed.end(), statements.begin(), statements.end());
    timed.push_back({kClockSql, {}});
    size_t failed = 0;
    auto query = BuildBatchQuery(timed, [this](const Value& v) { return Literal(v); }, &failed);
    if (!query.ok()) {
      Settle();  // the outcomes stay in the order sent
      if (stopped_) {
        outcomes_.push_back(NotRunBatch());
      } else {
        outcomes_.push_back(BatchResult{query.status(), failed});
        stopped_ = true;
      }
      return;
    }
    waiting_.push_back({std::move(query).value(), true});
    // A long queue is not worth its memory: the server is far behind.
    Pump(/*wait=*/waiting_.size() >= kMaxWaiting);
  }

  BatchResult TakeBatch() override {
    while (outcomes_.empty() && (!wire_.empty() || !waiting_.empty())) Pump(/*wait=*/true);
    if (outcomes_.empty()) return BatchResult{Status(Code::kInternal, "no batch was sent"), 0};
    BatchResult out = std::move(outcomes_.front());
    outcomes_.pop_front();
    if (outcomes_.empty() && wire_.empty() && waiting_.empty()) stopped_ = false;
    return out;
  }

  bool BatchDone() override {
    Pump(/*wait=*/false);
    return !outcomes_.empty();
  }

  const std::vector<std::string>& ResetSessionSql() const override {
    // reset_val is the session's default: the server's, the role's, or the
    // connection's own (options=-csearch_path=... in the URL). Only what
    // differs is set: session_replication_role is the superuser's. Besides
    // the names a statement resolves, what reads or writes text differently
    // (string escapes, dates, numbers, bytea: Strata's own statements and
    // the fingerprints) and a session made read-only, so the next migration
    // starts as a later run would start it.
    // row_security goes back to off, as every connection starts (OpenPostgres).
    static const std::vector<std::string> reset = {
        "SELECT pg_catalog.set_config(name, v.value, false) FROM pg_catalog.pg_settings,"
        " LATERAL (SELECT CASE WHEN name = 'row_security' THEN 'off' ELSE reset_val END) v(value)"
        " WHERE name IN ('search_path', 'role', 'session_replication_role', "
        "'standard_conforming_strings', 'default_transaction_read_only', "
        "'default_transaction_isolation', 'default_transaction_deferrable', 'datestyle', "
        "'intervalstyle', 'timezone', 'extra_float_digits', 'bytea_output', 'client_encoding', "
        "'lc_monetary', 'lc_numeric', 'lc_time', 'xmloption', 'row_security') "
        "AND setting IS DISTINCT FROM v.value"};
    return reset;
  }

  std::pair<std::vector<std::string>, std::vector<std::string>> AroundCaptureSql() const override {
    // Only a search_path that names no existing schema is replaced: there
    // the capture table has nowhere to go, and the statement names its table
    // qualified. Any other is the one the statement's names resolve in, and
    // so the capture's. Session-level (not local) so that it holds outside a
    // transaction too; ResetSession puts the connection's own back once the
    // step ends.
    // Row security off too, as Strata's sessions run: a script's SET
    // row_security = on would have a policy hide rows from the capture.
    return {{"SELECT pg_catalog.set_config('strata.migration_search_path',"
             " pg_catalog.current_setting('search_path'), false),"
             " pg_catalog.set_config('search_path', CASE WHEN pg_catalog.current_schema() IS NULL"
             " THEN s.reset_val ELSE pg_catalog.current_setting('search_path') END, false),"
             " pg_catalog.set_config('strata.migration_row_security',"
             " pg_catalog.current_setting('row_security'), false),"
             " pg_catalog.set_config('row_security', 'off', false)"
             " FROM pg_catalog.pg_settings s WHERE s.name = 'search_path'"},
            {"SELECT pg_catalog.set_config('search_path',"
             " pg_catalog.current_setting('strata.migration_search_path'), false),"
             " pg_catalog.set_config('row_security',"
             " pg_catalog.current_setting('strata.migration_row_security'), false)"}};
  }

  Status SetStatementTimeout(std::chrono::milliseconds timeout) override {
    return SetTimeout("statement_timeout", "a statement timeout", timeout, known_timeout_ms_);
  }

  Status SetLockTimeout(std::chrono::milliseconds timeout) override {
    return SetTimeout("lock_timeout", "a lock timeout", timeout, known_lock_timeout_ms_);
  }

  Status Begin() override {
    if (InTransaction()) {
      return Status(Code::kInternal, "BEGIN: a transaction is already open");
    }
    return Exec("BEGIN");
  }

  Status Commit() override {
    Settle();
    switch (Pq().PQtransactionStatus(conn_)) {
      case PQTRANS_IDLE:
        return Status(Code::kInternal, "COMMIT: no transaction is open");
      case PQTRANS_INERROR:
        // The server would answer COMMIT with a silent ROLLBACK; say so.
        Exec("ROLLBACK").IgnoreError();
        return Status(Code::kDatabase,
                      "cannot commit: an earlier statement failed, so the "
                      "transaction was rolled back");
      default:
        break;
    }
    STRATA_ASSIGN_OR_RETURN(ResultPtr result, Execute("COMMIT", nullptr));
    if (std::strcmp(Pq().PQcmdStatus(result.get()), "COMMIT") != 0) {
      return Status(Code::kDatabase, "the server rolled the transaction back at COMMIT");
    }
    return Status::OK();
  }

  /// Rolling back with no transaction open is a no-op, so cleanup paths
  /// need not know whether the failure came before or after BEGIN.
  Status Rollback() override {
    Settle();
    if (Pq().PQtransactionStatus(conn_) == PQTRANS_IDLE) return Status::OK();
    return Exec("ROLLBACK");
  }

  /// A failed transaction still counts: it must be rolled back. Batches
  /// sent are waited for: the answer is the state they leave.
  bool InTransaction() const override {
    const_cast<PostgresDatabase*>(this)->Settle();
    switch (Pq().PQtransactionStatus(conn_)) {
      case PQTRANS_ACTIVE:
      case PQTRANS_INTRANS:
      case PQTRANS_INERROR:
        return true;
      default:
        return false;
    }
  }

  Result<LockAttempt> TryLock(const LockOwner& owner) override {
    // Session advisory locks nest; hold ours at most once so one Unlock frees it.
    if (lock_held_) return LockAttempt{true, ""};
    // Longer names are cut by the server at 63 bytes; the prefix is what matters.
    std::string name = "strata " + owner.actor + "@" + owner.host + " pid " +
                       std::to_string(owner.pid) + " since " + owner.since;
    STRATA_RETURN_IF_ERROR(
        Query("SELECT set_config('application_name', $1, false)", {Value(name)})
            .status());
    STRATA_ASSIGN_OR_RETURN(
        Rows taken,
        Query("SELECT pg_try_advisory_lock(" + std::to_string(kLockKey) + ")", {}));
    if (SingleTrue(taken)) {
      lock_held_ = true;
      // Wait for a step of a killed run that the server is still finishing,
      // and for the rest of the query holding it: steps sent together
      // (SendBatch) run one after another until the server sees that their
      // client is gone (client_connection_check_interval).
      STRATA_RETURN_IF_ERROR(Query("SELECT pg_advisory_lock(" + std::to_string(kStepKey) + ")", {}).status());
      STRATA_RETURN_IF_ERROR(Query("SELECT pg_advisory_unlock(" + std::to_string(kStepKey) + ")", {}).status());
      const Value guard{std::string(StepGuardSql())};
      for (auto waited = std::chrono::milliseconds(0); waited < kZombieWait; waited += kZombiePoll) {
        STRATA_ASSIGN_OR_RETURN(
            Rows running,
            Query("SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE datname = "
                  "pg_catalog.current_database() AND pid <> pg_catalog.pg_backend_pid() AND "
                  "state = 'active' AND pg_catalog.strpos(query, $1) > 0",
                  {guard}));
        if (running.rows.empty() || running.rows[0][0].ToInt() == 0) break;
        std::this_thread::sleep_for(kZombiePoll);
      }
      return LockAttempt{true, ""};
    }
    STRATA_ASSIGN_OR_RETURN(
        Rows holder, Query(kLockHolderSql, {Value(kLockClassId), Value(kLockObjId)}));
    return LockAttempt{false, DescribeHolder(holder)};
  }

  Result<std::string> ManagedSchema() override {
    STRATA_ASSIGN_OR_RETURN(Rows rows, QueryFixed("SELECT pg_catalog.current_schema()", {}));
    if (rows.empty() || rows.rows[0][0].is_null()) return NoWorkingSchema();
    return rows.rows[0][0].ToString();
  }

  Result<std::string> OutsideSchema(std::string_view schema, std::string_view table) override {
    std::string name = QuoteIdent(table);
    if (!schema.empty()) name = QuoteIdent(schema) + "." + name;
    // A temporary table lives in the session's own schema: not the user's data.
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, QueryFixed("SELECT n.nspname FROM pg_catalog.pg_class c"
                              " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                              " WHERE c.oid = pg_catalog.to_regclass($1) AND c.relpersistence <> 't'"
                              " AND n.nspname <> current_schema()",
                              {Value(name)}));
    return rows.empty() ? std::string() : rows.rows[0][0].ToString();
  }

  Result<std::vector<std::pair<std::string, std::string>>> RoutineDefinitions(
      const std::vector<std::string>& names) override {
    std::vector<std::pair<std::string, std::string>> out;
    if (names.empty()) return out;
    std::string joined;
    for (const auto& n : names) joined += (joined.empty() ? "" : "\x1f") + n;
    STRATA_ASSIGN_OR_RETURN(
        Rows rows,
        QueryFixed("SELECT p.proname, pg_catalog.pg_get_functiondef(p.oid) FROM pg_catalog.pg_proc p"
                   " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
                   " WHERE p.prokind IN ('f', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                   " AND n.nspname NOT LIKE 'pg\\_%' AND p.proname = ANY (pg_catalog.string_to_array($1, chr(31)))"
                   " ORDER BY 1, 2",
                   {Value(joined)}));
    for (const auto& row : rows.rows) out.emplace_back(row[0].ToString(), row[1].ToString());
    return out;
  }

  Result<std::vector<TriggerSource>> TriggersOn(std::string_view name) override {
    // tgtype: 4 INSERT, 8 DELETE, 16 UPDATE (pg_trigger.h).
    STRATA_ASSIGN_OR_RETURN(
        Rows rows,
        Query("SELECT (CASE WHEN t.tgtype & 4 <> 0 THEN 1 ELSE 0 END) | (CASE WHEN t.tgtype & 16"
              " <> 0 THEN 2 ELSE 0 END) | (CASE WHEN t.tgtype & 8 <> 0 THEN 4 ELSE 0 END),"
              " pg_catalog.pg_get_functiondef(t.tgfoid), pg_catalog.array_to_string(ARRAY("
              "SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.tgrelid"
              " AND a.attnum = ANY (t.tgattr)), chr(31)), (t.tgenabled <> 'D')::int"
              " FROM pg_catalog.pg_trigger t"
              " JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid"
              " JOIN pg_catalog.pg_language l ON l.oid = p.prolang"
              " WHERE t.tgrelid = pg_catalog.to_regclass($1) AND NOT t.tgisinternal"
              " AND l.lanname IN ('plpgsql', 'sql')",
              {Value(QuoteIdent(name))}));
    std::vector<TriggerSource> out;
    for (const auto& row : rows.rows) {
      TriggerSource& source = out.emplace_back();
      source.events = static_cast<unsigned>(row[0].ToInt());
      source.definition = row[1].ToString();
      source.enabled = row[3].ToInt() == 1;
      const std::string columns = row[2].ToString();
      for (size_t at = 0; !columns.empty() && at <= columns.size();) {
        size_t end = std::min(columns.find('\x1f', at), columns.size());
        source.columns.push_back(columns.substr(at, end - at));
        at = end + 1;
      }
    }
    return out;
  }

  Result<std::vector<std::string>> LockHoldersOn(const std::vector<std::string>& tables) override {
    std::string names;
    for (const std::string& t : tables) names += (names.empty() ? "" : "\x1f") + QuoteIdent(t);
    STRATA_ASSIGN_OR_RETURN(
        Rows rows,
        Query("SELECT a.pid, a.usename, a.application_name, a.state,"
              " to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
              " string_agg(DISTINCT c.relname, ', ')"
              " FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid = l.relation"
              " JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
              " WHERE l.granted AND l.pid <> pg_catalog.pg_backend_pid()"
              " AND l.database = (SELECT oid FROM pg_catalog.pg_database"
              "  WHERE datname = pg_catalog.current_database())"
              " AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
              " AND ($1 = '' OR l.relation IN (SELECT pg_catalog.to_regclass(n)"
              "  FROM unnest(string_to_array($1, chr(31))) AS n))"
              " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1",
              {Value(names)}));
    std::vector<std::string> out;
    for (const auto& row : rows.rows) {
      const std::string app = row[2].ToString();
      out.push_back(fmt::format("pid {} ({}, {}, {}, transaction open since {}; holds {})",
                                row[0].ToString(), row[1].ToString(),
                                app.empty() ? "no application_name" : app, row[3].ToString(),
                                row[4].ToString(), row[5].ToString()));
    }
    return out;
  }

  std::string LockAgainstWritesSql(const std::string& table) const override {
    return fmt::format("LOCK TABLE {} IN EXCLUSIVE MODE", table);
  }

  std::string RevokeFromOthersSql(const std::string& table) const override {
    const std::string literal = SqlLiteral(table);
    return fmt::format(
        "DO $strata$ DECLARE g record; BEGIN FOR g IN SELECT DISTINCT a.grantee FROM "
        "pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a WHERE c.oid = {0}::regclass "
        "AND a.grantee <> c.relowner LOOP EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s', "
        "{0}, CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE "
        "pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END); END LOOP; END $strata$",
        literal);
  }

  Status LockAgainstWrites(const std::vector<std::string>& tables) override {
    if (tables.empty()) return Status::OK();
    std::string names;
    for (const std::string& t : tables) names += (names.empty() ? "" : "\x1f") + t;
    // EXCLUSIVE: reads go on, writes wait; in one order, by oid.
    STRATA_ASSIGN_OR_RETURN(
        Rows rows,
        Query("SELECT string_agg(c.oid::pg_catalog.regclass::text, ', ' ORDER BY c.oid)"
              " FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'p')"
              " AND c.oid IN (SELECT pg_catalog.to_regclass(n)"
              "  FROM unnest(string_to_array($1, chr(31))) AS n)",
              {Value(names)}));
    if (rows.empty() || rows.rows[0][0].is_null()) return Status::OK();
    return Exec(fmt::format("LOCK TABLE {} IN EXCLUSIVE MODE", rows.rows[0][0].ToString()));
  }

  Result<bool> IsView(std::string_view name) override {
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, QueryFixed("SELECT 1 FROM pg_catalog.pg_class c"
                              " WHERE c.oid = pg_catalog.to_regclass($1) AND c.relkind = 'v'",
                              {Value(QuoteIdent(name))}));
    return !rows.empty();
  }

  Result<bool> HasRewriteRules(std::string_view name) override {
    // ev_type '2' is UPDATE, '4' DELETE ('_RETURN' makes a view).
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, QueryFixed("SELECT 1 FROM pg_catalog.pg_rewrite r"
                              " WHERE r.ev_class = pg_catalog.to_regclass($1)"
                              " AND r.ev_type IN ('2', '4') AND r.rulename <> '_RETURN'",
                              {Value(QuoteIdent(name))}));
    return !rows.empty();
  }

  Result<bool> TypeExists(std::string_view name) override {
    STRATA_ASSIGN_OR_RETURN(Rows rows, QueryFixed("SELECT pg_catalog.to_regtype($1) IS NOT NULL",
                                                  {Value(std::string(name))}));
    return !rows.empty() && rows.rows[0][0].ToString() == "t";
  }

  Result<bool> RoutineHasDependents(std::string_view schema, std::string_view name) override {
    STRATA_ASSIGN_OR_RETURN(
        Rows rows,
        QueryFixed("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_depend d"
                   " ON d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.refobjid = p.oid"
                   " AND d.deptype IN ('n', 'a')"
                   " WHERE p.proname = $1 AND CASE WHEN $2 = ''"
                   "  THEN p.pronamespace IN (SELECT n.oid FROM pg_catalog.pg_namespace n"
                   "   WHERE n.nspname = ANY (pg_catalog.current_schemas(false)))"
                   "  ELSE p.pronamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $2) END)",
                   {Value(std::string(name)), Value(std::string(schema))}));
    return !rows.empty() && rows.rows[0][0].ToString() == "t";
  }

  Result<ViewWrites> WritesThroughView(std::string_view name) override {
    ViewWrites w;
    STRATA_ASSIGN_OR_RETURN(w.view, IsView(name));
    if (!w.view) return w;
    const Value view(QuoteIdent(name));
    STRATA_ASSIGN_OR_RETURN(
        Rows own, QueryFixed("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger"
                             "  WHERE tgrelid = pg_catalog.to_regclass($1) AND NOT tgisinternal)"
                             " OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite"
                             "  WHERE ev_class = pg_catalog.to_regclass($1) AND rulename <> '_RETURN')",
                             {view}));
    w.by_triggers = own.rows[0][0].ToString() == "t";
    // The relations the view's query reads: the one it writes among them.
    STRATA_ASSIGN_OR_RETURN(
        Rows under, QueryFixed("SELECT DISTINCT c.relname FROM pg_catalog.pg_rewrite r"
                               " JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass"
                               "  AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass"
                               " JOIN pg_catalog.pg_class c ON c.oid = d.refobjid"
                               " WHERE r.ev_class = pg_catalog.to_regclass($1) AND r.rulename = '_RETURN'"
                               " AND d.refobjid <> r.ev_class AND c.relkind IN ('r', 'p') ORDER BY 1",
                               {view}));
    for (const auto& row : under.rows) w.tables.push_back(row[0].ToString());
    return w;
  }

  Result<std::vector<std::string>> InheritingTables(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, QueryFixed("SELECT i.inhrelid::regclass::text FROM pg_catalog.pg_inherits i"
                              " JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid"
                              " WHERE i.inhparent = pg_catalog.to_regclass($1)"
                              " AND NOT c.relispartition ORDER BY 1",
                              {Value(QuoteIdent(table))}));
    std::vector<std::string> names;
    for (const auto& row : rows.rows) names.push_back(row[0].ToString());
    return names;
  }

  Result<std::string> LockHolder() override {
    STRATA_ASSIGN_OR_RETURN(Rows holder,
                            Query(kLockHolderSql, {Value(kLockClassId), Value(kLockObjId)}));
    return holder.empty() ? std::string() : DescribeHolder(holder);
  }

  Status Unlock() override {
    if (!lock_held_) return Status::OK();
    STRATA_ASSIGN_OR_RETURN(
        Rows released,
        Query("SELECT pg_advisory_unlock(" + std::to_string(kLockKey) + ")", {}));
    lock_held_ = false;
    if (!SingleTrue(released)) {
      return Status(Code::kInternal, "the migration lock was not held by this session");
    }
    return Status::OK();
  }

  Result<std::vector<std::string>> ListTables() override {
    STRATA_ASSIGN_OR_RETURN(Rows rows, Query(kListTablesSql, {}));
    std::vector<std::string> names;
    for (const auto& row : rows.rows) names.push_back(row[0].text());
    return names;
  }

  Result<bool> TableExists(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(Rows rows,
                            Query(kTableExistsSql, {Value(std::string(table))}));
    return SingleTrue(rows);
  }

  Result<std::vector<std::string>> ListPrimaryKey(std::string_view table) override {
    return ColumnNames(kListPrimaryKeySql, table);
  }

  Result<std::vector<std::string>> ListGeneratedColumns(std::string_view table) override {
    static const std::string sql = ColumnsWhereSql("a.attgenerated <> ''");
    return ColumnNames(sql, table);
  }

  Result<std::vector<std::string>> ListNotNullColumns(std::string_view table) override {
    static const std::string sql = ColumnsWhereSql("a.attnotnull");
    return ColumnNames(sql, table);
  }

  Result<std::vector<std::string>> ListIdentityAlwaysColumns(std::string_view table) override {
    static const std::string sql = ColumnsWhereSql("a.attidentity = 'a'");
    return ColumnNames(sql, table);
  }

  Result<bool> HasBeforeUpdateTriggers(std::string_view table) override {
    // tgtype: 1 row, 2 before, 16 update.
    STRATA_ASSIGN_OR_RETURN(
        Rows rows,
        Query("SELECT count(*) FROM pg_catalog.pg_trigger t"
              " JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid"
              " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
              " WHERE n.nspname = current_schema() AND c.relname = $1 AND NOT t.tgisinternal"
              " AND t.tgenabled IN ('O', 'A') AND (t.tgtype::int & 19) = 19",
              {Value(std::string(table))}));
    return !rows.rows.empty() && rows.rows[0][0].ToString() != "0";
  }

  /// The first column of what `sql` reads with `table` as $1.
  Result<std::vector<std::string>> ColumnNames(std::string_view sql, std::string_view table) {
    STRATA_ASSIGN_OR_RETURN(Rows rows, Query(sql, {Value(std::string(table))}));
    std::vector<std::string> names;
    for (const auto& row : rows.rows) names.push_back(row[0].text());
    return names;
  }

  Result<std::map<std::string, std::string>> ListUserTypedColumns(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(Rows rows, Query(kListUserTypedColumnsSql, {Value(std::string(table))}));
    std::map<std::string, std::string> types;
    for (const auto& row : rows.rows) types[row[0].text()] = row[1].text();
    return types;
  }

  Result<std::vector<std::string>> ListInvalidIndexes() override {
    STRATA_ASSIGN_OR_RETURN(
        Rows rows,
        Query("SELECT c.relname FROM pg_catalog.pg_index x"
              " JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid"
              " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
              " WHERE n.nspname = current_schema() AND NOT x.indisvalid ORDER BY 1",
              {}));
    std::vector<std::string> names;
    for (const auto& row : rows.rows) names.push_back(row[0].text());
    return names;
  }

  Result<std::vector<std::vector<std::string>>> ListUniqueKeys(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(Rows rows, Query(kListUniqueKeysSql, {Value(std::string(table))}));
    return GroupKeys(rows);
  }

  Result<std::vector<std::string>> CascadingChildren(std::string_view table, RowChange change,
                                                     std::optional<bool> enforced,
                                                     const std::vector<std::string>* assigned) override {
    if (enforced == false) return std::vector<std::string>();
    const int64_t mode = change == RowChange::kTruncateCascade ? 2
                         : change == RowChange::kDelete        ? 1
                                                               : 0;
    const Value columns = assigned == nullptr ? Value() : Value(fmt::format("{}", fmt::join(*assigned, "\x1f")));
    STRATA_ASSIGN_OR_RETURN(Rows rows, Query(kCascadingChildrenSql, {Value(std::string(table)),
                                                                    Value(mode), columns}));
    std::vector<std::string> names;
    for (const auto& row : rows.rows) {
      if (row[1].ToString() == "t") {
        // Captures are of the managed schema's tables only.
        return Status(Code::kIrreversible,
                      fmt::format("rows of table {}.{}, in another schema than the one Strata "
                                  "manages, change through a foreign key action (ON {} CASCADE, "
                                  "SET NULL or SET DEFAULT) when rows of {} go or change; Strata "
                                  "captures and checks only the schema it manages, so it could "
                                  "not put them back",
                                  row[2].ToString(), row[0].ToString(),
                                  change == RowChange::kUpdate ? "UPDATE" : "DELETE", table));
      }
      names.push_back(row[0].text());
    }
    return names;
  }

  Result<std::vector<std::string>> ListColumns(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(Rows rows,
                            Query(kListColumnsSql, {Value(std::string(table))}));
    if (rows.empty()) {
      return Status(Code::kNotFound, "no table " + std::string(table) +
                                         " in the current schema of " + described_);
    }
    std::vector<std::string> names;
    for (const auto& row : rows.rows) {
      if (!row[0].is_null()) names.push_back(row[0].text());
    }
    return names;
  }

 private:
  static constexpr const char* kClockSql = "SELECT EXTRACT(EPOCH FROM pg_catalog.clock_timestamp())";
  static constexpr size_t kMaxWaiting = 256;

  /// A batch as one query; `timed`: SendBatch's, the clock read last.
  struct Pending {
    BatchQuery query;
    bool timed = false;
  };

  /// Waits for every batch sent: the connection is then free for another query.
  void Settle() {
    while (!wire_.empty() || !waiting_.empty()) Pump(/*wait=*/true);
  }

  /// Reads the answer to the query on the wire when it is in (with `wait`,
  /// waiting for it), then sends the batches waiting, together.
  void Pump(bool wait) {
    if (!wire_.empty()) {
      // Not in yet when libpq would wait for more (or the connection
      // failed: reading says how).
      if (!wait && Pq().PQconsumeInput(conn_) == 1 && Pq().PQisBusy(conn_) == 1) return;
      for (BatchResult& outcome : ReadWire()) {
        if (!outcome.status.ok()) stopped_ = true;
        outcomes_.push_back(std::move(outcome));
      }
    }
    if (waiting_.empty()) return;
    // After a failure, or once a signal asked Strata to stop, none starts.
    if (stopped_ || Interrupt::Requested()) {
      for (size_t i = 0; i < waiting_.size(); ++i) outcomes_.push_back(NotRunBatch());
      waiting_.clear();
      singly_ = 0;
      return;
    }
    std::vector<Pending> group;
    if (singly_ > 0) {
      --singly_;
      group.push_back(std::move(waiting_.front()));
      waiting_.erase(waiting_.begin());
    } else {
      group = std::move(waiting_);
      waiting_.clear();
    }
    const size_t count = group.size();
    if (Status sent = SendWire(std::move(group)); !sent.ok()) {
      outcomes_.push_back(BatchResult{sent, 0});
      for (size_t i = 1; i < count; ++i) outcomes_.push_back(NotRunBatch());
      stopped_ = true;
    }
  }

  /// Sends `group` as one query, timed batches after a reading of the clock.
  Status SendWire(std::vector<Pending> group) {
    wire_query_ = BatchQuery{};
    wire_clocked_ = group.front().timed;
    if (wire_clocked_) {
      wire_query_.starts.push_back(0);
      wire_query_.text = std::string(kClockSql) + "\n;";
    }
    for (const Pending& p : group) {
      for (size_t start : p.query.starts) wire_query_.starts.push_back(wire_query_.text.size() + start);
      wire_query_.text += p.query.text;
    }
    if (!Pq().PQsendQuery(conn_, wire_query_.text.c_str())) {
      return Status(Pq().PQstatus(conn_) == CONNECTION_BAD ? Code::kUnavailable : Code::kDatabase,
                    OneLine(Pq().PQerrorMessage(conn_)));
    }
    wire_ = std::move(group);
    return Status::OK();
  }

  /// Reads the answer to the query on the wire: the outcome of each of its
  /// batches, in order. After a syntax error, which the server finds before
  /// it runs any of the query, the batches go out again one per query and
  /// none is returned.
  std::vector<BatchResult> ReadWire() {
    std::vector<Pending> group = std::move(wire_);
    wire_.clear();
    std::vector<BatchResult> out;
    size_t b = 0, done = 0, all_done = 0;  // the batch being read, its statements done, all done
    bool clock_first = wire_clocked_;      // the clock read before the first batch is still to come
    double clock = -1;                     // the last reading
    Status failure;
    size_t failed_batch = 0, failed_at = 0;
    while (PGresult* raw = Pq().PQgetResult(conn_)) {
      ResultPtr result(raw);
      const ExecStatusType status = Pq().PQresultStatus(raw);
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
        if (!failure.ok() || b == group.size()) continue;
        const Pending& p = group[b];
        const size_t count = p.query.starts.size();
        double reading = -1;
        if ((clock_first || (p.timed && done + 1 == count)) && status == PGRES_TUPLES_OK &&
            Pq().PQntuples(raw) == 1) {
          reading = std::strtod(Pq().PQgetvalue(raw, 0, 0), nullptr);
        }
        if (clock_first) {
          clock_first = false;
          clock = reading;
          continue;
        }
        ++all_done;
        if (++done == count) {
          BatchResult ok;
          // The server goes from one batch of a query to the next.
          if (p.timed && clock >= 0 && reading >= 0) ok.server_ms = std::llround((reading - clock) * 1000);
          clock = reading;
          out.push_back(std::move(ok));
          ++b;
          done = 0;
        }
        continue;
      }
      if (!failure.ok()) continue;  // drain what the server still sends
      failed_batch = b;
      failed_at = done;
      if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
        // The COPY's own error result follows and is drained above.
        EndCopy(status);
        failure = Status(Code::kDatabase, kNoCopy);
        continue;
      }
      failure = Status(Code::kDatabase, DescribeError(raw, conn_));
      if (Pq().PQstatus(conn_) == CONNECTION_BAD) {
        failure = Status(Code::kUnavailable, "lost the connection to " + described_ + ": " + failure.message());
      }
      // A syntax error comes before anything ran: its position tells where.
      const char* position = Pq().PQresultErrorField(raw, PG_DIAG_STATEMENT_POSITION);
      if (all_done == 0 && position != nullptr) {
        size_t at = wire_query_.StatementAt(std::atoi(position));
        if (wire_clocked_) at = at == 0 ? 0 : at - 1;
        for (failed_batch = 0; failed_batch + 1 < group.size() &&
                               at >= group[failed_batch].query.starts.size();
             ++failed_batch) {
          at -= group[failed_batch].query.starts.size();
        }
        failed_at = at;
      }
    }
    if (failure.ok() && b < group.size()) {
      // Cannot happen for statements as the splitter makes them.
      failure = Status(Code::kInternal, fmt::format("the server answered {} of the statements of a batch", done));
      failed_batch = b;
      failed_at = done;
    }
    if (failure.ok()) return out;
    if (all_done == 0 && failed_batch > 0) {
      // Those before it did not run either: each goes again on its own.
      singly_ = group.size();
      waiting_.insert(waiting_.begin(), std::make_move_iterator(group.begin()),
                      std::make_move_iterator(group.end()));
      return {};
    }
    const Pending& p = group[failed_batch];
    size_t statements = p.query.starts.size();
    if (p.timed) {
      statements -= 1;
      // The clock is read after COMMIT: the batch ran.
      if (failed_at == statements && failure.code() != Code::kUnavailable) out.emplace_back();
    }
    if (out.size() == failed_batch) out.push_back(BatchResult{failure, std::min(failed_at, statements - 1)});
    while (out.size() < group.size()) out.push_back(NotRunBatch());
    return out;
  }

  std::vector<Pending> wire_;         // sent as one query, not yet answered
  BatchQuery wire_query_;             // that query
  bool wire_clocked_ = false;         // it reads the clock before its first batch
  std::vector<Pending> waiting_;      // to go out once the wire is free
  std::deque<BatchResult> outcomes_;  // read, not yet taken
  bool stopped_ = false;              // a batch failed: those sent after it do not run
  size_t singly_ = 0;                 // batches to send one per query

  /// Runs the read `read` under a savepoint when KeepTransactionOnReadErrors
  /// is on and a transaction is open: its failure is undone to there and
  /// the transaction goes on.
  template <typename Read>
  auto Kept(Read&& read) -> decltype(read()) {
    Settle();
    if (!keep_transaction_ || Pq().PQtransactionStatus(conn_) != PQTRANS_INTRANS) return read();
    keep_transaction_ = false;  // the read's inner calls and the savepoint's run as they are
    Status opened = Exec("SAVEPOINT strata_read");
    if (!opened.ok()) {
      keep_transaction_ = true;
      return opened;
    }
    auto out = read();
    Status closed = out.ok() ? Status::OK() : Exec("ROLLBACK TO SAVEPOINT strata_read");
    if (closed.ok()) closed = Exec("RELEASE SAVEPOINT strata_read");
    keep_transaction_ = true;
    if (!closed.ok()) return closed;
    return out;
  }

  /// Runs one statement, with parameters unless `params` is null, and returns
  /// its result or why it failed.
  Result<ResultPtr> Execute(std::string_view sql, const std::vector<Value>* params) {
    Settle();
    const std::string text(sql);
    ResultPtr result;
    if (params == nullptr) {
      result.reset(Pq().PQexec(conn_, text.c_str()));
    } else {
      BoundParams bound(*params);
      result.reset(Pq().PQexecParams(conn_, text.c_str(), bound.size(), bound.types(),
                                bound.values(), bound.lengths(), bound.formats(),
                                /*resultFormat=*/0));
    }
    const ExecStatusType status =
        result ? Pq().PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    switch (status) {
      case PGRES_COMMAND_OK:
      case PGRES_TUPLES_OK:
      case PGRES_EMPTY_QUERY:
        return result;
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH:
        AbandonCopy(status);
        return Status(Code::kDatabase, kNoCopy);
      default:
        break;
    }
    if (Pq().PQstatus(conn_) == CONNECTION_BAD) {
      return Status(Code::kUnavailable, "lost the connection to " + described_ + ": " +
                                            DescribeError(result.get(), conn_));
    }
    return Status(Code::kDatabase, DescribeError(result.get(), conn_));
  }

  /// Ends a COPY the statement started so the connection is usable again.
  void AbandonCopy(ExecStatusType status) {
    EndCopy(status);
    while (PGresult* rest = Pq().PQgetResult(conn_)) Pq().PQclear(rest);
  }

  /// Ends the data phase of a COPY; its result is still to be read.
  void EndCopy(ExecStatusType status) {
    if (status == PGRES_COPY_IN) {
      Pq().PQputCopyEnd(conn_, "strata does not supply COPY data");
    } else {
      char* buffer = nullptr;
      while (Pq().PQgetCopyData(conn_, &buffer, /*async=*/0) > 0) Pq().PQfreemem(buffer);
    }
  }

  /// `value` as an SQL literal. Like an unbound parameter, a quoted literal
  /// has no type until the statement gives it one; blobs are bytea.
  Result<std::string> Literal(const Value& value) {
    switch (value.type()) {
      case Value::Type::kNull: return std::string("NULL");
      case Value::Type::kInteger: return "'" + std::to_string(value.integer()) + "'";
      case Value::Type::kReal: return "'" + FormatReal(value.real()) + "'";
      case Value::Type::kText: {
        const std::string& text = value.text();
        char* quoted = Pq().PQescapeLiteral(conn_, text.c_str(), std::strlen(text.c_str()));
        if (quoted == nullptr) return Status(Code::kDatabase, OneLine(Pq().PQerrorMessage(conn_)));
        std::string out(quoted);
        Pq().PQfreemem(quoted);
        return out;
      }
      case Value::Type::kBlob: {
        const std::string& bytes = value.blob().bytes;
        size_t length = 0;
        unsigned char* escaped = Pq().PQescapeByteaConn(
            conn_, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &length);
        if (escaped == nullptr) return Status(Code::kDatabase, OneLine(Pq().PQerrorMessage(conn_)));
        std::string out = "'" + std::string(reinterpret_cast<const char*>(escaped)) + "'::bytea";
        Pq().PQfreemem(escaped);
        return out;
      }
    }
    return Status(Code::kInternal, "unknown value type");
  }

  /// "<application_name> (backend pid N, connected since T)".
  static std::string DescribeHolder(const Rows& holder) {
    if (holder.empty() || holder.rows[0].size() != 3) {
      return "another session (it seems to have just released the lock; try again)";
    }
    const std::vector<Value>& row = holder.rows[0];
    std::string name = row[0].is_null() || row[0].text().empty()
                           ? "a session without an application_name"
                           : row[0].text();
    std::string out = name + " (backend pid " +
                      (row[1].type() == Value::Type::kInteger
                           ? std::to_string(row[1].integer())
                           : std::string("?"));
    if (row[2].type() == Value::Type::kText) out += ", connected since " + row[2].text();
    return out + ")";
  }

  PGconn* conn_;
  bool owned_;
  int64_t known_timeout_ms_ = -1;  // statement_timeout in force, -1 when unknown
  int64_t known_lock_timeout_ms_ = -1;  // lock_timeout in force, -1 when unknown
  std::map<std::string, std::string> prepared_;  // QueryFixed: text -> statement name
  int prepared_count_ = 0;                        // names are never reused
  std::string described_;  // The URL, password redacted.
  bool lock_held_ = false;
  bool keep_transaction_ = false;  // KeepTransactionOnReadErrors
  PGcancel* cancel_;                       // what Interrupt cancels the running statement with
  std::optional<Interrupt::Hook> interrupt_;
};

/// What is wrong with the URL's `keyword=value`, or "" when nothing
/// libpq would refuse only once it connects (so as "cannot connect"): the
/// port and the settings that take one of a few words or a number.
std::string InvalidSetting(std::string_view keyword, std::string_view value) {
  static const std::map<std::string_view, std::vector<std::string_view>> kWords = {
      {"sslmode", {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}},
      {"gssencmode", {"disable", "prefer", "require"}},
      {"channel_binding", {"disable", "prefer", "require"}},
      {"target_session_attrs",
       {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}},
  };
  auto number = [](std::string_view v) {
    return !v.empty() && v.size() <= 9 &&
           std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (keyword == "port") {
    // One per host, separated by commas; an empty one means the default.
    for (std::string_view rest = value;;) {
      std::string_view port = rest.substr(0, rest.find(','));
      const bool valid = number(port) && std::stoi(std::string(port)) >= 1 &&
                         std::stoi(std::string(port)) <= 65535;
      if (!port.empty() && !valid) {
        return fmt::format("port '{}' is not a port number (1-65535)", port);
      }
      if (port.size() == rest.size()) return "";
      rest.remove_prefix(port.size() + 1);
    }
  }
  if (keyword == "connect_timeout" || keyword == "keepalives" || keyword == "keepalives_idle" ||
      keyword == "keepalives_interval" || keyword == "keepalives_count") {
    return number(value) ? "" : fmt::format("{} '{}' is not a whole number", keyword, value);
  }
  auto words = kWords.find(keyword);
  if (words == kWords.end() ||
      std::find(words->second.begin(), words->second.end(), value) != words->second.end()) {
    return "";
  }
  return fmt::format("{} '{}' is not one of {}", keyword, value, fmt::join(words->second, ", "));
}

}  // namespace

Status NoWorkingSchema() {
  return Status(Code::kInvalidArgument,
                "no schema to work in: the search_path of the database URL names no schema that "
                "exists yet, and Strata keeps strata_history, its captures and snapshots in the "
                "first one. Create that schema before the first run (a migration that creates it "
                "then says CREATE SCHEMA IF NOT EXISTS), or leave search_path out of the URL to "
                "work in the server's default schema");
}

/// A '/' in the password ends the host part for libpq, whose complaint
/// (about a port or host made of the password's pieces) would show them.
static Status SlashInPassword(const std::string& url) {
  return UrlPassword(url).find('/') == std::string_view::npos
             ? Status::OK()
             : Status(Code::kInvalidArgument,
                      "invalid PostgreSQL URL " + RedactUrl(url) +
                          ": the password holds a '/', which ends the host part of a URL; "
                          "write it as %2F");
}

Status CheckPostgresUrl(const std::string& given_url) {
  STRATA_ASSIGN_OR_RETURN(loaded_libpq, LoadLibPq());
  const std::string url = EncodeCredentials(given_url);
  const std::string shown = RedactUrl(url);
  char* parse_error = nullptr;
  PQconninfoOption* options = Pq().PQconninfoParse(url.c_str(), &parse_error);
  if (options == nullptr) {
    std::string why = parse_error ? OneLine(parse_error) : "out of memory";
    Pq().PQfreemem(parse_error);
    STRATA_RETURN_IF_ERROR(SlashInPassword(url));
    // dbmate's URLs name the schema with search_path=..., which libpq does
    // not take; its own way is a session option.
    std::string hint = why.find("\"search_path\"") == std::string::npos
                           ? ""
                           : "; choose the schema with options=-csearch_path%3Dname (what "
                             "dbmate writes as search_path=name)";
    return Status(Code::kInvalidArgument,
                  "invalid PostgreSQL URL " + shown + ": " +
                      RedactSecrets(Scrub(why, RawPasswords(given_url))) + hint);
  }
  std::string invalid;
  for (const PQconninfoOption* o = options; o->keyword != nullptr && invalid.empty(); ++o) {
    if (o->val != nullptr) invalid = InvalidSetting(o->keyword, o->val);
  }
  Pq().PQconninfoFree(options);
  if (!invalid.empty()) {
    STRATA_RETURN_IF_ERROR(SlashInPassword(url));
    return Status(Code::kInvalidArgument, "invalid PostgreSQL URL " + shown + ": " + invalid);
  }
  return Status::OK();
}

std::string DescribeError(const PGresult* result, const PGconn* conn) {
  const char* primary =
      result ? Pq().PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary ? std::string(primary)
                                : OneLine(result ? Pq().PQresultErrorMessage(result)
                                                 : Pq().PQerrorMessage(conn));
  if (message.empty()) message = "unknown error";
  if (result) {
    const char* state = Pq().PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (state) message += std::string(" (SQLSTATE ") + state + ")";
    if (const char* detail = Pq().PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) {
      message += std::string("; detail: ") + detail;
    }
    if (const char* hint = Pq().PQresultErrorField(result, PG_DIAG_MESSAGE_HINT)) {
      message += std::string("; hint: ") + hint;
    }
    if (state && std::string_view(state) == "42501" &&
        message.find("row-level security policy") != std::string::npos) {
      message +=
          "; Strata reads every row (row_security off, as pg_dump does), so that no check, saved "
          "copy or snapshot takes the rows a policy lets through for all of them: connect as a "
          "superuser, a role with BYPASSRLS, or the table's owner with the table not forcing row "
          "security (ALTER TABLE ... NO FORCE ROW LEVEL SECURITY)";
    }
  }
  return RedactSecrets(message);
}

Result<std::unique_ptr<Database>> OpenPostgres(const std::string& given_url) {
  STRATA_RETURN_IF_ERROR(CheckPostgresUrl(given_url));
  const std::string url = EncodeCredentials(given_url);
  const std::string shown = RedactUrl(url);
  // Keywords before "dbname" are defaults the URL may override; expand_dbname
  // makes libpq read the URL itself as the dbname value.
  const char* const keywords[] = {"connect_timeout", "client_encoding",
                                  "fallback_application_name", "dbname", nullptr};
  const char* const values[] = {"10", "UTF8", "strata", url.c_str(), nullptr};
  PGconn* conn = Pq().PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return Status(Code::kUnavailable, "cannot connect to " + shown + ": out of memory");
  }
  if (Pq().PQstatus(conn) != CONNECTION_OK) {
    std::string why = RedactSecrets(OneLine(Pq().PQerrorMessage(conn)));
    Pq().PQfinish(conn);
    STRATA_RETURN_IF_ERROR(SlashInPassword(url));
    return Status(Code::kUnavailable, "cannot connect to " + shown + ": " + why);
  }
  Pq().PQsetNoticeProcessor(conn, DiscardNotice, nullptr);
  // A SQL_ASCII database may hold any bytes, which the server refuses to
  // send as UTF8 ("invalid byte sequence"): read them as they are, as
  // pg_dump does, so that fingerprints and captures see every row.
  if (const char* encoding = Pq().PQparameterStatus(conn, "server_encoding");
      encoding != nullptr && std::string_view(encoding) == "SQL_ASCII") {
    PGresult* set = Pq().PQexec(conn, "SET client_encoding = 'SQL_ASCII'");
    Pq().PQclear(set);
  }
  // Row-level security off, as pg_dump reads: a table whose policies apply
  // to this role (FORCE ROW LEVEL SECURITY, or not its owner) makes a read
  // of it fail instead of showing some rows, so that a capture, a check or a
  // fingerprint never takes the rows it sees for all of them. A statement
  // whose client was killed is cancelled within a quarter second instead of
  // running, and perhaps committing, on its own.
  PGresult* set = Pq().PQexec(conn, Pq().PQserverVersion(conn) >= 140000
                                        ? "SET row_security = off; "
                                          "SET client_connection_check_interval = 250"
                                        : "SET row_security = off");
  Pq().PQclear(set);
  return std::unique_ptr<Database>(std::make_unique<PostgresDatabase>(conn, shown));
}

Result<std::unique_ptr<Database>> BorrowPostgres(PGconn* conn, std::string described) {
  STRATA_ASSIGN_OR_RETURN(loaded_libpq, LoadLibPq());
  return std::unique_ptr<Database>(
      std::make_unique<PostgresDatabase>(conn, std::move(described), /*owned=*/false));
}

}  // namespace strata
