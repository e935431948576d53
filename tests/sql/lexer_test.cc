#include "sql/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sql/dialects.h"

using strata::sql::Dialect;
using strata::sql::IdentifierName;
using strata::sql::IdentifierSql;
using strata::sql::NeedsQuotes;
using strata::sql::Token;
using strata::sql::TokenKind;
using strata::sql::Tokenize;

namespace {

// "kind:text" for each token: W word, Q quoted identifier, S string, N number,
// P parameter, . punct, O operator.
std::string Describe(std::string_view sql, Dialect dialect) {
  auto tokens = Tokenize(sql, dialect);
  if (!tokens.ok()) return "ERROR: " + tokens.status().message();
  std::string out;
  for (const Token& t : *tokens) {
    const char* kind = "?";
    switch (t.kind) {
      case TokenKind::kWord: kind = "W"; break;
      case TokenKind::kQuotedIdentifier: kind = "Q"; break;
      case TokenKind::kString: kind = "S"; break;
      case TokenKind::kNumber: kind = "N"; break;
      case TokenKind::kParameter: kind = "P"; break;
      case TokenKind::kPunct: kind = "."; break;
      case TokenKind::kOperator: kind = "O"; break;
      case TokenKind::kEnd: kind = "END"; break;
    }
    if (!out.empty()) out += ' ';
    out += std::string(kind) + ":" + std::string(t.text);
  }
  return out;
}

}  // namespace

TEST(LexerTest, Kinds) {
  EXPECT_EQ("W:SELECT N:1 O:+ N:2.5e-3 .:, S:'a''b' W:AS Q:\"X\" W:FROM W:t .:;",
            Describe("SELECT 1+2.5e-3, 'a''b' AS \"X\" FROM t;", kPg));
  EXPECT_EQ("W:a O::: W:int O:-> S:'k' O:<> N:0xFF", Describe("a::int->'k'<>0xFF", kPg));
  EXPECT_EQ("P:$1 O:|| S:$q$;$q$ .:$ W:x", Describe("$1||$q$;$q$ $ x", kPg));
  EXPECT_EQ("S:E'\\'' W:e S:'\\'", Describe("E'\\'' e '\\'", kPg));
  EXPECT_EQ("P:? P:?2 P::a P:@b P:$c Q:[x y] Q:`z`", Describe("? ?2 :a @b $c [x y] `z`", kLite));
  EXPECT_EQ("W:a$b N:1 O:- O:/", Describe("a$b 1 -/**/--\n/", kPg));
}

TEST(LexerTest, Positions) {
  auto tokens = Tokenize("/* a\n b */ x\n  'y\nz' w", kPg);
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(3u, tokens->size());
  EXPECT_EQ(2, (*tokens)[0].line);
  EXPECT_EQ(7, (*tokens)[0].column);
  EXPECT_EQ(3, (*tokens)[1].line);
  EXPECT_EQ(3, (*tokens)[1].column);
  EXPECT_EQ(4, (*tokens)[2].line);
  EXPECT_EQ(4, (*tokens)[2].column);
  EXPECT_EQ(21u, (*tokens)[2].offset);
}

TEST(LexerTest, IdentifierNames) {
  auto name = [](std::string_view sql, Dialect d) {
    auto tokens = Tokenize(sql, d);
    return tokens.ok() && tokens->size() == 1 ? IdentifierName((*tokens)[0], d) : "?";
  };
  EXPECT_EQ("users", name("Users", kPg));
  EXPECT_EQ("Users", name("Users", kLite));
  EXPECT_EQ("Us\"ers", name("\"Us\"\"ers\"", kPg));
  EXPECT_EQ("a\"b", name("[a\"b]", kLite));
  EXPECT_EQ("a`b", name("`a``b`", kLite));
  EXPECT_EQ("it's", name("'it''s'", kLite));
}

TEST(LexerTest, Quoting) {
  EXPECT_FALSE(NeedsQuotes("users_2", kPg));
  EXPECT_TRUE(NeedsQuotes("Users", kPg));
  EXPECT_FALSE(NeedsQuotes("Users", kLite));
  EXPECT_TRUE(NeedsQuotes("2users", kLite));
  EXPECT_TRUE(NeedsQuotes("select", kPg));
  EXPECT_TRUE(NeedsQuotes("Order", kLite));
  EXPECT_TRUE(NeedsQuotes("", kLite));
  EXPECT_EQ("\"a b\"", IdentifierSql("a b", kPg));
  EXPECT_EQ("\"a\"\"b\"", IdentifierSql("a\"b", kLite));
  EXPECT_EQ("plain", IdentifierSql("plain", kPg));
}
