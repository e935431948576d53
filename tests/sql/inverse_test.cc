#include "sql/inverse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "sql/dialects.h"
#include "sql/splitter.h"

using ::testing::HasSubstr;
using strata::sql::DeriveInverse;
using strata::sql::Dialect;
using strata::sql::Inverse;
using strata::sql::SplitStatements;

namespace {

Inverse Derive(std::string_view up, Dialect dialect) {
  auto statements = SplitStatements(up, dialect);
  EXPECT_TRUE(statements.ok()) << statements.status().message();
  return statements.ok() ? DeriveInverse(*statements, dialect) : Inverse{};
}

// The down script, or "IRREVERSIBLE: <reason>".
std::string Down(std::string_view up, Dialect dialect) {
  Inverse inverse = Derive(up, dialect);
  if (!inverse.reversible) return "IRREVERSIBLE: " + inverse.reason;
  EXPECT_EQ("", inverse.reason);
  return inverse.down_script;
}

}  // namespace

TEST(InverseTest, EmptyScript) {
  Inverse inverse = Derive("-- nothing here\n", kPg);
  EXPECT_TRUE(inverse.reversible);
  EXPECT_EQ("", inverse.down_script);
}

TEST(InverseTest, CreatesAreDroppedInReverseOrder) {
  EXPECT_EQ(
      "DROP INDEX idx_users_email;\n"
      "DROP TABLE users;\n",
      Down("CREATE TABLE users (id int, email text);\n"
           "CREATE INDEX idx_users_email ON users (email);\n",
           kLite));
  // A temporary table is gone once the session that applied it ends: only
  // that session's copy is dropped, never a permanent table of its name.
  EXPECT_EQ("DROP TABLE nums;\nDROP TABLE IF EXISTS pg_temp.scratch;\n",
            Down("CREATE TEMP TABLE scratch AS SELECT 1 AS id;\n"
                 "INSERT INTO scratch VALUES (2);\n"
                 "CREATE TABLE nums AS SELECT id FROM scratch;\n",
                 kPg));
  EXPECT_EQ("DROP TABLE IF EXISTS temp.scratch;\n", Down("CREATE TEMPORARY TABLE scratch (a)", kLite));
  // Schema elements are not dropped by DROP SCHEMA.
  EXPECT_THAT(Down("CREATE SCHEMA reporting CREATE TABLE daily (d date) "
                   "CREATE VIEW latest AS SELECT * FROM daily",
                   kPg),
              HasSubstr("IRREVERSIBLE: line 1: creates schema reporting (it also creates"));
  EXPECT_EQ("DROP VIEW v;\n", Down("CREATE VIEW v AS SELECT 1", kLite));
  EXPECT_EQ("DROP MATERIALIZED VIEW app.mv;\n",
            Down("CREATE MATERIALIZED VIEW app.mv AS SELECT 1", kPg));
  EXPECT_EQ("DROP SEQUENCE app.seq;\n", Down("CREATE SEQUENCE app.seq", kPg));
  EXPECT_EQ("DROP SCHEMA billing;\n", Down("CREATE SCHEMA billing", kPg));
  EXPECT_EQ("DROP TYPE mood;\n", Down("CREATE TYPE mood AS ENUM ('sad', 'ok')", kPg));
  EXPECT_EQ("DROP EXTENSION pgcrypto;\n", Down("CREATE EXTENSION pgcrypto", kPg));
}

// Statements that leave nothing behind need no undoing: settings, a
// transaction's advisory lock, a SELECT that calls no function.
TEST(InverseTest, StatementsThatLeaveNothingBehind) {
  EXPECT_EQ("DROP TABLE jobs;\n",
            Down("SET LOCAL lock_timeout = '5s';\nSELECT pg_advisory_xact_lock(42);\n"
                 "SELECT 1;\nCREATE TABLE jobs (id int);\nRESET lock_timeout;\n",
                 kPg));
  EXPECT_EQ("DROP TABLE t;\n", Down("SELECT 'ready';\nCREATE TABLE t (id int);\n", kLite));
  // A function may change anything: no inverse.
  EXPECT_THAT(Down("SELECT setval('s', 10);\n", kPg), HasSubstr("IRREVERSIBLE"));
  EXPECT_THAT(Down("SELECT pg_advisory_xact_lock(1), f();\n", kPg), HasSubstr("IRREVERSIBLE"));
  // SELECT ... INTO makes a table, as CREATE TABLE AS does.
  EXPECT_EQ("DROP TABLE copy;\n", Down("SELECT * INTO copy FROM t;\n", kPg));
  EXPECT_THAT(Down("PRAGMA journal_mode = WAL;\n", kLite), HasSubstr("IRREVERSIBLE"));
}

