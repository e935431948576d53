// strata_bench: times whole strata commands against the tools a person would
// otherwise use on the same migrations, and prints the figures side by side.
//
// SQLite (always): `strata up` on a fresh file against the sqlite3 shell running
// the same SQL with autocommit and inside one transaction (the floor);
// `strata down --to 0` against the shell running every down script in one
// transaction; `strata status` with everything applied. PostgreSQL (with --pg or
// STRATA_TEST_PG_URL): `strata up` against psql with autocommit, each on a
// database created for the run. When dbmate is found (--dbmate, else PATH), its
// `up` and `status` run on the same migrations in its layout, so strata is
// compared with a peer measured in the same run on the same machine. Every
// result is checked (tables, columns and indexes counted) so a broken run is
// not reported as a fast one.
//
// Exits 0 when everything ran, whatever the targets say; 1 when a command
// failed or left the wrong schema; 2 on bad flags.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "process.h"
#include "report.h"
#include "workload.h"

namespace strata::bench {
namespace {

namespace fs = std::filesystem;

struct Flags {
  int migrations = 1000;
  int reps = 3;
  int status_runs = 20;
  uint32_t seed = 1;
  std::string pg_url;  // empty: STRATA_TEST_PG_URL, else no PostgreSQL part
  std::string strata = STRATA_BINARY;
  std::string sqlite3 = "sqlite3";
  std::string psql = "psql";
  std::string dbmate = "dbmate";  // empty once it is found missing: not timed
  std::string work_dir;  // empty: a fresh temporary directory
  bool keep = false;
};

// Counts what the workload creates; prints "tables columns indexes" like Workload::Shape().
constexpr const char* kSqliteShapeQuery =
    "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'bench\\_t%' "
    "ESCAPE '\\') || ' ' || (SELECT count(*) FROM sqlite_master m, pragma_table_info(m.name) "
    "WHERE m.type = 'table' AND m.name LIKE 'bench\\_t%' ESCAPE '\\') || ' ' || (SELECT "
    "count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'bench\\_i%' ESCAPE '\\');";
constexpr const char* kPostgresShapeQuery =
    "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE "
    "'bench\\_t%') || ' ' || (SELECT count(*) FROM information_schema.columns WHERE "
    "table_schema = 'public' AND table_name LIKE 'bench\\_t%') || ' ' || (SELECT count(*) FROM "
    "pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'bench\\_i%');";
constexpr const char* kEmpty = "0 0 0";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

/// Builds the commands and checks the schema they leave behind.
class Runner {
 public:
  Runner(const Flags& flags, Workload workload, fs::path scratch)
      : flags_(flags), w_(std::move(workload)), scratch_(std::move(scratch)) {}

  const Workload& workload() const { return w_; }
  const fs::path& scratch() const { return scratch_; }

  Command Strata(const std::string& url, std::vector<std::string> args) const {
    std::vector<std::string> argv = {flags_.strata, "--database", url, "--dir", w_.migrations};
    argv.insert(argv.end(), args.begin(), args.end());
    return {argv, "", false};
  }
  Command Sqlite(const fs::path& db, const fs::path& sql) const {
    return {{flags_.sqlite3, "-batch", "-bail", "-init", "/dev/null", db}, sql, false};
  }
  Command Dbmate(std::string url, std::vector<std::string> args) const {
    // dbmate's PostgreSQL driver asks for TLS unless told otherwise.
    if (url.rfind("postgres", 0) == 0 && url.find("sslmode=") == std::string::npos) {
      url += url.find('?') == std::string::npos ? "?sslmode=disable" : "&sslmode=disable";
    }
    std::vector<std::string> argv = {flags_.dbmate, "--url", url, "--migrations-dir",
                                     w_.dbmate, "--no-dump-schema"};
    argv.insert(argv.end(), args.begin(), args.end());
    return {argv, "", false};
  }
  Command Psql(const std::string& url, std::vector<std::string> args) const {
    std::vector<std::string> argv = {flags_.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url};
    argv.insert(argv.end(), args.begin(), args.end());
    return {argv, "", false};
  }

  /// Runs `command` and returns its time.
  Result<double> Time(const Command& command) const {
    STRATA_ASSIGN_OR_RETURN(Outcome outcome, Run(command, scratch_));
    return outcome.seconds;
  }

  /// Fails unless the database holds `expected` ("tables columns indexes").
  Status CheckSqlite(const fs::path& db, const std::string& expected, const char* after) const {
    Command query{{flags_.sqlite3, "-batch", "-bail", "-init", "/dev/null", db, kSqliteShapeQuery},
                  "", true};
    return Check(query, expected, after);
  }
  Status CheckPostgres(const std::string& url, const std::string& expected, const char* after) const {
    Command query = Psql(url, {"-A", "-t", "-c", kPostgresShapeQuery});
    query.capture_stdout = true;
    return Check(query, expected, after);
  }

