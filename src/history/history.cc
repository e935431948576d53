#include "history/history.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace strata {
namespace {

constexpr const char* kCreate =
    "CREATE TABLE IF NOT EXISTS strata_history ("
    " version BIGINT PRIMARY KEY,"
    " version_text TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " checksum TEXT NOT NULL,"
    " up_script TEXT NOT NULL,"
    " down_script TEXT NOT NULL,"
    " down_source TEXT NOT NULL,"
    " applied_at TEXT NOT NULL,"
    " applied_by TEXT NOT NULL,"
    " duration_ms BIGINT NOT NULL,"
    " status TEXT NOT NULL,"
    " irreversible INTEGER NOT NULL,"
    " no_transaction INTEGER NOT NULL,"
    " error TEXT NOT NULL DEFAULT '')";

constexpr const char* kColumnsShort =
    "version, version_text, name, checksum, '', '', down_source, applied_at, applied_by, duration_ms, status, "
    "irreversible, no_transaction, error";
constexpr const char* kColumnsFull =
    "version, version_text, name, checksum, up_script, down_script, down_source, applied_at, applied_by, "
    "duration_ms, status, irreversible, no_transaction, error";

std::string Text(const CellView& c) {
  if (c.type == Value::Type::kInteger) return std::to_string(c.integer);
  return std::string(c.bytes);
}

int64_t Int(const CellView& c) {
  return c.type == Value::Type::kInteger ? c.integer : Value(std::string(c.bytes)).ToInt();
}

AppliedMigration FromRow(std::span<const CellView> r) {
  AppliedMigration m;
  m.version = Int(r[0]);
  m.version_text = Text(r[1]);
  m.name = Text(r[2]);
  m.checksum = Text(r[3]);
  m.up_script = Text(r[4]);
  m.down_script = Text(r[5]);
  m.down_source = Text(r[6]);
  m.applied_at = Text(r[7]);
  m.applied_by = Text(r[8]);
  m.duration_ms = Int(r[9]);
  m.state = r[10].bytes == "in_progress" ? AppliedState::kInProgress : AppliedState::kApplied;
  m.irreversible = Int(r[11]) != 0;
  m.no_transaction = Int(r[12]) != 0;
  m.error = Text(r[13]);
  return m;
}

}  // namespace

const char* AppliedStateName(AppliedState state) {
  return state == AppliedState::kApplied ? "applied" : "in_progress";
}

Status History::Ensure() { return db_.Exec(kCreate); }

Result<std::vector<AppliedMigration>> History::List(bool with_scripts) {
  STRATA_ASSIGN_OR_RETURN(bool exists, db_.TableExists("strata_history"));
  std::vector<AppliedMigration> out;
  if (!exists) return out;
  STRATA_RETURN_IF_ERROR(db_.ForEachRow(
      fmt::format("SELECT {} FROM strata_history ORDER BY version",
                  with_scripts ? kColumnsFull : kColumnsShort),
      {}, [&](std::span<const CellView> row) {
        out.push_back(FromRow(row));
        return Status::OK();
      }));
  return out;
}

Result<std::optional<AppliedMigration>> History::Get(int64_t version) {
  std::optional<AppliedMigration> out;
  STRATA_RETURN_IF_ERROR(db_.ForEachRow(
      fmt::format("SELECT {} FROM strata_history WHERE version = $1", kColumnsFull), {version},
      [&](std::span<const CellView> row) {
        out = FromRow(row);
        return Status::OK();
      }));
  return out;
}

BatchStatement History::InsertStatement(const AppliedMigration& m) const {
  return BatchStatement{
      "INSERT INTO strata_history (version, version_text, name, checksum, up_script, "
      "down_script, down_source, applied_at, applied_by, duration_ms, status, "
      "irreversible, no_transaction, error) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
      {m.version, m.version_text, m.name, m.checksum, m.up_script, m.down_script, m.down_source,
       m.applied_at, m.applied_by, m.duration_ms, std::string(AppliedStateName(m.state)),
       static_cast<int64_t>(m.irreversible), static_cast<int64_t>(m.no_transaction), m.error}};
}

Status History::Insert(const AppliedMigration& m) {
  BatchStatement st = InsertStatement(m);
  return db_.Query(st.sql, st.params).status();
}

BatchStatement History::RemoveStatement(int64_t version) const {
  return BatchStatement{"DELETE FROM strata_history WHERE version = $1", {version}};
}

Status History::SetDurations(const std::vector<std::pair<int64_t, int64_t>>& version_ms) {
  constexpr size_t kChunk = 500;
  for (size_t start = 0; start < version_ms.size(); start += kChunk) {
    // Both engines name the columns of a VALUES list column1, column2.
    std::string values;
    for (size_t i = start; i < std::min(version_ms.size(), start + kChunk); ++i) {
      values += fmt::format("{}({}, {})", values.empty() ? "" : ", ", version_ms[i].first,
                            version_ms[i].second);
    }
    STRATA_RETURN_IF_ERROR(db_.Exec(fmt::format(
        "UPDATE strata_history SET duration_ms = d.ms FROM (SELECT column1 AS version, column2 "
        "AS ms FROM (VALUES {}) AS v) AS d WHERE strata_history.version = d.version",
        values)));
  }
  return Status::OK();
}

Status History::MarkApplied(int64_t version, int64_t duration_ms) {
  return db_
      .Query("UPDATE strata_history SET status = 'applied', duration_ms = $1, error = '' "
             "WHERE version = $2",
             {duration_ms, version})
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

std::string NowUtc() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     static_cast<int>(ms.count()));
}

}  // namespace strata
