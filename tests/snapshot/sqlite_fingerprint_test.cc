// FingerprintSqliteImage against FingerprintData on real SQLite files: after
// each kind of change (rows, overflow pages only, a column added, rows
// deleted and inserted, a damaged cache) the two agree, and after a small
// change most segments come from the cache.
#include "snapshot/sqlite_fingerprint.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "engine/sqlite/sqlite_database.h"
#include "testutil/harness.h"

namespace strata::snapshot {
namespace {

class SqliteImageFingerprintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/db.sqlite";
    cache_ = dir_.path() + "/segments";
    auto db = OpenSqlite(path_);
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(db).value();
    // accounts: 100,000 rows on ~1,500 leaves, every 500th with a 20 kB
    // blob on overflow pages; a WITHOUT ROWID table and one whose columns
    // take every rowid name are read with SQL.
    Exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT, balance REAL, doc BLOB);"
         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
         "INSERT INTO accounts SELECT i, printf('name %040d', i), i * 1.5, "
         "  CASE WHEN i % 500 = 0 THEN zeroblob(20000) ELSE NULL END FROM n;"
         "CREATE TABLE tags (k TEXT PRIMARY KEY, v INT) WITHOUT ROWID;"
         "INSERT INTO tags VALUES ('a', 1), ('b', 2);"
         "CREATE TABLE odd (rowid INT, _rowid_ INT, oid INT);"
         "INSERT INTO odd VALUES (1, 2, 3), (4, 5, 6);"
         "CREATE TABLE empty (x);");
  }

  void Exec(const std::string& sql) {
    Status s = db_->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  /// The image fingerprint, in a read transaction as a snapshot takes it,
  /// checked against FingerprintData.
  ImageFingerprintStats Check(const OpenReader& open_reader = {}, int readers = 0) {
    ImageFingerprintStats stats;
    auto file = ImageFile::Open(path_);
    EXPECT_TRUE(file.ok()) << file.status().message();
    if (!file.ok()) return stats;
    EXPECT_TRUE(db_->Exec("BEGIN").ok());
    auto image = FingerprintSqliteImage(*db_, **file, cache_, &stats, open_reader, readers);
    auto full = FingerprintData(*db_);
    EXPECT_TRUE(db_->Exec("ROLLBACK").ok());
    EXPECT_TRUE(image.ok()) << image.status().message();
    EXPECT_TRUE(full.ok()) << full.status().message();
    if (image.ok() && full.ok()) {
      EXPECT_EQ(image->hash, full->hash);
      EXPECT_EQ(Render(*image), Render(*full));
    }
    return stats;
  }

  static std::string Render(const DataFingerprint& fp) {
    std::string out;
    for (const auto& t : fp.tables) out += t.table + " " + std::to_string(t.rows) + " " + t.hash + "\n";
    return out;
  }

  testing::TempDir dir_;
  std::string path_, cache_;
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteImageFingerprintTest, AgreesWithSqlAfterEveryKindOfChange) {
  ImageFingerprintStats first = Check();
  EXPECT_GT(first.segments, 20);
  EXPECT_EQ(first.reused, 0);
  EXPECT_EQ(first.tables_read, 2);  // tags, odd

  ImageFingerprintStats again = Check();
  EXPECT_EQ(again.segments, first.segments);
  EXPECT_EQ(again.reused, first.segments);

  // 1% of the rows, in one range: most segments are still the same.
  Exec("UPDATE accounts SET name = 'renamed' WHERE id BETWEEN 50000 AND 51000");
  ImageFingerprintStats small = Check();
  EXPECT_GE(small.reused, small.segments * 8 / 10) << small.segments;
  EXPECT_LT(small.reused, small.segments);

  // Only an overflow page changes: the blob's last byte, same length.
  std::string doc(20000, '\0');
  doc.back() = 1;
  ASSERT_TRUE(db_->Query("UPDATE accounts SET doc = $1 WHERE id = 60000", {Value(Blob{doc})}).ok());
  Check();

  // A column added with a default changes every row SELECT * returns, and
  // no stored byte.
  Exec("ALTER TABLE accounts ADD COLUMN flag INT NOT NULL DEFAULT 7");
  EXPECT_EQ(Check().reused, 0);

  Exec("DELETE FROM accounts WHERE id % 97 = 0; INSERT INTO accounts (id, name) VALUES (300000, 'x');"
       "INSERT INTO empty VALUES (1)");
  Check();
}

TEST_F(SqliteImageFingerprintTest, ADamagedCacheIsReadAgain) {
  ImageFingerprintStats first = Check();
  {
    std::fstream f(cache_, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekp(40);
    f.put('\x5a');
  }
  EXPECT_EQ(Check().reused, 0);
  EXPECT_EQ(Check().reused, first.segments);
}

TEST_F(SqliteImageFingerprintTest, ReadersOnMoreConnectionsAgreeWithSql) {
  ImageFingerprintStats first = Check(ReadersOf(path_), 3);
  EXPECT_EQ(first.reused, 0);
  // Some segments from the cache, the others read by the readers.
  Exec("UPDATE accounts SET name = 'renamed' WHERE id BETWEEN 20000 AND 21000 OR id > 90000");
  ImageFingerprintStats mixed = Check(ReadersOf(path_), 2);
  EXPECT_GT(mixed.reused, 0);
  EXPECT_LT(mixed.reused, mixed.segments);
  Exec("ALTER TABLE accounts ADD COLUMN flag INT NOT NULL DEFAULT 7");
  EXPECT_EQ(Check(ReadersOf(path_), 2).reused, 0);
}

TEST_F(SqliteImageFingerprintTest, AReaderThatCannotOpenLeavesItsShareToTheOthers) {
  OpenReader refused = []() -> Result<std::unique_ptr<Database>> {
    return Status(Code::kLocked, "database is locked");
  };
  EXPECT_EQ(Check(refused, 2).reused, 0);
}

TEST_F(SqliteImageFingerprintTest, AReaderOfAnotherStateIsAnErrorNotAWrongFingerprint) {
  // A copy of the file with one row fewer: the reader's rows do not match
  // the pages the walk counted.
  std::string other = dir_.path() + "/other.sqlite";
  Exec("VACUUM INTO '" + other + "'");
  {
    auto copy = OpenSqlite(other);
    ASSERT_TRUE(copy.ok());
    ASSERT_TRUE((*copy)->Exec("DELETE FROM accounts WHERE id = 70000").ok());
  }
  auto file = ImageFile::Open(path_);
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_TRUE(db_->Exec("BEGIN").ok());
  auto image = FingerprintSqliteImage(*db_, **file, cache_, nullptr, ReadersOf(other), 2);
  EXPECT_TRUE(db_->Exec("ROLLBACK").ok());
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kInternal);
  EXPECT_NE(image.status().message().find("do not show the same state"), std::string::npos)
      << image.status().message();
}

}  // namespace
}  // namespace strata::snapshot
