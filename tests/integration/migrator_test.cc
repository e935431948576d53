// Integration tests of the migrator against real SQLite and PostgreSQL
// databases: they check data and catalog, not only return codes.
#include "strata/migrator.h"

#include <filesystem>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "history/history.h"
#include "testutil/harness.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Column;
using testing::Scalar;
using testing::SchemaDump;
using testing::TempDir;
using testing::TestDatabase;

class MigratorTest : public testing::EngineTest {
 protected:
  void Write(const std::string& file, const std::string& sql) { dir_.Write("migrations/" + file, sql); }

  std::unique_ptr<Migrator> Open() {
    MigratorOptions options;
    options.database_url = target_->url();
    options.migrations_dir = dir_.path() + "/migrations";
    options.actor = "tester";
    options.statement_lock_timeout = statement_lock_timeout_;
    auto m = Migrator::Open(options);
    EXPECT_TRUE(m.ok()) << m.status().message();
    return std::move(m).value();
  }

  Status Up(UpOptions options = {}) { return Open()->Up(options).status(); }
  Status Down(DownOptions options = {}) { return Open()->Down(options).status(); }

  std::chrono::milliseconds statement_lock_timeout_{0};  // [migrations] lock_timeout

  std::vector<std::string> Applied() {
    History history(*db_);
    auto rows = history.List(false);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    std::vector<std::string> out;
    for (const auto& r : *rows) out.push_back(std::to_string(r.version));
    return out;
  }

  bool HasTable(const std::string& name) { return *db_->TableExists(name); }
  std::vector<std::string> Columns(const std::string& table) { return *db_->ListColumns(table); }

  // The shop basics: two tables, a foreign key, an index, seed data.
  void WriteShop() {
    Write("0001_customers.up.sql",
          "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n");
    Write("0002_orders.up.sql",
          "CREATE TABLE orders (\n"
          "  id INTEGER PRIMARY KEY,\n"
          "  customer_id INTEGER NOT NULL REFERENCES customers(id),\n"
          "  total_cents INTEGER NOT NULL DEFAULT 0\n"
          ");\n"
          "CREATE INDEX orders_customer ON orders(customer_id);\n");
    Write("0003_seed.up.sql",
          "INSERT INTO customers (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com');\n"
          "INSERT INTO orders (id, customer_id, total_cents) VALUES (10, 1, 500), (11, 2, 700);\n");
    Write("0003_seed.down.sql",
          "DELETE FROM orders WHERE id IN (10, 11);\nDELETE FROM customers WHERE id IN (1, 2);\n");
    Write("0004_customer_name.up.sql", "ALTER TABLE customers ADD COLUMN name TEXT;\n");
  }

  TempDir dir_;
};

TEST_P(MigratorTest, ApplyAllRollBackAllReapply) {
  WriteShop();
  ASSERT_TRUE(Up().ok());
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(Columns("customers"), (std::vector<std::string>{"id", "email", "name"}));
  EXPECT_EQ(Scalar(*db_, "SELECT sum(total_cents) FROM orders"), 1200);
  std::string applied_schema = SchemaDump(*db_);

  auto report = Open()->Down(DownOptions{.to = 0});
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->completed, 4);
  EXPECT_FALSE(HasTable("customers"));
  EXPECT_FALSE(HasTable("orders"));
  EXPECT_TRUE(Applied().empty());
  EXPECT_EQ(SchemaDump(*db_), "");

  ASSERT_TRUE(Up().ok());
  EXPECT_EQ(SchemaDump(*db_), applied_schema);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM customers"), 2);
}

