#include "sql/classify.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sql/dialects.h"

using strata::sql::Classify;
using strata::sql::Dialect;
using strata::sql::StatementInfo;
using K = strata::sql::StatementKind;

namespace {

using Names = std::vector<std::string>;

}  // namespace

TEST(ClassifyTest, CreateTable) {
  StatementInfo info = Classify("CREATE TABLE users (id int PRIMARY KEY, email text)", kPg);
  EXPECT_EQ(K::kCreateTable, info.kind);
  EXPECT_EQ("", info.schema);
  EXPECT_EQ("users", info.object);
  EXPECT_EQ("users", info.table);
  EXPECT_FALSE(info.destructive);
  EXPECT_EQ("creates table users", info.summary);

  info = Classify("create table if not exists Public.\"Users\" (id int)", kPg);
  EXPECT_EQ(K::kCreateTable, info.kind);
  EXPECT_TRUE(info.if_not_exists);
  EXPECT_EQ("public", info.schema);
  EXPECT_EQ("Users", info.object);
  EXPECT_EQ(Names{"Users"}, info.quoted_names);
  EXPECT_EQ("creates table public.Users", info.summary);

  info = Classify("CREATE TEMP TABLE scratch AS SELECT 1 AS x", kPg);
  EXPECT_EQ(K::kCreateTable, info.kind);
  EXPECT_TRUE(info.temporary);
  EXPECT_EQ("creates temporary table scratch from a query", info.summary);

  // Generated columns use AS inside the parentheses: not a CREATE TABLE AS.
  info = Classify("CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED)", kPg);
  EXPECT_EQ("creates table t", info.summary);
}

// PostgreSQL's SELECT ... INTO makes a table, as CREATE TABLE AS does.
TEST(ClassifyTest, SelectIntoCreatesATable) {
  StatementInfo info = Classify("SELECT id, email INTO backup_users FROM users WHERE id < 10", kPg);
  EXPECT_EQ(info.kind, K::kCreateTable);
  EXPECT_EQ(info.object, "backup_users");
  EXPECT_TRUE(info.from_query);
  info = Classify("SELECT * INTO TEMP TABLE s.t FROM users", kPg);
  EXPECT_EQ(info.kind, K::kCreateTable);
  EXPECT_TRUE(info.temporary);
  EXPECT_EQ(info.schema, "s");
  EXPECT_EQ(info.object, "t");
  EXPECT_EQ(Classify("SELECT (SELECT 1) AS x", kPg).kind, K::kSelect);
}

TEST(ClassifyTest, SqliteNamesKeepTheirCase) {
  StatementInfo info = Classify("CREATE TABLE main.Users (id)", kLite);
  EXPECT_EQ("main", info.schema);
  EXPECT_EQ("Users", info.object);
  EXPECT_EQ("Users", Classify("CREATE TABLE [Users] (id)", kLite).object);
  EXPECT_EQ("Us`ers", Classify("CREATE TABLE `Us``ers` (id)", kLite).object);
  EXPECT_EQ("Users", Classify("CREATE TABLE 'Users' (id)", kLite).object);
  EXPECT_EQ("users", Classify("CREATE TABLE Users (id)", kPg).object);
  EXPECT_EQ("a\"b", Classify("CREATE TABLE \"a\"\"b\" (id)", kPg).object);
  EXPECT_EQ(K::kCreateTable, Classify("CREATE VIRTUAL TABLE docs USING fts5(body)", kLite).kind);
}

TEST(ClassifyTest, CreateIndex) {
  StatementInfo info = Classify("CREATE INDEX idx_users_email ON users (email)", kPg);
  EXPECT_EQ(K::kCreateIndex, info.kind);
  EXPECT_EQ("idx_users_email", info.object);
  EXPECT_EQ("users", info.table);
  EXPECT_EQ("creates index idx_users_email on users", info.summary);

  info = Classify("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY app.users (email)",
                  kPg);
  EXPECT_TRUE(info.concurrently);
  EXPECT_TRUE(info.if_not_exists);
  EXPECT_EQ("app", info.schema);
  EXPECT_EQ("i", info.object);
  EXPECT_EQ("users", info.table);
  EXPECT_EQ("creates unique index i on app.users", info.summary);

  info = Classify("CREATE INDEX ON users (email)", kPg);
  EXPECT_EQ("", info.object);
  EXPECT_EQ("creates an unnamed index on users", info.summary);

  info = Classify("CREATE UNIQUE INDEX IF NOT EXISTS main.i ON users(email)", kLite);
  EXPECT_EQ("main", info.schema);
  EXPECT_EQ("i", info.object);
  EXPECT_EQ("users", info.table);
}