TEST(InverseTest, Indexes) {
  EXPECT_EQ("DROP INDEX app.i;\n", Down("CREATE UNIQUE INDEX i ON app.users (email)", kPg));
  EXPECT_EQ("DROP INDEX CONCURRENTLY i;\n", Down("CREATE INDEX CONCURRENTLY i ON t (a)", kPg));
  EXPECT_EQ("DROP INDEX main.i;\n", Down("CREATE INDEX main.i ON t (a)", kLite));
  EXPECT_EQ("IRREVERSIBLE: line 1: creates an unnamed index on t (no name to drop it by)",
            Down("CREATE INDEX ON t (a)", kPg));
}

TEST(InverseTest, Triggers) {
  EXPECT_EQ("DROP TRIGGER trg ON app.t;\n",
            Down("CREATE TRIGGER trg BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION f()",
                 kPg));
  EXPECT_EQ("DROP TRIGGER trg;\n",
            Down("CREATE TRIGGER trg AFTER INSERT ON t BEGIN\n"
                 "  UPDATE c SET n = CASE WHEN new.a THEN 1 END;\nEND;",
                 kLite));
}

TEST(InverseTest, AddColumns) {
  EXPECT_EQ("ALTER TABLE users DROP COLUMN email;\n",
            Down("ALTER TABLE users ADD COLUMN email text", kLite));
  EXPECT_EQ(
      "ALTER TABLE app.users DROP COLUMN \"C\";\n"
      "ALTER TABLE app.users DROP COLUMN b;\n"
      "ALTER TABLE app.users DROP COLUMN a;\n",
      Down("ALTER TABLE app.users ADD COLUMN a int, ADD b text, ADD COLUMN \"C\" text", kPg));
  EXPECT_EQ("ALTER TABLE IF EXISTS t DROP COLUMN a;\n",
            Down("ALTER TABLE IF EXISTS t ADD COLUMN a int", kPg));
  EXPECT_EQ(
      "IRREVERSIBLE: line 1: adds column t.a (the column may have existed before)",
      Down("ALTER TABLE t ADD COLUMN IF NOT EXISTS a int", kPg));
}

TEST(InverseTest, Renames) {
  EXPECT_EQ("ALTER TABLE b RENAME TO a;\n", Down("ALTER TABLE a RENAME TO b", kLite));
  EXPECT_EQ("ALTER TABLE s.b RENAME TO a;\n", Down("ALTER TABLE s.a RENAME TO b", kPg));
  EXPECT_EQ("ALTER TABLE t RENAME COLUMN b TO a;\n",
            Down("ALTER TABLE t RENAME COLUMN a TO b", kPg));
  EXPECT_EQ("ALTER TABLE t RENAME COLUMN b TO a;\n", Down("ALTER TABLE t RENAME a TO b", kLite));
  EXPECT_EQ("IRREVERSIBLE: line 1: renames table a to b (the table may not have existed)",
            Down("ALTER TABLE IF EXISTS a RENAME TO b", kPg));
  // Steps undo each other in reverse: rename back first, then drop.
  EXPECT_EQ(
      "ALTER TABLE b RENAME TO a;\n"
      "DROP TABLE a;\n",
      Down("CREATE TABLE a (x int); ALTER TABLE a RENAME TO b;", kPg));
}