// MigratorOptions::session_sql runs on every connection the migrator opens:
// the run's and the lock's (rehearsal waives durability on its copy so).
// SQLite keeps its journal mode inside a transaction without an error: a
// migration that sets one applied "ok" and changed nothing (hunt81 #1). It
// is refused before anything runs, pointing at -- strata:no-transaction.
TEST_P(MigratorTest, AJournalModeSetInATransactionIsRefusedOnSqlite) {
  if (pg()) GTEST_SKIP() << "a SQLite pragma";
  Write("0001_wal.up.sql", "PRAGMA journal_mode = WAL;\nCREATE TABLE x (a INTEGER);\n");
  Status refused = Up();
  EXPECT_EQ(refused.code(), Code::kInvalidArgument) << refused.message();
  EXPECT_THAT(refused.message(), HasSubstr("0001_wal.up.sql:1: PRAGMA journal_mode does nothing in the "
                                           "transaction a migration runs in"));
  EXPECT_FALSE(*db_->TableExists("x"));
  // Written with a comment inside, a quoted name, or in the down script.
  Write("0001_wal.up.sql", "PRAGMA /* wal */ [journal_mode] = WAL;\n");
  EXPECT_THAT(Up().message(), HasSubstr("0001_wal.up.sql:1: PRAGMA journal_mode does nothing"));
  Write("0001_wal.up.sql", "CREATE TABLE x (a INTEGER);\n");
  Write("0001_wal.down.sql", "DROP TABLE x;\nPRAGMA main.journal_mode = DELETE;\n");
  EXPECT_THAT(Up().message(), HasSubstr("0001_wal.down.sql:2: PRAGMA journal_mode does nothing"));
  EXPECT_FALSE(*db_->TableExists("x"));
  std::filesystem::remove(dir_.path() + "/migrations/0001_wal.down.sql");
  Write("0001_wal.up.sql", "-- strata:no-transaction\nPRAGMA journal_mode = WAL;\n");
  UpOptions options;
  options.allow_irreversible = true;
  Status applied = Up(options);
  ASSERT_TRUE(applied.ok()) << applied.message();
  EXPECT_EQ(testing::Column(*target_->Connect(), "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
}

TEST_P(MigratorTest, SessionSqlRunsOnEachConnection) {
  MigratorOptions options;
  options.database_url = target_->url();
  options.migrations_dir = dir_.path() + "/migrations";
  if (pg()) {
    // A temporary table per connection, which the migration can count.
    options.session_sql = "CREATE TEMPORARY TABLE strata_session_probe (x int)";
    Write("0001_seen.up.sql",
          "CREATE TABLE seen AS SELECT count(*) AS n FROM pg_class"
          " WHERE relname = 'strata_session_probe' AND relpersistence = 't';\n");
    Write("0001_seen.down.sql", "DROP TABLE seen;\n");
    auto m = Migrator::Open(options);
    ASSERT_TRUE(m.ok()) << m.status().message();
    ASSERT_TRUE((*m)->Up({}).ok());
    EXPECT_EQ(Scalar(*db_, "SELECT n FROM seen"), 2);  // the run and its lock
  } else {
    options.session_sql = "PRAGMA synchronous = OFF";
    auto m = Migrator::Open(options);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(Scalar(*(*m)->database(), "PRAGMA synchronous"), 0);
  }
  options.session_sql = "NOT SQL";
  auto bad = Migrator::Open(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("syntax error"));
}

TEST_P(MigratorTest, HistoryRecordsWhoWhatAndTheWayBack) {
  WriteShop();
  ASSERT_TRUE(Up().ok());
  History history(*db_);
  auto row = history.Get(4);
  ASSERT_TRUE(row.ok() && row->has_value());
  const AppliedMigration& m = **row;
  EXPECT_EQ(m.name, "customer_name");
  EXPECT_EQ(m.applied_by, "tester");
  EXPECT_EQ(m.down_source, "derived");
  EXPECT_THAT(m.down_script, HasSubstr("DROP COLUMN name"));
  EXPECT_EQ(m.up_script, "ALTER TABLE customers ADD COLUMN name TEXT;\n");
  EXPECT_EQ(m.checksum.size(), 64u);
  EXPECT_THAT(m.applied_at, ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z"));
  auto seed = history.Get(3);
  EXPECT_EQ((*seed)->down_source, "file");
  // applied_at is the server's clock on PostgreSQL (what a point-in-time
  // recovery goes by), whatever the client's says; SQLite's is the client's.
  AppliedMigration late = m;
  late.version = 900;
  late.applied_at = "1999-01-01T00:00:00.000Z";
  ASSERT_TRUE(history.Insert(late).ok());
  auto stored = history.Get(900);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  if (pg()) {
    EXPECT_THAT((*stored)->applied_at, ::testing::MatchesRegex("20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z"));
    EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM strata_history WHERE version = 900 AND abs(extract("
                           "epoch FROM now() - applied_at::timestamptz)) < 60"),
              1);
  } else {
    EXPECT_EQ((*stored)->applied_at, "1999-01-01T00:00:00.000Z");
  }
}

TEST_P(MigratorTest, DownStepsAndTo) {
  WriteShop();
  ASSERT_TRUE(Up().ok());
  ASSERT_TRUE(Down().ok());  // one step by default
  EXPECT_EQ(Columns("customers"), (std::vector<std::string>{"id", "email"}));
  ASSERT_TRUE(Down(DownOptions{.steps = 1}).ok());
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM customers"), 0);
  ASSERT_TRUE(Down(DownOptions{.to = 1}).ok());
  EXPECT_FALSE(HasTable("orders"));
  EXPECT_TRUE(HasTable("customers"));
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1"}));
  ASSERT_TRUE(Up(UpOptions{.to = 3}).ok());
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2", "3"}));
}

TEST_P(MigratorTest, FailingStatementInTheMiddleLeavesNoTrace) {
  WriteShop();
  Write("0005_broken.up.sql",
        "CREATE TABLE audit (id INTEGER PRIMARY KEY);\n"
        "INSERT INTO audit (id) VALUES (1);\n"
        "UPDATE customers SET email = 'changed@example.com' WHERE id = 1;\n"
        "\n"
        "INSERT INTO no_such_table VALUES (1);\n"
        "CREATE TABLE never (id INTEGER);\n");
  Write("0005_broken.down.sql", "DROP TABLE never;\nDROP TABLE audit;\n");
  Status s = Up();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kDatabase);
  EXPECT_THAT(s.message(), HasSubstr("migration 0005_broken failed and was rolled back"));
  EXPECT_THAT(s.message(), HasSubstr("0005_broken.up.sql:5:"));
  EXPECT_THAT(s.message(), HasSubstr("no_such_table"));
  // The migrations before it stay applied; nothing of 0005 remains.
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_FALSE(HasTable("audit"));
  EXPECT_FALSE(HasTable("never"));
  EXPECT_EQ(Column(*db_, "SELECT email FROM customers WHERE id = 1"),
            (std::vector<std::string>{"a@example.com"}));
}

// On PostgreSQL a migration goes out while the ones before it still run;
// the first here keeps the server busy, so the next ones wait and go out
// together. One failing among them stops the run there, as it does when
// each goes alone, and those after it never run.
TEST_P(MigratorTest, AFailureAmongMigrationsSentTogetherStopsThere) {
  const std::string sleep = pg() ? "SELECT pg_sleep(0.3);\n" : "";
  Write("0001_slow.up.sql", "CREATE TABLE slow (id INTEGER PRIMARY KEY);\n" + sleep);
  Write("0001_slow.down.sql", "DROP TABLE slow;\n");
  Write("0002_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
  Write("0002_a.down.sql", "DROP TABLE a;\n");
  Write("0003_b.up.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY);\nINSERT INTO b VALUES (1);\n"
                         "INSERT INTO no_such_table VALUES (1);\n");
  Write("0003_b.down.sql", "DROP TABLE b;\n");
  Write("0004_c.up.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);\n");
  Write("0004_c.down.sql", "DROP TABLE c;\n");
  std::vector<std::string> events;
  Status s = Open()->Up({}, [&](const Event& e) {
    events.push_back(fmt::format("{} {}", static_cast<int>(e.kind), e.id));
  }).status();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kDatabase);
  EXPECT_THAT(s.message(), HasSubstr("migration 0003_b failed and was rolled back at"));
  EXPECT_THAT(s.message(), HasSubstr("0003_b.up.sql:3:"));
  EXPECT_THAT(s.message(), HasSubstr("the 2 migrations before it stay applied"));
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(HasTable("a"));
  EXPECT_FALSE(HasTable("b"));
  EXPECT_FALSE(HasTable("c"));
  // Each migration is announced once the one before it is done.
  using K = Event::Kind;
  auto ev = [](K k, const char* id) { return fmt::format("{} {}", static_cast<int>(k), id); };
  EXPECT_EQ(events, (std::vector<std::string>{ev(K::kApplying, "0001_slow"), ev(K::kApplied, "0001_slow"),
                                              ev(K::kApplying, "0002_a"), ev(K::kApplied, "0002_a"),
                                              ev(K::kApplying, "0003_b"), ev(K::kFailed, "0003_b")}));
  if (pg()) {
    // Timed by the server, not by when the outcome was read.
    EXPECT_GE(Scalar(*db_, "SELECT duration_ms FROM strata_history WHERE version = 1"), 250);
  }
  // A deferred constraint fails the migration at its COMMIT, which the
  // message names (it said "recording the step in history"; hunt52 #2).
  if (pg()) {
    Write("0003_b.up.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a "
                           "DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO b VALUES (1, 99);\n");
    s = Up();
    EXPECT_EQ(s.code(), Code::kDatabase);
    EXPECT_THAT(s.message(), HasSubstr("migration 0003_b failed and was rolled back at "));
    EXPECT_THAT(s.message(), HasSubstr("0003_b.up.sql, at its end (a constraint or trigger deferred"));
    EXPECT_THAT(s.message(), HasSubstr("foreign key"));
    EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2"}));
    EXPECT_FALSE(HasTable("b"));
  }
  // What was applied rolls back, and the rest applies once fixed.
  Write("0003_b.up.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY);\nINSERT INTO b VALUES (1);\n");
  ASSERT_TRUE(Up().ok());
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM b"), 1);
  ASSERT_TRUE(Down(DownOptions{.to = 0}).ok());
  EXPECT_FALSE(HasTable("slow"));
}

// An FTS5 index created over rows it was never given fails the update
// that reaches them (SQLITE_CORRUPT_VTAB, memos' dreaming_insights_fts):
// the migration failed and was rolled back (exit 1), not a damaged file
// (it said "database disk image is malformed: 'app.db' is damaged", exit
// 6; hunt34 #2).
TEST_P(MigratorTest, AnOutOfStepFullTextIndexFailsTheMigrationNotTheFile) {
  if (pg()) GTEST_SKIP() << "SQLite's FTS5";
  Write("0001_notes.up.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n");
  ASSERT_TRUE(Up().ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO notes VALUES (1, 'hiking'), (2, 'monday')").ok());
  Write("0002_fts.up.sql",
        "CREATE VIRTUAL TABLE notes_fts USING fts5(body, content='notes', content_rowid='id');\n"
        "CREATE TRIGGER notes_au AFTER UPDATE ON notes BEGIN\n"
        "  INSERT INTO notes_fts(notes_fts, rowid, body) VALUES ('delete', old.id, old.body);\n"
        "  INSERT INTO notes_fts(rowid, body) VALUES (new.id, new.body);\nEND;\n"
        "UPDATE notes SET body = upper(body);\n");
  Write("0002_fts.down.sql", "DROP TRIGGER notes_au;\nDROP TABLE notes_fts;\n");
  Status s = Up();
  EXPECT_EQ(s.code(), Code::kDatabase) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("SQLITE_CORRUPT_VTAB"));
  EXPECT_THAT(s.message(), Not(HasSubstr("is damaged")));
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Column(*db_, "SELECT body FROM notes ORDER BY id"), (std::vector<std::string>{"hiking", "monday"}));
}

TEST_P(MigratorTest, ChangedAppliedFileIsReportedWithWhatChanged) {
  WriteShop();
  ASSERT_TRUE(Up().ok());
  // Line endings and trailing spaces alone are not a change.
  Write("0004_customer_name.up.sql", "ALTER TABLE customers ADD COLUMN name TEXT;   \r\n\r\n");
  auto status = Open()->GetStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->Count(MigrationState::kChanged), 0);

  Write("0004_customer_name.up.sql", "ALTER TABLE customers ADD COLUMN full_name TEXT;\n");
  status = Open()->GetStatus();
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->Count(MigrationState::kChanged), 1);
  const MigrationStatus& changed = status->migrations[3];
  EXPECT_EQ(changed.state, MigrationState::kChanged);
  EXPECT_THAT(changed.diff, HasSubstr("-ALTER TABLE customers ADD COLUMN name TEXT;"));
  EXPECT_THAT(changed.diff, HasSubstr("+ALTER TABLE customers ADD COLUMN full_name TEXT;"));

  auto findings = Open()->Validate();
  ASSERT_TRUE(findings.ok());
  ASSERT_FALSE(findings->empty());
  EXPECT_EQ((*findings)[0].code, Code::kConflict);
  EXPECT_THAT((*findings)[0].message, HasSubstr("0004_customer_name"));

  Write("0005_more.up.sql", "CREATE TABLE more (id INTEGER);\n");
  Status s = Up();
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_FALSE(HasTable("more"));
}

