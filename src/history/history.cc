#include "history/history.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace strata {
namespace {

// The columns of strata_history, in the order rows are read. Columns after
// `error` came later: Ensure() adds them to a table an older Strata created.
struct ColumnDef {
  const char* name;
  const char* type;
  bool script;  // large text, left out of List(false)
};
constexpr ColumnDef kColumns[] = {
    {"version", "BIGINT PRIMARY KEY", false},
    {"version_text", "TEXT NOT NULL", false},
    {"name", "TEXT NOT NULL", false},
    {"checksum", "TEXT NOT NULL", false},
    {"up_script", "TEXT NOT NULL", true},
    {"down_script", "TEXT NOT NULL", true},
    {"down_source", "TEXT NOT NULL", false},
    {"applied_at", "TEXT NOT NULL", false},
    {"applied_by", "TEXT NOT NULL", false},
    {"duration_ms", "BIGINT NOT NULL", false},
    {"status", "TEXT NOT NULL", false},
    {"irreversible", "INTEGER NOT NULL", false},
    {"no_transaction", "INTEGER NOT NULL", false},
    {"error", "TEXT NOT NULL DEFAULT ''", false},
    {"snapshot_id", "TEXT NOT NULL DEFAULT ''", false},
    {"schema_before", "TEXT NOT NULL DEFAULT ''", false},
    {"schema_after", "TEXT NOT NULL DEFAULT ''", false},
    {"checks", "TEXT NOT NULL DEFAULT ''", true},
    {"restore_script", "TEXT NOT NULL DEFAULT ''", true},
    {"finalized_at", "TEXT NOT NULL DEFAULT ''", false},
    {"schema_cookie", "TEXT NOT NULL DEFAULT ''", false},
    // Set by the engine as the row is written (PostgreSQL: the WAL position).
    {"log_position", "TEXT NOT NULL DEFAULT ''", false},
};
constexpr size_t kColumnCount = std::size(kColumns);
constexpr size_t kFirstAddedColumn = 14;  // snapshot_id

std::string SelectList(bool with_scripts) {
  std::string out;
  for (const auto& c : kColumns) {
    if (!out.empty()) out += ", ";
    out += (c.script && !with_scripts) ? "''" : c.name;
  }
  return out;
}

/// Assigns in place: a reused string keeps its storage.
void Put(std::string& out, const CellView& c) {
  if (c.type == Value::Type::kInteger) {
    out = std::to_string(c.integer);
  } else {
    out.assign(c.bytes);
  }
}

int64_t Int(const CellView& c) {
  return c.type == Value::Type::kInteger ? c.integer : Value(std::string(c.bytes)).ToInt();
}

/// Assigns into `m`, so a reused object keeps its strings' storage.
void FromRow(std::span<const CellView> r, AppliedMigration& m) {
  m.version = Int(r[0]);
  Put(m.version_text, r[1]);
  Put(m.name, r[2]);
  Put(m.checksum, r[3]);
  Put(m.up_script, r[4]);
  Put(m.down_script, r[5]);
  Put(m.down_source, r[6]);
  Put(m.applied_at, r[7]);
  Put(m.applied_by, r[8]);
  m.duration_ms = Int(r[9]);
  m.state = r[10].bytes == "in_progress" ? AppliedState::kInProgress : AppliedState::kApplied;
  m.irreversible = Int(r[11]) != 0;
  m.no_transaction = Int(r[12]) != 0;
  Put(m.error, r[13]);
  Put(m.snapshot_id, r[14]);
  Put(m.schema_before, r[15]);
  Put(m.schema_after, r[16]);
  Put(m.checks, r[17]);
  Put(m.restore_script, r[18]);
  Put(m.finalized_at, r[19]);
  Put(m.schema_cookie, r[20]);
  Put(m.log_position, r[21]);
}

}  // namespace

const char* AppliedStateName(AppliedState state) {
  return state == AppliedState::kApplied ? "applied" : "in_progress";
}

Status History::Ensure() {
  // The large script columns go last in a new table: a row's small columns
  // are then read without following the overflow pages of its scripts.
  std::string columns;
  for (bool scripts : {false, true}) {
    for (const auto& c : kColumns) {
      if (c.script != scripts) continue;
      columns += fmt::format("{}{} {}", columns.empty() ? "" : ", ", c.name, c.type);
    }
  }
  STRATA_RETURN_IF_ERROR(db_.ManagedSchema().status());
  STRATA_ASSIGN_OR_RETURN(bool existed, db_.TableExists("strata_history"));
  STRATA_RETURN_IF_ERROR(db_.Exec("CREATE TABLE IF NOT EXISTS strata_history (" + columns + ")"));
  // Only the role that runs Strata reads or writes it: a role that could
  // change a stored down script would have it run by the next rollback.
  if (const std::string revoke = db_.RevokeFromOthersSql("strata_history"); !existed && !revoke.empty()) {
    STRATA_RETURN_IF_ERROR(db_.Exec(revoke));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> have, db_.ListColumns("strata_history"));
  for (size_t i = kFirstAddedColumn; i < kColumnCount; ++i) {
    if (std::find(have.begin(), have.end(), kColumns[i].name) != have.end()) continue;
    STRATA_RETURN_IF_ERROR(db_.Exec(fmt::format("ALTER TABLE strata_history ADD COLUMN {} {}",
                                                kColumns[i].name, kColumns[i].type)));
  }
  return Status::OK();
}