TEST(InverseTest, Quoting) {
  // Mixed case and keywords need quotes; names written quoted stay quoted.
  EXPECT_EQ("DROP TABLE \"Users\";\n", Down("CREATE TABLE \"Users\" (id int)", kPg));
  EXPECT_EQ("DROP TABLE users;\n", Down("CREATE TABLE Users (id int)", kPg));
  EXPECT_EQ("DROP TABLE Users;\n", Down("CREATE TABLE Users (id int)", kLite));
  EXPECT_EQ("DROP TABLE \"users\";\n", Down("CREATE TABLE \"users\" (id int)", kPg));
  EXPECT_EQ("DROP TABLE \"order\";\n", Down("CREATE TABLE \"order\" (id int)", kLite));
  EXPECT_EQ("DROP TABLE \"my table\";\n", Down("CREATE TABLE [my table] (id int)", kLite));
  EXPECT_EQ("DROP TABLE \"a\"\"b\";\n", Down("CREATE TABLE \"a\"\"b\" (id int)", kPg));
  EXPECT_EQ("ALTER TABLE t DROP COLUMN \"user\";\n",
            Down("ALTER TABLE t ADD COLUMN \"user\" text", kPg));
  EXPECT_EQ("DROP INDEX \"Sales\".\"Idx\";\n",
            Down("CREATE INDEX \"Idx\" ON \"Sales\".orders (a)", kPg));
}

TEST(InverseTest, IrreversibleStatementsNameTheirLine) {
  EXPECT_EQ(
      "IRREVERSIBLE: line 7: drops column users.email (no certain inverse)",
      Down("CREATE TABLE a (x int);\n\n\n\n\n\nALTER TABLE users DROP COLUMN email;", kPg));
  EXPECT_EQ("IRREVERSIBLE: line 1: creates view v (it may have replaced an existing object)",
            Down("CREATE OR REPLACE VIEW v AS SELECT 1", kPg));
  EXPECT_EQ("IRREVERSIBLE: line 1: creates table t (the object may have existed before)",
            Down("CREATE TABLE IF NOT EXISTS t (x int)", kLite));
  EXPECT_EQ("IRREVERSIBLE: line 1: creates extension pgcrypto (the object may have existed "
            "before)",
            Down("CREATE EXTENSION IF NOT EXISTS pgcrypto", kPg));
  EXPECT_EQ("IRREVERSIBLE: line 1: creates function f (it may have replaced an existing object)",
            Down("CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql", kPg));
  EXPECT_EQ("IRREVERSIBLE: line 2: drops table t (no certain inverse)",
            Down("CREATE TABLE u (x int);\nDROP TABLE t", kLite));
  // A SELECT may call functions with side effects (setval, create_hypertable).
  EXPECT_EQ("IRREVERSIBLE: line 1: runs a query (no certain inverse)",
            Down("SELECT setval('s', 10)", kPg));
  EXPECT_EQ("IRREVERSIBLE: line 1: changes the type of column t.a (no certain inverse)",
            Down("ALTER TABLE t ALTER COLUMN a TYPE bigint", kPg));
  EXPECT_EQ("IRREVERSIBLE: line 1: inserts into t (no certain inverse)",
            Down("INSERT INTO t VALUES (1)", kLite));
  EXPECT_EQ("IRREVERSIBLE: line 1: updates every row of t (no certain inverse)",
            Down("UPDATE t SET a = 1", kLite));
  EXPECT_EQ("IRREVERSIBLE: line 1: deletes rows of t (no certain inverse)",
            Down("DELETE FROM t WHERE a = 1", kPg));
  EXPECT_EQ("IRREVERSIBLE: line 1: truncates t (no certain inverse)", Down("TRUNCATE t", kPg));
  EXPECT_EQ("IRREVERSIBLE: line 1: runs PRAGMA (no certain inverse)",
            Down("PRAGMA foreign_keys = ON", kLite));
  EXPECT_EQ("IRREVERSIBLE: line 1: alters table t (no certain inverse)",
            Down("ALTER TABLE t ALTER COLUMN a SET NOT NULL", kPg));
  // A table rebuild: the PRAGMA before it has no inverse either, but the
  // DROP TABLE is what loses data and what the user needs to hear about.
  EXPECT_EQ("IRREVERSIBLE: line 3: drops table t (no certain inverse)",
            Down("PRAGMA foreign_keys = OFF;\nCREATE TABLE t_new (a int);\nDROP TABLE t;\n"
                 "ALTER TABLE t_new RENAME TO t;\nPRAGMA foreign_keys = ON;",
                 kLite));
}