TEST_P(MigratorTest, RollbackUsesTheStoredDownScriptAfterTheFileIsGone) {
  WriteShop();
  ASSERT_TRUE(Up().ok());
  dir_.Remove("migrations/0003_seed.down.sql");
  dir_.Remove("migrations/0004_customer_name.up.sql");
  ASSERT_TRUE(Down(DownOptions{.steps = 2}).ok());
  EXPECT_EQ(Columns("customers"), (std::vector<std::string>{"id", "email"}));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM orders"), 0);
  // Even with the whole directory gone, rollback works from history.
  std::filesystem::remove_all(dir_.path() + "/migrations");
  ASSERT_TRUE(Down(DownOptions{.to = 0}).ok());
  EXPECT_FALSE(HasTable("customers"));
}

TEST_P(MigratorTest, DerivedInversesRestoreTheSchema) {
  Write("0001_base.up.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT);\n");
  ASSERT_TRUE(Up().ok());
  std::string before = SchemaDump(*db_);
  Write("0002_additive.up.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
        "CREATE UNIQUE INDEX tags_name ON tags (name);\n"
        "ALTER TABLE items ADD COLUMN price INTEGER;\n"
        "ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'x';\n"
        "CREATE VIEW cheap_items AS SELECT id, label FROM items WHERE price < 100;\n"
        "ALTER TABLE tags RENAME COLUMN name TO title;\n");
  ASSERT_TRUE(Up().ok());
  EXPECT_EQ(Columns("tags"), (std::vector<std::string>{"id", "title"}));
  EXPECT_EQ(Columns("items"), (std::vector<std::string>{"id", "label", "price", "note"}));
  ASSERT_TRUE(Down().ok());
  EXPECT_EQ(SchemaDump(*db_), before);
}

TEST_P(MigratorTest, DerivedInverseOfARenameRestoresTheNames) {
  Write("0001_base.up.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT);\n");
  Write("0002_rename.up.sql",
        "ALTER TABLE items RENAME COLUMN label TO title;\nALTER TABLE items RENAME TO products;\n");
  ASSERT_TRUE(Up(UpOptions{.to = 1}).ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO items (id, label) VALUES (7, 'seven')").ok());
  ASSERT_TRUE(Up().ok());
  EXPECT_FALSE(HasTable("items"));
  EXPECT_EQ(Columns("products"), (std::vector<std::string>{"id", "title"}));
  ASSERT_TRUE(Down().ok());
  EXPECT_FALSE(HasTable("products"));
  EXPECT_EQ(Columns("items"), (std::vector<std::string>{"id", "label"}));
  EXPECT_EQ(Column(*db_, "SELECT label FROM items"), (std::vector<std::string>{"seven"}));
}

// PostgreSQL: renaming an index and adding a named constraint NOT VALID and
// then validating it have certain inverses; the rollback check passes and
// the names are back.
TEST_P(MigratorTest, DerivedInverseOfIndexRenameAndNamedConstraint) {
  if (!pg()) GTEST_SKIP() << "SQLite has neither ALTER INDEX nor ADD CONSTRAINT";
  Write("0001_base.up.sql",
        "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
        "CREATE INDEX people_name ON people (name);\nINSERT INTO people VALUES (1, 'ada');\n");
  ASSERT_TRUE(Up().ok());
  std::string before = SchemaDump(*db_);
  Write("0002_tidy.up.sql",
        "ALTER INDEX people_name RENAME TO people_name_idx;\n"
        "ALTER TABLE people ADD CONSTRAINT name_len CHECK (length(name) < 100) NOT VALID;\n"
        "ALTER TABLE people VALIDATE CONSTRAINT name_len;\n");
  auto report = Up();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_constraint WHERE conname = 'name_len' AND convalidated"), 1);
  ASSERT_TRUE(Down().ok());
  EXPECT_EQ(SchemaDump(*db_), before);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_class WHERE relname = 'people_name'"), 1);
}

// A Supabase migration: a table with its comment, row-level security,
// policy and grants, no down file. Dropping the table undoes all of it; a
// policy on a table that was there before is dropped by name.
TEST_P(MigratorTest, DerivedInverseOfATableWithItsPoliciesAndGrants) {
  if (!pg()) GTEST_SKIP() << "SQLite has no policies, grants or comments";
  Write("0001_base.up.sql", "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n");
  ASSERT_TRUE(Up().ok());
  std::string before = SchemaDump(*db_);
  Write("0002_profiles.up.sql",
        "create table public.profiles (id int primary key, \"Full Name\" text);\n"
        "comment on table public.profiles is 'one per person';\n"
        "comment on column public.profiles.\"Full Name\" is 'as typed';\n"
        "alter table public.profiles enable row level security;\n"
        "create policy \"Profiles are public.\" on public.profiles for select using (true);\n"
        "grant select on table public.profiles to public;\n");
  Write("0003_people_policy.up.sql",
        "create policy \"Named people\" on people for select using (name <> '');\n");
  auto report = Up();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM strata_history WHERE version > 1 AND down_source = 'derived'"), 2);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_policy"), 2);
  ASSERT_TRUE(Down().ok());
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_policy"), 1);
  ASSERT_TRUE(Down().ok());
  EXPECT_EQ(SchemaDump(*db_), before);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_class WHERE relname = 'profiles'"), 0);
}

