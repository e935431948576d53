// strata rehearse, as a user runs it, on real SQLite and PostgreSQL targets:
// the report is checked, and so is the target (unchanged) and the sandbox
// (gone, or kept where the report says).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "rehearse/rehearse.h"
#include "safety/fingerprint.h"
#include "testutil/harness.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunStrata;
using testing::Scalar;
using testing::TempDir;
using nlohmann::json;

class RehearseTest : public testing::EngineTest {
 protected:
  void Write(const std::string& file, const std::string& sql) { dir_.Write("migrations/" + file, sql); }

  std::string ShopDir() const {
    return std::string(STRATA_SOURCE_DIR) +
           (pg() ? "/examples/shop-postgres/migrations" : "/examples/shop/migrations");
  }

  testing::CliRun Strata(std::vector<std::string> args, const std::string& dir = "") {
    args.insert(args.begin(), {"--database", target_->url(), "--dir",
                               dir.empty() ? dir_.path() + "/migrations" : dir});
    return RunStrata(args, dir_.path());
  }

  /// Runs `strata rehearse --json ARGS` and parses the report.
  json RehearseJson(std::vector<std::string> args, int want_exit, const std::string& dir = "") {
    args.insert(args.begin(), {"rehearse", "--json"});
    auto run = Strata(args, dir);
    EXPECT_EQ(run.exit_code, want_exit) << run.all();
    try {
      return json::parse(run.out);
    } catch (const json::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << run.all();
      return json::object();
    }
  }

  /// The target's schema and data hashes, and for SQLite its bytes.
  std::string TargetState() {
    auto schema = FingerprintSchema(*db_);
    auto data = FingerprintData(*db_);
    EXPECT_TRUE(schema.ok() && data.ok());
    std::string state = schema->hash + " " + data->hash;
    if (!pg()) {
      std::string path = target_->url().substr(std::string("sqlite:").size());
      std::ifstream in(path, std::ios::binary);
      std::ostringstream bytes;
      bytes << in.rdbuf();
      state += " " + std::to_string(std::hash<std::string>()(bytes.str()));
    }
    return state;
  }

  /// Applies the shop migrations up to `version` to the target.
  void ApplyShop(int version) {
    auto run = Strata({"up", "--to", std::to_string(version)}, ShopDir());
    ASSERT_EQ(run.exit_code, 0) << run.all();
  }

  /// Checks every migration of `report` passed, each with a failure injected
  /// at every one of its statements; returns the number of injections.
  int64_t ExpectAllPassed(const json& report, size_t migrations) {
    EXPECT_EQ(report["summary"]["ok"], true) << report.dump(2);
    EXPECT_EQ(report["migrations"].size(), migrations);
    int64_t injections = 0;
    for (const json& m : report["migrations"]) {
      EXPECT_EQ(m["result"], "pass") << m.dump(2);
      EXPECT_GT(m["statements"].get<int>(), 0) << m["id"];
      EXPECT_EQ(m["injections"]["run"], m["statements"]) << m["id"];
      EXPECT_EQ(m["injections"]["passed"], m["statements"]) << m["id"];
      EXPECT_GE(m["up_ms"].get<int64_t>(), 0) << m["id"];
      EXPECT_GE(m["down_ms"].get<int64_t>(), 0) << m["id"];
      injections += m["injections"]["run"].get<int64_t>();
    }
    return injections;
  }

  /// Whether the sandbox named by a report still exists.
  bool SandboxExists(const json& report) {
    std::string location = report["sandbox"]["location"];
    if (!pg()) return std::filesystem::exists(location.substr(std::string("sqlite:").size()));
    std::string name = location.substr(location.rfind('/') + 1);
    EXPECT_THAT(name, HasSubstr("strata_rehearse_"));
    auto admin = OpenDatabase(UrlWithDatabase(testing::PostgresTestUrl(), "postgres"));
    return Scalar(**admin, "SELECT count(*) FROM pg_database WHERE datname = '" + name + "'") > 0;
  }

  void DropSandbox(const json& report) {
    std::string location = report["sandbox"]["location"];
    if (!pg()) {
      std::filesystem::remove_all(std::filesystem::path(location.substr(7)).parent_path());
      return;
    }
    auto admin = OpenDatabase(UrlWithDatabase(testing::PostgresTestUrl(), "postgres"));
    (*admin)->Exec("DROP DATABASE IF EXISTS " + location.substr(location.rfind('/') + 1) + " WITH (FORCE)")
        .IgnoreError();
  }

  TempDir dir_;
};

// The demo shop with its own data (0001-0006 applied), seeded with more rows
// per table in the sandbox; 0007-0012 rehearsed on them.
TEST_P(RehearseTest, DemoShopSeededPassesAndLeavesTheTargetAlone) {
  ApplyShop(6);
  std::string before = TargetState();
  const int64_t rows = 10000;  // a few seconds on either engine
  json report = RehearseJson({"--seed", std::to_string(rows)}, 0, ShopDir());
  EXPECT_EQ(ExpectAllPassed(report, 6), pg() ? 11 : 10);  // 1+1+1+3(4)+1+3
  EXPECT_EQ(report["seed"]["rows_per_table"], rows);
  EXPECT_EQ(report["seed"]["tables"].size(), 5u);  // customers ... order_lines
  for (const json& t : report["seed"]["tables"]) EXPECT_GE(t["rows"].get<int64_t>(), rows) << t.dump();
  EXPECT_EQ(report["migrations"][5]["id"], "0012_move_customer_phones");
  EXPECT_THAT(report["migrations"][5]["risks"].dump(), HasSubstr("drops column customers.phone"));
  EXPECT_EQ(TargetState(), before);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM strata_history"), 6);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM customers"), 3);
  EXPECT_FALSE(SandboxExists(report));
}