// Rows written to a table the script creates need no inverse of their own:
// dropping the table takes them; the first real obstacle is named.
TEST(InverseTest, RowsOfATableCreatedInTheScriptGoWithIt) {
  EXPECT_EQ("DROP TABLE folders;\n",
            Down("CREATE TABLE folders (id int PRIMARY KEY, name text);\n"
                 "INSERT INTO folders VALUES (1, 'inbox');\n"
                 "UPDATE Folders SET name = 'Inbox';\nDELETE FROM folders WHERE id = 2;\n",
                 kLite));
  EXPECT_EQ("IRREVERSIBLE: line 3: inserts into users (no certain inverse)",
            Down("CREATE TABLE folders (id int);\nINSERT INTO folders VALUES (1);\n"
                 "INSERT INTO users VALUES (1);\n",
                 kPg));
  // audit.users is not users.
  EXPECT_EQ("IRREVERSIBLE: line 2: updates every row of users (no certain inverse)",
            Down("CREATE TABLE audit.users (id int);\nUPDATE users SET name = 'x';\n", kPg));
  EXPECT_EQ("DROP TABLE audit.users;\n",
            Down("CREATE TABLE audit.users (id int);\nUPDATE audit.users SET id = 1;\n", kPg));
  // PostgreSQL folds only unquoted names: "Folders" is another table.
  EXPECT_EQ("IRREVERSIBLE: line 2: inserts into Folders (no certain inverse)",
            Down("CREATE TABLE folders (id int);\nINSERT INTO \"Folders\" VALUES (1);\n", kPg));
}

TEST(InverseTest, TransactionControl) {
  EXPECT_EQ("IRREVERSIBLE: line 1: BEGIN manages its own transaction",
            Down("BEGIN;\nCREATE TABLE t (x int);\nCOMMIT;", kLite));
  EXPECT_EQ("IRREVERSIBLE: line 2: COMMIT manages its own transaction",
            Down("CREATE TABLE t (x int);\ncommit;", kPg));
}

// PostgreSQL ALTERs whose undoing is certain from their text alone.
TEST(InverseTest, RenamesAndNamedConstraintsOfPostgres) {
  EXPECT_EQ("ALTER INDEX persons_name RENAME TO people_name;\n",
            Down("ALTER INDEX people_name RENAME TO persons_name", kPg));
  EXPECT_EQ("ALTER MATERIALIZED VIEW app.\"Totals\" RENAME TO totals;\n",
            Down("alter materialized view app.totals rename to \"Totals\"", kPg));
  EXPECT_EQ("ALTER SEQUENCE s2 RENAME TO s1;\nALTER VIEW v2 RENAME TO v1;\n",
            Down("ALTER VIEW v1 RENAME TO v2; ALTER SEQUENCE s1 RENAME TO s2", kPg));
  EXPECT_EQ("ALTER TYPE mood RENAME VALUE 'glad' TO 'happy';\n",
            Down("ALTER TYPE mood RENAME VALUE 'happy' TO 'glad'", kPg));
  EXPECT_EQ("ALTER TABLE people RENAME CONSTRAINT c2 TO c1;\n",
            Down("ALTER TABLE people RENAME CONSTRAINT c1 TO c2", kPg));
  // Added NOT VALID and validated in the same script: dropping undoes both.
  EXPECT_EQ("ALTER TABLE people DROP CONSTRAINT name_len;\n",
            Down("ALTER TABLE ONLY people ADD CONSTRAINT name_len CHECK (length(name) < 100)"
                 " NOT VALID;\nALTER TABLE people VALIDATE CONSTRAINT name_len;\n",
                 kPg));
  EXPECT_EQ("ALTER TABLE orders DROP CONSTRAINT orders_account_fk;\n",
            Down("ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id)"
                 " REFERENCES accounts (id) ON DELETE CASCADE",
                 kPg));
  EXPECT_EQ("ALTER TABLE t DROP CONSTRAINT u;\n",
            Down("ALTER TABLE t ADD CONSTRAINT u UNIQUE (a, b)", kPg));
}

