#include "engine/sqlite/sqlite_database.h"

#include <unistd.h>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testutil/harness.h"

namespace strata {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Database> Memory() {
  auto db = OpenSqlite(":memory:");
  EXPECT_TRUE(db.ok());
  return std::move(db).value();
}

TEST(SqliteDatabase, ValuesRoundTripWithTheirTypes) {
  auto db = Memory();
  auto rows = db->Query("SELECT $1, $2, $3, $4, $5, $6, $7",
                        {Value(), Value(int64_t{-9223372036854775807 - 1}), Value(0.1), Value(""),
                         Value("héllo"), Value(Blob{std::string("\0\xff", 2)}), Value(Blob{})});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  const auto& r = rows->rows[0];
  EXPECT_TRUE(r[0].is_null());
  EXPECT_EQ(r[1].integer(), INT64_MIN);
  EXPECT_EQ(r[2].real(), 0.1);
  EXPECT_EQ(r[3].type(), Value::Type::kText);
  EXPECT_EQ(r[3].text(), "");
  EXPECT_EQ(r[4].text(), "héllo");
  EXPECT_EQ(r[5].blob().bytes, std::string("\0\xff", 2));
  EXPECT_EQ(r[6].type(), Value::Type::kBlob);
  EXPECT_NE(r[0], r[3]);  // NULL is not ''
}

TEST(SqliteDatabase, ForeignKeysAfterReadsThePragmaThatSetsThem) {
  auto db = Memory();
  EXPECT_EQ(db->ForeignKeysAfter("PRAGMA foreign_keys = ON"), true);
  EXPECT_EQ(db->ForeignKeysAfter("pragma main.foreign_keys=1;"), true);
  EXPECT_EQ(db->ForeignKeysAfter("PRAGMA foreign_keys(yes)"), true);
  EXPECT_EQ(db->ForeignKeysAfter("PRAGMA \"foreign_keys\" = 'off'"), false);
  EXPECT_EQ(db->ForeignKeysAfter("PRAGMA foreign_keys = 0"), false);
  EXPECT_EQ(db->ForeignKeysAfter("PRAGMA foreign_keys"), std::nullopt);  // reads it
  EXPECT_EQ(db->ForeignKeysAfter("PRAGMA foreign_key_check"), std::nullopt);
  EXPECT_EQ(db->ForeignKeysAfter("DELETE FROM t"), std::nullopt);
}

TEST(SqliteDatabase, OutsideSchemaIsTempOrAnAttachedDatabase) {
  auto db = Memory();
  EXPECT_EQ(*db->OutsideSchema("", "t"), "");
  EXPECT_EQ(*db->OutsideSchema("MAIN", "t"), "");
  EXPECT_EQ(*db->OutsideSchema("temp", "t"), "temp");
  EXPECT_EQ(*db->OutsideSchema("aux", "t"), "aux");
}

TEST(SqliteDatabase, ErrorsCarryTheEnginesMessage) {
  auto db = Memory();
  Status s = db->Exec("SELECT * FROM nope");
  EXPECT_EQ(s.code(), Code::kDatabase);
  EXPECT_EQ(s.message(), "no such table: nope");
}

// A parameter in a script (PostgreSQL's $$..$$ string, a :name left from
// application code) was run with NULL in its place.
TEST(SqliteDatabase, AScriptsUnboundParameterIsAnErrorNotANull) {
  auto db = Memory();
  ASSERT_TRUE(db->Exec("CREATE TABLE t (v TEXT)").ok());
  for (const char* insert : {"INSERT INTO t VALUES ($$x$$)", "INSERT INTO t VALUES (:name)",
                             "INSERT INTO t VALUES ('a'); INSERT INTO t VALUES (?)"}) {
    Status s = db->Exec(insert);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << insert;
    EXPECT_THAT(s.message(), HasSubstr("a parameter (")) << insert;
    EXPECT_THAT(s.message(), HasSubstr("that nothing binds")) << insert;
  }
  EXPECT_THAT(db->Exec("INSERT INTO t VALUES (:name)").message(), HasSubstr("(:name)"));
  EXPECT_EQ(testing::Scalar(*db, "SELECT count(*) FROM t WHERE v IS NULL"), 0);
  // Bound, as Strata's own statements are, it is a parameter as before.
  ASSERT_TRUE(db->Query("INSERT INTO t VALUES ($1)", {Value("b")}).ok());
  EXPECT_EQ(testing::Scalar(*db, "SELECT count(*) FROM t WHERE v = 'b'"), 1);
}

// A column dropped by another connection: `SELECT *` is compiled again at
// its first step, and the rows have the columns of then (they had a NULL
// column too many, and a migration's check read a table as changed).
TEST(SqliteDatabase, SelectStarAfterAnotherConnectionChangedTheTableHasItsColumnsNow) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db.sqlite";
  auto a = OpenSqlite(path);
  auto b = OpenSqlite(path);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Exec("CREATE TABLE t (x INTEGER, y TEXT, z TEXT); INSERT INTO t VALUES (1, 'a', 'b')").ok());
  auto before = (*b)->Query("SELECT * FROM t");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->columns.size(), 3u);
  ASSERT_TRUE((*a)->Exec("ALTER TABLE t DROP COLUMN z").ok());
  auto after = (*b)->Query("SELECT * FROM t");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->columns, (std::vector<std::string>{"x", "y"}));
  ASSERT_EQ(after->rows.size(), 1u);
  EXPECT_EQ(after->rows[0].size(), 2u);
  ASSERT_TRUE((*a)->Exec("ALTER TABLE t ADD COLUMN w TEXT DEFAULT 'w'").ok());
  size_t cells = 0;
  ASSERT_TRUE((*b)->ForEachRow("SELECT * FROM t", {}, [&](std::span<const CellView> row) {
                    cells = row.size();
                    return Status::OK();
                  }).ok());
  EXPECT_EQ(cells, 3u);
}

