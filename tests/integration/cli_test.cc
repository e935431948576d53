// The strata binary as a user runs it: exit codes, messages, concurrency,
// secrets. Each test checks the database too, not only the exit code.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "migration/checksum_cache.h"
#include "migration/loader.h"
#include "testutil/harness.h"
#include "util/text.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunStrata;
using testing::Scalar;
using testing::StrataProcess;
using testing::TempDir;
using testing::TestDatabase;

class CliTest : public testing::EngineTest {
 protected:
  void Write(const std::string& file, const std::string& sql) { dir_.Write("migrations/" + file, sql); }

  testing::CliRun Strata(std::vector<std::string> args) {
    args.insert(args.begin(), {"--database", target_->url(), "--dir", dir_.path() + "/migrations"});
    return RunStrata(args, dir_.path());
  }
  // Strata connecting as PostgreSQL role `role` instead.
  testing::CliRun StrataAs(const std::string& role, std::vector<std::string> args) {
    args.insert(args.begin(), {"--database", testing::UrlAsRole(target_->url(), role), "--dir",
                               dir_.path() + "/migrations"});
    return RunStrata(args, dir_.path());
  }
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), {"--database", target_->url(), "--dir", dir_.path() + "/migrations"});
    return args;
  }
  int64_t HistoryRows() {
    auto db = target_->Connect();
    if (!*db->TableExists("strata_history")) return 0;
    return Scalar(*db, "SELECT count(*) FROM strata_history");
  }

  // A migration that takes about `seconds` to run.
  std::string SlowSql(double seconds) {
    if (pg()) return fmt::format("SELECT pg_sleep({});\nCREATE TABLE slow (id INTEGER);\n", seconds);
    // A recursive count sized to take a while on SQLite.
    return fmt::format(
        "CREATE TABLE slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        "LIMIT {}) SELECT max(x) AS id FROM c;\n",
        static_cast<int64_t>(seconds * 4'000'000));
  }

  TempDir dir_;
};

