// Deriving a down script from an up script, when the inverse is certain.
#pragma once

#include <string>
#include <vector>

#include "sql/dialect.h"
#include "sql/splitter.h"

namespace strata::sql {

struct Inverse {
  bool reversible = false;
  std::string down_script;  // when reversible: the inverse statements, last first, each ending ";\n"
  std::string reason;       // when not: "line 7: drops column users.email (no certain inverse)"
};

/// Inverts the statements that create something new or rename something:
/// CREATE TABLE (also AS), INDEX, VIEW, TRIGGER, SEQUENCE, SCHEMA, TYPE,
/// EXTENSION; ALTER TABLE ADD COLUMN, RENAME TO, RENAME COLUMN. Anything
/// else, and CREATE OR REPLACE / IF NOT EXISTS (the object may have existed
/// before), makes the whole script irreversible; the reason names the first
/// such statement that destroys data, else the first such statement. An
/// empty script is reversible with an empty down script.
Inverse DeriveInverse(const std::vector<Statement>& up, Dialect dialect);

}  // namespace strata::sql