TEST_P(RehearseTest, WholeDemoFromAnEmptyDatabasePasses) {
  std::string before = TargetState();
  json report = RehearseJson({}, 0, ShopDir());
  EXPECT_EQ(ExpectAllPassed(report, 12), pg() ? 25 : 24);
  EXPECT_EQ(TargetState(), before);
  EXPECT_FALSE(*db_->TableExists("customers"));
}

TEST_P(RehearseTest, HumanReportHasATableAndASummary) {
  ApplyShop(9);
  auto run = Strata({"rehearse", "--seed", "50"}, ShopDir());
  ASSERT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("rehearsing 3 pending migrations of"));
  EXPECT_THAT(run.out, HasSubstr("seeded 5 tables with 50 generated rows each"));
  EXPECT_THAT(run.out, ::testing::ContainsRegex("0010_keep_orders_total_current +pass +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+/[0-9]+"));
  EXPECT_THAT(run.out, HasSubstr("risk destructive: drops column customers.phone"));
  EXPECT_THAT(run.out, HasSubstr("rehearsal passed: 3 migrations"));
  EXPECT_THAT(run.out, HasSubstr("the target was only read; the sandbox was removed"));
}

TEST_P(RehearseTest, DownThatForgetsAnIndexFailsNamingIt) {
  Write("0001_items.up.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_items_name.up.sql", "CREATE INDEX items_name_idx ON items (name);\n");
  Write("0002_items_name.down.sql", "SELECT 1;\n");
  Write("0003_items_price.up.sql", "ALTER TABLE items ADD COLUMN price INTEGER;\n");
  std::string before = TargetState();
  auto run = Strata({"rehearse"});
  EXPECT_EQ(run.exit_code, 6) << run.all();
  EXPECT_THAT(run.out, HasSubstr("0002_items_name"));
  EXPECT_THAT(run.out, HasSubstr("items_name_idx"));
  EXPECT_THAT(run.out, HasSubstr("rehearsal FAILED: 1 of 2 migrations failed"));
  // Pending on the target: what to do is fix the file and rehearse again,
  // not store it in a history that does not list it (hunt80 #3).
  EXPECT_THAT(run.out, HasSubstr("so it was undone (in the rehearsal's sandbox)"));
  EXPECT_THAT(run.out, HasSubstr("Fix the down file and rehearse again"));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("still applied")));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("--accept-file")));
  json report = RehearseJson({}, 6);
  ASSERT_EQ(report["migrations"].size(), 2u);
  EXPECT_EQ(report["migrations"][0]["result"], "fail");
  EXPECT_THAT(report["migrations"][0]["failures"].dump(), HasSubstr("items_name_idx"));
  // The rollback's own check undid the wrong down, so 0002 stayed applied as
  // the first up left it and 0003 is still rehearsed on top of it.
  EXPECT_THAT(report["migrations"][0]["failures"].dump(), HasSubstr("+ index items_name_idx"));
  EXPECT_EQ(report["migrations"][1]["result"], "pass");
  EXPECT_EQ(report["summary"]["failed"], 1);
  EXPECT_EQ(TargetState(), before);
}

// A DELETE whose table has a trigger that only appends to an audit trail:
// a real rollback leaves the audit rows (documented), but rehearse counted
// them as the down script failing and failed it (exit 6, hunt64 #3). They
// are a note now; a table the migration writes itself still counts.
TEST_P(RehearseTest, RowsATriggerOnlyAppendsAreANoteNotAFailure) {
  const std::string trigger =
      pg() ? "CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "INSERT INTO audit_log (op, row_id) VALUES (TG_OP, OLD.id); RETURN OLD; END $$;\n"
             "CREATE TRIGGER orders_audit AFTER DELETE ON orders FOR EACH ROW EXECUTE FUNCTION audit();\n"
           : "CREATE TRIGGER orders_audit AFTER DELETE ON orders BEGIN "
             "INSERT INTO audit_log (op, row_id) VALUES ('DELETE', OLD.id); END;\n";
  Write("0001_orders.up.sql",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, stale INTEGER NOT NULL);\n"
        "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, op TEXT, row_id INTEGER);\n" +
            std::string(pg() ? "CREATE SEQUENCE audit_ids OWNED BY audit_log.id;\n"
                               "ALTER TABLE audit_log ALTER id SET DEFAULT nextval('audit_ids');\n"
                             : "") +
            trigger);
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  ASSERT_TRUE(db_->Exec("INSERT INTO orders VALUES (1, 0), (2, 1)").ok());
  Write("0002_purge.up.sql", "DELETE FROM orders WHERE stale = 1;\n");
  Write("0002_purge.down.sql", "");
  json report = RehearseJson({}, 0);
  ASSERT_EQ(report["migrations"].size(), 1u);
  const json& m = report["migrations"][0];
  EXPECT_EQ(m["result"], "pass") << m.dump();
  EXPECT_THAT(m["note"].get<std::string>(), HasSubstr("audit_log gained rows that down left"));

  // The same table written by the migration itself is checked as ever.
  Write("0002_purge.up.sql", "DELETE FROM orders WHERE stale = 1;\n"
                             "INSERT INTO audit_log (op, row_id) VALUES ('purge', 0);\n");
  report = RehearseJson({}, 6);
  EXPECT_THAT(report["migrations"][0]["failures"].dump(), HasSubstr("audit_log"));
}

