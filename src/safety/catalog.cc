#include "safety/catalog.h"

namespace strata {

std::unique_ptr<Catalog> NewCatalog(Database& db) {
  switch (db.engine()) {
    case Engine::kSqlite: return NewSqliteCatalog(db);
    case Engine::kPostgres: return NewPostgresCatalog(db);
  }
  return nullptr;
}

}  // namespace strata