TEST(SqliteDatabase, SavepointRollbackUndoesDdl) {
  auto db = Memory();
  ASSERT_TRUE(db->Begin().ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE a (x)").ok());
  ASSERT_TRUE(db->Savepoint("s").ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE b (x)").ok());
  ASSERT_TRUE(db->RollbackToSavepoint("s").ok());
  ASSERT_TRUE(db->ReleaseSavepoint("s").ok());
  ASSERT_TRUE(db->Commit().ok());
  EXPECT_EQ(*db->ListTables(), (std::vector<std::string>{"a"}));
}

TEST(SqliteDatabase, ListTablesLeavesOutStrataTables) {
  auto db = Memory();
  ASSERT_TRUE(db->Exec("CREATE TABLE zeta (x); CREATE TABLE alpha (y, z); CREATE TABLE strata_history (v)").ok());
  EXPECT_EQ(*db->ListTables(), (std::vector<std::string>{"alpha", "zeta"}));
  EXPECT_EQ(*db->ListColumns("alpha"), (std::vector<std::string>{"y", "z"}));
  EXPECT_TRUE(*db->TableExists("zeta"));
  EXPECT_FALSE(*db->TableExists("nope"));
}

TEST(SqliteDatabase, StatementTimeoutInterrupts) {
  auto db = Memory();
  ASSERT_TRUE(db->SetStatementTimeout(std::chrono::milliseconds(100)).ok());
  Status s = db->Exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c");
  EXPECT_THAT(s.message(), HasSubstr("timeout of 100 ms"));
  ASSERT_TRUE(db->SetStatementTimeout(std::chrono::milliseconds(0)).ok());
  EXPECT_TRUE(db->Exec("SELECT 1").ok());
}

TEST(SqliteDatabase, LockNamesItsHolderAndStaleLocksAreTakenOver) {
  testing::TempDir dir;
  std::string path = dir.path() + "/lock.db";
  auto a = *OpenSqlite(path);
  auto b = *OpenSqlite(path);
  LockOwner alice{"alice", "host-1", getpid(), "2026-01-01T00:00:00.000Z"};
  LockOwner bob{"bob", "host-1", getpid() + 1, "2026-01-01T00:00:01.000Z"};
  auto got = a->TryLock(alice);
  ASSERT_TRUE(got.ok() && got->acquired);
  // bob on the same host sees alice's live process.
  auto refused = b->TryLock(LockOwner{"bob", "host-2", 1, "x"});
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->acquired);
  EXPECT_EQ(refused->holder, fmt::format("alice@host-1 pid {} since 2026-01-01T00:00:00.000Z", getpid()));
  ASSERT_TRUE(a->Unlock().ok());
  EXPECT_TRUE(b->TryLock(bob)->acquired);
  ASSERT_TRUE(b->Unlock().ok());
  // A row left by a process that no longer exists is stale.
  ASSERT_TRUE(a->Exec("INSERT INTO strata_lock VALUES (1, 'ghost', 'host-1', 999999999, 'then')").ok());
  EXPECT_TRUE(b->TryLock(bob)->acquired);
}

TEST(SqliteDatabase, OpenFailsClearlyForAMissingDirectory) {
  auto db = OpenSqlite("/nonexistent/dir/app.db");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kUnavailable);
  EXPECT_THAT(db.status().message(), HasSubstr("cannot open SQLite database '/nonexistent/dir/app.db'"));
}

}  // namespace
}  // namespace strata
