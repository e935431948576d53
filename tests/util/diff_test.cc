#include "util/diff.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(LineDiff, EqualTextsHaveNoDiff) { EXPECT_EQ(LineDiff("a\nb\n", "a\nb\n"), ""); }

TEST(LineDiff, ShowsRemovedBeforeAddedWithContext) {
  std::string before = "1\n2\n3\n4\n5\n6\n7\n";
  std::string after = "1\n2\n3\nfour\n5\n6\n7\n";
  EXPECT_EQ(LineDiff(before, after, 1), "@@ line 3 @@\n 3\n-4\n+four\n 5\n");
}

TEST(LineDiff, AddedAndRemovedLines) {
  EXPECT_EQ(LineDiff("a\nb\n", "a\nb\nc\n", 0), "@@ line 3 @@\n+c\n");
  EXPECT_EQ(LineDiff("a\nb\nc\n", "a\nc\n", 0), "@@ line 2 @@\n-b\n");
}

}  // namespace
}  // namespace strata
