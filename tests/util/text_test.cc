#include "util/text.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

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