TEST(InverseTest, AltersWhoseUndoingIsNotCertainStayIrreversible) {
  // A primary key also makes its columns NOT NULL; dropping it does not.
  EXPECT_THAT(Down("ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY (id)", kPg),
              HasSubstr("IRREVERSIBLE"));
  // USING INDEX takes over an index that existed before.
  EXPECT_THAT(Down("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX t_a", kPg),
              HasSubstr("IRREVERSIBLE"));
  // A constraint validated here but added before cannot be made NOT VALID again.
  EXPECT_THAT(Down("ALTER TABLE t VALIDATE CONSTRAINT c", kPg), HasSubstr("cannot be marked NOT VALID"));
  EXPECT_THAT(Down("ALTER INDEX IF EXISTS a RENAME TO b", kPg), HasSubstr("may not have existed"));
  // Several actions at once, an unnamed constraint, a new enum value.
  EXPECT_THAT(Down("ALTER TABLE t ADD CONSTRAINT a CHECK (x > 0), ADD CONSTRAINT b CHECK (y > 0)", kPg),
              HasSubstr("IRREVERSIBLE"));
  EXPECT_THAT(Down("ALTER TABLE t ADD CHECK (x > 0)", kPg), HasSubstr("IRREVERSIBLE"));
  EXPECT_THAT(Down("ALTER TYPE mood ADD VALUE 'glad'", kPg), HasSubstr("IRREVERSIBLE"));
}

// What Supabase and Rails migrations write right after CREATE TABLE (a
// comment, grants, row-level security, a policy, a default) goes with the
// table when it is dropped: the script stays reversible without a down file.
TEST(InverseTest, WhatDressesATableCreatedInTheScriptGoesWithIt) {
  EXPECT_EQ("DROP TABLE public.profiles;\n",
            Down("create table public.profiles (id uuid primary key, \"Full Name\" text);\n"
                 "comment on table public.profiles is 'one per user';\n"
                 "comment on column public.profiles.\"Full Name\" is 'as typed';\n"
                 "alter table public.profiles enable row level security;\n"
                 "alter table only public.profiles alter column id set default gen_random_uuid();\n"
                 "create policy \"Profiles are public.\" on public.profiles for select using (true);\n"
                 "grant select, insert on table public.profiles to anon, authenticated;\n"
                 "revoke delete on public.profiles from anon;\n",
                 kPg));
  // Each must name only tables the script created, as it spelt them.
  EXPECT_THAT(Down("CREATE TABLE a (id int);\nCOMMENT ON TABLE b IS 'x';\n", kPg),
              HasSubstr("IRREVERSIBLE: line 2"));
  EXPECT_THAT(Down("CREATE TABLE a (id int);\nCOMMENT ON COLUMN b.id IS 'x';\n", kPg),
              HasSubstr("IRREVERSIBLE: line 2"));
  EXPECT_THAT(Down("CREATE TABLE a (id int);\nGRANT SELECT ON a, b TO app;\n", kPg),
              HasSubstr("IRREVERSIBLE: line 2"));
  EXPECT_THAT(Down("CREATE TABLE a (id int);\nGRANT SELECT ON ALL TABLES IN SCHEMA public TO app;\n", kPg),
              HasSubstr("IRREVERSIBLE: line 2"));
  EXPECT_THAT(Down("CREATE TABLE a (id int);\nALTER TABLE \"A\" ENABLE ROW LEVEL SECURITY;\n", kPg),
              HasSubstr("IRREVERSIBLE: line 2"));
  // Dropping the table would not undo these: it moved, or took in a table
  // that was there before (dropping a partitioned table drops its partitions).
  EXPECT_THAT(Down("CREATE TABLE a (id int) PARTITION BY RANGE (id);\n"
                   "ALTER TABLE a ATTACH PARTITION old_a FOR VALUES FROM (0) TO (10);\n",
                   kPg),
              HasSubstr("IRREVERSIBLE: line 2"));
  EXPECT_THAT(Down("CREATE TABLE a (id int);\nALTER TABLE a SET SCHEMA archive;\n", kPg),
              HasSubstr("IRREVERSIBLE: line 2"));
  // A named constraint keeps its own inverse.
  EXPECT_EQ("ALTER TABLE a DROP CONSTRAINT a_id_check;\nDROP TABLE a;\n",
            Down("CREATE TABLE a (id int);\nALTER TABLE a ADD CONSTRAINT a_id_check CHECK (id > 0);\n",
                 kPg));
}