TEST(ClassifyTest, CreateViewTriggerAndOthers) {
  StatementInfo info = Classify("CREATE OR REPLACE VIEW v AS SELECT 1", kPg);
  EXPECT_EQ(K::kCreateView, info.kind);
  EXPECT_TRUE(info.or_replace);
  EXPECT_EQ("creates view v", info.summary);

  info = Classify("CREATE MATERIALIZED VIEW s.mv AS SELECT 1", kPg);
  EXPECT_EQ(K::kCreateView, info.kind);
  EXPECT_TRUE(info.materialized);
  EXPECT_EQ("creates materialized view s.mv", info.summary);

  info = Classify(
      "CREATE TRIGGER trg AFTER UPDATE OF a, b ON s.t FOR EACH ROW EXECUTE FUNCTION f()", kPg);
  EXPECT_EQ(K::kCreateTrigger, info.kind);
  EXPECT_EQ("trg", info.object);
  EXPECT_EQ("t", info.table);
  EXPECT_EQ("s", info.schema);
  EXPECT_EQ("creates trigger trg on s.t", info.summary);

  info = Classify("CREATE TEMP TRIGGER IF NOT EXISTS trg BEFORE DELETE ON t BEGIN SELECT 1; END",
                  kLite);
  EXPECT_EQ(K::kCreateTrigger, info.kind);
  EXPECT_TRUE(info.temporary);
  EXPECT_TRUE(info.if_not_exists);
  EXPECT_EQ("t", info.table);

  EXPECT_EQ(K::kCreateSequence, Classify("CREATE SEQUENCE seq START 1", kPg).kind);
  EXPECT_EQ(K::kCreateType, Classify("CREATE TYPE mood AS ENUM ('sad', 'ok')", kPg).kind);
  EXPECT_EQ(K::kCreateExtension, Classify("CREATE EXTENSION IF NOT EXISTS pgcrypto", kPg).kind);
  info = Classify("CREATE SCHEMA billing", kPg);
  EXPECT_EQ(K::kCreateSchema, info.kind);
  EXPECT_EQ("billing", info.object);
  EXPECT_EQ("", info.schema);
  EXPECT_EQ("creates schema billing", info.summary);

  info = Classify("CREATE OR REPLACE FUNCTION app.f(a int) RETURNS int AS $$ SELECT a $$ "
                  "LANGUAGE sql",
                  kPg);
  EXPECT_EQ(K::kCreateFunction, info.kind);
  EXPECT_TRUE(info.or_replace);
  EXPECT_EQ("app", info.schema);
  EXPECT_EQ("f", info.object);
  EXPECT_EQ("creates function app.f", info.summary);
  EXPECT_EQ(K::kCreateFunction, Classify("CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1; END", kPg).kind);

  info = Classify("CREATE DOMAIN posint AS int CHECK (VALUE > 0)", kPg);
  EXPECT_EQ(K::kOther, info.kind);
  EXPECT_EQ("runs CREATE DOMAIN", info.summary);
}

TEST(ClassifyTest, Drops) {
  StatementInfo info = Classify("DROP TABLE IF EXISTS public.users, \"Orders\" CASCADE", kPg);
  EXPECT_EQ(K::kDropTable, info.kind);
  EXPECT_TRUE(info.if_exists);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("public", info.schema);
  EXPECT_EQ("users", info.object);
  EXPECT_EQ("users", info.table);
  ASSERT_EQ(2u, info.objects.size());
  EXPECT_EQ("Orders", info.objects[1].name);
  EXPECT_EQ("drops tables public.users, Orders", info.summary);

  info = Classify("DROP INDEX CONCURRENTLY IF EXISTS idx", kPg);
  EXPECT_EQ(K::kDropIndex, info.kind);
  EXPECT_TRUE(info.concurrently);
  EXPECT_FALSE(info.destructive);
  EXPECT_EQ("drops index idx", info.summary);

  EXPECT_EQ(K::kDropView, Classify("DROP VIEW v", kLite).kind);
  info = Classify("DROP MATERIALIZED VIEW mv", kPg);
  EXPECT_EQ(K::kDropView, info.kind);
  EXPECT_TRUE(info.materialized);

  info = Classify("DROP TRIGGER trg ON s.t", kPg);
  EXPECT_EQ(K::kDropTrigger, info.kind);
  EXPECT_EQ("trg", info.object);
  EXPECT_EQ("t", info.table);
  EXPECT_EQ("drops trigger trg on s.t", info.summary);

  info = Classify("DROP FUNCTION f(numeric(10, 2)), g(int)", kPg);
  EXPECT_EQ(K::kDropOther, info.kind);
  EXPECT_FALSE(info.destructive);
  EXPECT_EQ("drops functions f, g", info.summary);

  info = Classify("DROP TYPE mood CASCADE", kPg);  // cascades to columns of that type
  EXPECT_EQ(K::kDropOther, info.kind);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("drops type mood", info.summary);
}

