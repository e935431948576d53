// Schema and data fingerprints against real SQLite and PostgreSQL databases:
// equal schemas built differently hash equal, each kind of real difference
// changes the hash, and data hashes ignore row order but no value.
#include "safety/fingerprint.h"

#include <set>

#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "testutil/harness.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunStrata;
using testing::TestDatabase;

class FingerprintTest : public testing::EngineTest {
 protected:
  /// A fresh database of this engine after `sql`, kept alive by the fixture.
  Database& Fresh(const std::string& sql) {
    extra_.push_back(std::make_unique<TestDatabase>(GetParam()));
    connections_.push_back(extra_.back()->Connect());
    Database& db = *connections_.back();
    Status s = db.Exec(sql);
    EXPECT_TRUE(s.ok()) << s.message() << "\n" << sql;
    return db;
  }

  SchemaFingerprint Schema(Database& db) {
    auto fp = FingerprintSchema(db);
    EXPECT_TRUE(fp.ok()) << fp.status().message();
    return fp.ok() ? *fp : SchemaFingerprint{};
  }
  SchemaFingerprint Schema(const std::string& sql) { return Schema(Fresh(sql)); }

  DataFingerprint Data(Database& db, const std::vector<std::string>& tables = {}) {
    auto fp = FingerprintData(db, tables);
    EXPECT_TRUE(fp.ok()) << fp.status().message();
    return fp.ok() ? *fp : DataFingerprint{};
  }
  DataFingerprint Data(const std::string& sql) { return Data(Fresh(sql)); }

  /// `a` and `b` differ; the diff, lower-cased, mentions `what`.
  void ExpectDiffer(const std::string& a, const std::string& b, const std::string& what) {
    SchemaFingerprint fa = Schema(a), fb = Schema(b);
    EXPECT_NE(fa.hash, fb.hash) << fa.canonical_text;
    std::string diff = DiffSchemas(fa, fb);
    for (char& c : diff) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_THAT(diff, HasSubstr(what)) << "a:\n" << fa.canonical_text << "b:\n" << fb.canonical_text;
  }

  std::vector<std::unique_ptr<TestDatabase>> extra_;
  std::vector<std::unique_ptr<Database>> connections_;
};

// The shop schema, written straight.
std::string ShopSqlite() {
  return "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, "
         "  name TEXT COLLATE NOCASE DEFAULT 'anon', CHECK (length(email) > 3));\n"
         "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
         "  customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,\n"
         "  total_cents INTEGER NOT NULL DEFAULT 0 CHECK (total_cents >= 0),\n"
         "  note TEXT);\n"
         "CREATE INDEX orders_customer ON orders(customer_id, total_cents DESC);\n"
         "CREATE UNIQUE INDEX orders_note ON orders(lower(note)) WHERE note IS NOT NULL;\n"
         "CREATE VIEW big_orders AS SELECT id, total_cents FROM orders WHERE total_cents > 1000;\n"
         "CREATE TRIGGER orders_touch AFTER UPDATE ON orders BEGIN "
         "  UPDATE customers SET name = name WHERE id = NEW.customer_id; END;\n";
}

// The same schema, built in another order, spelled and quoted differently,
// with columns added later and a table renamed into place.
std::string ShopSqliteOtherWay() {
  return "create table tmp_orders (\"id\" integer primary key autoincrement,\n"
         "  customer_id integer not null references customers ( id ) on delete cascade,\n"
         "  total_cents   integer not null default 0 check(total_cents>=0));\n"
         "alter table tmp_orders add column note text;\n"
         "create table [customers] (id integer primary key, email text not null unique, "
         "  check(length(email)>3));\n"
         "alter table customers add column name text collate nocase default 'anon';\n"
         "alter table tmp_orders rename to orders;\n"
         "create trigger orders_touch after update on orders begin "
         "  update customers set name = name where id = new.customer_id; end;\n"
         "create view big_orders as select id, total_cents from orders where total_cents > 1000;\n"
         "create unique index orders_note on orders (lower( note )) where note is not null;\n"
         "create index orders_customer on orders (customer_id, total_cents desc);\n";
}

