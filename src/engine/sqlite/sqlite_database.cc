#include "engine/sqlite/sqlite_database.h"

#include <sqlite3.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "engine/url.h"
#include "sql/classify.h"
#include "sql/lexer.h"
#include "util/interrupt.h"
#include "util/text.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBusyTimeoutMs = 5000;
// How much of a database file reads map (PRAGMA mmap_size): enough for
// the history of thousands of migrations. Mapped pages count as the
// process's resident memory, so a snapshot or fingerprint reading a whole
// 1 GB file through a larger mapping showed 1 GB resident (page cache, but
// what `top` and a memory limit see); beyond this, reads copy.
constexpr int64_t kMmapBytes = int64_t{16} << 20;

// Rewrites the `$N` placeholders the seam uses into SQLite's `?N`, leaving
// quoted text alone.
std::string RewritePlaceholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '$' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      c = '?';
    }
    out += c;
  }
  return out;
}

bool ProcessAlive(int pid) {
  if (pid <= 0) return false;
  return kill(pid, 0) == 0 || errno == EPERM;
}

class SqliteDatabase : public Database {
 public:
  SqliteDatabase(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    sqlite3_progress_handler(db_, 1000, &SqliteDatabase::OnProgress, this);
    // Safe from another thread; a statement started after the one it
    // stops is not stopped.
    interrupt_.emplace([db] { sqlite3_interrupt(db); });
  }
  ~SqliteDatabase() override {
    interrupt_.reset();  // before the connection goes
    if (holds_lock_) Unlock().IgnoreError();
    sqlite3_close_v2(db_);
  }

  Engine engine() const override { return Engine::kSqlite; }
  StepAtomicity step_atomicity() const override { return StepAtomicity::kSavepoint; }
  std::string Describe() const override { return "sqlite:" + path_; }