TEST(ClassifyTest, AlterTableSingleActions) {
  StatementInfo info = Classify("ALTER TABLE users ADD COLUMN email text NOT NULL", kPg);
  EXPECT_EQ(K::kAddColumn, info.kind);
  EXPECT_EQ("users", info.table);
  EXPECT_EQ("email", info.column);
  EXPECT_EQ(Names{"email"}, info.columns);
  EXPECT_FALSE(info.destructive);
  EXPECT_EQ("adds column users.email", info.summary);

  info = Classify("ALTER TABLE users ADD age INTEGER", kLite);
  EXPECT_EQ(K::kAddColumn, info.kind);
  EXPECT_EQ("age", info.column);

  info = Classify("ALTER TABLE IF EXISTS ONLY app.users DROP COLUMN IF EXISTS email", kPg);
  EXPECT_EQ(K::kDropColumn, info.kind);
  EXPECT_TRUE(info.if_exists);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("app", info.schema);
  EXPECT_EQ("drops column app.users.email", info.summary);
  EXPECT_EQ(K::kDropColumn, Classify("ALTER TABLE users DROP email", kLite).kind);

  info = Classify("ALTER TABLE a RENAME TO b", kLite);
  EXPECT_EQ(K::kRenameTable, info.kind);
  EXPECT_EQ("a", info.table);
  EXPECT_EQ("b", info.new_name);
  EXPECT_EQ("renames table a to b", info.summary);

  info = Classify("ALTER TABLE t RENAME COLUMN \"Old\" TO new", kPg);
  EXPECT_EQ(K::kRenameColumn, info.kind);
  EXPECT_EQ("Old", info.column);
  EXPECT_EQ("new", info.new_name);
  EXPECT_EQ("renames column t.Old to new", info.summary);
  EXPECT_EQ(K::kRenameColumn, Classify("ALTER TABLE t RENAME a TO b", kLite).kind);

  info = Classify("ALTER TABLE t ALTER COLUMN n SET DATA TYPE bigint USING n::bigint", kPg);
  EXPECT_EQ(K::kAlterColumnType, info.kind);
  EXPECT_EQ("n", info.column);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("changes the type of column t.n", info.summary);
  ASSERT_EQ(1u, info.retyped.size());
  EXPECT_EQ("bigint", info.retyped[0].type);
  EXPECT_EQ("n::bigint", info.retyped[0].using_expr);
  EXPECT_EQ(K::kAlterColumnType, Classify("ALTER TABLE t ALTER n TYPE text", kPg).kind);
  // Each action's type as written, its collation and USING left out of it;
  // a retype among other kinds of action is listed too.
  info = Classify("ALTER TABLE t ALTER a TYPE numeric(10, 2), ALTER COLUMN b TYPE text COLLATE \"C\", "
                  "ADD COLUMN c int",
                  kPg);
  EXPECT_EQ(K::kAlterOther, info.kind);
  ASSERT_EQ(2u, info.retyped.size());
  EXPECT_EQ("a", info.retyped[0].column);
  EXPECT_EQ("numeric(10, 2)", info.retyped[0].type);
  EXPECT_EQ("", info.retyped[0].using_expr);
  EXPECT_EQ("b", info.retyped[1].column);
  EXPECT_EQ("text", info.retyped[1].type);

  info = Classify("ALTER TABLE t ADD CONSTRAINT c UNIQUE (a, b)", kPg);
  EXPECT_EQ(K::kAlterOther, info.kind);
  EXPECT_FALSE(info.destructive);
  EXPECT_EQ("alters table t", info.summary);
  EXPECT_EQ(K::kAlterOther, Classify("ALTER TABLE t ALTER COLUMN a SET DEFAULT 1", kPg).kind);
  EXPECT_EQ(K::kAlterOther, Classify("ALTER TABLE t DROP CONSTRAINT c", kPg).kind);
}

TEST(ClassifyTest, AlterTableSeveralActions) {
  StatementInfo info = Classify(
      "ALTER TABLE users ADD COLUMN a int DEFAULT f(1, 2), ADD b numeric(10, 2), "
      "ADD COLUMN IF NOT EXISTS \"C\" text",
      kPg);
  EXPECT_EQ(K::kAddColumn, info.kind);
  EXPECT_EQ((Names{"a", "b", "C"}), info.columns);
  EXPECT_TRUE(info.if_not_exists);
  EXPECT_EQ("adds columns users.a, users.b, users.C", info.summary);

  info = Classify("ALTER TABLE users ADD COLUMN a int, DROP COLUMN b", kPg);
  EXPECT_EQ(K::kDropColumn, info.kind);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("drops column users.b and adds column users.a", info.summary);

  info = Classify("ALTER TABLE users ADD COLUMN a int, ADD CONSTRAINT u UNIQUE (a)", kPg);
  EXPECT_EQ(K::kAlterOther, info.kind);
  EXPECT_FALSE(info.destructive);

  info = Classify("ALTER TABLE users DROP COLUMN a, DROP COLUMN b", kPg);
  EXPECT_EQ(K::kDropColumn, info.kind);
  EXPECT_EQ((Names{"a", "b"}), info.columns);
  EXPECT_EQ("drops columns users.a, users.b", info.summary);

  // Prisma's rename: a drop (captured) that adds a column too.
  info = Classify("ALTER TABLE \"EventType\" DROP COLUMN \"scAddress\",\nADD COLUMN \"smartContractAddress\" TEXT", kPg);
  EXPECT_EQ(K::kDropColumn, info.kind);
  EXPECT_EQ((Names{"scAddress"}), info.columns);
  ASSERT_EQ(1u, info.added.size());
  EXPECT_EQ("smartContractAddress", info.added[0].name);
  EXPECT_EQ("drops column EventType.scAddress and adds column EventType.smartContractAddress", info.summary);
  // With what changes no rows (constraints, defaults, NOT NULL): still a drop.
  info = Classify("ALTER TABLE \"User\" DROP COLUMN \"age\", ADD COLUMN \"birthday\" TIMESTAMP(3), "
                  "ALTER COLUMN \"email\" SET NOT NULL, ALTER COLUMN \"name\" DROP DEFAULT, "
                  "ADD CONSTRAINT c CHECK (true)", kPg);
  EXPECT_EQ(K::kDropColumn, info.kind);
  EXPECT_EQ((Names{"age"}), info.columns);
  EXPECT_EQ("drops column User.age and adds column User.birthday (and alters constraints or defaults of User)",
            info.summary);
  // With a type change or a cascading drop: not captured as one.
  EXPECT_EQ(K::kAlterOther, Classify("ALTER TABLE t DROP COLUMN a, ALTER COLUMN b TYPE int", kPg).kind);
  EXPECT_EQ(K::kAlterOther, Classify("ALTER TABLE t DROP COLUMN a, DROP CONSTRAINT c CASCADE", kPg).kind);
}

TEST(ClassifyTest, OtherAlters) {
  StatementInfo info = Classify("ALTER INDEX IF EXISTS i RENAME TO j", kPg);
  EXPECT_EQ(K::kAlterOther, info.kind);
  EXPECT_EQ("alters index i", info.summary);
}

