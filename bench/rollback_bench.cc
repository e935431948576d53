// rollback_bench: `strata down` of a migration that dropped a column of a
// table of 1,000,000 rows, side by side, in one run, with the raw SQL of the
// same restore run by the sqlite3 shell (and by psql with --pg or
// STRATA_TEST_PG_URL): the down script that re-adds the column and the
// statements Strata recorded to put the captured values back, in one
// transaction. Issue 3's target: strata down <= 1.5x the raw SQL.
//
// Setup, untimed: the table is created and filled by the shell (psql), its
// data fingerprint taken, and the migration applied with `strata up` (which
// captures the column into strata_capture_1_1). Every timed run starts from a
// copy of that state (a file copy; CREATE DATABASE ... TEMPLATE) and is
// checked afterwards: the table's data fingerprint must equal the one taken
// before the migration, so a fast but lossy restore fails the run. One
// `strata fingerprint --table users` is timed too, for information: strata
// down hashes the table twice (before, to see whether the application wrote
// to it since; after, to prove the rollback).
//
// Exits 0 when everything ran (PASS or FAIL alike), 1 when a command failed
// or a restore was wrong, 2 on bad flags.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "process.h"
#include "report.h"

namespace strata::bench {
namespace {

namespace fs = std::filesystem;

struct Flags {
  int64_t rows = 1000000;
  int reps = 3;
  std::string pg_url;  // empty: STRATA_TEST_PG_URL, else no PostgreSQL part
  std::string strata = STRATA_BINARY;
  std::string sqlite3 = "sqlite3";
  std::string psql = "psql";
  std::string work_dir;  // empty: a fresh temporary directory
  bool keep = false;
};

constexpr const char* kUpScript = "ALTER TABLE users DROP COLUMN legacy_note;\n";
constexpr const char* kDownScript = "ALTER TABLE users ADD COLUMN legacy_note TEXT;\n";

/// One engine: how to build the table, copy and drop a database, run SQL.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string Name() const = 0;
  /// The table users with `rows` rows; legacy_note holds NULL, '' and text.
  virtual std::string CreateUsersSql(int64_t rows) const = 0;
  /// Creates the empty database the setup builds on; its URL.
  virtual Result<std::string> CreateTemplate() = 0;
  /// A new database holding what the template holds; its URL.
  virtual Result<std::string> Copy(int n) = 0;
  virtual Status Drop(const std::string& url) = 0;
  /// Runs the SQL file `sql` on `url` and stops at the first error.
  virtual Command RunSql(const std::string& url, const fs::path& sql) const = 0;
  /// Prints the single value `query` selects.
  virtual Command Select(const std::string& url, const std::string& query) const = 0;
  /// The baseline's label.
  virtual std::string Shell() const = 0;
};

class SqliteEngine final : public Engine {
 public:
  SqliteEngine(const Flags& flags, fs::path dir) : flags_(flags), dir_(std::move(dir)) {}
  std::string Name() const override { return "SQLite"; }
  std::string CreateUsersSql(int64_t rows) const override {
    return fmt::format(
        "PRAGMA journal_mode=OFF;\nPRAGMA synchronous=OFF;\n"
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT, created "
        "TEXT, legacy_note TEXT);\n"
        "INSERT INTO users WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT "
        "{}) SELECT x, 'user' || x || '@example.com', 'name ' || (x * 7919 % 100000), "
        "'2024-01-01', CASE WHEN x % 10 = 0 THEN NULL WHEN x % 17 = 0 THEN '' ELSE 'note ' || "
        "hex(randomblob(12)) END FROM c;\n",
        rows);
  }
  Result<std::string> CreateTemplate() override {
    Remove(template_);
    return "sqlite:" + template_.string();
  }
  Result<std::string> Copy(int n) override {
    fs::path copy = dir_ / fmt::format("run-{}.db", n);
    Remove(copy);
    std::error_code ec;
    fs::copy_file(template_, copy, ec);
    if (ec) return Status(Code::kInternal, fmt::format("copying {}: {}", template_.string(), ec.message()));
    return "sqlite:" + copy.string();
  }
  Status Drop(const std::string& url) override {
    Remove(Path(url));
    return Status::OK();
  }
  Command RunSql(const std::string& url, const fs::path& sql) const override {
    return {{flags_.sqlite3, "-batch", "-bail", "-init", "/dev/null", Path(url)}, sql, false};
  }
  Command Select(const std::string& url, const std::string& query) const override {
    return {{flags_.sqlite3, "-batch", "-bail", "-init", "/dev/null", Path(url), query}, "", true};
  }
  std::string Shell() const override { return "sqlite3 shell, raw SQL"; }

