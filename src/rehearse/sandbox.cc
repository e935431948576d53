#include "rehearse/sandbox.h"

#include "engine/url.h"

namespace strata {

Result<std::unique_ptr<Sandbox>> CreateSandbox(std::string_view target_url, SandboxContent content) {
  STRATA_ASSIGN_OR_RETURN(DatabaseUrl parsed, ParseDatabaseUrl(target_url));
  switch (parsed.engine) {
    case Engine::kSqlite: return CreateSqliteSandbox(parsed.target, content);
    case Engine::kPostgres: return CreatePostgresSandbox(parsed.target, content);
  }
  return Status(Code::kInternal, "unknown engine");
}

}  // namespace strata