Status History::ScanRows(bool with_scripts,
                         const std::function<Status(std::span<const CellView>)>& on_row) {
  STRATA_ASSIGN_OR_RETURN(bool exists, db_.TableExists("strata_history"));
  if (!exists) return Status::OK();
  const std::string sql = fmt::format("SELECT {} FROM strata_history", SelectList(with_scripts));
  bool any = false;
  Status read = db_.ForEachRow(sql, {}, [&](std::span<const CellView> row) {
    any = true;
    return on_row(row);
  });
  if (read.ok() || any) return read;
  // A table an older Strata created lacks the newer columns: add them.
  // Any other failure (no SELECT on it) is the one to report.
  const bool old_table = read.message().find("SQLSTATE 42703") != std::string::npos ||
                         read.message().find("no such column") != std::string::npos;
  if (!old_table) return read.WithContext("reading strata_history");
  STRATA_RETURN_IF_ERROR(Ensure());
  return db_.ForEachRow(sql, {}, on_row);
}

Result<std::vector<AppliedMigration>> History::List(bool with_scripts) {
  std::vector<AppliedMigration> out;
  STRATA_RETURN_IF_ERROR(ScanRows(with_scripts, [&](std::span<const CellView> row) {
    FromRow(row, out.emplace_back());
    return Status::OK();
  }));
  // Sorted here: reading in storage order and sorting is quicker than
  // walking the primary key index and looking each row up.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  return out;
}

Status History::Scan(const std::function<Status(const AppliedMigration&)>& on_row) {
  AppliedMigration m;
  return ScanRows(false, [&](std::span<const CellView> row) {
    FromRow(row, m);
    return on_row(m);
  });
}

Result<std::optional<AppliedMigration>> History::Get(int64_t version) {
  std::optional<AppliedMigration> out;
  STRATA_RETURN_IF_ERROR(db_.ForEachRow(
      fmt::format("SELECT {} FROM strata_history WHERE version = $1", SelectList(true)), {version},
      [&](std::span<const CellView> row) {
        FromRow(row, out.emplace());
        return Status::OK();
      }));
  return out;
}

History::History(Database& db) : db_(db) {
  // Every column but the last is a parameter; the last, log_position, is the
  // engine's (PostgreSQL: the WAL position as the migration's transaction
  // runs, for point-in-time recovery), and applied_at may be the server's clock.
  std::string names, values;
  for (size_t i = 0; i < kColumnCount; ++i) {
    names += fmt::format("{}{}", i ? ", " : "", kColumns[i].name);
    values += i ? ", " : "";
    const std::string param = fmt::format("${}", i + 1);
    values += i + 1 == kColumnCount                          ? std::string(db.LogPositionSql())
              : std::string_view(kColumns[i].name) == "applied_at" ? db.AppliedAtSql(param)
                                                                   : param;
  }
  insert_sql_ = fmt::format("INSERT INTO strata_history ({}) VALUES ({})", names, values);
}

BatchStatement History::InsertStatement(const AppliedMigration& m) const {
  return BatchStatement{
      insert_sql_,
      {m.version, m.version_text, m.name, m.checksum, m.up_script, m.down_script, m.down_source,
       m.applied_at, m.applied_by, m.duration_ms, std::string(AppliedStateName(m.state)),
       static_cast<int64_t>(m.irreversible), static_cast<int64_t>(m.no_transaction), m.error,
       m.snapshot_id, m.schema_before, m.schema_after, m.checks, m.restore_script,
       m.finalized_at, m.schema_cookie}};
}

Status History::Insert(const AppliedMigration& m) {
  BatchStatement st = InsertStatement(m);
  return db_.Query(st.sql, st.params).status();
}

BatchStatement History::RemoveStatement(int64_t version) const {
  return BatchStatement{"DELETE FROM strata_history WHERE version = $1", {version}};
}

Status History::SetSchemaAfter(int64_t version, const std::string& hash) {
  return db_.Query("UPDATE strata_history SET schema_after = $1 WHERE version = $2",
                   {Value(hash), Value(version)})
      .status();
}

