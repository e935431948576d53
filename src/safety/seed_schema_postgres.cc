// SeedSchemaReader for PostgreSQL: pg_attribute and format_type for columns,
// pg_constraint for keys and CHECKs, pg_index for unique indexes without a
// constraint, pg_enum for enum labels. Tables are in current_schema().
#include <map>

#include <fmt/format.h>

#include "safety/seed_schema.h"

namespace strata {
namespace {

constexpr char kColumnsSql[] =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), bt.typname, bt.typtype,"
    "       (a.attnotnull OR t.typnotnull)::int, a.atthasdef::int, a.attidentity::text,"
    "       a.attgenerated::text, bt.oid::bigint,"
    "       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,"
    "       pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)"
    " FROM pg_catalog.pg_attribute a"
    " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
    " JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
    " WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY a.attnum";

// Column lists are joined with chr(31), which no sane column name contains.
constexpr char kConstraintsSql[] =
    "SELECT con.conname, con.contype::text, pg_get_constraintdef(con.oid),"
    "       (SELECT string_agg(a.attname, chr(31) ORDER BY k.ord)"
    "          FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)"
    "          JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),"
    "       pc.relname,"
    "       (SELECT string_agg(a.attname, chr(31) ORDER BY k.ord)"
    "          FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)"
    "          JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum)"
    " FROM pg_catalog.pg_constraint con"
    " JOIN pg_catalog.pg_class c ON c.oid = con.conrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_catalog.pg_class pc ON pc.oid = con.confrelid"
    " WHERE n.nspname = current_schema() AND c.relname = $1 AND con.contype IN ('p', 'u', 'f', 'c')"
    // A foreign key to a partitioned table has a clone on the same table
    // for each partition of the one it references (maybe of another
    // schema): the key to the parent holds for them all.
    "   AND NOT (con.contype = 'f' AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint pcon"
    "     WHERE pcon.oid = con.conparentid AND pcon.conrelid = con.conrelid))"
    " ORDER BY con.contype <> 'p', con.conname";

constexpr char kUniqueIndexesSql[] =
    "SELECT (SELECT string_agg(a.attname, chr(31) ORDER BY k.ord)"
    "          FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
    "          JOIN pg_catalog.pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum"
    "         WHERE k.ord <= ix.indnkeyatts),"
    "       (0 = ANY (ix.indkey::int2[]))::int"
    " FROM pg_catalog.pg_index ix"
    " JOIN pg_catalog.pg_class i ON i.oid = ix.indexrelid"
    " JOIN pg_catalog.pg_class c ON c.oid = ix.indrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relname = $1 AND ix.indisunique"
    "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con WHERE con.conindid = ix.indexrelid)"
    " ORDER BY i.relname";

constexpr char kParentSql[] =
    "SELECT p.relname FROM pg_catalog.pg_inherits i"
    " JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_catalog.pg_class p ON p.oid = i.inhparent"
    " WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relispartition";

constexpr char kEnumLabelsSql[] =
    "SELECT enumlabel FROM pg_catalog.pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder";

std::vector<std::string> SplitNames(const Value& v) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  std::string_view s = v.text();
  for (;;) {
    size_t sep = s.find('\x1f');
    out.emplace_back(s.substr(0, sep));
    if (sep == std::string_view::npos) break;
    s.remove_prefix(sep + 1);
  }
  return out;
}

/// Fills in the kind and ranges of `c` from its base type's name and typmod.
void Classify(SeedColumn& c, const std::string& type, const std::string& typtype, int64_t typmod) {
  auto range = [&](int64_t lo, int64_t hi) {
    c.kind = SeedKind::kInteger;
    c.min = lo;
    c.max = hi;
  };
  if (typtype == "e") c.kind = SeedKind::kEnum;
  else if (type == "int2") range(-32768, 32767);
  else if (type == "int4") range(INT32_MIN, INT32_MAX);
  else if (type == "int8") range(INT64_MIN, INT64_MAX);
  else if (type == "float4") { c.kind = SeedKind::kReal; c.narrow_real = true; }
  else if (type == "float8") c.kind = SeedKind::kReal;
  else if (type == "numeric") {
    c.kind = SeedKind::kNumeric;
    if (typmod >= 4) {
      int precision = static_cast<int>(((typmod - 4) >> 16) & 0xFFFF);
      c.numeric_scale = static_cast<int>((typmod - 4) & 0xFFFF);
      c.numeric_int_digits = precision - c.numeric_scale;
    } else {
      c.numeric_int_digits = 20;
      c.numeric_scale = 6;
    }
  } else if (type == "text" || type == "varchar" || type == "bpchar" || type == "citext" || type == "name") {
    c.kind = SeedKind::kText;
    if ((type == "varchar" || type == "bpchar") && typmod >= 4) c.max_length = typmod - 4;
    if (type == "name") c.max_length = 63;
  } else if (type == "bool") c.kind = SeedKind::kBool;
  else if (type == "bytea") c.kind = SeedKind::kBlob;
  else if (type == "date") c.kind = SeedKind::kDate;
  else if (type == "time" || type == "timetz") c.kind = SeedKind::kTime;
  else if (type == "timestamp" || type == "timestamptz") c.kind = SeedKind::kTimestamp;
  else if (type == "uuid") c.kind = SeedKind::kUuid;
  else if (type == "json" || type == "jsonb") c.kind = SeedKind::kJson;
  else c.kind = SeedKind::kUnsupported;
}

