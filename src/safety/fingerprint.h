// Fingerprints: what a rollback is checked against.
//
// The schema fingerprint is a canonical text of the managed schema (one block
// per object, objects sorted by kind and name, so build order does not
// matter) and its SHA-256. The data fingerprint is, per table, a hash of all
// rows that does not depend on their physical order, computed in one
// streaming pass with memory independent of the table's size. Strata's own
// tables (strata_*) are in neither.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "sql/dialect.h"
#include "strata/database.h"

struct XXH3_state_s;

namespace strata {

struct SchemaFingerprint {
  std::string canonical_text;
  /// 64 hex digits: the sum modulo 2^256 of the SHA-256 of each object's
  /// block of canonical_text, so one object's change updates it cheaply.
  std::string hash;
  /// The hash with each table's columns in any order (SchemaModel::any_order_hash).
  std::string any_order_hash;

  bool operator==(const SchemaFingerprint& other) const { return hash == other.hash; }
};

struct TableFingerprint {
  std::string table;
  int64_t rows = 0;
  std::string hash;  // 32 hex digits: the multiset hash of the rows

  bool operator==(const TableFingerprint&) const = default;
};

struct DataFingerprint {
  std::vector<TableFingerprint> tables;  // in the order asked for, or by name
  std::string hash;  // hex SHA-256 over every table's name, row count and hash

  bool operator==(const DataFingerprint& other) const { return hash == other.hash; }
};

struct SchemaObject;

/// A 256-bit sum of SHA-256 digests.
struct SchemaDigest {
  uint64_t limbs[4] = {0, 0, 0, 0};  // big-endian
  void Add(const SchemaDigest& other, bool subtract = false);
  std::string Hex() const;
};

/// The managed schema as canonical blocks, one per object, with its hash:
/// read whole once, then kept current by re-reading only the tables a
/// migration touches. Its hash equals FingerprintSchema's.
class SchemaModel {
 public:
  static Result<SchemaModel> Read(Database& db);
  /// Re-reads `tables` with their indexes and triggers; everything when null.
  Status Refresh(Database& db, const std::vector<std::string>* tables);
  /// Refresh with objects already read: the blocks of `tables` (all when
  /// null) become those of `objects` that they own; other objects are ignored.
  void Replace(const std::vector<SchemaObject>& objects, const std::vector<std::string>* tables);
  /// Whether the schema has a table named `name` (as the engine compares
  /// names: SQLite ignores ASCII case, PostgreSQL does not).
  bool HasTable(std::string_view name) const;
  std::string hash() const { return digest_.Hex(); }
  /// The hash with each table's columns in any order (ColumnsInAnyOrder):
  /// equal for a schema whose rollbacks put columns back last.
  std::string any_order_hash() const { return any_order_digest_.Hex(); }
  /// The hash the schema would have with the blocks of `tables` (all when
  /// null) replaced by `blocks`.
  std::string HashWith(const std::map<std::string, std::string>& blocks,
                       const std::vector<std::string>* tables) const;
  /// The blocks of `tables` (their tables, indexes and triggers), or all,
  /// by sort key.
  std::map<std::string, std::string> Blocks(const std::vector<std::string>* tables = nullptr) const;
  /// The tables that inherit from `table` (its partitions, PostgreSQL
  /// inheritance children), and theirs in turn.
  std::vector<std::string> Inheritors(std::string_view table) const;
  /// The table that owns object `name` of `kind` ("index", "trigger"), or "".
  std::string TableOf(std::string_view kind, std::string_view name) const;
  /// Blocks as a canonical text (for DiffSchemas).
  static std::string Render(const std::map<std::string, std::string>& blocks);
  /// The kind ("table", "index", ...) and the name of the object whose
  /// block has sort key `key` (the keys of Blocks()).
  static std::string_view KindOfKey(std::string_view key);
  static std::string_view NameOfKey(std::string_view key);