TEST_P(MigratorTest, DerivedInverseOfATrigger) {
  Write("0001_base.up.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER);\n");
  ASSERT_TRUE(Up().ok());
  std::string before = SchemaDump(*db_);
  if (pg()) {
    Write("0002_fn.up.sql",
          "CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.n := NEW.n + 1;\n"
          "  RETURN NEW;\nEND;\n$$;\n");
    Write("0002_fn.down.sql", "DROP FUNCTION bump();\n");
    Write("0003_trigger.up.sql",
          "CREATE TRIGGER items_bump BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION bump();\n");
  } else {
    Write("0003_trigger.up.sql",
          "CREATE TRIGGER items_bump AFTER INSERT ON items BEGIN\n"
          "  UPDATE items SET n = n + 1 WHERE id = NEW.id;\n"
          "END;\n");
  }
  ASSERT_TRUE(Up().ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO items (id, n) VALUES (1, 1)").ok());
  EXPECT_EQ(Scalar(*db_, "SELECT n FROM items WHERE id = 1"), 2);
  ASSERT_TRUE(Down(DownOptions{.to = 1}).ok());
  ASSERT_TRUE(db_->Exec("DELETE FROM items").ok());
  EXPECT_EQ(SchemaDump(*db_), before);
}

TEST_P(MigratorTest, IrreversibleMigrationIsRefusedUnlessAllowed) {
  WriteShop();
  Write("0005_purge.up.sql", "DELETE FROM orders WHERE total_cents < 600;\n");
  Status s = Up();
  ASSERT_EQ(s.code(), Code::kIrreversible);
  EXPECT_THAT(s.message(), HasSubstr("migration 0005_purge: down script missing"));
  EXPECT_THAT(s.message(), HasSubstr("0005_purge.down.sql (an empty one will do"));
  EXPECT_THAT(s.message(), HasSubstr("or pass --allow-irreversible"));
  // Refused before anything ran: not even the earlier pending ones.
  EXPECT_FALSE(HasTable("customers"));

  ASSERT_TRUE(Up(UpOptions{.allow_irreversible = true}).ok());
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM orders"), 1);
  History history(*db_);
  auto row = history.Get(5);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_TRUE((*row)->irreversible);
  EXPECT_EQ((*row)->down_source, "none");
  // And it cannot be rolled back step by step: nothing is touched.
  s = Down();
  EXPECT_EQ(s.code(), Code::kIrreversible);
  EXPECT_EQ(Applied().size(), 5u);
  // Its rows were captured: a down file accepted since is its way back, as
  // status says and `down` does (status said none; hunt56 #1).
  Write("0005_purge.down.sql", "SELECT 1;\n");
  ASSERT_TRUE(Open()->AcceptChangedFile(5).ok());
  auto status = Open()->GetStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->migrations.back().irreversible);
  EXPECT_EQ(status->migrations.back().down_source, "file");
  ASSERT_TRUE(Down().ok());
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM orders"), 2);
}

TEST_P(MigratorTest, DryRunChangesNothing) {
  WriteShop();
  auto report = Open()->Up(UpOptions{.dry_run = true});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->plan.size(), 4u);
  EXPECT_EQ(report->plan[3].down_source, "derived");
  EXPECT_FALSE(HasTable("customers"));
  EXPECT_FALSE(HasTable("strata_history"));
}

TEST_P(MigratorTest, TimeoutDirectiveBoundsAStatement) {
  Write("0001_slow.up.sql",
        pg() ? "-- strata:timeout 200ms\nSELECT pg_sleep(5);\n"
             : "-- strata:timeout 200ms\n"
               "CREATE TABLE t AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
               "SELECT x FROM c;\n");
  Write("0001_slow.down.sql", "SELECT 1;\n");
  auto start = std::chrono::steady_clock::now();
  Status s = Up();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("timeout"));
  EXPECT_TRUE(Applied().empty());
}

// A migration that needs a lock another session holds (an open transaction
// that read the table) waits no longer than its strata:lock-timeout, and is
// rolled back; the setting ends with it. Without the directive it would
// wait as long as that transaction lasts, every other user of the table
// queued behind it.
TEST_P(MigratorTest, LockTimeoutDirectiveBoundsTheWaitForAnotherSessionsLock) {
  if (!pg()) GTEST_SKIP() << "SQLite: the run holds the database's write lock from its start";
  Write("0001_t.up.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY);\nINSERT INTO t VALUES (1);\n");
  Write("0001_t.down.sql", "DROP TABLE t;\n");
  ASSERT_TRUE(Up().ok());
  Write("0002_note.up.sql", "-- strata:lock-timeout 200ms\nALTER TABLE t ADD COLUMN note TEXT;\n");
  auto reader = target_->Connect();
  ASSERT_TRUE(reader->Begin().ok());
  ASSERT_EQ(Scalar(*reader, "SELECT count(*) FROM t"), 1);
  auto start = std::chrono::steady_clock::now();
  Status s = Up();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("migration 0002_note failed and was rolled back"));
  EXPECT_THAT(s.message(), HasSubstr("lock timeout"));
  // Who holds the lock is named: the user's next step is to end it or wait.
  const int64_t reader_pid = Scalar(*reader, "SELECT pg_backend_pid()");
  EXPECT_THAT(s.message(), HasSubstr(fmt::format("other sessions hold locks on its tables: pid {} (",
                                                 reader_pid)));
  EXPECT_THAT(s.message(), HasSubstr("idle in transaction, transaction open since "));
  EXPECT_THAT(s.message(), HasSubstr("; holds t)"));
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1"}));
  ASSERT_TRUE(reader->Commit().ok());
  ASSERT_TRUE(Up().ok());
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' "
                         "AND column_name = 'note'"),
            1);
  // The project's default ([migrations] lock_timeout) bounds a migration
  // without the directive.
  Write("0003_more.up.sql", "ALTER TABLE t ADD COLUMN more TEXT;\n");
  statement_lock_timeout_ = std::chrono::milliseconds(200);
  ASSERT_TRUE(reader->Begin().ok());
  ASSERT_EQ(Scalar(*reader, "SELECT count(*) FROM t"), 1);
  start = std::chrono::steady_clock::now();
  s = Up();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  EXPECT_THAT(s.message(), HasSubstr("lock timeout"));
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2"}));
  ASSERT_TRUE(reader->Commit().ok());
  // So does a rollback that waits too long: down 0002 drops the column.
  ASSERT_TRUE(Up().ok());
  ASSERT_TRUE(reader->Begin().ok());
  ASSERT_EQ(Scalar(*reader, "SELECT count(*) FROM t"), 1);
  s = Down(DownOptions{.steps = 1});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("rollback of 0003_more waited too long for a lock:"));
  EXPECT_THAT(s.message(), HasSubstr(fmt::format("other sessions hold locks on its tables: pid {} (",
                                                 reader_pid)));
  // The down script is not at fault (hunt42 #2).
  EXPECT_THAT(s.message(), Not(HasSubstr("--accept-file")));
  ASSERT_TRUE(reader->Commit().ok());
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2", "3"}));
}

