#include "sql/splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sql/dialects.h"

using strata::Code;
using strata::sql::Dialect;
using strata::sql::SplitStatements;
using strata::sql::Statement;

namespace {

// The statements' texts; a failed split yields {"ERROR: <message>"}.
std::vector<std::string> Split(std::string_view script, Dialect dialect) {
  auto result = SplitStatements(script, dialect);
  if (!result.ok()) return {"ERROR: " + result.status().message()};
  std::vector<std::string> texts;
  for (const Statement& s : *result) texts.push_back(s.text);
  return texts;
}

std::vector<int> Lines(std::string_view script, Dialect dialect) {
  auto result = SplitStatements(script, dialect);
  EXPECT_TRUE(result.ok()) << result.status().message();
  std::vector<int> lines;
  if (result.ok()) {
    for (const Statement& s : *result) lines.push_back(s.line);
  }
  return lines;
}

std::string Error(std::string_view script, Dialect dialect) {
  auto result = SplitStatements(script, dialect);
  if (result.ok()) return "(no error)";
  EXPECT_EQ(Code::kParse, result.status().code());
  return result.status().message();
}

using Texts = std::vector<std::string>;

}  // namespace

TEST(SplitterTest, Empty) {
  EXPECT_EQ(Texts{}, Split("", kPg));
  EXPECT_EQ(Texts{}, Split("  \n\t ", kLite));
  EXPECT_EQ(Texts{}, Split(";;\n;", kPg));
  EXPECT_EQ(Texts{}, Split("-- only a comment\n/* and another */;", kLite));
}

TEST(SplitterTest, Basic) {
  for (Dialect d : {kPg, kLite}) {
    EXPECT_EQ((Texts{"CREATE TABLE a (x int)", "DROP TABLE b"}),
              Split("CREATE TABLE a (x int);\n  DROP TABLE b ;\n", d));
    EXPECT_EQ((Texts{"SELECT 1", "SELECT 2"}), Split("SELECT 1;SELECT 2", d));
    EXPECT_EQ((Texts{"SELECT 1"}), Split(";; SELECT 1 ;;", d));
  }
}

TEST(SplitterTest, CommentsInsideKeptCommentsAroundDropped) {
  for (Dialect d : {kPg, kLite}) {
    EXPECT_EQ((Texts{"SELECT /* ; */ 1 -- ;\n  + 2", "SELECT 3"}),
              Split("-- lead ;\n/* lead ; */ SELECT /* ; */ 1 -- ;\n  + 2 -- trail ;\n;\n"
                    "SELECT 3 -- no terminator",
                    d));
  }
}

TEST(SplitterTest, SingleQuotedStrings) {
  for (Dialect d : {kPg, kLite}) {
    EXPECT_EQ((Texts{"SELECT 'a;b'", "SELECT 'it''s; fine'"}),
              Split("SELECT 'a;b'; SELECT 'it''s; fine';", d));
    EXPECT_EQ((Texts{"SELECT '--', '/*'", "SELECT 2"}), Split("SELECT '--', '/*'; SELECT 2", d));
  }
  // A backslash is an ordinary character in standard strings and in SQLite.
  EXPECT_EQ((Texts{"SELECT 'a\\'", "SELECT 2"}), Split("SELECT 'a\\'; SELECT 2", kPg));
  EXPECT_EQ((Texts{"SELECT 'a\\'", "SELECT 2"}), Split("SELECT 'a\\'; SELECT 2", kLite));
}

TEST(SplitterTest, EscapeStringsPostgres) {
  EXPECT_EQ((Texts{"SELECT E'it\\'s; here'", "SELECT 2"}),
            Split("SELECT E'it\\'s; here'; SELECT 2", kPg));
  EXPECT_EQ((Texts{"SELECT e'\\\\'", "SELECT 2"}), Split("SELECT e'\\\\'; SELECT 2", kPg));
  EXPECT_EQ((Texts{"SELECT E'a''b;'"}), Split("SELECT E'a''b;';", kPg));
  // In SQLite, E is a name and the backslash does not escape: the string ends at \'.
  EXPECT_EQ((Texts{"SELECT E'it\\'", "SELECT 's'"}), Split("SELECT E'it\\'; SELECT 's'", kLite));
  // A word ending in e is not an E-string prefix.
  EXPECT_EQ((Texts{"SELECT name'\\'", "SELECT 2"}), Split("SELECT name'\\'; SELECT 2", kPg));
}