 private:
  Status Check(const Command& query, const std::string& expected, const char* after) const {
    STRATA_ASSIGN_OR_RETURN(Outcome outcome, Run(query, scratch_));
    std::string got = Trim(outcome.out);
    if (got == expected) return Status::OK();
    return Status(Code::kVerifyFailed,
                  fmt::format("after {}: expected \"{}\" (tables columns indexes), found \"{}\"",
                              after, expected, got));
  }

  const Flags& flags_;
  Workload w_;
  fs::path scratch_;
};

void RemoveSqliteFiles(const fs::path& db) {
  std::error_code ec;
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(db.string() + suffix, ec);
}

Result<std::vector<Row>> MeasureSqlite(const Runner& r, const Flags& flags) {
  const Workload& w = r.workload();
  const fs::path db = r.scratch() / "bench.db";
  const std::string url = "sqlite:" + db.string();
  std::vector<double> strata_up, shell_autocommit, shell_txn, strata_down, shell_down, status;
  std::vector<double> dbmate_up, dbmate_status, shell_history;
  const bool dbmate = !flags.dbmate.empty();

  // Times `command` on a fresh file after the untimed `prepare` (if any), then checks the schema.
  auto measure = [&](std::vector<double>& samples, const Command* prepare, const Command& command,
                     const std::string& expected, const char* what) -> Status {
    RemoveSqliteFiles(db);
    if (prepare) STRATA_RETURN_IF_ERROR(r.Time(*prepare).status());
    STRATA_ASSIGN_OR_RETURN(double seconds, r.Time(command));
    STRATA_RETURN_IF_ERROR(r.CheckSqlite(db, expected, what));
    samples.push_back(seconds);
    return Status::OK();
  };
  const Command up = r.Strata(url, {"up"});
  const Command shell_up_txn = r.Sqlite(db, w.up_one_txn);
  for (int rep = 1; rep <= flags.reps; ++rep) {
    fmt::print(stderr, "SQLite round {}/{}\n", rep, flags.reps);
    STRATA_RETURN_IF_ERROR(measure(strata_up, nullptr, up, w.Shape(), "strata up"));
    STRATA_RETURN_IF_ERROR(measure(shell_autocommit, nullptr, r.Sqlite(db, w.up_sql), w.Shape(),
                                   "the shell's autocommit up"));
    STRATA_RETURN_IF_ERROR(measure(shell_txn, nullptr, shell_up_txn, w.Shape(),
                                   "the shell's one-transaction up"));
    if (dbmate) {
      STRATA_RETURN_IF_ERROR(measure(dbmate_up, nullptr, r.Dbmate(url, {"up"}), w.Shape(), "dbmate up"));
    }
    STRATA_RETURN_IF_ERROR(measure(strata_down, &up, r.Strata(url, {"down", "--to", "0"}), kEmpty,
                                   "strata down --to 0"));
    STRATA_RETURN_IF_ERROR(measure(shell_down, &shell_up_txn, r.Sqlite(db, w.down_one_txn), kEmpty,
                                   "the shell's one-transaction down"));
  }

  // Times `status_runs` runs of `command` after `apply`, each of which must print `applied`.
  auto measure_status = [&](std::vector<double>& samples, const Command& apply, Command command,
                            const std::string& applied) -> Status {
    RemoveSqliteFiles(db);
    STRATA_RETURN_IF_ERROR(r.Time(apply).status());
    command.capture_stdout = true;
    for (int i = 0; i < flags.status_runs; ++i) {
      STRATA_ASSIGN_OR_RETURN(Outcome outcome, Run(command, r.scratch()));
      if (outcome.out.find(applied) == std::string::npos) {
        return Status(Code::kVerifyFailed,
                      fmt::format("{} does not say \"{}\"; it printed:\n{}",
                                  CommandLine(command.argv), applied, outcome.out));
      }
      samples.push_back(outcome.seconds);
    }
    return Status::OK();
  };
  fmt::print(stderr, "SQLite status x{}\n", flags.status_runs);
  STRATA_RETURN_IF_ERROR(measure_status(status, up, r.Strata(url, {"status"}),
                                        fmt::format("{} applied", flags.migrations)));
  // The floor: the shell only reading the rows status shows, on the same
  // database (its start and the parse of the schema's 1000 tables included).
  Command shell_status = r.Sqlite(db, "");
  shell_status.argv.push_back(
      "SELECT version, name, checksum, applied_at, applied_by, duration_ms, status "
      "FROM strata_history ORDER BY version");
  STRATA_RETURN_IF_ERROR(measure_status(shell_history, up, shell_status, "|applied"));
  if (dbmate) {
    STRATA_RETURN_IF_ERROR(measure_status(dbmate_status, r.Dbmate(url, {"up"}),
                                          r.Dbmate(url, {"status"}),
                                          fmt::format("Applied: {}", flags.migrations)));
  }

  const std::string n = fmt::format(" (SQLite, {})", flags.migrations);
  std::vector<Row> rows;
  Row up_floor = Baseline("up" + n, "shell, one transaction", shell_txn);
  rows.push_back(up_floor);
  rows.push_back(Compare("up" + n, "shell, autocommit", shell_autocommit, up_floor));
  if (dbmate) rows.push_back(Compare("up" + n, "dbmate up", dbmate_up, up_floor));
  rows.push_back(Compare("up" + n, "strata up", strata_up, up_floor, 2.5));
  if (dbmate) rows.push_back(Compare("up" + n, "strata up", strata_up, rows[rows.size() - 2]));
  Row down_floor = Baseline("down --to 0" + n, "shell, one transaction", shell_down);
  rows.push_back(down_floor);
  rows.push_back(Compare("down --to 0" + n, "strata down --to 0", strata_down, down_floor, 1.5));
  rows.push_back(Alone("status" + n, "strata status", status, 0.010));
  Row status_floor = Baseline("status" + n, "shell, reading history", shell_history);
  rows.push_back(status_floor);
  rows.push_back(Compare("status" + n, "strata status", status, status_floor));
  if (dbmate) {
    Row peer = Baseline("status" + n, "dbmate status", dbmate_status);
    rows.push_back(peer);
    rows.push_back(Compare("status" + n, "strata status", status, peer));
  }
  return rows;
}

Result<std::vector<Row>> MeasurePostgres(const Runner& r, const Flags& flags) {
  const Workload& w = r.workload();
  const std::string admin = WithDatabase(flags.pg_url, "postgres");
  std::vector<double> strata_up, psql_up, dbmate_up;
  int created = 0;

  // Times `command_for(url)` on a database created for it, checks it, then drops it.
  auto measure = [&](std::vector<double>& samples, auto command_for, const char* what) -> Status {
    std::string name = fmt::format("strata_bench_{}_{}", getpid(), ++created);
    std::string url = WithDatabase(flags.pg_url, name);
    STRATA_RETURN_IF_ERROR(r.Time(r.Psql(admin, {"-c", "CREATE DATABASE " + name})).status());
    Result<double> seconds = r.Time(command_for(url));
    Status checked = seconds.ok() ? r.CheckPostgres(url, w.Shape(), what) : seconds.status();
    Status dropped = r.Time(r.Psql(admin, {"-c", "DROP DATABASE " + name})).status();
    STRATA_RETURN_IF_ERROR(checked);
    STRATA_RETURN_IF_ERROR(dropped);
    samples.push_back(*seconds);
    return Status::OK();
  };
  // The server's state drifts during a run (checkpoints, WAL recycling, the
  // files of dropped databases), so the tools take turns in an order that
  // rotates each round: none is always the first after a drop.
  std::vector<std::function<Status()>> tools = {
      [&] {
        return measure(psql_up, [&](const std::string& url) {
          return r.Psql(url, {"-f", w.up_sql.string()});
        }, "psql's autocommit up");
      },
      [&] {
        return measure(strata_up, [&](const std::string& url) { return r.Strata(url, {"up"}); },
                       "strata up");
      }};
  if (!flags.dbmate.empty()) {
    tools.push_back([&] {
      return measure(dbmate_up, [&](const std::string& url) { return r.Dbmate(url, {"up"}); },
                     "dbmate up");
    });
  }
  for (int rep = 1; rep <= flags.reps; ++rep) {
    fmt::print(stderr, "PostgreSQL round {}/{}\n", rep, flags.reps);
    for (size_t i = 0; i < tools.size(); ++i) {
      STRATA_RETURN_IF_ERROR(tools[(i + static_cast<size_t>(rep) - 1) % tools.size()]());
    }
  }
  const std::string workload = fmt::format("up (PostgreSQL, {})", flags.migrations);
  std::vector<Row> rows;
  Row floor = Baseline(workload, "psql, autocommit", psql_up);
  rows.push_back(floor);
  if (!dbmate_up.empty()) rows.push_back(Compare(workload, "dbmate up", dbmate_up, floor));
  rows.push_back(Compare(workload, "strata up", strata_up, floor, 1.1));
  if (!dbmate_up.empty()) rows.push_back(Compare(workload, "strata up", strata_up, rows[rows.size() - 2]));
  return rows;
}

std::string FirstLine(const Command& command, const fs::path& scratch) {
  Result<Outcome> outcome = Run(command, scratch);
  if (!outcome.ok()) return "(unknown)";
  return Trim(outcome->out.substr(0, outcome->out.find('\n')));
}

int Main(Flags flags) {
  flags.pg_url = PgUrlOrEnv(flags.pg_url);
  if (flags.strata.find('/') != std::string::npos) flags.strata = fs::absolute(flags.strata);
  Result<fs::path> entered = EnterWorkDir(flags.work_dir, "strata-bench");
  if (!entered.ok()) {
    fmt::print(stderr, "strata_bench: {}\n", entered.status().message());
    return 1;
  }
  const fs::path work = *entered;
  std::error_code ec;

  Result<Workload> workload = WriteWorkload(work, flags.migrations, flags.seed);
  if (!workload.ok()) {
    fmt::print(stderr, "strata_bench: {}\n", workload.status().message());
    return 1;
  }
  std::string dbmate_version;
  if (!flags.dbmate.empty()) {
    dbmate_version = FirstLine({{flags.dbmate, "--version"}, "", true}, work);
    if (dbmate_version == "(unknown)") flags.dbmate.clear();
  }
  Runner runner(flags, *workload, work);
  fmt::print("strata_bench: {} migrations ({} tables, {} added columns, {} indexes), median of {} "
             "runs; status median of {}\n", flags.migrations, workload->tables,
             workload->columns - 3 * workload->tables, workload->indexes, flags.reps,
             flags.status_runs);
  fmt::print("  {}\n  sqlite3 {}\n", FirstLine({{flags.strata, "--version"}, "", true}, work),
             FirstLine({{flags.sqlite3, "--version"}, "", true}, work));
  if (!flags.pg_url.empty()) {
    fmt::print("  {}\n", FirstLine({{flags.psql, "--version"}, "", true}, work));
  }
  fmt::print("  {}\n", flags.dbmate.empty() ? "dbmate: not found, not timed (--dbmate PATH)"
                                              : dbmate_version);
  fmt::print("  work directory {}\n\n", work.string());
  std::fflush(stdout);

  Result<std::vector<Row>> rows = MeasureSqlite(runner, flags);
  if (rows.ok() && !flags.pg_url.empty()) {
    Result<std::vector<Row>> pg = MeasurePostgres(runner, flags);
    if (pg.ok()) {
      rows->insert(rows->end(), pg->begin(), pg->end());
    } else {
      rows = pg.status();
    }
  }
  if (!rows.ok()) {
    fmt::print(stderr, "strata_bench: {}\nstrata_bench: work directory kept: {}\n",
               rows.status().message(), work.string());
    return 1;
  }
  PrintTable(*rows);
  if (flags.pg_url.empty()) {
    fmt::print("(PostgreSQL skipped: pass --pg URL or set STRATA_TEST_PG_URL)\n");
  }
  PrintPeers();
  if (!flags.keep && flags.work_dir.empty()) fs::remove_all(work, ec);
  return 0;
}

}  // namespace
}  // namespace strata::bench

