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

// COMMENT ON: part of the schema (pg_dump keeps them), so a down script
// that leaves a changed comment fails its check (hunt33 #2). A schema
// without comments reads as it did before they were read.
TEST_P(FingerprintTest, CommentsChangeItOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite has no comments";
  const std::string base =
      "CREATE TABLE t (a INTEGER, b TEXT);\nCREATE VIEW v AS SELECT a FROM t;\n"
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n";
  ExpectDiffer(base, base + "COMMENT ON TABLE t IS 'rows';", "comment 'rows'");
  ExpectDiffer(base + "COMMENT ON COLUMN t.b IS 'old';", base + "COMMENT ON COLUMN t.b IS 'new';",
               "comment on column b 'new'");
  ExpectDiffer(base, base + "COMMENT ON VIEW v IS 'x';", "view v");
  ExpectDiffer(base, base + "COMMENT ON COLUMN v.a IS 'x';", "comment on column a 'x'");
  ExpectDiffer(base, base + "COMMENT ON FUNCTION f() IS 'y';", "function f()");
  EXPECT_THAT(Schema(base).canonical_text, Not(HasSubstr("comment")));
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

// SQLite keeps these only in the CREATE TABLE text: a foreign key deferred
// to commit, what a constraint violation does (ON CONFLICT), and whether an
// INTEGER PRIMARY KEY is the rowid. A rebuild that loses one changes how the
// table behaves.
TEST_P(FingerprintTest, DeferrableForeignKeyChangesItOnSqlite) {
  if (pg()) GTEST_SKIP() << "pg_get_constraintdef says DEFERRABLE on PostgreSQL";
  std::string p = "CREATE TABLE p (id INTEGER PRIMARY KEY, k TEXT UNIQUE);";
  ExpectDiffer(p + "CREATE TABLE c (pid INTEGER REFERENCES p(id));",
               p + "CREATE TABLE c (pid INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);",
               "+  foreign key (pid) references p (id) on update no action on delete no action "
               "deferrable initially deferred");
  // Of several, the one deferred is named (SQLite lists them last first),
  // in a column or a table constraint, and after ALTER TABLE ADD COLUMN.
  std::string three = "CREATE TABLE c (a INTEGER REFERENCES p(id), b INTEGER REFERENCES p(id)";
  ExpectDiffer(p + three + ", k TEXT, FOREIGN KEY (k) REFERENCES p(k));",
               p + three + " DEFERRABLE INITIALLY DEFERRED, k TEXT, FOREIGN KEY (k) REFERENCES p(k));",
               "+  foreign key (b) references p (id) on update no action on delete no action "
               "deferrable initially deferred");
  ExpectDiffer(p + three + ", k TEXT, FOREIGN KEY (k) REFERENCES p(k));",
               p + three + ", k TEXT, FOREIGN KEY (k) REFERENCES p(k) DEFERRABLE INITIALLY DEFERRED);",
               "+  foreign key (k) references p (k) on update no action on delete no action "
               "deferrable initially deferred");
  SchemaFingerprint added = Schema(p + "CREATE TABLE c (a INTEGER REFERENCES p(id) DEFERRABLE "
                                       "INITIALLY DEFERRED); ALTER TABLE c ADD COLUMN b INTEGER "
                                       "REFERENCES p(id);");
  EXPECT_THAT(added.canonical_text,
              HasSubstr("foreign key (a) references p (id) on update no action on delete no action "
                        "deferrable initially deferred\n"));
  EXPECT_THAT(added.canonical_text,
              HasSubstr("foreign key (b) references p (id) on update no action on delete no action\n"));
  // Every other spelling is immediate, as without one.
  SchemaFingerprint immediate = Schema(p + "CREATE TABLE c (pid INTEGER REFERENCES p(id));");
  for (const char* clause : {"DEFERRABLE", "DEFERRABLE INITIALLY IMMEDIATE",
                             "NOT DEFERRABLE INITIALLY DEFERRED", "NOT DEFERRABLE"}) {
    EXPECT_EQ(Schema(p + "CREATE TABLE c (pid INTEGER REFERENCES p(id) " + clause + ");").hash,
              immediate.hash)
        << clause;
  }
}

TEST_P(FingerprintTest, OnConflictChangesItOnSqlite) {
  if (pg()) GTEST_SKIP() << "ON CONFLICT clauses of constraints are SQLite's";
  ExpectDiffer("CREATE TABLE t (a TEXT NOT NULL);", "CREATE TABLE t (a TEXT NOT NULL ON CONFLICT IGNORE);",
               "+  column a text not null on conflict ignore");
  ExpectDiffer("CREATE TABLE t (a TEXT UNIQUE);", "CREATE TABLE t (a TEXT UNIQUE ON CONFLICT REPLACE);",
               "+  unique (a) on conflict replace");
  ExpectDiffer("CREATE TABLE t (a TEXT, b TEXT, UNIQUE (a, b));",
               "CREATE TABLE t (a TEXT, b TEXT, CONSTRAINT ab UNIQUE (A COLLATE nocase, b DESC) "
               "ON CONFLICT FAIL);",
               "on conflict fail");
  ExpectDiffer("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);",
               "CREATE TABLE t (id INTEGER PRIMARY KEY ON CONFLICT REPLACE, a TEXT);",
               "+  column id integer primary key #1 on conflict replace");
  ExpectDiffer("CREATE TABLE t (a TEXT, b TEXT, PRIMARY KEY (a, b));",
               "CREATE TABLE t (a TEXT, b TEXT, PRIMARY KEY (a, b) ON CONFLICT ROLLBACK);",
               "+  column b text primary key #2 on conflict rollback");
  // ABORT is what no clause means.
  EXPECT_EQ(Schema("CREATE TABLE t (id INTEGER PRIMARY KEY ON CONFLICT ABORT, a TEXT NOT NULL ON "
                   "CONFLICT ABORT UNIQUE ON CONFLICT ABORT);")
                .hash,
            Schema("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT NOT NULL UNIQUE);").hash);
}

TEST_P(FingerprintTest, IntegerPrimaryKeyDescIsNotARowidAliasOnSqlite) {
  if (pg()) GTEST_SKIP() << "rowid aliases are SQLite's";
  ExpectDiffer("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);",
               "CREATE TABLE t (id INTEGER PRIMARY KEY DESC, a TEXT);",
               "+  column id integer primary key #1 desc (not a rowid alias)");
  // Written as a table constraint, DESC keeps it the rowid.
  EXPECT_EQ(Schema("CREATE TABLE t (id INTEGER, a TEXT, PRIMARY KEY (id DESC));").hash,
            Schema("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);").hash);
}

// PostgreSQL: row-level security, its policies, rules, and whether triggers
// (the user's, and the internal ones that enforce foreign keys) fire.
TEST_P(FingerprintTest, RowLevelSecurityAndPoliciesChangeItOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite has no row-level security";
  std::string t = "CREATE TABLE t (id int PRIMARY KEY, owner text, n int);";
  ExpectDiffer(t, t + "ALTER TABLE t ENABLE ROW LEVEL SECURITY;", "+  row level security enabled");
  ExpectDiffer(t + "ALTER TABLE t ENABLE ROW LEVEL SECURITY;",
               t + "ALTER TABLE t ENABLE ROW LEVEL SECURITY; ALTER TABLE t FORCE ROW LEVEL SECURITY;",
               "+  row level security forced");
  std::string rls = t + "ALTER TABLE t ENABLE ROW LEVEL SECURITY;";
  ExpectDiffer(rls, rls + "CREATE POLICY \"Own rows\" ON t USING (owner = current_user);",
               "+ policy \"own rows\" on t\n+   as permissive for all to public\n"
               "+   using (owner = current_user)");
  ExpectDiffer(rls + "CREATE POLICY p ON t FOR SELECT USING (owner = current_user);",
               rls + "CREATE POLICY p ON t FOR SELECT USING (owner = session_user);", "~ policy p on t");
  ExpectDiffer(rls + "CREATE POLICY p ON t FOR SELECT USING (true);",
               rls + "CREATE POLICY p ON t FOR UPDATE USING (true);", "for update");
  ExpectDiffer(rls + "CREATE POLICY p ON t FOR INSERT WITH CHECK (n > 0);",
               rls + "CREATE POLICY p ON t AS RESTRICTIVE FOR INSERT WITH CHECK (n > 0);",
               "as restrictive for insert");
  ExpectDiffer(rls + "CREATE POLICY p ON t USING (true);",
               rls + "CREATE POLICY p ON t USING (true) WITH CHECK (n > 0);", "+  with check (n > 0)");
  ExpectDiffer(rls + "CREATE POLICY p ON t TO public USING (true);",
               rls + "CREATE POLICY p ON t TO pg_monitor, pg_read_all_data USING (true);",
               "to pg_monitor, pg_read_all_data");
  // Roles are a set: written in any order, the same policy.
  EXPECT_EQ(Schema(rls + "CREATE POLICY p ON t TO pg_read_all_data, pg_monitor USING (true);").hash,
            Schema(rls + "CREATE POLICY p ON t TO pg_monitor, pg_read_all_data USING (true);").hash);
}

TEST_P(FingerprintTest, RulesChangeItOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite has no rules";
  std::string t = "CREATE TABLE t (id int PRIMARY KEY, n int); CREATE VIEW v AS SELECT id, n FROM t;";
  std::string rule = "CREATE RULE t_keep AS ON DELETE TO t DO INSTEAD NOTHING;";
  ExpectDiffer(t, t + rule, "+ rule t_keep on t\n+   create rule t_keep as\n+       on delete to t do instead nothing;");
  ExpectDiffer(t + rule, t + rule + "ALTER TABLE t DISABLE RULE t_keep;", "+  disabled");
  ExpectDiffer(t, t + "CREATE RULE v_add AS ON INSERT TO v DO INSTEAD INSERT INTO t VALUES (NEW.id, NEW.n);",
               "+ rule v_add on v");
}

TEST_P(FingerprintTest, TriggerEnablementChangesItOnPostgres) {
  if (!pg()) GTEST_SKIP() << "SQLite triggers cannot be disabled";
  std::string t =
      "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE orders (id int PRIMARY KEY,"
      " user_id int CONSTRAINT orders_user_fk REFERENCES users (id));"
      "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;"
      "CREATE TRIGGER tr BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION f();";
  ExpectDiffer(t, t + "ALTER TABLE users DISABLE TRIGGER tr;", "~ trigger tr on users");
  ExpectDiffer(t, t + "ALTER TABLE users DISABLE TRIGGER USER;", "+  disabled");
  ExpectDiffer(t, t + "ALTER TABLE users ENABLE REPLICA TRIGGER tr;", "+  enabled replica");
  ExpectDiffer(t, t + "ALTER TABLE users ENABLE ALWAYS TRIGGER tr;", "+  enabled always");
  // DISABLE TRIGGER ALL also stops the foreign key's checks: said on the
  // table whose triggers they are, by the constraint's name.
  ExpectDiffer(t, t + "ALTER TABLE orders DISABLE TRIGGER ALL;",
               "+  constraint orders_user_fk: triggers on insert, update disabled (not enforced)");
  ExpectDiffer(t, t + "ALTER TABLE users DISABLE TRIGGER ALL;",
               "+  constraint orders_user_fk of orders: triggers on delete, update disabled (not enforced)");
  // Enabled again, as it was.
  EXPECT_EQ(Schema(t + "ALTER TABLE orders DISABLE TRIGGER ALL; ALTER TABLE orders ENABLE TRIGGER ALL;"
                       "ALTER TABLE users DISABLE TRIGGER tr; ALTER TABLE users ENABLE TRIGGER tr;")
                .canonical_text,
            Schema(t).canonical_text);
}

// History keeps the schema hashes earlier versions computed: a schema using
// none of the attributes the fingerprint learned later (SQLite: deferred
// foreign keys, ON CONFLICT, INTEGER PRIMARY KEY DESC; PostgreSQL:
// row-level security, policies, rules, trigger enablement) must hash exactly
// as it did, or every such database shows drift after an upgrade. The hashes
// were computed by the code before those attributes (PostgreSQL 15; the
// deparsed text these constructs print has not changed since 12). The
// schemas spell the defaults explicitly where they can.
TEST_P(FingerprintTest, SchemaWithoutTheLaterAttributesHashesAsBefore) {
  std::string sql =
      pg() ? ShopPostgres() +
                 "CREATE TABLE order_lines (order_id integer REFERENCES orders (id)"
                 "  DEFERRABLE INITIALLY DEFERRED, n integer NOT NULL, UNIQUE (order_id, n) DEFERRABLE);\n"
                 "ALTER TABLE order_lines DISABLE ROW LEVEL SECURITY;\n"
                 "ALTER TABLE order_lines NO FORCE ROW LEVEL SECURITY;\n"
                 "ALTER TABLE orders DISABLE TRIGGER ALL;\n"
                 "ALTER TABLE orders ENABLE TRIGGER ALL;\n"
                 "CREATE TRIGGER order_lines_touch BEFORE UPDATE ON order_lines FOR EACH ROW"
                 "  EXECUTE FUNCTION touch();\n"
                 "ALTER TABLE order_lines DISABLE TRIGGER order_lines_touch;\n"
                 "ALTER TABLE order_lines ENABLE TRIGGER order_lines_touch;\n"
           : ShopSqlite() +
                 "CREATE TABLE tags (id INTEGER, label TEXT NOT NULL ON CONFLICT ABORT,"
                 "  PRIMARY KEY (id DESC), UNIQUE (label) ON CONFLICT ABORT);\n"
                 "CREATE TABLE order_tags (order_id INTEGER NOT NULL REFERENCES orders (id)"
                 "  DEFERRABLE INITIALLY IMMEDIATE,\n"
                 "  tag_id INTEGER REFERENCES tags NOT DEFERRABLE INITIALLY DEFERRED,"
                 "  code TEXT PRIMARY KEY DESC,\n"
                 "  FOREIGN KEY (order_id, tag_id) REFERENCES order_tags (order_id, tag_id) DEFERRABLE,\n"
                 "  UNIQUE (order_id, tag_id)) WITHOUT ROWID;\n";
  SchemaFingerprint fp = Schema(sql);
  EXPECT_EQ(fp.hash, pg() ? "273d27981a77a639bcece8b7b2eae822e643f213b3e82564d668daae0f745a35"
                          : "584a030221913591cbd4f091a100af5d776fbfca8cfe2b4f756e08c6708d8154")
      << fp.canonical_text;
  SchemaFingerprint shop = Schema(pg() ? ShopPostgres() : ShopSqlite());
  EXPECT_EQ(shop.hash, pg() ? "dbf1cdd273ae5828aaad7c57aa46338051e9a093849b6ec8891342dccc8e1047"
                            : "509d68f7eef2896e7547b4a4dff46510bcff4881ddd5055d2113ed3800d156a6")
      << shop.canonical_text;
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

// What a DBA reads from `strata diff` when only these differ.
TEST_P(FingerprintTest, CliDiffNamesConstraintBehaviourAndExits6) {
  TestDatabase a(GetParam()), b(GetParam());
  std::string schema = pg() ? "CREATE TABLE users (id int PRIMARY KEY, owner text);"
                              "CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users (id));"
                            : "CREATE TABLE users (id INTEGER PRIMARY KEY, owner TEXT);";
  ASSERT_TRUE(a.Connect()->Exec(schema).ok());
  ASSERT_TRUE(b.Connect()
                  ->Exec(pg() ? schema + "ALTER TABLE users ENABLE ROW LEVEL SECURITY;"
                                         "CREATE POLICY mine ON users USING (owner = current_user);"
                                         "CREATE RULE keep AS ON DELETE TO users DO INSTEAD NOTHING;"
                                         "ALTER TABLE orders DISABLE TRIGGER ALL;"
                              : "CREATE TABLE users (id INTEGER PRIMARY KEY DESC, owner TEXT NOT NULL "
                                "ON CONFLICT IGNORE);"
                                "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER "
                                "REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED);")
                  .ok());
  if (!pg()) {
    ASSERT_TRUE(a.Connect()
                    ->Exec("DROP TABLE users; CREATE TABLE users (id INTEGER PRIMARY KEY, owner TEXT NOT NULL);"
                           "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));")
                    .ok());
  }
  auto differ = RunStrata({"diff", a.url(), b.url()});
  EXPECT_EQ(differ.exit_code, cli::kExitVerifyFailed) << differ.all();
  EXPECT_THAT(differ.out, HasSubstr("schemas differ"));
  if (pg()) {
    EXPECT_THAT(differ.out, HasSubstr("~ table users"));
    EXPECT_THAT(differ.out, HasSubstr("+  row level security enabled"));
    EXPECT_THAT(differ.out, HasSubstr("+ policy mine on users\n+   as permissive for all to public\n"));
    EXPECT_THAT(differ.out, HasSubstr("+ rule keep on users\n"));
    EXPECT_THAT(differ.out, HasSubstr("~ table orders"));
    EXPECT_THAT(differ.out, HasSubstr("+  constraint orders_user_id_fkey: triggers on insert, update "
                                      "disabled (not enforced)"));
  } else {
    EXPECT_THAT(differ.out, HasSubstr("+  column id INTEGER primary key #1 desc (not a rowid alias)"));
    EXPECT_THAT(differ.out, HasSubstr("+  column owner TEXT not null on conflict ignore"));
    EXPECT_THAT(differ.out, HasSubstr("deferrable initially deferred"));
  }
  auto same = RunStrata({"diff", a.url(), a.url()});
  EXPECT_EQ(same.exit_code, 0) << same.all();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, FingerprintTest, ::testing::Values(Engine::kSqlite));
INSTANTIATE_TEST_SUITE_P(Postgres, FingerprintTest, ::testing::Values(Engine::kPostgres));

}  // namespace
}  // namespace strata