std::string ShopPostgres() {
  return "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');\n"
         "CREATE DOMAIN cents AS bigint NOT NULL DEFAULT 0 CHECK (VALUE >= 0);\n"
         "CREATE SEQUENCE invoice_no START 1000 INCREMENT 5;\n"
         "CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE,\n"
         "  name varchar(80) DEFAULT 'anon', mood mood, CHECK (length(email) > 3));\n"
         "CREATE TABLE orders (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
         "  customer_id bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,\n"
         "  total cents, note text);\n"
         "CREATE INDEX orders_customer ON orders(customer_id, total DESC);\n"
         "CREATE UNIQUE INDEX orders_note ON orders(lower(note)) WHERE note IS NOT NULL;\n"
         "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 1000;\n"
         "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\n"
         "BEGIN\n  NEW.note := coalesce(NEW.note, '');\n\n  RETURN NEW;\nEND $$;\n"
         "CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();\n";
}

std::string ShopPostgresOtherWay() {
  return "create function touch() returns trigger language plpgsql as $$\n"
         "BEGIN\n  NEW.note := coalesce(NEW.note, '');\n\n  RETURN NEW;\nEND $$;\n"
         "create sequence invoice_no increment by 5 start with 1000;\n"
         "create type mood as enum ('sad', 'ok', 'happy');\n"
         "create table customers (id bigserial, email text not null, junk int,\n"
         "  name character varying(80) default 'anon');\n"
         "alter table customers drop column junk;\n"
         "alter table customers add column mood mood;\n"
         "alter table customers add primary key (id);\n"
         "alter table customers add constraint customers_email_key unique (email);\n"
         "alter table customers add constraint customers_email_check check (length(email) > 3);\n"
         "create domain cents as int8 default 0 not null check (value >= 0);\n"
         "create table orders (id int generated always as identity, customer_id int8 not null,\n"
         "  total cents, note text);\n"
         "alter table orders add primary key (id);\n"
         "create unique index orders_note on orders (lower(note)) where note is not null;\n"
         "create view big_orders as select id, total from orders where total > 1000;\n"
         "alter table orders add constraint orders_customer_id_fkey foreign key (customer_id)\n"
         "  references customers (id) on delete cascade;\n"
         "create trigger orders_touch before update on orders for each row execute procedure touch();\n"
         "create index orders_customer on orders (customer_id, total desc);\n";
}

TEST_P(FingerprintTest, SchemaStableAcrossBuildOrders) {
  SchemaFingerprint a = Schema(pg() ? ShopPostgres() : ShopSqlite());
  SchemaFingerprint b = Schema(pg() ? ShopPostgresOtherWay() : ShopSqliteOtherWay());
  EXPECT_EQ(a.canonical_text, b.canonical_text) << DiffSchemas(a, b);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(DiffSchemas(a, b), "");
  EXPECT_EQ(a.hash.size(), 64u);
  // Fingerprinting twice gives the same answer.
  EXPECT_EQ(Schema(*connections_.front()).hash, a.hash);
}

TEST_P(FingerprintTest, SchemaTextHasOneReadableBlockPerObject) {
  SchemaFingerprint fp = Schema(pg() ? ShopPostgres() : ShopSqlite());
  const std::string& text = fp.canonical_text;
  EXPECT_THAT(text, HasSubstr("table customers\n  column id "));
  EXPECT_THAT(text, HasSubstr("\n\nindex orders_customer\n"));
  EXPECT_THAT(text, HasSubstr("\n\nview big_orders\n"));
  EXPECT_THAT(text, HasSubstr("\n\ntrigger orders_touch"));
  EXPECT_LT(text.find("table customers"), text.find("table orders"));
  EXPECT_LT(text.find("table orders"), text.find("index orders_customer"));
  if (pg()) {
    EXPECT_THAT(text, HasSubstr("type mood\n  enum ('sad', 'ok', 'happy')\n"));
    EXPECT_THAT(text, HasSubstr("sequence invoice_no\n  bigint start 1000 increment 5"));
    EXPECT_THAT(text, HasSubstr("function touch()\n"));
    EXPECT_THAT(text, HasSubstr("ON DELETE CASCADE"));
    EXPECT_THAT(text, Not(HasSubstr("public.")));
  } else {
    EXPECT_THAT(text, HasSubstr("  column email TEXT not null\n"));
    EXPECT_THAT(text, HasSubstr("  column name TEXT default 'anon' collate nocase\n"));
    EXPECT_THAT(text, HasSubstr("  check (length(email) > 3)\n"));
    EXPECT_THAT(text, HasSubstr("  unique (email)\n"));
    EXPECT_THAT(text, HasSubstr("foreign key (customer_id) references customers (id) "
                                "on update no action on delete cascade"));
    EXPECT_THAT(text, HasSubstr("index orders_note\n  unique on orders (lower(note))\n"
                                "  where note is not null\n"));
  }
}