 private:
  static std::string Path(const std::string& url) { return url.substr(url.find(':') + 1); }
  static void Remove(const fs::path& db) {
    std::error_code ec;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(db.string() + suffix, ec);
  }
  const Flags& flags_;
  fs::path dir_;
  fs::path template_ = dir_ / "applied.db";
};

class PostgresEngine final : public Engine {
 public:
  PostgresEngine(const Flags& flags, fs::path scratch)
      : flags_(flags), scratch_(std::move(scratch)), admin_(WithDatabase(flags.pg_url, "postgres")),
        template_(fmt::format("strata_rollback_bench_{}", getpid())) {}
  ~PostgresEngine() override {
    if (created_) Drop(WithDatabase(flags_.pg_url, template_)).IgnoreError();
  }
  std::string Name() const override { return "PostgreSQL"; }
  std::string CreateUsersSql(int64_t rows) const override {
    return fmt::format(
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text, created "
        "text, legacy_note text);\n"
        "INSERT INTO users SELECT x, 'user' || x || '@example.com', 'name ' || (x * 7919 % "
        "100000), '2024-01-01', CASE WHEN x % 10 = 0 THEN NULL WHEN x % 17 = 0 THEN '' ELSE "
        "'note ' || md5(x::text) END FROM generate_series(1::bigint, {}) AS x;\n"
        "VACUUM ANALYZE users;\n",
        rows);
  }
  Result<std::string> CreateTemplate() override {
    STRATA_RETURN_IF_ERROR(Admin("CREATE DATABASE " + template_));
    created_ = true;
    return WithDatabase(flags_.pg_url, template_);
  }
  Result<std::string> Copy(int n) override {
    std::string name = fmt::format("{}_{}", template_, n);
    STRATA_RETURN_IF_ERROR(Admin(fmt::format("DROP DATABASE IF EXISTS {}", name)));
    STRATA_RETURN_IF_ERROR(Admin(fmt::format("CREATE DATABASE {} TEMPLATE {}", name, template_)));
    return WithDatabase(flags_.pg_url, name);
  }
  Status Drop(const std::string& url) override {
    std::string name = url.substr(url.rfind('/') + 1);
    name = name.substr(0, name.find('?'));
    return Admin("DROP DATABASE IF EXISTS " + name);
  }
  Command RunSql(const std::string& url, const fs::path& sql) const override {
    return {{flags_.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", sql}, "", false};
  }
  Command Select(const std::string& url, const std::string& query) const override {
    return {{flags_.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", query},
            "",
            true};
  }
  std::string Shell() const override { return "psql, raw SQL"; }

 private:
  Status Admin(const std::string& sql) {
    Command c = Select(admin_, sql);
    c.capture_stdout = false;
    return Run(c, scratch_).status();
  }
  const Flags& flags_;
  fs::path scratch_;
  std::string admin_, template_;
  bool created_ = false;
};

/// Times strata down and the raw restore on one engine.
class Measurement {
 public:
  Measurement(const Flags& flags, Engine& engine, fs::path dir)
      : flags_(flags), e_(engine), dir_(std::move(dir)) {}

  Result<std::vector<Row>> Run() {
    STRATA_RETURN_IF_ERROR(Setup());
    std::vector<double> raw, down, hash;
    for (int rep = 1; rep <= flags_.reps; ++rep) {
      fmt::print(stderr, "{} round {}/{}\n", e_.Name(), rep, flags_.reps);
      STRATA_ASSIGN_OR_RETURN(
          double r, Timed([&](const std::string& url) { return e_.RunSql(url, raw_sql_); }, true));
      raw.push_back(r);
      STRATA_ASSIGN_OR_RETURN(
          double d, Timed([&](const std::string& url) { return Strata(url, {"down"}); }, true));
      down.push_back(d);
      STRATA_ASSIGN_OR_RETURN(double h, Timed([&](const std::string& url) {
        return Strata(url, {"fingerprint", "--data", "--table", "users"});
      }, false));
      hash.push_back(h);
    }
    const std::string workload = fmt::format("rollback ({})", e_.Name());
    std::vector<Row> rows;
    Row floor = Baseline(workload, e_.Shell(), raw);
    rows.push_back(floor);
    rows.push_back(Compare(workload, "strata down", down, floor, 1.5));
    rows.push_back(Compare(workload, "(one data hash of users)", hash, floor));
    return rows;
  }

  const std::string& raw_sql_text() const { return raw_text_; }

 private:
  /// Builds the table, takes its fingerprint and applies the migration.
  Status Setup() {
    fs::path migrations = dir_ / "migrations";
    fs::create_directories(migrations);
    std::ofstream(migrations / "0001_drop_legacy_note.up.sql") << kUpScript;
    std::ofstream(migrations / "0001_drop_legacy_note.down.sql") << kDownScript;
    fs::path create = dir_ / "create_users.sql";
    std::ofstream(create) << e_.CreateUsersSql(flags_.rows);
    fmt::print(stderr, "{}: building {} rows and applying the migration\n", e_.Name(), flags_.rows);
    STRATA_ASSIGN_OR_RETURN(template_url_, e_.CreateTemplate());
    STRATA_RETURN_IF_ERROR(bench::Run(e_.RunSql(template_url_, create), dir_).status());
    STRATA_ASSIGN_OR_RETURN(expected_, UsersHash(template_url_));
    STRATA_RETURN_IF_ERROR(
        bench::Run(Strata(template_url_, {"up", "--no-snapshot"}), dir_).status());
    STRATA_ASSIGN_OR_RETURN(
        Outcome recorded,
        bench::Run(e_.Select(template_url_, "SELECT down_script || restore_script FROM "
                                            "strata_history WHERE version = 1"),
                   dir_));
    if (recorded.out.find("strata_capture_1_1") == std::string::npos) {
      return Status(Code::kVerifyFailed,
                    "strata up recorded no restore from strata_capture_1_1:\n" + recorded.out);
    }
    while (!recorded.out.empty() && recorded.out.back() == '\n') recorded.out.pop_back();
    raw_text_ = "BEGIN;\n" + recorded.out + "\nCOMMIT;\n";
    raw_sql_ = dir_ / fmt::format("restore-{}.sql", e_.Name());
    std::ofstream(raw_sql_) << raw_text_;
    return Status::OK();
  }

  Command Strata(const std::string& url, std::vector<std::string> args) const {
    std::vector<std::string> argv = {flags_.strata, "--database", url, "--dir",
                                     (dir_ / "migrations").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return {argv, "", false};
  }

  /// The data fingerprint of users on `url`, by strata.
  Result<std::string> UsersHash(const std::string& url) const {
    Command c = Strata(url, {"fingerprint", "--data", "--json", "--table", "users"});
    c.capture_stdout = true;
    STRATA_ASSIGN_OR_RETURN(Outcome o, bench::Run(c, dir_));
    auto j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("data") || j["data"]["tables"].size() != 1) {
      return Status(Code::kVerifyFailed, "strata fingerprint printed no data fingerprint:\n" + o.out);
    }
    const auto& t = j["data"]["tables"][0];
    if (t.value("rows", int64_t{-1}) != flags_.rows) {
      return Status(Code::kVerifyFailed,
                    fmt::format("users has {} rows, not {}", t.value("rows", int64_t{-1}), flags_.rows));
    }
    return t.value("hash", "");
  }

  /// Runs `command_for(url)` on a fresh copy of the applied state; when
  /// `restores`, checks that users is back as it was before the migration.
  Result<double> Timed(const std::function<Command(const std::string&)>& command_for,
                       bool restores) {
    STRATA_ASSIGN_OR_RETURN(std::string url, e_.Copy(++copies_));
    const Command command = command_for(url);
    Result<Outcome> o = bench::Run(command, dir_);
    Result<std::string> now = o.ok() && restores ? UsersHash(url) : std::string();
    Status dropped = e_.Drop(url);
    STRATA_RETURN_IF_ERROR(o.status());
    STRATA_RETURN_IF_ERROR(now.status());
    STRATA_RETURN_IF_ERROR(dropped);
    if (restores && *now != expected_) {
      return Status(Code::kVerifyFailed,
                    fmt::format("after `{}` users hashes {}, before the migration it hashed {}",
                                CommandLine(command.argv), *now, expected_));
    }
    return o->seconds;
  }

  const Flags& flags_;
  Engine& e_;
  fs::path dir_;
  std::string template_url_, expected_, raw_text_;
  fs::path raw_sql_;
  int copies_ = 0;
};

int Main(Flags flags) {
  flags.pg_url = PgUrlOrEnv(flags.pg_url);
  if (flags.strata.find('/') != std::string::npos) flags.strata = fs::absolute(flags.strata);
  Result<fs::path> entered = EnterWorkDir(flags.work_dir, "strata-rollback-bench");
  if (!entered.ok()) {
    fmt::print(stderr, "rollback_bench: {}\n", entered.status().message());
    return 1;
  }
  const fs::path work = *entered;
  std::error_code ec;

  std::vector<Row> rows;
  std::vector<std::pair<std::string, std::string>> scripts;  // engine, raw SQL
  auto measure = [&](Engine& engine) -> Status {
    fs::path dir = work / engine.Name();
    fs::create_directories(dir);
    Measurement m(flags, engine, dir);
    STRATA_ASSIGN_OR_RETURN(std::vector<Row> more, m.Run());
    rows.insert(rows.end(), more.begin(), more.end());
    scripts.emplace_back(engine.Name(), m.raw_sql_text());
    return Status::OK();
  };
  SqliteEngine sqlite(flags, work / "SQLite");
  Status s = measure(sqlite);
  if (s.ok() && !flags.pg_url.empty()) {
    PostgresEngine postgres(flags, work);
    s = measure(postgres);
  }
  if (!s.ok()) {
    fmt::print(stderr, "rollback_bench: {}\nrollback_bench: work directory kept: {}\n",
               s.message(), work.string());
    return 1;
  }
  fmt::print("rollback_bench: a migration that dropped a column of {} rows, rolled back; median "
             "of {} runs, each on a fresh copy, each checked against the data fingerprint taken "
             "before the migration\n",
             flags.rows, flags.reps);
  for (const auto& [engine, sql] : scripts) fmt::print("raw SQL ({}):\n{}", engine, sql);
  fmt::print("\n");
  PrintTable(rows);
  if (flags.pg_url.empty()) {
    fmt::print("(PostgreSQL skipped: pass --pg URL or set STRATA_TEST_PG_URL)\n");
  }
  if (!flags.keep && flags.work_dir.empty()) fs::remove_all(work, ec);
  return 0;
}

}  // namespace
}  // namespace strata::bench

int main(int argc, char** argv) {
  strata::bench::Flags flags;
  CLI::App app{"rollback_bench: strata down of a dropped column against the raw restore SQL"};
  app.add_option("--rows", flags.rows, "rows in the table whose column is dropped")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--reps", flags.reps, "runs of each; the median is reported")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--pg", flags.pg_url,
                 "PostgreSQL URL whose server the PostgreSQL part uses (default: "
                 "STRATA_TEST_PG_URL; neither: skipped)");
  app.add_option("--strata", flags.strata, "the strata binary")->capture_default_str();
  app.add_option("--sqlite3", flags.sqlite3, "the sqlite3 shell")->capture_default_str();
  app.add_option("--psql", flags.psql, "psql")->capture_default_str();
  app.add_option("--work-dir", flags.work_dir, "where to write migrations and databases "
                 "(default: a new temporary directory, removed afterwards)");
  app.add_flag("--keep", flags.keep, "keep the temporary work directory");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return strata::bench::Main(flags);
}