// Rehearse checks each rollback with the same schema fingerprint: a down
// script that leaves row-level security on (PostgreSQL) or rebuilds a table
// without its deferred foreign key (SQLite) fails, naming it.
TEST_P(RehearseTest, DownThatLosesRowLevelSecurityOrADeferredForeignKeyFails) {
  Write("0001_items.up.sql",
        "CREATE TABLE owners (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE items (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES owners (id)" +
            std::string(pg() ? "" : " DEFERRABLE INITIALLY DEFERRED") + ", name TEXT);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  if (pg()) {
    Write("0002_rls.up.sql",
          "ALTER TABLE items ENABLE ROW LEVEL SECURITY;\n"
          "CREATE POLICY named ON items USING (name IS NOT NULL);\n");
    Write("0002_rls.down.sql", "DROP POLICY named ON items;\n");
  } else {
    Write("0002_rls.up.sql", "ALTER TABLE items ADD COLUMN note TEXT;\n");
    Write("0002_rls.down.sql",
          "CREATE TABLE old_items (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES owners (id),"
          " name TEXT);\nINSERT INTO old_items SELECT id, owner_id, name FROM items;\n"
          "DROP TABLE items;\nALTER TABLE old_items RENAME TO items;\n");
  }
  std::string before = TargetState();
  auto run = Strata({"rehearse"});
  EXPECT_EQ(run.exit_code, 6) << run.all();
  EXPECT_THAT(run.out, HasSubstr("0002_rls"));
  EXPECT_THAT(run.out, HasSubstr(pg() ? "row level security enabled" : "deferrable initially deferred"));
  EXPECT_THAT(run.out, HasSubstr("rehearsal FAILED: 1 of 1 migrations failed"));
  EXPECT_EQ(TargetState(), before);
}

// The options a view or table was made WITH are part of its definition:
// a view that loses security_invoker runs as its owner, past the row-level
// security of its tables. pg_get_viewdef leaves them out, so a down script
// that recreated the view without them passed, rehearsal and `down` alike.
TEST_P(RehearseTest, DownThatLosesAViewsOrATablesOptionsFails) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL's view and storage options";
  Write("0001_docs.up.sql",
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, private BOOLEAN NOT NULL);\n"
        "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY own ON docs USING (owner = current_user);\n"
        "CREATE VIEW public_docs WITH (security_invoker = true) AS\n"
        "  SELECT id, owner FROM docs WHERE NOT private WITH CASCADED CHECK OPTION;\n");
  Write("0001_docs.down.sql", "DROP VIEW public_docs;\nDROP TABLE docs;\n");
  ASSERT_EQ(Strata({"up", "--no-snapshot"}).exit_code, 0);
  Write("0002_view.up.sql",
        "DROP VIEW public_docs;\n"
        "CREATE VIEW public_docs WITH (security_invoker = true) AS\n"
        "  SELECT id, owner, private FROM docs WHERE NOT private WITH CASCADED CHECK OPTION;\n"
        "ALTER TABLE docs SET (fillfactor = 70);\n");
  Write("0002_view.down.sql",
        "DROP VIEW public_docs;\n"
        "CREATE VIEW public_docs AS SELECT id, owner FROM docs WHERE NOT private;\n");
  auto run = Strata({"rehearse", "--no-inject"});
  EXPECT_EQ(run.exit_code, 6) << run.all();
  EXPECT_THAT(run.out, HasSubstr("with (check_option=cascaded, security_invoker=true)"));
  EXPECT_THAT(run.out, HasSubstr("with (fillfactor=70)"));
  run = Strata({"up", "--no-snapshot"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  run = Strata({"down"});
  EXPECT_EQ(run.exit_code, 6) << run.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_class WHERE relname = 'public_docs' "
                         "AND 'security_invoker=true' = ANY(reloptions)"),
            1);
}

TEST_P(RehearseTest, DownThatRestoresAColumnWithTheWrongTypeFails) {
  Write("0001_items.up.sql",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER NOT NULL DEFAULT 0);\n"
        "INSERT INTO items (id, price) VALUES (1, 100), (2, 250);\n");
  Write("0001_items.down.sql", "DROP TABLE items;\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_drop_price.up.sql", "ALTER TABLE items DROP COLUMN price;\n");
  Write("0002_drop_price.down.sql", "ALTER TABLE items ADD COLUMN price TEXT;\n");
  json report = RehearseJson({}, 6);
  ASSERT_EQ(report["migrations"].size(), 1u);
  const json& m = report["migrations"][0];
  EXPECT_EQ(m["result"], "fail");
  std::string failures = m["failures"].dump();
  EXPECT_THAT(failures, HasSubstr("schema differs"));
  EXPECT_THAT(failures, HasSubstr("price"));
  EXPECT_THAT(failures, HasSubstr("table items"));
  EXPECT_EQ(Scalar(*db_, "SELECT sum(price) FROM items"), 350);
}

