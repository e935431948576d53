#include "rehearse/risk.h"

#include <algorithm>
#include <cctype>

#include "sql/classify.h"
#include "sql/lexer.h"
#include "util/text.h"

namespace strata {
namespace {

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

/// Whether PostgreSQL fills a column `add` (ADD COLUMN, lower case) adds by
/// rewriting every row: a stored generated column, a serial or identity
/// column, or a volatile default. A constant or stable default (now()) is
/// kept in the catalog instead (PostgreSQL 11 and later).
bool AddColumnRewrites(const std::string& add) {
  auto words = sql::Tokenize(add, sql::Dialect::kPostgres);
  if (!words.ok()) return false;
  for (size_t i = 0; i < words->size(); ++i) {
    const sql::Token& w = (*words)[i];
    for (const char* type : {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}) {
      if (w.IsWord(type)) return true;
    }
    if (w.IsWord("identity") || (w.IsWord("stored") && Contains(add, "generated"))) return true;
  }
  for (const char* call : {"random(", "gen_random_uuid(", "uuid_generate_v", "clock_timestamp(",
                           "timeofday(", "nextval("}) {
    if (Contains(add, call)) return true;
  }
  return false;
}

}  // namespace

std::vector<Risk> AssessRisks(const std::vector<sql::Statement>& up, const RiskFacts& facts) {
  const bool pg = facts.dialect == sql::Dialect::kPostgres;
  std::vector<std::string> created;  // by a statement before, lower case: new and empty
  auto existed = [&](const std::string& table) {
    if (std::find(created.begin(), created.end(), AsciiLower(table)) != created.end()) return false;
    return std::any_of(facts.existing_tables.begin(), facts.existing_tables.end(),
                       [&](const std::string& t) { return AsciiLower(t) == AsciiLower(table); });
  };
  std::vector<Risk> risks;
  for (const sql::Statement& st : up) {
    sql::StatementInfo info = sql::Classify(st.text, facts.dialect);
    if (info.table.empty()) info.table = info.object;
    // (IF NOT EXISTS over a table that is there creates nothing.)
    if (info.kind == sql::StatementKind::kCreateTable && !info.from_query &&
        !(info.if_not_exists && existed(info.object))) {
      created.push_back(AsciiLower(info.object));
    }
    std::string where = " (line " + std::to_string(st.line) + ")";
    if (info.destructive) risks.push_back({"destructive", info.summary + where});
    // What a DO block's body writes runs now; a CREATE FUNCTION's body
    // (which lists its writes too) runs only when something calls it.
    const bool do_block = info.kind == sql::StatementKind::kOther && info.summary == "runs DO";
    if (!info.destructive && do_block && !info.writes.empty()) {
      std::string tables;
      for (const std::string& t : info.writes) tables += (tables.empty() ? "" : ", ") + t;
      risks.push_back({"destructive", "runs a DO block whose body writes, deletes or drops rows "
                                      "of " + tables + where});
    }
    // A table made by a statement before holds only the migration's rows:
    // rewriting it keeps no one waiting.
    const bool made_here =
        std::find(created.begin(), created.end(), AsciiLower(info.table)) != created.end();
    if (info.kind == sql::StatementKind::kAlterColumnType && !made_here) {
      risks.push_back({"table-rewrite",
                       "rewrites " + info.table + (pg ? " under an ACCESS EXCLUSIVE lock" : "") + where,
                       info.table});
    }
    if (!pg || !existed(info.table)) continue;  // locks on a new table block no one
    if (info.kind == sql::StatementKind::kCreateIndex && !info.concurrently) {
      risks.push_back({"lock", "CREATE INDEX without CONCURRENTLY blocks writes to " + info.table +
                                   " while it builds" + where});
    }
    std::string text = AsciiLower(st.text);
    if ((info.kind == sql::StatementKind::kAlterOther || info.kind == sql::StatementKind::kAddColumn) &&
        Contains(text, "add constraint") &&
        (Contains(text, "foreign key") || Contains(text, "check")) && !Contains(text, "not valid")) {
      risks.push_back({"lock", "validates a new constraint on every row of " + info.table +
                                   " while holding its lock (ADD ... NOT VALID, then VALIDATE "
                                   "CONSTRAINT, avoids it)" + where});
    }
    if (info.kind == sql::StatementKind::kAddColumn && AddColumnRewrites(text)) {
      risks.push_back({"table-rewrite", "fills the new column of every row of " + info.table +
                                            ", rewriting it under an ACCESS EXCLUSIVE lock" + where});
    }
    if (info.kind == sql::StatementKind::kAlterOther && Contains(text, "set not null")) {
      risks.push_back({"lock", "SET NOT NULL scans every row of " + info.table +
                                   " under an ACCESS EXCLUSIVE lock" + where});
    }
  }
  if (facts.no_transaction) {
    risks.push_back({"no-transaction", "runs without a transaction: a failure part-way leaves the "
                                       "statements before it applied (failure injection skipped)"});
  }
  if (facts.irreversible) {
    risks.push_back({"irreversible", "no down script and no derivable inverse: down not rehearsed"});
  }
  return risks;
}

}  // namespace strata
