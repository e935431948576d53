#include "workload.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <vector>

#include <fmt/format.h>

namespace strata::bench {
namespace {

struct Table {
  std::string name;
  std::vector<std::string> columns;  // those an index may use
};

Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status(Code::kIOError, fmt::format("cannot write {}", path.string()));
  return Status::OK();
}

}  // namespace

std::string Workload::Shape() const { return fmt::format("{} {} {}", tables, columns, indexes); }

Result<Workload> WriteWorkload(const std::filesystem::path& root, int count, uint32_t seed) {
  Workload w;
  w.migrations = root / "migrations";
  w.dbmate = root / "dbmate";
  w.up_sql = root / "up.sql";
  w.up_one_txn = root / "up_one_txn.sql";
  w.down_one_txn = root / "down_one_txn.sql";
  std::error_code ec;
  for (const auto& dir : {w.migrations, w.dbmate}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status(Code::kIOError, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  }

  std::mt19937 rng(seed);
  auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  const int width = std::max<int>(4, fmt::format("{}", count).size());
  std::vector<Table> tables;
  std::string ups, downs;  // downs built newest first
  for (int i = 1; i <= count; ++i) {
    std::string name, up, down;
    int kind = tables.empty() ? 0 : (i - 1) % 3;
    if (kind == 0) {
      std::string t = fmt::format("bench_t{:0{}}", i, width);
      name = "create_" + t;
      up = fmt::format("CREATE TABLE {} (\n  id INTEGER PRIMARY KEY,\n  name TEXT NOT NULL,\n"
                       "  created_at TEXT\n);\n", t);
      down = fmt::format("DROP TABLE {};\n", t);
      tables.push_back({t, {"name", "created_at"}});
      w.tables += 1;
      w.columns += 3;
    } else if (kind == 1) {
      Table& t = tables[pick(tables.size())];
      std::string c = fmt::format("c{:0{}}", i, width);
      name = fmt::format("add_{}_to_{}", c, t.name);
      up = fmt::format("ALTER TABLE {} ADD COLUMN {} INTEGER;\n", t.name, c);
      down = fmt::format("ALTER TABLE {} DROP COLUMN {};\n", t.name, c);
      t.columns.push_back(c);
      w.columns += 1;
    } else {
      const Table& t = tables[pick(tables.size())];
      const std::string& c = t.columns[pick(t.columns.size())];
      std::string index = fmt::format("bench_i{:0{}}", i, width);
      name = fmt::format("index_{}_{}", t.name, c);
      up = fmt::format("CREATE INDEX {} ON {} ({});\n", index, t.name, c);
      down = fmt::format("DROP INDEX {};\n", index);
      w.indexes += 1;
    }
    std::string stem = fmt::format("{:0{}}_{}", i, width, name);
    STRATA_RETURN_IF_ERROR(WriteFile(w.migrations / (stem + ".up.sql"), up));
    STRATA_RETURN_IF_ERROR(WriteFile(w.migrations / (stem + ".down.sql"), down));
    STRATA_RETURN_IF_ERROR(
        WriteFile(w.dbmate / (stem + ".sql"), "-- migrate:up\n" + up + "\n-- migrate:down\n" + down));
    ups += up;
    downs.insert(0, down);
  }
  STRATA_RETURN_IF_ERROR(WriteFile(w.up_sql, ups));
  STRATA_RETURN_IF_ERROR(WriteFile(w.up_one_txn, "BEGIN;\n" + ups + "COMMIT;\n"));
  STRATA_RETURN_IF_ERROR(WriteFile(w.down_one_txn, "BEGIN;\n" + downs + "COMMIT;\n"));
  return w;
}

}  // namespace strata::bench