// A dropped column that was not the last comes back last: the same table.
TEST_P(RehearseTest, DroppingAMiddleColumnWithItsDownPasses) {
  Write("0001_items.up.sql",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, price INTEGER, name TEXT);\n"
        "INSERT INTO items VALUES (1, 100, 'a'), (2, NULL, 'b');\n");
  Write("0001_items.down.sql", "DROP TABLE items;\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_drop_price.up.sql", "ALTER TABLE items DROP COLUMN price;\n");
  Write("0002_drop_price.down.sql", "ALTER TABLE items ADD COLUMN price INTEGER;\n");
  json report = RehearseJson({}, 0);
  ASSERT_EQ(report["migrations"].size(), 1u);
  EXPECT_EQ(report["migrations"][0]["result"], "pass") << report.dump(2);
}

// A file wrapped in BEGIN/COMMIT (as written for psql or sqitch) runs without
// the wrapper, and failures are injected at its own statements.
TEST_P(RehearseTest, ABeginCommitWrapperIsNotCountedAsStatements) {
  Write("0001_items.up.sql",
        "BEGIN;\nCREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n"
        "CREATE INDEX items_name ON items (name);\nCOMMIT;\n");
  json report = RehearseJson({}, 0);
  ASSERT_EQ(report["migrations"].size(), 1u);
  EXPECT_EQ(report["migrations"][0]["result"], "pass") << report.dump(2);
  EXPECT_EQ(report["migrations"][0]["statements"], 2);
}

TEST_P(RehearseTest, DownThatLeavesRowsBehindFailsWithRowCounts) {
  Write("0001_items.up.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_more_items.up.sql", "INSERT INTO items (id, name) VALUES (1001, 'a'), (1002, 'b');\n");
  Write("0002_more_items.down.sql", "DELETE FROM items WHERE id = 1001;\n");
  json report = RehearseJson({"--seed", "10"}, 6);
  const json& m = report["migrations"][0];
  EXPECT_EQ(m["result"], "fail");
  EXPECT_THAT(m["failures"][0].get<std::string>(),
              HasSubstr("data of table items differs: 10 rows before, 11 now"));
}

// A seed migration into a table with generated keys and a created_at that
// defaults to the clock: up again writes other values (the down put the
// table back exactly, so that is no failure), reported as a note. A second
// up that writes another number of rows still fails.
TEST_P(RehearseTest, UpAgainWithNewKeysAndTimesPassesWithANote) {
  Write("0001_items.up.sql",
        pg() ? "CREATE TABLE items (id bigserial PRIMARY KEY, name TEXT NOT NULL,\n"
               "  created_at timestamptz NOT NULL DEFAULT clock_timestamp());\n"
             : "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,\n"
               "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')));\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_seed.up.sql", "INSERT INTO items (name) VALUES ('a'), ('b');\n");
  Write("0002_seed.down.sql", "DELETE FROM items WHERE name IN ('a', 'b');\n");
  json report = RehearseJson({}, 0);
  const json& m = report["migrations"][0];
  EXPECT_EQ(m["result"], "pass") << m.dump(2);
  EXPECT_THAT(m["note"].get<std::string>(), HasSubstr("other values into items"));

  if (!pg()) return;
  // Up inserts as many rows as a sequence's next value, a row more each time
  // it runs (the down puts the rows back, not the sequence): another row
  // count fails.
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  ASSERT_TRUE(db_->Exec("CREATE SEQUENCE runs").ok());
  Write("0003_runs.up.sql", "INSERT INTO items (name) SELECT 'run'"
                            " FROM generate_series(1, nextval('runs')::int);\n");
  Write("0003_runs.down.sql", "DELETE FROM items WHERE name = 'run';\n");
  report = RehearseJson({"--no-inject"}, 6);
  const json& runs = report["migrations"][0];
  EXPECT_EQ(runs["result"], "fail") << runs.dump(2);
  std::string failures = runs["failures"].dump();
  EXPECT_THAT(failures, HasSubstr("up again after down gave another state"));
  EXPECT_THAT(failures, HasSubstr("items: 3 rows first up, 4 rows up again"));
}

// An FTS5 index kept by triggers: deleting rows and putting them back leaves
// an equal index stored in other bytes. Rehearsal compares what the index
// holds (the virtual table), not its shadow tables, and passes.
TEST_P(RehearseTest, FullTextIndexIsComparedByContentNotByItsShadowTables) {
  if (pg()) GTEST_SKIP() << "FTS5 is SQLite's";
  Write("0001_notes.up.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n"
        "CREATE VIRTUAL TABLE notes_fts USING fts5(body, content='notes', content_rowid='id');\n"
        "CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN\n"
        "  INSERT INTO notes_fts (rowid, body) VALUES (new.id, new.body);\nEND;\n"
        "CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN\n"
        "  INSERT INTO notes_fts (notes_fts, rowid, body) VALUES ('delete', old.id, old.body);\nEND;\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  ASSERT_TRUE(db_->Exec("INSERT INTO notes (id, body) VALUES (1, 'good apple'), (2, 'bad banana'), "
                        "(3, 'good cherry'), (4, 'bad damson')").ok());
  Write("0002_purge.up.sql", "DELETE FROM notes WHERE body LIKE 'bad%';\n");
  Write("0002_purge.down.sql", "-- the rows come back from the capture\n");
  json report = RehearseJson({}, 0);
  EXPECT_EQ(ExpectAllPassed(report, 1), 1);

  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'bad'"), 0);
  auto down = Strata({"down"});
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'bad'"), 2);
  EXPECT_TRUE(db_->Exec("INSERT INTO notes_fts (notes_fts) VALUES ('integrity-check')").ok());
}

