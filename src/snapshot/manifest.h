// Manifest: what one snapshot is, as stored in snapshots/<id>.json.
//
// A snapshot is a list of parts (the SQLite page image; or a PostgreSQL
// schema script and one COPY stream per table), each a list of chunks in
// order. The manifest also keeps what the snapshot is checked against (the
// schema and data fingerprints of the source when it was taken) and what a
// person needs to pick one: when, why, which database, which schema version.
// The format is described in docs/guide.md ("Snapshots").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "safety/fingerprint.h"
#include "strata/database.h"
#include "strata/status.h"

namespace strata::snapshot {

constexpr int kManifestFormat = 1;

struct ChunkRef {
  std::string hash;   // lower-case hex SHA-256 of the chunk's bytes
  uint64_t size = 0;  // bytes before compression
  bool operator==(const ChunkRef&) const = default;
};

/// One stream of bytes of a snapshot.
struct Part {
  std::string name;  // "database", "pre-data.sql", "table:orders", ...
  std::string kind;  // "sqlite-pages", "sql", "copy-text"
  uint64_t bytes = 0;
  std::vector<ChunkRef> chunks;
  /// "copy-text": the columns of each line, in order. The schema script may
  /// create a table's columns in another order than the source had them (a
  /// column added to an inherited parent later comes last in the child).
  /// Empty in manifests of older versions: the table's own order.
  std::vector<std::string> columns;
};

struct SequenceValue {
  std::string name;
  int64_t last_value = 0;
  bool is_called = false;
};

/// An extension the managed schema uses (a column of its type, a default
/// calling its function, an index with its operator class) that is
/// installed in another schema: pg_dump -n leaves it out, and a restore into
/// a database without it makes it first.
struct OutsideExtension {
  std::string name;
  std::string schema;
};

struct Manifest {
  int format = kManifestFormat;
  std::string id;            // "20250114-093012-4f2a9c": sorts by creation time
  std::string label;         // given by the user; may be empty
  std::string reason;        // "manual", "before up", "before restore"
  Engine engine = Engine::kSqlite;
  std::string database;      // the source, redacted
  std::string schema_version;  // newest applied migration ("0003"), "" when none
  std::string created_at, completed_at;  // UTC, ISO 8601
  SchemaFingerprint schema;  // canonical_text is not stored, only the hashes
  /// Whether the fingerprints take each table's columns in any order (the
  /// schema's any_order_hash, rows read with their columns in name order).
  /// PostgreSQL snapshots do: pg_dump makes an inheritance child's inherited
  /// columns first, wherever the source has them (a column its parent
  /// gained later comes last there). Not so in older manifests.
  bool columns_in_any_order = false;
  DataFingerprint data;
  uint64_t logical_bytes = 0;  // sum of the parts' sizes
  uint64_t stored_bytes = 0;   // compressed size of every chunk it uses
  uint64_t added_bytes = 0;    // compressed bytes this snapshot wrote (not shared)
  uint64_t chunk_count = 0, new_chunks = 0;
  // SQLite
  uint32_t page_size = 0;
  uint64_t page_count = 0;
  // PostgreSQL
  std::string pg_schema;  // the managed schema (current_schema() of the source)
  int pg_server_version = 0;
  /// The source database's encoding and locale, for a database a restore
  /// or verify creates; empty in older manifests (the server's defaults).
  std::string pg_encoding, pg_collate, pg_ctype;
  std::vector<std::string> pg_extensions;  // installed in the managed schema
  std::vector<OutsideExtension> pg_outside_extensions;  // in the order they were created
  /// The version of each of those extensions, made again at that version
  /// (the default one may differ, and with it the schema); not recorded by
  /// older versions: the default then.
  std::map<std::string, std::string> pg_extension_versions;
  /// Materialized views never populated (CREATE ... WITH NO DATA, REFRESH
  /// ... WITH NO DATA): a restore leaves them so, and refreshes the others.
  std::vector<std::string> pg_unpopulated_matviews;
  /// The schema parts carry the objects' grants and the schema's default
  /// privileges (pg_dump's ACL entries); older snapshots were dumped
  /// without them.
  bool pg_privileges = false;
  std::vector<SequenceValue> sequences;
  std::vector<Part> parts;
  /// What the snapshot does not hold that the user should know of, each a
  /// sentence (PostgreSQL: the database's large objects).
  std::vector<std::string> notes;

  const Part* FindPart(const std::string& name) const;
};

std::string ToJson(const Manifest& m);
/// Parses a manifest; a truncated or malformed file is kParse naming what is wrong.
Result<Manifest> ManifestFromJson(const std::string& text);

/// A new snapshot id for the current time: "YYYYMMDD-HHMMSS-xxxxxx".
std::string NewSnapshotId();

}  // namespace strata::snapshot