Status History::SetOutcomes(const std::vector<Outcome>& outcomes) {
  constexpr size_t kChunk = 400;  // 5 parameters each: well under every engine's limit
  for (size_t start = 0; start < outcomes.size(); start += kChunk) {
    // Both engines name the columns of a VALUES list column1, column2, ...
    std::string values;
    std::vector<Value> params;
    for (size_t i = start; i < std::min(outcomes.size(), start + kChunk); ++i) {
      const Outcome& o = outcomes[i];
      size_t n = params.size();
      values += fmt::format("{}(CAST(${} AS BIGINT), CAST(${} AS BIGINT), ${}, ${}, ${})",
                            values.empty() ? "" : ", ", n + 1, n + 2, n + 3, n + 4, n + 5);
      params.insert(params.end(), {Value(o.version), Value(o.duration_ms), Value(o.schema_before),
                                   Value(o.schema_after), Value(o.checks)});
    }
    // An empty schema_before or checks keeps what the row was inserted with.
    STRATA_RETURN_IF_ERROR(
        db_.Query(fmt::format(
                      "UPDATE strata_history SET duration_ms = d.ms, schema_after = d.after_hash,"
                      " schema_before = CASE WHEN d.before_hash = '' THEN strata_history.schema_before"
                      " ELSE d.before_hash END,"
                      " checks = CASE WHEN d.checks = '' THEN strata_history.checks"
                      " ELSE d.checks END"
                      " FROM (SELECT column1 AS version, column2 AS ms, column3 AS before_hash,"
                      " column4 AS after_hash, column5 AS checks FROM (VALUES {}) AS v) AS d"
                      " WHERE strata_history.version = d.version",
                      values),
                  params)
            .status());
  }
  return Status::OK();
}

Status History::RecordSchemaCookie(int64_t version) {
  if (db_.SchemaCookieSql().empty()) return Status::OK();
  return db_
      .Query(fmt::format("UPDATE strata_history SET schema_cookie = {} WHERE version = $1",
                         db_.SchemaCookieSql()),
             {version})
      .status();
}

Result<std::string> History::SchemaCookie() {
  if (db_.SchemaCookieSql().empty()) return std::string();
  STRATA_ASSIGN_OR_RETURN(Rows rows, db_.Query(fmt::format("SELECT {}", db_.SchemaCookieSql())));
  if (rows.empty() || rows.rows[0].empty()) return std::string();
  return rows.rows[0][0].ToString();
}

Status History::Sync() {
  return db_.Exec(
      "UPDATE strata_history SET duration_ms = duration_ms "
      "WHERE version = (SELECT max(version) FROM strata_history)");
}

Status History::MarkApplied(int64_t version, int64_t duration_ms) {
  return db_
      .Query("UPDATE strata_history SET status = 'applied', duration_ms = $1, error = '' "
             "WHERE version = $2",
             {duration_ms, version})
      .status();
}

Status History::MarkInProgress(int64_t version) {
  return db_
      .Query("UPDATE strata_history SET status = $1 WHERE version = $2",
             {std::string(AppliedStateName(AppliedState::kInProgress)), version})
      .status();
}

Status History::RecordError(int64_t version, const std::string& error) {
  return db_.Query("UPDATE strata_history SET error = $1 WHERE version = $2", {error, version})
      .status();
}

Status History::Remove(int64_t version) {
  BatchStatement st = RemoveStatement(version);
  return db_.Query(st.sql, st.params).status();
}

std::string NowUtc() { return FormatUtc(std::chrono::system_clock::now()); }

std::string FormatUtc(std::chrono::system_clock::time_point time) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()) % 1000;
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     static_cast<int>(ms.count()));
}

std::vector<std::string> UncapturedChanges(const AppliedMigration& m) {
  return UncapturedChanges(nlohmann::json::parse(m.checks, nullptr, /*allow_exceptions=*/false));
}

std::vector<std::string> UncapturedChanges(const nlohmann::json& checks) {
  std::vector<std::string> out;
  if (!checks.is_object() || !checks.contains("uncaptured")) return out;
  for (const auto& u : checks["uncaptured"]) {
    if (u.is_string()) out.push_back(u.get<std::string>());
  }
  return out;
}

std::string ResolvedByHand(const AppliedMigration& m) {
  auto checks = nlohmann::json::parse(m.checks, nullptr, /*allow_exceptions=*/false);
  if (!checks.is_object() || !checks.contains("resolved") || !checks["resolved"].is_object()) return "";
  const auto& r = checks["resolved"];
  return fmt::format("at {} by {}", r.value("at", "?"), r.value("by", "?"));
}

}  // namespace strata