// A statement whose capture reads other tables (DELETE ... USING) is
// captured as written when a failure is injected at it, then fails there.
TEST_P(RehearseTest, FailureInjectedAtADeleteUsingAnotherTablePasses) {
  if (!pg()) GTEST_SKIP() << "DELETE ... USING is PostgreSQL's";
  Write("0001_tables.up.sql",
        "CREATE TABLE parent (id serial PRIMARY KEY, cid text NOT NULL);\n"
        "CREATE TABLE child (id serial PRIMARY KEY, parent_id int NOT NULL, url text);\n"
        "INSERT INTO parent (cid) VALUES ('old-1'), ('new-2');\n"
        "INSERT INTO child (parent_id, url) VALUES (1, 'a'), (2, 'b'), (1, 'c');\n");
  Write("0001_tables.down.sql", "DROP TABLE child;\nDROP TABLE parent;\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_prune.up.sql",
        "DELETE FROM child c USING parent p WHERE c.parent_id = p.id AND p.cid LIKE 'old%';\n"
        "DELETE FROM parent WHERE cid LIKE 'old%';\n");
  Write("0002_prune.down.sql", "SELECT 1;\n");
  json report = RehearseJson({}, 0);
  EXPECT_EQ(ExpectAllPassed(report, 1), 2);
}

TEST_P(RehearseTest, MigrationThatFailsOnSeededDataStopsTheRehearsal) {
  // Tables are seeded right after the migration that creates them: 0006
  // then inserts customer 1, which the generated rows already hold.
  json report = RehearseJson({"--seed", "20"}, 6, ShopDir());
  ASSERT_EQ(report["migrations"].size(), 12u);
  EXPECT_EQ(report["migrations"][0]["seeded"][0]["table"], "customers");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(report["migrations"][i]["result"], "pass") << i;
  const json& seed = report["migrations"][5];
  EXPECT_EQ(seed["id"], "0006_seed_demo_data");
  EXPECT_EQ(seed["result"], "fail");
  EXPECT_THAT(seed["failures"][0].get<std::string>(), HasSubstr("up failed"));
  EXPECT_THAT(seed["failures"][0].get<std::string>(), HasSubstr("customers"));
  // The failure names the tables the generated rows were in.
  EXPECT_THAT(seed["failures"][0].get<std::string>(),
              HasSubstr("the sandbox's customers (20 generated rows)"));
  EXPECT_THAT(seed["failures"][0].get<std::string>(), HasSubstr("that --seed generated"));
  for (int i = 6; i < 12; ++i) EXPECT_EQ(report["migrations"][i]["result"], "not-rehearsed") << i;
  EXPECT_EQ(report["summary"]["not_rehearsed"], 6);
}

// A table the migration drops and creates again is empty after it, as a new
// one is: seeded with the new ones, parents first (zed's add_channels left
// channels empty, and channel_members could not be seeded; hunt45 #1).
TEST_P(RehearseTest, ATableMadeAnewIsSeededWithTheNewOnes) {
  Write("0001_channels.up.sql", "CREATE TABLE channels (id INTEGER PRIMARY KEY, name TEXT);\n");
  Write("0001_channels.down.sql", "DROP TABLE channels;\n");
  Write("0002_members.up.sql", "DROP TABLE channels;\n"
                               "CREATE TABLE channels (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
                               "CREATE TABLE channel_members (id INTEGER PRIMARY KEY, "
                               "channel_id INTEGER NOT NULL REFERENCES channels (id));\n");
  Write("0002_members.down.sql", "DROP TABLE channel_members;\nDROP TABLE channels;\n"
                                 "CREATE TABLE channels (id INTEGER PRIMARY KEY, name TEXT);\n");
  Write("0003_topic.up.sql", "ALTER TABLE channels ADD COLUMN topic TEXT;\n");
  json report = RehearseJson({"--seed", "5"}, 0);
  ASSERT_EQ(report["migrations"].size(), 3u);
  EXPECT_THAT(report["migrations"][1]["seeded"].dump(), HasSubstr("channel_members"));
  EXPECT_THAT(report["migrations"][1]["seeded"].dump(), HasSubstr("\"channels\""));
  EXPECT_THAT(report["warnings"].dump(), Not(HasSubstr("could not seed"))) << report.dump(2);
}

TEST_P(RehearseTest, NothingPendingIsSaidAndPasses) {
  ApplyShop(12);
  auto run = Strata({"rehearse"}, ShopDir());
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("nothing to rehearse: no migration in"));
}