// SQLite rolls the whole transaction back, not only the statement, when a
// statement is interrupted (the timeout) or a trigger raises ROLLBACK; the
// migrations before the failing one in the same run must stay applied.
TEST_P(MigratorTest, AStatementThatEndsTheWholeTransactionFailsOnlyItsMigration) {
  Write("0001_items.up.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, started TEXT NOT NULL);\n"
                             "INSERT INTO items VALUES (1, '2024-01-10');\n");
  Write("0001_items.down.sql", "DROP TABLE items;\n");
  Write("0002_slow.up.sql",
        pg() ? "-- strata:timeout 200ms\nINSERT INTO items VALUES (2, 'x');\nSELECT pg_sleep(5);\n"
             : "-- strata:timeout 200ms\nINSERT INTO items VALUES (2, 'x');\n"
               "CREATE TABLE t AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
               "SELECT x FROM c;\n");
  Write("0002_slow.down.sql", "DELETE FROM items WHERE id = 2;\n");
  Status s = Up();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kDatabase) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("0002_slow.up.sql:3"));
  ASSERT_EQ(Applied().size(), 1u) << s.message();
  EXPECT_EQ(Applied()[0], "1");
  auto rows = db_->Query("SELECT id, started FROM items ORDER BY id");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->rows[0][1].ToString(), "2024-01-10");
  if (pg()) return;
  // A trigger's RAISE(ROLLBACK) on SQLite, after two migrations in the run.
  dir_.Remove("migrations/0002_slow.up.sql");
  dir_.Remove("migrations/0002_slow.down.sql");
  Write("0002_bids.up.sql",
        "CREATE TABLE bids (item INTEGER NOT NULL, at TEXT NOT NULL);\n"
        "CREATE TRIGGER early BEFORE INSERT ON bids WHEN NEW.at < "
        "(SELECT started FROM items WHERE id = NEW.item) BEGIN SELECT RAISE(ROLLBACK, 'too early'); END;\n");
  Write("0002_bids.down.sql", "DROP TABLE bids;\n");
  Write("0003_ok.up.sql", "INSERT INTO bids VALUES (1, '2024-02-01');\n");
  Write("0003_ok.down.sql", "DELETE FROM bids;\n");
  Write("0004_early.up.sql", "INSERT INTO bids VALUES (1, '2024-01-01');\n");
  Write("0004_early.down.sql", "DELETE FROM bids WHERE at = '2024-01-01';\n");
  s = Up();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("0004_early.up.sql:1"));
  EXPECT_THAT(s.message(), HasSubstr("too early"));
  EXPECT_EQ(Applied().size(), 3u) << s.message();
  rows = db_->Query("SELECT at FROM bids");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->rows[0][0].ToString(), "2024-02-01");
}

// Files written for psql or sqitch wrap themselves in BEGIN ... COMMIT: the
// wrapper is dropped (the migration is atomic already, on both engines); a
// COMMIT part-way would end Strata's transaction and is refused up front.
TEST_P(MigratorTest, ABeginCommitWrapperIsDroppedAndACommitInsideIsRefused) {
  Write("0001_users.up.sql", "BEGIN;\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n"
                             "INSERT INTO users VALUES (1);\nCOMMIT;\n");
  Write("0001_users.down.sql", "BEGIN;\nDROP TABLE users;\nCOMMIT;\n");
  Write("0002_bad.up.sql", "INSERT INTO users VALUES (2);\nCOMMIT;\nINSERT INTO users VALUES (3);\n");
  Write("0002_bad.down.sql", "DELETE FROM users WHERE id > 1;\n");
  Status s = Up();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("0002_bad.up.sql:2: COMMIT (transaction control) would end"));
  EXPECT_TRUE(Applied().empty());
  EXPECT_FALSE(HasTable("users"));
  ASSERT_TRUE(Up(UpOptions{.to = 1}).ok());
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM users"), 1);
  ASSERT_TRUE(Down().ok());
  EXPECT_FALSE(HasTable("users"));
  // A ';' missing before the COMMIT: the BEGIN was blamed, as if it had to go.
  Write("0002_bad.up.sql", "BEGIN;\nINSERT INTO users VALUES (2)\nCOMMIT;\n");
  s = Up();
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("0002_bad.up.sql:1: BEGIN (transaction control) opens a block "
                                     "that no COMMIT closes: the COMMIT at line 3 ends the "
                                     "statement before it, for want of a ';' there"));
}

// The SQLite table rebuild as its documentation (and prisma) write it:
// PRAGMA foreign_keys=off, then BEGIN ... COMMIT, then PRAGMA again; and
// files with several blocks. All of it runs in the migration's transaction.
TEST_P(MigratorTest, BlocksOfBeginCommitWithStatementsBetweenRunAsOne) {
  Write("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n");
  Write("0002_rebuild.up.sql",
        std::string(pg() ? "SET LOCAL lock_timeout = '5s';\n" : "PRAGMA foreign_keys=OFF;\n") +
            "BEGIN TRANSACTION;\nCREATE TABLE new_users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
            "INSERT INTO new_users SELECT id, coalesce(name, '') FROM users;\nCOMMIT;\n" +
            (pg() ? "" : "PRAGMA foreign_keys=ON;\n") +
            "BEGIN;\nCREATE TABLE audit (id INTEGER);\nCOMMIT;\n");
  Write("0002_rebuild.down.sql", "DROP TABLE audit;\nDROP TABLE new_users;\n");
  Write("0003_bad.up.sql", "BEGIN;\nCREATE TABLE a (id INTEGER);\nBEGIN;\nCOMMIT;\nCOMMIT;\n");
  Status s = Up();
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("0003_bad.up.sql:3: BEGIN"));
  EXPECT_TRUE(Applied().empty());
  ASSERT_TRUE(Up(UpOptions{.to = 2}).ok());
  EXPECT_TRUE(HasTable("new_users"));
  EXPECT_TRUE(HasTable("audit"));
  ASSERT_TRUE(Down().ok());
  EXPECT_FALSE(HasTable("new_users"));
}

