// The schema as `strata seed` needs it: per table, the columns with what a
// value must be, the unique keys, the foreign keys and the CHECKs.
//
// One SeedSchemaReader per engine reads it from the catalog; the generator
// (seed.cc) sees only these structs and never asks which engine it is on.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/database.h"

namespace strata {

/// The kind of value a column holds, as far as generating one goes.
enum class SeedKind {
  kInteger, kReal, kNumeric, kText, kBlob, kBool,
  kDate, kTime, kTimestamp, kUuid, kJson, kEnum,
  kUnsupported,  // a type the generator does not know: NULL or the default
};

struct SeedColumn {
  std::string name;
  std::string type;  // as declared / formatted by the engine, for messages
  SeedKind kind = SeedKind::kText;
  bool not_null = false;
  bool has_default = false;
  bool auto_increment = false;  // rowid alias, serial, identity: no extreme values
  bool skip = false;            // generated column or GENERATED ALWAYS identity
  int64_t min = std::numeric_limits<int64_t>::min();  // integers (type and CHECKs)
  int64_t max = std::numeric_limits<int64_t>::max();
  std::optional<double> real_min, real_max;  // reals and numerics, from CHECKs
  bool real_min_strict = false, real_max_strict = false;
  bool narrow_real = false;      // float4: keep within its range
  int numeric_scale = 2;         // numeric(p, s): digits after the point
  int numeric_int_digits = 10;   // p - s
  int64_t max_length = 0;        // characters; 0 = unbounded
  int64_t min_length = 0;
  std::vector<std::string> allowed;  // enum labels or CHECK (col IN (...)), as text
};

struct SeedForeignKey {
  std::string name;
  std::vector<std::string> columns;
  std::string parent;
  std::vector<std::string> parent_columns;
};

struct SeedCheck {
  std::string name;  // may be empty (an unnamed SQLite CHECK)
  std::string expr;
};

/// CHECK (low < high) (or <=, or written with > and >=) between two
/// columns of the table.
struct SeedOrder {
  std::string low, high;
  bool strict = false;
};

struct SeedTable {
  std::string name;
  std::vector<SeedColumn> columns;
  std::vector<std::vector<std::string>> unique_keys;  // primary key first when there is one
  std::vector<SeedForeignKey> foreign_keys;
  std::vector<SeedCheck> checks;
  std::vector<SeedOrder> orders;  // from CHECKs: the generator orders the values it makes
  /// A virtual table's module ("fts5", "rtree"); empty for an ordinary table.
  /// The module owns its storage: seed fills the tables it is built from instead.
  std::string module;
  /// PostgreSQL: the partitioned table this one is a partition of; its rows
  /// are seeded through that table, which routes each to its partition.
  std::string partition_of;

  const SeedColumn* Find(std::string_view column) const;
  SeedColumn* Find(std::string_view column);
};

/// Reads one engine's catalog into SeedTables.
class SeedSchemaReader {
 public:
  virtual ~SeedSchemaReader() = default;
  /// The table with its columns, keys and CHECKs; CHECKs of the simple forms
  /// are already folded into the columns' bounds (ApplyCheck).
  virtual Result<SeedTable> ReadTable(std::string_view table) = 0;
  /// Runs after a table was filled, e.g. to move sequences past the values
  /// the generator chose for serial and identity columns.
  virtual Status AfterFill(const SeedTable& table) = 0;
};

/// The reader for `db.engine()`. `db` must outlive it.
std::unique_ptr<SeedSchemaReader> NewSeedSchemaReader(Database& db);
std::unique_ptr<SeedSchemaReader> NewSqliteSeedSchemaReader(Database& db);
std::unique_ptr<SeedSchemaReader> NewPostgresSeedSchemaReader(Database& db);

/// Narrows `table`'s columns by the simple forms of CHECK `expr`: col op N,
/// N op col, col BETWEEN a AND b, col IN (...), col = ANY (ARRAY[...]),
/// length(col) / char_length(col) op N, joined by AND; col op col (<, <=,
/// >, >=) goes into `table.orders`. Casts (::type) are
/// ignored; parts of other forms are left to the insert-and-retry path.
/// Returns whether every part of `expr` was understood.
bool ApplyCheck(std::string_view expr, SeedTable& table);

}  // namespace strata