TEST_P(RehearseTest, ToLimitsTheMigrationsRehearsedAndNoInjectSkipsInjection) {
  ApplyShop(3);
  json report = RehearseJson({"--to", "5", "--no-inject"}, 0, ShopDir());
  ASSERT_EQ(report["migrations"].size(), 2u);
  EXPECT_EQ(report["migrations"][1]["version"], 5);
  EXPECT_EQ(report["migrations"][1]["result"], "pass");
  EXPECT_EQ(report["migrations"][1]["injections"]["run"], 0);
}

TEST_P(RehearseTest, KeptSandboxHoldsTheRehearsedMigrations) {
  ApplyShop(10);
  json report = RehearseJson({"--keep-sandbox"}, 0, ShopDir());
  EXPECT_EQ(report["sandbox"]["kept"], true);
  ASSERT_TRUE(SandboxExists(report));
  std::string location = report["sandbox"]["location"];
  std::string url = pg() ? UrlWithDatabase(testing::PostgresTestUrl(),
                                                     location.substr(location.rfind('/') + 1))
                         : location;
  {
    auto sandbox = OpenDatabase(url);
    ASSERT_TRUE(sandbox.ok()) << sandbox.status().message();
    EXPECT_EQ(Scalar(**sandbox, "SELECT count(*) FROM strata_history"), 12);
    EXPECT_EQ(Scalar(**sandbox, "SELECT count(*) FROM customer_phones"), 2);
  }
  DropSandbox(report);
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM strata_history"), 10);
}

TEST_P(RehearseTest, IrreversibleMigrationIsRefusedUnlessAllowed) {
  Write("0001_items.up.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_purge.up.sql", "DELETE FROM items WHERE name IS NULL;\n");
  auto run = Strata({"rehearse"});
  EXPECT_EQ(run.exit_code, 5) << run.all();
  EXPECT_THAT(run.err, HasSubstr("0002_purge"));
  json report = RehearseJson({"--allow-irreversible"}, 0);
  const json& m = report["migrations"][0];
  EXPECT_EQ(m["result"], "pass");
  EXPECT_EQ(m["down_ms"], -1);
  EXPECT_EQ(m["injections"]["run"], 0);
  EXPECT_THAT(m["risks"].dump(), HasSubstr("irreversible"));
}

// A new type PostgreSQL converts without rewriting the table (a longer
// varchar, text) is no table rewrite: the sandbox kept the table's files
// (temporal's VARCHAR(255) to VARCHAR(1000) was tagged; hunt40 #1). One it
// rewrites still is.
TEST_P(RehearseTest, ATypeChangeIsTaggedARewriteOnlyWhenTheTableWasRewritten) {
  if (!pg()) GTEST_SKIP() << "SQLite cannot change a column's type";
  Write("0001_runs.up.sql", "CREATE TABLE runs (id INTEGER PRIMARY KEY, workflow VARCHAR(255) NOT NULL, n INTEGER);\n"
                            "INSERT INTO runs VALUES (1, 'wf-1', 1);\n");
  Write("0001_runs.down.sql", "DROP TABLE runs;\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_longer.up.sql", "ALTER TABLE runs ALTER COLUMN workflow TYPE VARCHAR(1000);\n");
  Write("0002_longer.down.sql", "ALTER TABLE runs ALTER COLUMN workflow TYPE VARCHAR(255);\n");
  Write("0003_bigger.up.sql", "ALTER TABLE runs ALTER COLUMN n TYPE bigint;\n");
  Write("0003_bigger.down.sql", "ALTER TABLE runs ALTER COLUMN n TYPE integer;\n");
  json report = RehearseJson({}, 0);
  ASSERT_EQ(report["migrations"].size(), 2u);
  EXPECT_THAT(report["migrations"][0]["risks"].dump(), Not(HasSubstr("table-rewrite")));
  EXPECT_THAT(report["migrations"][1]["risks"].dump(), HasSubstr("table-rewrite"));
}

// A change --allow-irreversible let run without its capture leaves the
// migration no way back, down script or not: its up alone is rehearsed
// (the rehearsal failed, exit 6, on the down that refused; hunt48 #3).
TEST_P(RehearseTest, AChangeRunWithoutItsCaptureRehearsesTheUpOnly) {
  if (!pg()) GTEST_SKIP() << "SQLite captures the rows of a table without a key by rowid";
  Write("0001_t.up.sql", "CREATE TABLE t (room TEXT NOT NULL, thread TEXT);\nINSERT INTO t VALUES ('r', NULL);\n");
  Write("0001_t.down.sql", "DROP TABLE t;\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_backfill.up.sql", "UPDATE t SET thread = 'main' WHERE thread IS NULL;\n");
  Write("0002_backfill.down.sql", "UPDATE t SET thread = NULL WHERE thread = 'main';\n");
  json report = RehearseJson({"--allow-irreversible"}, 0);
  const json& m = report["migrations"][0];
  EXPECT_EQ(m["result"], "pass") << m.dump(2);
  EXPECT_THAT(m["risks"].dump(), HasSubstr("a change ran without its capture"));
}

TEST_P(RehearseTest, NoTransactionMigrationIsTaggedAndNotInjected) {
  Write("0001_items.up.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n");
  ASSERT_EQ(Strata({"up"}).exit_code, 0);
  Write("0002_items_name.up.sql", pg() ? "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY items_name ON items (name);\n"
                                      : "-- strata:no-transaction\nCREATE INDEX items_name ON items (name);\n");
  json report = RehearseJson({}, 0);
  const json& m = report["migrations"][0];
  EXPECT_EQ(m["result"], "pass") << m.dump(2);
  EXPECT_EQ(m["injections"]["run"], 0);
  EXPECT_THAT(m["risks"].dump(), HasSubstr("no-transaction"));
  EXPECT_THAT(m["risks"].dump(), Not(HasSubstr("\"lock\"")));
}

