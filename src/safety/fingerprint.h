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
#include <string>
#include <vector>

#include "strata/database.h"

namespace strata {

struct SchemaFingerprint {
  std::string canonical_text;
  std::string hash;  // lower-case hex SHA-256 of canonical_text

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

/// Reads the catalog of `db` and renders its canonical text.
Result<SchemaFingerprint> FingerprintSchema(Database& db);

/// Hashes the rows of `tables` (empty: every user table). Each row is encoded
/// cell by cell as type tag + length + bytes (so NULL, '', 0, 0.0, '0' and
/// X'30' all differ), hashed with XXH3-128, and the row hashes are summed
/// modulo 2^128: equal multisets of rows, in any order, hash the same, and a
/// duplicated row counts twice. A table that does not exist is kNotFound.
/// PostgreSQL values are hashed in the text form the server sends, so equal
/// data hashes equal on the same engine, not across engines.
Result<DataFingerprint> FingerprintData(Database& db, const std::vector<std::string>& tables = {});

/// The difference from `a` to `b` for a person: per object, added ("+ kind
/// name"), removed ("- kind name") or changed ("~ kind name" and a line diff
/// of its facts). Empty when they are equal.
std::string DiffSchemas(const SchemaFingerprint& a, const SchemaFingerprint& b);

}  // namespace strata
