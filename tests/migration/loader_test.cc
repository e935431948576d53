#include "migration/loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

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
  dir.Write("9_nine.up.sql", "-- strata:no-transaction\n-- strata:timeout 2m\n-- strata:lock-timeout 5s\nSELECT 9;");
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
  EXPECT_EQ(nine.directives.lock_timeout, std::chrono::seconds(5));
  EXPECT_EQ((*loaded)[1].directives.lock_timeout, std::chrono::milliseconds(0));
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

// PostgreSQL refused such a name in history only after the migration ran
// (exit 1, "incomplete multibyte character"); validate said nothing.
TEST(LoadMigrations, ANameThatIsNotUtf8IsNamedBeforeAnythingRuns) {
  testing::TempDir dir;
  dir.Write("1_caf\xe9.up.sql", "SELECT 1;");
  dir.Write("2_caf\xc3\xa9.up.sql", "SELECT 2;");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("1 problem in"));
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("1_caf\xe9.up.sql: the name is not UTF-8 text"));
}

// A FIFO waited for a writer forever, and a link to /dev/zero was read
// until memory ran out: neither is a file with an end.
TEST(LoadMigrations, AFifoOrADeviceIsNamedNotReadForever) {
  testing::TempDir dir;
  dir.Write("1_a.up.sql", "SELECT 1;");
  ASSERT_EQ(mkfifo((dir.path() + "/2_fifo.up.sql").c_str(), 0600), 0);
  ASSERT_EQ(symlink("/dev/zero", (dir.path() + "/3_zero.up.sql").c_str()), 0);
  auto loaded = LoadMigrations(dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("2 problems in"));
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("2_fifo.up.sql: cannot read: not a regular file"));
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("3_zero.up.sql: cannot read: not a regular file"));
}

TEST(LoadMigrations, MissingDirectory) {
  auto loaded = LoadMigrations("/nonexistent/migrations");
  EXPECT_EQ(loaded.status().code(), Code::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr("'/nonexistent/migrations' does not exist"));
  // dbmate's directory beside it is named.
  testing::TempDir project;
  project.Write("db/migrations/20240101120000_a.sql", "-- migrate:up\n");
  loaded = LoadMigrations(project.path() + "/migrations");
  EXPECT_EQ(loaded.status().code(), Code::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr("does not exist, but " + project.path() +
                                                   "/db/migrations does: pass --dir"));
  // A file given for the directory (--dir strata.toml) is not said to be missing.
  project.Write("strata.toml", "");
  loaded = LoadMigrations(project.path() + "/strata.toml");
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(), HasSubstr("strata.toml' is a file, not a directory of migrations"));
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

TEST(LoadMigrations, ReadsDbmateFilesAsTheyAre) {
  testing::TempDir dir;
  dir.Write("20240101120000_create_users.sql",
            "-- a note\n-- migrate:up\nCREATE TABLE users (id INT);\n\n-- migrate:down\nDROP TABLE users;\n");
  dir.Write("20240102120000_index.sql",
            "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON users (id);\n"
            "-- migrate:down\n-- nothing written: derive it\n\n");
  dir.Write("20240103120000_tail.sql", "\xEF\xBB\xBF--migrate:up\r\nSELECT 1;\r\n");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 3u);
  const Migration& users = (*loaded)[0];
  EXPECT_EQ(users.layout, Layout::kDbmate);
  EXPECT_EQ(users.id(), "20240101120000_create_users");
  // The up script is the file up to the down marker: its lines are the file's.
  EXPECT_EQ(users.up_sql, "-- a note\n-- migrate:up\nCREATE TABLE users (id INT);\n\n");
  EXPECT_FALSE(users.directives.no_transaction);
  ASSERT_TRUE(users.has_down());
  auto down = ReadDownScript(users);
  ASSERT_TRUE(down.ok()) << down.status().message();
  EXPECT_EQ(down->text, "-- migrate:down\nDROP TABLE users;\n");
  EXPECT_EQ(down->first_line, 5);
  // An empty down section is no down script; transaction:false is no-transaction.
  EXPECT_FALSE((*loaded)[1].has_down());
  EXPECT_TRUE((*loaded)[1].directives.no_transaction);
  EXPECT_THAT(HowToAddDown((*loaded)[1]), HasSubstr("under a '-- migrate:down' line in " + dir.path() +
                                                    "/20240102120000_index.sql"));
  EXPECT_FALSE((*loaded)[2].has_down());
}