TEST_P(FingerprintTest, StrataTablesAreIgnored) {
  std::string base = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n";
  std::string with_strata = base +
      "CREATE TABLE strata_history (version INTEGER PRIMARY KEY, name TEXT UNIQUE);\n"
      "CREATE INDEX strata_history_name ON strata_history(name);\n"
      "INSERT INTO strata_history VALUES (1, 'x');\n";
  if (pg()) with_strata += "CREATE TABLE strata_log (id serial PRIMARY KEY);\n";
  Database& a = Fresh(base);
  Database& b = Fresh(with_strata);
  EXPECT_EQ(Schema(a).canonical_text, Schema(b).canonical_text);
  EXPECT_EQ(Data(a).hash, Data(b).hash);
  EXPECT_EQ(Data(b).tables.size(), 1u);
}

// One test per kind of schema difference.

TEST_P(FingerprintTest, ColumnTypeChangesIt) {
  ExpectDiffer("CREATE TABLE t (a INTEGER, b TEXT);", "CREATE TABLE t (a INTEGER, b REAL);",
               "column b");
}

TEST_P(FingerprintTest, NullabilityChangesIt) {
  ExpectDiffer("CREATE TABLE t (a INTEGER, b TEXT);", "CREATE TABLE t (a INTEGER, b TEXT NOT NULL);",
               "column b");
}

TEST_P(FingerprintTest, DefaultChangesIt) {
  ExpectDiffer("CREATE TABLE t (a INTEGER DEFAULT 1);", "CREATE TABLE t (a INTEGER DEFAULT 2);",
               "default 2");
}

TEST_P(FingerprintTest, ColumnOrderChangesIt) {
  ExpectDiffer("CREATE TABLE t (a INTEGER, b TEXT);", "CREATE TABLE t (b TEXT, a INTEGER);",
               "column a");
}

TEST_P(FingerprintTest, PrimaryKeyChangesIt) {
  ExpectDiffer("CREATE TABLE t (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b));",
               "CREATE TABLE t (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (b, a));",
               "~ table t");
  ExpectDiffer("CREATE TABLE t (a INTEGER NOT NULL, b INTEGER NOT NULL);",
               "CREATE TABLE t (a INTEGER NOT NULL PRIMARY KEY, b INTEGER NOT NULL);", "~ table t");
}

TEST_P(FingerprintTest, IndexAddedChangesIt) {
  ExpectDiffer("CREATE TABLE t (a INTEGER, b INTEGER);",
               "CREATE TABLE t (a INTEGER, b INTEGER); CREATE INDEX t_a ON t(a);", "+ index t_a");
}

TEST_P(FingerprintTest, IndexUniquenessChangesIt) {
  ExpectDiffer("CREATE TABLE t (a INTEGER); CREATE INDEX t_a ON t(a);",
               "CREATE TABLE t (a INTEGER); CREATE UNIQUE INDEX t_a ON t(a);", "~ index t_a");
}

TEST_P(FingerprintTest, IndexColumnsChangeIt) {
  std::string t = "CREATE TABLE t (a INTEGER, b INTEGER);";
  ExpectDiffer(t + "CREATE INDEX t_i ON t(a, b);", t + "CREATE INDEX t_i ON t(b, a);", "~ index t_i");
  ExpectDiffer(t + "CREATE INDEX t_i ON t(a);", t + "CREATE INDEX t_i ON t(a DESC);", "~ index t_i");
  ExpectDiffer(t + "CREATE INDEX t_i ON t(a);", t + "CREATE INDEX t_i ON t(a) WHERE b > 0;",
               "~ index t_i");
}

TEST_P(FingerprintTest, UniqueConstraintChangesIt) {
  ExpectDiffer("CREATE TABLE t (a INTEGER, b INTEGER);",
               "CREATE TABLE t (a INTEGER, b INTEGER, UNIQUE (a, b));", "unique");
}