TEST_P(RehearseTest, LibraryReportsProgressPerMigration) {
  ApplyShop(10);
  RehearseOptions options;
  options.database_url = target_->url();
  options.migrations_dir = ShopDir();
  std::vector<std::string> done;
  auto report = Rehearse(options, [&](const RehearsalEvent& e) {
    if (e.kind == RehearsalEvent::Kind::kMigrationDone) done.push_back(e.migration->id);
  });
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_TRUE(report->passed());
  EXPECT_EQ(done, (std::vector<std::string>{"0011_rename_customers_name", "0012_move_customer_phones"}));
  EXPECT_FALSE(report->sandbox_kept);
}

// pg_dump gets the password in its environment, never in its arguments, and
// the scratch database goes even when the copy fails.
TEST_P(RehearseTest, PgDumpSeesNoPasswordInItsArgumentsAndAFailedCopyIsDropped) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  std::string fake = dir_.path() + "/pg_dump";
  dir_.Write("pg_dump",
             "#!/bin/sh\n"
             "printf '%s\\n' \"$@\" > \"$(dirname \"$0\")/args\"\n"
             "printf '%s\\n' \"$PGPASSWORD\" > \"$(dirname \"$0\")/password\"\n"
             "echo $PPID > \"$(dirname \"$0\")/ppid\"\n"
             "echo 'pg_dump: error: something went wrong' >&2\n"
             "exit 1\n");
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  // The test server trusts every local user: the password is only carried.
  std::string url = target_->url();
  url.replace(url.find("postgres@"), 9, "postgres:Pw-s3cret@");
  auto run = RunStrata({"--database", url, "--dir", dir_.path() + "/migrations", "rehearse"}, dir_.path(),
                       {{"STRATA_PG_DUMP", fake}});
  EXPECT_EQ(run.exit_code, 4) << run.all();
  EXPECT_THAT(run.err, HasSubstr("pg_dump failed (exit code 1): pg_dump: error: something went wrong"));
  EXPECT_THAT(run.all(), Not(HasSubstr("Pw-s3cret")));
  auto read = [&](const std::string& name) {
    std::ifstream in(dir_.path() + "/" + name);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  EXPECT_THAT(read("args"), HasSubstr("--dbname="));
  EXPECT_THAT(read("args"), Not(HasSubstr("Pw-s3cret")));
  EXPECT_EQ(read("password"), "Pw-s3cret\n");
  std::string ppid = read("ppid");
  ASSERT_FALSE(ppid.empty());
  ppid.pop_back();
  auto admin = OpenDatabase(UrlWithDatabase(testing::PostgresTestUrl(), "postgres"));
  EXPECT_EQ(Scalar(**admin, "SELECT count(*) FROM pg_database WHERE datname LIKE 'strata_rehearse_" + ppid + "_%'"),
            0);
}

// A dump the sandbox refuses (an extension the role may not create, say)
// means the target could not be copied: exit 4, as the docs say, not 1,
// which claims a migration failed and was undone.
TEST_P(RehearseTest, CopyTheSandboxRefusesIsExitFour) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only";
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  std::string fake = dir_.path() + "/pg_dump";
  dir_.Write("pg_dump",
             "#!/bin/sh\n"
             "echo $PPID > \"$(dirname \"$0\")/ppid\"\n"
             "echo 'CREATE EXTENSION strata_no_such_extension;'\n");
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  auto run = RunStrata({"--database", target_->url(), "--dir", dir_.path() + "/migrations", "rehearse"},
                       dir_.path(), {{"STRATA_PG_DUMP", fake}});
  EXPECT_EQ(run.exit_code, 4) << run.all();
  EXPECT_THAT(run.err, HasSubstr("cannot copy the target into the sandbox"));
  EXPECT_THAT(run.err, HasSubstr("strata_no_such_extension"));
  std::ifstream in(dir_.path() + "/ppid");
  std::string ppid;
  in >> ppid;
  ASSERT_FALSE(ppid.empty());
  auto admin = OpenDatabase(UrlWithDatabase(testing::PostgresTestUrl(), "postgres"));
  EXPECT_EQ(Scalar(**admin, "SELECT count(*) FROM pg_database WHERE datname LIKE 'strata_rehearse_" + ppid + "_%'"),
            0);
}