TEST(SplitSections, DbmateErrorsNameTheLine) {
  auto dbmate = [](std::string_view text) { return SplitSections(text, Layout::kDbmate).status().message(); };
  EXPECT_THAT(dbmate("CREATE TABLE t (a INT);\n"), HasSubstr("1: no '-- migrate:up' line"));
  EXPECT_EQ(dbmate("-- x\nSELECT 1;\n-- migrate:up\nSELECT 2;\n"),
            "2: a statement before the -- migrate:up line (line 3); it would belong to no section");
  EXPECT_THAT(dbmate("-- migrate:down\nSELECT 1;\n-- migrate:up\n"),
              HasSubstr("1: -- migrate:down comes before -- migrate:up"));
  EXPECT_THAT(dbmate("-- migrate:up\n-- migrate:down\n-- migrate:down\n"),
              HasSubstr("3: a second -- migrate:down line (the first is line 2)"));
  EXPECT_EQ(ParseDirectives("-- migrate:up transaction:maybe\n").status().message(),
            "1: unknown dbmate option 'transaction:maybe' (known: transaction:false)");
  // A timeout given twice would silently take the last (hunt85); a marker
  // beside strata:no-transaction means it once.
  EXPECT_EQ(ParseDirectives("-- strata:timeout 1s\n-- strata:timeout 5s\nSELECT 1;\n").status().message(),
            "2: strata:timeout is given twice (line 1 gives it first): keep one");
  EXPECT_TRUE(ParseDirectives("-- migrate:up transaction:false\n-- strata:no-transaction\n").ok());
  EXPECT_TRUE(ParseDirectives("-- strata:timeout 1s\n-- strata:timeout 5s\n", DirectiveCheck::kStored).ok());
}

// goose's files: "-- +goose Up" / "-- +goose Down" in any case, a
// StatementBegin/StatementEnd block whose statement has no ';', and NO
// TRANSACTION, which holds for both sections.
TEST(LoadMigrations, ReadsGooseFilesAsTheyAre) {
  testing::TempDir dir;
  dir.Write("00001_create_users.sql",
            "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE users (id INT);\n"
            "-- +goose StatementEnd\n\n-- +goose Down\nDROP TABLE users;\n");
  dir.Write("00002_touch.sql",
            "-- +goose up\n-- +goose statementbegin\nCREATE FUNCTION touch() RETURNS trigger AS $$\n"
            "BEGIN NEW.at = now(); RETURN NEW; END;\n$$ LANGUAGE plpgsql\n-- +goose statementend\n"
            "SELECT 1;\n-- +goose down\nDROP FUNCTION touch();\n");
  dir.Write("00003_index.sql",
            "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON users (id);\n"
            "-- +goose Down\nDROP INDEX CONCURRENTLY i;\n");
  dir.Write("00004_empty_down.sql", "-- +goose Up\nSELECT 4;\n-- +goose Down\n-- nothing\n");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 4u);
  const Migration& users = (*loaded)[0];
  EXPECT_EQ(users.layout, Layout::kGoose);
  EXPECT_EQ(users.id(), "00001_create_users");
  EXPECT_EQ(users.up_sql, "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE users (id INT);\n"
                          "-- +goose StatementEnd\n\n");
  auto down = ReadDownScript(users);
  ASSERT_TRUE(down.ok()) << down.status().message();
  EXPECT_EQ(down->text, "-- +goose Down\nDROP TABLE users;\n");
  EXPECT_EQ(down->first_line, 6);
  // The block's statement ends at StatementEnd, as goose ends it.
  EXPECT_THAT((*loaded)[1].up_sql, HasSubstr("$$ LANGUAGE plpgsql\n;-- +goose statementend\nSELECT 1;"));
  const Migration& index = (*loaded)[2];
  EXPECT_TRUE(index.directives.no_transaction);
  down = ReadDownScript(index);
  ASSERT_TRUE(down.ok()) << down.status().message();
  EXPECT_EQ(down->text, "-- +goose NO TRANSACTION\n-- +goose Down\nDROP INDEX CONCURRENTLY i;\n");
  EXPECT_EQ(down->first_line, 3);  // the marker keeps its line, 4
  EXPECT_TRUE(ParseDirectives(down->text)->no_transaction);
  EXPECT_FALSE((*loaded)[3].has_down());
  EXPECT_THAT(HowToAddDown((*loaded)[3]), HasSubstr("under a '-- +goose Down' line in " + dir.path() +
                                                    "/00004_empty_down.sql"));
}