TEST(ClassifyTest, DataModification) {
  StatementInfo info = Classify("INSERT INTO app.users (id) VALUES (1)", kPg);
  EXPECT_EQ(K::kInsert, info.kind);
  EXPECT_EQ("users", info.table);
  EXPECT_EQ("app", info.schema);
  EXPECT_FALSE(info.destructive);
  EXPECT_EQ("inserts into app.users", info.summary);

  info = Classify("INSERT OR REPLACE INTO t VALUES (1)", kLite);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("inserts or replaces rows in t", info.summary);
  EXPECT_TRUE(Classify("REPLACE INTO t VALUES (1)", kLite).destructive);
  info = Classify("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET n = 2", kPg);
  EXPECT_TRUE(info.destructive);
  EXPECT_FALSE(Classify("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", kPg).destructive);
  // MERGE rewrites rows like an upsert when a WHEN clause updates or deletes.
  info = Classify("MERGE INTO billing.customers AS c USING promo p ON c.email = p.email\n"
                  "WHEN MATCHED AND p.credits > 0 THEN UPDATE SET credits = c.credits + p.credits\n"
                  "WHEN NOT MATCHED THEN INSERT (email) VALUES (p.email)",
                  kPg);
  EXPECT_EQ(K::kInsert, info.kind);
  EXPECT_EQ("customers", info.table);
  EXPECT_EQ("billing", info.schema);
  EXPECT_EQ("c", info.alias);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("merges rows into billing.customers, updating or deleting some", info.summary);
  EXPECT_TRUE(Classify("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", kPg).destructive);
  info = Classify("MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id)", kPg);
  EXPECT_EQ("t", info.table);
  EXPECT_FALSE(info.destructive);

  info = Classify("UPDATE users u SET n = (SELECT 1 WHERE true) WHERE u.id = 1 -- x\n"
                  "  AND n > 2 RETURNING id",
                  kPg);
  EXPECT_EQ(K::kUpdate, info.kind);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("users", info.table);
  EXPECT_EQ("u", info.alias);
  EXPECT_EQ("u.id = 1 -- x\n  AND n > 2", info.where_clause);
  EXPECT_EQ("updates rows of users", info.summary);

  info = Classify("UPDATE OR IGNORE t SET n = 1", kLite);
  EXPECT_EQ("t", info.table);
  EXPECT_EQ("", info.alias);
  EXPECT_EQ("", info.where_clause);
  EXPECT_EQ("updates every row of t", info.summary);
  EXPECT_TRUE(info.own_conflict_clause);
  EXPECT_FALSE(info.deletes_colliding);
  EXPECT_FALSE(Classify("UPDATE t SET n = 1", kLite).own_conflict_clause);
  EXPECT_TRUE(Classify("REPLACE INTO t VALUES (1)", kLite).own_conflict_clause);
  EXPECT_TRUE(Classify("INSERT OR ABORT INTO t VALUES (1)", kLite).own_conflict_clause);
  EXPECT_FALSE(Classify("INSERT INTO t VALUES (1)", kLite).own_conflict_clause);

  info = Classify("DELETE FROM ONLY \"Logs\" AS l WHERE l.at < now()", kPg);
  EXPECT_EQ(K::kDelete, info.kind);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("Logs", info.table);
  EXPECT_EQ("l", info.alias);
  EXPECT_EQ("l.at < now()", info.where_clause);
  EXPECT_EQ("deletes rows of Logs", info.summary);

  info = Classify("DELETE FROM logs", kLite);
  EXPECT_EQ("", info.where_clause);
  EXPECT_EQ("deletes every row of logs", info.summary);

  info = Classify("TRUNCATE TABLE a, ONLY s.b RESTART IDENTITY", kPg);
  EXPECT_EQ(K::kTruncate, info.kind);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("a", info.table);
  ASSERT_EQ(2u, info.objects.size());
  EXPECT_EQ("s", info.objects[1].schema);
  EXPECT_EQ("truncates a, s.b", info.summary);
}