TEST_P(FingerprintTest, ForeignKeyChangesIt) {
  std::string p = "CREATE TABLE p (id INTEGER PRIMARY KEY);";
  ExpectDiffer(p + "CREATE TABLE c (pid INTEGER);",
               p + "CREATE TABLE c (pid INTEGER REFERENCES p(id));", "references p");
  ExpectDiffer(p + "CREATE TABLE c (pid INTEGER REFERENCES p(id));",
               p + "CREATE TABLE c (pid INTEGER REFERENCES p(id) ON DELETE CASCADE);",
               "on delete cascade");
}

TEST_P(FingerprintTest, CheckChangesIt) {
  ExpectDiffer("CREATE TABLE t (a INTEGER CHECK (a > 0));", "CREATE TABLE t (a INTEGER CHECK (a > 1));",
               "1");
  ExpectDiffer("CREATE TABLE t (a INTEGER);", "CREATE TABLE t (a INTEGER CHECK (a > 0));", "~ table t");
}

TEST_P(FingerprintTest, ViewBodyChangesIt) {
  std::string t = "CREATE TABLE t (a INTEGER, b INTEGER);";
  ExpectDiffer(t + "CREATE VIEW v AS SELECT a FROM t;", t + "CREATE VIEW v AS SELECT a FROM t WHERE b > 0;",
               "~ view v");
}

TEST_P(FingerprintTest, TriggerChangesIt) {
  std::string t = "CREATE TABLE t (a INTEGER, b INTEGER);";
  std::string trigger = pg() ? "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS "
                               "$$ BEGIN RETURN NEW; END $$;"
                               "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();"
                             : "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;";
  ExpectDiffer(t, t + trigger, "+ trigger tr");
  std::string other = pg() ? "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN RETURN NEW; END $$;"
                             "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();"
                           : "CREATE TRIGGER tr AFTER UPDATE ON t BEGIN SELECT 1; END;";
  ExpectDiffer(t + trigger, t + other, "~ trigger tr");
}

TEST_P(FingerprintTest, SequenceChangesItOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite has no sequences";
  ExpectDiffer("CREATE SEQUENCE s START 1;", "CREATE SEQUENCE s START 10;", "~ sequence s");
  ExpectDiffer("CREATE SEQUENCE s;", "CREATE SEQUENCE s CYCLE;", "cycle");
}

TEST_P(FingerprintTest, EnumAndDomainChangeItOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite has no enums or domains";
  ExpectDiffer("CREATE TYPE m AS ENUM ('a', 'b');", "CREATE TYPE m AS ENUM ('b', 'a');", "~ type m");
  ExpectDiffer("CREATE TYPE m AS ENUM ('a', 'b');", "CREATE TYPE m AS ENUM ('a', 'b', 'c');", "'c'");
  ExpectDiffer("CREATE DOMAIN d AS int CHECK (VALUE > 0);", "CREATE DOMAIN d AS int CHECK (VALUE > 1);",
               "~ type d");
}

TEST_P(FingerprintTest, FunctionBodyChangesItOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite has no stored functions";
  ExpectDiffer("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
               "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2';", "~ function f()");
}

TEST_P(FingerprintTest, DroppedColumnLeavesNoTraceOnPostgres) {
  if (!pg()) GTEST_SKIP() << "attnum gaps are a PostgreSQL matter";
  SchemaFingerprint a = Schema("CREATE TABLE t (a int, b text);");
  SchemaFingerprint b = Schema("CREATE TABLE t (a int, x int, b text); ALTER TABLE t DROP COLUMN x;");
  EXPECT_EQ(a.canonical_text, b.canonical_text);
}

TEST_P(FingerprintTest, DiffNamesAddedRemovedAndChangedObjects) {
  SchemaFingerprint a = Schema("CREATE TABLE keep (a INTEGER, b TEXT); CREATE TABLE gone (x INTEGER);");
  SchemaFingerprint b = Schema("CREATE TABLE keep (a INTEGER, b INTEGER); CREATE TABLE fresh (y INTEGER);");
  std::string diff = DiffSchemas(a, b);
  EXPECT_THAT(diff, HasSubstr("- table gone\n"));
  EXPECT_THAT(diff, HasSubstr("+ table fresh\n"));
  EXPECT_THAT(diff, HasSubstr("~ table keep\n"));
  EXPECT_THAT(diff, HasSubstr("-  column b"));
  EXPECT_THAT(diff, HasSubstr("+  column b"));
  EXPECT_THAT(diff, Not(HasSubstr("-  column a")));
}

// Data fingerprints.