// Prisma adds every foreign key after all its CREATE TABLEs, unnamed before
// 2021: dropping the tables in reverse order dropped the referenced one
// first, which the constraint forbids, and the derived down failed. The
// constraint is dropped first, by the name PostgreSQL gives it.
TEST(InverseTest, AnUnnamedForeignKeyOfACreatedTableIsDroppedByItsDefaultName) {
  EXPECT_EQ("ALTER TABLE \"Attendee\" DROP CONSTRAINT \"Attendee_bookingId_fkey\";\n"
            "DROP TABLE \"Booking\";\nDROP TABLE \"Attendee\";\n",
            Down("CREATE TABLE \"Attendee\" (\"id\" SERIAL NOT NULL, \"bookingId\" INTEGER);\n"
                 "CREATE TABLE \"Booking\" (\"id\" SERIAL NOT NULL, PRIMARY KEY (\"id\"));\n"
                 "ALTER TABLE \"Attendee\" ADD FOREIGN KEY (\"bookingId\") REFERENCES \"Booking\"(\"id\") "
                 "ON DELETE SET NULL ON UPDATE CASCADE;\n",
                 kPg));
  EXPECT_EQ("ALTER TABLE public.lines DROP CONSTRAINT lines_order_id_item_fkey;\nDROP TABLE public.lines;\n",
            Down("CREATE TABLE public.lines (order_id int, item int);\n"
                 "ALTER TABLE public.lines ADD FOREIGN KEY (order_id, item) REFERENCES orders;\n",
                 kPg));
  // A long name is shortened as PostgreSQL does: the longer part first.
  const std::string longer(60, 'x');
  EXPECT_EQ("ALTER TABLE " + longer + " DROP CONSTRAINT " + std::string(56, 'x') + "_a_fkey;\nDROP TABLE " +
                longer + ";\n",
            Down("CREATE TABLE " + longer + " (a int);\nALTER TABLE " + longer +
                     " ADD FOREIGN KEY (a) REFERENCES b;\n",
                 kPg));
  EXPECT_EQ("ALTER TABLE \"Invitation\" DROP CONSTRAINT \"Invitation_organizationMembershipIdentifierReferenceForThe_fkey\";\n"
            "DROP TABLE \"Invitation\";\n",
            Down("CREATE TABLE \"Invitation\" (\"organizationMembershipIdentifierReferenceForTheInvitation\" int);\n"
                 "ALTER TABLE \"Invitation\" ADD FOREIGN KEY (\"organizationMembershipIdentifierReferenceForTheInvitation\") "
                 "REFERENCES \"Org\";\n",
                 kPg));
  // Of a table that was there before, the name may be taken: no inverse.
  EXPECT_THAT(Down("ALTER TABLE old ADD FOREIGN KEY (a) REFERENCES b;\n", kPg), HasSubstr("IRREVERSIBLE"));
}

// A policy on a table that was there before is dropped by name: PostgreSQL
// has no CREATE OR REPLACE POLICY, so the statement made it.
TEST(InverseTest, CreatePolicyIsDroppedOnPostgres) {
  EXPECT_EQ("DROP POLICY \"Owners edit\" ON app.posts;\n",
            Down("CREATE POLICY \"Owners edit\" ON app.posts FOR UPDATE USING (owner = current_user)",
                 kPg));
  EXPECT_EQ("DROP POLICY p ON posts;\n",
            Down("create policy p on posts as restrictive to app using (true)", kPg));
}

// A trigger function and its trigger, a backfill function: the routine a
// CREATE FUNCTION (not OR REPLACE) made is dropped by its arguments as
// written, less their defaults.
TEST(InverseTest, CreateFunctionIsDroppedByItsArguments) {
  EXPECT_EQ("DROP TRIGGER users_updated_at ON users;\nDROP FUNCTION set_updated_at();\n",
            Down("CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                 "BEGIN NEW.updated_at = now(); RETURN NEW; END $$;\n"
                 "CREATE TRIGGER users_updated_at BEFORE UPDATE ON users FOR EACH ROW "
                 "EXECUTE FUNCTION set_updated_at();\n",
                 kPg));
  EXPECT_EQ("DROP FUNCTION app.\"Add\"(a integer, b numeric ( 10 , 2 ), VARIADIC c text [ ]);\n",
            Down("CREATE FUNCTION app.\"Add\"(a integer, b numeric(10,2) DEFAULT 1.5, "
                 "VARIADIC c text[] = '{}') RETURNS int LANGUAGE sql AS 'SELECT 1'",
                 kPg));
  EXPECT_EQ("DROP PROCEDURE backfill(batch int);\n",
            Down("CREATE PROCEDURE backfill(batch int DEFAULT (10 * 2)) LANGUAGE sql BEGIN ATOMIC "
                 "UPDATE t SET x = 1; END",
                 kPg));
}