TEST(ClassifyTest, QueriesWithAndTransactions) {
  EXPECT_EQ(K::kSelect, Classify("SELECT 1", kPg).kind);
  StatementInfo info = Classify("WITH x AS (SELECT 1) SELECT * FROM x", kPg);
  EXPECT_EQ(K::kOther, info.kind);
  EXPECT_FALSE(info.destructive);
  info = Classify("WITH old AS (DELETE FROM t WHERE a RETURNING *) INSERT INTO u SELECT * "
                  "FROM old",
                  kPg);
  EXPECT_EQ(K::kOther, info.kind);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("runs a WITH statement that deletes or updates rows", info.summary);
  EXPECT_FALSE(Classify("WITH x AS (SELECT 1) SELECT * FROM x FOR UPDATE", kPg).destructive);
  EXPECT_EQ(info.writes, (Names{"t", "u"}));
  // An INSERT fed by read-only CTEs is that INSERT: an upsert among them is
  // captured like one without a WITH.
  info = Classify("WITH src AS (SELECT id FROM users WHERE active) INSERT INTO public.\"Audit\" "
                  "(user_id) SELECT id FROM src",
                  kPg);
  EXPECT_EQ(K::kInsert, info.kind);
  EXPECT_EQ("Audit", info.table);
  EXPECT_FALSE(info.destructive);
  info = Classify("WITH RECURSIVE n(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM n WHERE id < 3) "
                  "INSERT INTO t SELECT id FROM n ON CONFLICT (id) DO UPDATE SET id = excluded.id",
                  kPg);
  EXPECT_EQ(K::kInsert, info.kind);
  EXPECT_EQ("t", info.table);
  EXPECT_TRUE(info.destructive);
  info = Classify("WITH s AS (SELECT 1 AS id) MERGE INTO t USING s ON t.id = s.id "
                  "WHEN MATCHED THEN UPDATE SET id = s.id",
                  kPg);
  EXPECT_EQ(K::kInsert, info.kind);
  EXPECT_TRUE(info.destructive);
  info = Classify("WITH n(v) AS (VALUES (1)) INSERT OR REPLACE INTO Settings SELECT v FROM n", kLite);
  EXPECT_EQ(K::kInsert, info.kind);
  EXPECT_EQ("Settings", info.table);
  EXPECT_TRUE(info.destructive);
  EXPECT_FALSE(Classify("WITH n(v) AS (VALUES (1)) INSERT OR IGNORE INTO settings SELECT v FROM n",
                        kLite)
                   .destructive);
  // Otherwise the tables it writes are named, so their data is checked.
  info = Classify("WITH moved AS (UPDATE a SET x = 1 RETURNING id) INSERT INTO b SELECT id FROM moved",
                  kPg);
  EXPECT_EQ(K::kOther, info.kind);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ(info.writes, (Names{"a", "b"}));
  // A DELETE or UPDATE fed by read-only CTEs is that statement, with the
  // WITH kept for its WHERE clause.
  info = Classify("WITH gone AS (SELECT id FROM a) DELETE FROM ONLY s.b WHERE id IN (SELECT id FROM gone)",
                  kPg);
  EXPECT_EQ(K::kDelete, info.kind);
  EXPECT_TRUE(info.destructive);
  EXPECT_EQ("s", info.schema);
  EXPECT_EQ("b", info.table);
  EXPECT_EQ("WITH gone AS (SELECT id FROM a)", info.with_clause);
  EXPECT_EQ("id IN (SELECT id FROM gone)", info.where_clause);
  info = Classify("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
                  "UPDATE t AS x SET v = 0 WHERE x.id IN (SELECT n FROM r)",
                  kLite);
  EXPECT_EQ(K::kUpdate, info.kind);
  EXPECT_EQ("t", info.table);
  EXPECT_EQ("x", info.alias);
  EXPECT_EQ("x.id IN (SELECT n FROM r)", info.where_clause);
  EXPECT_TRUE(Classify("UPDATE t SET v = 0", kPg).with_clause.empty());
  EXPECT_TRUE(Classify("WITH x AS (SELECT 1) SELECT * FROM x FOR NO KEY UPDATE", kPg).writes.empty());

  for (const char* sql : {"BEGIN", "BEGIN TRANSACTION", "begin immediate", "COMMIT", "END",
                          "ROLLBACK", "START TRANSACTION", "SAVEPOINT a", "RELEASE a"}) {
    EXPECT_EQ(K::kTransactionControl, Classify(sql, kLite).kind) << sql;
  }
  EXPECT_EQ("COMMIT (transaction control)", Classify("commit", kPg).summary);

  info = Classify("PRAGMA foreign_keys = ON", kLite);
  EXPECT_EQ(K::kOther, info.kind);
  EXPECT_EQ("runs PRAGMA", info.summary);
  info = Classify("SELECT 'unterminated", kPg);
  EXPECT_EQ(K::kOther, info.kind);
  EXPECT_EQ("runs a statement that does not parse (1:8: unterminated single-quoted string)",
            info.summary);
}

TEST(ClassifyTest, RoutineBodiesInQuotesOrAtomicNameTheTablesTheyWrite) {
  EXPECT_EQ(Classify("CREATE PROCEDURE p() LANGUAGE sql AS 'UPDATE items SET n = ''x'''", kPg).writes,
            (Names{"items"}));
  EXPECT_EQ(Classify("CREATE FUNCTION f() RETURNS void LANGUAGE 'sql' AS 'DELETE FROM \"Logs\"'", kPg)
                .writes,
            (Names{"Logs"}));
  EXPECT_EQ(Classify("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO audit VALUES (1);"
                     " UPDATE t SET a = 1; END",
                     kPg)
                .writes,
            (Names{"audit", "t"}));
}

TEST(ClassifyTest, UnknownCommandsAreNamedAsPossibleTypos) {
  EXPECT_EQ("runs CREAT (not an SQL command Strata knows: a typo?)",
            Classify("creat index i on t (a)", kPg).summary);
  EXPECT_EQ("runs VACUUM", Classify("VACUUM", kLite).summary);
  EXPECT_EQ("runs GRANT", Classify("GRANT SELECT ON t TO app", kPg).summary);
}