TEST(SplitterTest, QuotedIdentifiers) {
  for (Dialect d : {kPg, kLite}) {
    EXPECT_EQ((Texts{"CREATE TABLE \"a;\"\"b\" (x int)", "SELECT 1"}),
              Split("CREATE TABLE \"a;\"\"b\" (x int); SELECT 1", d));
  }
  EXPECT_EQ((Texts{"SELECT [a;b], `c;``d`", "SELECT 1"}),
            Split("SELECT [a;b], `c;``d`; SELECT 1", kLite));
  // In PostgreSQL brackets are array subscripts and do not quote.
  EXPECT_EQ((Texts{"SELECT a[1]", "SELECT 1"}), Split("SELECT a[1]; SELECT 1", kPg));
  EXPECT_EQ((Texts{"SELECT [a", "b]"}), Split("SELECT [a;b]", kPg));
}

TEST(SplitterTest, DollarQuotesPostgres) {
  const char* script =
      "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; SELECT 'x'; $$ LANGUAGE sql;\n"
      "CREATE FUNCTION g() RETURNS trigger AS $fn$\nBEGIN\n  RETURN $$;$$;\nEND;\n$fn$ "
      "LANGUAGE plpgsql;\n"
      "DO $body_1$ BEGIN PERFORM 1; END $body_1$;";
  EXPECT_EQ((Texts{"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; SELECT 'x'; $$ LANGUAGE sql",
                   "CREATE FUNCTION g() RETURNS trigger AS $fn$\nBEGIN\n  RETURN $$;$$;\nEND;\n"
                   "$fn$ LANGUAGE plpgsql",
                   "DO $body_1$ BEGIN PERFORM 1; END $body_1$"}),
            Split(script, kPg));
  EXPECT_EQ((Texts{"PREPARE p AS SELECT $1 + $2", "SELECT 3"}),
            Split("PREPARE p AS SELECT $1 + $2; SELECT 3", kPg));
  // A quote inside a dollar body does not open a string.
  EXPECT_EQ((Texts{"SELECT $$it's$$", "SELECT 2"}), Split("SELECT $$it's$$; SELECT 2", kPg));
  // $a$ inside $b$ is text.
  EXPECT_EQ((Texts{"SELECT $b$ $a$ ; $b$"}), Split("SELECT $b$ $a$ ; $b$;", kPg));
}

TEST(SplitterTest, DollarIsNotAQuoteInSqlite) {
  EXPECT_EQ((Texts{"SELECT $$", "SELECT $a"}), Split("SELECT $$; SELECT $a;", kLite));
  EXPECT_EQ((Texts{"SELECT :a, @b, ?1, ?"}), Split("SELECT :a, @b, ?1, ?;", kLite));
}

TEST(SplitterTest, NestedBlockComments) {
  // PostgreSQL nests: the first */ closes only the inner comment.
  EXPECT_EQ((Texts{"SELECT /* a /* b */ 1; */ 2", "SELECT 3"}),
            Split("SELECT /* a /* b */ 1; */ 2; SELECT 3", kPg));
  // SQLite does not: the first */ closes the comment and the ';' ends the statement.
  EXPECT_EQ((Texts{"SELECT /* a /* b */ 1", "*/ 2", "SELECT 3"}),
            Split("SELECT /* a /* b */ 1; */ 2; SELECT 3", kLite));
  EXPECT_EQ((Texts{"SELECT 1"}), Split("/* /*/ SELECT 1", kLite));
}

TEST(SplitterTest, SqliteTriggerBody) {
  const char* script =
      "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
      "  UPDATE b SET n = CASE WHEN new.x > 0 THEN 1 ELSE 0 END;\n"
      "  INSERT INTO log VALUES (new.x);\n"
      "END;\n"
      "CREATE TEMP TRIGGER u BEFORE DELETE ON a WHEN CASE old.x WHEN 1 THEN 1 END BEGIN "
      "SELECT 1; END;\n"
      "create temporary trigger v after update on a begin select case 1 when 1 then "
      "case 2 when 2 then 3 end end; end\n";
  EXPECT_EQ((Texts{"CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
                   "  UPDATE b SET n = CASE WHEN new.x > 0 THEN 1 ELSE 0 END;\n"
                   "  INSERT INTO log VALUES (new.x);\n"
                   "END",
                   "CREATE TEMP TRIGGER u BEFORE DELETE ON a WHEN CASE old.x WHEN 1 THEN 1 END "
                   "BEGIN SELECT 1; END",
                   "create temporary trigger v after update on a begin select case 1 when 1 then "
                   "case 2 when 2 then 3 end end; end"}),
            Split(script, kLite));
  EXPECT_EQ((Texts{"CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT ';'; END", "SELECT 2"}),
            Split("CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT ';'; END; SELECT 2", kLite));
}

