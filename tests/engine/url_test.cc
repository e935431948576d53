#include "engine/url.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(ParseDatabaseUrl, AcceptsTheFormsUsersWrite) {
  struct Case {
    const char* url;
    Engine engine;
    const char* target;
  } cases[] = {
      {"sqlite:app.db", Engine::kSqlite, "app.db"},
      {"sqlite://data/app.db", Engine::kSqlite, "data/app.db"},
      {"sqlite:///abs/app.db", Engine::kSqlite, "/abs/app.db"},
      {"sqlite::memory:", Engine::kSqlite, ":memory:"},
      {"sqlite3:x.sqlite", Engine::kSqlite, "x.sqlite"},
      {"app.sqlite3", Engine::kSqlite, "app.sqlite3"},
      {"postgres://u@h:5432/db", Engine::kPostgres, "postgres://u@h:5432/db"},
      {"postgresql://u:p@h/db?sslmode=disable", Engine::kPostgres,
       "postgresql://u:p@h/db?sslmode=disable"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseDatabaseUrl(c.url);
    ASSERT_TRUE(parsed.ok()) << c.url << ": " << parsed.status().message();
    EXPECT_EQ(parsed->engine, c.engine) << c.url;
    EXPECT_EQ(parsed->target, c.target) << c.url;
  }
}

TEST(ParseDatabaseUrl, RejectsUnknownSchemesWithoutLeakingThePassword) {
  auto parsed = ParseDatabaseUrl("mysql://root:hunter2@db/x");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(),
            "unsupported database URL 'mysql://root:***@db/x' (scheme 'mysql'); use "
            "sqlite:path/to/app.db, postgres://user@host:port/db or postgresql://...");
  EXPECT_FALSE(ParseDatabaseUrl("").ok());
  EXPECT_FALSE(ParseDatabaseUrl("sqlite:").ok());
  // Parameters would become part of the file name.
  EXPECT_EQ(ParseDatabaseUrl("sqlite3://app.db?_foreign_keys=on").status().message(),
            "database URL 'sqlite3://app.db?_foreign_keys=on' has parameters "
            "('?_foreign_keys=on'), which sqlite: URLs do not take: write sqlite:app.db (or a "
            "SQLite URI: sqlite:file:app.db?_foreign_keys=on)");
  EXPECT_EQ(ParseDatabaseUrl("sqlite:file:app.db?mode=ro")->target, "file:app.db?mode=ro");
}

// A URL mistyped without its "//" has no authority to redact the password
// of; the unknown-scheme error showed it whole.
TEST(ParseDatabaseUrl, AUrlWithoutItsSlashesDoesNotLeakThePassword) {
  const std::pair<std::string, std::string> cases[] = {
      {"postgres:app:s3cret@db/shop", "postgres:***@db/shop"},
      {"postgres:/app:s3cret@db/shop", "postgres:***@db/shop"},
      {"postgresql:app:p@ss@db:5432/shop?sslmode=require", "postgresql:***@db:5432/shop?sslmode=require"},
      {"mysql:root:s3cret@db/x", "mysql:***@db/x"},
      {"postgres:db/shop?password=s3cret", "postgres:db/shop?password=***"},
  };
  for (const auto& [url, shown] : cases) {
    auto parsed = ParseDatabaseUrl(url);
    ASSERT_FALSE(parsed.ok()) << url;
    EXPECT_THAT(parsed.status().message(), ::testing::Not(::testing::HasSubstr("s3cret"))) << url;
    EXPECT_THAT(parsed.status().message(), ::testing::Not(::testing::HasSubstr("p@ss"))) << url;
    EXPECT_THAT(parsed.status().message(), ::testing::HasSubstr("'" + shown + "'")) << url;
  }
}