// Atlas names its files as dbmate does, the name optional, each file an up
// script; atlas.sum beside them says whose directory it is. They were
// refused as dbmate files without their '-- migrate:up' line.
TEST(LoadMigrations, ReadsAtlasDirectoriesAsTheyAre) {
  testing::TempDir dir;
  dir.Write("atlas.sum", "h1:AAAA=\n20240101120000_init.sql h1:BBBB=\n");
  dir.Write("20240101120000_init.sql", "-- atlas:nolint destructive\n\nCREATE TABLE users (id INT);\n");
  dir.Write("20240102120000.sql", "-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY u ON users (id);\n");
  dir.Write("20240103120000_seed.sql", "-- atlas:txmode file\nUPDATE users SET id = id;\n");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 3u);
  const Migration& init = (*loaded)[0];
  EXPECT_EQ(init.layout, Layout::kAtlas);
  EXPECT_EQ(init.id(), "20240101120000_init");
  EXPECT_EQ(init.up_sql, "-- atlas:nolint destructive\n\nCREATE TABLE users (id INT);\n");
  EXPECT_FALSE(init.has_down());
  EXPECT_FALSE(init.directives.no_transaction);
  EXPECT_EQ((*loaded)[1].id(), "20240102120000");  // no name
  EXPECT_EQ((*loaded)[1].name, "");
  EXPECT_TRUE((*loaded)[1].directives.no_transaction);
  EXPECT_FALSE((*loaded)[2].directives.no_transaction);
  EXPECT_THAT(HowToAddDown(init), HasSubstr("Strata's layout (20240101120000_init.up.sql and "
                                            "20240101120000_init.down.sql)"));
  // One named by its version alone needs a name there (20240102120000.up.sql does not parse).
  EXPECT_THAT(HowToAddDown((*loaded)[1]),
              HasSubstr("(20240102120000_name.up.sql and 20240102120000_name.down.sql, any name "
                        "after the '_')"));

  // What Strata cannot honour is named, with the file and line.
  dir.Write("20240104120000_proc.sql", "-- atlas:delimiter \\n\\n\n\nSELECT 1\n\nSELECT 2\n");
  dir.Write("20240105120000_checkpoint.sql", "-- atlas:checkpoint\n\nCREATE TABLE users (id INT);\n");
  dir.Write("20240106120000_mode.sql", "-- atlas:txmode sometimes\nSELECT 1;\n");
  dir.Write("v2_x.sql", "SELECT 1;\n");
  loaded = LoadMigrations(dir.path());
  ASSERT_FALSE(loaded.ok());
  const std::string& message = loaded.status().message();
  EXPECT_THAT(message, HasSubstr("20240104120000_proc.sql:1: -- atlas:delimiter: Strata splits"));
  EXPECT_THAT(message, HasSubstr("20240105120000_checkpoint.sql:1: -- atlas:checkpoint"));
  EXPECT_THAT(message, HasSubstr("20240106120000_mode.sql:1: atlas:txmode 'sometimes' is none of"));
  EXPECT_THAT(message, HasSubstr("v2_x.sql: version 'v2' is not a number; expected <version>_name.sql "
                                 "or <version>.sql, the version a number (Atlas's layout)"));
}

TEST(LoadMigrations, GooseFilesStrataCannotRunAreNamed) {
  testing::TempDir dir;
  dir.Write("00001_a.sql", "-- +goose Up\nSELECT 1;\n");
  dir.Write("00002_backfill.go", "package migrations\n");
  dir.Write("00003_b.sql", "-- +goose Up\n-- +goose ENVSUB ON\nSELECT '${REGION}';\n");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("00002_backfill.go: a goose migration written in Go"));
  EXPECT_THAT(loaded.status().message(), HasSubstr("00003_b.sql:2: -- +goose ENVSUB ON"));
}