// A script written for psql commits a new enum value before it uses it
// (BEGIN; ALTER TYPE .. ADD VALUE ..; COMMIT;). Its wrapper is dropped, so
// PostgreSQL refuses the use (55P04, "must be committed"): the message says
// what to do, and the no-transaction directive runs the script as written.
TEST_P(MigratorTest, UsingANewEnumValueInItsTransactionSaysWhatToDo) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL's enums";
  Write("0001_status.up.sql",
        "CREATE TYPE status AS ENUM ('approved', 'shipped');\n"
        "CREATE TABLE shipments (id INTEGER PRIMARY KEY, s status NOT NULL);\n"
        "INSERT INTO shipments VALUES (1, 'approved');\n");
  std::string draft =
      "BEGIN;\nALTER TYPE status ADD VALUE IF NOT EXISTS 'draft' BEFORE 'approved';\nCOMMIT;\n"
      "UPDATE shipments SET s = 'draft' WHERE s = 'approved';\n";
  Write("0002_draft.up.sql", draft);
  Status s = Up(UpOptions{.allow_irreversible = true});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kDatabase) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("0002_draft.up.sql:4: unsafe use of new value"));
  EXPECT_THAT(s.message(), HasSubstr("move the statements that use the new value to the next "
                                     "migration, or mark this one `-- strata:no-transaction`"));
  EXPECT_EQ(Applied(), std::vector<std::string>{"1"});
  Write("0002_draft.up.sql", "-- strata:no-transaction\n" + draft);
  ASSERT_TRUE(Up(UpOptions{.allow_irreversible = true}).ok());
  EXPECT_EQ(testing::Column(*db_, "SELECT s::text FROM shipments"),
            std::vector<std::string>{"draft"});
}

TEST_P(MigratorTest, NoTransactionMigrationInterruptedIsVisibleAndResolvable) {
  WriteShop();
  ASSERT_TRUE(Up().ok());
  Write("0005_index.up.sql",
        std::string("-- strata:no-transaction\n") +
            (pg() ? "CREATE INDEX CONCURRENTLY customers_name ON customers (name);\n"
                  : "CREATE INDEX customers_name ON customers (name);\n") +
            "INSERT INTO missing_table VALUES (1);\n");
  Write("0005_index.down.sql", "-- strata:no-transaction\nDROP INDEX customers_name;\n");
  Status s = Up();
  ASSERT_EQ(s.code(), Code::kInProgress);
  EXPECT_THAT(s.message(), HasSubstr("0005_index.up.sql:3:"));
  auto status = Open()->GetStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->Count(MigrationState::kInProgress), 1);
  EXPECT_EQ(Up().code(), Code::kInProgress);  // refuses until settled
  ASSERT_TRUE(Open()->Resolve(5, /*applied=*/true).ok());
  ASSERT_TRUE(Down().ok());  // runs the stored no-transaction down
  EXPECT_EQ(Applied().size(), 4u);
}

// resolve checks the claim against the database: what the up script creates
// must exist for --applied and be gone for --rolled-back; an index an
// interrupted CREATE INDEX CONCURRENTLY left INVALID is named either way.
TEST_P(MigratorTest, ResolveRefusesWhatTheDatabaseContradicts) {
  WriteShop();
  ASSERT_TRUE(Up().ok());
  Write("0005_half.up.sql",
        "-- strata:no-transaction\nCREATE TABLE audit (id INTEGER);\n"
        "INSERT INTO missing_table VALUES (1);\nCREATE INDEX audit_id ON audit (id);\n");
  Write("0005_half.down.sql", "-- strata:no-transaction\nDROP TABLE audit;\n");
  Status s = Up();
  ASSERT_EQ(s.code(), Code::kInProgress) << s.message();
  s = Open()->Resolve(5, /*applied=*/true).status();
  EXPECT_EQ(s.code(), Code::kVerifyFailed) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("index audit_id does not exist"));
  s = Open()->Resolve(5, /*applied=*/false).status();
  EXPECT_EQ(s.code(), Code::kVerifyFailed) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("table audit still exists"));
  EXPECT_EQ(Open()->GetStatus()->Count(MigrationState::kInProgress), 1);  // unchanged
  ASSERT_TRUE(db_->Exec("DROP TABLE audit").ok());
  ASSERT_TRUE(Open()->Resolve(5, /*applied=*/false).ok());
  EXPECT_EQ(Applied().size(), 4u);

  if (!pg()) return;
  ASSERT_TRUE(db_->Exec("INSERT INTO customers (id, email, name) VALUES (3, 'c@x', 'Same'), (4, 'd@x', 'Same')").ok());
  Write("0005_half.up.sql",
        "-- strata:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY customers_name_u ON customers (name);\n");
  s = Up();
  ASSERT_EQ(s.code(), Code::kInProgress) << s.message();  // duplicates: the index is left INVALID
  s = Open()->Resolve(5, /*applied=*/true).status();
  EXPECT_EQ(s.code(), Code::kVerifyFailed) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("index customers_name_u is INVALID"));
  EXPECT_THAT(s.message(), HasSubstr("REINDEX INDEX CONCURRENTLY customers_name_u"));
  EXPECT_EQ(Open()->Resolve(5, /*applied=*/false).status().code(), Code::kVerifyFailed);
  ASSERT_TRUE(db_->Exec("DROP INDEX customers_name_u").ok());
  ASSERT_TRUE(Open()->Resolve(5, /*applied=*/false).ok());
  EXPECT_EQ(Applied().size(), 4u);
}