TEST(ClassifyTest, ABodyRewritingATableNamedAtRunTimeSaysSo) {
  auto body = [](const std::string& plpgsql) {
    return Classify("DO $$ DECLARE q text; t text := 'x'; BEGIN " + plpgsql + " END $$", kPg);
  };
  for (const char* dynamic : {
           "EXECUTE format('DELETE FROM %I WHERE id = 1', t);",
           "EXECUTE format($q$UPDATE %I SET n = n - 1$q$, t);",
           "EXECUTE 'UPDATE ' || quote_ident(t) || ' SET n = 0';",
           "q := 'TRUNCATE ' || t; EXECUTE q;",
           "EXECUTE format('DROP TABLE IF EXISTS %I', t);",
           "EXECUTE format('INSERT INTO %I VALUES (1) ON CONFLICT (id) DO UPDATE SET n = 1', t);",
           "EXECUTE q;",  // built where Strata does not see
           "RETURN QUERY EXECUTE format('DELETE FROM %I RETURNING id', t);",
           "FOR r IN EXECUTE 'DELETE FROM ' || t || ' RETURNING id' LOOP NULL; END LOOP;",
       }) {
    EXPECT_TRUE(body(dynamic).dynamic_rewrites) << dynamic;
  }
  for (const char* named : {
           "EXECUTE format('CREATE TABLE IF NOT EXISTS %I (id int)', t);",
           "q := format('CREATE INDEX ON %I (id)', t); EXECUTE q;",
           "EXECUTE format('INSERT INTO %I VALUES (1)', t);",
           "EXECUTE format('ALTER TABLE %I ADD COLUMN n int', t);",
           "EXECUTE format('DELETE FROM accounts WHERE id = %s', 1);",
           "RAISE NOTICE 'UPDATE %', t;",
           "q = format('CREATE TABLE %I (id int)', t); EXECUTE q USING 1;",
           // Not dynamic SQL at all.
           "CREATE TRIGGER g AFTER DELETE ON x FOR EACH ROW EXECUTE FUNCTION f();",
           "GRANT EXECUTE ON FUNCTION f() TO app;",
           "FOR r IN EXECUTE 'SELECT * FROM x' LOOP NULL; END LOOP;",
       }) {
    EXPECT_FALSE(body(named).dynamic_rewrites) << named;
  }
  EXPECT_EQ(body("EXECUTE format('DELETE FROM accounts WHERE id = %s', 1);").rewrites,
            std::vector<std::string>{"accounts"});
  // A trigger's own table (a soft delete), unless the name is only a part.
  auto own = body("EXECUTE format('UPDATE %I.%I SET deleted_at = now() WHERE id = $1', "
                  "TG_TABLE_SCHEMA, TG_TABLE_NAME) USING OLD.id;");
  EXPECT_TRUE(own.rewrites_trigger_table);
  EXPECT_FALSE(own.dynamic_rewrites);
  for (const char* other : {
           "EXECUTE format('UPDATE %I_history SET n = 1', TG_TABLE_NAME);",
           "EXECUTE 'UPDATE ' || TG_TABLE_NAME || '_history SET n = 1';",
           "EXECUTE format('DELETE FROM %I', TG_ARGV[0]);",
       }) {
    EXPECT_TRUE(body(other).dynamic_rewrites) << other;
    EXPECT_FALSE(body(other).rewrites_trigger_table) << other;
  }
  // A variable declared with its statement.
  const auto declared =
      Classify("DO $$ DECLARE q text := 'DELETE FROM accounts WHERE id = 1'; BEGIN EXECUTE q; END $$", kPg);
  EXPECT_FALSE(declared.dynamic_rewrites);
  EXPECT_EQ(declared.rewrites, std::vector<std::string>{"accounts"});
  EXPECT_TRUE(Classify("DO $$ DECLARE t text := 'x'; q text DEFAULT 'UPDATE ' || t; BEGIN EXECUTE q; END $$",
                       kPg)
                  .dynamic_rewrites);
  const auto calls = Classify(
      "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "PERFORM dec_total(OLD.id, OLD.amount); RETURN OLD; END $$",
      kPg);
  EXPECT_NE(std::find(calls.calls.begin(), calls.calls.end(), "dec_total"), calls.calls.end());
  EXPECT_FALSE(calls.dynamic_rewrites);
}

TEST(ClassifyTest, AViewRenamedSaysItsNewName) {
  const auto view = Classify("ALTER VIEW IF EXISTS app.cheap RENAME TO bargains", kPg);
  EXPECT_EQ(view.kind, K::kAlterOther);
  EXPECT_EQ(view.object, "cheap");
  EXPECT_EQ(view.new_name, "bargains");
  EXPECT_FALSE(view.materialized);
  EXPECT_EQ(view.summary, "renames view app.cheap to bargains");
  const auto mat = Classify("ALTER MATERIALIZED VIEW totals RENAME TO sums", kPg);
  EXPECT_TRUE(mat.materialized);
  EXPECT_EQ(mat.object, "totals");
  EXPECT_EQ(mat.new_name, "sums");
  // Renaming a column of a view is not renaming the view.
  const auto column = Classify("ALTER VIEW cheap RENAME COLUMN a TO b", kPg);
  EXPECT_EQ(column.new_name, "");
  EXPECT_EQ(column.summary, "alters view cheap");
  EXPECT_EQ(Classify("ALTER SEQUENCE s RENAME TO t", kPg).new_name, "");
}

TEST(ClassifyTest, TriggerSaysItsEventsAndWhatItsBodyWrites) {
  auto info = Classify("CREATE TRIGGER items_gone AFTER DELETE OR UPDATE OF name ON items BEGIN "
                       "DELETE FROM tags WHERE item_id = OLD.id; INSERT INTO log VALUES (1); END",
                       Dialect::kSqlite);
  EXPECT_EQ(info.kind, K::kCreateTrigger);
  EXPECT_EQ(info.table, "items");
  EXPECT_EQ(info.trigger_events, 2u | 4u);
  EXPECT_EQ(info.trigger_rewrites, std::vector<std::string>{"tags"});  // log is only added to
  EXPECT_EQ(info.trigger_columns, std::vector<std::string>{"name"});
  EXPECT_TRUE(info.writes.empty());  // creating it writes nothing
  info = Classify("CREATE TRIGGER t BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION f()",
                  kPg);
  EXPECT_EQ(info.trigger_events, 1u);
  EXPECT_TRUE(info.trigger_rewrites.empty());
}

// hunt17 #10: a RAISE's message naming a statement made its table written.
TEST(ClassifyTest, ALiteralOutsideAnExecuteIsNotAStatement) {
  auto info = Classify("CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                       "RAISE DEBUG 'not doing DELETE FROM accounts here'; "
                       "EXECUTE 'UPDATE ledger SET n = 0'; RETURN NEW; END $$",
                       kPg);
  EXPECT_EQ(info.rewrites, std::vector<std::string>{"ledger"});
}

