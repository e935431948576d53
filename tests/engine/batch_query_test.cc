#include "engine/postgres/batch_query.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

Result<std::string> Quote(const Value& v) {
  if (v.is_null()) return std::string("NULL");
  return "'" + v.ToString() + "'";
}

TEST(BatchQuery, JoinsStatementsAndWritesParametersAsLiterals) {
  size_t failed = 99;
  auto query = BuildBatchQuery({{"BEGIN", {}},
                                {"INSERT INTO t VALUES ($1, $2, '$1', \"$2\", $$ $1 $$) -- $2", {7, nullptr}},
                                {"SELECT $10", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
                                {"COMMIT", {}}},
                               Quote, &failed);
  ASSERT_TRUE(query.ok()) << query.status().message();
  EXPECT_EQ(query->text,
            "BEGIN\n;INSERT INTO t VALUES ('7', NULL, '$1', \"$2\", $$ $1 $$) -- $2\n;"
            "SELECT '10'\n;COMMIT\n;");
  EXPECT_EQ(query->starts, (std::vector<size_t>{0, 7, query->text.find("SELECT"),
                                                 query->text.find("COMMIT")}));
  EXPECT_EQ(failed, 99u);
}

TEST(BatchQuery, MissingParameterNamesItsStatement) {
  size_t failed = 99;
  auto query = BuildBatchQuery({{"BEGIN", {}}, {"SELECT $2", {1}}}, Quote, &failed);
  EXPECT_FALSE(query.ok());
  EXPECT_EQ(failed, 1u);
  EXPECT_EQ(query.status().message(), "parameter $2 of 1 given");
}

TEST(BatchQuery, PositionsAreCountedInCharacters) {
  size_t failed = 0;
  // "é" and "€" take 2 and 3 bytes: character 14 is the 'S' of SELECT.
  auto query = BuildBatchQuery({{"SELECT 'é€'", {}}, {"SELECT 2", {}}}, Quote, &failed);
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->StatementAt(1), 0u);
  EXPECT_EQ(query->StatementAt(13), 0u);  // the ';' ending the first
  EXPECT_EQ(query->StatementAt(14), 1u);
  EXPECT_EQ(query->StatementAt(1000), 1u);
}

}  // namespace
}  // namespace strata