// A no-transaction migration whose DELETE ran before a later statement
// failed. Settled as rolled back, its capture table stayed and applying the
// fixed migration failed ("strata_capture_5_1 already exists", hunt62 #1):
// the saved rows are kept under a name of their own now. Settled as
// applied, history had no record of the tables as the migration left them,
// and a row the application wrote since made its rollback fail its check
// (hunt62 #2).
TEST_P(MigratorTest, ResolvedMigrationsApplyAgainAndRollBackAfterLaterWrites) {
  WriteShop();
  ASSERT_TRUE(Up().ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO customers (id, email, name) VALUES (3, 'spam@x', 'Spam')").ok());
  Write("0005_purge.up.sql", "-- strata:no-transaction\nDELETE FROM customers WHERE name = 'Spam';\n"
                             "INSERT INTO missing_table VALUES (1);\n");
  Write("0005_purge.down.sql", "SELECT 1;\n");
  ASSERT_EQ(Up().code(), Code::kInProgress);
  ASSERT_TRUE(db_->Exec("INSERT INTO customers (id, email, name) VALUES (3, 'spam@x', 'Spam')").ok());
  auto set_aside = Open()->Resolve(5, /*applied=*/false);
  ASSERT_TRUE(set_aside.ok()) << set_aside.status().message();
  EXPECT_EQ(*set_aside, std::vector<std::string>{"strata_resolved_5_1"});
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM strata_resolved_5_1"), 1);

  ASSERT_EQ(Up().code(), Code::kInProgress);  // the same failure again, its capture made anew
  auto applied = Open()->Resolve(5, /*applied=*/true);
  ASSERT_TRUE(applied.ok()) << applied.status().message();
  EXPECT_TRUE(applied->empty());
  ASSERT_TRUE(db_->Exec("INSERT INTO customers (id, email, name) VALUES (4, 'dan@x', 'Dan')").ok());
  Status s = Down();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(testing::Column(*db_, "SELECT name FROM customers WHERE id >= 3 ORDER BY id"),
            (std::vector<std::string>{"Spam", "Dan"}));
}

TEST_P(MigratorTest, NoTransactionMigrationThatSucceeds) {
  WriteShop();
  Write("0005_index.up.sql",
        std::string("-- strata:no-transaction\n") +
            (pg() ? "CREATE INDEX CONCURRENTLY customers_email2 ON customers (email);\n"
                  : "CREATE INDEX customers_email2 ON customers (email);\n"));
  ASSERT_TRUE(Up().ok());
  auto status = Open()->GetStatus();
  EXPECT_EQ(status->Count(MigrationState::kApplied), 5);
  ASSERT_TRUE(Down().ok());  // derived: DROP INDEX [CONCURRENTLY], outside a transaction
  EXPECT_EQ(Applied().size(), 4u);
}

TEST_P(MigratorTest, OutOfOrderPendingIsRefusedUnlessAllowed) {
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  Write("0003_c.up.sql", "CREATE TABLE c (id INTEGER);\n");
  ASSERT_TRUE(Up().ok());
  Write("0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
  auto status = Open()->GetStatus();
  EXPECT_EQ(status->Count(MigrationState::kOutOfOrder), 1);
  EXPECT_EQ(Up().code(), Code::kConflict);
  EXPECT_FALSE(HasTable("b"));
  ASSERT_TRUE(Up(UpOptions{.allow_out_of_order = true}).ok());
  EXPECT_TRUE(HasTable("b"));
  // History now holds 0002 after 0003; status still lists by version, with
  // a missing file and a pending one in their places.
  std::filesystem::remove(dir_.path() + "/migrations/0001_a.up.sql");
  Write("0004_d.up.sql", "CREATE TABLE d (id INTEGER);\n");
  status = Open()->GetStatus();
  ASSERT_TRUE(status.ok());
  std::vector<std::pair<int64_t, MigrationState>> listed;
  for (const auto& m : status->migrations) listed.emplace_back(m.version, m.state);
  EXPECT_EQ(listed, (std::vector<std::pair<int64_t, MigrationState>>{
                        {1, MigrationState::kMissingFile},
                        {2, MigrationState::kApplied},
                        {3, MigrationState::kApplied},
                        {4, MigrationState::kPending}}));
  // Rolling back 0003, applied before 0002: no drift afterwards, since the
  // schema is what Strata's own verified rollback left.
  ASSERT_TRUE(Down().ok());
  EXPECT_FALSE(HasTable("c"));
  status = Open()->GetStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->drift, "");
  ASSERT_TRUE(db_->Exec("CREATE TABLE sneaky (id INTEGER)").ok());
  EXPECT_THAT(Open()->GetStatus()->drift, HasSubstr("changed outside strata"));
}

// A migration refused when the run reaches it (what it deletes cannot be
// captured) stops the run there: the ones before it stay applied on both
// engines (SQLite held them in the run's open transaction).
TEST_P(MigratorTest, ARefusalMidRunKeepsTheMigrationsBeforeIt) {
  Write("0001_users.up.sql", std::string("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n"
                                         "INSERT INTO users VALUES (1, 'a'), (2, 'b');\n") +
                                 (pg() ? "CREATE TABLE vips () INHERITS (users);\n" : ""));
  Write("0001_users.down.sql", pg() ? "DROP TABLE vips;\nDROP TABLE users;\n" : "DROP TABLE users;\n");
  // What each engine cannot capture, found only once the migrations before
  // it ran (a statement Strata can never capture is refused before any):
  // rows of a table others inherit from (PostgreSQL), rows of a table
  // outside the managed schema (SQLite).
  Write("0002_prune.up.sql",
        pg() ? "DELETE FROM users WHERE id > 1;\n"
             : "CREATE TEMP TABLE scratch AS SELECT id FROM users;\n"
               "DELETE FROM users WHERE id > 1;\n"
               "DELETE FROM temp.scratch WHERE id > 1;\n");
  Write("0002_prune.down.sql", "-- nothing\n");
  Status refused = Up();
  EXPECT_EQ(refused.code(), Code::kIrreversible) << refused.message();
  EXPECT_THAT(refused.message(), HasSubstr("0002_prune"));
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM users"), 2);
}

// An applied migration whose file is gone (a checkout of a branch without
// it) stops `up`, as a changed file does; its stored down script still
// rolls it back, and --allow-missing applies on top of it.
TEST_P(MigratorTest, AMissingAppliedFileStopsUpUnlessAllowed) {
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  Write("0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
  ASSERT_TRUE(Up().ok());
  std::filesystem::remove(dir_.path() + "/migrations/0002_b.up.sql");
  Write("0003_c.up.sql", "CREATE TABLE c (id INTEGER);\n");
  Status refused = Up();
  EXPECT_EQ(refused.code(), Code::kConflict);
  EXPECT_THAT(refused.message(), HasSubstr("0002_b is applied but its file is not in"));
  EXPECT_THAT(refused.message(), HasSubstr("--allow-missing"));
  EXPECT_FALSE(HasTable("c"));
  EXPECT_EQ(Applied().size(), 2u);

  ASSERT_TRUE(Up(UpOptions{.allow_missing = true}).ok());
  EXPECT_TRUE(HasTable("c"));
  ASSERT_TRUE(Down(DownOptions{.steps = 2}).ok());
  EXPECT_FALSE(HasTable("b"));
  EXPECT_FALSE(HasTable("c"));
  EXPECT_TRUE(HasTable("a"));
}

// PostgreSQL: the steps of a run but its last commit without waiting for
// the disk; when the run returns, success or failure, all of them are on disk.
TEST_P(MigratorTest, StepsThatDidNotWaitForTheDiskAreFlushedWhenTheRunReturns) {
  if (!pg()) GTEST_SKIP() << "SQLite commits a run's steps together";
  // Commits wait for the disk in this database (the test server's default
  // does not), and the WAL writer's timed flush comes 10 s late. (It may
  // still flush early when woken, so a lost flush is not always caught;
  // history's rows after each run are.)
  ASSERT_TRUE(db_->Exec("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = on', "
                        "current_database()); END $$")
                  .ok());
  // Autovacuum (of earlier tests' tables) would write WAL of its own that
  // nothing flushes for those 10 s either.
  ASSERT_TRUE(db_->Exec("ALTER SYSTEM SET wal_writer_delay = '10s'").ok());
  ASSERT_TRUE(db_->Exec("ALTER SYSTEM SET autovacuum = off").ok());
  ASSERT_TRUE(db_->Exec("SELECT pg_reload_conf()").ok());
  struct Restore {
    Database& db;
    ~Restore() {
      db.Exec("ALTER SYSTEM RESET wal_writer_delay").IgnoreError();
      db.Exec("ALTER SYSTEM RESET autovacuum").IgnoreError();
      db.Exec("SELECT pg_reload_conf()").IgnoreError();
    }
  } restore{*db_};
  auto flushed = [&] {
    return Scalar(*db_, "SELECT (pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn())::int");
  };
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  Write("0002_b.up.sql", "CREATE TABLE b (id INTEGER);\nINSERT INTO b VALUES (1);\n");
  Write("0003_c.up.sql", "CREATE TABLE c (id INTEGER);\nINSERT INTO c VALUES ('not a number');\n");
  EXPECT_EQ(Up().code(), Code::kDatabase);
  EXPECT_EQ(flushed(), 1) << "after a run that failed at its last step";
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2"}));
  Write("0003_c.up.sql", "CREATE TABLE c (id INTEGER);\nINSERT INTO c VALUES (3);\n");
  Write("0004_d.up.sql", "CREATE TABLE d (id INTEGER);\n");
  ASSERT_TRUE(Up().ok());
  EXPECT_EQ(flushed(), 1) << "after a run that succeeded";
  ASSERT_TRUE(Down(DownOptions{.to = 1}).ok());
  EXPECT_EQ(flushed(), 1) << "after a rollback";
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1"}));
}

// A setting a migration changes for the session (SQLite's foreign_keys,
// PostgreSQL's search_path, as pg_dump's header sets it) reaches neither
// Strata's own statements nor the next migration of the run.
TEST_P(MigratorTest, SessionSettingsAMigrationChangesEndWithIt) {
  if (pg()) {
    Write("0001_dump.up.sql",
          "SELECT pg_catalog.set_config('search_path', '', false);\n"
          "CREATE TABLE public.a (id INTEGER PRIMARY KEY);\n");
    Write("0001_dump.down.sql", "SET search_path = '';\nDROP TABLE public.a;\n");
  } else {
    Write("0001_dump.up.sql",
          "-- strata:no-transaction\nCREATE TABLE a (id INTEGER PRIMARY KEY);\n"
          "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id) ON DELETE CASCADE);\n"
          "PRAGMA foreign_keys = ON;\n");
    Write("0001_dump.down.sql", "DROP TABLE b;\nDROP TABLE a;\n");
  }
  // PostgreSQL: settings that change how text reads (the history row's
  // script below, a regular expression), or make the session read-only.
  Write("0002_b.up.sql", pg() ? "CREATE TABLE b (id INTEGER, t TEXT);\nINSERT INTO b VALUES (1, 'p\\q');\n"
                                "SET standard_conforming_strings = off;\nSET extra_float_digits = -3;\n"
                                "SET TIME ZONE 'Pacific/Auckland';\n"
                                "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;\n"
                              : "INSERT INTO a VALUES (1);\nINSERT INTO b VALUES (7, 1);\n");
  Write("0002_b.down.sql", pg() ? "DROP TABLE b;\n" : "DELETE FROM b;\nDELETE FROM a;\n");
  // SQLite: a rebuild of a, which would empty b were foreign keys on.
  Write("0003_rebuild.up.sql", pg() ? "CREATE TABLE c (id INTEGER);\nDELETE FROM b WHERE t ~ '^p\\\\';\n"
                                    : "CREATE TABLE a_new (id INTEGER PRIMARY KEY, n TEXT);\n"
                                      "INSERT INTO a_new (id) SELECT id FROM a;\nDROP TABLE a;\n"
                                      "ALTER TABLE a_new RENAME TO a;\n");
  Write("0003_rebuild.down.sql", pg() ? "-- the captured row comes back\nDROP TABLE c;\n" : "ALTER TABLE a DROP COLUMN n;\n");
  Status s = Up();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2", "3"}));
  if (pg()) {
    EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                           "AND tablename IN ('a', 'b', 'c')"), 3);
    EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM b"), 0);  // its regular expression read as written
    History history(*db_);
    auto row = history.Get(3);
    ASSERT_TRUE(row.ok() && row->has_value());
    EXPECT_THAT((*row)->up_script, HasSubstr("'^p\\\\'"));
  } else {
    EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM b"), 1);
  }
  s = Down(DownOptions{.to = 0});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(Applied().empty());
}