int main(int argc, char** argv) {
  strata::bench::Flags flags;
  CLI::App app{"strata_bench: times strata commands against the sqlite3 shell and psql"};
  app.add_option("-n,--migrations", flags.migrations, "how many migrations to generate")
      ->check(CLI::Range(1, 999999));
  app.add_option("--reps", flags.reps, "runs of each up/down workload; the median is reported")
      ->check(CLI::Range(1, 1000));
  app.add_option("--status-runs", flags.status_runs, "runs of strata status")
      ->check(CLI::Range(1, 10000));
  app.add_option("--seed", flags.seed, "picks which earlier table each migration alters");
  app.add_option("--pg", flags.pg_url,
                 "PostgreSQL URL whose server the PostgreSQL part uses (default: "
                 "STRATA_TEST_PG_URL; neither: skipped)");
  app.add_option("--strata", flags.strata, "the strata binary")->capture_default_str();
  app.add_option("--sqlite3", flags.sqlite3, "the sqlite3 shell")->capture_default_str();
  app.add_option("--psql", flags.psql, "psql")->capture_default_str();
  app.add_option("--dbmate", flags.dbmate,
                 "dbmate, timed beside strata when it runs (`npm install dbmate` puts the "
                 "binary in node_modules/@dbmate/linux-x64/bin; node_modules/.bin/dbmate is a "
                 "Node.js wrapper that adds its own start to every run); not found: skipped")
      ->capture_default_str();
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