TEST(SplitSections, GooseErrorsNameTheLine) {
  auto goose = [](std::string_view text) { return SplitSections(text, Layout::kGoose).status().message(); };
  EXPECT_THAT(goose("SELECT 1;\n"), HasSubstr("1: no '-- +goose Up' line"));
  // An annotation starts its line; an indented one is a comment.
  EXPECT_THAT(goose("  -- +goose Up\nSELECT 1;\n"), HasSubstr("no '-- +goose Up' line"));
  EXPECT_EQ(goose("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n"),
            "2: a StatementBegin without a StatementEnd after it");
  EXPECT_EQ(goose("-- +goose Up\nSELECT 1;\n-- +goose StatementEnd\n"),
            "3: a StatementEnd without a StatementBegin before it");
  EXPECT_THAT(goose("-- +goose Up\nSELECT 1;\n-- +goose NO TRANSACTION\n"),
              HasSubstr("3: -- +goose NO TRANSACTION comes after a statement"));
  EXPECT_THAT(goose("-- +goose Up\n-- +goose Sideways\n"),
              HasSubstr("2: unknown goose annotation '-- +goose Sideways'"));
  EXPECT_THAT(goose("-- +goose Down\n-- +goose Up\n"),
              HasSubstr("1: -- +goose Down comes before -- +goose Up"));
  // ENVSUB OFF changes nothing and is accepted.
  EXPECT_TRUE(SplitSections("-- +goose Up\n-- +goose ENVSUB OFF\nSELECT 1;\n", Layout::kGoose).ok());
}

TEST(ReplacePlaceholders, ReplacesEveryNamedOneAndNamesTheLineOfAMissingOne) {
  const std::map<std::string, std::string> values = {{"schema", "app"}, {"flyway:user", "ann"}};
  EXPECT_EQ(*ReplacePlaceholders("SELECT '${flyway:user}' FROM ${schema}.t${schema};", values),
            "SELECT 'ann' FROM app.tapp;");
  // Not placeholders: no name, no closing brace, characters a name cannot hold.
  EXPECT_EQ(*ReplacePlaceholders("SELECT '${}', '${a b}', '$x{y}', '${open", values),
            "SELECT '${}', '${a b}', '$x{y}', '${open");
  auto missing = ReplacePlaceholders("SELECT 1;\nSELECT ${schema}, ${tenant};\n", values);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("2: placeholder ${tenant} has no value: give it one under [placeholders] "
                        "in strata.toml (tenant = \"...\")"));
}

TEST(LoadMigrations, ReadsFlywayFilesAndTheirUndoScripts) {
  testing::TempDir dir;
  dir.Write("V1__create_users.sql", "CREATE TABLE users (id INT);\n");
  dir.Write("U1__create_users.sql", "DROP TABLE users;\n");
  dir.Write("V2__add_email.sql", "ALTER TABLE users ADD COLUMN email TEXT;\n");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].id(), "1_create_users");
  EXPECT_EQ((*loaded)[0].layout, Layout::kFlyway);
  EXPECT_EQ(ReadDownScript((*loaded)[0])->text, "DROP TABLE users;\n");
  EXPECT_FALSE((*loaded)[1].has_down());
  EXPECT_EQ(HowToAddDown((*loaded)[1]), "write " + dir.path() + "/U2__add_email.sql");

  dir.Write("U3__orphan.sql", "SELECT 1;");
  dir.Write("R__views.sql", "CREATE VIEW v AS SELECT 1;");
  dir.Write("V4.1__dotted.sql", "SELECT 1;");
  dir.Write("0005_native.up.sql", "SELECT 1;");
  auto bad = LoadMigrations(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("U3__orphan.sql: has no up script (expected " +
                                                dir.path() + "/V3__orphan.sql beside it)"));
  EXPECT_THAT(bad.status().message(),
              HasSubstr("R__views.sql: a repeatable migration (R__) runs again whenever it changes"));
  EXPECT_THAT(bad.status().message(), HasSubstr("V4.1__dotted.sql: version '4.1' has several parts"));
  EXPECT_THAT(bad.status().message(),
              HasSubstr("0005_native.up.sql: name does not parse: expected V<version>__name.sql or "
                        "U<version>__name.sql (Flyway's layout) (it is named in Strata's"));
}