TEST_P(MigratorTest, VerifyScriptFailureRollsTheMigrationBack) {
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  Write("0001_a.verify.sql", "SELECT id FROM a;\nSELECT missing_column FROM a;\n");
  Status s = Up();
  ASSERT_EQ(s.code(), Code::kVerifyFailed);
  EXPECT_THAT(s.message(), HasSubstr("verify script"));
  EXPECT_THAT(s.message(), HasSubstr("0001_a.verify.sql:2:"));
  EXPECT_FALSE(HasTable("a"));
}

// PostgreSQL: a trigger function and its trigger with no down script, as
// goose and dbmate projects (an empty down section) and Supabase write them:
// applied with a derived inverse that drops both, and rolled back by it.
TEST_P(MigratorTest, TriggerFunctionWithoutADownScriptRollsBackOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite has no CREATE FUNCTION";
  Write("0001_users.up.sql",
        "CREATE TABLE users (id int PRIMARY KEY, updated_at timestamptz);\n");
  Write("0002_stamp.up.sql",
        "CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n  NEW.updated_at = now();\n  RETURN NEW;\nEND;\n$$;\n"
        "CREATE FUNCTION touch(days int DEFAULT 1) RETURNS int LANGUAGE sql AS 'SELECT days';\n"
        "CREATE TRIGGER users_updated_at BEFORE UPDATE ON users FOR EACH ROW "
        "EXECUTE FUNCTION set_updated_at();\n");
  Status s = Up();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1", "2"}));
  s = Down();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_proc WHERE proname IN ('set_updated_at', 'touch')"), 0);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_trigger WHERE tgname = 'users_updated_at'"), 0);
}

// PostgreSQL: a domain and a table using it, with no down script: applied
// with a derived inverse, rolled back by it.
TEST_P(MigratorTest, DomainWithoutADownScriptRollsBackOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite has no domains";
  Write("0001_users.up.sql",
        "CREATE DOMAIN email AS text CHECK (VALUE ~ '^[^@]+@[^@]+$');\n"
        "CREATE TABLE users (id int PRIMARY KEY, email email NOT NULL);\n");
  Status s = Up();
  ASSERT_TRUE(s.ok()) << s.message();
  s = Down();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(Applied().empty());
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_type WHERE typname = 'email'"), 0);
}

// PostgreSQL: a view and a sequence with their comments and grants, as
// Supabase migrations write them, with no down script: the derived inverse
// drops them, and with them what dressed them.
TEST_P(MigratorTest, CommentedAndGrantedViewWithoutADownScriptRollsBackOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite has no COMMENT or GRANT";
  Write("0001_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY, active boolean);\n");
  Write("0002_view.up.sql",
        "CREATE VIEW active_users AS SELECT id FROM users WHERE active;\n"
        "COMMENT ON VIEW active_users IS 'users still here';\n"
        "GRANT SELECT ON active_users TO PUBLIC;\n"
        "CREATE SEQUENCE invoice_no;\n"
        "GRANT USAGE ON SEQUENCE invoice_no TO PUBLIC;\n"
        "CREATE INDEX users_active ON users (active);\n"
        "COMMENT ON INDEX users_active IS 'for the view';\n");
  Status s = Up();
  ASSERT_TRUE(s.ok()) << s.message();
  s = Down();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Applied(), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_class WHERE relname IN ('active_users', 'invoice_no', 'users_active')"), 0);
}

// An index without a name on a table the same script created, with no down
// script: the derived inverse drops the table, and the index with it.
TEST_P(MigratorTest, UnnamedIndexOfANewTableWithoutADownScriptRollsBackOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite's CREATE INDEX needs a name";
  Write("0001_orders.up.sql",
        "CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL);\n"
        "CREATE INDEX ON orders (user_id);\n");
  Status s = Up();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'"), 2);
  s = Down();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(Applied().empty());
  EXPECT_FALSE(HasTable("orders"));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, MigratorTest, ::testing::Values(Engine::kSqlite));
INSTANTIATE_TEST_SUITE_P(Postgres, MigratorTest, ::testing::Values(Engine::kPostgres));

}  // namespace
}  // namespace strata
