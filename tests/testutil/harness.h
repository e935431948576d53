// Test harness: temporary directories, databases of each engine, and runs of
// the strata binary as a user would run it.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/url.h"
#include "strata/database.h"

namespace strata::testing {

/// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  /// Writes `content` to path()/relative, creating parent directories.
  void Write(const std::string& relative, const std::string& content) const;
  void Remove(const std::string& relative) const;

 private:
  std::string path_;
};

/// A database of one engine that exists for the life of the object:
/// SQLite: a file in a temp dir; PostgreSQL: a database created on the
/// server named by STRATA_TEST_PG_URL and dropped afterwards.
class TestDatabase {
 public:
  /// Skips the calling test (GTEST_SKIP semantics are up to the caller) when
  /// PostgreSQL is asked for and STRATA_TEST_PG_URL is unset: check available().
  explicit TestDatabase(Engine engine);
  ~TestDatabase();
  bool available() const { return !url_.empty(); }
  const std::string& url() const { return url_; }
  Engine engine() const { return engine_; }
  /// A new connection.
  std::unique_ptr<Database> Connect() const;

 private:
  Engine engine_;
  TempDir dir_;
  std::string url_;
  std::string admin_url_;
  std::string name_;
};

/// Base of tests run once per engine (instantiate the PostgreSQL suite with
/// the prefix `Postgres`): a fresh database in target_ and a connection to it
/// in db_. Skipped when PostgreSQL is asked for and there is no server.
class EngineTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    target_ = std::make_unique<TestDatabase>(GetParam());
    if (!target_->available()) GTEST_SKIP() << "STRATA_TEST_PG_URL is not set";
    db_ = Connect(*target_);
  }
  /// How db_ connects; a suite may configure the connection.
  virtual std::unique_ptr<Database> Connect(const TestDatabase& target) { return target.Connect(); }
  bool pg() const { return GetParam() == Engine::kPostgres; }

  std::unique_ptr<TestDatabase> target_;
  std::unique_ptr<Database> db_;
};

/// The base URL of the test PostgreSQL server, or "" when there is none.
std::string PostgresTestUrl();

/// PostgreSQL `url` (postgresql://user@host...) connecting as `role` instead.
std::string UrlAsRole(const std::string& url, const std::string& role);

/// Result of one run of the strata binary.
struct CliRun {
  int exit_code = -1;
  int pid = 0;  // the strata process's

  std::string out;
  std::string err;
  std::string all() const { return out + err; }
};

/// Runs strata with `args` in `cwd`, waits, and returns its exit code and output.
CliRun RunStrata(const std::vector<std::string>& args, const std::string& cwd = ".",
                 const std::map<std::string, std::string>& env = {});

/// A strata process running in the background.
class StrataProcess {
 public:
  StrataProcess(const std::vector<std::string>& args, const std::string& cwd = ".");
  ~StrataProcess();
  CliRun Wait();
  void Kill();  // SIGKILL, as a crash would
  void Signal(int sig);
  /// Waits up to `timeout` for `text` to appear in its standard output.
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds timeout);
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  std::string out_path_, err_path_;
  bool waited_ = false;
};

/// Runs one query and returns the first column of every row as text.
std::vector<std::string> Column(Database& db, const std::string& sql);
/// Runs a query returning one integer.
int64_t Scalar(Database& db, const std::string& sql);
/// A stable text description of the user's schema (tables, columns, indexes,
/// views, triggers), for before/after comparisons. Strata's tables excluded.
std::string SchemaDump(Database& db);

}  // namespace strata::testing