// Flyway looks for migrations in the whole tree under its location, and
// projects group them in folders (one per release); those were left out
// without a word, so `up` applied the top folder's and said all was done.
TEST(LoadMigrations, ReadsFlywayMigrationsInFoldersBelow) {
  testing::TempDir dir;
  dir.Write("V1__create_users.sql", "CREATE TABLE users (id INT);\n");
  dir.Write("release_2/V2__create_orders.sql", "CREATE TABLE orders (id INT);\n");
  dir.Write("release_2/U2__drop_orders.sql", "DROP TABLE orders;\n");
  dir.Write("release_3/hotfix/V3__add_email.sql", "ALTER TABLE users ADD COLUMN email TEXT;\n");
  dir.Write(".old/V9__hidden.sql", "SELECT 1;\n");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 3u);
  EXPECT_EQ((*loaded)[1].id(), "2_create_orders");
  EXPECT_EQ((*loaded)[1].up_path, dir.path() + "/release_2/V2__create_orders.sql");
  EXPECT_EQ(ReadDownScript((*loaded)[1])->text, "DROP TABLE orders;\n");
  EXPECT_EQ((*loaded)[2].id(), "3_add_email");
  EXPECT_EQ((*loaded)[2].up_sql, "ALTER TABLE users ADD COLUMN email TEXT;\n");
  EXPECT_EQ(HowToAddDown((*loaded)[2]), "write " + dir.path() + "/release_3/hotfix/U3__add_email.sql");

  // Only folders: the layout is still Flyway's.
  testing::TempDir only_folders;
  only_folders.Write("v1/V1__a.sql", "CREATE TABLE a (id INT);\n");
  only_folders.Write("v2/V2__b.sql", "CREATE TABLE b (id INT);\n");
  loaded = LoadMigrations(only_folders.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].layout, Layout::kFlyway);

  // Problems below name the folder; a version twice is one, wherever it is.
  dir.Write("release_3/V2__again.sql", "SELECT 1;\n");
  dir.Write("release_3/V3.1__dotted.sql", "SELECT 1;\n");
  auto bad = LoadMigrations(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("/release_3/V3.1__dotted.sql: version '3.1' has several parts"));
  EXPECT_THAT(bad.status().message(), HasSubstr("duplicate version 2"));
}

// A down or verify file named otherwise than the up file of its version
// (golang-migrate pairs them by version alone) says which name pairs it,
// not that the version is used twice; a matching one pairs as before.
TEST(LoadMigrations, ADownFileNamedOtherwiseThanItsUpFileSaysWhatToRenameItTo) {
  testing::TempDir dir;
  dir.Write("000001_create_a.up.sql", "CREATE TABLE a (id INT);\n");
  dir.Write("000001_create_table_a.down.sql", "DROP TABLE a;\n");
  auto bad = LoadMigrations(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("000001_create_table_a.down.sql: version 1 is the up script " + dir.path() +
                        "/000001_create_a.up.sql, named otherwise; rename this file "
                        "000001_create_a.down.sql so that it pairs with it"));
  EXPECT_THAT(bad.status().message(), ::testing::Not(HasSubstr("duplicate version")));
  dir.Remove("000001_create_table_a.down.sql");
  dir.Write("000001_create_a.down.sql", "DROP TABLE a;\n");
  auto good = LoadMigrations(dir.path());
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_TRUE((*good)[0].has_down());
}

// A file no layout reads (a Flyway callback such as afterMigrate.sql) is
// reported as not parsing, without the claim that it is named in Strata's
// own layout.
TEST(LoadMigrations, AFileNamedInNoLayoutIsNotSaidToBeNamedInStratas) {
  testing::TempDir dir;
  dir.Write("V1__create_users.sql", "CREATE TABLE users (id INT);\n");
  dir.Write("V2__add_email.sql", "ALTER TABLE users ADD COLUMN email TEXT;\n");
  dir.Write("afterMigrate.sql", "ANALYZE;\n");
  auto bad = LoadMigrations(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("afterMigrate.sql: name does not parse: expected V<version>__name.sql"));
  EXPECT_THAT(bad.status().message(), ::testing::Not(HasSubstr("named in Strata's")));
}