// hunt17 #8: refused, where the same query as CREATE TABLE AS is captured.
TEST(ClassifyTest, SelectIntoFedByAWritableCteIsCreateTableAs) {
  auto info = Classify("WITH moved AS (DELETE FROM users WHERE NOT active RETURNING *) "
                       "SELECT * INTO archived_users FROM moved",
                       kPg);
  EXPECT_EQ(K::kCreateTable, info.kind);
  EXPECT_EQ(info.table, "archived_users");
  EXPECT_FALSE(info.destructive);
  EXPECT_EQ(info.rewrites, std::vector<std::string>{"users"});
}

TEST(ClassifyTest, AWritableCteInParenthesesIsReadAsOne) {
  auto plain = Classify("WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d",
                        kPg);
  auto wrapped = Classify("(WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d)",
                          kPg);
  EXPECT_EQ(wrapped.kind, plain.kind);
  EXPECT_EQ(wrapped.destructive, plain.destructive);
  EXPECT_EQ(wrapped.summary, plain.summary);
}

TEST(ClassifyTest, CreateTableAsNamesWhatItsQuerysWritableCteWrites) {
  auto info = Classify("CREATE TABLE arch AS WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) "
                       "SELECT * FROM d",
                       kPg);
  EXPECT_EQ(K::kCreateTable, info.kind);
  EXPECT_EQ(info.writes, std::vector<std::string>{"t"});
  EXPECT_EQ(info.rewrites, std::vector<std::string>{"t"});
  info = Classify("CREATE TABLE arch AS SELECT * FROM t", Dialect::kSqlite);
  EXPECT_TRUE(info.writes.empty());
}

// A body's renames of tables (not of columns) are named, also those it
// EXECUTEs: Strata follows none of them, so the migration refuses what the
// body or a later statement then does to the rows under the new name (river's
// 005 drops it). A rename whose table is named at run time may be anything.
TEST(ClassifyTest, DoBlockNamesTheTablesItRenames) {
  using Renames = std::vector<std::pair<std::string, std::string>>;
  auto info = Classify("DO $$ BEGIN ALTER TABLE IF EXISTS jobs RENAME TO jobs_old; "
                       "CREATE TABLE jobs (id int); INSERT INTO jobs SELECT id FROM jobs_old; "
                       "EXECUTE 'DROP TABLE jobs_old'; END $$",
                       kPg);
  EXPECT_EQ(info.body_renames, (Renames{{"jobs_old", "jobs"}}));
  EXPECT_THAT(info.rewrites, ::testing::Contains("jobs_old"));
  info = Classify("DO $$ BEGIN ALTER TABLE queues RENAME name TO title; "
                  "ALTER TABLE queues RENAME COLUMN a TO b; END $$",
                  kPg);
  EXPECT_TRUE(info.body_renames.empty());
  EXPECT_TRUE(info.rewrites.empty());
  EXPECT_FALSE(info.dynamic_rewrites);
  // Its column renames are named apart; a constraint's is none.
  ASSERT_EQ(info.body_column_renames.size(), 2u);
  EXPECT_EQ(info.body_column_renames[0].table, "queues");
  EXPECT_EQ(info.body_column_renames[0].to, "title");
  EXPECT_EQ(info.body_column_renames[0].from, "name");
  EXPECT_EQ(info.body_column_renames[1].to, "b");
  EXPECT_TRUE(Classify("DO $$ BEGIN ALTER TABLE q RENAME CONSTRAINT c TO d; END $$", kPg)
                  .body_column_renames.empty());
  // format() of literals is read as what it gives (hunt54 #1); of anything
  // else, the names come at run time.
  info = Classify("DO $$ BEGIN EXECUTE format('ALTER TABLE %I RENAME TO %I', 'a', 'b'); "
                  "EXECUTE pg_catalog.format('ALTER TABLE %1$I RENAME COLUMN %2$I TO %3$s', 'T', 'x', 'y'); "
                  "EXECUTE format('DELETE FROM %I WHERE note = %L OR note LIKE ''50%%''', 'logs', 'it''s'); END $$",
                  kPg);
  EXPECT_FALSE(info.dynamic_rewrites);
  EXPECT_EQ(info.body_renames, (Renames{{"b", "a"}}));
  ASSERT_EQ(info.body_column_renames.size(), 1u);
  EXPECT_EQ(info.body_column_renames[0].table, "T");
  EXPECT_EQ(info.body_column_renames[0].from, "x");
  EXPECT_EQ(info.body_column_renames[0].to, "y");
  EXPECT_THAT(info.rewrites, ::testing::Contains("logs"));
  EXPECT_TRUE(Classify("DO $$ BEGIN EXECUTE format('ALTER TABLE %I RENAME TO %I', t, 'b'); END $$", kPg)
                  .dynamic_rewrites);
  EXPECT_TRUE(Classify("DO $$ BEGIN EXECUTE format('DELETE FROM %-10I', 'a'); END $$", kPg).dynamic_rewrites);
  EXPECT_TRUE(Classify("DO $$ BEGIN EXECUTE format('DELETE FROM %99999999999999999999$I', 'a'); END $$", kPg)
                  .dynamic_rewrites);
  EXPECT_TRUE(Classify("DO $$ BEGIN EXECUTE 'ALTER TABLE ' || quote_ident(n) || ' RENAME TO x'; END $$", kPg)
                  .dynamic_rewrites);
}