// A snapshot reads and replaces the file itself: a URI's path, as SQLite
// takes it (hunt73 #5: `up` on sqlite:file:app.db said the file did not exist).
TEST(SqliteFilePath, IsThePathOfAUri) {
  EXPECT_EQ(SqliteFilePath("app.db"), "app.db");
  EXPECT_EQ(SqliteFilePath("/srv/app.db"), "/srv/app.db");
  EXPECT_EQ(SqliteFilePath("file:app.db"), "app.db");
  EXPECT_EQ(SqliteFilePath("file:app.db?mode=rw&cache=shared"), "app.db");
  EXPECT_EQ(SqliteFilePath("file:///srv/app.db"), "/srv/app.db");
  EXPECT_EQ(SqliteFilePath("file://localhost/srv/app.db#x"), "/srv/app.db");
  EXPECT_EQ(SqliteFilePath("file:my%20app.db"), "my app.db");
}

TEST(RedactUrl, HidesPasswordsInEveryPlace) {
  EXPECT_EQ(RedactUrl("postgres://app:s3cret@db:5432/shop"), "postgres://app:***@db:5432/shop");
  EXPECT_EQ(RedactUrl("postgres://app@db/shop"), "postgres://app@db/shop");
  EXPECT_EQ(RedactUrl("postgres://app:p@ss@db/shop"), "postgres://app:***@db/shop");
  EXPECT_EQ(RedactUrl("postgres://db/shop?user=a&password=s3cret&sslmode=require"),
            "postgres://db/shop?user=a&password=***&sslmode=require");
  EXPECT_EQ(RedactUrl("host=db password='a b' user=x"), "host=db password=*** user=x");
  EXPECT_EQ(RedactUrl("postgres://db/shop?sslkey=k.pem&sslpassword=phrase&sslmode=require"),
            "postgres://db/shop?sslkey=k.pem&sslpassword=***&sslmode=require");
  EXPECT_EQ(RedactUrl("sqlite:app.db"), "sqlite:app.db");
}

// What `strata init` writes into strata.toml, which projects commit.
TEST(UrlWithoutPassword, LeavesTheRestOfTheUrl) {
  EXPECT_EQ(UrlWithoutPassword("postgres://app:s3cret@db:5432/shop"), "postgres://app@db:5432/shop");
  EXPECT_EQ(UrlWithoutPassword("postgres://app:s3cret@db/shop?sslmode=require&password=x&"
                               "application_name=a&sslpassword=y"),
            "postgres://app@db/shop?sslmode=require&application_name=a");
  EXPECT_EQ(UrlWithoutPassword("postgres://app@db/shop?password=x"), "postgres://app@db/shop");
  EXPECT_EQ(UrlWithoutPassword("postgres://app@db/shop"), "postgres://app@db/shop");
  EXPECT_EQ(UrlWithoutPassword("sqlite:app.db"), "sqlite:app.db");
}

TEST(EncodeCredentials, AnAtSignBeforeTheLastOneIsPercentEncoded) {
  EXPECT_EQ(EncodeCredentials("postgres://app:p@ss@db:5432/shop"), "postgres://app:p%40ss@db:5432/shop");
  EXPECT_EQ(EncodeCredentials("postgres://a@b:c@d@db/x?y=@"), "postgres://a%40b:c%40d@db/x?y=@");
  EXPECT_EQ(EncodeCredentials("postgres://app:pw@db/shop"), "postgres://app:pw@db/shop");
  EXPECT_EQ(EncodeCredentials("postgres://db/shop"), "postgres://db/shop");
  EXPECT_EQ(ParseDatabaseUrl("postgresql://u:x@y@h/d")->target, "postgresql://u:x%40y@h/d");
}