// A rehearsal that stops on an error (here the down script ends the
// sandbox's connection) keeps the sandbox when asked, to look at what it
// stopped on, and says where; without --keep-sandbox it is dropped.
TEST_P(RehearseTest, SandboxIsKeptWhenTheRehearsalStopsOnAnError) {
  if (!pg()) GTEST_SKIP() << "PostgreSQL only: a script cannot end SQLite's connection";
  Write("0001_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
  Write("0001_a.down.sql", "DROP TABLE a;\nSELECT pg_terminate_backend(pg_backend_pid());\n");
  auto admin = OpenDatabase(UrlWithDatabase(testing::PostgresTestUrl(), "postgres"));
  ASSERT_TRUE(admin.ok());
  // The sandboxes of one strata process (named after its pid): other tests
  // running beside this one rehearse too.
  auto sandboxes_of = [&](int pid) {
    return Scalar(**admin, fmt::format("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                       "'strata\\_rehearse\\_{}\\_%'",
                                       pid));
  };

  auto dropped = Strata({"rehearse"});
  EXPECT_EQ(dropped.exit_code, 4) << dropped.all();
  EXPECT_THAT(dropped.err, HasSubstr("lost the connection"));
  EXPECT_THAT(dropped.err, Not(HasSubstr("is kept")));
  EXPECT_EQ(sandboxes_of(dropped.pid), 0);

  auto kept = Strata({"rehearse", "--keep-sandbox"});
  EXPECT_EQ(kept.exit_code, 4) << kept.all();
  const std::string marker = "(the sandbox is kept at ";
  size_t at = kept.err.find(marker);
  ASSERT_NE(at, std::string::npos) << kept.all();
  std::string location = kept.err.substr(at + marker.size());
  location = location.substr(0, location.find(')'));
  EXPECT_EQ(sandboxes_of(kept.pid), 1);
  json report = {{"sandbox", {{"location", location}}}};
  EXPECT_TRUE(SandboxExists(report));
  DropSandbox(report);
  // The target was only read.
  EXPECT_EQ(Scalar(*db_, "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename IN ('a', 'strata_history')"), 0);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, RehearseTest, ::testing::Values(Engine::kSqlite));
INSTANTIATE_TEST_SUITE_P(Postgres, RehearseTest, ::testing::Values(Engine::kPostgres));

// Bad input, without a database to rehearse.
TEST(RehearseCliTest, UnreachableServerIsExitFourWithoutThePassword) {
  TempDir dir;
  dir.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  auto run = RunStrata({"--database", "postgres://app:s3cret@127.0.0.1:1/shop?connect_timeout=2",
                        "--dir", dir.path() + "/migrations", "rehearse"},
                       dir.path());
  EXPECT_EQ(run.exit_code, 4) << run.all();
  EXPECT_THAT(run.all(), Not(HasSubstr("s3cret")));
  EXPECT_THAT(run.err, HasSubstr("127.0.0.1"));
}

// --seed-value only chooses the rows --seed generates: alone it changed
// nothing, and the rehearsal ran on the copy as it was.
TEST(RehearseCliTest, SeedValueWithoutSeedIsRefused) {
  TempDir dir;
  dir.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  auto run = RunStrata({"--database", "sqlite:" + dir.path() + "/app.db", "--dir",
                        dir.path() + "/migrations", "rehearse", "--seed-value", "7"},
                       dir.path());
  EXPECT_EQ(run.exit_code, 2) << run.all();
  EXPECT_THAT(run.err, HasSubstr("without --seed ROWS"));
  run = RunStrata({"--database", "sqlite:" + dir.path() + "/app.db", "--dir", dir.path() + "/migrations",
                   "rehearse", "--seed", "3", "--seed-value", "7"},
                  dir.path());
  EXPECT_EQ(run.exit_code, 0) << run.all();
  // No tables yet: said so, not "seeded 0 tables".
  EXPECT_THAT(run.out, HasSubstr("the copy has no tables yet")) << run.all();
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("seeded 0 tables"))) << run.all();
}

// A migrations directory that does not load is reported before the target
// is copied into a sandbox (for a large database, minutes of copying): here
// the copy would fail too (exit 4), and the directory's error comes first.
TEST(RehearseCliTest, ABrokenDirectoryStopsItBeforeTheCopy) {
  TempDir dir;
  dir.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  dir.Write("migrations/0001_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
  dir.Write("bad.db", "this is not a database, just text long enough to be read as a header....");
  auto run = RunStrata({"--database", "sqlite:" + dir.path() + "/bad.db", "--dir",
                        dir.path() + "/migrations", "rehearse"},
                       dir.path());
  EXPECT_EQ(run.exit_code, 2) << run.all();
  EXPECT_THAT(run.err, HasSubstr("duplicate version 1"));
}

// Before the first `up` there is no file: the rehearsal starts from an
// empty database, as `up` would, says so, and creates nothing.
TEST(RehearseCliTest, MissingSqliteFileIsRehearsedAsEmpty) {
  TempDir dir;
  dir.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  auto run = RunStrata({"--database", "sqlite:" + dir.path() + "/nope.db", "--dir",
                        dir.path() + "/migrations", "rehearse"},
                       dir.path());
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_THAT(run.out, HasSubstr("nope.db does not exist yet"));
  EXPECT_THAT(run.out, HasSubstr("rehearsal passed: 1 migration"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/nope.db"));
}

TEST(RehearseCliTest, UnreadableSqliteFileIsExitFour) {
  TempDir dir;
  dir.Write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
  dir.Write("bad.db", "this is not a database, just text long enough to be read as a header....");
  auto run = RunStrata({"--database", "sqlite:" + dir.path() + "/bad.db", "--dir",
                        dir.path() + "/migrations", "rehearse"},
                       dir.path());
  EXPECT_EQ(run.exit_code, 4) << run.all();
  EXPECT_THAT(run.err, HasSubstr("bad.db"));
}

}  // namespace
}  // namespace strata