TEST_P(FingerprintTest, DataIgnoresRowOrder) {
  std::string t = "CREATE TABLE t (id INTEGER, v TEXT);\n";
  DataFingerprint a = Data(t + "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL);");
  DataFingerprint b = Data(t + "INSERT INTO t VALUES (3, NULL); INSERT INTO t VALUES (2, 'b'), (1, 'a');");
  ASSERT_EQ(a.tables.size(), 1u);
  EXPECT_EQ(a.tables[0].rows, 3);
  EXPECT_EQ(a.tables[0].hash.size(), 32u);
  EXPECT_EQ(a.tables, b.tables);
  EXPECT_EQ(a.hash, b.hash);
  // Delete and reinsert: other physical places, same data.
  Database& db = *connections_.front();
  ASSERT_TRUE(db.Exec("DELETE FROM t WHERE id = 1; INSERT INTO t VALUES (1, 'a');").ok());
  EXPECT_EQ(Data(db).hash, a.hash);
}

TEST_P(FingerprintTest, DataSeesEverySingleValueChange) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t (id INTEGER, v TEXT, n INTEGER)").ok());
  std::string rows;
  for (int i = 0; i < 500; ++i) rows += fmt::format("{}({}, 'v{}', {})", i ? ", " : "", i, i, i * 7);
  ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES " + rows).ok());
  std::string before = Data(*db_).hash;
  std::set<std::string> seen{before};
  for (std::string change : {"UPDATE t SET v = 'v2x' WHERE id = 250", "UPDATE t SET v = '' WHERE id = 250",
                             "UPDATE t SET v = NULL WHERE id = 250", "UPDATE t SET n = n + 1 WHERE id = 3",
                             "UPDATE t SET id = 500 WHERE id = 499"}) {
    ASSERT_TRUE(db_->Exec(change).ok());
    EXPECT_TRUE(seen.insert(Data(*db_).hash).second) << change;
  }
  ASSERT_TRUE(db_->Exec("UPDATE t SET v = 'v250' WHERE id = 250; UPDATE t SET n = 21 WHERE id = 3;"
                        "UPDATE t SET id = 499 WHERE id = 500")
                  .ok());
  EXPECT_EQ(Data(*db_).hash, before);
}

TEST_P(FingerprintTest, DataTellsNullEmptyZeroTextAndBlobApart) {
  std::set<std::string> seen;
  std::vector<std::string> variants;
  if (pg()) {
    // One cell changed at a time from (1, 1.5, 'a', '\x01').
    std::string t = "CREATE TABLE v (i int, r float8, t text, b bytea); INSERT INTO v VALUES ";
    for (std::string row : {"(1, 1.5, 'a', '\\x01')", "(NULL, 1.5, 'a', '\\x01')", "(0, 1.5, 'a', '\\x01')",
                            "(1, NULL, 'a', '\\x01')", "(1, 0, 'a', '\\x01')", "(1, 1.5, NULL, '\\x01')",
                            "(1, 1.5, '', '\\x01')", "(1, 1.5, '0', '\\x01')", "(1, 1.5, 'x', '\\x01')",
                            "(1, 1.5, 'a', NULL)", "(1, 1.5, 'a', '')", "(1, 1.5, 'a', '\\x78')"}) {
      variants.push_back(t + row);
    }
  } else {
    // An untyped column keeps each value's own type.
    for (std::string value : {"NULL", "''", "0", "'0'", "0.0", "'x'", "X'78'", "X''", "1", "1.0"}) {
      variants.push_back("CREATE TABLE v (x); INSERT INTO v VALUES (" + value + ")");
    }
  }
  for (const auto& sql : variants) EXPECT_TRUE(seen.insert(Data(sql).tables.at(0).hash).second) << sql;
}

TEST_P(FingerprintTest, DataKeepsCellBoundaries) {
  std::string t = "CREATE TABLE t (a TEXT, b TEXT); INSERT INTO t VALUES ";
  std::set<std::string> seen;
  for (std::string row : {"('ab', 'c')", "('a', 'bc')", "('abc', '')", "('', 'abc')", "('abc', NULL)"}) {
    EXPECT_TRUE(seen.insert(Data(t + row).hash).second) << row;
  }
}

