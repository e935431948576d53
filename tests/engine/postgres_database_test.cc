// Tests of the PostgreSQL engine against a real server.
//
// They need STRATA_TEST_PG_URL (scripts/with_postgres.sh sets it) and skip
// without it, except those that need no server. Each test works in a schema
// of its own, dropped afterwards, so the tests can run repeatedly, in any
// order and from several processes at once. Suites are named Postgres* so
// the sanitizer run can filter them out.

#include "engine/postgres/postgres_database.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/url.h"

namespace strata {
namespace {

using std::chrono::milliseconds;

std::string TestUrl() {
  const char* url = std::getenv("STRATA_TEST_PG_URL");
  return url ? url : "";
}

/// `url` with `key=value` added to its query string.
std::string WithParam(const std::string& url, const std::string& param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

/// Retries TryLock for a few seconds: the server releases the lock of a closed
/// session asynchronously, and other test processes may hold it briefly.
bool AcquireSoon(Database& db, const LockOwner& owner) {
  for (int i = 0; i < 200; ++i) {
    auto attempt = db.TryLock(owner);
    EXPECT_TRUE(attempt.ok()) << attempt.status().message();
    if (!attempt.ok()) return false;
    if (attempt->acquired) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class PostgresDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = TestUrl();
    if (url_.empty()) {
      GTEST_SKIP() << "STRATA_TEST_PG_URL is not set; run under scripts/with_postgres.sh";
    }
    db_ = Open();
    ASSERT_NE(db_, nullptr);
    schema_ = "strata_pgtest_" + std::to_string(getpid());
    Run("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    Run("CREATE SCHEMA " + schema_);
    Run("SET search_path TO " + schema_);
  }

  void TearDown() override {
    if (db_ == nullptr) return;
    EXPECT_TRUE(db_->Rollback().ok());
    Run("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }

  /// A new connection to the test database, or null after a test failure.
  std::unique_ptr<Database> Open() {
    auto db = OpenPostgres(url_);
    EXPECT_TRUE(db.ok()) << db.status().message();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  void Run(const std::string& sql) {
    Status s = db_->Exec(sql);
    EXPECT_TRUE(s.ok()) << sql << ": " << s.message();
  }

  Rows Select(const std::string& sql, const std::vector<Value>& params = {}) {
    auto rows = db_->Query(sql, params);
    EXPECT_TRUE(rows.ok()) << sql << ": " << rows.status().message();
    return rows.ok() ? rows.value() : Rows();
  }

  /// The single cell of a one-row, one-column query.
  Value One(const std::string& sql, const std::vector<Value>& params = {}) {
    Rows rows = Select(sql, params);
    EXPECT_EQ(rows.size(), 1u) << sql;
    if (rows.size() != 1 || rows.rows[0].size() != 1) return Value();
    return rows.rows[0][0];
  }

  bool Exists(const std::string& table) {
    auto exists = db_->TableExists(table);
    EXPECT_TRUE(exists.ok()) << exists.status().message();
    return exists.ok() && exists.value();
  }

  std::string url_;
  std::string schema_;
  std::unique_ptr<Database> db_;
};

TEST_F(PostgresDatabaseTest, DescribesItself) {
  EXPECT_EQ(db_->engine(), Engine::kPostgres);
  EXPECT_EQ(db_->Describe(), RedactUrl(url_));
}

TEST_F(PostgresDatabaseTest, RoundTripsEveryValueType) {
  Run("SET TIME ZONE 'UTC'");
  Run("CREATE TABLE cells (id int PRIMARY KEY, i bigint, s smallint,"
      " r double precision, f real, t text, b bytea, n numeric, ok boolean,"
      " ts timestamptz)");
  const std::string insert = "INSERT INTO cells VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
  const Blob bytes{std::string("\0a\0\xff\x01", 5)};
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  ASSERT_TRUE(db_->Query(insert, {1, kMin, 7, 0.1, 1.5, "O'Brien \"q\" \xc3\xbc", bytes,
                                  "12.50", "true", "2026-01-02 03:04:05+00"})
                  .ok());
  ASSERT_TRUE(db_->Query(insert, {2, nullptr, nullptr, nullptr, nullptr, "", Blob{},
                                  nullptr, nullptr, nullptr})
                  .ok());
  ASSERT_TRUE(db_->Query(insert, {3, nullptr, nullptr, nullptr, nullptr, nullptr,
                                  nullptr, nullptr, nullptr, nullptr})
                  .ok());

  Rows rows = Select("SELECT * FROM cells ORDER BY id");
  EXPECT_EQ(rows.columns, (std::vector<std::string>{"id", "i", "s", "r", "f", "t", "b",
                                                     "n", "ok", "ts"}));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows.rows[0], (std::vector<Value>{1, kMin, 7, 0.1, 1.5,
                                              "O'Brien \"q\" \xc3\xbc", bytes, "12.50", "t",
                                              "2026-01-02 03:04:05+00"}));
  // Empty text and an empty blob are values, not NULL.
  EXPECT_EQ(rows.rows[1][5], Value(""));
  EXPECT_EQ(rows.rows[1][6], Value(Blob{}));
  EXPECT_TRUE(rows.rows[1][1].is_null());
  for (size_t c = 1; c < rows.rows[2].size(); ++c) {
    EXPECT_TRUE(rows.rows[2][c].is_null()) << rows.columns[c];
  }
}

TEST_F(PostgresDatabaseTest, MapsColumnTypesToValues) {
  EXPECT_EQ(One("SELECT 2147483647::int4"), Value(2147483647));
  EXPECT_EQ(One("SELECT 'pg_class'::regclass::oid"), Value(1259));
  EXPECT_EQ(One("SELECT 1e300::float8"), Value(1e300));
  EXPECT_TRUE(std::isnan(One("SELECT 'NaN'::float8").real()));
  EXPECT_EQ(One("SELECT '-Infinity'::float8"), Value(-INFINITY));
  EXPECT_EQ(One("SELECT $1::float8 = 'Infinity'", {INFINITY}), Value("t"));
  EXPECT_EQ(One("SELECT 1.50::numeric"), Value("1.50"));
  EXPECT_EQ(One("SELECT '\\x00ff'::bytea"), Value(Blob{std::string("\0\xff", 2)}));
  Run("SET bytea_output = escape");
  EXPECT_EQ(One("SELECT '\\x00ff41'::bytea"), Value(Blob{std::string("\0\xff" "A", 3)}));
  // Untyped parameters are inferred as text by the server.
  EXPECT_EQ(One("SELECT $1", {42}), Value("42"));
}

TEST_F(PostgresDatabaseTest, BindsParameters) {
  Rows sum = Select("SELECT $1::bigint + $2::bigint AS total", {2, int64_t{3}});
  EXPECT_EQ(sum.columns, std::vector<std::string>{"total"});
  ASSERT_EQ(sum.size(), 1u);
  EXPECT_EQ(sum.rows[0][0], Value(5));

  Rows nulls = Select("SELECT $1::text IS NULL, $2::text IS NULL, $2::text = ''",
                      {nullptr, ""});
  ASSERT_EQ(nulls.size(), 1u);
  EXPECT_EQ(nulls.rows[0], (std::vector<Value>{"t", "f", "t"}));

  Run("CREATE TABLE names (name text)");
  const std::string nasty = "x'); DROP TABLE names; --";
  ASSERT_TRUE(db_->Query("INSERT INTO names VALUES ($1)", {nasty}).ok());
  EXPECT_EQ(One("SELECT name FROM names WHERE name = $1", {nasty}), Value(nasty));

  EXPECT_EQ(One("SELECT $1::float8", {0.1 + 0.2}), Value(0.1 + 0.2));
  EXPECT_EQ(One("SELECT octet_length($1)", {Blob{std::string(3, '\0')}}), Value(3));

  auto wrong_count = db_->Query("SELECT $1::int + $2::int", {1});
  EXPECT_EQ(wrong_count.status().code(), Code::kDatabase);
}

TEST_F(PostgresDatabaseTest, ErrorsCarrySqlstateDetailAndHint) {
  Status missing = db_->Exec("SELECT * FROM no_such_table");
  EXPECT_EQ(missing.code(), Code::kDatabase);
  EXPECT_EQ(missing.message(), "relation \"no_such_table\" does not exist (SQLSTATE 42P01)");

  Run("CREATE TABLE keyed (id int PRIMARY KEY)");
  Run("INSERT INTO keyed VALUES (1)");
  Status duplicate = db_->Exec("INSERT INTO keyed VALUES (1)");
  EXPECT_NE(duplicate.message().find("(SQLSTATE 23505); detail: Key (id)=(1) already exists."),
            std::string::npos)
      << duplicate.message();

  auto no_function = db_->Query("SELECT no_such_function($1::int)", {1});
  EXPECT_EQ(no_function.status().code(), Code::kDatabase);
  EXPECT_NE(no_function.status().message().find("(SQLSTATE 42883); hint: "), std::string::npos)
      << no_function.status().message();

  // The connection is still usable.
  EXPECT_EQ(One("SELECT 1"), Value(1));
}

TEST_F(PostgresDatabaseTest, CommitKeepsAndRollbackUndoesDdl) {
  ASSERT_TRUE(db_->Begin().ok());
  EXPECT_TRUE(db_->InTransaction());
  Run("CREATE TABLE kept (id int)");
  ASSERT_TRUE(db_->Commit().ok());
  EXPECT_FALSE(db_->InTransaction());
  EXPECT_TRUE(Exists("kept"));

  ASSERT_TRUE(db_->Begin().ok());
  Run("CREATE TABLE undone (id int)");
  Run("ALTER TABLE kept ADD COLUMN extra text");
  Run("CREATE INDEX kept_id ON kept (id)");
  EXPECT_TRUE(Exists("undone"));
  ASSERT_TRUE(db_->Rollback().ok());
  EXPECT_FALSE(db_->InTransaction());
  EXPECT_FALSE(Exists("undone"));
  EXPECT_EQ(db_->ListColumns("kept").value(), std::vector<std::string>{"id"});
  EXPECT_EQ(One("SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'kept_id'",
                {schema_}),
            Value(0));
}

TEST_F(PostgresDatabaseTest, SavepointRollbackUndoesDdl) {
  ASSERT_TRUE(db_->Begin().ok());
  Run("CREATE TABLE before_sp (id int)");
  ASSERT_TRUE(db_->Savepoint("step 1").ok());
  Run("CREATE TABLE after_sp (id int)");
  EXPECT_FALSE(db_->Exec("SELECT * FROM no_such_table").ok());
  ASSERT_TRUE(db_->RollbackToSavepoint("step 1").ok());
  EXPECT_TRUE(db_->InTransaction());
  ASSERT_TRUE(db_->Savepoint("step 2").ok());
  Run("CREATE TABLE released (id int)");
  ASSERT_TRUE(db_->ReleaseSavepoint("step 2").ok());
  ASSERT_TRUE(db_->Commit().ok());
  EXPECT_TRUE(Exists("before_sp"));
  EXPECT_FALSE(Exists("after_sp"));
  EXPECT_TRUE(Exists("released"));
}

TEST_F(PostgresDatabaseTest, CommitAfterFailedStatementRollsBack) {
  ASSERT_TRUE(db_->Begin().ok());
  Run("CREATE TABLE doomed (id int)");
  EXPECT_FALSE(db_->Exec("SELECT 1/0").ok());
  EXPECT_TRUE(db_->InTransaction());  // Aborted, but still open.
  Status commit = db_->Commit();
  EXPECT_EQ(commit.code(), Code::kDatabase);
  EXPECT_NE(commit.message().find("rolled back"), std::string::npos) << commit.message();
  EXPECT_FALSE(db_->InTransaction());
  EXPECT_FALSE(Exists("doomed"));
}

TEST_F(PostgresDatabaseTest, TransactionCallsOutOfOrder) {
  EXPECT_FALSE(db_->Commit().ok());
  EXPECT_TRUE(db_->Rollback().ok());  // Nothing to undo is fine.
  ASSERT_TRUE(db_->Begin().ok());
  EXPECT_FALSE(db_->Begin().ok());
  EXPECT_TRUE(db_->InTransaction());
  EXPECT_TRUE(db_->Rollback().ok());
}

TEST_F(PostgresDatabaseTest, StatementTimeoutFires) {
  ASSERT_TRUE(db_->SetStatementTimeout(milliseconds(100)).ok());
  auto start = std::chrono::steady_clock::now();
  Status slow = db_->Exec("SELECT pg_sleep(10)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(slow.code(), Code::kDatabase);
  EXPECT_NE(slow.message().find("statement timeout"), std::string::npos) << slow.message();

  ASSERT_TRUE(db_->SetStatementTimeout(milliseconds(0)).ok());
  EXPECT_TRUE(db_->Exec("SELECT pg_sleep(0.2)").ok());
  EXPECT_EQ(db_->SetStatementTimeout(milliseconds(-1)).code(), Code::kInvalidArgument);
}

TEST_F(PostgresDatabaseTest, ListsTablesColumnsAndExistence) {
  Run("CREATE TABLE zeta (id int)");
  Run("CREATE TABLE alpha (id int)");
  Run("CREATE TABLE \"Mixed\" (id int)");
  Run("CREATE TABLE parted (id int) PARTITION BY RANGE (id)");
  Run("CREATE TABLE strata_history (id int)");
  Run("CREATE TABLE strata_lock (id int)");
  Run("CREATE VIEW a_view AS SELECT 1 AS one");
  Run("CREATE SEQUENCE a_sequence");
  Run("CREATE SCHEMA " + schema_ + "_other");
  Run("CREATE TABLE " + schema_ + "_other.elsewhere (id int)");

  auto tables = db_->ListTables();
  Run("DROP SCHEMA " + schema_ + "_other CASCADE");
  ASSERT_TRUE(tables.ok()) << tables.status().message();
  EXPECT_EQ(tables.value(), (std::vector<std::string>{"Mixed", "alpha", "parted", "zeta"}));

  EXPECT_TRUE(Exists("strata_history"));
  EXPECT_TRUE(Exists("Mixed"));
  EXPECT_FALSE(Exists("mixed"));
  EXPECT_FALSE(Exists("a_view"));
  EXPECT_FALSE(Exists("no_such_table"));

  Run("CREATE TABLE wide (a int, b text, c int)");
  Run("ALTER TABLE wide DROP COLUMN b");
  Run("ALTER TABLE wide ADD COLUMN d text");
  auto columns = db_->ListColumns("wide");
  ASSERT_TRUE(columns.ok()) << columns.status().message();
  EXPECT_EQ(columns.value(), (std::vector<std::string>{"a", "c", "d"}));
  Run("CREATE TABLE empty_table ()");
  EXPECT_TRUE(db_->ListColumns("empty_table").value().empty());
  EXPECT_EQ(db_->ListColumns("no_such_table").status().code(), Code::kNotFound);
}

TEST_F(PostgresDatabaseTest, LockIsHeldBySessionAndNamesItsHolder) {
  std::unique_ptr<Database> first = Open();
  std::unique_ptr<Database> second = Open();
  ASSERT_TRUE(first && second);
  const LockOwner alice{"alice", "host-a", 4242, "2026-01-02T03:04:05Z"};
  const LockOwner bob{"bob", "host-b", 99, "2026-01-02T03:04:06Z"};

  ASSERT_TRUE(AcquireSoon(*first, alice));
  EXPECT_TRUE(first->TryLock(alice)->acquired);  // Again on the same session.
  const int64_t first_pid = first->Query("SELECT pg_backend_pid()")->rows[0][0].integer();

  auto refused = second->TryLock(bob);
  ASSERT_TRUE(refused.ok()) << refused.status().message();
  EXPECT_FALSE(refused->acquired);
  const std::string expected = "strata alice@host-a pid 4242 since 2026-01-02T03:04:05Z "
                               "(backend pid " + std::to_string(first_pid) +
                               ", connected since ";
  EXPECT_EQ(refused->holder.substr(0, expected.size()), expected) << refused->holder;
  ASSERT_FALSE(refused->holder.empty());
  EXPECT_EQ(refused->holder.back(), ')');

  // One Unlock frees it even though TryLock ran twice.
  ASSERT_TRUE(first->Unlock().ok());
  ASSERT_TRUE(AcquireSoon(*second, bob));
  ASSERT_TRUE(second->Unlock().ok());
  EXPECT_TRUE(second->Unlock().ok());  // Not held: nothing to do.

  // A session that goes away takes its lock with it.
  ASSERT_TRUE(AcquireSoon(*first, alice));
  EXPECT_FALSE(second->TryLock(bob)->acquired);
  first.reset();
  EXPECT_TRUE(AcquireSoon(*second, bob));
  EXPECT_TRUE(second->Unlock().ok());
}

TEST_F(PostgresDatabaseTest, UrlParametersApplyOverDefaults) {
  EXPECT_EQ(One("SELECT current_setting('application_name')"), Value("strata"));
  auto custom = OpenPostgres(WithParam(url_, "connect_timeout=3&application_name=custom"));
  ASSERT_TRUE(custom.ok()) << custom.status().message();
  EXPECT_EQ(custom.value()->Query("SELECT current_setting('application_name')")->rows[0][0],
            Value("custom"));
}

TEST_F(PostgresDatabaseTest, DiscardsNotices) {
  testing::internal::CaptureStderr();
  Status s = db_->Exec("DROP TABLE IF EXISTS nothing_here");
  std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(printed, "");
}

TEST_F(PostgresDatabaseTest, RejectsCopyAndStaysUsable) {
  Run("CREATE TABLE copied (id int)");
  EXPECT_EQ(db_->Exec("COPY copied FROM STDIN").code(), Code::kDatabase);
  EXPECT_EQ(db_->Exec("COPY (SELECT 1) TO STDOUT").code(), Code::kDatabase);
  EXPECT_EQ(One("SELECT count(*) FROM copied"), Value(0));
}

TEST_F(PostgresDatabaseTest, BatchRunsInOrderAndNamesTheFailingStatement) {
  Run("CREATE TABLE log (n int)");
  BatchResult ok = db_->ExecBatch({{"BEGIN", {}},
                                   {"INSERT INTO log VALUES (1)", {}},
                                   {"SELECT n FROM log", {}},
                                   {"INSERT INTO log SELECT n + 1 FROM log", {}},
                                   {"COMMIT", {}}});
  ASSERT_TRUE(ok.status.ok()) << ok.status.message();
  EXPECT_FALSE(db_->InTransaction());
  EXPECT_EQ(One("SELECT sum(n) FROM log"), Value(3));

  BatchResult failed = db_->ExecBatch({{"BEGIN", {}},
                                       {"INSERT INTO log VALUES (10)", {}},
                                       {"INSERT INTO missing VALUES (1)", {}},
                                       {"INSERT INTO log VALUES (20)", {}},
                                       {"COMMIT", {}}});
  EXPECT_EQ(failed.status.code(), Code::kDatabase);
  EXPECT_EQ(failed.failed, 2u);
  EXPECT_NE(failed.status.message().find("relation \"missing\" does not exist"), std::string::npos)
      << failed.status.message();
  EXPECT_TRUE(db_->InTransaction());  // in error, until rolled back
  EXPECT_TRUE(db_->Rollback().ok());
  EXPECT_EQ(One("SELECT sum(n) FROM log"), Value(3));
}

TEST_F(PostgresDatabaseTest, BatchSyntaxErrorIsPlacedByItsPosition) {
  // The server parses the whole batch before running any of it; multibyte
  // text before the error checks that its position is counted in characters.
  Run("CREATE TABLE notes (t text)");
  BatchResult failed = db_->ExecBatch({{"BEGIN", {}},
                                       {"INSERT INTO notes VALUES ('\xc3\xa9t\xc3\xa9 \xe2\x82\xac')", {}},
                                       {"INSERT INTO notes VALUES ($1)", {"\xf0\x9f\x98\x80 long enough to move the error"}},
                                       {"INSRT INTO notes VALUES ('x')", {}},
                                       {"INSERT INTO notes VALUES ('y')", {}},
                                       {"COMMIT", {}}});
  EXPECT_EQ(failed.failed, 3u) << failed.status.message();
  EXPECT_NE(failed.status.message().find("syntax error"), std::string::npos);
  EXPECT_TRUE(db_->Rollback().ok());
  EXPECT_EQ(One("SELECT count(*) FROM notes"), Value(0));
}

TEST_F(PostgresDatabaseTest, BatchParametersKeepTheirValues) {
  Run("CREATE TABLE cells (id int PRIMARY KEY, i bigint, r double precision, t text, b bytea)");
  const Blob bytes{std::string("\0a\0\xff\\x'", 7)};
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const std::string nasty = "O'Brien \\ \"q\" $1 $$ E'\\x' \xc3\xbc'); DROP TABLE cells; --";
  const std::string insert = "INSERT INTO cells VALUES ($1, $2, $3, $4, $5)";
  for (bool conforming : {true, false}) {
    Run(std::string("SET standard_conforming_strings = ") + (conforming ? "on" : "off"));
    Run("DELETE FROM cells");
    BatchResult result = db_->ExecBatch(
        {{"BEGIN", {}},
         {insert, {1, kMin, 0.1, nasty, bytes}},
         {insert, {2, nullptr, nullptr, "", Blob{}}},
         // $1 inside literals, quoted names and comments is not a parameter.
         {"INSERT INTO cells (id, t) VALUES ($1, '$1' || $$ $2 $$ || $2) -- $1", {3, "x"}},
         {"COMMIT", {}}});
    ASSERT_TRUE(result.status.ok()) << result.status.message();
    Rows rows = Select("SELECT * FROM cells ORDER BY id");
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows.rows[0], (std::vector<Value>{1, kMin, 0.1, nasty, bytes}));
    EXPECT_EQ(rows.rows[1], (std::vector<Value>{2, nullptr, nullptr, "", Blob{}}));
    EXPECT_EQ(rows.rows[2][3], Value("$1 $2 x"));
  }
  BatchResult missing = db_->ExecBatch({{"BEGIN", {}}, {"SELECT $2", {1}}, {"COMMIT", {}}});
  EXPECT_EQ(missing.failed, 1u);
  EXPECT_FALSE(missing.status.ok());
  EXPECT_FALSE(db_->InTransaction());  // nothing was sent
}

// The first batch keeps the server busy, so the ones sent after it wait
// and go out together as one query.
TEST_F(PostgresDatabaseTest, SentBatchesAfterAFailedOneDoNotRun) {
  Run("CREATE TABLE log (n int)");
  db_->SendBatch({{"BEGIN", {}}, {"SELECT pg_sleep(0.3)", {}}, {"INSERT INTO log VALUES (1)", {}}, {"COMMIT", {}}});
  db_->SendBatch({{"BEGIN", {}}, {"INSERT INTO log VALUES (2)", {}}, {"COMMIT", {}}});
  db_->SendBatch({{"BEGIN", {}},
                  {"INSERT INTO log VALUES (3)", {}},
                  {"INSERT INTO missing VALUES (1)", {}},
                  {"COMMIT", {}}});
  db_->SendBatch({{"BEGIN", {}}, {"INSERT INTO log VALUES (4)", {}}, {"COMMIT", {}}});
  EXPECT_FALSE(db_->BatchDone());  // the first is still sleeping
  BatchResult first = db_->TakeBatch();
  ASSERT_TRUE(first.status.ok()) << first.status.message();
  EXPECT_GE(first.server_ms, 250);  // the server's clock
  BatchResult second = db_->TakeBatch();
  EXPECT_TRUE(second.status.ok());
  // Timed on its own, not from when the query holding it went out.
  EXPECT_GE(second.server_ms, 0);
  EXPECT_LT(second.server_ms, 250);
  BatchResult failed = db_->TakeBatch();
  EXPECT_EQ(failed.failed, 2u) << failed.status.message();
  EXPECT_NE(failed.status.message().find("\"missing\""), std::string::npos) << failed.status.message();
  EXPECT_FALSE(failed.not_run);
  // A batch sent while the failure is not taken does not run either.
  db_->SendBatch({{"BEGIN", {}}, {"INSERT INTO log VALUES (5)", {}}, {"COMMIT", {}}});
  EXPECT_TRUE(db_->TakeBatch().not_run);
  EXPECT_TRUE(db_->TakeBatch().not_run);
  EXPECT_TRUE(db_->InTransaction());  // the failed one's, until rolled back
  EXPECT_TRUE(db_->Rollback().ok());
  EXPECT_EQ(One("SELECT string_agg(n::text, ',' ORDER BY n) FROM log"), Value("1,2"));
  // Sending works again once every outcome is taken.
  db_->SendBatch({{"BEGIN", {}}, {"INSERT INTO log VALUES (6)", {}}, {"COMMIT", {}}});
  EXPECT_TRUE(db_->TakeBatch().status.ok());
  EXPECT_EQ(One("SELECT sum(n) FROM log"), Value(9));
}

// A run killed while its steps were sent together leaves them running on
// the server until it sees the client gone: the next run to take the lock
// waits for that query to end, not just for the step holding the step lock.
TEST_F(PostgresDatabaseTest, TheLockWaitsForStepsStillRunningOnTheServer) {
  std::unique_ptr<Database> other = Open();
  ASSERT_NE(other, nullptr);
  other->SendBatch({{"BEGIN", {}}, {"SELECT pg_sleep(0.6)", {}}, {other->StepGuardSql(), {}}, {"COMMIT", {}}});
  auto start = std::chrono::steady_clock::now();
  // As for a killed run's, the server is running them already.
  for (int i = 0; i < 100 && One("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                                 "pid <> pg_backend_pid() AND strpos(query, 'pg_sleep(0.6)') > 0") == Value(0);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto taken = db_->TryLock(LockOwner{"tester", "host", 1, "now"});
  ASSERT_TRUE(taken.ok()) << taken.status().message();
  EXPECT_TRUE(taken->acquired);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(400));
  EXPECT_TRUE(other->TakeBatch().status.ok());
  EXPECT_TRUE(db_->Unlock().ok());
}

TEST_F(PostgresDatabaseTest, ASentBatchFailingAtCommitStopsTheOnesAfterIt) {
  Run("CREATE TABLE parent (id int PRIMARY KEY)");
  Run("CREATE TABLE child (p int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)");
  db_->SendBatch({{"BEGIN", {}}, {"SELECT pg_sleep(0.3)", {}}, {"COMMIT", {}}});
  db_->SendBatch({{"BEGIN", {}}, {"INSERT INTO child VALUES (7)", {}}, {"COMMIT", {}}});
  db_->SendBatch({{"BEGIN", {}}, {"INSERT INTO parent VALUES (1)", {}}, {"COMMIT", {}}});
  EXPECT_TRUE(db_->TakeBatch().status.ok());
  BatchResult failed = db_->TakeBatch();
  EXPECT_EQ(failed.failed, 2u) << failed.status.message();  // the COMMIT
  EXPECT_TRUE(db_->TakeBatch().not_run);
  EXPECT_FALSE(db_->InTransaction());
  EXPECT_EQ(One("SELECT count(*) FROM child"), Value(0));
  EXPECT_EQ(One("SELECT count(*) FROM parent"), Value(0));
}

TEST_F(PostgresDatabaseTest, ASyntaxErrorInSentBatchesLetsTheOnesBeforeItRun) {
  // The server parses the whole query before running any of it: the
  // batches before the bad one go again on their own.
  Run("CREATE TABLE log (n int)");
  db_->SendBatch({{"BEGIN", {}}, {"SELECT pg_sleep(0.3)", {}}, {"COMMIT", {}}});
  db_->SendBatch({{"BEGIN", {}}, {"INSERT INTO log VALUES (1)", {}}, {"COMMIT", {}}});
  db_->SendBatch({{"BEGIN", {}}, {"INSERT INTO log VALUES (2)", {}}, {"INSRT INTO log VALUES (3)", {}}, {"COMMIT", {}}});
  db_->SendBatch({{"BEGIN", {}}, {"INSERT INTO log VALUES (4)", {}}, {"COMMIT", {}}});
  EXPECT_TRUE(db_->TakeBatch().status.ok());
  EXPECT_TRUE(db_->TakeBatch().status.ok());
  BatchResult failed = db_->TakeBatch();
  EXPECT_EQ(failed.failed, 2u) << failed.status.message();
  EXPECT_NE(failed.status.message().find("syntax error"), std::string::npos);
  EXPECT_TRUE(db_->TakeBatch().not_run);
  EXPECT_TRUE(db_->Rollback().ok());
  EXPECT_EQ(One("SELECT string_agg(n::text, ',') FROM log"), Value("1"));
}

TEST_F(PostgresDatabaseTest, BatchRejectsCopyAndStaysUsable) {
  Run("CREATE TABLE copied (id int)");
  BatchResult failed = db_->ExecBatch({{"BEGIN", {}},
                                       {"INSERT INTO copied VALUES (1)", {}},
                                       {"COPY copied FROM STDIN", {}},
                                       {"COMMIT", {}}});
  EXPECT_EQ(failed.failed, 2u);
  EXPECT_NE(failed.status.message().find("COPY"), std::string::npos) << failed.status.message();
  EXPECT_TRUE(db_->Rollback().ok());
  EXPECT_EQ(One("SELECT count(*) FROM copied"), Value(0));
}

TEST_F(PostgresDatabaseTest, BatchStatementMayEndInAComment) {
  Run("CREATE TABLE t (id int)");
  BatchResult result = db_->ExecBatch({{"BEGIN", {}},
                                       {"INSERT INTO t VALUES (1) -- one", {}},
                                       {"INSERT INTO t VALUES (2) /* two */", {}},
                                       {"COMMIT", {}}});
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_EQ(One("SELECT count(*) FROM t"), Value(2));
}

TEST_F(PostgresDatabaseTest, MissingDatabaseIsUnavailableWithoutPassword) {
  // postgresql://user@host:port/db -> postgresql://user:secret@host:port/missing
  size_t at = url_.find('@');
  size_t slash = url_.find('/', at == std::string::npos ? 0 : at);
  if (at == std::string::npos || slash == std::string::npos) {
    GTEST_SKIP() << "test URL has no user@ part to add a password to";
  }
  std::string bad = url_.substr(0, at) + ":sup3rs3cret" + url_.substr(at, slash - at) +
                    "/strata_no_such_db";
  auto db = OpenPostgres(bad);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kUnavailable);
  EXPECT_NE(db.status().message().find("strata_no_such_db\" does not exist"), std::string::npos)
      << db.status().message();
  EXPECT_EQ(db.status().message().find("sup3rs3cret"), std::string::npos)
      << db.status().message();

  // An '@' left unencoded in the password: the last '@' ends it, for libpq
  // too, so the host is right and no piece of the password is echoed.
  std::string with_at = url_.substr(0, at) + ":p@ss-s3cr3tpart" + url_.substr(at);
  auto ok = OpenPostgres(with_at);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  db = OpenPostgres(url_.substr(0, at) + ":p@ss-s3cr3tpart" + url_.substr(at, slash - at) +
                    "/strata_no_such_db");
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("strata_no_such_db\" does not exist"), std::string::npos)
      << db.status().message();
  EXPECT_EQ(db.status().message().find("s3cr3tpart"), std::string::npos) << db.status().message();
}

// These need no server.

TEST(PostgresConnect, ClosedPortIsUnavailableWithoutPassword) {
  auto db = OpenPostgres("postgresql://postgres:sup3rs3cret@127.0.0.1:1/x");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kUnavailable);
  const std::string& message = db.status().message();
  EXPECT_EQ(message.rfind("cannot connect to postgresql://postgres:", 0), 0u) << message;
  EXPECT_NE(message.find("@127.0.0.1:1/x: "), std::string::npos) << message;
  EXPECT_EQ(message.find("sup3rs3cret"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(PostgresConnect, MalformedUrlIsInvalidArgumentWithoutPassword) {
  for (const char* url : {"postgresql://postgres:sup3r%zzs3cret@127.0.0.1:1/x",
                          "postgresql://127.0.0.1:1/x?password=sup3r%zzs3cret"}) {
    auto db = OpenPostgres(url);
    ASSERT_FALSE(db.ok()) << url;
    EXPECT_EQ(db.status().code(), Code::kInvalidArgument) << db.status().message();
    EXPECT_EQ(db.status().message().find("sup3r"), std::string::npos) << db.status().message();
  }
}

}  // namespace
}  // namespace strata