 private:
  struct Block {
    std::string table;  // owning table, "" for objects of no table
    std::string text;
    SchemaDigest digest;
    SchemaDigest any_order;  // of the text with its columns in any order
  };
  /// A table's name as its engine tells tables apart (sql::NameKey).
  std::string OwnerKey(std::string_view table) const { return sql::NameKey(table, dialect_); }
  bool Owned(std::string_view owner, const std::vector<std::string>* tables) const;
  /// The parents a table's block names ("a, b"), or "" when it inherits none.
  static std::string_view InheritsFrom(std::string_view key, std::string_view text);
  std::map<std::string, Block> blocks_;
  std::set<std::string> inheriting_;  // the keys of the blocks of tables that inherit
  std::map<std::string, std::set<std::string>> by_owner_;  // OwnerKey(table) -> its keys
  sql::Dialect dialect_ = sql::Dialect::kSqlite;  // of the database last read
  SchemaDigest digest_;
  SchemaDigest any_order_digest_;
};

/// Schema blocks (one or a whole canonical text) with each table's column
/// lines sorted: a column a down script adds back comes last (neither engine
/// can put it back in its place), and the table is the same for every
/// statement that names its columns.
std::string ColumnsInAnyOrder(std::string_view text);

/// Reads the catalog of `db` and renders its canonical text.
Result<SchemaFingerprint> FingerprintSchema(Database& db);

/// Hashes the rows of `tables` (empty: every user table). Each row is encoded
/// cell by cell as type tag + length + bytes (so NULL, '', 0, 0.0, '0' and
/// X'30' all differ), hashed with XXH3-128, and the row hashes are summed
/// modulo 2^128: equal multisets of rows, in any order, hash the same, and a
/// duplicated row counts twice. A table that does not exist is kNotFound.
/// PostgreSQL values are hashed in the text form the server sends, so equal
/// data hashes equal on the same engine, not across engines.
/// With `columns_by_name`, each table's columns are read in name order, so
/// that a table whose columns were reordered hashes the same.
Result<DataFingerprint> FingerprintData(Database& db, const std::vector<std::string>& tables = {},
                                        bool columns_by_name = false);

/// Rows as FingerprintData hashes them: the sum modulo 2^128 of each row's
/// hash, and how many rows. Sums of disjoint sets of rows add up to the sum
/// of their union.
/// Hashes one row at a time as FingerprintData does, without allocating:
/// the cells are encoded into a fixed buffer and hashed in one XXH3-128
/// call; a row too large for it moves to XXH3's streaming state, which gives
/// the same digest.
class RowHasher {
 public:
  RowHasher();
  ~RowHasher();
  RowHasher(const RowHasher&) = delete;
  RowHasher& operator=(const RowHasher&) = delete;
  unsigned __int128 Hash(std::span<const CellView> cells);

 private:
  void Add(const void* data, size_t size);
  void AddCell(const CellView& cell);
  unsigned char buf_[8192];
  size_t len_ = 0;
  bool streaming_ = false;
  XXH3_state_s* state_;
};

struct RowSum {
  unsigned __int128 sum = 0;
  int64_t rows = 0;
  void Add(const RowSum& other) {
    sum += other.sum;
    rows += other.rows;
  }
};

/// The sum of the rows `query` returns, every column hashed.
Result<RowSum> SumRows(Database& db, const std::string& query, const std::vector<Value>& params = {});

/// A table's fingerprint from the sum of all its rows.
TableFingerprint TableFingerprintOf(std::string table, const RowSum& rows);

/// The data fingerprint of these tables, in this order (as FingerprintData).
DataFingerprint CombineTables(std::vector<TableFingerprint> tables);

/// The difference from `a` to `b` for a person: per object, added ("+ kind
/// name"), removed ("- kind name") or changed ("~ kind name" and a line diff
/// of its facts). Empty when they are equal.
std::string DiffSchemas(const SchemaFingerprint& a, const SchemaFingerprint& b);

}  // namespace strata
