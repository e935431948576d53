#include "migration/loader.h"

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testutil/harness.h"

namespace strata {
namespace {

using ::testing::HasSubstr;

TEST(ParseMigrationFileName, ReadsVersionNameAndKind) {
  auto f = ParseMigrationFileName("0042_add_users_email.down.sql");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->version, 42);
  EXPECT_EQ(f->version_text, "0042");
  EXPECT_EQ(f->name, "add_users_email");
  EXPECT_EQ(f->kind, MigrationFileName::Kind::kDown);
  f = ParseMigrationFileName("20240101120000_init.up.sql");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->version, 20240101120000);
  EXPECT_EQ(ParseMigrationFileName("1_x.verify.sql")->kind, MigrationFileName::Kind::kVerify);
}

TEST(ParseMigrationFileName, ErrorsSayWhatIsExpected) {
  EXPECT_EQ(ParseMigrationFileName("v1_x.up.sql").status().message(),
            "v1_x.up.sql: version 'v1' is not a number; expected NNNN_name.up.sql, "
            "NNNN_name.down.sql or NNNN_name.verify.sql");
  EXPECT_THAT(ParseMigrationFileName("0001.up.sql").status().message(),
              HasSubstr("no '_name' after the version"));
  EXPECT_THAT(ParseMigrationFileName("0001_x.sql").status().message(), HasSubstr("name does not parse"));
  EXPECT_THAT(ParseMigrationFileName("1234567890123456789012_x.up.sql").status().message(),
              HasSubstr("too large"));
}

TEST(LoadMigrations, SortsNumericallyAndPairsFiles) {
  testing::TempDir dir;
  dir.Write("10_ten.up.sql", "SELECT 10;");
  dir.Write("9_nine.up.sql", "-- strata:no-transaction\n-- strata:timeout 2m\nSELECT 9;");
  dir.Write("9_nine.down.sql", "SELECT -9;");
  dir.Write("9_nine.verify.sql", "SELECT 1;");
  dir.Write("notes.txt", "ignored");
  dir.Write(".hidden.sql", "ignored");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 2u);
  const Migration& nine = (*loaded)[0];
  EXPECT_EQ(nine.id(), "9_nine");
  EXPECT_EQ(*ReadScript(nine.down_path), "SELECT -9;");
  EXPECT_TRUE(nine.has_verify());
  EXPECT_TRUE(nine.directives.no_transaction);
  EXPECT_EQ(nine.directives.timeout, std::chrono::minutes(2));
  EXPECT_EQ((*loaded)[1].id(), "10_ten");
  EXPECT_FALSE((*loaded)[1].has_down());
}

TEST(LoadMigrations, UnreadableFileIsNamed) {
  testing::TempDir dir;
  dir.Write("1_a.up.sql", "SELECT 1;");
  std::filesystem::create_directory(dir.path() + "/2_b.up.sql");  // a directory: read fails
  auto loaded = LoadMigrations(dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("2_b.up.sql: cannot read"));
}

TEST(LoadMigrations, MissingDirectory) {
  auto loaded = LoadMigrations("/nonexistent/migrations");
  EXPECT_EQ(loaded.status().code(), Code::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr("'/nonexistent/migrations' does not exist"));
}

TEST(LoadMigrations, AFolderPerMigrationLayoutIsNamedNotTakenForEmpty) {
  testing::TempDir dir;
  dir.Write("2019-01-01-000000_create_users/up.sql", "CREATE TABLE users (id INT);");
  dir.Write("2019-01-01-000000_create_users/down.sql", "DROP TABLE users;");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("2019-01-01-000000_create_users/up.sql would be " + dir.path() +
                        "/20190101000000_create_users.up.sql"));
  // An empty directory, or one with other folders, is just empty.
  testing::TempDir empty;
  empty.Write("notes/readme.txt", "x");
  ASSERT_TRUE(LoadMigrations(empty.path()).ok());
  EXPECT_TRUE(LoadMigrations(empty.path())->empty());
}

TEST(ParseMigrationFileName, TheLargestVersionIsInt64sLargest) {
  EXPECT_EQ(ParseMigrationFileName("9223372036854775807_x.up.sql")->version, INT64_MAX);
  EXPECT_THAT(ParseMigrationFileName("9223372036854775808_x.up.sql").status().message(),
              HasSubstr("the largest is 9223372036854775807"));
}

TEST(ParseDirectives, OnlyTheLeadingCommentsCount) {
  auto d = ParseDirectives("-- a comment\n\n-- strata:timeout 1500ms\nSELECT 1;\n-- strata:no-transaction\n");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->timeout, std::chrono::milliseconds(1500));
  EXPECT_FALSE(d->no_transaction);
  EXPECT_EQ(ParseDirectives("-- strata:timeout soon\n").status().message(),
            "1: strata:timeout: 'soon' is not a duration; write e.g. 500ms, 30s, 5m, 1h or 7d");
  EXPECT_EQ(ParseDuration("5x").status().message(), "'5x' has an unknown unit 'x'; use ms, s, m, h or d");
  EXPECT_EQ(*ParseDuration("45"), std::chrono::seconds(45));
  EXPECT_EQ(*ParseDuration("7d"), std::chrono::hours(7 * 24));
}

}  // namespace
}  // namespace strata