TEST_P(FingerprintTest, DataCountsDuplicateRows) {
  std::string t = "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES ";
  DataFingerprint one = Data(t + "(1, 'x')");
  DataFingerprint two = Data(t + "(1, 'x'), (1, 'x')");
  DataFingerprint aab = Data(t + "(1, 'x'), (1, 'x'), (2, 'y')");
  DataFingerprint abb = Data(t + "(1, 'x'), (2, 'y'), (2, 'y')");
  EXPECT_EQ(two.tables.at(0).rows, 2);
  EXPECT_NE(one.hash, two.hash);
  EXPECT_NE(one.tables[0].hash, two.tables[0].hash);
  EXPECT_NE(aab.tables.at(0).hash, abb.tables.at(0).hash);
}

TEST_P(FingerprintTest, DataOfChosenTables) {
  Database& db = Fresh("CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER); CREATE TABLE c (z INTEGER);"
                       "INSERT INTO b VALUES (1), (2);");
  DataFingerprint all = Data(db);
  ASSERT_EQ(all.tables.size(), 3u);
  EXPECT_EQ(all.tables[1].table, "b");
  DataFingerprint some = Data(db, {"b"});
  ASSERT_EQ(some.tables.size(), 1u);
  EXPECT_EQ(some.tables[0], all.tables[1]);
  auto missing = FingerprintData(db, {"nope"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope"));
}

// The commands.

TEST_P(FingerprintTest, CliDiffShowsTheDifferingColumnAndExits6) {
  TestDatabase a(GetParam()), b(GetParam()), c(GetParam());
  ASSERT_TRUE(a.Connect()->Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)").ok());
  ASSERT_TRUE(b.Connect()->Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)").ok());
  ASSERT_TRUE(c.Connect()->Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)").ok());
  auto differ = RunStrata({"diff", a.url(), b.url()});
  EXPECT_EQ(differ.exit_code, cli::kExitVerifyFailed) << differ.all();
  EXPECT_THAT(differ.out, HasSubstr("schemas differ"));
  EXPECT_THAT(differ.out, HasSubstr("~ table users"));
  EXPECT_THAT(differ.out, HasSubstr("column email"));
  auto same = RunStrata({"diff", a.url(), c.url()});
  EXPECT_EQ(same.exit_code, 0) << same.all();
  EXPECT_THAT(same.out, HasSubstr("schemas are equal"));
  auto bad = RunStrata({"diff", a.url()});
  EXPECT_EQ(bad.exit_code, cli::kExitUsage);
}

TEST_P(FingerprintTest, CliFingerprintJson) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t (id INTEGER, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, NULL);"
                        "CREATE TABLE u (id INTEGER)")
                  .ok());
  auto run = RunStrata({"--database", target_->url(), "fingerprint", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  nlohmann::json out = nlohmann::json::parse(run.out);
  EXPECT_EQ(out["schema"]["hash"], Schema(*db_).hash);
  EXPECT_EQ(out["schema"]["text"], Schema(*db_).canonical_text);
  EXPECT_EQ(out["data"]["hash"], Data(*db_).hash);
  ASSERT_EQ(out["data"]["tables"].size(), 2u);
  EXPECT_EQ(out["data"]["tables"][0]["table"], "t");
  EXPECT_EQ(out["data"]["tables"][0]["rows"], 2);

  auto one = RunStrata({"--database", target_->url(), "fingerprint", "--data", "--json", "--table", "u"});
  ASSERT_EQ(one.exit_code, 0) << one.all();
  nlohmann::json j = nlohmann::json::parse(one.out);
  EXPECT_FALSE(j.contains("schema"));
  ASSERT_EQ(j["data"]["tables"].size(), 1u);
  EXPECT_EQ(j["data"]["tables"][0]["rows"], 0);

  auto text = RunStrata({"--database", target_->url(), "fingerprint", "--schema"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_EQ(text.out, Schema(*db_).canonical_text);
  auto plain = RunStrata({"--database", target_->url(), "fingerprint"});
  EXPECT_THAT(plain.out, HasSubstr("schema  " + Schema(*db_).hash));
  auto missing = RunStrata({"--database", target_->url(), "fingerprint", "--data", "--table", "nope"});
  EXPECT_EQ(missing.exit_code, cli::kExitUsage);
  EXPECT_THAT(missing.err, HasSubstr("nope"));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, FingerprintTest, ::testing::Values(Engine::kSqlite));
INSTANTIATE_TEST_SUITE_P(Postgres, FingerprintTest, ::testing::Values(Engine::kPostgres));

}  // namespace
}  // namespace strata
