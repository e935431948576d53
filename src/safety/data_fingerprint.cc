// FingerprintData: one streaming pass per table, no allocation per row or
// cell. Cells are encoded into a fixed buffer and the row hashed in one
// XXH3 call; a row too large for the buffer moves to XXH3's streaming state,
// which gives the same digest, so memory stays bounded by the buffer.
#include <cstring>

#include <fmt/format.h>
#include <xxhash.h>

#include "migration/checksum.h"
#include "safety/fingerprint.h"

namespace strata {
namespace {

class RowHasher {
 public:
  RowHasher() : state_(XXH3_createState()) {}
  ~RowHasher() { XXH3_freeState(state_); }
  RowHasher(const RowHasher&) = delete;
  RowHasher& operator=(const RowHasher&) = delete;

  void Add(const void* data, size_t size) {
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

  /// Appends one cell: tag, then the value (integer and real: 8 bytes;
  /// text and blob: 8-byte length, then the bytes).
  void AddCell(const CellView& cell) {
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

  /// The row's hash as a 128-bit number; resets for the next row.
  unsigned __int128 Finish() {
    XXH128_hash_t h = streaming_ ? XXH3_128bits_digest(state_) : XXH3_128bits(buf_, len_);
    len_ = 0;
    streaming_ = false;
    return (static_cast<unsigned __int128>(h.high64) << 64) | h.low64;
  }

 private:
  unsigned char buf_[8192];
  size_t len_ = 0;
  bool streaming_ = false;
  XXH3_state_t* state_;
};

Result<TableFingerprint> FingerprintTable(Database& db, const std::string& table, RowHasher& hasher) {
  TableFingerprint out{table, 0, ""};
  unsigned __int128 sum = 0;  // wraps: the sum is modulo 2^128
  Status s = db.ForEachRow("SELECT * FROM " + db.QuoteIdent(table), {},
                           [&](std::span<const CellView> cells) {
                             for (const CellView& cell : cells) hasher.AddCell(cell);
                             sum += hasher.Finish();
                             ++out.rows;
                             return Status::OK();
                           });
  if (!s.ok()) return s.WithContext(fmt::format("fingerprinting table {}", table));
  out.hash = fmt::format("{:016x}{:016x}", static_cast<uint64_t>(sum >> 64), static_cast<uint64_t>(sum));
  return out;
}

}  // namespace

Result<DataFingerprint> FingerprintData(Database& db, const std::vector<std::string>& tables) {
  std::vector<std::string> names = tables;
  if (names.empty()) {
    STRATA_ASSIGN_OR_RETURN(names, db.ListTables());
  } else {
    for (const auto& name : names) {
      STRATA_ASSIGN_OR_RETURN(bool exists, db.TableExists(name));
      if (!exists) return Status(Code::kNotFound, fmt::format("table '{}' does not exist", name));
    }
  }
  DataFingerprint out;
  RowHasher hasher;
  std::string summary;
  for (const auto& name : names) {
    STRATA_ASSIGN_OR_RETURN(TableFingerprint t, FingerprintTable(db, name, hasher));
    summary += fmt::format("{}:{} {} {}\n", name.size(), name, t.rows, t.hash);
    out.tables.push_back(std::move(t));
  }
  out.hash = Sha256Hex(summary);
  return out;
}

}  // namespace strata
