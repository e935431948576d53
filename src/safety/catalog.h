// Catalog: the engine-specific half of the schema fingerprint.
//
// Each engine reads its system catalog and describes every user object of the
// managed schema as a SchemaObject: a kind, a name and a list of facts, each
// already in a canonical, engine-specific spelling. fingerprint.cc sorts and
// renders them and never asks which engine it is on. Strata's own objects
// (strata_*) are left out.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "strata/database.h"

namespace strata {

struct SchemaObject {
  std::string kind;                // "table", "index", "view", "trigger", ...
  std::string name;                // unique within its kind
  std::vector<std::string> facts;  // in a stable order; a fact may span lines
  std::string table;               // tables, their indexes and triggers: the table; else ""
};

class Catalog {
 public:
  virtual ~Catalog() = default;
  /// All user objects of the managed schema, in any order; with `tables`,
  /// only those tables and their indexes and triggers (cheap to read after
  /// each migration of a long run).
  virtual Result<std::vector<SchemaObject>> Objects(
      const std::vector<std::string>* tables = nullptr) = 0;
};

/// The catalog reader for `db`'s engine. `db` must outlive it.
std::unique_ptr<Catalog> NewCatalog(Database& db);

std::unique_ptr<Catalog> NewSqliteCatalog(Database& db);
std::unique_ptr<Catalog> NewPostgresCatalog(Database& db);

}  // namespace strata
