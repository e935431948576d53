#include <algorithm>
// FingerprintData: one streaming pass per table with one RowHasher, so no
// allocation per row or cell and memory bounded by the hasher's buffer.
#include <cstring>
#include <functional>

#include <fmt/format.h>
#include <xxhash.h>

#include "migration/checksum.h"
#include "safety/fingerprint.h"

namespace strata {

RowHasher::RowHasher() : state_(XXH3_createState()) {}
RowHasher::~RowHasher() { XXH3_freeState(state_); }

void RowHasher::Add(const void* data, size_t size) {
  if (!streaming_ && len_ + size <= sizeof(buf_)) {
    if (size) std::memcpy(buf_ + len_, data, size);
    len_ += size;
    return;
  }
  if (!streaming_) {
    XXH3_128bits_reset(state_);
    XXH3_128bits_update(state_, buf_, len_);
    streaming_ = true;
  }
  XXH3_128bits_update(state_, data, size);
}

// Each cell: tag, then the value (integer and real: 8 bytes; text and blob:
// 8-byte length, then the bytes).
void RowHasher::AddCell(const CellView& cell) {
  unsigned char head[9];
  int64_t word = 0;
  switch (cell.type) {
    case Value::Type::kNull: head[0] = 'N'; Add(head, 1); return;
    case Value::Type::kInteger: head[0] = 'I'; word = cell.integer; break;
    case Value::Type::kReal: head[0] = 'R'; std::memcpy(&word, &cell.real, 8); break;
    case Value::Type::kText: head[0] = 'T'; word = static_cast<int64_t>(cell.bytes.size()); break;
    case Value::Type::kBlob: head[0] = 'B'; word = static_cast<int64_t>(cell.bytes.size()); break;
  }
  std::memcpy(head + 1, &word, 8);
  Add(head, 9);
  if (cell.type == Value::Type::kText || cell.type == Value::Type::kBlob) {
    Add(cell.bytes.data(), cell.bytes.size());
  }
}

unsigned __int128 RowHasher::Hash(std::span<const CellView> cells) {
  for (const CellView& cell : cells) AddCell(cell);
  XXH128_hash_t h = streaming_ ? XXH3_128bits_digest(state_) : XXH3_128bits(buf_, len_);
  len_ = 0;
  streaming_ = false;
  return (static_cast<unsigned __int128>(h.high64) << 64) | h.low64;
}

namespace {

// PostgreSQL sends values as text in a form its session settings choose: a
// timestamptz in the TimeZone (and DateStyle), an interval in IntervalStyle,
// a float inside an array or row by extra_float_digits, money by
// lc_monetary. A hash is recorded by one run (`up`) and compared by another
// (`down`, `snapshot verify`), whose client may set them otherwise (PGTZ,
// PGDATESTYLE, PGOPTIONS, a role's or database's settings): rows hashed with
// the settings of the moment would differ though equal, so a rollback was
// refused as if written since, or not checked at all. They are pinned, to
// PostgreSQL's defaults and UTC, only while rows are hashed (SET LOCAL in a
// savepoint, or a transaction, rolled back after): a migration still runs
// with the session's own, which its literals may rely on.
constexpr char kPinnedSettings[] =
    "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, MDY'; "
    "SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1; "
    "SET LOCAL bytea_output = 'hex'; SET LOCAL lc_monetary = 'C'";
constexpr char kSavepoint[] = "strata_hash_settings";

Status ForEachRowPinned(Database& db, const std::string& query, const std::vector<Value>& params,
                        const std::function<Status(std::span<const CellView>)>& on_row) {
  if (db.engine() != Engine::kPostgres) return db.ForEachRow(query, params, on_row);
  // Opening and closing are one round trip each: a snapshot hashes every
  // table this way.
  const bool nested = db.InTransaction();
  const std::string open = fmt::format("{}; {}", nested ? fmt::format("SAVEPOINT {}", kSavepoint)
                                                        : std::string("BEGIN"),
                                       kPinnedSettings);
  Status s = db.Exec(open);
  if (s.ok()) s = db.ForEachRow(query, params, on_row);
  // Only read: rolling back ends the settings and leaves the caller's
  // transaction as it was.
  Status closed = db.Exec(nested ? fmt::format("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}",
                                               kSavepoint)
                                 : std::string("ROLLBACK"));
  return s.ok() ? closed : s;
}

}  // namespace

Result<RowSum> SumRows(Database& db, const std::string& query, const std::vector<Value>& params) {
  RowHasher hasher;
  RowSum out;
  STRATA_RETURN_IF_ERROR(ForEachRowPinned(db, query, params, [&](std::span<const CellView> cells) {
    out.sum += hasher.Hash(cells);  // wraps: the sum is modulo 2^128
    ++out.rows;
    return Status::OK();
  }));
  return out;
}

TableFingerprint TableFingerprintOf(std::string table, const RowSum& rows) {
  return TableFingerprint{std::move(table), rows.rows,
                          fmt::format("{:016x}{:016x}", static_cast<uint64_t>(rows.sum >> 64),
                                      static_cast<uint64_t>(rows.sum))};
}

DataFingerprint CombineTables(std::vector<TableFingerprint> tables) {
  DataFingerprint out;
  std::string summary;
  for (const TableFingerprint& t : tables) {
    summary += fmt::format("{}:{} {} {}\n", t.table.size(), t.table, t.rows, t.hash);
  }
  out.tables = std::move(tables);
  out.hash = Sha256Hex(summary);
  return out;
}

Result<DataFingerprint> FingerprintData(Database& db, const std::vector<std::string>& tables,
                                        bool columns_by_name) {
  std::vector<std::string> names = tables;
  if (names.empty()) {
    STRATA_ASSIGN_OR_RETURN(names, db.ListTables());
  } else {
    for (const auto& name : names) {
      STRATA_ASSIGN_OR_RETURN(bool exists, db.TableExists(name));
      if (!exists) return Status(Code::kNotFound, fmt::format("table '{}' does not exist", name));
    }
  }
  std::vector<TableFingerprint> tables_out;
  for (const auto& name : names) {
    std::string select = "*";
    if (columns_by_name) {
      STRATA_ASSIGN_OR_RETURN(std::vector<std::string> columns, db.ListColumns(name));
      std::sort(columns.begin(), columns.end());
      select.clear();
      for (const auto& c : columns) select += (select.empty() ? "" : ", ") + db.QuoteIdent(c);
    }
    auto rows = SumRows(db, "SELECT " + select + " FROM " + db.QuoteIdent(name));
    if (!rows.ok()) return rows.status().WithContext(fmt::format("fingerprinting table {}", name));
    tables_out.push_back(TableFingerprintOf(name, *rows));
  }
  return CombineTables(std::move(tables_out));
}

}  // namespace strata