class PostgresSeedSchemaReader : public SeedSchemaReader {
 public:
  explicit PostgresSeedSchemaReader(Database& db) : db_(db) {}

  Result<SeedTable> ReadTable(std::string_view name) override {
    SeedTable table;
    table.name = std::string(name);
    const Value tv{table.name};
    STRATA_ASSIGN_OR_RETURN(Rows parent, db_.Query(kParentSql, {tv}));
    if (!parent.empty()) table.partition_of = parent.rows[0][0].ToString();
    STRATA_ASSIGN_OR_RETURN(Rows cols, db_.Query(kColumnsSql, {tv}));
    std::vector<std::string>& sequenced = sequenced_[table.name];
    for (const auto& r : cols.rows) {
      SeedColumn c;
      c.name = r[0].ToString();
      c.type = r[1].ToString();
      Classify(c, r[2].ToString(), r[3].ToString(), r[9].ToInt(-1));
      c.not_null = r[4].ToInt() != 0;
      std::string identity = r[6].ToString();
      c.has_default = r[5].ToInt() != 0 || !identity.empty();
      c.skip = identity == "a" || !r[7].ToString().empty();
      c.auto_increment = !r[10].is_null();
      if (c.auto_increment && !c.skip) sequenced.push_back(c.name);
      if (c.kind == SeedKind::kEnum) {
        STRATA_ASSIGN_OR_RETURN(Rows labels, db_.Query(kEnumLabelsSql, {Value(r[8].ToInt())}));
        for (const auto& l : labels.rows) c.allowed.push_back(l[0].ToString());
      }
      table.columns.push_back(std::move(c));
    }
    STRATA_ASSIGN_OR_RETURN(Rows cons, db_.Query(kConstraintsSql, {tv}));
    for (const auto& r : cons.rows) {
      const std::string type = r[1].ToString();
      if (type == "p" || type == "u") {
        table.unique_keys.push_back(SplitNames(r[3]));
      } else if (type == "f") {
        table.foreign_keys.push_back(
            SeedForeignKey{r[0].ToString(), SplitNames(r[3]), r[4].ToString(), SplitNames(r[5])});
      } else {
        std::string def = r[2].ToString();
        if (def.rfind("CHECK ", 0) == 0) def.erase(0, 6);
        constexpr std::string_view kNotValid = " NOT VALID";
        if (def.ends_with(kNotValid)) def.resize(def.size() - kNotValid.size());
        table.checks.push_back(SeedCheck{r[0].ToString(), def});
      }
    }
    STRATA_ASSIGN_OR_RETURN(Rows indexes, db_.Query(kUniqueIndexesSql, {tv}));
    for (const auto& r : indexes.rows) {
      if (r[1].ToInt() == 0 && !r[0].is_null()) table.unique_keys.push_back(SplitNames(r[0]));
    }
    for (const SeedCheck& check : table.checks) ApplyCheck(check.expr, table);
    return table;
  }

  /// Moves each serial or identity sequence past the largest value seeded,
  /// so the application's next insert does not collide with a seeded row.
  Status AfterFill(const SeedTable& table) override {
    for (const std::string& column : sequenced_[table.name]) {
      std::string sql = fmt::format(
          "SELECT setval(pg_get_serial_sequence($1, $2), m) FROM (SELECT max({}) AS m FROM {}) s "
          "WHERE m IS NOT NULL",
          db_.QuoteIdent(column), db_.QuoteIdent(table.name));
      STRATA_RETURN_IF_ERROR(db_.Query(sql, {Value(db_.QuoteIdent(table.name)), Value(column)}).status());
    }
    return Status::OK();
  }

 private:
  Database& db_;
  std::map<std::string, std::vector<std::string>> sequenced_;
};

}  // namespace

std::unique_ptr<SeedSchemaReader> NewPostgresSeedSchemaReader(Database& db) {
  return std::make_unique<PostgresSeedSchemaReader>(db);
}

}  // namespace strata