  Status Exec(std::string_view sql) override {
    // Strata's own two statements (PauseTriggersSql), looked for only when
    // the text starts as they do: every statement of a run comes here.
    if (sql.starts_with(kMarkerHead)) {
      if (auto table = MarkerArgument(sql, kPauseTriggers)) return PauseTriggers(*table);
      if (auto table = MarkerArgument(sql, kResumeTriggers)) return ResumeTriggers(*table);
    }
    StartClock();
    const char* tail = sql.data();
    const char* end = sql.data() + sql.size();
    while (tail < end) {
      sqlite3_stmt* stmt = nullptr;
      const char* next = nullptr;
      int rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &stmt, &next);
      if (rc != SQLITE_OK) return Error(rc);
      if (stmt == nullptr) break;  // only whitespace or comments were left
      if (sqlite3_bind_parameter_count(stmt) > 0) {
        // Nothing binds it here: SQLite would run the statement with NULL in
        // its place ("$$x$$" written for a PostgreSQL string, a ":name" left
        // from application code), and the migration would store NULLs.
        const char* named = sqlite3_bind_parameter_name(stmt, 1);  // the statement's own
        const std::string name = named != nullptr ? named : "?";
        sqlite3_finalize(stmt);
        return Status(Code::kInvalidArgument,
                      fmt::format("the statement has a parameter ({}) that nothing binds; SQLite "
                                  "would use NULL for it. Write the value itself (a string in "
                                  "single quotes)",
                                  name));
      }
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      }
      sqlite3_finalize(stmt);
      if (rc != SQLITE_DONE) return Error(rc);
      tail = next;
    }
    return Status::OK();
  }

  /// The statement's columns, read once it has been stepped: a step that
  /// finds the schema changed by another connection compiles the statement
  /// again, and `SELECT *` may then have other columns than at prepare.
  static int ColumnsAfterFirstStep(sqlite3_stmt* stmt) { return sqlite3_column_count(stmt); }

  Result<Rows> Query(std::string_view sql, const std::vector<Value>& params = {}) override {
    StartClock();
    std::string text = params.empty() ? std::string(sql) : RewritePlaceholders(sql);
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, text.data(), static_cast<int>(text.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(rc);
    if (stmt == nullptr) return Rows{};
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, sqlite3_finalize);
    for (size_t i = 0; i < params.size(); ++i) {
      rc = Bind(stmt, static_cast<int>(i + 1), params[i]);
      if (rc != SQLITE_OK) return Error(rc);
    }
    Rows rows;
    rc = sqlite3_step(stmt);
    const int ncol = ColumnsAfterFirstStep(stmt);
    for (int c = 0; c < ncol; ++c) rows.columns.emplace_back(sqlite3_column_name(stmt, c));
    for (; rc == SQLITE_ROW; rc = sqlite3_step(stmt)) {
      std::vector<Value>& row = rows.rows.emplace_back();
      row.reserve(ncol);
      for (int c = 0; c < ncol; ++c) row.push_back(ToValue(Cell(stmt, c)));
    }
    if (rc != SQLITE_DONE) return Error(rc);
    return rows;
  }

  Status ForEachRow(std::string_view sql, const std::vector<Value>& params,
                    const std::function<Status(std::span<const CellView>)>& on_row) override {
    StartClock();
    std::string text = params.empty() ? std::string(sql) : RewritePlaceholders(sql);
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, text.data(), static_cast<int>(text.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(rc);
    if (stmt == nullptr) return Status::OK();
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, sqlite3_finalize);
    for (size_t i = 0; i < params.size(); ++i) {
      rc = Bind(stmt, static_cast<int>(i + 1), params[i]);
      if (rc != SQLITE_OK) return Error(rc);
    }
    rc = sqlite3_step(stmt);
    std::vector<CellView> cells(ColumnsAfterFirstStep(stmt));
    for (; rc == SQLITE_ROW; rc = sqlite3_step(stmt)) {
      for (size_t c = 0; c < cells.size(); ++c) cells[c] = Cell(stmt, static_cast<int>(c));
      STRATA_RETURN_IF_ERROR(on_row(std::span<const CellView>(cells)));
    }
    if (rc != SQLITE_DONE) return Error(rc);
    return Status::OK();
  }

  Status SetStatementTimeout(std::chrono::milliseconds timeout) override {
    timeout_ = timeout;
    return Status::OK();
  }

  Status SetLockTimeout(std::chrono::milliseconds timeout) override {
    if (timeout.count() < 0) return Status(Code::kInvalidArgument, "a lock timeout cannot be negative");
    // Another connection's write lock is waited for as the busy timeout says.
    sqlite3_busy_timeout(db_, timeout.count() > 0
                                  ? static_cast<int>(std::min<int64_t>(timeout.count(), INT_MAX))
                                  : kBusyTimeoutMs);
    return Status::OK();
  }

  Status Begin() override { return Exec("BEGIN IMMEDIATE"); }
  Status Commit() override { return Exec("COMMIT"); }
  Status Rollback() override { return Exec("ROLLBACK"); }
  bool InTransaction() const override { return sqlite3_get_autocommit(db_) == 0; }

  Result<LockAttempt> TryLock(const LockOwner& owner) override {
    // A try does not wait for a busy writer: the caller's loop waits, up to
    // its own deadline (--lock-timeout), which may be shorter than ours.
    sqlite3_busy_timeout(db_, 0);
    Result<LockAttempt> attempt = TryLockNow(owner);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    if (!attempt.ok() && attempt.status().code() == Code::kLocked) return BusyWriter();
    return attempt;
  }

  static LockAttempt BusyWriter() {
    return LockAttempt{false,
                       "another connection that is writing to the database (a running migration "
                       "or an application's transaction) or, outside WAL mode, reading it in a "
                       "transaction (which keeps a writer from committing)"};
  }

  Result<LockAttempt> TryLockNow(const LockOwner& owner) {
    // Creating the table needs the write lock, which a running migration
    // holds for its whole run: only create it when it is missing.
    STRATA_ASSIGN_OR_RETURN(bool exists, TableExists("strata_lock"));
    if (!exists) {
      STRATA_RETURN_IF_ERROR(Exec(
          "CREATE TABLE IF NOT EXISTS strata_lock (id INTEGER PRIMARY KEY CHECK (id = 1), "
          "actor TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, since TEXT NOT NULL)"));
    }
    // Look before taking the write lock, for the same reason.
    STRATA_ASSIGN_OR_RETURN(LockAttempt held, CurrentHolder(owner));
    if (!held.holder.empty()) return held;
    Status begun = Begin();
    if (!begun.ok() && begun.code() == Code::kLocked) return BusyWriter();
    STRATA_RETURN_IF_ERROR(begun);
    Status s = [&]() -> Status {
      STRATA_ASSIGN_OR_RETURN(LockAttempt again, CurrentHolder(owner));
      if (!again.holder.empty()) return Status(Code::kLocked, again.holder);
      return Query("INSERT OR REPLACE INTO strata_lock (id, actor, host, pid, since) "
                   "VALUES (1, $1, $2, $3, $4)",
                   {owner.actor, owner.host, static_cast<int64_t>(owner.pid), owner.since})
          .status();
    }();
    if (!s.ok()) {
      Rollback().IgnoreError();
      if (s.code() == Code::kLocked) return LockAttempt{false, s.message()};
      return s;
    }
    // A reader's open transaction keeps the commit from finishing (rollback
    // journal): the transaction is ended, or the next try could not begin.
    if (Status committed = Commit(); !committed.ok()) {
      Rollback().IgnoreError();
      if (committed.code() == Code::kLocked) return BusyWriter();
      return committed;
    }
    holds_lock_ = true;
    owner_ = owner;
    return LockAttempt{true, ""};
  }

  Result<std::string> OutsideSchema(std::string_view schema, std::string_view /*table*/) override {
    // temp, or an attached database.
    if (schema.empty() || AsciiLower(schema) == "main") return std::string();
    return std::string(schema);
  }

  Result<std::vector<TriggerSource>> TriggersOn(std::string_view name) override {
    STRATA_ASSIGN_OR_RETURN(Rows rows, Query("SELECT sql FROM sqlite_schema WHERE type = 'trigger' "
                                             "AND tbl_name = $1 COLLATE NOCASE ORDER BY name",
                                             {std::string(name)}));
    std::vector<TriggerSource> out;
    for (const auto& row : rows.rows) out.push_back({0, row[0].ToString(), {}});
    return out;
  }

  Result<KeyCounterSql> KeyCounter(std::string_view now, std::string_view before,
                                   std::string_view saved) override {
    STRATA_ASSIGN_OR_RETURN(Rows autoincrement,
                            Query("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name COLLATE NOCASE IN "
                                  "($1, $2) AND sql LIKE '%AUTOINCREMENT%'",
                                  {std::string(now), std::string(before)}));
    STRATA_ASSIGN_OR_RETURN(bool counters, TableExists("sqlite_sequence"));
    if (autoincrement.empty() || !counters) return KeyCounterSql{};
    const std::string name = SqlLiteral(before), into = QuoteIdent(saved);
    const std::string mine = "name = " + name + " COLLATE NOCASE";
    KeyCounterSql sql;
    // A renamed table's counter went with it (ALTER TABLE .. RENAME updates
    // sqlite_sequence): read under the name of the moment. (Captures may be
    // planned before the statements before them ran: either name tells.)
    sql.save = {fmt::format("CREATE TABLE {} AS SELECT seq FROM sqlite_sequence WHERE name = {} "
                            "COLLATE NOCASE",
                            into, SqlLiteral(now))};
    // Never below what the restored rows took: max() of the two.
    sql.restore = {
        fmt::format("INSERT INTO sqlite_sequence (name, seq) SELECT {}, 0 FROM {} WHERE NOT EXISTS "
                    "(SELECT 1 FROM sqlite_sequence WHERE {})",
                    name, into, mine),
        fmt::format("UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM {})) WHERE {} AND "
                    "EXISTS (SELECT 1 FROM {})",
                    into, mine, into),
        "DROP TABLE " + into};
    return sql;
  }

  Result<std::string> LockHolder() override {
    STRATA_ASSIGN_OR_RETURN(bool exists, TableExists("strata_lock"));
    if (!exists || holds_lock_) return std::string();
    LockOwner me;
    char host[256] = {0};
    if (gethostname(host, sizeof(host) - 1) == 0) me.host = host;
    me.pid = static_cast<int>(getpid());
    STRATA_ASSIGN_OR_RETURN(LockAttempt held, CurrentHolder(me));
    return held.holder;
  }

  Status Unlock() override {
    if (!holds_lock_) return Status::OK();
    holds_lock_ = false;
    return Query("DELETE FROM strata_lock WHERE host = $1 AND pid = $2",
                 {owner_.host, static_cast<int64_t>(owner_.pid)})
        .status();
  }

  Result<std::vector<std::string>> ListTables() override {
    // A virtual table's shadow tables (an FTS5 index's _data, _idx, ...) belong to
    // its module: their bytes differ between equal contents, and writing them
    // directly corrupts the virtual table. The virtual table itself is listed.
    STRATA_ASSIGN_OR_RETURN(Rows rows, Query("SELECT name FROM pragma_table_list "
                                             "WHERE schema = 'main' AND type IN ('table', 'virtual') "
                                             "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                                             "AND name NOT LIKE 'strata\\_%' ESCAPE '\\' "
                                             "ORDER BY name"));
    std::vector<std::string> names;
    for (auto& row : rows.rows) names.push_back(row[0].text());
    return names;
  }

  Result<bool> TableExists(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, Query("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = $1 "
                         "COLLATE NOCASE",  // SQLite's names ignore ASCII case
                         {std::string(table)}));
    return !rows.empty();
  }

  Result<std::vector<std::string>> ListColumns(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(Rows rows,
                            Query("SELECT name FROM pragma_table_info($1) ORDER BY cid",
                                  {std::string(table)}));
    std::vector<std::string> names;
    for (auto& row : rows.rows) names.push_back(row[0].text());
    return names;
  }

  Result<std::vector<std::string>> ListPrimaryKey(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, Query("SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk",
                         {std::string(table)}));
    std::vector<std::string> names;
    for (auto& row : rows.rows) names.push_back(row[0].text());
    return names;
  }

  Result<std::vector<std::string>> ListGeneratedColumns(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(Rows rows, Query("SELECT name FROM pragma_table_xinfo($1) "
                                             "WHERE hidden IN (2, 3) ORDER BY cid",
                                             {std::string(table)}));
    std::vector<std::string> names;
    for (auto& row : rows.rows) names.push_back(row[0].text());
    return names;
  }

  Result<std::vector<std::vector<std::string>>> ListUniqueKeys(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, Query("SELECT il.name, ii.name FROM pragma_index_list($1) il, "
                         "pragma_index_info(il.name) ii WHERE il.\"unique\" AND il.origin <> 'pk' "
                         "AND NOT il.partial ORDER BY il.name, ii.seqno",
                         {std::string(table)}));
    return GroupKeys(rows);
  }

  Result<std::vector<std::string>> CascadingChildren(std::string_view table, RowChange change,
                                                     std::optional<bool> enforced,
                                                     const std::vector<std::string>* assigned) override {
    // SQLite has no TRUNCATE; DELETE FROM acts as any delete.
    const bool deletes = change != RowChange::kUpdate;
    // Foreign keys act only on a connection that turned them on.
    if (!enforced) {
      STRATA_ASSIGN_OR_RETURN(Rows on, Query("PRAGMA foreign_keys"));
      enforced = !on.empty() && on.rows[0][0].ToInt() != 0;
    }
    if (!*enforced) return std::vector<std::string>();
    // The referenced column: "to", or the parent's primary key when the
    // foreign key names none.
    STRATA_ASSIGN_OR_RETURN(
        Rows rows,
        Query(fmt::format("SELECT m.name, coalesce(f.\"to\", (SELECT p.name FROM pragma_table_info($1) p "
                          "WHERE p.pk = f.seq + 1)) FROM sqlite_schema m, "
                          "pragma_foreign_key_list(m.name) f WHERE m.type = 'table' "
                          "AND f.\"table\" = $1 COLLATE NOCASE AND f.{} IN "
                          "('CASCADE', 'SET NULL', 'SET DEFAULT') ORDER BY 1",
                          deletes ? "on_delete" : "on_update"),
              {std::string(table)}));
    std::vector<std::string> names;
    for (auto& row : rows.rows) {
      const bool acts = assigned == nullptr || row[1].is_null() ||
                        std::any_of(assigned->begin(), assigned->end(), [&](const std::string& c) {
                          return sql::NameKey(c, sql::Dialect::kSqlite) ==
                                 sql::NameKey(row[1].text(), sql::Dialect::kSqlite);
                        });
      if (acts && std::find(names.begin(), names.end(), row[0].text()) == names.end()) {
        names.push_back(row[0].text());
      }
    }
    return names;
  }

  Result<bool> IsView(std::string_view name) override {
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, Query("SELECT 1 FROM sqlite_schema WHERE type = 'view' AND name = $1 "
                         "COLLATE NOCASE",
                         {std::string(name)}));
    return !rows.empty();
  }

  Result<bool> ReplacesOnConflict(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, Query("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = $1 "
                         "COLLATE NOCASE",
                         {std::string(table)}));
    if (rows.empty() || rows.rows[0][0].is_null()) return false;
    // Only a column or table constraint can carry the clause (an index
    // cannot), and only UNIQUE and PRIMARY KEY delete rows with it; a NOT
    // NULL one puts the default in instead, counted too (it costs a capture).
    auto tokens = sql::Tokenize(rows.rows[0][0].text(), sql::Dialect::kSqlite);
    if (!tokens.ok()) return true;  // unknown: capture as if it did
    const auto& t = *tokens;
    for (size_t i = 0; i + 2 < t.size(); ++i) {
      if (t[i].IsWord("on") && t[i + 1].IsWord("conflict") && t[i + 2].IsWord("replace")) return true;
    }
    return false;
  }

  std::optional<bool> ForeignKeysAfter(std::string_view statement) const override {
    // PRAGMA [main.]foreign_keys = v, or PRAGMA foreign_keys(v).
    std::string text;
    for (char c : statement) {
      if (!std::isspace(static_cast<unsigned char>(c)) && c != '"' && c != '\'' && c != ';') {
        text += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    for (std::string_view head : {"pragmaforeign_keys", "pragmamain.foreign_keys"}) {
      if (text.rfind(head, 0) != 0) continue;
      std::string value = text.substr(head.size());
      if (value.empty()) return std::nullopt;  // a query of it
      if (value.front() == '=') {
        value.erase(0, 1);
      } else if (value.front() == '(' && value.back() == ')') {
        value = value.substr(1, value.size() - 2);
      }
      if (value == "on" || value == "1" || value == "true" || value == "yes") return true;
      if (value == "off" || value == "0" || value == "false" || value == "no") return false;
    }
    return std::nullopt;
  }

  const std::vector<std::string>& ResetSessionSql() const override { return session_defaults_; }

  /// The pragmas ResetSession puts back, as they are now.
  Status RememberSession() {
    session_defaults_.clear();
    // The connection's settings a migration may change, that change what
    // later statements do (a CHECK not enforced, a write refused).
    for (const char* pragma : {"foreign_keys", "legacy_alter_table", "recursive_triggers",
                               "ignore_check_constraints", "defer_foreign_keys", "query_only",
                               "reverse_unordered_selects", "trusted_schema"}) {
      STRATA_ASSIGN_OR_RETURN(Rows rows, Query(fmt::format("PRAGMA {}", pragma)));
      if (rows.empty()) continue;
      session_defaults_.push_back(fmt::format("PRAGMA {} = {}", pragma, rows.rows[0][0].ToInt()));
    }
    return Status::OK();
  }

  // SQLite cannot turn a trigger off. These two statements, which only
  // this connection understands (Exec), drop the table's triggers that
  // rewrite rows and create them again from their text, inside the
  // rollback's transaction: a failure in between takes the drop back with
  // everything else.
  TriggerPauseSql PauseTriggersSql(std::string_view table) const override {
    return {{fmt::format("SELECT {}({})", kPauseTriggers, SqlLiteral(table))},
            {fmt::format("SELECT {}({})", kResumeTriggers, SqlLiteral(table))}};
  }

  // An UPDATE trigger of SQLite's that rewrites rows may write columns the
  // UPDATE does not assign (an AFTER UPDATE that sets updated_at), as
  // PostgreSQL's BEFORE UPDATE triggers do.
  Result<bool> HasBeforeUpdateTriggers(std::string_view table) override {
    STRATA_ASSIGN_OR_RETURN(std::vector<TriggerSource> triggers, TriggersOn(table));
    for (const TriggerSource& t : triggers) {
      const sql::StatementInfo info = sql::Classify(t.definition, sql::Dialect::kSqlite);
      if ((info.trigger_events & kOnUpdate) != 0 && Rewrites(info)) return true;
    }
    return false;
  }

  std::string_view RowIdColumn() const override { return "rowid"; }
  std::string_view SchemaCookieSql() const override {
    return "(SELECT schema_version FROM pragma_schema_version)";
  }

 private:
  static constexpr std::string_view kMarkerHead = "SELECT strata_";
  static constexpr std::string_view kPauseTriggers = "strata_pause_triggers";
  static constexpr std::string_view kResumeTriggers = "strata_resume_triggers";

  /// The table named by `SELECT marker('table')`, as PauseTriggersSql
  /// writes it; nullopt for any other statement.
  static std::optional<std::string> MarkerArgument(std::string_view sql, std::string_view marker) {
    const std::string head = fmt::format("SELECT {}(", marker);
    if (!sql.starts_with(head) || !sql.ends_with(")")) return std::nullopt;
    auto literal = sql::Tokenize(sql.substr(head.size(), sql.size() - head.size() - 1), sql::Dialect::kSqlite);
    if (!literal.ok() || literal->size() != 1 || literal->front().kind != sql::TokenKind::kString) {
      return std::nullopt;
    }
    // The last name of "schema"."table".
    const std::string table = sql::IdentifierName(literal->front(), sql::Dialect::kSqlite);
    auto names = sql::Tokenize(table, sql::Dialect::kSqlite);
    if (!names.ok() || names->empty()) return std::nullopt;
    return sql::IdentifierName(names->back(), sql::Dialect::kSqlite);
  }

  /// Whether a trigger rewrites rows (a stamp, a counter, a cascade): one
  /// that only inserts (an audit trail, a full-text index kept in step with
  /// the table, which is told of each change by an INSERT of a command)
  /// fires while captured data goes back, as it fired for the change.
  static bool Rewrites(const sql::StatementInfo& trigger) {
    return !trigger.trigger_rewrites.empty() || trigger.kind != sql::StatementKind::kCreateTrigger;
  }

  Status PauseTriggers(const std::string& table) {
    // Outside a transaction (a no-transaction rollback) a failure before
    // the resume would lose the triggers: they fire instead.
    if (!InTransaction()) return Status::OK();
    STRATA_ASSIGN_OR_RETURN(Rows rows, Query("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' "
                                             "AND tbl_name = $1 COLLATE NOCASE ORDER BY rowid",
                                             {table}));
    std::vector<std::string>& paused = paused_triggers_[AsciiLower(table)];
    paused.clear();
    for (const auto& row : rows.rows) {
      if (!Rewrites(sql::Classify(row[1].ToString(), sql::Dialect::kSqlite))) continue;
      STRATA_RETURN_IF_ERROR(Exec("DROP TRIGGER " + QuoteIdent(row[0].ToString())));
      paused.push_back(row[1].ToString());
    }
    return Status::OK();
  }

  Status ResumeTriggers(const std::string& table) {
    auto it = paused_triggers_.find(AsciiLower(table));
    if (it == paused_triggers_.end()) return Status::OK();
    std::vector<std::string> paused = std::move(it->second);
    paused_triggers_.erase(it);
    for (const std::string& sql : paused) STRATA_RETURN_IF_ERROR(Exec(sql));
    return Status::OK();
  }

  // Finds a live holder other than `me`; a row whose process is gone from
  // this host is stale and does not count.
  Result<LockAttempt> CurrentHolder(const LockOwner& me) {
    STRATA_ASSIGN_OR_RETURN(Rows rows,
                            Query("SELECT actor, host, pid, since FROM strata_lock WHERE id = 1"));
    if (rows.empty()) return LockAttempt{};
    const auto& r = rows.rows[0];
    std::string host = r[1].ToString();
    int pid = static_cast<int>(r[2].ToInt());
    if (host == me.host && (pid == me.pid || !ProcessAlive(pid))) return LockAttempt{};
    return LockAttempt{false, fmt::format("{}@{} pid {} since {}", r[0].ToString(), host, pid,
                                          r[3].ToString())};
  }

  static int Bind(sqlite3_stmt* stmt, int index, const Value& v) {
    switch (v.type()) {
      case Value::Type::kNull: return sqlite3_bind_null(stmt, index);
      case Value::Type::kInteger: return sqlite3_bind_int64(stmt, index, v.integer());
      case Value::Type::kReal: return sqlite3_bind_double(stmt, index, v.real());
      case Value::Type::kText:
        return sqlite3_bind_text64(stmt, index, v.text().data(), v.text().size(),
                                   SQLITE_TRANSIENT, SQLITE_UTF8);
      case Value::Type::kBlob:
        return sqlite3_bind_blob64(stmt, index, v.blob().bytes.data(), v.blob().bytes.size(),
                                   SQLITE_TRANSIENT);
    }
    return SQLITE_MISUSE;
  }

  /// Column `c` of the current row, borrowed until the next step.
  static CellView Cell(sqlite3_stmt* stmt, int c) {
    switch (sqlite3_column_type(stmt, c)) {
      case SQLITE_INTEGER: return {Value::Type::kInteger, sqlite3_column_int64(stmt, c), 0, {}};
      case SQLITE_FLOAT: return {Value::Type::kReal, 0, sqlite3_column_double(stmt, c), {}};
      case SQLITE_TEXT: {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        return {Value::Type::kText, 0, 0, std::string_view(p, sqlite3_column_bytes(stmt, c))};
      }
      case SQLITE_BLOB: {
        auto p = static_cast<const char*>(sqlite3_column_blob(stmt, c));
        int n = sqlite3_column_bytes(stmt, c);
        return {Value::Type::kBlob, 0, 0, n > 0 ? std::string_view(p, n) : std::string_view()};
      }
      default: return {};
    }
  }

  void StartClock() {
    deadline_ = timeout_.count() > 0 ? Clock::now() + timeout_ : Clock::time_point::max();
  }

  static int OnProgress(void* self) {
    auto* db = static_cast<SqliteDatabase*>(self);
    return Clock::now() > db->deadline_ ? 1 : 0;
  }

  Status Error(int rc) const {
    if (rc == SQLITE_INTERRUPT && Interrupt::Requested()) {
      return Status(Code::kDatabase, Interrupt::Describe());
    }
    if (rc == SQLITE_INTERRUPT && timeout_.count() > 0) {
      return Status(Code::kDatabase,
                    fmt::format("statement exceeded its timeout of {} ms and was interrupted",
                                timeout_.count()));
    }
    if ((rc & 0xff) == SQLITE_READONLY) {
      return Status(Code::kUnavailable,
                    fmt::format("cannot write to SQLite database '{}': {} (check the permissions "
                                "of the file and of its directory, where the journal goes)",
                                path_, sqlite3_errmsg(db_)));
    }
    if (sqlite3_extended_errcode(db_) == SQLITE_CORRUPT_VTAB) {
      // A virtual table's own check, not the file: an FTS5 table over
      // content rows it was never given (created without a 'rebuild').
      return Status(Code::kDatabase,
                    fmt::format("{} (SQLITE_CORRUPT_VTAB): a virtual table's index is out of step "
                                "with its content, say an FTS5 table created over rows it was never "
                                "given (the file itself is sound if `PRAGMA integrity_check` says "
                                "ok). Rebuild the index (INSERT INTO fts(fts) VALUES ('rebuild'), "
                                "fts being the virtual table) before or in the migration",
                                sqlite3_errmsg(db_)));
    }
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
      // Damage, not a statement the engine rejected: a restored snapshot
      // whose chunks hash right but do not make a database says so (exit 6).
      return Status(Code::kVerifyFailed,
                    fmt::format("{}: '{}' is damaged (`sqlite3 '{}' 'PRAGMA integrity_check'` "
                                "says where)",
                                sqlite3_errmsg(db_), path_, path_));
    }
    if ((rc & 0xff) == SQLITE_BUSY) {
      return Status(Code::kLocked,
                    fmt::format("{} (another connection is writing to {}: a running migration or "
                                "an application's transaction; or, unless the file is in WAL "
                                "mode, reading it in a transaction, which keeps a commit from "
                                "finishing; waited {} ms)",
                                sqlite3_errmsg(db_), path_, kBusyTimeoutMs));
    }
    return Status(Code::kDatabase, sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  std::vector<std::string> session_defaults_;  // see RememberSession
  std::string path_;
  std::chrono::milliseconds timeout_{0};
  Clock::time_point deadline_ = Clock::time_point::max();
  bool holds_lock_ = false;
  LockOwner owner_;
  std::optional<Interrupt::Hook> interrupt_;  // stops the running statement
  // By lower-cased table: the CREATE TRIGGER texts PauseTriggers dropped.
  std::map<std::string, std::vector<std::string>> paused_triggers_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path, bool create) {
  // SQLite says only that it cannot open one (and, without `create`, that
  // reads as a file that is not there).
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status(Code::kUnavailable,
                  fmt::format("cannot open SQLite database '{}': it is a directory; name the "
                              "database file in it (sqlite:{})",
                              path, (std::filesystem::path(path) / "app.db").lexically_normal().string()));
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                               SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc == SQLITE_CANTOPEN && !create) {
    sqlite3_close_v2(db);
    return SqliteFileMissingError(path);
  }
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Status(Code::kUnavailable,
                  fmt::format("cannot open SQLite database '{}': {} (does its directory exist "
                              "and is it writable?)",
                              path, msg));
  }
  auto out = std::make_unique<SqliteDatabase>(db, path);
  // Opening is lazy in SQLite; touch the file so a bad path fails here.
  // Busy means another connection is writing to a database that is there:
  // the probe does not wait; the lock, or the statement that needs the
  // database, waits or says so.
  sqlite3_busy_timeout(db, 0);
  // Pages of the file's first kMmapBytes are read through a mapping rather
  // than copied into the heap: a process's fresh heap pages each cost a
  // page fault, and on virtual machines that is most of the time
  // `strata status` takes.
  // Writes still go through write(), so a failing disk fails a statement
  // instead of faulting the process mid-transaction. Only speed depends on
  // the setting.
  out->Exec(fmt::format("PRAGMA mmap_size = {}", kMmapBytes)).IgnoreError();
  Status probe = out->Exec("SELECT count(*) FROM sqlite_schema");
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  if (!probe.ok() && probe.code() != Code::kLocked) {
    return Status(Code::kUnavailable,
                  fmt::format("cannot open SQLite database '{}': {}", path, probe.message()));
  }
  if (probe.ok()) {
    Status s = out->RememberSession();
    if (!s.ok()) return s;
  }
  return std::unique_ptr<Database>(std::move(out));
}

}  // namespace strata
