#include "rehearse/risk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strata {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<Risk> Assess(const std::string& script, RiskFacts facts) {
  auto statements = sql::SplitStatements(script, facts.dialect);
  EXPECT_TRUE(statements.ok()) << statements.status().message();
  return AssessRisks(*statements, facts);
}

std::vector<std::string> Tags(const std::vector<Risk>& risks) {
  std::vector<std::string> tags;
  for (const Risk& r : risks) tags.push_back(r.tag);
  return tags;
}

RiskFacts Postgres(std::vector<std::string> existing = {"orders"}) {
  return RiskFacts{sql::Dialect::kPostgres, std::move(existing), false, false};
}

TEST(RiskTest, AdditiveMigrationHasNone) {
  EXPECT_THAT(Assess("CREATE TABLE t (id INTEGER PRIMARY KEY);\nALTER TABLE t ADD COLUMN x TEXT;\n",
                     RiskFacts{}),
              IsEmpty());
}

TEST(RiskTest, DestructiveStatementsAreNamedWithTheirLine) {
  auto risks = Assess("UPDATE orders SET total = 0;\nALTER TABLE orders DROP COLUMN note;\n", RiskFacts{});
  ASSERT_THAT(Tags(risks), ElementsAre("destructive", "destructive"));
  EXPECT_EQ(risks[0].detail, "updates every row of orders (line 1)");
  EXPECT_THAT(risks[1].detail, HasSubstr("drops column orders.note (line 2)"));
}

TEST(RiskTest, IndexWithoutConcurrentlyLocksAnExistingTableOnPostgres) {
  auto risks = Assess("CREATE INDEX orders_status ON orders (status);", Postgres());
  ASSERT_THAT(Tags(risks), ElementsAre("lock"));
  EXPECT_THAT(risks[0].detail, HasSubstr("without CONCURRENTLY blocks writes to orders"));
  EXPECT_THAT(Assess("CREATE INDEX CONCURRENTLY orders_status ON orders (status);", Postgres()), IsEmpty());
  // A table the migration itself creates is used by no one yet.
  EXPECT_THAT(Assess("CREATE TABLE lines (id int);\nCREATE INDEX lines_id ON lines (id);", Postgres()),
              IsEmpty());
  // SQLite has one writer at a time anyway.
  EXPECT_THAT(Assess("CREATE INDEX orders_status ON orders (status);", RiskFacts{}), IsEmpty());
}

TEST(RiskTest, TypeChangeRewritesTheTable) {
  auto risks = Assess("ALTER TABLE orders ALTER COLUMN total TYPE numeric;", Postgres());
  EXPECT_THAT(Tags(risks), ::testing::Contains("table-rewrite"));
}

TEST(RiskTest, ConstraintValidationAndSetNotNullScanUnderLock) {
  auto risks = Assess(
      "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) "
      "REFERENCES customers (id);\n"
      "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total >= 0) NOT VALID;\n"
      "ALTER TABLE orders ALTER COLUMN total SET NOT NULL;\n",
      Postgres());
  ASSERT_THAT(Tags(risks), ElementsAre("lock", "lock"));
  EXPECT_THAT(risks[0].detail, HasSubstr("NOT VALID"));
  EXPECT_THAT(risks[1].detail, HasSubstr("SET NOT NULL"));
}

TEST(RiskTest, NoTransactionAndIrreversibleConcernTheWholeMigration) {
  RiskFacts facts;
  facts.no_transaction = true;
  facts.irreversible = true;
  EXPECT_THAT(Tags(Assess("SELECT 1;", facts)), ElementsAre("no-transaction", "irreversible"));
}

}  // namespace
}  // namespace strata