TEST(ClassifyTest, DoBlockNamesTheTablesItsBodyWrites) {
  StatementInfo info = Classify(
      "DO $do$\nDECLARE v text;\nBEGIN\n  SELECT value INTO v FROM systems;\n"
      "  IF v < '4.1' THEN\n    UPDATE Users SET AuthData = lower(AuthData);\n"
      "    DELETE FROM ONLY public.\"Sessions\" WHERE x;\n    INSERT INTO audit VALUES (1);\n"
      "    TRUNCATE TABLE tmp_a;\n    EXECUTE 'UPDATE hidden SET a = 1';\n  END IF;\nEND $do$",
      kPg);
  EXPECT_EQ(info.kind, K::kOther);
  // A statement EXECUTEd from a literal is read too.
  EXPECT_EQ(info.writes, (Names{"users", "Sessions", "audit", "tmp_a", "hidden"}));
  EXPECT_TRUE(Classify("SELECT 1", kPg).writes.empty());
  // DDL that removes or may change rows: its table is rewritten (captured
  // whole); DDL that keeps every value is not.
  info = Classify(
      "DO $$\nBEGIN\n  IF col_exist THEN\n    ALTER TABLE users DROP COLUMN themeprops;\n"
      "  END IF;\n  DROP TABLE IF EXISTS jobs, s.\"Old\";\n  ALTER TABLE ONLY t ALTER COLUMN a TYPE int;\n"
      "  ALTER TABLE IF EXISTS u DROP x;\n  ALTER TABLE k DROP CONSTRAINT k_pk, ALTER b DROP NOT NULL;\n"
      "  ALTER TABLE d ALTER COLUMN c DROP DEFAULT;\n  EXECUTE 'DROP TABLE e';\nEND $$",
      kPg);
  EXPECT_EQ(info.writes, (Names{"users", "jobs", "Old", "t", "u", "e"}));
  EXPECT_EQ(info.rewrites, info.writes);
}

// Statements that run DML of their own name the tables it writes, which
// are then captured whole; without ANALYZE an EXPLAIN runs nothing.
TEST(ClassifyTest, StatementsThatRunDmlOfTheirOwnNameItsTables) {
  const auto writes = [](const char* sql) { return Classify(sql, kPg).writes; };
  const auto rewrites = [](const char* sql) { return Classify(sql, kPg).rewrites; };
  EXPECT_EQ(rewrites("EXPLAIN ANALYZE DELETE FROM t WHERE id = 2"), Names{"t"});
  EXPECT_EQ(rewrites("EXPLAIN (ANALYZE, FORMAT JSON) UPDATE s.u SET a = 1"), Names{"u"});
  EXPECT_TRUE(writes("EXPLAIN DELETE FROM t").empty());
  EXPECT_EQ(rewrites("PREPARE d (int) AS DELETE FROM t WHERE id = $1"), Names{"t"});
  EXPECT_TRUE(writes("PREPARE q AS SELECT 1").empty());
  EXPECT_EQ(rewrites("COPY (DELETE FROM t WHERE old RETURNING *) TO '/tmp/archive.csv'"), Names{"t"});
  EXPECT_TRUE(writes("COPY t TO STDOUT").empty());
  StatementInfo copy = Classify("COPY public.t (a, b) FROM '/tmp/in.csv' WITH (FORMAT csv)", kPg);
  EXPECT_EQ(copy.writes, Names{"t"});
  EXPECT_TRUE(copy.rewrites.empty());
  EXPECT_EQ(rewrites("DO $$ BEGIN MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE; END $$"),
            Names{"t"});
  // A composite type's attribute dropped or retyped loses its values in
  // every column of the type: nothing Strata can capture.
  EXPECT_TRUE(Classify("ALTER TYPE address DROP ATTRIBUTE zip CASCADE", kPg).destructive);
  EXPECT_TRUE(Classify("ALTER TYPE address ALTER ATTRIBUTE zip TYPE int CASCADE", kPg).destructive);
  EXPECT_FALSE(Classify("ALTER TYPE address ADD ATTRIBUTE zip text CASCADE", kPg).destructive);
  EXPECT_FALSE(Classify("ALTER TYPE mood ADD VALUE 'meh'", kPg).destructive);
}

// Every ADD COLUMN of an ALTER TABLE is listed, among other actions too, with
// whether the rows already there get a value (DEFAULT NULL gives none).
TEST(ClassifyTest, AddedColumnsAndWhetherTheyFillExistingRows) {
  auto pg = Classify("ALTER TABLE t ADD COLUMN a text NULL, ADD CONSTRAINT u UNIQUE (b), "
                     "ADD COLUMN IF NOT EXISTS n int DEFAULT 0, ADD COLUMN d text DEFAULT (NULL)",
                     kPg);
  EXPECT_EQ(pg.kind, K::kAlterOther);
  ASSERT_EQ(pg.added.size(), 3u);
  EXPECT_EQ(pg.added[0].name, "a");
  EXPECT_FALSE(pg.added[0].fills);
  EXPECT_EQ(pg.added[1].name, "n");
  EXPECT_TRUE(pg.added[1].fills);
  EXPECT_TRUE(pg.added[1].if_not_exists);
  EXPECT_FALSE(pg.added[2].fills);
  auto lite = Classify("ALTER TABLE users ADD COLUMN phone VARCHAR(15) NULL DEFAULT NULL", Dialect::kSqlite);
  ASSERT_EQ(lite.added.size(), 1u);
  EXPECT_FALSE(lite.added[0].fills);
  EXPECT_TRUE(Classify("ALTER TABLE t ADD COLUMN id bigserial", kPg).added[0].fills);
  EXPECT_TRUE(Classify("ALTER TABLE t ADD COLUMN x INT AS (y + 1)", Dialect::kSqlite).added[0].fills);
  EXPECT_TRUE(Classify("ALTER TABLE t DROP COLUMN x", Dialect::kSqlite).added.empty());
}