// Flyway pairs an undo migration with the versioned one by version alone:
// V1__init.sql is undone by U1__revert_init.sql. The migration keeps the
// versioned file's name, though its undo file sorts first; two undo files
// of one version are still an error.
TEST(LoadMigrations, PairsAFlywayUndoFileByVersionWhateverItsDescription) {
  testing::TempDir dir;
  dir.Write("V1__init.sql", "CREATE TABLE users (id INT);\n");
  dir.Write("U1__revert_init.sql", "DROP TABLE users;\n");
  dir.Write("V2__create_orders.sql", "CREATE TABLE orders (id INT);\n");
  dir.Write("U002__drop_orders.sql", "DROP TABLE orders;\n");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].id(), "1_init");
  EXPECT_EQ((*loaded)[0].down_path, dir.path() + "/U1__revert_init.sql");
  EXPECT_EQ(ReadDownScript((*loaded)[0])->text, "DROP TABLE users;\n");
  EXPECT_EQ((*loaded)[1].id(), "2_create_orders");
  EXPECT_EQ(ReadDownScript((*loaded)[1])->text, "DROP TABLE orders;\n");

  dir.Write("U1__another_undo.sql", "DROP TABLE users;\n");
  auto bad = LoadMigrations(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("U1__revert_init.sql: duplicate version 1: also used by " + dir.path() +
                        "/U1__another_undo.sql"));
  EXPECT_THAT(bad.status().message(), ::testing::Not(HasSubstr("has no up script")));
}

TEST(LoadMigrations, ReadsASqitchProjectInPlanOrder) {
  testing::TempDir dir;
  dir.Write("sqitch.plan",
            "%syntax-version=1.0.0\n%project=shop\n\n"
            "users 2024-01-01T00:00:00Z Ann <ann@x> # Users.\n"
            "orders [users] 2024-01-02T00:00:00Z Ann <ann@x> # Orders.\n"
            "@v1.0 2024-01-03T00:00:00Z Ann <ann@x> # Tag.\n"
            "users [:users@v1.0] 2024-01-04T00:00:00Z Ann <ann@x> # Reworked users (old syntax).\n");
  dir.Write("deploy/users.sql", "ALTER TABLE users ADD COLUMN email TEXT;\n");
  dir.Write("deploy/users@v1.0.sql", "CREATE TABLE users (id INT);\n");
  dir.Write("revert/users@v1.0.sql", "DROP TABLE users;\n");
  dir.Write("verify/users@v1.0.sql", "SELECT id FROM users WHERE 0;\n");
  dir.Write("deploy/orders.sql", "CREATE TABLE orders (id INT);\n");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 3u);
  EXPECT_EQ((*loaded)[0].id(), "1_users");
  EXPECT_EQ((*loaded)[0].layout, Layout::kSqitch);
  EXPECT_EQ((*loaded)[0].up_sql, "CREATE TABLE users (id INT);\n");
  EXPECT_EQ((*loaded)[0].down_path, dir.path() + "/revert/users@v1.0.sql");
  EXPECT_TRUE((*loaded)[0].has_verify());
  EXPECT_EQ((*loaded)[1].id(), "2_orders");
  EXPECT_FALSE((*loaded)[1].has_down());
  EXPECT_EQ(HowToAddDown((*loaded)[1]), "write " + dir.path() + "/revert/orders.sql");
  EXPECT_EQ((*loaded)[2].id(), "3_users");
  EXPECT_EQ((*loaded)[2].up_sql, "ALTER TABLE users ADD COLUMN email TEXT;\n");

  dir.Write("sqitch.plan", "users 2024 A <a>\nmissing 2024 A <a>\nusers 2024 A <a>\n");
  auto bad = LoadMigrations(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("sqitch.plan:2: change missing has no deploy script"));
  EXPECT_THAT(bad.status().message(),
              HasSubstr("sqitch.plan:3: change users is planned again (first on line 1) without reworking it"));
}