TEST_P(CliTest, UpStatusDownRoundTrip) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n");
  Write("0002_email_index.up.sql", "CREATE INDEX users_email ON users (email);\n");
  auto up = Strata({"up"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_THAT(up.out, HasSubstr("applying    0001_users ... ok"));
  EXPECT_THAT(up.out, HasSubstr("applied 2 migrations"));
  EXPECT_EQ(HistoryRows(), 2);

  auto status = Strata({"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.all();
  auto json = nlohmann::json::parse(status.out);
  EXPECT_EQ(json["summary"]["applied"], 2);
  EXPECT_EQ(json["migrations"][1]["id"], "0002_email_index");
  EXPECT_EQ(json["migrations"][1]["down"], "derived");

  EXPECT_EQ(json["migrations"][1]["checksum"].get<std::string>().size(), 64u);

  auto down = Strata({"down", "--to", "0"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_THAT(down.out, HasSubstr("rolling back 0002_email_index ... ok"));
  EXPECT_EQ(HistoryRows(), 0);
  EXPECT_FALSE(*target_->Connect()->TableExists("users"));
}

TEST_P(CliTest, UpOverAMissingAppliedFileExits7UnlessAllowed) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  std::filesystem::remove(dir_.path() + "/migrations/0001_users.up.sql");
  Write("0002_posts.up.sql", "CREATE TABLE posts (id INTEGER PRIMARY KEY);\n");
  auto refused = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(refused.exit_code, cli::kExitConflict) << refused.all();
  EXPECT_THAT(refused.err, HasSubstr("0001_users is applied but its file is not in"));
  EXPECT_EQ(HistoryRows(), 1);
  auto allowed = Strata({"up", "--no-snapshot", "--allow-missing"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.all();
  EXPECT_EQ(HistoryRows(), 2);
  EXPECT_TRUE(*target_->Connect()->TableExists("posts"));
}

// Adopting a database built before Strata: baseline records the migrations
// up to V as applied without running them, once replaying them on an empty
// database gives the same schema (a table created and later dropped, columns
// in another order and all); later migrations then apply as usual, and down
// stops above V.
TEST_P(CliTest, BaselineAdoptsAnExistingDatabaseAfterCheckingItsSchema) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n");
  Write("0002_tmp.up.sql", "CREATE TABLE tmp (x INTEGER);\nALTER TABLE users ADD COLUMN name TEXT;\n");
  Write("0003_tidy.up.sql", "DROP TABLE tmp;\nCREATE INDEX users_email ON users (email);\n");
  Write("0003_tidy.down.sql", "DROP INDEX users_email;\nCREATE TABLE tmp (x INTEGER);\n");
  Write("0004_posts.up.sql", "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT);\n");
  ASSERT_TRUE(db_->Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT NOT NULL);"
                        "CREATE INDEX users_email ON users (email);"
                        "INSERT INTO users VALUES (1, 'Ada', 'ada@example.com')").ok());

  // Not what 0001-0002 create: refused, with the differences, nothing recorded.
  auto r = Strata({"baseline", "2"});
  EXPECT_EQ(r.exit_code, 6) << r.all();
  EXPECT_THAT(r.err, HasSubstr("- table tmp"));
  EXPECT_THAT(r.err, HasSubstr("+ index users_email"));
  EXPECT_EQ(HistoryRows(), 0);
  // A version no file has.
  r = Strata({"baseline", "7"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_THAT(r.err, HasSubstr("no migration file has version 7"));

  r = Strata({"baseline", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_THAT(r.out, HasSubstr("the schema matches"));
  EXPECT_EQ(testing::Column(*target_->Connect(),
                            "SELECT version || ':' || down_source FROM strata_history ORDER BY version"),
            (std::vector<std::string>{"1:baseline", "2:baseline", "3:baseline"}));
  auto status = Strata({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.all();
  EXPECT_THAT(status.out, HasSubstr("3 applied, 1 pending"));
  EXPECT_THAT(status.out, Not(HasSubstr("drift")));
  // Said as what it is: no change of it ran here, nothing was stored (hunt60 #3).
  EXPECT_THAT(status.out, HasSubstr("down: baseline"));
  EXPECT_THAT(status.out, Not(HasSubstr("uncaptured")));
  auto validate = Strata({"validate"});
  EXPECT_THAT(validate.all(), Not(HasSubstr("differs from the down script stored")));
  // Only once.
  r = Strata({"baseline", "3"});
  EXPECT_EQ(r.exit_code, 7) << r.all();

  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  EXPECT_EQ(Scalar(*target_->Connect(), "SELECT count(*) FROM users"), 1);
  ASSERT_EQ(Strata({"down"}).exit_code, 0);  // 0004 has its derived down
  auto down = Strata({"down"});
  EXPECT_EQ(down.exit_code, 5) << down.all();
  EXPECT_THAT(down.err, HasSubstr("recorded by `strata baseline`"));
  EXPECT_EQ(HistoryRows(), 3);
  EXPECT_EQ(Scalar(*target_->Connect(), "SELECT count(*) FROM users"), 1);
}

// A database dbmate, golang-migrate, Flyway or goose migrated holds that tool's own
// history table, which no migration creates: baseline leaves it out of the
// schema check (and says so) instead of refusing every such database, while
// a real difference is still refused, and a history table of that name the
// migrations do create is still compared.
TEST_P(CliTest, BaselineLeavesAnotherToolsHistoryTableOutOfTheCheck) {
  Write("20240101120000_create_users.sql",
        "-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n\n"
        "-- migrate:down\nDROP TABLE users;\n");
  Write("20240102120000_users_email.sql",
        "-- migrate:up\nCREATE INDEX users_email ON users (email);\n\n"
        "-- migrate:down\nDROP INDEX users_email;\n");
  ASSERT_TRUE(db_->Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);"
                        "CREATE TABLE schema_migrations (version VARCHAR(128) PRIMARY KEY);"
                        "INSERT INTO schema_migrations VALUES ('20240101120000');"
                        "CREATE TABLE flyway_schema_history (installed_rank INTEGER PRIMARY KEY, "
                        "success BOOLEAN NOT NULL);"
                        "CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history (success);"
                        "CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY, version_id BIGINT "
                        "NOT NULL, is_applied BOOLEAN NOT NULL);"
                        "CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY, checksum "
                        "VARCHAR(64) NOT NULL)")
                  .ok());
  // The index 0002 creates is missing: that is still a difference.
  auto r = Strata({"baseline", "20240102120000"});
  EXPECT_EQ(r.exit_code, 6) << r.all();
  EXPECT_THAT(r.err, HasSubstr("- index users_email"));
  EXPECT_THAT(r.err, Not(HasSubstr("schema_migrations")));
  EXPECT_THAT(r.err, Not(HasSubstr("flyway_schema_history")));
  EXPECT_EQ(HistoryRows(), 0);

  ASSERT_TRUE(db_->Exec("CREATE INDEX users_email ON users (email)").ok());
  r = Strata({"baseline", "20240102120000"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_THAT(r.out, HasSubstr("the schema matches what they create"));
  EXPECT_THAT(r.out, HasSubstr("note: table schema_migrations is another migration tool's history"));
  EXPECT_THAT(r.out, HasSubstr("note: table flyway_schema_history is another"));
  EXPECT_THAT(r.out, HasSubstr("note: table goose_db_version is another"));
  EXPECT_THAT(r.out, HasSubstr("note: table _prisma_migrations is another"));
  EXPECT_EQ(HistoryRows(), 2);
  EXPECT_EQ(Scalar(*target_->Connect(), "SELECT count(*) FROM schema_migrations"), 1);

  auto status = Strata({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.all();
  EXPECT_THAT(status.out, Not(HasSubstr("drift")));
}

// Nothing was stored to undo a baselined migration (`down` refuses it):
// `show` said its way back was a "baseline down script, stored in history".
TEST_P(CliTest, ShowSaysABaselinedMigrationHasNoWayBack) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  ASSERT_TRUE(db_->Exec("CREATE TABLE users (id INTEGER PRIMARY KEY)").ok());
  ASSERT_EQ(Strata({"baseline", "1"}).exit_code, 0);
  auto show = Strata({"show", "1"});
  EXPECT_EQ(show.exit_code, 0) << show.all();
  EXPECT_THAT(show.out, HasSubstr("way back      none (recorded by `strata baseline`"));
  EXPECT_THAT(show.out, Not(HasSubstr("stored in history")));
}

// A migration left in progress: `show` said it was "applied ... in 0 ms"
// and left out the error history records, which `status` prints (hunt62 #3).
TEST_P(CliTest, ShowTellsAnUnfinishedMigrationAndItsLastError) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  Write("0002_half.up.sql", "-- strata:no-transaction\nCREATE INDEX users_id ON users (id);\n"
                            "SELECT * FROM no_such_table;\n");
  Write("0002_half.down.sql", "-- strata:no-transaction\nDROP INDEX users_id;\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 8);
  auto show = Strata({"show", "2"});
  EXPECT_EQ(show.exit_code, 0) << show.all();
  EXPECT_THAT(show.out, HasSubstr("not finished (`strata resolve 2` settles it)"));
  EXPECT_THAT(show.out, HasSubstr("last error    "));
  EXPECT_THAT(show.out, HasSubstr("no_such_table"));
  EXPECT_THAT(show.out, Not(HasSubstr("  applied ")));
  auto json = nlohmann::json::parse(Strata({"show", "2", "--json"}).out);
  EXPECT_EQ(json["state"], "in_progress");
  EXPECT_THAT(json["last_error"].get<std::string>(), HasSubstr("no_such_table"));
  EXPECT_TRUE(nlohmann::json::parse(Strata({"show", "1", "--json"}).out)["last_error"].is_null());
}

// On SQLite `show` points at `restore --to-version` only where a snapshot
// at or before the migration makes it work; it suggested it after runs
// without snapshots too, and the restore then failed.
TEST_P(CliTest, ShowSuggestsRestoreOnlyWhereASnapshotReachesTheBoundary) {
  if (pg()) GTEST_SKIP() << "PostgreSQL's show prints recovery targets instead";
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  auto show = Strata({"show", "1"});
  EXPECT_EQ(show.exit_code, 0) << show.all();
  EXPECT_THAT(show.out, HasSubstr("No snapshot was recorded at or before it"));
  EXPECT_THAT(show.out, Not(HasSubstr("puts the database back")));
  EXPECT_NE(Strata({"restore", "--to-version", "1", "--yes"}).exit_code, 0);
  Write("0002_posts.up.sql", "CREATE TABLE posts (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  show = Strata({"show", "2"});
  EXPECT_THAT(show.out, HasSubstr("`strata restore --to-version 2 [--before|--after]` puts the "
                                  "database back"));
  EXPECT_EQ(Strata({"restore", "--to-version", "2", "--yes"}).exit_code, 0);
  EXPECT_FALSE(*db_->TableExists("posts"));
}

TEST_P(CliTest, BaselineStillComparesAHistoryTableTheMigrationsCreate) {
  Write("0001_schema_migrations.up.sql",
        "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, dirty BOOLEAN NOT NULL);\n");
  ASSERT_TRUE(db_->Exec("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)").ok());
  auto r = Strata({"baseline", "1"});
  EXPECT_EQ(r.exit_code, 6) << r.all();
  EXPECT_THAT(r.err, HasSubstr("~ table schema_migrations"));
  EXPECT_EQ(HistoryRows(), 0);
}

// The down file `strata new` writes holds only comments. Left as it is
// beside an additive up script, it used to be stored as the way back: a
// rollback that undid nothing, failed its check (exit 6) and could never
// succeed. The certain inverse is stored instead; a down file without
// statements beside an up script that only writes rows stays as it is.
TEST_P(CliTest, AStatementlessDownFileGivesWayToTheDerivedInverse) {
  auto run = Strata({"new", "create_users"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  std::string up = dir_.path() + "/migrations/0001_create_users.up.sql";
  ASSERT_TRUE(std::filesystem::exists(dir_.path() + "/migrations/0001_create_users.down.sql"));
  std::ofstream(up, std::ios::app)
      << "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n"
         "CREATE INDEX users_email ON users (email);\n";
  Write("0002_purge.up.sql", "DELETE FROM users WHERE email IS NULL;\n");
  Write("0002_purge.down.sql", "-- the rows come back from the capture\n");
  run = Strata({"up", "--no-snapshot", "--to", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  ASSERT_TRUE(db_->Exec("INSERT INTO users VALUES (1, NULL), (2, 'b@example.com')").ok());
  run = Strata({"up", "--no-snapshot"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  auto json = nlohmann::json::parse(Strata({"status", "--json"}).out);
  EXPECT_EQ(json["migrations"][0]["down"], "derived");
  EXPECT_EQ(json["migrations"][1]["down"], "file");

  run = Strata({"down"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(Scalar(*target_->Connect(), "SELECT count(*) FROM users"), 2);
  ASSERT_TRUE(db_->Exec("DELETE FROM users").ok());
  run = Strata({"down"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_FALSE(*target_->Connect()->TableExists("users"));
  EXPECT_EQ(HistoryRows(), 0);
}

// dbmate and goose write both markers into every new file, so a data
// migration's down section is left empty there, as its down file would be in
// Strata's layout: the rows captured before its UPDATE or DELETE are its way
// back. It was refused as irreversible (exit 5), with no way to say so but a
// dummy statement; an INSERT, which no capture undoes, still is.
TEST_P(CliTest, DataMigrationsWithAnEmptyDownSectionRollBackTheirRows) {
  Write("20240101120000_users.sql",
        "-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, "
        "active INTEGER NOT NULL DEFAULT 1);\n"
        "INSERT INTO users (id, email) VALUES (1, 'A@X'), (2, 'b@x'), (3, 'C@y');\n\n"
        "-- migrate:down\nDROP TABLE users;\n");
  Write("20240102120000_lower_emails.sql",
        "-- migrate:up\nUPDATE users SET email = lower(email);\n\n-- migrate:down\n\n");
  Write("20240103120000_drop_y.sql",
        "-- migrate:up\n-- y.test went away\nDELETE FROM users WHERE email LIKE '%@y';\n"
        "UPDATE users SET active = 0 WHERE id = 2;\n-- migrate:down\n-- nothing: the rows come back\n");
  auto up = Strata({"up"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM users"), 2);
  auto down = Strata({"down", "--steps", "2"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  auto rows = testing::Column(*db_, "SELECT id || ' ' || email || ' ' || active FROM users ORDER BY id");
  EXPECT_EQ(rows, (std::vector<std::string>{"1 A@X 1", "2 b@x 1", "3 C@y 1"}));

  Write("20240104120000_add_admin.sql",
        "-- migrate:up\nINSERT INTO users (id, email) VALUES (9, 'root@x');\n-- migrate:down\n");
  up = Strata({"up"});
  EXPECT_EQ(up.exit_code, 5) << up.all();
  EXPECT_THAT(up.all(), HasSubstr("under a '-- migrate:down' line"));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM users"), 3);

  TempDir goose;
  goose.Write("00001_t.sql", "-- +goose Up\nCREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);\n"
                             "INSERT INTO t VALUES (1, 10), (2, 20);\n-- +goose Down\nDROP TABLE t;\n");
  goose.Write("00002_double.sql", "-- +goose Up\nUPDATE t SET n = n * 2;\n-- +goose Down\n");
  auto in_goose = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--database", target_->url() + "_goose", "--dir", goose.path()});
    return RunStrata(args, goose.path());
  };
  if (pg()) return;  // one database per test there
  up = in_goose({"up"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  down = in_goose({"down"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  auto db = OpenDatabase(target_->url() + "_goose", /*create=*/false);
  ASSERT_TRUE(db.ok()) << db.status().message();
  EXPECT_EQ(Scalar(**db, "SELECT sum(n) FROM t"), 30);
}

// A dbmate directory and a Flyway directory are read as they are: up, the
// down section or undo file on the way back (rows included), and `new`
// adds files in the directory's own layout.
TEST_P(CliTest, DbmateAndFlywayDirectoriesApplyAndRollBackAsTheyAre) {
  Write("20240101120000_create_users.sql",
        "-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n\n"
        "-- migrate:down\nDROP TABLE users;\n");
  Write("20240102120000_add_name.sql",
        "-- migrate:up\nALTER TABLE users ADD COLUMN name TEXT;\n-- migrate:down\n");
  Write("20240103120000_drop_name.sql",
        "-- migrate:up\nALTER TABLE users DROP COLUMN name;\n\n-- migrate:down\n"
        "ALTER TABLE users ADD COLUMN name TEXT;\n");
  auto up = Strata({"up", "--to", "20240102120000"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  ASSERT_TRUE(db_->Exec("INSERT INTO users (id, email, name) VALUES (1, 'a@x', 'Ann')").ok());
  up = Strata({"up"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  auto below = Strata({"up", "--to", "20240101120000"});
  EXPECT_EQ(below.exit_code, 0) << below.all();
  EXPECT_THAT(below.out, HasSubstr("no pending migration at or below version 20240101120000"));
  EXPECT_THAT(below.out, HasSubstr("use `strata down --to 20240101120000`"));
  // Above everything applied there is nothing to go back to.
  auto above = Strata({"up", "--to", "20990101000000"});
  EXPECT_EQ(above.exit_code, 0) << above.all();
  EXPECT_THAT(above.out, HasSubstr("database is up to date"));
  EXPECT_THAT(above.out, Not(HasSubstr("strata down")));
  auto status = Strata({"status", "--json"});
  auto json = nlohmann::json::parse(status.out);
  EXPECT_EQ(json["migrations"][0]["down"], "file");
  EXPECT_EQ(json["migrations"][1]["down"], "derived");
  // The down section restores the column; the captured rows come back with it.
  auto down = Strata({"down", "--steps", "1"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM users WHERE name = 'Ann'"), 1);
  // Dropping the derived way back would lose Ann's name: refused until told.
  down = Strata({"down", "--to", "0"});
  EXPECT_EQ(down.exit_code, 6) << down.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM users WHERE name = 'Ann'"), 1);
  down = Strata({"down", "--to", "0", "--discard-later-writes"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_FALSE(*db_->TableExists("users"));

  auto made = Strata({"new", "add phone"});
  ASSERT_EQ(made.exit_code, 0) << made.all();
  EXPECT_THAT(made.out, HasSubstr("_add_phone.sql"));
  EXPECT_THAT(made.out, Not(HasSubstr(".up.sql")));

  // A syntax error in a down section points at the file's own line.
  Write("20240104120000_bad.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\nSELECT 'x;\n");
  auto bad = Strata({"validate"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.all(), HasSubstr("20240104120000_bad.sql:5:8: unterminated single-quoted string"));

  TempDir flyway;
  flyway.Write("V1__create_t.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT);\n");
  flyway.Write("V2__seed.sql", "INSERT INTO t (id, note) VALUES (1, 'kept');\n");
  flyway.Write("U2__seed.sql", "DELETE FROM t WHERE id = 1;\n");
  flyway.Write("V3__wipe.sql", "DELETE FROM t;\n");
  auto in_flyway = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--database", target_->url(), "--dir", flyway.path()});
    return RunStrata(args, flyway.path());
  };
  auto refused = in_flyway({"up"});
  EXPECT_EQ(refused.exit_code, 5) << refused.all();
  EXPECT_THAT(refused.err, HasSubstr("write " + flyway.path() + "/U3__wipe.sql (an empty one will do"));
  EXPECT_THAT(refused.err, HasSubstr("or pass --allow-irreversible"));
  auto fly_up = in_flyway({"up", "--to", "2"});
  ASSERT_EQ(fly_up.exit_code, 0) << fly_up.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM t"), 1);
  auto fly_down = in_flyway({"down", "--steps", "1"});
  ASSERT_EQ(fly_down.exit_code, 0) << fly_down.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM t"), 0);
  auto fly_new = in_flyway({"new", "add index"});
  ASSERT_EQ(fly_new.exit_code, 0) << fly_new.all();
  EXPECT_THAT(fly_new.out, HasSubstr("V4__add_index.sql"));
  EXPECT_THAT(fly_new.out, HasSubstr("U4__add_index.sql"));
}

// A goose directory is read as it is: the Up and Down sections, a
// StatementBegin/StatementEnd block (a trigger or function body full of ';'),
// NO TRANSACTION for both directions, rows captured on the way back; and
// `new` writes a goose file.
TEST_P(CliTest, AGooseDirectoryAppliesAndRollsBackAsItIs) {
  Write("00001_create_posts.sql",
        "-- +goose Up\nCREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
        "edits INTEGER NOT NULL DEFAULT 0);\n\n-- +goose Down\nDROP TABLE posts;\n");
  // The block's statement has no ';' of its own: StatementEnd ends it.
  Write("00002_count_edits.sql",
        pg() ? "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION count_edit() RETURNS trigger "
               "AS $$\nBEGIN\n  NEW.edits := OLD.edits + 1;\n  RETURN NEW;\nEND;\n$$ LANGUAGE "
               "plpgsql\n-- +goose StatementEnd\nCREATE TRIGGER posts_edits BEFORE UPDATE ON posts "
               "FOR EACH ROW EXECUTE FUNCTION count_edit();\n\n-- +goose Down\n"
               "DROP TRIGGER posts_edits ON posts;\nDROP FUNCTION count_edit();\n"
             : "-- +goose Up\n-- +goose StatementBegin\nCREATE TRIGGER posts_edits AFTER UPDATE OF "
               "title ON posts BEGIN\n  UPDATE posts SET edits = edits + 1 WHERE id = NEW.id;\nEND"
               "\n-- +goose StatementEnd\n\n-- +goose Down\nDROP TRIGGER posts_edits;\n");
  Write("00003_title_index.sql",
        std::string("-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX ") +
            (pg() ? "CONCURRENTLY " : "") + "posts_title ON posts (title);\n-- +goose Down\nDROP INDEX " +
            (pg() ? "CONCURRENTLY " : "") + "posts_title;\n");
  Write("00004_drop_edits.sql",
        "-- +goose Up\n" + std::string(pg() ? "DROP TRIGGER posts_edits ON posts;\n"
                                              : "DROP TRIGGER posts_edits;\n") +
            "ALTER TABLE posts DROP COLUMN edits;\n-- +goose Down\n"
            "ALTER TABLE posts ADD COLUMN edits INTEGER NOT NULL DEFAULT 0;\n" +
            (pg() ? "CREATE TRIGGER posts_edits BEFORE UPDATE ON posts FOR EACH ROW EXECUTE "
                    "FUNCTION count_edit();\n"
                  : "-- +goose StatementBegin\nCREATE TRIGGER posts_edits AFTER UPDATE OF title ON "
                    "posts BEGIN\n  UPDATE posts SET edits = edits + 1 WHERE id = NEW.id;\nEND\n"
                    "-- +goose StatementEnd\n"));
  auto up = Strata({"up", "--to", "3"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  ASSERT_TRUE(db_->Exec("INSERT INTO posts (id, title) VALUES (1, 'draft')").ok());
  ASSERT_TRUE(db_->Exec("UPDATE posts SET title = 'final' WHERE id = 1").ok());
  EXPECT_EQ(Scalar(*db_, "SELECT edits FROM posts WHERE id = 1"), 1);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM strata_history WHERE version = 3 AND no_transaction = 1"), 1);
  up = Strata({"up"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  // Down 0004: the edits column and its value come back (captured), then
  // the index without a transaction, then the trigger.
  auto down = Strata({"down", "--to", "1"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_EQ(Scalar(*db_, "SELECT edits FROM posts WHERE id = 1"), 1);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM posts WHERE title = 'final'"), 1);
  ASSERT_TRUE(db_->Exec("UPDATE posts SET title = 'again' WHERE id = 1").ok());
  EXPECT_EQ(Scalar(*db_, "SELECT edits FROM posts WHERE id = 1"), 1);  // no trigger now
  auto made = Strata({"new", "add tags"});
  ASSERT_EQ(made.exit_code, 0) << made.all();
  EXPECT_THAT(made.out, HasSubstr("00005_add_tags.sql"));
  auto loaded = LoadMigrations(dir_.path() + "/migrations");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->back().layout, Layout::kGoose);
}

// An Atlas directory: each file an up script (no down script anywhere), so
// additive scripts roll back by their derived inverse and a data-only one
// by the rows captured before it; txmode none is no-transaction.
TEST_P(CliTest, AnAtlasDirectoryAppliesAndRollsBackAsItIs) {
  Write("atlas.sum", "h1:AAAA=\n");
  Write("20240101120000_init.sql",
        "-- create \"users\" table\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n");
  Write("20240102120000.sql", std::string("-- atlas:txmode none\n\nCREATE INDEX ") +
                                  (pg() ? "CONCURRENTLY " : "") + "users_name ON users (name);\n");
  Write("20240103120000_upper.sql", "UPDATE users SET name = upper(name);\n");
  Write("20240104120000_drop.sql", "ALTER TABLE users DROP COLUMN name;\n");
  auto up = Strata({"up", "--to", "20240102120000"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM strata_history WHERE version = 20240102120000 "
                         "AND no_transaction = 1"),
            1);
  ASSERT_TRUE(db_->Exec("INSERT INTO users VALUES (1, 'ann'), (2, 'Bob')").ok());
  // A DROP COLUMN has no way back without a down script, which has no place here.
  up = Strata({"up"});
  EXPECT_EQ(up.exit_code, 5) << up.all();
  EXPECT_THAT(up.err, HasSubstr("20240104120000_drop: down script missing"));
  EXPECT_THAT(up.err, HasSubstr("an Atlas directory has no place for one"));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM users WHERE name = 'ANN'"), 0);  // nothing ran
  up = Strata({"up", "--to", "20240103120000"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM users WHERE name IN ('ANN', 'BOB')"), 2);
  auto down = Strata({"down", "--to", "20240101120000"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM users WHERE name IN ('ann', 'Bob')"), 2);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM strata_history"), 1);
  // The rows written since users was created go with it only when told.
  down = Strata({"down", "--to", "0", "--discard-later-writes"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_FALSE(*db_->TableExists("users"));
  auto made = Strata({"new", "add tags"});
  ASSERT_EQ(made.exit_code, 0) << made.all();
  EXPECT_THAT(made.out, HasSubstr("_add_tags.sql"));
  EXPECT_THAT(made.out, HasSubstr("atlas.sum is Atlas's and was left as it is"));
  auto loaded = LoadMigrations(dir_.path() + "/migrations");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->back().layout, Layout::kAtlas);
  EXPECT_FALSE(loaded->back().has_down());
}

// Flyway's placeholders: ${name} from [placeholders] in strata.toml and
// Flyway's built-in flyway:* ones are replaced in the scripts of a Flyway
// directory (up and undo), the checksum stays the file's, and one without a
// value is named before anything runs.
TEST_P(CliTest, FlywayPlaceholdersAreReplacedFromTheProjectFile) {
  TempDir flyway;
  // Values go in as written, as in Flyway: a quote inside a literal is doubled.
  flyway.Write("strata.toml", "[placeholders]\nprefix = \"app_\"\nowner = \"O''Brien\"\n");
  flyway.Write("V1__users.sql",
               "CREATE TABLE ${prefix}users (id INTEGER PRIMARY KEY, owner TEXT, made_in TEXT);\n");
  flyway.Write("V2__seed.sql",
               "-- ${flyway:filename}\nINSERT INTO ${prefix}users VALUES (1, '${owner}', "
               "'${flyway:defaultSchema}');\n");
  flyway.Write("U2__seed.sql", "DELETE FROM ${prefix}users WHERE id = 1;\n");
  auto in_flyway = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--database", target_->url(), "--dir", flyway.path()});
    return RunStrata(args, flyway.path());
  };
  // The dry run shows the statements as they will run.
  auto dry = in_flyway({"up", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.all();
  EXPECT_THAT(dry.out, HasSubstr("CREATE TABLE app_users (id INTEGER PRIMARY KEY"));
  EXPECT_THAT(dry.out, HasSubstr("INSERT INTO app_users VALUES (1, 'O''Brien'"));
  EXPECT_THAT(dry.out, ::testing::Not(HasSubstr("${")));
  auto up = in_flyway({"up"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM app_users WHERE owner = 'O''Brien' AND made_in = " +
                             std::string(pg() ? "current_schema()" : "'main'")),
            1);
  auto status = in_flyway({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.all();
  EXPECT_THAT(status.out, HasSubstr("2 applied"));
  // The undo file runs replaced, and the derived inverse drops app_users.
  auto down = in_flyway({"down", "--to", "0"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_FALSE(*db_->TableExists("app_users"));
  flyway.Write("V3__more.sql", "CREATE TABLE ${suffix_less} (id INTEGER);\n");
  auto missing = in_flyway({"up"});
  EXPECT_EQ(missing.exit_code, cli::kExitUsage) << missing.all();
  EXPECT_THAT(missing.err, HasSubstr("V3__more.sql:1: placeholder ${suffix_less} has no value: "
                                     "give it one under [placeholders] in strata.toml"));
  EXPECT_EQ(HistoryRows(), 0);
}

// A Sqitch project runs in plan order: deploy scripts with their own
// BEGIN/COMMIT, verify scripts in BEGIN ... ROLLBACK, revert on the way back.
TEST_P(CliTest, ASqitchProjectDeploysVerifiesAndReverts) {
  TempDir project;
  project.Write("sqitch.plan",
                "%syntax-version=1.0.0\n%project=shop\n\n"
                "customers 2024-01-01T00:00:00Z Ann <ann@x> # Customers.\n"
                "orders [customers] 2024-01-02T00:00:00Z Ann <ann@x> # Orders.\n");
  project.Write("deploy/customers.sql",
                "-- Deploy shop:customers\nBEGIN;\nCREATE TABLE customers (id INTEGER PRIMARY KEY, "
                "name TEXT);\nINSERT INTO customers VALUES (1, 'Ann');\nCOMMIT;\n");
  project.Write("revert/customers.sql", "BEGIN;\nDROP TABLE customers;\nCOMMIT;\n");
  project.Write("verify/customers.sql", "BEGIN;\nSELECT id, name FROM customers WHERE 1 = 0;\nROLLBACK;\n");
  project.Write("deploy/orders.sql",
                "BEGIN;\nCREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER "
                "REFERENCES customers (id));\nCOMMIT;\n");
  project.Write("revert/orders.sql", "BEGIN;\nDROP TABLE orders;\nCOMMIT;\n");
  project.Write("verify/orders.sql", "BEGIN;\nSELECT missing_column FROM orders;\nROLLBACK;\n");
  auto in_project = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--database", target_->url(), "--dir", project.path()});
    return RunStrata(args, project.path());
  };
  // orders' verify script fails: orders is rolled back, customers stays.
  auto up = in_project({"up"});
  EXPECT_EQ(up.exit_code, 6) << up.all();
  EXPECT_THAT(up.all(), HasSubstr("verify/orders.sql"));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM customers"), 1);
  EXPECT_FALSE(*db_->TableExists("orders"));
  project.Write("verify/orders.sql", "BEGIN;\nSELECT customer_id FROM orders WHERE 1 = 0;\nROLLBACK;\n");
  up = in_project({"up"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_THAT(up.out, HasSubstr("applying    2_orders ... ok"));
  auto made = in_project({"new", "payments"});
  EXPECT_EQ(made.exit_code, 2) << made.all();
  EXPECT_THAT(made.err, HasSubstr("sqitch add payments"));
  auto down = in_project({"down", "--to", "0"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_FALSE(*db_->TableExists("customers"));
  EXPECT_FALSE(*db_->TableExists("orders"));
}

TEST_P(CliTest, DryRunPrintsThePlanAndChangesNothing) {
  Write("0001_users.up.sql", "BEGIN;\nCREATE TABLE users (id INTEGER PRIMARY KEY);\nCOMMIT;\n");
  auto dry = Strata({"up", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.all();
  EXPECT_THAT(dry.out, HasSubstr("-- apply 0001_users\n-- (its own 2 transaction statements are "
                                 "left out: it runs in the transaction Strata opens for it)\n"
                                 "BEGIN;\nCREATE TABLE users"));
  EXPECT_THAT(dry.out, HasSubstr("-- way back (derived), stored in history:\nDROP TABLE users;"));
  EXPECT_THAT(dry.out, HasSubstr("dry run: 1 migration would be applied; nothing was changed"));
  EXPECT_EQ(HistoryRows(), 0);
  EXPECT_FALSE(*target_->Connect()->TableExists("users"));
}

// A DBA reviewing a rollback sees all of what will run: the stored down
// script, then the data captured at apply time going back.
TEST_P(CliTest, DownDryRunPrintsTheRestoreOfCapturedData) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT);\n"
                             "INSERT INTO users VALUES (1, 'a', 'a@example.com');\n");
  Write("0001_users.down.sql", "DROP TABLE users;\n");
  Write("0002_drop_email.up.sql", "ALTER TABLE users DROP COLUMN email;\n");
  Write("0002_drop_email.down.sql", "ALTER TABLE users ADD COLUMN email TEXT;\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  auto dry = Strata({"down", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.all();
  EXPECT_THAT(dry.out, HasSubstr("-- roll back 0002_drop_email\nALTER TABLE users ADD COLUMN email "
                                 "TEXT;\n\n-- then the data captured when it was applied is put "
                                 "back:\n"));
  EXPECT_THAT(dry.out, HasSubstr("email"));
  EXPECT_EQ(HistoryRows(), 2);
  EXPECT_EQ(Scalar(*target_->Connect(), "SELECT count(*) FROM users"), 1);
}

// A version 0 (Diesel's 00000000000000_diesel_initial_setup): --to 0 keeps
// it, as every --to V keeps V; --all rolls it back too.
TEST_P(CliTest, DownAllIncludesVersionZero) {
  Write("00000000000000_setup.up.sql", "CREATE TABLE setup (id INTEGER);\n");
  Write("00000000000000_setup.down.sql", "DROP TABLE setup;\n");
  Write("20200101000000_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  auto to = Strata({"down", "--to", "0"});
  ASSERT_EQ(to.exit_code, 0) << to.all();
  EXPECT_EQ(HistoryRows(), 1);
  auto all = Strata({"down", "--all"});
  ASSERT_EQ(all.exit_code, 0) << all.all();
  EXPECT_THAT(all.out, HasSubstr("rolling back 00000000000000_setup ... ok"));
  EXPECT_EQ(HistoryRows(), 0);
  EXPECT_FALSE(*target_->Connect()->TableExists("setup"));
  EXPECT_NE(Strata({"down", "--all", "--to", "3"}).exit_code, 0);
}

TEST_P(CliTest, TwoConcurrentUpsApplyExactlyOnce) {
  Write("0001_slow.up.sql", SlowSql(1.5));
  Write("0001_slow.down.sql", "DROP TABLE slow;\n");
  Write("0002_after.up.sql", "CREATE TABLE after_slow (id INTEGER);\n");
  StrataProcess first(Args({"up", "--lock-timeout", "200ms"}), dir_.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  StrataProcess second(Args({"up", "--lock-timeout", "200ms"}), dir_.path());
  testing::CliRun a = first.Wait();
  testing::CliRun b = second.Wait();
  EXPECT_EQ(a.exit_code, 0) << a.all();
  EXPECT_THAT(a.out, HasSubstr("applied 2 migrations"));
  EXPECT_EQ(b.exit_code, cli::kExitLocked) << b.all();
  EXPECT_THAT(b.err, HasSubstr("is locked, held by"));
  EXPECT_THAT(b.err, HasSubstr(fmt::format("pid {}", first.pid())));
  EXPECT_EQ(HistoryRows(), 2);
  // Run again concurrently with a generous timeout: the second waits, then finds nothing to do.
  auto down = Strata({"down", "--to", "0"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  StrataProcess third(Args({"up", "--lock-timeout", "30s"}), dir_.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  StrataProcess fourth(Args({"up", "--lock-timeout", "30s"}), dir_.path());
  a = third.Wait();
  b = fourth.Wait();
  EXPECT_EQ(a.exit_code, 0) << a.all();
  EXPECT_EQ(b.exit_code, 0) << b.all();
  EXPECT_THAT(b.out, HasSubstr("waiting for the migration lock"));
  EXPECT_THAT(b.out, HasSubstr("database is up to date"));
  EXPECT_EQ(HistoryRows(), 2);
}

// SIGTERM (or SIGINT) stops a run gracefully: the statement running is
// cancelled and its migration rolled back, the migration before it stays
// applied, the lock is released, and strata exits 130; a rollback likewise.
TEST_P(CliTest, ASignalStopsTheRunAfterRollingBackTheMigrationRunning) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  Write("0002_slow.up.sql", SlowSql(20));
  Write("0002_slow.down.sql", "DROP TABLE slow;\n");
  Write("0003_after.up.sql", "CREATE TABLE after_slow (id INTEGER);\n");
  StrataProcess run(Args({"up"}), dir_.path());
  ASSERT_TRUE(run.WaitForOutput("applying    0002_slow", std::chrono::seconds(10)));
  // A second run waiting for the lock stops waiting, having done nothing.
  StrataProcess waiting(Args({"up", "--lock-timeout", "60s"}), dir_.path());
  ASSERT_TRUE(waiting.WaitForOutput("waiting for the migration lock", std::chrono::seconds(10)));
  auto signalled = std::chrono::steady_clock::now();
  waiting.Signal(SIGTERM);
  testing::CliRun r = waiting.Wait();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(5));
  EXPECT_EQ(r.exit_code, cli::kExitInterrupted) << r.all();
  EXPECT_THAT(r.err, HasSubstr("interrupted (SIGTERM) while waiting for the lock"));
  signalled = std::chrono::steady_clock::now();
  run.Signal(SIGTERM);
  r = run.Wait();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(5));
  EXPECT_EQ(r.exit_code, cli::kExitInterrupted) << r.all();
  EXPECT_THAT(r.err, HasSubstr("interrupted (SIGTERM)"));
  EXPECT_THAT(r.err, HasSubstr("migration 0002_slow failed and was rolled back"));
  EXPECT_THAT(r.err, HasSubstr("the migration before it stays applied"));
  auto db = target_->Connect();
  EXPECT_EQ(testing::Column(*db, "SELECT version FROM strata_history ORDER BY version"),
            std::vector<std::string>{"1"});
  EXPECT_TRUE(*db->TableExists("users"));
  EXPECT_FALSE(*db->TableExists("slow"));
  EXPECT_FALSE(*db->TableExists("after_slow"));
  // The lock went with it: the next run applies the rest.
  Write("0002_slow.up.sql", "CREATE TABLE slow (id INTEGER);\n");
  auto up = Strata({"up", "--lock-timeout", "1s"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_EQ(HistoryRows(), 3);

  // A rollback: its down script is stopped and undone, the one before it stays rolled back.
  Write("0003_after.down.sql", "DROP TABLE after_slow;\n");
  ASSERT_TRUE(db->Exec("INSERT INTO users VALUES (7)").ok());
  const std::string slow_query =
      pg() ? "SELECT pg_sleep(20);\n"
           : "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 80000000) "
             "SELECT max(x) FROM c;\n";
  ASSERT_TRUE(db->Exec("UPDATE strata_history SET down_script = " +
                       SqlLiteral(slow_query + "DROP TABLE slow;\n") + " WHERE version = 2")
                  .ok());
  db.reset();
  StrataProcess down(Args({"down", "--to", "0"}), dir_.path());
  ASSERT_TRUE(down.WaitForOutput("rolling back 0002_slow", std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  down.Signal(SIGTERM);
  r = down.Wait();
  EXPECT_EQ(r.exit_code, cli::kExitInterrupted) << r.all();
  EXPECT_THAT(r.err, HasSubstr("interrupted (SIGTERM)"));
  EXPECT_THAT(r.err, Not(HasSubstr("--accept-file")));  // nothing is wrong with the down script
  db = target_->Connect();
  EXPECT_EQ(testing::Column(*db, "SELECT version FROM strata_history ORDER BY version"),
            (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(*db->TableExists("slow"));
  EXPECT_EQ(Scalar(*db, "SELECT count(*) FROM users WHERE id = 7"), 1);
  EXPECT_FALSE(*db->TableExists("after_slow"));
}

// A long write (a big migration, an application's transaction) holds
// SQLite's file lock, so others cannot even read: status says so with the
// lock's exit code, and up waits for it within --lock-timeout.
TEST_P(CliTest, AWriterHoldingSqlitesFileLockIsWaitedForOrNamed) {
  if (pg()) GTEST_SKIP() << "SQLite's file lock";
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  Write("0002_more.up.sql", "CREATE TABLE more (id INTEGER);\n");
  auto holder = target_->Connect();
  ASSERT_TRUE(holder->Exec("BEGIN EXCLUSIVE").ok());
  auto status = Strata({"status"});
  EXPECT_EQ(status.exit_code, cli::kExitLocked) << status.all();
  EXPECT_THAT(status.err, HasSubstr("another connection is writing to"));
  StrataProcess up(Args({"up", "--no-snapshot", "--lock-timeout", "30s"}), dir_.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(holder->Exec("COMMIT").ok());
  testing::CliRun run = up.Wait();
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(HistoryRows(), 2);
}

// --lock-timeout bounds the wait for SQLite's file lock too, also when it is
// shorter than the engine's own busy wait for one statement (5 s).
TEST_P(CliTest, ABusySqliteFileIsWaitedForNoLongerThanTheLockTimeout) {
  if (pg()) GTEST_SKIP() << "SQLite's file lock";
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  auto holder = target_->Connect();
  ASSERT_TRUE(holder->Exec("BEGIN EXCLUSIVE").ok());
  auto start = std::chrono::steady_clock::now();
  auto up = Strata({"up", "--no-snapshot", "--lock-timeout", "300ms"});
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(holder->Exec("COMMIT").ok());
  EXPECT_EQ(up.exit_code, cli::kExitLocked) << up.all();
  EXPECT_THAT(up.err, HasSubstr("--lock-timeout 300 ms"));
  EXPECT_LT(waited, std::chrono::seconds(4)) << "the busy wait of a statement was not bounded";
  EXPECT_EQ(HistoryRows(), 0);
}

// Outside WAL mode an open read keeps a writer from committing: the commit
// of the lock row failed, left its transaction open, and the next try said
// "cannot start a transaction within a transaction" (exit 1, hunt72 #3).
// The wait ends in exit 3 naming the reader, or in the run once it is gone.
TEST_P(CliTest, ASqliteReaderInATransactionIsWaitedForThenNamed) {
  if (pg()) GTEST_SKIP() << "SQLite's rollback journal";
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  auto reader = target_->Connect();
  ASSERT_TRUE(reader->Exec("BEGIN; SELECT count(*) FROM sqlite_schema").ok());
  auto up = Strata({"up", "--no-snapshot", "--lock-timeout", "300ms"});
  EXPECT_EQ(up.exit_code, cli::kExitLocked) << up.all();
  EXPECT_THAT(up.err, HasSubstr("reading it in a transaction"));
  ASSERT_TRUE(reader->Exec("COMMIT").ok());
  up = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, 0) << up.all();
  EXPECT_EQ(HistoryRows(), 1);
}

// Without a database `validate` read every file as SQLite's SQL: a Prisma
// PostgreSQL project's ADD CONSTRAINT, RENAME CONSTRAINT and ALTER TYPE ..
// RENAME VALUE had "no certain inverse" (exit 5, hunt71 #1). The files'
// engine is guessed, said, and can be given.
TEST_P(CliTest, ValidateWithoutADatabaseReadsTheFilesAsTheirEngines) {
  if (pg()) GTEST_SKIP() << "no database";
  TempDir project;
  project.Write("migrations/0001_init.up.sql",
                "CREATE TYPE \"Role\" AS ENUM ('USER', 'ADMIN');\n"
                "CREATE TABLE \"User\" (\"id\" SERIAL NOT NULL, \"role\" \"Role\" NOT NULL DEFAULT 'USER'::\"Role\","
                " CONSTRAINT \"User_pkey\" PRIMARY KEY (\"id\"));\n"
                "CREATE TABLE \"Doc\" (\"id\" SERIAL NOT NULL, \"userId\" INTEGER NOT NULL);\n"
                "ALTER TABLE \"Doc\" ADD CONSTRAINT \"Doc_userId_fkey\" FOREIGN KEY (\"userId\") "
                "REFERENCES \"User\"(\"id\") ON DELETE CASCADE;\n");
  project.Write("migrations/0002_rename.up.sql",
                "ALTER TABLE \"Doc\" RENAME CONSTRAINT \"Doc_userId_fkey\" TO \"Doc_owner_fkey\";\n");
  auto validate = RunStrata({"--dir", project.path() + "/migrations", "validate"}, project.path());
  EXPECT_EQ(validate.exit_code, 0) << validate.all();
  EXPECT_THAT(validate.out, HasSubstr("no database: the files are read as PostgreSQL's SQL (they use "));
  EXPECT_THAT(validate.out, HasSubstr("2 migrations checked: 0 errors"));
  auto as_sqlite = RunStrata({"--dir", project.path() + "/migrations", "validate", "--engine", "sqlite"},
                             project.path());
  EXPECT_EQ(as_sqlite.exit_code, cli::kExitIrreversible) << as_sqlite.all();
  // Policies and comments are PostgreSQL's; a trigger's BEGIN .. END body is SQLite's.
  TempDir supabase;
  supabase.Write("migrations/0001_profiles.up.sql",
                 "create table profiles (id uuid not null primary key, updated_at timestamp with time zone);\n"
                 "alter table profiles enable row level security;\n"
                 "create policy \"public\" on profiles for select using (true);\n"
                 "comment on table profiles is 'user profiles';\n");
  validate = RunStrata({"--dir", supabase.path() + "/migrations", "validate"}, supabase.path());
  EXPECT_EQ(validate.exit_code, 0) << validate.all();
  EXPECT_THAT(validate.out, HasSubstr("read as PostgreSQL's SQL"));
  TempDir lite;
  lite.Write("migrations/0001_notes.up.sql",
             "CREATE TABLE notes (id INTEGER PRIMARY KEY, meta JSONB, at TIMESTAMPTZ);\n"
             "CREATE TABLE log (msg TEXT);\n"
             "CREATE TRIGGER notes_log AFTER INSERT ON notes BEGIN INSERT INTO log VALUES ('x'); END;\n"
             "CREATE TRIGGER notes_log2 AFTER DELETE ON notes BEGIN INSERT INTO log VALUES ('y'); END;\n");
  validate = RunStrata({"--dir", lite.path() + "/migrations", "validate"}, lite.path());
  EXPECT_EQ(validate.exit_code, 0) << validate.all();
  EXPECT_THAT(validate.out, HasSubstr("read as SQLite's SQL"));
  auto mismatch = Strata({"validate", "--engine", "postgres"});
  EXPECT_EQ(mismatch.exit_code, cli::kExitUsage) << mismatch.all();
  EXPECT_THAT(mismatch.err, HasSubstr("--engine postgres does not match the database, which is sqlite"));
}

// A migration refused when its turn came (its capture cannot be made) after
// others of the run were applied exited 2 or 5, whose documentation says
// nothing was changed, and did not say they stay applied (hunt72 #5).
TEST_P(CliTest, ARefusalPartWayThroughARunSaysWhatStaysApplied) {
  if (pg()) GTEST_SKIP() << "SQLite allows NULL in a primary key";
  ASSERT_TRUE(db_->Exec("CREATE TABLE k (id TEXT PRIMARY KEY, v TEXT); INSERT INTO k VALUES (NULL, 'a')").ok());
  Write("0001_other.up.sql", "CREATE TABLE other (id INTEGER PRIMARY KEY);\n");
  Write("0002_touch.up.sql", "UPDATE k SET v = 'b';\n");
  Write("0002_touch.down.sql", "-- the captured values go back\n");
  auto up = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, cli::kExitIrreversible) << up.all();
  EXPECT_THAT(up.err, HasSubstr("(the 1 migration before it in this run was applied and stays so"));
  EXPECT_EQ(HistoryRows(), 1);
  EXPECT_EQ(testing::Column(*db_, "SELECT v FROM k"), std::vector<std::string>{"a"});
}

// A data migration without a down file is refused, and the refusal says an
// empty one will do (hunt87 #2: it asked for an inverse UPDATE).
TEST_P(CliTest, ADataMigrationsRefusalSaysAnEmptyDownFileWillDo) {
  Write("0001_t.up.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n");
  Write("0002_fill.up.sql", "UPDATE t SET v = 'x';\nDELETE FROM t WHERE id > 10;\n");
  auto up = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, cli::kExitIrreversible) << up.all();
  EXPECT_THAT(up.err, HasSubstr("0002_fill.down.sql (an empty one will do"));
  Write("0002_fill.down.sql", "");
  EXPECT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  // Not for a migration that does more than change rows.
  Write("0003_more.up.sql", "UPDATE t SET v = 'y';\nINSERT INTO t VALUES (1, 'z');\n");
  up = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, cli::kExitIrreversible) << up.all();
  EXPECT_THAT(up.err, Not(HasSubstr("an empty one will do")));
}

TEST_P(CliTest, ResolveChecksTheDatabaseUnlessForced) {
  Write("0001_half.up.sql",
        "-- strata:no-transaction\nINSERT INTO missing_table VALUES (1);\n"
        "CREATE TABLE audit (id INTEGER);\n");
  Write("0001_half.down.sql", "-- strata:no-transaction\nDROP TABLE audit;\n");
  EXPECT_EQ(Strata({"up", "--no-snapshot"}).exit_code, cli::kExitInProgress);
  auto refused = Strata({"resolve", "1", "--applied"});
  EXPECT_EQ(refused.exit_code, cli::kExitVerifyFailed) << refused.all();
  EXPECT_THAT(refused.err, HasSubstr("table audit does not exist"));
  EXPECT_THAT(Strata({"status"}).out, HasSubstr("in-progress"));
  auto forced = Strata({"resolve", "1", "--applied", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.all();
  EXPECT_EQ(HistoryRows(), 1);
  EXPECT_THAT(Strata({"status"}).out, HasSubstr("1 applied, 0 pending"));
}

// Versions on the command line are decimal like the file names: 0010 is ten
// (not octal eight), 0019 is nineteen (not an error).
TEST_P(CliTest, ZeroPaddedVersionsOnTheCommandLineAreDecimal) {
  for (const char* v : {"0008", "0009", "0010", "0011", "0019"}) {
    Write(std::string(v) + "_t.up.sql", fmt::format("CREATE TABLE t{} (id INTEGER PRIMARY KEY);\n", v));
  }
  auto up = Strata({"up", "--no-snapshot", "--to", "0011"});
  EXPECT_EQ(up.exit_code, 0) << up.all();
  EXPECT_EQ(HistoryRows(), 4);
  auto down = Strata({"down", "--to", "0010"});
  EXPECT_EQ(down.exit_code, 0) << down.all();
  EXPECT_EQ(HistoryRows(), 3);
  EXPECT_EQ(Strata({"up", "--no-snapshot", "--to", "0019"}).exit_code, 0);
  EXPECT_EQ(HistoryRows(), 5);
  auto bad = Strata({"down", "--to", "0x10"});
  EXPECT_EQ(bad.exit_code, cli::kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr("a version is digits"));
  EXPECT_EQ(HistoryRows(), 5);
}

// A version beyond the largest a file can have is refused: CLI11 stored
// the largest instead, so `down --to 99999999999999999999` said "nothing to
// roll back" and `resolve` spoke of migration 9223372036854775807.
TEST_P(CliTest, AVersionTooLargeOnTheCommandLineIsAUsageError) {
  Write("0001_t.up.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  for (std::vector<std::string> args :
       {std::vector<std::string>{"down", "--to", "99999999999999999999"},
        {"resolve", "9223372036854775808", "--applied"},
        {"show", "000099999999999999999999"}}) {
    auto run = Strata(args);
    EXPECT_EQ(run.exit_code, cli::kExitUsage) << args[0] << "\n" << run.all();
    EXPECT_THAT(run.err, HasSubstr("a version is at most 9223372036854775807")) << args[0];
    EXPECT_THAT(run.all(), Not(HasSubstr("migration 9223372036854775807"))) << args[0];
  }
  EXPECT_EQ(HistoryRows(), 1);
  // The largest itself is a version.
  EXPECT_EQ(Strata({"down", "--to", "9223372036854775807"}).exit_code, 0);
  EXPECT_EQ(HistoryRows(), 1);
}

// A migration applied out of order (a branch merged late) leaves the
// schema beyond what the newest version's row recorded: status compared the
// two and reported Strata's own run as drift "changed outside strata".
TEST_P(CliTest, AMigrationAppliedOutOfOrderIsNotReportedAsDrift) {
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
  Write("0003_c.up.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  Write("0002_b.up.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY);\n");
  auto run = Strata({"up", "--no-snapshot", "--allow-out-of-order"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  auto status = Strata({"status", "--json"});
  EXPECT_EQ(status.exit_code, 0) << status.all();
  EXPECT_TRUE(nlohmann::json::parse(status.out)["drift"].is_null()) << status.out;
  // A change made outside Strata is still drift.
  ASSERT_TRUE(db_->Exec("CREATE TABLE outside (id INTEGER)").ok());
  status = Strata({"status"});
  EXPECT_THAT(status.out, HasSubstr("drift: the schema differs")) << status.out;
  ASSERT_TRUE(db_->Exec("DROP TABLE outside").ok());
  // Rolled back, one by one: no drift either.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Strata({"down"}).exit_code, 0);
    status = Strata({"status"});
    EXPECT_THAT(status.out, Not(HasSubstr("drift"))) << status.out;
  }
}

// down goes newest version first. A migration applied later out of order
// that changed the same tables would lose those changes unchecked while
// history still lists it: refused. (One on other tables is no obstacle:
// AMigrationAppliedOutOfOrderIsNotReportedAsDrift rolls it all back.)
TEST_P(CliTest, DownRefusesToUndoWhatALaterOutOfOrderMigrationBuiltOn) {
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
  Write("0003_c.up.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  Write("0002_note.up.sql", "ALTER TABLE c ADD COLUMN note TEXT;\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot", "--allow-out-of-order"}).exit_code, 0);
  auto down = Strata({"down"});
  EXPECT_EQ(down.exit_code, cli::kExitIrreversible) << down.all();
  EXPECT_THAT(down.err, HasSubstr("0003_c cannot be rolled back while 0002_note stays applied"));
  EXPECT_THAT(down.err, HasSubstr("table c"));
  EXPECT_EQ(HistoryRows(), 3);
  EXPECT_EQ(db_->ListColumns("c")->size(), 2u);
  EXPECT_NE(Strata({"down", "--to", "1"}).exit_code, 0);
  EXPECT_EQ(HistoryRows(), 3);
}

// A verify script that writes would keep its changes uncaptured, and the
// rollback would not undo them (hunt85 #1: its DELETE emptied users for
// good, and `down` said ok): refused before anything runs, as a directive
// there is (it would be ignored, hunt85 #3). What a read-only-looking
// statement changes all the same is undone once the script has run.
TEST_P(CliTest, AVerifyScriptOnlyReads) {
  Write("0001_users.up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);\nINSERT INTO users VALUES (1), (2), (3);\n");
  Write("0002_orders.up.sql", "CREATE TABLE orders (id INTEGER PRIMARY KEY);\n");
  Write("0002_orders.verify.sql", "DELETE FROM users WHERE id > 1;\nSELECT 1 FROM orders;\n");
  for (const auto& args : {std::vector<std::string>{"validate"}, {"up", "--no-snapshot"}}) {
    auto run = Strata(args);
    EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
    EXPECT_THAT(run.err, HasSubstr("0002_orders.verify.sql:1: this statement deletes rows of users, "
                                   "but a verify script only checks what the up script did"));
  }
  EXPECT_EQ(HistoryRows(), 0);
  EXPECT_FALSE(*db_->TableExists("users"));

  Write("0002_orders.verify.sql", "-- strata:timeout 1s\nSELECT 1 FROM orders;\n");
  auto up = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, cli::kExitUsage) << up.all();
  EXPECT_THAT(up.err, HasSubstr("move the directive into"));
  EXPECT_EQ(HistoryRows(), 0);

  // What no transaction undoes (hunt86 #1, #2), and a real table behind a
  // temporary one of the same name dropped before (hunt86 #3).
  for (const auto& [verify, line, what] : std::vector<std::tuple<std::string, int, std::string>>{
           {"SELECT 1;\nSELECT setval('orders_id_seq', 1);\n", 2, "moves a sequence (setval)"},
           {"PRAGMA ignore_check_constraints = ON;\n", 1, "sets a SQLite pragma"},
           {"CREATE TEMP TABLE users (id INTEGER);\nDROP TABLE users;\nDELETE FROM users;\n", 3,
            "deletes every row of users"},
           {"CALL wipe();\n", 1, "calls a procedure"},
           {"CREATE TEMP TABLE scratch (id INTEGER);\nDROP TABLE scratch, users;\n", 2, "drops tables"}}) {
    if (pg() && verify.find("PRAGMA") != std::string::npos) continue;  // SQLite's
    Write("0002_orders.verify.sql", verify);
    up = Strata({"up", "--no-snapshot"});
    EXPECT_EQ(up.exit_code, cli::kExitUsage) << up.all();
    EXPECT_THAT(up.err, HasSubstr(fmt::format("0002_orders.verify.sql:{}: this statement {}", line, what)));
    EXPECT_EQ(HistoryRows(), 0);
  }

  // Reads, the temporary table SQLite checks with, savepoints; what a
  // PostgreSQL statement changes all the same is undone.
  Write("0002_orders.verify.sql",
        std::string("SELECT count(*) FROM orders;\n"
                    "CREATE TEMP TABLE counted (n INTEGER CHECK (n = 0));\n"
                    "INSERT INTO counted SELECT count(*) FROM orders;\n"
                    "DROP TABLE counted;\nSAVEPOINT s;\nRELEASE SAVEPOINT s;\n") +
            (pg() ? "COMMENT ON TABLE orders IS 'x';\n" : "PRAGMA foreign_key_check(orders);\n"));
  up = Strata({"up", "--no-snapshot"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_EQ(Scalar(*target_->Connect(), "SELECT count(*) FROM users"), 3);
  if (pg()) {
    EXPECT_EQ(Scalar(*target_->Connect(),
                     "SELECT count(*) FROM pg_description WHERE objoid = 'orders'::regclass"),
              0);
  }
  EXPECT_EQ(Strata({"down", "--to", "0"}).exit_code, 0);
}

// A rollback leaves a change made outside Strata as it was: status still
// reports it afterwards (hunt85 #2: on SQLite the rollback recorded the
// schema as verified, and status stopped reading the catalog).
TEST_P(CliTest, DriftStaysReportedAfterARollback) {
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
  Write("0002_b.up.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  ASSERT_TRUE(db_->Exec("CREATE TABLE handmade (id INTEGER)").ok());
  EXPECT_THAT(Strata({"status"}).out, HasSubstr("drift:"));
  ASSERT_EQ(Strata({"down"}).exit_code, 0);
  EXPECT_THAT(Strata({"status"}).out, HasSubstr("drift:"));
  // Once it is gone, so is the drift, and the next rollback records the
  // schema as verified again.
  ASSERT_TRUE(db_->Exec("DROP TABLE handmade").ok());
  EXPECT_THAT(Strata({"status"}).out, Not(HasSubstr("drift")));
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  ASSERT_EQ(Strata({"down"}).exit_code, 0);
  EXPECT_THAT(Strata({"status"}).out, Not(HasSubstr("drift")));
}

// A SQLite migration that turns CHECK constraints off does so for itself:
// the next migration of the run has them again (hunt86 #2 found the setting
// kept, and a row breaking a CHECK stored).
TEST_P(CliTest, APragmaAMigrationSetsEndsWithIt) {
  if (pg()) GTEST_SKIP() << "SQLite's pragmas";
  Write("0001_acct.up.sql",
        "CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER CHECK (balance >= 0));\n"
        "PRAGMA ignore_check_constraints = ON;\n");
  Write("0001_acct.down.sql", "DROP TABLE acct;\n");
  Write("0002_overdraw.up.sql", "INSERT INTO acct VALUES (1, -100);\n");
  Write("0002_overdraw.down.sql", "DELETE FROM acct WHERE id = 1;\n");
  auto up = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, cli::kExitMigrationFailed) << up.all();
  EXPECT_THAT(up.err, HasSubstr("CHECK constraint failed"));
  EXPECT_EQ(HistoryRows(), 1);
  EXPECT_EQ(Scalar(*target_->Connect(), "SELECT count(*) FROM acct"), 0);
}

// An `up` over a change made outside Strata records the schema with it:
// status stops reporting it, so up says so (hunt86 #5: it went silently).
TEST_P(CliTest, UpSaysWhenItAppliesOverAChangeMadeOutside) {
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  ASSERT_TRUE(db_->Exec("CREATE INDEX a_handmade ON a (id)").ok());
  Write("0002_b.up.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY);\n");
  auto up = Strata({"up", "--no-snapshot"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_THAT(up.err, HasSubstr("warning: the schema already differed from what history recorded "
                                "after 0001_a (changed outside strata)"));
  EXPECT_THAT(Strata({"status"}).out, Not(HasSubstr("drift")));
  Write("0003_c.up.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);\n");
  up = Strata({"up", "--no-snapshot"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_THAT(up.err, Not(HasSubstr("warning")));
}

// Tables are shared as the engine names them: PostgreSQL's "C" and c are
// two tables, so a later out-of-order migration on c is no obstacle to
// rolling back the one that made "C"; SQLite's are one table, and it is.
TEST_P(CliTest, DownComparesTheTablesOfAnOutOfOrderMigrationAsTheEngineNamesThem) {
  Write("0001_a.up.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);\n");
  Write("0003_upper.up.sql", "CREATE TABLE \"C\" (id INTEGER PRIMARY KEY);\n");
  Write("0003_upper.down.sql", "DROP TABLE \"C\";\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, pg() ? 0 : 1);
  if (!pg()) return;  // SQLite: "C" is c, which exists already
  Write("0002_note.up.sql", "ALTER TABLE c ADD COLUMN note TEXT;\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot", "--allow-out-of-order"}).exit_code, 0);
  auto down = Strata({"down"});
  EXPECT_EQ(down.exit_code, 0) << down.all();
  EXPECT_FALSE(*db_->TableExists("C"));
  EXPECT_EQ(db_->ListColumns("c")->size(), 2u);
  EXPECT_EQ(HistoryRows(), 2);
}

// One that drops a column is checked against the whole schema on rollback,
// which a later out-of-order migration changed, even on another table: the
// refusal says so (it used to say the other migration "changes the whole
// schema", which it does not).
TEST_P(CliTest, DownRefusalSaysWhichMigrationReachesTheWholeSchema) {
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY, legacy TEXT);\n");
  Write("0003_drop.up.sql", "ALTER TABLE a DROP COLUMN legacy;\n");
  Write("0003_drop.down.sql", "ALTER TABLE a ADD COLUMN legacy TEXT;\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  Write("0002_other.up.sql", "CREATE TABLE other (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot", "--allow-out-of-order"}).exit_code, 0);
  auto down = Strata({"down"});
  EXPECT_EQ(down.exit_code, cli::kExitIrreversible) << down.all();
  EXPECT_THAT(down.err, HasSubstr("0003_drop changes more than its own tables"));
  EXPECT_THAT(down.err, HasSubstr("which now holds what 0002_other changed"));
  EXPECT_EQ(HistoryRows(), 3);
}

// An index made by hand after a migration fails its rollback's check: the
// error says the schema had drifted before the rollback, instead of
// blaming the down script.
TEST_P(CliTest, ARollbackFailedByAChangeMadeOutsideSaysSo) {
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT, legacy TEXT);\n");
  Write("0002_drop.up.sql", "ALTER TABLE a DROP COLUMN legacy;\n");
  Write("0002_drop.down.sql", "ALTER TABLE a ADD COLUMN legacy TEXT;\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  ASSERT_TRUE(db_->Exec("CREATE INDEX a_name ON a (name)").ok());
  auto down = Strata({"down"});
  EXPECT_EQ(down.exit_code, cli::kExitVerifyFailed) << down.all();
  EXPECT_THAT(down.err, HasSubstr("the schema already differed from what 0002_drop left"));
  EXPECT_THAT(down.err, HasSubstr("a_name"));
  EXPECT_THAT(down.err, Not(HasSubstr("The down script stored at apply time did not")));
  EXPECT_EQ(HistoryRows(), 2);
  // Without the outside change, the same rollback passes.
  ASSERT_TRUE(db_->Exec("DROP INDEX a_name").ok());
  EXPECT_EQ(Strata({"down"}).exit_code, 0);
}

// A no-transaction down script that stops part-way leaves what it did done:
// the migration is marked in progress (exit 8), as a no-transaction up is,
// and `resolve` settles it once the database says which it is.
TEST_P(CliTest, ANoTransactionRollbackThatStopsPartWayIsLeftInProgress) {
  Write("0001_t.up.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n");
  Write("0002_idx.up.sql", "-- strata:no-transaction\nCREATE INDEX t_v1 ON t (v);\n"
                           "CREATE INDEX t_v2 ON t (v, id);\n");
  Write("0002_idx.down.sql", "-- strata:no-transaction\nDROP INDEX t_v1;\nDROP INDEX t_v2_typo;\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  auto down = Strata({"down"});
  EXPECT_EQ(down.exit_code, cli::kExitInProgress) << down.all();
  EXPECT_THAT(down.err, HasSubstr("history marks it in progress"));
  const std::string t_v1 = pg() ? "SELECT count(*) FROM pg_indexes WHERE indexname = 't_v1'"
                                : "SELECT count(*) FROM sqlite_master WHERE name = 't_v1'";
  EXPECT_EQ(Scalar(*db_, t_v1), 0);
  auto status = Strata({"status"});
  EXPECT_EQ(status.exit_code, cli::kExitInProgress) << status.all();
  EXPECT_THAT(status.out, HasSubstr("in-progress   0002_idx"));
  // Half rolled back, it is neither: both marks are refused until the database agrees.
  EXPECT_EQ(Strata({"resolve", "2", "--rolled-back"}).exit_code, cli::kExitVerifyFailed);
  ASSERT_TRUE(db_->Exec("DROP INDEX t_v2").ok());
  auto resolved = Strata({"resolve", "2", "--rolled-back"});
  EXPECT_EQ(resolved.exit_code, 0) << resolved.all();
  EXPECT_EQ(HistoryRows(), 1);
}

// A destructive statement whose unqualified table a search_path change
// (PostgreSQL) or an ATTACH (SQLite) earlier in the script may send to
// another schema is refused: the capture would look in the managed one.
TEST_P(CliTest, ADeleteAfterTheNamesMovedToAnotherSchemaIsRefused) {
  std::string other_url;
  if (pg()) {
    ASSERT_TRUE(db_->Exec("CREATE SCHEMA other; CREATE TABLE other.logs (id INTEGER PRIMARY KEY);"
                          "INSERT INTO other.logs VALUES (1), (2)").ok());
    Write("0001_purge.up.sql", "SET search_path TO other;\nDELETE FROM logs WHERE id = 1;\n");
  } else {
    const std::string arch = dir_.path() + "/arch.db";
    ASSERT_EQ(std::system(("sqlite3 " + arch + " 'CREATE TABLE logs (id INTEGER PRIMARY KEY);"
                           "INSERT INTO logs VALUES (1), (2)'").c_str()),
              0);
    Write("0001_purge.up.sql", "-- strata:no-transaction\nATTACH '" + arch +
                                   "' AS arch;\nDELETE FROM logs WHERE id = 1;\nDETACH arch;\n");
  }
  Write("0001_purge.down.sql", "");
  auto up = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, cli::kExitIrreversible) << up.all();
  EXPECT_THAT(up.err, HasSubstr("by an unqualified name after line"));
  EXPECT_EQ(HistoryRows(), 0);
  if (pg()) {
    EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM other.logs"), 2);
  }
  // Back in the managed schema, or qualified, it is captured as usual.
  Write("0001_purge.up.sql", pg() ? "SET search_path TO other;\nSET search_path TO DEFAULT;\n"
                                    "CREATE TABLE mine (id INTEGER);\nDELETE FROM mine;\n"
                                  : "CREATE TABLE mine (id INTEGER);\nDELETE FROM main.mine;\n");
  auto again = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(again.exit_code, 0) << again.all();
}

// PostgreSQL: a row the application changes while the migration runs,
// before its DELETE, goes with the DELETE. The capture waits for that
// write and copies the row as committed (the table is locked against
// writers from the capture to the commit): without the lock, it copied
// the row before the write, and the rollback put back a stale one.
TEST_P(CliTest, ARowWrittenWhileTheMigrationRunsIsCapturedAsWritten) {
  if (!pg()) GTEST_SKIP() << "SQLite's migration holds the write lock from its start";
  ASSERT_TRUE(db_->Exec("CREATE TABLE comments (id INTEGER PRIMARY KEY, body TEXT, spam BOOLEAN);"
                        "INSERT INTO comments VALUES (1, 'hello', false), (2, 'buy now', true)")
                  .ok());
  Write("0001_purge.up.sql", "DELETE FROM comments WHERE spam;\n");
  Write("0001_purge.down.sql", "");
  auto app = target_->Connect();
  ASSERT_TRUE(app->Exec("BEGIN; UPDATE comments SET body = 'edited by the app' WHERE id = 2").ok());
  StrataProcess up(Args({"up", "--no-snapshot"}), dir_.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(app->Exec("COMMIT").ok());
  auto run = up.Wait();
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(strata::testing::Column(*db_, "SELECT body FROM strata_capture_1_1"),
            std::vector<std::string>{"edited by the app"});
}

// PostgreSQL: a DELETE whose ON DELETE CASCADE reaches a table of another
// schema is refused: those rows would go uncaptured (they went, with exit 0).
TEST_P(CliTest, ACascadeIntoAnotherSchemaIsRefused) {
  if (!pg()) GTEST_SKIP() << "SQLite's attached databases hold no foreign keys to main";
  ASSERT_TRUE(db_->Exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, closed BOOLEAN);"
                        "INSERT INTO accounts VALUES (1, true), (2, false);"
                        "CREATE SCHEMA billing; CREATE TABLE billing.invoices (id INTEGER, "
                        "account_id INTEGER REFERENCES public.accounts ON DELETE CASCADE);"
                        "INSERT INTO billing.invoices VALUES (10, 1), (20, 2)")
                  .ok());
  Write("0001_purge.up.sql", "DELETE FROM accounts WHERE closed;\n");
  Write("0001_purge.down.sql", "");
  auto up = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, cli::kExitIrreversible) << up.all();
  EXPECT_THAT(up.err, HasSubstr("rows of table billing.invoices"));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM billing.invoices"), 2);
  EXPECT_EQ(HistoryRows(), 0);
}

// SQLite, a table without a primary key: a dropped column's values go back
// by rowid, which a row written since may have taken (the rowid of a
// deleted last row is reused). The rollback is refused once the table was
// written to; before, it put the deleted row's value on the new one.
TEST_P(CliTest, ValuesPutBackByRowIdAreRefusedAfterWritesToTheTable) {
  if (pg()) GTEST_SKIP() << "SQLite's rowid";
  ASSERT_TRUE(db_->Exec("CREATE TABLE logs (msg TEXT, extra TEXT);"
                        "INSERT INTO logs VALUES ('a', 'x1'), ('b', 'x2')")
                  .ok());
  Write("0001_drop_extra.up.sql", "ALTER TABLE logs DROP COLUMN extra;\n");
  Write("0001_drop_extra.down.sql", "ALTER TABLE logs ADD COLUMN extra TEXT;\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  ASSERT_TRUE(db_->Exec("DELETE FROM logs WHERE msg = 'b'; INSERT INTO logs VALUES ('c')").ok());
  ASSERT_EQ(Scalar(*db_, "SELECT rowid FROM logs WHERE msg = 'c'"), 2);  // b's rowid
  auto down = Strata({"down"});
  EXPECT_EQ(down.exit_code, cli::kExitVerifyFailed) << down.all();
  EXPECT_THAT(down.err, HasSubstr("back by SQLite's rowid"));
  EXPECT_EQ(HistoryRows(), 1);
  // Unwritten, the same rollback puts the values back.
  ASSERT_TRUE(db_->Exec("DELETE FROM logs WHERE msg = 'c'; INSERT INTO logs (rowid, msg) VALUES (2, 'b')").ok());
  auto again = Strata({"down"});
  EXPECT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(strata::testing::Column(*db_, "SELECT extra FROM logs ORDER BY rowid"),
            (std::vector<std::string>{"x1", "x2"}));
}

// A statement Strata can never capture (an ALTER TABLE mixing a drop with a
// type change, a DROP TABLE of several tables) is refused by up whatever
// the database holds: validate, up --dry-run and rehearse said nothing of it
// (exit 0) before. They refuse it now, as up does (exit 5).
TEST_P(CliTest, ValidateAndDryRunRefuseAStatementStrataCanNeverCapture) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL's ALTER TABLE with several actions and DROP TABLE a, b";
  Write("0001_t.up.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_x.up.sql", "ALTER TABLE t DROP COLUMN a, ALTER COLUMN b TYPE varchar(3);\n");
  Write("0002_x.down.sql", "SELECT 1;\n");
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"validate"}, {"up", "--dry-run"}, {"rehearse"}, {"up"}}) {
    auto refused = Strata(command);
    EXPECT_EQ(refused.exit_code, 5) << command[0] << ": " << refused.all();
    EXPECT_THAT(refused.all(), HasSubstr("0002_x.up.sql:1: this statement alters table t; Strata "
                                         "cannot capture what it removes"));
  }
  EXPECT_EQ(HistoryRows(), 1);
  Write("0002_x.up.sql", "CREATE TABLE u (id int);\nDROP TABLE t, u;\n");
  auto validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, 5) << validate.all();
  EXPECT_THAT(validate.all(), HasSubstr("0002_x.up.sql:2: this statement"));
  EXPECT_THAT(validate.all(), HasSubstr("drop or truncate one table per statement"));
  // Told to go without a way back, they pass it.
  EXPECT_EQ(Strata({"validate", "--allow-irreversible"}).exit_code, 0);
}

// A down file that does not add back a column the up script drops cannot
// work: the captured values have nowhere to go. validate warns (exit 0).
TEST_P(CliTest, ValidateWarnsOfADroppedColumnTheDownFileDoesNotAddBack) {
  Write("0001_t.up.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT);\n");
  Write("0002_drop_b.up.sql", "ALTER TABLE t DROP COLUMN b;\n");
  Write("0002_drop_b.down.sql", "");
  auto validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, 0) << validate.all();
  EXPECT_THAT(validate.all(), HasSubstr("drops column t.b, and the down file does not add it back"));
  Write("0002_drop_b.down.sql", "ALTER TABLE t ADD COLUMN b TEXT;\n");
  validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, 0) << validate.all();
  EXPECT_THAT(validate.all(), Not(HasSubstr("does not add it back")));
  if (pg()) {  // Prisma's rename: added back among other actions (hunt38 #2)
    Write("0002_drop_b.up.sql", "ALTER TABLE t DROP COLUMN b, ADD COLUMN c TEXT;\n");
    Write("0002_drop_b.down.sql", "ALTER TABLE t DROP COLUMN c, ADD COLUMN b TEXT;\n");
    validate = Strata({"validate"});
    EXPECT_THAT(validate.all(), Not(HasSubstr("does not add it back")));
  }
  // Renamed before it is dropped (a type change by a new column), its
  // values go back under the name it had before the migration: that is
  // the one the down file must add (it told to add b_old).
  Write("0002_drop_b.up.sql", "ALTER TABLE t RENAME COLUMN b TO b_old;\nALTER TABLE t ADD COLUMN b INTEGER;\n"
                              "UPDATE t SET b = length(b_old);\nALTER TABLE t DROP COLUMN b_old;\n");
  Write("0002_drop_b.down.sql", "ALTER TABLE t DROP COLUMN b;\nALTER TABLE t ADD COLUMN b TEXT;\n");
  validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, 0) << validate.all();
  EXPECT_THAT(validate.all(), Not(HasSubstr("does not add it back")));
  Write("0002_drop_b.down.sql", "ALTER TABLE t DROP COLUMN b;\n");
  validate = Strata({"validate"});
  EXPECT_THAT(validate.all(), HasSubstr("drops column t.b_old (column b before the migration), and the "
                                        "down file does not add it back"));
  EXPECT_THAT(validate.all(), HasSubstr("(ALTER TABLE t ADD COLUMN b ...)"));
  // The new b kept by the down file (n8n turns it back to the old type):
  // the values go back into it, no warning.
  Write("0002_drop_b.down.sql", "SELECT 1;\n");
  validate = Strata({"validate"});
  EXPECT_THAT(validate.all(), Not(HasSubstr("does not add it back")));
  // A column the script added itself captures nothing.
  Write("0002_drop_b.up.sql", "ALTER TABLE t ADD COLUMN c TEXT;\nALTER TABLE t DROP COLUMN c;\n");
  Write("0002_drop_b.down.sql", "");
  validate = Strata({"validate"});
  EXPECT_THAT(validate.all(), Not(HasSubstr("does not add it back")));
}

// A down that cannot pass its check alone: empty for an up script that
// changes the schema (ory/keto's "-- do nothing." after a table rebuild),
// or with statements for an up script that has none (ory/kratos splits a
// rebuild's down over versions whose up scripts are empty). validate warns
// (exit 0); the rollback's failure says what to do (hunt57 #1, #2).
TEST_P(CliTest, ValidateWarnsOfADownThatCannotPassItsCheck) {
  Write("0001_t.up.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);\n");
  Write("0002_i.up.sql", "ALTER TABLE t RENAME TO t_old;\nCREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT NOT NULL);\n"
                         "INSERT INTO t SELECT * FROM t_old;\nDROP TABLE t_old;\n");
  Write("0002_i.down.sql", "-- do nothing.\n");
  auto validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, 0) << validate.all();
  EXPECT_THAT(validate.all(), HasSubstr("0002_i.down.sql has no statements, but"));
  // A rebuild passes its check only when the new table is defined as the
  // old one was, which Vaultwarden's rebuilds with an empty down are: the
  // warning says which (it claimed the rename stays and down fails, hunt80
  // #2), in either form of a rebuild; another change is named first.
  EXPECT_THAT(validate.all(), HasSubstr("0002_i.up.sql:1 begins rebuilding table t: rolling back leaves "
                                        "the rebuilt table in place, so `strata down` passes its check "
                                        "only if it is defined exactly as before"));
  Write("0002_i.up.sql", "CREATE TABLE t_new (id INTEGER PRIMARY KEY, a TEXT);\nINSERT INTO t_new SELECT * FROM t;\n"
                         "DROP TABLE t;\nALTER TABLE t_new RENAME TO t;\n");
  validate = Strata({"validate"});
  EXPECT_THAT(validate.all(), HasSubstr("0002_i.up.sql:1 begins rebuilding table t:"));
  Write("0002_i.up.sql", "CREATE TABLE t_new (id INTEGER PRIMARY KEY, a TEXT);\nINSERT INTO t_new SELECT * FROM t;\n"
                         "DROP TABLE t;\nALTER TABLE t_new RENAME TO t;\nCREATE TABLE u (id INTEGER);\n");
  validate = Strata({"validate"});
  EXPECT_THAT(validate.all(), HasSubstr("0002_i.up.sql:5 creates table u"));
  // Undone by the script itself: nothing for a down to do.
  Write("0002_i.up.sql", "ALTER TABLE t ADD COLUMN c TEXT;\nALTER TABLE t DROP COLUMN c;\n");
  validate = Strata({"validate"});
  EXPECT_THAT(validate.all(), Not(HasSubstr("has no statements")));
  Write("0002_i.up.sql", "CREATE INDEX t_a ON t (a);\nCREATE INDEX t_b ON t (id, a);\n");
  Write("0002_i.down.sql", "DROP INDEX t_a;\n");
  Write("0003_j.up.sql", "-- the change is in the version before\n");
  Write("0003_j.down.sql", "DROP INDEX t_b;\n");
  validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, 0) << validate.all();
  EXPECT_THAT(validate.all(), HasSubstr("0003_j: its up script has no statements and"));
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  auto down = Strata({"down", "--to", "1"});
  EXPECT_EQ(down.exit_code, 6) << down.all();
  EXPECT_THAT(down.all(), HasSubstr("Its up script ran no statements, so rolling it back alone must "
                                    "change nothing"));
  EXPECT_EQ(HistoryRows(), 3);
  // A table the script makes only if it is not there holds the dropped
  // column only if it was: the warning says so (mattermost's users; hunt56 #2).
  Write("0004_u.up.sql", "CREATE TABLE IF NOT EXISTS u (id INTEGER PRIMARY KEY);\n"
                         "ALTER TABLE u DROP COLUMN IF EXISTS gone;\n");
  Write("0004_u.down.sql", "DROP TABLE u;\n");
  validate = Strata({"validate"});
  EXPECT_THAT(validate.all(), HasSubstr("if table u is there before the migration with that column "
                                        "(line 1 creates it only if not)"));
  Write("0004_u.up.sql", "CREATE TABLE u (id INTEGER PRIMARY KEY, gone TEXT);\nALTER TABLE u DROP COLUMN gone;\n");
  validate = Strata({"validate"});
  EXPECT_THAT(validate.all(), Not(HasSubstr("does not add it back")));
}

// dbmate, an empty down section: its UPDATEs go back through their
// captures, so a refusal names the statement that lacks a way back (the
// INSERT), not the UPDATE it used to name.
TEST_P(CliTest, AnEmptyDownSectionsRefusalNamesTheStatementWithoutAWayBack) {
  Write("20240101000000_users.sql",
        "-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n-- migrate:down\n"
        "DROP TABLE users;\n");
  Write("20240102000000_upper.sql",
        "-- migrate:up\nINSERT INTO users (email) VALUES ('x@y');\n"
        "UPDATE users SET email = upper(email);\n-- migrate:down\n");
  auto validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, cli::kExitIrreversible) << validate.all();
  EXPECT_THAT(validate.all(), HasSubstr("line 2: inserts into users"));
}

// PostgreSQL: a database whose search_path reaches an extension in another
// schema (citext in "extensions"): baseline's empty sandbox gets it too, so
// migrations that use it replay there (they failed: type citext unknown).
TEST_P(CliTest, BaselineReplaysMigrationsThatUseAnExtensionOfAnotherSchema) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL extensions";
  ASSERT_TRUE(db_->Exec("CREATE SCHEMA app; CREATE SCHEMA extensions;"
                        "CREATE EXTENSION citext SCHEMA extensions;"
                        "CREATE TABLE app.users (id INTEGER PRIMARY KEY, email extensions.citext)")
                  .ok());
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, email citext);\n");
  const std::string url = target_->url() + (target_->url().find('?') == std::string::npos ? "?" : "&") +
                          "options=-csearch_path%3Dapp,extensions";
  auto r = RunStrata({"--database", url, "--dir", dir_.path() + "/migrations", "baseline", "1"},
                     dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_THAT(r.out, HasSubstr("the schema matches"));
}

// A Sqitch project keeps its tables in its own schema (flipr), which the
// schema compared does not show: an empty database was baselined with exit 0
// (hunt60 #2). What the migrations make elsewhere must be there by name.
TEST_P(CliTest, BaselineComparesWhatTheMigrationsMakeInOtherSchemas) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL schemas";
  ASSERT_TRUE(db_->Exec("DROP SCHEMA IF EXISTS flipr CASCADE").ok());
  Write("0001_appschema.up.sql", "CREATE SCHEMA flipr;\n");
  Write("0001_appschema.down.sql", "DROP SCHEMA flipr;\n");
  Write("0002_users.up.sql", "CREATE TABLE flipr.users (nickname TEXT PRIMARY KEY);\n");
  Write("0002_users.down.sql", "DROP TABLE flipr.users;\n");
  auto r = Strata({"baseline", "2"});
  EXPECT_EQ(r.exit_code, 6) << r.all();
  EXPECT_THAT(r.err, HasSubstr("- flipr.users (in another schema: the migrations make it, the database has none)"));
  EXPECT_EQ(HistoryRows(), 0);
  ASSERT_TRUE(db_->Exec("CREATE SCHEMA flipr; CREATE TABLE flipr.users (nickname TEXT PRIMARY KEY)").ok());
  r = Strata({"baseline", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  ASSERT_TRUE(db_->Exec("DROP SCHEMA flipr CASCADE").ok());
}

// The deparsed schema depends on the session's output settings (a default's
// interval, date or bytea, read as IntervalStyle, DateStyle, bytea_output
// say): set on the database after the migrations, status called the
// untouched schema drift and down was refused (exit 6; hunt59 #2).
TEST_P(CliTest, TheSchemaReadsTheSameWhateverTheSessionsOutputSettings) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL's output settings";
  Write("0001_t.up.sql", "CREATE TABLE t (id int, ttl interval DEFAULT '1 day 02:00:00', "
                         "d date DEFAULT '2024-01-31', at timestamptz DEFAULT '2024-01-31 10:00+00', "
                         "b bytea DEFAULT '\\x01ff');\n");
  Write("0001_t.down.sql", "DROP TABLE t;\n");
  Write("0002_x.up.sql", "ALTER TABLE t ADD COLUMN x int;\n");
  Write("0002_x.down.sql", "ALTER TABLE t DROP COLUMN x;\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  const std::string name = testing::Column(*db_, "SELECT current_database()").at(0);
  ASSERT_TRUE(db_->Exec("ALTER DATABASE " + name + " SET intervalstyle = 'sql_standard'; ALTER DATABASE " + name +
                        " SET datestyle = 'SQL, DMY'; ALTER DATABASE " + name + " SET bytea_output = 'escape'; "
                        "ALTER DATABASE " + name + " SET timezone = 'Pacific/Auckland'")
                  .ok());
  auto status = Strata({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.all();
  EXPECT_THAT(status.out, Not(HasSubstr("drift")));
  auto down = Strata({"down"});
  EXPECT_EQ(down.exit_code, 0) << down.all();
  ASSERT_TRUE(db_->Exec("ALTER DATABASE " + name + " RESET ALL").ok());
}

// Row-level security forced on a table of a role that owns it but does not
// bypass it: the data saved before a DROP COLUMN held only the rows the
// policy showed, the rollback check saw as little, and `down` exited 0
// with the other rows' values gone (hunt64 #1). Strata reads with
// row_security off: the migration fails, naming what to connect as, and
// with BYPASSRLS every value comes back.
TEST_P(CliTest, RowLevelSecurityNeverHidesRowsFromWhatARollbackSaves) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL's row-level security";
  db_->Exec("DROP ROLE IF EXISTS strata_rls_owner").IgnoreError();
  ASSERT_TRUE(db_->Exec("CREATE ROLE strata_rls_owner LOGIN; "
                        "ALTER SCHEMA public OWNER TO strata_rls_owner; SET ROLE strata_rls_owner; "
                        "CREATE TABLE docs (id int PRIMARY KEY, tenant text, body text); "
                        "INSERT INTO docs VALUES (1, 'a', 'one'), (2, 'b', 'two'); "
                        "ALTER TABLE docs ENABLE ROW LEVEL SECURITY; "
                        "ALTER TABLE docs FORCE ROW LEVEL SECURITY; "
                        "CREATE POLICY mine ON docs USING (tenant = 'a'); RESET ROLE")
                  .ok());
  Write("0001_drop_body.up.sql", "ALTER TABLE docs DROP COLUMN body;\n");
  Write("0001_drop_body.down.sql", "ALTER TABLE docs ADD COLUMN body text;\n");
  auto with = [&](std::vector<std::string> args) { return StrataAs("strata_rls_owner", std::move(args)); };
  auto up = with({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, 1) << up.all();
  EXPECT_THAT(up.err, HasSubstr("row-level security policy for table \"docs\""));
  EXPECT_THAT(up.err, HasSubstr("a role with BYPASSRLS"));
  EXPECT_EQ(Scalar(*db_, "SELECT count(body) FROM docs"), 2);

  ASSERT_TRUE(db_->Exec("ALTER ROLE strata_rls_owner BYPASSRLS").ok());
  up = with({"up", "--no-snapshot"});
  ASSERT_EQ(up.exit_code, 0) << up.all();
  auto down = with({"down"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_EQ(testing::Column(*db_, "SELECT id || body FROM docs ORDER BY id"),
            (std::vector<std::string>{"1one", "2two"}));

  // A migration forcing row-level security on a table: Strata's reads of
  // it after the commit failed, and `up` said "rolled back" (exit 1) of a
  // migration history kept as applied (hunt66 #1). It fails before the
  // commit now, at the statement, and is undone.
  ASSERT_TRUE(db_->Exec("ALTER ROLE strata_rls_owner NOBYPASSRLS").ok());
  Write("0002_notes.up.sql", "CREATE TABLE notes (id int PRIMARY KEY, tenant text);\n"
                             "ALTER TABLE notes ENABLE ROW LEVEL SECURITY;\n"
                             "ALTER TABLE IF EXISTS notes FORCE ROW LEVEL SECURITY;\n");
  Write("0002_notes.down.sql", "DROP TABLE notes;\n");
  ASSERT_TRUE(db_->Exec("ALTER TABLE docs NO FORCE ROW LEVEL SECURITY").ok());
  up = with({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, 1) << up.all();
  EXPECT_THAT(up.err, HasSubstr("0002_notes.up.sql:3: query would be affected by row-level security"));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_class WHERE relname = 'notes'"), 0);
  EXPECT_EQ(testing::Column(*db_, "SELECT version::text FROM strata_history ORDER BY 1"),
            std::vector<std::string>{"1"});
  // Nor under the script's own SET row_security = on (hunt68 #2): the read
  // and the capture run with the connection's setting.
  Write("0002_notes.up.sql", "SET row_security = on;\nALTER TABLE docs FORCE ROW LEVEL SECURITY;\n"
                             "ALTER TABLE docs DROP COLUMN tenant;\n");
  Write("0002_notes.down.sql", "ALTER TABLE docs ADD COLUMN tenant text;\n");
  up = with({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, 1) << up.all();
  EXPECT_THAT(up.err, HasSubstr("0002_notes.up.sql:2: query would be affected by row-level security"));
  EXPECT_EQ(Scalar(*db_, "SELECT count(tenant) FROM docs"), 2);
  ASSERT_TRUE(db_->Exec("DROP TABLE docs; DROP TABLE strata_history; "
                        "ALTER SCHEMA public OWNER TO pg_database_owner")
                  .ok());
  db_->Exec("DROP OWNED BY strata_rls_owner; DROP ROLE strata_rls_owner").IgnoreError();
}

// The schema's default privileges gave Strata's own tables to the
// application's role: it could read a dropped column's values in the
// capture, and rewrite a stored down script that the next rollback ran
// (hunt66 #2, #3). Strata's tables are its own now.
TEST_P(CliTest, StrataTablesAreNotGivenToOtherRolesByDefaultPrivileges) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL's privileges";
  db_->Exec("DROP ROLE IF EXISTS strata_app").IgnoreError();
  ASSERT_TRUE(db_->Exec("CREATE ROLE strata_app; ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                        "GRANT ALL ON TABLES TO strata_app")
                  .ok());
  Write("0001_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY, password_hash text);\n");
  Write("0002_drop_hash.up.sql", "ALTER TABLE users DROP COLUMN password_hash;\n"
                                 "UPDATE users SET id = id + 0;\n");
  Write("0002_drop_hash.down.sql", "ALTER TABLE users ADD COLUMN password_hash text;\n");
  ASSERT_EQ(Strata({"up", "--to", "1", "--no-snapshot"}).exit_code, 0);
  ASSERT_TRUE(db_->Exec("INSERT INTO users VALUES (1, 'secret')").ok());
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  // A dropped column's values, a table captured whole and its sequences' positions.
  EXPECT_EQ(testing::Column(*db_, "SELECT relname FROM pg_class WHERE relname LIKE 'strata\\_%' "
                                  "AND relkind = 'r' ORDER BY 1"),
            (std::vector<std::string>{"strata_capture_2_1", "strata_capture_2_2",
                                      "strata_capture_2_2_counter", "strata_history"}));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_class WHERE relname LIKE 'strata\\_%' AND relkind = 'r' "
                         "AND (has_table_privilege('strata_app', oid, 'SELECT') OR "
                         "has_table_privilege('strata_app', oid, 'UPDATE'))"),
            0);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_class WHERE relname = 'users' "
                         "AND has_table_privilege('strata_app', oid, 'UPDATE')"),
            1);
  ASSERT_EQ(Strata({"down"}).exit_code, 0);
  EXPECT_EQ(testing::Column(*db_, "SELECT password_hash FROM users"), std::vector<std::string>{"secret"});
  ASSERT_TRUE(db_->Exec("DROP TABLE users; DROP TABLE strata_history; DROP OWNED BY strata_app").ok());
  db_->Exec("DROP ROLE strata_app").IgnoreError();
}

// A data migration run by a role that may update a table it does not own:
// putting the captured values back pauses the table's triggers, which only
// its owner may, and the rollback exited 6 telling to fix the down file
// (hunt66 #7). It is exit 1 naming what the role lacks, the data as it was.
TEST_P(CliTest, ARollbackTheRoleMayNotDoIsNotBlamedOnTheDownFile) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL's table owners";
  db_->Exec("DROP ROLE IF EXISTS strata_writer").IgnoreError();
  Write("0001_items.up.sql",
        "CREATE TABLE items (id int PRIMARY KEY, sku text, touched int DEFAULT 0);\n"
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "NEW.touched := OLD.touched + 1; RETURN NEW; END $$;\n"
        "CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();\n");
  Write("0002_upper.up.sql", "UPDATE items SET sku = upper(sku);\n");
  Write("0002_upper.down.sql", "");
  ASSERT_EQ(Strata({"up", "--to", "1", "--no-snapshot"}).exit_code, 0);
  ASSERT_TRUE(db_->Exec("CREATE ROLE strata_writer LOGIN; GRANT USAGE, CREATE ON SCHEMA public TO "
                        "strata_writer; GRANT SELECT, INSERT, UPDATE, DELETE ON items, strata_history "
                        "TO strata_writer; INSERT INTO items (id, sku) VALUES (1, 'a'), (2, 'b')")
                  .ok());
  auto with = [&](std::vector<std::string> args) { return StrataAs("strata_writer", std::move(args)); };
  ASSERT_EQ(with({"up", "--no-snapshot"}).exit_code, 0);
  auto down = with({"down"});
  EXPECT_EQ(down.exit_code, 1) << down.all();
  EXPECT_THAT(down.err, HasSubstr("must be owner of table items"));
  EXPECT_THAT(down.err, HasSubstr("roll back as the owner or a superuser"));
  EXPECT_THAT(down.err, Not(HasSubstr("Fix the down file")));
  EXPECT_EQ(testing::Column(*db_, "SELECT sku || touched FROM items ORDER BY id"),
            (std::vector<std::string>{"A1", "B1"}));
  ASSERT_TRUE(db_->Exec("DROP TABLE items; DROP FUNCTION touch(); DROP TABLE strata_history; "
                        "DROP OWNED BY strata_writer")
                  .ok());
  db_->Exec("DROP ROLE strata_writer").IgnoreError();
}

// SQLite lets a PRIMARY KEY column that is not INTEGER hold NULL: those
// rows' captured values could never go back (down exited 0 and left them
// changed). An UPDATE of such a table is refused as irreversible.
TEST_P(CliTest, AnUpdateOfRowsWithANullPrimaryKeyIsRefused) {
  if (pg()) GTEST_SKIP() << "PostgreSQL's primary keys are NOT NULL";
  ASSERT_TRUE(db_->Exec("CREATE TABLE items (sku TEXT PRIMARY KEY, name TEXT);"
                        "INSERT INTO items VALUES ('a1', 'Apple'), (NULL, 'Legacy One')")
                  .ok());
  Write("0001_lower.up.sql", "UPDATE items SET name = lower(name);\n");
  Write("0001_lower.down.sql", "");
  auto up = Strata({"up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, cli::kExitIrreversible) << up.all();
  EXPECT_THAT(up.err, HasSubstr("rows whose primary key is NULL"));
  EXPECT_EQ(strata::testing::Column(*db_, "SELECT name FROM items ORDER BY name"),
            (std::vector<std::string>{"Apple", "Legacy One"}));
  // With keys, the same migration applies and rolls back.
  ASSERT_TRUE(db_->Exec("UPDATE items SET sku = 'l1' WHERE sku IS NULL").ok());
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  ASSERT_EQ(Strata({"down"}).exit_code, 0);
  EXPECT_EQ(strata::testing::Column(*db_, "SELECT name FROM items ORDER BY name"),
            (std::vector<std::string>{"Apple", "Legacy One"}));
}

TEST_P(CliTest, LockOfAKilledRunDoesNotBlockTheNext) {
  Write("0001_fast.up.sql", "CREATE TABLE fast (id INTEGER);\n");
  Write("0002_slow.up.sql", SlowSql(5));
  Write("0002_slow.down.sql", "DROP TABLE slow;\n");
  {
    StrataProcess victim(Args({"up"}), dir_.path());
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    victim.Kill();
    victim.Wait();
  }
  // The killed migration left nothing behind: not applied, no table, no
  // history row (the one before it may be committed: on PostgreSQL each
  // migration commits on its own, on SQLite the run commits at its end).
  EXPECT_LE(HistoryRows(), 1);
  EXPECT_FALSE(*target_->Connect()->TableExists("slow"));
  Write("0002_slow.up.sql", "CREATE TABLE slow (id INTEGER);\n");
  auto next = Strata({"up", "--lock-timeout", "5s"});
  EXPECT_EQ(next.exit_code, 0) << next.all();
  EXPECT_EQ(HistoryRows(), 2);
}

TEST_P(CliTest, PasswordNeverAppearsInOutput) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  const std::string secret = "Sup3rS3cretPw";
  if (pg()) {
    // The test server trusts loopback, so a URL with a password still connects.
    std::string url = target_->url();
    url.replace(url.find("://") + 3, 0, "");
    size_t at = url.find('@');
    url.insert(at, ":" + secret);
    auto run = RunStrata({"--database", url, "--dir", dir_.path() + "/migrations", "up"}, dir_.path());
    EXPECT_EQ(run.exit_code, 0) << run.all();
    run = RunStrata({"--database", url, "--dir", dir_.path() + "/migrations", "status"}, dir_.path());
    EXPECT_THAT(run.all(), Not(HasSubstr(secret)));
    EXPECT_THAT(run.out, HasSubstr(":***@"));
    // A failing statement's error on the same URL.
    Write("0002_bad.up.sql", "CREATE TABLE users (id INTEGER);\n");
    Write("0002_bad.down.sql", "SELECT 1;\n");
    run = RunStrata({"--database", url, "--dir", dir_.path() + "/migrations", "up"}, dir_.path());
    EXPECT_EQ(run.exit_code, cli::kExitMigrationFailed);
    EXPECT_THAT(run.all(), Not(HasSubstr(secret)));
  }
  // Unreachable server: the URL is echoed, redacted.
  auto run = RunStrata({"--database", "postgresql://app:" + secret + "@127.0.0.1:1/shop", "--dir",
                        dir_.path() + "/migrations", "up"},
                       dir_.path());
  EXPECT_EQ(run.exit_code, cli::kExitUnavailable) << run.all();
  EXPECT_THAT(run.err, HasSubstr("postgresql://app:***@127.0.0.1:1/shop"));
  EXPECT_THAT(run.all(), Not(HasSubstr(secret)));
  // From DATABASE_URL, with the password in a query parameter.
  run = RunStrata({"--dir", dir_.path() + "/migrations", "status"}, dir_.path(),
                  {{"DATABASE_URL", "postgres://app@127.0.0.1:1/shop?password=" + secret}});
  EXPECT_EQ(run.exit_code, cli::kExitUnavailable);
  EXPECT_THAT(run.all(), Not(HasSubstr(secret)));
}

// libpq reads a '?' or '#' before the credentials' '@' as part of the
// password, so such a URL connects: it must be redacted whole everywhere,
// and the sandbox URL rehearse derives from it must keep it.
TEST_P(CliTest, PasswordWithAQuestionMarkOrHashIsRedactedWhole) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL URLs";
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  const std::string secret = "pw#Sup3r?S3cret";
  std::string url = target_->url();
  url.insert(url.find('@'), ":" + secret);
  auto run = RunStrata({"--database", url, "--dir", dir_.path() + "/migrations", "status", "--json"},
                       dir_.path());
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.all(), Not(HasSubstr("Sup3r")));
  EXPECT_THAT(run.out, HasSubstr(":***@"));
  run = RunStrata({"--database", url, "--dir", dir_.path() + "/migrations", "rehearse"}, dir_.path());
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.all(), Not(HasSubstr("Sup3r")));
  run = RunStrata({"--database", url, "--dir", dir_.path() + "/migrations", "up"}, dir_.path());
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.all(), Not(HasSubstr("Sup3r")));
  EXPECT_EQ(HistoryRows(), 1);
}

// The report's columns line up whatever the length of a migration's name.
TEST_P(CliTest, RehearseReportColumnsLineUpUnderLongNames) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  Write("0002_add_the_notification_preferences_of_every_user.up.sql",
        "ALTER TABLE users ADD COLUMN notify TEXT;\n");
  auto run = Strata({"rehearse"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  std::vector<size_t> result_at;
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) {
    for (const char* word : {" result ", " pass "}) {
      if (line.starts_with("  0") || line.starts_with("  migration")) {
        if (size_t at = line.find(word); at != std::string::npos) result_at.push_back(at);
      }
    }
  }
  ASSERT_EQ(result_at.size(), 3u) << run.out;
  EXPECT_EQ(result_at[0], result_at[1]) << run.out;
  EXPECT_EQ(result_at[0], result_at[2]) << run.out;
}

TEST_P(CliTest, IrreversibleIsRefusedWithItsExitCodeAndNothingChanges) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_drop_email.up.sql", "ALTER TABLE users DROP COLUMN email;\n");
  // validate takes the flag its advice names: then it is a warning.
  auto run = Strata({"validate"});
  EXPECT_EQ(run.exit_code, cli::kExitIrreversible);
  EXPECT_THAT(run.err, HasSubstr("error: migration 0002_drop_email: down script missing"));
  run = Strata({"validate", "--allow-irreversible"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("warning: migration 0002_drop_email: down script missing"));
  EXPECT_THAT(run.out, HasSubstr("0 errors, 1 warning"));
  run = Strata({"up"});
  EXPECT_EQ(run.exit_code, cli::kExitIrreversible);
  EXPECT_THAT(run.err, HasSubstr("0002_drop_email: down script missing"));
  EXPECT_THAT(run.err, HasSubstr("--allow-irreversible"));
  EXPECT_EQ(target_->Connect()->ListColumns("users")->size(), 2u);
  run = Strata({"up", "--allow-irreversible"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(target_->Connect()->ListColumns("users")->size(), 1u);
  run = Strata({"down"});
  EXPECT_EQ(run.exit_code, cli::kExitIrreversible);
  EXPECT_EQ(HistoryRows(), 2);
}

TEST_P(CliTest, ChangedFileMakesStatusAndValidateFail) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n");
  auto status = Strata({"status"});
  EXPECT_EQ(status.exit_code, cli::kExitConflict);
  EXPECT_THAT(status.out, HasSubstr("changed"));
  EXPECT_THAT(status.out, HasSubstr("+CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"));
  auto validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, cli::kExitConflict);
  EXPECT_THAT(validate.err, HasSubstr("0001_users: changed after it was applied"));
  // A deleted file of an applied migration: both say so with exit 7.
  dir_.Remove("migrations/0001_users.up.sql");
  EXPECT_EQ(Strata({"status"}).exit_code, cli::kExitConflict);
  validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, cli::kExitConflict) << validate.all();
  EXPECT_THAT(validate.err, HasSubstr("0001_users: applied, but its file is gone"));
}

// An applied migration's file renamed (same version and content): status
// and validate name the file as it is now, and nothing else changes.
TEST_P(CliTest, RenamedAppliedFileIsNamedByStatusAndValidate) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  dir_.Remove("migrations/0001_users.up.sql");
  Write("0001_accounts.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  auto status = Strata({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.all();
  EXPECT_THAT(status.out, HasSubstr("its file was renamed since: now 0001_accounts"));
  auto json_status = Strata({"status", "--json"});
  nlohmann::json report = nlohmann::json::parse(json_status.out);
  EXPECT_EQ(report["migrations"][0]["id"], "0001_users");
  EXPECT_EQ(report["migrations"][0]["state"], "applied");
  EXPECT_EQ(report["migrations"][0]["file_id"], "0001_accounts");
  auto validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, 0) << validate.all();
  EXPECT_THAT(validate.all(), HasSubstr("0001_users: applied under this name, its file is now named 0001_accounts"));
  // Unrenamed: no such line.
  Write("0002_more.up.sql", "CREATE TABLE more (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(Strata({"status", "--json"}).out)["migrations"][1].count("file_id"), 0u);
}

// A comment added to an applied file: resolve --accept-file records the file
// as it is now (status and up agree again); a deleted down file leaves the
// rollback to the down script stored at apply time.
TEST_P(CliTest, AcceptingAChangedFileRecordsItAndKeepsTheWayBack) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  Write("0001_users.down.sql", "DROP TABLE users;\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0001_users.up.sql", "-- who signs in\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  dir_.Remove("migrations/0001_users.down.sql");
  ASSERT_EQ(Strata({"status"}).exit_code, cli::kExitConflict);
  auto r = Strata({"resolve", "1", "--accept-file"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_THAT(r.out, HasSubstr("+-- who signs in"));
  EXPECT_THAT(r.out, Not(HasSubstr("down script")));
  EXPECT_EQ(Strata({"status"}).exit_code, 0);
  EXPECT_EQ(testing::Column(*target_->Connect(), "SELECT up_script || down_script FROM strata_history"),
            std::vector<std::string>{"-- who signs in\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n"
                                     "DROP TABLE users;\n"});
  // Nothing left to accept; and a file that is not applied has none.
  r = Strata({"resolve", "1", "--accept-file"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_THAT(r.err, HasSubstr("unchanged since it was applied"));
  Write("0002_more.up.sql", "CREATE TABLE more (id INTEGER);\n");
  EXPECT_EQ(Strata({"resolve", "2", "--accept-file"}).exit_code, 2);
  ASSERT_EQ(Strata({"down"}).exit_code, 0);
  EXPECT_FALSE(*target_->Connect()->TableExists("users"));
}

// A down script with a mistake fails its rollback, which runs the copy
// stored at apply time: validate shows the fixed file differs, resolve
// --accept-file stores it, and the rollback goes through.
TEST_P(CliTest, AFixedDownFileIsStoredByAcceptFile) {
  Write("0001_notes.up.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY);\nCREATE INDEX notes_id ON notes (id);\n");
  Write("0001_notes.down.sql", "DROP INDEX notes_idx;\nDROP TABLE notes;\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  auto failed = Strata({"down"});
  EXPECT_EQ(failed.exit_code, cli::kExitMigrationFailed) << failed.all();
  EXPECT_THAT(failed.err, HasSubstr("strata resolve 1 --accept-file"));
  EXPECT_TRUE(*target_->Connect()->TableExists("notes"));

  Write("0001_notes.down.sql", "DROP INDEX notes_id;\nDROP TABLE notes;\n");
  auto validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, 0) << validate.all();
  EXPECT_THAT(validate.all(), HasSubstr("0001_notes: its down file differs from the down script stored"));
  EXPECT_THAT(validate.all(), HasSubstr("+DROP INDEX notes_id;"));
  auto accepted = Strata({"resolve", "1", "--accept-file"});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.all();
  EXPECT_THAT(accepted.out, HasSubstr("down script (stored file, now the file's)"));
  EXPECT_THAT(Strata({"validate"}).all(), Not(HasSubstr("differs")));
  auto rolled = Strata({"down"});
  ASSERT_EQ(rolled.exit_code, 0) << rolled.all();
  EXPECT_FALSE(*target_->Connect()->TableExists("notes"));
}

// An empty down file, which `up` takes as the way back of a data migration
// whose captured rows go back by themselves, was "nothing to accept" for
// one applied without a way back (hunt71 #4).
TEST_P(CliTest, AnEmptyDownFileIsAcceptedForAMigrationStoredWithoutOne) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO k VALUES (1, 'a')").ok());
  Write("0001_touch.up.sql", "UPDATE k SET v = 'b';\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot", "--allow-irreversible"}).exit_code, 0);
  Write("0001_touch.down.sql", "");
  auto accepted = Strata({"resolve", "1", "--accept-file"});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.all();
  EXPECT_THAT(accepted.out, HasSubstr("(an empty down file, where none was stored)"));
  auto rolled = Strata({"down"});
  ASSERT_EQ(rolled.exit_code, 0) << rolled.all();
  EXPECT_EQ(testing::Column(*target_->Connect(), "SELECT v FROM k"), std::vector<std::string>{"a"});
}

TEST_P(CliTest, SameSizeEditOfACachedFileIsReported) {
  if (pg()) GTEST_SKIP() << "the checksum cache does not depend on the engine";
  const std::string file = dir_.path() + "/migrations/0001_users.up.sql";
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  // Once the file is old enough to be trusted, a status caches its checksum.
  std::this_thread::sleep_for(ChecksumCache::kRacyWindow + std::chrono::milliseconds(200));
  ASSERT_EQ(Strata({"status"}).exit_code, 0);
  std::string cache_dir = std::string(std::getenv("XDG_CACHE_HOME")) + "/strata";
  bool cached = false;
  for (const auto& entry : std::filesystem::directory_iterator(cache_dir)) {
    std::ifstream in(entry.path());
    std::string text((std::istreambuf_iterator<char>(in)), {});
    cached = cached || text.find("0001_users.up.sql\t") != std::string::npos;
  }
  ASSERT_TRUE(cached);
  struct stat before {};
  ASSERT_EQ(stat(file.c_str(), &before), 0);
  Write("0001_users.up.sql", "CREATE TABLE users (ix INTEGER PRIMARY KEY);\n");
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  auto status = Strata({"status"});
  EXPECT_EQ(status.exit_code, cli::kExitConflict) << status.all();
  EXPECT_THAT(status.out, HasSubstr("+CREATE TABLE users (ix INTEGER PRIMARY KEY);"));
}

TEST_P(CliTest, MalformedSqlNamesFileAndLine) {
  Write("0001_ok.up.sql", "CREATE TABLE ok (id INTEGER);\n");
  Write("0002_typo.up.sql", "CREATE TABLE t (id INTEGER);\n\nCRATE TABLE u (id INTEGER);\n");
  Write("0002_typo.down.sql", "DROP TABLE t;\n");
  auto run = Strata({"up"});
  EXPECT_EQ(run.exit_code, cli::kExitMigrationFailed);
  EXPECT_THAT(run.err, HasSubstr("0002_typo.up.sql:3:"));
  EXPECT_THAT(run.err, HasSubstr("syntax error"));
  auto db = target_->Connect();
  EXPECT_TRUE(*db->TableExists("ok"));
  EXPECT_FALSE(*db->TableExists("t"));
}

TEST_P(CliTest, UnterminatedQuotesAreCaughtBeforeAnythingRuns) {
  Write("0001_ok.up.sql", "CREATE TABLE ok (id INTEGER);\n");
  Write("0002_quote.up.sql", "CREATE TABLE q (v TEXT);\nINSERT INTO q VALUES ('it''s\n");
  Write("0002_quote.down.sql", "DROP TABLE q;\n");
  auto run = Strata({"up"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("0002_quote.up.sql:2:23: unterminated single-quoted string"));
  EXPECT_FALSE(*target_->Connect()->TableExists("ok"));
  if (pg()) {
    Write("0002_quote.up.sql", "CREATE FUNCTION f() RETURNS int AS $body$\nSELECT 1;\n");
    run = Strata({"validate"});
    EXPECT_EQ(run.exit_code, cli::kExitUsage);
    EXPECT_THAT(run.err, HasSubstr("0002_quote.up.sql:1:36: unterminated dollar-quoted string $body$"));
  }
}

INSTANTIATE_TEST_SUITE_P(Sqlite, CliTest, ::testing::Values(Engine::kSqlite));
// A string that is not UTF-8 (a file name, a comment saved in Latin-1)
// aborted every --json output: exit 134 and no JSON at all. Each invalid
// byte is U+FFFD now, and the exit code is the documented one.
TEST_P(CliTest, JsonOutputSurvivesBytesThatAreNotUtf8) {
  // A file name must be UTF-8 (LoadMigrations); its text need not be.
  const std::string file = "0001_cafe.up.sql";
  Write(file, "CREATE TABLE t (id INTEGER PRIMARY KEY);\n");
  auto run = Strata({"up", "--no-snapshot"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  std::ofstream(dir_.path() + "/migrations/" + file, std::ios::app) << "-- caf\xe9\n";
  run = Strata({"status", "--json"});
  EXPECT_EQ(run.exit_code, 7) << run.all();
  auto json = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << run.out;
  EXPECT_EQ(json["summary"]["changed"], 1);
  EXPECT_THAT(json["migrations"][0]["diff"].get<std::string>(), HasSubstr("caf\xef\xbf\xbd"));
  run = Strata({"snapshot", "create", "--label", "\xff"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  run = Strata({"snapshot", "list", "--json"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_FALSE(nlohmann::json::parse(run.out, nullptr, false).is_discarded()) << run.out;
}

// The guide: errors name a dbmate file's own lines, in either section. A
// failure in the stored down section named the line counted from its
// '-- migrate:down' marker (3 here, a blank line of the file).
TEST_P(CliTest, AStoredDownSectionsErrorNamesTheFilesLine) {
  Write("20240101000000_a.sql",
        "-- migrate:up\ncreate table a (x int);\n\n-- migrate:down\n\nselect * from nosuch;\n"
        "drop table a;\n");
  auto run = Strata({"up", "--no-snapshot"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  run = Strata({"down"});
  EXPECT_EQ(run.exit_code, 1) << run.all();
  EXPECT_THAT(run.err, HasSubstr("20240101000000_a (down script stored at apply time):6: "));
  EXPECT_EQ(HistoryRows(), 1);
}

INSTANTIATE_TEST_SUITE_P(Postgres, CliTest, ::testing::Values(Engine::kPostgres));

// Input errors that need no database server.
class CliInputTest : public ::testing::Test {
 protected:
  testing::CliRun Strata(std::vector<std::string> args) { return RunStrata(args, dir_.path()); }
  TempDir dir_;
};

TEST_F(CliInputTest, UnknownUrlScheme) {
  auto run = Strata({"--database", "mongodb://localhost/x", "status"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("unsupported database URL 'mongodb://localhost/x' (scheme 'mongodb')"));
}

// A malformed setting in a PostgreSQL URL is a usage error, caught before
// connecting (libpq would only refuse it as "cannot connect", exit 4).
TEST_F(CliInputTest, MalformedPostgresUrlSettings) {
  const std::pair<std::string, std::string> cases[] = {
      {"postgres://app:s3cret@127.0.0.1:notaport/db", "port 'notaport' is not a port number"},
      {"postgres://app:s3cret@127.0.0.1:70000/db", "port '70000' is not a port number"},
      {"postgres://app:s3cret@127.0.0.1:5432/db?sslmode=bogus", "sslmode 'bogus' is not one of disable,"},
      {"postgres://app:s3cret@127.0.0.1:5432/db?connect_timeout=soon", "connect_timeout 'soon' is not a whole number"},
      {"postgres://app:s3cret@127.0.0.1:5432/db?bogus=1", "invalid URI query parameter"},
      // dbmate's way to name the schema: the message says libpq's.
      {"postgres://app:s3cret@127.0.0.1:5432/db?sslmode=disable&search_path=app",
       "choose the schema with options=-csearch_path%3Dname"},
  };
  for (const auto& [url, why] : cases) {
    auto run = Strata({"--database", url, "status"});
    EXPECT_EQ(run.exit_code, cli::kExitUsage) << url << "\n" << run.err;
    EXPECT_THAT(run.err, HasSubstr("invalid PostgreSQL URL")) << url;
    EXPECT_THAT(run.err, HasSubstr(why)) << url;
    EXPECT_THAT(run.err, ::testing::Not(HasSubstr("s3cret"))) << url;
  }
}

TEST_F(CliInputTest, MissingDirectory) {
  auto run = Strata({"--database", "sqlite:" + dir_.path() + "/a.db", "--dir", "nope", "up"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("migrations directory 'nope' does not exist"));
}

TEST_F(CliInputTest, BadFileNamesAreAllReported) {
  dir_.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  dir_.Write("migrations/1_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
  dir_.Write("migrations/0002_orphan.down.sql", "DROP TABLE x;\n");
  dir_.Write("migrations/abc_c.up.sql", "SELECT 1;\n");
  dir_.Write("migrations/0003_nokind.sql", "SELECT 1;\n");
  dir_.Write("migrations/README.md", "not a migration");
  std::string db = dir_.path() + "/a.db";
  auto run = Strata({"--database", "sqlite:" + db, "up"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("4 problems in migrations:"));
  EXPECT_THAT(run.err, HasSubstr("1_b.up.sql: duplicate version 1: also used by migrations/0001_a.*.sql"));
  EXPECT_THAT(run.err, HasSubstr("0002_orphan.down.sql: has no up script"));
  EXPECT_THAT(run.err, HasSubstr("abc_c.up.sql: version 'abc' is not a number"));
  EXPECT_THAT(run.err, HasSubstr("0003_nokind.sql: name does not parse"));
  auto validate = Strata({"validate"});
  EXPECT_EQ(validate.exit_code, cli::kExitUsage);
  auto opened = OpenDatabase("sqlite:" + db);
  ASSERT_TRUE(opened.ok());
  EXPECT_FALSE(*(*opened)->TableExists("a"));
}

TEST_F(CliInputTest, NoDatabaseGiven) {
  dir_.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  auto run = Strata({"up"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("no database given"));
}

// A misspelt section or key, or a value of the wrong type, in strata.toml is
// an error naming its line, not a silent fall back to the default.
TEST_F(CliInputTest, ConfigTyposAndWrongTypesAreErrors) {
  dir_.Write("db/migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  dir_.Write("strata.toml", "[database]\nurl = \"sqlite:app.db\"\n[migration]\ndir = \"db/migrations\"\n");
  auto run = Strata({"status"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("strata.toml:3:1: unknown section [migration]"));
  dir_.Write("strata.toml", "[database]\nuri = \"sqlite:app.db\"\n");
  run = Strata({"status"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("strata.toml:2:1: [database] has no key 'uri' (it takes: url)"));
  dir_.Write("strata.toml", "[database]\nurl = \"sqlite:app.db\"\n[lock]\ntimeout = 30\n");
  run = Strata({"--dir", "db/migrations", "up"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("[lock] timeout is an integer; write e.g. timeout = \"10s\""));
  dir_.Write("strata.toml", "[database]\nurl = \"sqlite:app.db\"\n[migrations]\nlock_timeout = \"soon\"\n");
  run = Strata({"--dir", "db/migrations", "up"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("strata.toml:4:16: [migrations] lock_timeout: 'soon' is not a duration"));
  dir_.Write("strata.toml", "[database]\nurl = \"sqlite:app.db\"\n[lock]\ntimeout = \"10 seconds\"\n");
  run = Strata({"status"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("strata.toml:4:11: [lock] timeout: '10 seconds' has an unknown unit"));
  // Given empty, in the file or as the flag, is no quiet default either.
  dir_.Write("strata.toml", "[database]\nurl = \"sqlite:app.db\"\n[lock]\ntimeout = \"\"\n");
  run = Strata({"status"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("strata.toml:4:11: [lock] timeout: '' is not a duration"));
  dir_.Write("strata.toml", "[database]\nurl = \"sqlite:app.db\"\n");
  run = Strata({"--dir", "db/migrations", "up", "--lock-timeout", ""});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("--lock-timeout: '' is not a duration"));
  dir_.Write("strata.toml", "[database]\nurl = \"sqlite:app.db\"\n[snapshots]\nbefore_up = \"no\"\n");
  run = Strata({"--dir", "db/migrations", "up"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("[snapshots] before_up is a string; write e.g. before_up = true"));
  dir_.Write("strata.toml", "[database]\nurl = \"sqlite:app.db\"\n[placeholders]\nshards = 4\n");
  run = Strata({"--dir", "db/migrations", "up"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("[placeholders] shards is an integer; write e.g. shards = \"value\""));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/app.db"));
  dir_.Write("strata.toml", "[database]\nurl = \"sqlite:app.db\"\n[snapshots]\nbefore_up = false\n"
                            "max_auto_size = 1024\n[migrations]\ndir = \"db/migrations\"\n");
  run = Strata({"up"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, Not(HasSubstr("snapshot")));
  run = Strata({"--config", dir_.path(), "--database", "sqlite:app.db", "status"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("is a directory"));
  // Commands that read only the snapshot settings check --config the same way.
  run = Strata({"--config", dir_.path() + "/nope.toml", "snapshot", "list"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("config file '" + dir_.path() + "/nope.toml' does not exist"));
}

// A max_auto_size past 2^64 bytes aborted every command that reads the
// snapshot settings (std::stoull threw; exit 134), and a negative one became
// a huge size without a word. Both are configuration errors now.
TEST_F(CliInputTest, MaxAutoSizeOutOfRangeIsAnError) {
  dir_.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  for (const char* size : {"\"99999999999999999999GiB\"", "\"20000000000TiB\"", "-5"}) {
    dir_.Write("strata.toml", std::string("[database]\nurl = \"sqlite:app.db\"\n[snapshots]\n") +
                                  "max_auto_size = " + size + "\n");
    auto run = Strata({"snapshot", "list"});
    EXPECT_EQ(run.exit_code, cli::kExitUsage) << size << ": " << run.all();
    EXPECT_THAT(run.err, HasSubstr("max_auto_size")) << size;
    run = Strata({"up"});
    EXPECT_EQ(run.exit_code, cli::kExitUsage) << size << ": " << run.all();
  }
  EXPECT_TRUE(testing::Column(*OpenDatabase("sqlite:" + dir_.path() + "/app.db").value(),
                              "SELECT name FROM sqlite_schema WHERE name = 'a'")
                  .empty());
}

// A name in another script keeps its letters; and after the largest version
// `new` says so instead of writing a file with a negative version.
TEST_F(CliInputTest, NewKeepsNonAsciiLettersAndStopsAtTheLargestVersion) {
  auto run = Strata({"new", "Café crème"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("migrations/0001_café_crème.up.sql"));
  run = Strata({"new", "ユーザー"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("migrations/0002_ユーザー.up.sql"));
  EXPECT_EQ(Strata({"validate"}).exit_code, 0);
  dir_.Write("migrations/9223372036854775807_last.up.sql", "SELECT 1;\n");
  run = Strata({"new", "after"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("has the largest version there is"));
  EXPECT_EQ(Strata({"validate"}).exit_code, 0);
}

// The URL `init` writes into strata.toml is a TOML string however it is
// spelt: a '"' or a backslash does not make the file unreadable. Its
// password is left out: projects commit that file.
TEST_F(CliInputTest, InitWritesAUrlWithQuotesAndBackslashesReadably) {
  auto run = Strata({"--database", "postgres://a\"p\\p:s3cr\"et@127.0.0.1:1/shop?password=x", "init"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("the password is left out of strata.toml"));
  std::ifstream toml(dir_.path() + "/strata.toml");
  const std::string written((std::istreambuf_iterator<char>(toml)), std::istreambuf_iterator<char>());
  EXPECT_THAT(written, Not(HasSubstr("s3cr")));
  run = Strata({"status"});  // the URL comes from strata.toml
  EXPECT_EQ(run.exit_code, cli::kExitUnavailable) << run.all();
  EXPECT_THAT(run.err, HasSubstr("postgres://a\"p\\p@127.0.0.1:1/shop"));
}

// Trying migrations out on an in-memory database (a CI check) needs no
// --no-snapshot: there is nothing to snapshot for later.
TEST_F(CliInputTest, UpOnAnInMemoryDatabaseTakesNoSnapshot) {
  dir_.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  auto run = Strata({"--database", "sqlite::memory:", "up"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("applied 1 migration"));
}

TEST_F(CliInputTest, UnknownDirectiveIsAnError) {
  dir_.Write("migrations/0001_a.up.sql", "-- strata:no-transactoin\nCREATE TABLE a (id INTEGER);\n");
  auto run = Strata({"validate"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("0001_a.up.sql:1: unknown directive 'strata:no-transactoin'"));
}

// Without a database the engine is not known: a PostgreSQL function body
// (its END inside dollar quotes) is not taken for transaction control.
TEST_F(CliInputTest, ValidateWithoutADatabaseReadsPostgresFiles) {
  dir_.Write("migrations/0001_f.up.sql",
             "CREATE TABLE t (id int, updated_at timestamptz);\n"
             "CREATE FUNCTION touch() RETURNS trigger AS $$\nBEGIN\n"
             "  NEW.updated_at = now();\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n");
  dir_.Write("migrations/0001_f.down.sql", "DROP FUNCTION touch();\nDROP TABLE t;\n");
  auto run = Strata({"validate"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  dir_.Write("migrations/0002_bad.up.sql", "INSERT INTO t VALUES (1);\nCOMMIT;\nSELECT 1;\n");
  run = Strata({"validate"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("0002_bad.up.sql:2: COMMIT (transaction control) would end"));
}

// A statement the engine refuses inside a transaction block is named with
// the directive that runs the file without one, before anything runs.
TEST_F(CliInputTest, StatementsThatCannotRunInATransactionNeedTheDirective) {
  dir_.Write("migrations/0001_t.up.sql", "CREATE TABLE t (id int, email text);\n");
  dir_.Write("migrations/0002_idx.up.sql", "CREATE INDEX CONCURRENTLY t_email ON t (email);\n");
  dir_.Write("migrations/0002_idx.down.sql", "DROP INDEX CONCURRENTLY t_email;\n");
  auto run = Strata({"validate"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("0002_idx.up.sql:1: CREATE INDEX CONCURRENTLY cannot run inside a "
                                 "transaction, and this script runs in one; put "
                                 "`-- strata:no-transaction` on the first line"));
  dir_.Write("migrations/0002_idx.up.sql",
             "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY t_email ON t (email);\n");
  run = Strata({"validate"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("0002_idx.down.sql:1: DROP INDEX CONCURRENTLY cannot run"));
  dir_.Write("migrations/0002_idx.down.sql",
             "-- strata:no-transaction\nDROP INDEX CONCURRENTLY t_email;\n");
  run = Strata({"validate"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  // SQLite's VACUUM too.
  std::string db = "sqlite:" + dir_.path() + "/v.db";
  dir_.Write("migrations/0003_vacuum.up.sql", "VACUUM;\n");
  dir_.Write("migrations/0003_vacuum.down.sql", "SELECT 1;\n");
  run = Strata({"--database", db, "up", "--no-snapshot"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("0003_vacuum.up.sql:1: VACUUM cannot run inside a transaction"));
}

// A database Strata may read but not write: "cannot open" (exit 4) naming
// the file, not a migration that failed, and nothing changed.
TEST_F(CliInputTest, ReadOnlySqliteDatabaseIsNamed) {
  dir_.Write("migrations/0001_t.up.sql", "CREATE TABLE t (id INTEGER);\n");
  ASSERT_EQ(Strata({"--database", "sqlite:app.db", "--dir", "migrations", "up", "--no-snapshot",
                    "--to", "0"}).exit_code, 0);
  auto run = Strata({"--database", "sqlite:file:app.db?mode=ro", "--dir", "migrations", "up",
                     "--no-snapshot"});
  EXPECT_EQ(run.exit_code, cli::kExitUnavailable) << run.all();
  EXPECT_THAT(run.err, HasSubstr("cannot write to SQLite database 'file:app.db?mode=ro'"));
  auto status = Strata({"--database", "sqlite:app.db", "--dir", "migrations", "status"});
  EXPECT_THAT(status.out, HasSubstr("0 applied, 1 pending"));
}

// A mistyped path: only `up` makes a new database. Commands that change or
// read a database's content say the file is not there (exit 4); status,
// validate and a dry run read it as empty, say so, and make no file.
// psql input that is not SQL (a meta-command, COPY FROM STDIN with its rows)
// is refused by validate, not sent to the server to fail there.
TEST_F(CliInputTest, PsqlInputIsRefusedBeforeItRuns) {
  dir_.Write("migrations/0001_c.up.sql",
             "CREATE TABLE t (id int, name text);\nCOPY t (id, name) FROM stdin;\n1\tDE\n\\.\n");
  dir_.Write("migrations/0002_r.up.sql", "\\restrict abc\nCREATE TABLE u (id int);\n");
  auto run = Strata({"validate"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_THAT(run.err, HasSubstr("0001_c.up.sql:2: COPY ... FROM STDIN reads its rows from psql's input"));
  EXPECT_THAT(run.err, HasSubstr("0002_r.up.sql:1: \\restrict is a psql command, not SQL"));
  // One after SQL on its line, the create-if-missing idiom; a backslash in a
  // string or comment is SQL's.
  dir_.Write("migrations/0003_g.up.sql",
             "SELECT 'a\\b' /* \\x */;\nSELECT 'CREATE INDEX i ON t (id)'\n"
             "  WHERE NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'i') \\gexec\n");
  run = Strata({"validate"});
  EXPECT_THAT(run.err, HasSubstr("0003_g.up.sql:3: \\gexec is a psql command, not SQL"));
  EXPECT_THAT(run.err, Not(HasSubstr("0003_g.up.sql:1")));
  // COPY ... TO STDOUT: the server would print the rows and commit the
  // rest of the migration, which Strata reported rolled back (hunt52 #1).
  dir_.Write("migrations/0004_o.up.sql", "UPDATE t SET name = 'x';\nCOPY (SELECT * FROM t) TO STDOUT;\n");
  run = Strata({"validate"});
  EXPECT_THAT(run.err, HasSubstr("0004_o.up.sql:2: COPY ... TO STDOUT writes its rows to psql's output"));
  // The server reads either word either way as the client (hunt54 #4).
  dir_.Write("migrations/0004_o.up.sql", "COPY t TO STDIN;\n");
  run = Strata({"validate"});
  EXPECT_THAT(run.err, HasSubstr("0004_o.up.sql:1: COPY ... TO STDOUT writes its rows"));
}

// `up` on a new SQLite path that stops before applying anything (a
// migration that does not parse) leaves no file behind; one that applied
// something keeps it.
TEST_F(CliInputTest, UpThatStopsBeforeApplyingLeavesNoNewFile) {
  dir_.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY, n TEXT DEFAULT 'x);\n");
  const std::string path = dir_.path() + "/typo.db";
  auto run = Strata({"--database", "sqlite:" + path, "up"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
  EXPECT_FALSE(std::filesystem::exists(path));
  dir_.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
  dir_.Write("migrations/0002_b.up.sql", "SELECT * FROM no_such_table;\n");
  dir_.Write("migrations/0002_b.down.sql", "-- nothing to undo\n");
  run = Strata({"--database", "sqlite:" + path, "up", "--no-snapshot"});
  EXPECT_EQ(run.exit_code, cli::kExitMigrationFailed) << run.all();
  EXPECT_TRUE(std::filesystem::exists(path));
}

// The text summary counts each migration once, in its state, as --json does.
TEST_F(CliInputTest, StatusSummaryCountsEachMigrationOnce) {
  dir_.Write("migrations/10_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
  dir_.Write("migrations/20_b.up.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY);\n");
  std::string db = "sqlite:" + dir_.path() + "/app.db";
  ASSERT_EQ(Strata({"--database", db, "up", "--no-snapshot"}).exit_code, 0);
  dir_.Write("migrations/15_c.up.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);\n");
  dir_.Write("migrations/30_d.up.sql", "CREATE TABLE d (id INTEGER PRIMARY KEY);\n");
  auto text = Strata({"--database", db, "status"});
  EXPECT_THAT(text.out, HasSubstr("2 applied, 1 pending, 1 out-of-order\n"));
  auto json = nlohmann::json::parse(Strata({"--database", db, "status", "--json"}).out);
  EXPECT_EQ(json["summary"]["applied"], 2);
  EXPECT_EQ(json["summary"]["pending"], 1);
  EXPECT_EQ(json["summary"]["out-of-order"], 1);
}

// `show` and `status` say when a migration was finalized (and so cannot be
// rolled back).
TEST_F(CliInputTest, ShowSaysAMigrationWasFinalized) {
  dir_.Write("migrations/0001_t.up.sql",
             "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO t VALUES (1, 'x');\n");
  dir_.Write("migrations/0002_d.up.sql", "ALTER TABLE t DROP COLUMN v;\n");
  dir_.Write("migrations/0002_d.down.sql", "ALTER TABLE t ADD COLUMN v TEXT;\n");
  std::string db = "sqlite:" + dir_.path() + "/app.db";
  ASSERT_EQ(Strata({"--database", db, "up", "--no-snapshot"}).exit_code, 0);
  EXPECT_THAT(Strata({"--database", db, "show", "2"}).out, ::testing::Not(HasSubstr("finalized")));
  ASSERT_EQ(Strata({"--database", db, "finalize", "2"}).exit_code, 0);
  EXPECT_THAT(Strata({"--database", db, "show", "2"}).out,
              HasSubstr("(its captured data was dropped: it cannot be rolled back)"));
  auto json = nlohmann::json::parse(Strata({"--database", db, "show", "2", "--json"}).out);
  EXPECT_TRUE(json["finalized_at"].is_string());
  EXPECT_THAT(Strata({"--database", db, "status"}).out, HasSubstr("down: file, finalized "));
  auto status = nlohmann::json::parse(Strata({"--database", db, "status", "--json"}).out);
  EXPECT_EQ(status["migrations"][1]["finalized_at"], json["finalized_at"]);
  EXPECT_EQ(status["migrations"][0].count("finalized_at"), 0u);
}

// Counts are whole numbers with a least value, and a wrong one says so
// (CLI11's own range check printed the whole range of a double).
TEST_F(CliInputTest, CountsMustBeWholeNumbersInRange) {
  const std::string db = "sqlite:" + dir_.path() + "/x.db";
  auto run = Strata({"--database", db, "down", "--steps", "0"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("--steps: a whole number, at least 1, is needed here (got '0')"));
  for (std::vector<std::string> args : {std::vector<std::string>{"seed", "--rows", "-1"},
                                        {"rehearse", "--seed", "x"},
                                        {"snapshot", "prune", "--keep-last", "1.5"}}) {
    args.insert(args.begin(), {"--database", db});
    run = Strata(args);
    EXPECT_EQ(run.exit_code, cli::kExitUsage) << run.all();
    EXPECT_THAT(run.err, HasSubstr("a whole number, at least 0, is needed here")) << run.all();
    EXPECT_THAT(run.err, ::testing::Not(HasSubstr("1797693"))) << run.all();
  }
}

TEST_F(CliInputTest, MissingSqliteFileIsCreatedOnlyByUp) {
  dir_.Write("migrations/0001_t.up.sql", "CREATE TABLE t (id INTEGER);\n");
  const std::string db = "sqlite:" + dir_.path() + "/typo.db";
  for (std::vector<std::string> command :
       {std::vector<std::string>{"down"}, {"fingerprint"}, {"seed", "--rows", "1"}, {"show", "1"},
        {"finalize", "1"}, {"snapshot", "create", "--store", dir_.path() + "/store"}}) {
    std::vector<std::string> args = {"--database", db, "--dir", "migrations"};
    args.insert(args.end(), command.begin(), command.end());
    auto run = Strata(args);
    EXPECT_EQ(run.exit_code, cli::kExitUnavailable) << command[0] << ": " << run.all();
    EXPECT_THAT(run.err, HasSubstr("typo.db' does not exist")) << command[0];
    EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/typo.db")) << command[0];
  }
  // Before the first `up`: nothing applied, and still no file.
  for (std::vector<std::string> command : {std::vector<std::string>{"status"}, {"validate"},
                                           {"up", "--dry-run"}}) {
    std::vector<std::string> args = {"--database", db, "--dir", "migrations"};
    args.insert(args.end(), command.begin(), command.end());
    auto run = Strata(args);
    EXPECT_EQ(run.exit_code, 0) << command[0] << ": " << run.all();
    EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/typo.db")) << command[0];
    if (command[0] == "status") {
      EXPECT_THAT(run.out, HasSubstr("0 applied, 1 pending"));
      EXPECT_THAT(run.out, HasSubstr("note: the SQLite file '" + dir_.path() +
                                     "/typo.db' does not exist yet"));
    }
  }
  auto up = Strata({"--database", db, "--dir", "migrations", "up", "--no-snapshot"});
  EXPECT_EQ(up.exit_code, 0) << up.all();
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/typo.db"));
}

TEST_F(CliInputTest, UnknownFlagIsAUsageError) {
  auto run = Strata({"up", "--frobnicate"});
  EXPECT_EQ(run.exit_code, cli::kExitUsage);
}

// `init` in a project another tool set up points strata.toml at the
// migrations it already has (dbmate's db/migrations, Flyway's
// src/main/resources/db/migration, a Sqitch plan), instead of making an
// empty migrations/ beside them that `status` lists as "no migrations" and
// `up` calls up to date. A strata.toml that exists keeps its directory.
TEST_F(CliInputTest, InitFindsTheMigrationsAnotherToolKeeps) {
  dir_.Write("db/migrations/20240101120000_create_users.sql",
             "-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n"
             "-- migrate:down\nDROP TABLE users;\n");
  auto run = Strata({"init"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("migrations found in db/migrations/"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/migrations"));
  run = Strata({"up", "--no-snapshot"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("applying    20240101120000_create_users ... ok"));
  run = Strata({"init"});  // again: the file's directory, nothing made
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("db/migrations/ exists; left as it is"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/migrations"));

  TempDir flyway;
  flyway.Write("src/main/resources/db/migration/V1__init.sql", "CREATE TABLE a (id INTEGER);\n");
  run = RunStrata({"init"}, flyway.path());
  ASSERT_EQ(run.exit_code, 0) << run.all();
  run = RunStrata({"status"}, flyway.path());
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("pending       1_init"));

  TempDir sqitch;
  sqitch.Write("sqitch.plan", "%project=x\n\nusers 2024-01-01T00:00:00Z A <a@x> # Users.\n");
  sqitch.Write("deploy/users.sql", "CREATE TABLE users (id INTEGER);\n");
  run = RunStrata({"init"}, sqitch.path());
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("a Sqitch project is here"));
  run = RunStrata({"status"}, sqitch.path());
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("pending       1_users"));

  // A project of its own: migrations/ as before.
  TempDir fresh;
  run = RunStrata({"init"}, fresh.path());
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_TRUE(std::filesystem::is_directory(fresh.path() + "/migrations"));
}

TEST_F(CliInputTest, InitNewAndConfigFile) {
  auto run = Strata({"init"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  run = Strata({"new", "Create Users!"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("migrations/0001_create_users.up.sql"));
  dir_.Write("migrations/0001_create_users.up.sql", "CREATE TABLE users (id INTEGER);\n");
  dir_.Remove("migrations/0001_create_users.down.sql");
  run = Strata({"new", "add_email"});
  EXPECT_THAT(run.out, HasSubstr("migrations/0002_add_email.up.sql"));
  dir_.Remove("migrations/0002_add_email.down.sql");
  dir_.Write("migrations/0002_add_email.up.sql", "ALTER TABLE users ADD COLUMN email TEXT;\n");
  run = Strata({"up"});  // the database comes from strata.toml
  ASSERT_EQ(run.exit_code, 0) << run.all();
  auto db = OpenDatabase("sqlite:" + dir_.path() + "/app.db");
  ASSERT_TRUE(db.ok());
  EXPECT_EQ((*db)->ListColumns("users")->size(), 2u);
}

// fingerprint --table picks the tables whose rows are hashed; with --schema
// alone it changed nothing, and the whole schema printed as if it were the
// table's.
TEST(FingerprintCliTest, TableWithSchemaAloneIsRefused) {
  TempDir dir;
  dir.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\nCREATE TABLE b (id INTEGER);\n");
  const std::string db = "sqlite:" + dir.path() + "/app.db";
  ASSERT_EQ(RunStrata({"--database", db, "--dir", dir.path() + "/migrations", "up", "--no-snapshot"}, dir.path())
                .exit_code,
            0);
  auto run = RunStrata({"--database", db, "fingerprint", "--schema", "--table", "a"}, dir.path());
  EXPECT_EQ(run.exit_code, 2) << run.all();
  EXPECT_THAT(run.err, HasSubstr("--table limits the data fingerprint"));
  EXPECT_EQ(run.out, "");
  run = RunStrata({"--database", db, "fingerprint", "--schema", "--data", "--table", "a"}, dir.path());
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr(" a\n"));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr(" b\n")));
}

// A mistyped command was answered "A subcommand is required", as if none
// had been given; it is named now, with the command it is nearest to.
TEST(CommandLineTest, AMistypedCommandIsNamedWithTheNearestOne) {
  TempDir dir;
  auto run = RunStrata({"stauts"}, dir.path());
  EXPECT_EQ(run.exit_code, 2) << run.all();
  EXPECT_THAT(run.err, HasSubstr("unknown command 'stauts' (did you mean 'status'?)"));
  run = RunStrata({"--database", "sqlite:x.db", "--dir", "m", "snapshot", "--store", "s", "lst"}, dir.path());
  EXPECT_EQ(run.exit_code, 2) << run.all();
  EXPECT_THAT(run.err, HasSubstr("unknown command 'lst' (did you mean 'list'?); `strata snapshot "
                                 "--help` lists the commands"));
  run = RunStrata({"frobnicate"}, dir.path());
  EXPECT_EQ(run.exit_code, 2) << run.all();
  EXPECT_THAT(run.err, HasSubstr("unknown command 'frobnicate'; `strata --help`"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/x.db"));
  // Values of options, and a command's own arguments, are not commands.
  run = RunStrata({"--dir", "status", "new", "add_users"}, dir.path());
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/status/0001_add_users.up.sql"));
}

// A directory given as the SQLite database (a path missing its file name)
// was said not to exist ("`strata up` creates it") by status, and up could
// not "open" it; each command now says it is a directory, and exits 4.
TEST(SqliteTargetCliTest, ADirectoryGivenAsTheDatabaseIsNamedSo) {
  TempDir dir;
  dir.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
  dir.Write("data/keep", "");
  const std::string db = "sqlite:" + dir.path() + "/data";
  for (std::vector<std::string> command : {std::vector<std::string>{"status"}, {"up"}, {"down"},
                                           {"rehearse"}, {"fingerprint"}}) {
    std::vector<std::string> args = {"--database", db, "--dir", dir.path() + "/migrations"};
    args.insert(args.end(), command.begin(), command.end());
    auto run = RunStrata(args, dir.path());
    EXPECT_EQ(run.exit_code, 4) << command[0] << ": " << run.all();
    EXPECT_THAT(run.err, HasSubstr("data': it is a directory; name the database file in it"))
        << command[0];
    EXPECT_THAT(run.err, Not(HasSubstr("does not exist"))) << command[0];
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path() + "/data"),
                          std::filesystem::directory_iterator()),
            1);
}

}  // namespace
}  // namespace strata
