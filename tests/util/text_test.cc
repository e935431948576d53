#include "util/text.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(IsUtf8, AcceptsWellFormedTextOnly) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("plain ascii"));
  EXPECT_TRUE(IsUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_FALSE(IsUtf8("caf\xe9"));             // Latin-1
  EXPECT_FALSE(IsUtf8("\xc3"));                // cut short
  EXPECT_FALSE(IsUtf8("\xc0\xaf"));            // overlong '/'
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));        // a surrogate
  EXPECT_FALSE(IsUtf8("\xf4\x90\x80\x80"));    // above U+10FFFF
  EXPECT_FALSE(IsUtf8("\x80"));                // a continuation alone
}

TEST(SqlLiteral, DoublesQuotesAndKeepsEverythingElse) {
  EXPECT_EQ(SqlLiteral(""), "''");
  EXPECT_EQ(SqlLiteral("it's"), "'it''s'");
  EXPECT_EQ(SqlLiteral("a\\b\"c"), "'a\\b\"c'");  // backslashes are plain characters
  EXPECT_EQ(SqlLiteral("''"), "''''''");
}

TEST(AsciiCase, ChangesOnlyAsciiLetters) {
  EXPECT_EQ(AsciiLower("ÀbC_1"), "Àbc_1");
  EXPECT_EQ(AsciiUpper("àBc_1"), "àBC_1");
}

}  // namespace
}  // namespace strata