TEST(ParseMigrationFileName, TheLargestVersionIsInt64sLargest) {
  EXPECT_EQ(ParseMigrationFileName("9223372036854775807_x.up.sql")->version, INT64_MAX);
  EXPECT_THAT(ParseMigrationFileName("9223372036854775808_x.up.sql").status().message(),
              HasSubstr("the largest is 9223372036854775807"));
}

TEST(ParseDirectives, OnlyTheLeadingCommentsCount) {
  const char* script = "-- a comment\n\n-- strata:timeout 1500ms\nSELECT 1;\n-- strata:no-transaction\n";
  // A script stored in history is read as it was when it was applied...
  auto d = ParseDirectives(script, DirectiveCheck::kStored);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->timeout, std::chrono::milliseconds(1500));
  EXPECT_FALSE(d->no_transaction);
  // ...but a file's directive after the first statement would be ignored: an error.
  EXPECT_EQ(ParseDirectives(script).status().message(),
            "5: directive '-- strata:no-transaction' comes after the first statement, where it "
            "is not read: move it to the top of the file, before any statement or /* */ comment");
  EXPECT_EQ(ParseDirectives("-- strata:timeout soon\n").status().message(),
            "1: strata:timeout: 'soon' is not a duration; write e.g. 500ms, 30s, 5m, 1h or 7d");
  EXPECT_EQ(ParseDuration("5x").status().message(), "'5x' has an unknown unit 'x'; use ms, s, m, h or d");
  EXPECT_EQ(*ParseDuration("45"), std::chrono::seconds(45));
  EXPECT_EQ(*ParseDuration("7d"), std::chrono::hours(7 * 24));
  // No overflow into a negative or tiny wait.
  EXPECT_THAT(ParseDuration("2562048h").status().message(), HasSubstr("too long a duration"));
  EXPECT_THAT(ParseDuration("99999999999999999h").status().message(), HasSubstr("too long"));
  EXPECT_EQ(*ParseDuration("36500d"), std::chrono::hours(36500 * 24));
}

// A directive that is spelt otherwise is not silently taken for a comment.
TEST(ParseDirectives, MisspeltDirectivesAreErrors) {
  for (const char* header : {"-- Strata:no-transaction", "-- STRATA:timeout 1s",
                             "-- strata :no-transaction", "--Strata:timeout 5s"}) {
    auto d = ParseDirectives(std::string(header) + "\nSELECT 1;\n");
    ASSERT_FALSE(d.ok()) << header;
    EXPECT_THAT(d.status().message(), HasSubstr("is not read as a directive")) << header;
  }
  EXPECT_EQ(ParseDirectives("-- strata:no-transaction please\nSELECT 1;\n").status().message(),
            "1: strata:no-transaction takes no argument (found 'please')");
  // Prose that merely mentions strata is fine.
  EXPECT_TRUE(ParseDirectives("-- strata applies this\nSELECT 1;\n-- see strata docs\n").ok());
}

// A UTF-8 byte order mark does not hide the directives, nor become SQL.
TEST(LoadMigrations, AByteOrderMarkIsDropped) {
  testing::TempDir dir;
  dir.Write("1_a.up.sql", "\xEF\xBB\xBF-- strata:timeout 2s\nCREATE TABLE a (id INTEGER);\n");
  dir.Write("1_a.down.sql", "\xEF\xBB\xBF" "DROP TABLE a;\n");
  auto loaded = LoadMigrations(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Migration& a = (*loaded)[0];
  EXPECT_EQ(a.directives.timeout, std::chrono::seconds(2));
  EXPECT_EQ(a.up_sql, "-- strata:timeout 2s\nCREATE TABLE a (id INTEGER);\n");
  EXPECT_EQ(*ReadScript(a.down_path), "DROP TABLE a;\n");
  dir.Write("2_b.up.sql", "\xEF\xBB\xBF-- strata:bogus\nSELECT 1;\n");
  EXPECT_THAT(LoadMigrations(dir.path()).status().message(),
              HasSubstr("2_b.up.sql:1: unknown directive 'strata:bogus'"));
}

}  // namespace
}  // namespace strata