// Domains (an email, a positive amount) go with DROP DOMAIN, after the
// tables whose columns use them.
TEST(InverseTest, CreateDomainIsDroppedOnPostgres) {
  EXPECT_EQ("DROP TABLE users;\nDROP DOMAIN app.\"Email\";\n",
            Down("CREATE DOMAIN app.\"Email\" AS text CHECK (VALUE ~ '^[^@]+@[^@]+$');\n"
                 "CREATE TABLE users (id int, email app.\"Email\");\n",
                 kPg));
}

// A comment on, or a grant of, a view, sequence or type the script created
// goes with it; one on an object that was there before has no inverse.
TEST(InverseTest, WhatDressesAViewSequenceOrTypeCreatedInTheScriptGoesWithIt) {
  EXPECT_EQ("DROP VIEW active_users;\nDROP SEQUENCE app.invoice_no;\nDROP TYPE mood;\n"
            "DROP TABLE users;\n",
            Down("CREATE TABLE users (id int);\nCREATE TYPE mood AS ENUM ('ok');\n"
                 "COMMENT ON TYPE mood IS 'how it went';\n"
                 "CREATE SEQUENCE app.invoice_no;\n"
                 "GRANT USAGE, SELECT ON SEQUENCE app.invoice_no TO PUBLIC;\n"
                 "CREATE VIEW active_users AS SELECT id FROM users;\n"
                 "COMMENT ON VIEW active_users IS 'the ones; still here';\n"
                 "GRANT SELECT ON users, active_users TO PUBLIC;\n",
                 kPg));
  EXPECT_EQ("DROP MATERIALIZED VIEW totals;\n",
            Down("CREATE MATERIALIZED VIEW totals AS SELECT 1 AS n;\n"
                 "COMMENT ON MATERIALIZED VIEW totals IS 'x';\n",
                 kPg));
  EXPECT_EQ("DROP INDEX users_id;\n",
            Down("CREATE INDEX users_id ON users (id);\nCOMMENT ON INDEX users_id IS 'x';\n", kPg));
  EXPECT_THAT(Down("CREATE VIEW v AS SELECT 1;\nCOMMENT ON VIEW other IS 'x';\n", kPg),
              HasSubstr("IRREVERSIBLE: line 2:"));
  // A routine's comment, and a created view's column's (hunt36 #7).
  EXPECT_EQ("DROP FUNCTION touch(a integer, b text);\n",
            Down("CREATE FUNCTION touch(a integer, b text) RETURNS int LANGUAGE sql AS 'SELECT 1';\n"
                 "COMMENT ON FUNCTION touch(integer, text) IS 'x';\n",
                 kPg));
  EXPECT_EQ("DROP VIEW v;\n", Down("CREATE VIEW v AS SELECT 1 AS n;\nCOMMENT ON COLUMN v.n IS 'x';\n", kPg));
  EXPECT_THAT(Down("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n"
                   "COMMENT ON FUNCTION g() IS 'x';\n",
                   kPg),
              HasSubstr("IRREVERSIBLE: line 2:"));
  EXPECT_THAT(Down("CREATE VIEW v AS SELECT 1;\nGRANT SELECT ON v, other TO PUBLIC;\n", kPg),
              HasSubstr("IRREVERSIBLE: line 2:"));
  EXPECT_THAT(Down("CREATE VIEW v AS SELECT 1;\nGRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC;\n", kPg),
              HasSubstr("IRREVERSIBLE: line 2:"));
}

// An index without a name on a table the script created goes with the
// table; on a table that was there before it has no name to drop it by.
TEST(InverseTest, UnnamedIndexOfATableCreatedInTheScriptGoesWithIt) {
  EXPECT_EQ("DROP TABLE orders;\n",
            Down("CREATE TABLE orders (id int, user_id int);\nCREATE INDEX ON orders (user_id);\n", kPg));
  EXPECT_EQ("DROP TABLE app.orders;\n",
            Down("CREATE TABLE app.orders (id int);\nCREATE UNIQUE INDEX ON app.orders USING btree (id);\n",
                 kPg));
  EXPECT_EQ("IRREVERSIBLE: line 2: creates an unnamed index on t (no name to drop it by)",
            Down("CREATE TABLE orders (id int);\nCREATE INDEX ON t (a);\n", kPg));
}