// libpq reads the credentials up to the last '@' before the first '/': a
// '?' or '#' in a password is part of it (such a URL connects), so it must be
// redacted whole and kept out of the query.
TEST(RedactUrl, APasswordWithAQuestionMarkOrHashIsHiddenWhole) {
  EXPECT_EQ(RedactUrl("postgres://app:ab#cd?ef@db:5432/shop"), "postgres://app:***@db:5432/shop");
  EXPECT_EQ(RedactUrl("postgres://app:a?b@db/shop?sslmode=disable"),
            "postgres://app:***@db/shop?sslmode=disable");
  EXPECT_EQ(RedactUrl("postgres://app:x#y@db"), "postgres://app:***@db");
  EXPECT_EQ(RedactSecrets("cannot connect to postgres://app:ab#cd?ef@db/shop: refused"),
            "cannot connect to postgres://app:***@db/shop: refused");
  // A '/' in the password (libpq cannot read it): still not shown.
  EXPECT_EQ(RedactUrl("postgres://app:ab/cd@db:5432/shop"), "postgres://app:***@db:5432/shop");
  // Neither is a password parameter in upper case, which libpq quotes when it refuses it.
  EXPECT_EQ(RedactUrl("postgres://db/shop?PASSWORD=s3cret"), "postgres://db/shop?PASSWORD=***");
  // An '@' in the query is no credential.
  EXPECT_EQ(RedactUrl("postgres://db/shop?application_name=a:b@c"),
            "postgres://db/shop?application_name=a:b@c");
  // libpq decodes a parameter's name too: %70assword is password.
  EXPECT_EQ(RedactUrl("postgres://db/shop?%70assword=s3cret&sslmode=require"),
            "postgres://db/shop?%70assword=***&sslmode=require");
  EXPECT_EQ(RedactUrl("postgres://db/shop?user=a&pass%77ord=s3cret"), "postgres://db/shop?user=a&pass%77ord=***");
  EXPECT_EQ(RedactUrl("postgres://db/shop?%73slpassword=phrase"), "postgres://db/shop?%73slpassword=***");
  // A pair whose '=' is encoded, which libpq quotes as an unknown key.
  EXPECT_EQ(RedactSecrets("invalid URI query parameter: \"password%3Ds3cret\""),
            "invalid URI query parameter: \"password=***\"");
  EXPECT_EQ(RedactUrl("postgres://db/shop?password%3Ds3cret&sslmode=require"),
            "postgres://db/shop?password=***&sslmode=require");
  EXPECT_EQ(RedactUrl("postgres://db/shop?passwords=x&password_hint=y"),
            "postgres://db/shop?passwords=x&password_hint=y");
  EXPECT_EQ(UrlPassword("postgres://app:ab#cd?ef@db/shop"), "ab#cd?ef");
  EXPECT_EQ(UrlPassword("postgres://app@db/shop"), "");
}

TEST(EncodeCredentials, AQuestionMarkOrHashInThePasswordIsPercentEncoded) {
  EXPECT_EQ(EncodeCredentials("postgres://app:ab#cd?ef@db:5432/shop?sslmode=disable"),
            "postgres://app:ab%23cd%3Fef@db:5432/shop?sslmode=disable");
  EXPECT_EQ(EncodeCredentials("postgres://db/shop?application_name=a@b"),
            "postgres://db/shop?application_name=a@b");
}

TEST(UrlWithDatabase, ReplacesThePathAndADbnameParameterOnly) {
  EXPECT_EQ(UrlWithDatabase("postgres://app@db:5432/shop", "scratch"), "postgres://app@db:5432/scratch");
  EXPECT_EQ(UrlWithDatabase("postgres://app@db", "scratch"), "postgres://app@db/scratch");
  EXPECT_EQ(UrlWithDatabase("postgres://app@db/shop?dbname=shop&sslmode=disable", "scratch"),
            "postgres://app@db/scratch?sslmode=disable");
  EXPECT_EQ(UrlWithDatabase("postgres://app:a?b@db/shop?sslmode=disable", "scratch"),
            "postgres://app:a%3Fb@db/scratch?sslmode=disable");
}

TEST(RedactSecrets, FindsUrlsInsideText) {
  EXPECT_EQ(RedactSecrets("cannot connect to postgresql://u:pw@127.0.0.1:1/x: refused"),
            "cannot connect to postgresql://u:***@127.0.0.1:1/x: refused");
  EXPECT_EQ(RedactSecrets("a 'postgres://u:pw@h/d' and postgres://v:qq@h/e"),
            "a 'postgres://u:***@h/d' and postgres://v:***@h/e");
  EXPECT_EQ(RedactSecrets("no secrets here"), "no secrets here");
  // A message redacted twice keeps the separator after the redacted value.
  const std::string once =
      "cannot connect to " + RedactUrl("postgres://a@h/db?password=s3cret") + ": refused";
  EXPECT_EQ(once, "cannot connect to postgres://a@h/db?password=***: refused");
  EXPECT_EQ(RedactSecrets(once), once);
}

}  // namespace
}  // namespace strata