TEST(SplitterTest, TransactionStatementsAreStatements) {
  for (Dialect d : {kPg, kLite}) {
    EXPECT_EQ((Texts{"BEGIN", "CREATE TABLE a (x int)", "END"}),
              Split("BEGIN; CREATE TABLE a (x int); END;", d));
    EXPECT_EQ((Texts{"BEGIN TRANSACTION", "SELECT 1", "COMMIT"}),
              Split("BEGIN TRANSACTION;\nSELECT 1;\nCOMMIT;", d));
  }
  // Not a trigger: a table named after a keyword does not open a body.
  EXPECT_EQ((Texts{"CREATE TABLE x (\"begin\" int)", "SELECT 1"}),
            Split("CREATE TABLE x (\"begin\" int); SELECT 1", kLite));
}

TEST(SplitterTest, PostgresBeginAtomic) {
  const char* script =
      "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql\n"
      "BEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 END;\n  SELECT 2;\nEND;\n"
      "CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO t VALUES (1); END;\n"
      "BEGIN;\nCOMMIT;";
  EXPECT_EQ((Texts{"CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql\n"
                   "BEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 END;\n  SELECT 2;\nEND",
                   "CREATE PROCEDURE p() BEGIN ATOMIC INSERT INTO t VALUES (1); END", "BEGIN",
                   "COMMIT"}),
            Split(script, kPg));
  // A PostgreSQL trigger has no body of its own.
  EXPECT_EQ((Texts{"CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION f()",
                   "SELECT 1"}),
            Split("CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION f(); "
                  "SELECT 1",
                  kPg));
}

TEST(SplitterTest, PostgresParenthesesHoldSemicolons) {
  EXPECT_EQ((Texts{"CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); "
                   "INSERT INTO b VALUES (2))",
                   "SELECT 1"}),
            Split("CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); "
                  "INSERT INTO b VALUES (2)); SELECT 1",
                  kPg));
  EXPECT_EQ((Texts{"SELECT 1)", "SELECT 2"}), Split("SELECT 1); SELECT 2", kPg));
  EXPECT_EQ((Texts{"SELECT (1", "2)"}), Split("SELECT (1; 2)", kLite));
}

TEST(SplitterTest, LineNumbers) {
  const char* script =
      "-- header\n"                      // 1
      "\n"                               // 2
      "CREATE TABLE a (\n"               // 3
      "  x text DEFAULT 'one\n"          // 4
      "two'\n"                           // 5
      ");  /* multi\n"                   // 6
      "line */ SELECT 1;\n"              // 7
      "/* c */\n"                        // 8
      "  SELECT \"a\n"                   // 9
      "b\"; SELECT 3";                   // 10
  EXPECT_EQ((std::vector<int>{3, 7, 9, 10}), Lines(script, kLite));
  EXPECT_EQ((std::vector<int>{3, 7, 9, 10}), Lines(script, kPg));
  EXPECT_EQ((std::vector<int>{1, 4}), Lines("SELECT $$\n;\n\n$$; SELECT 2", kPg));
  EXPECT_EQ((std::vector<int>{2}), Lines("/* a /* b */\n */ SELECT 1", kPg));
}

TEST(SplitterTest, Errors) {
  EXPECT_EQ("3:13: unterminated single-quoted string",
            Error("SELECT 1;\nSELECT 2;\nSELECT 'a', 'b;\nSELECT 3;", kPg));
  EXPECT_EQ("1:8: unterminated single-quoted string", Error("SELECT E'it\\';", kPg));
  EXPECT_EQ("1:8: unterminated single-quoted string", Error("SELECT 'it''", kLite));
  EXPECT_EQ("2:1: unterminated dollar-quoted string $fn$",
            Error("CREATE FUNCTION f() RETURNS int AS\n$fn$ SELECT 1; $fn;", kPg));
  EXPECT_EQ("1:8: unterminated dollar-quoted string $$", Error("SELECT $$ x", kPg));
  EXPECT_EQ("5:3: unterminated block comment", Error("\n\n\n\n  /* a /* b */ ;", kPg));
  EXPECT_EQ("1:10: unterminated block comment", Error("SELECT 1 /* x", kLite));
  EXPECT_EQ("7:1: unterminated quoted identifier", Error("\n\n\n\n\n\n\"abc ;", kPg));
  EXPECT_EQ("1:8: unterminated quoted identifier", Error("SELECT [a;", kLite));
  EXPECT_EQ("1:8: unterminated quoted identifier", Error("SELECT `a``;", kLite));
  EXPECT_EQ("1:20: CREATE TRIGGER body has no END",
            Error("CREATE TRIGGER trg BEGIN SELECT 1; SELECT CASE 1 WHEN 1 THEN 2 END;", kLite));
  EXPECT_EQ("2:1: BEGIN ATOMIC body has no END",
            Error("CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC SELECT 1;", kPg));
}

TEST(SplitterTest, ErrorPositionAfterMultilineConstructs) {
  EXPECT_EQ("5:8: unterminated single-quoted string",
            Error("/* one\ntwo */ SELECT 'x\ny';\n\nSELECT 'z", kLite));
}
