#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "cli/cli.h"
#include "engine/url.h"
#include "migration/migration.h"

namespace strata::cli {

const CLI::Validator& DecimalVersion() {
  static const CLI::Validator validator(
      [](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
          return "a version is digits, as in the file names (0042 or 42): '" + text + "'";
        }
        size_t first = text.find_first_not_of('0');
        text = first == std::string::npos ? "0" : text.substr(first);
        return "";
      },
      "VERSION");
  return validator;
}

int ExitCodeFor(Code code) {
  switch (code) {
    case Code::kOk: return kExitOk;
    case Code::kInvalidArgument:
    case Code::kNotFound:
    case Code::kIOError:
    case Code::kParse: return kExitUsage;
    case Code::kDatabase: return kExitMigrationFailed;
    case Code::kUnavailable: return kExitUnavailable;
    case Code::kLocked: return kExitLocked;
    case Code::kIrreversible: return kExitIrreversible;
    case Code::kConflict: return kExitConflict;
    case Code::kInProgress: return kExitInProgress;
    case Code::kVerifyFailed: return kExitVerifyFailed;
    case Code::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

int Fail(const Status& status) {
  std::fflush(stdout);
  fmt::print(stderr, "strata: error: {}\n", RedactSecrets(status.message()));
  return ExitCodeFor(status.code());
}

Result<MigratorOptions> ResolveOptions(const GlobalOptions& global, bool need_database) {
  MigratorOptions out;
  std::string config_path = global.config;
  bool explicit_config = !config_path.empty();
  if (!explicit_config && std::filesystem::exists("strata.toml")) config_path = "strata.toml";
  std::string config_url, config_dir, config_lock, config_finalize_after;
  if (!config_path.empty()) {
    if (explicit_config && !std::filesystem::exists(config_path)) {
      return Status(Code::kNotFound, fmt::format("config file '{}' does not exist", config_path));
    }
    try {
      toml::table t = toml::parse_file(config_path);
      config_url = t["database"]["url"].value_or(std::string());
      config_dir = t["migrations"]["dir"].value_or(std::string());
      config_lock = t["lock"]["timeout"].value_or(std::string());
      config_finalize_after = t["captures"]["finalize_after"].value_or(std::string());
    } catch (const toml::parse_error& e) {
      return Status(Code::kInvalidArgument,
                    fmt::format("{}:{}:{}: {}", config_path, e.source().begin.line,
                                e.source().begin.column, e.description()));
    }
  }
  const char* env_url = std::getenv("DATABASE_URL");
  out.database_url = !global.database.empty()    ? global.database
                     : (env_url && *env_url)      ? std::string(env_url)
                                                  : config_url;
  out.migrations_dir = !global.dir.empty() ? global.dir
                       : !config_dir.empty() ? config_dir
                                             : "migrations";
  std::string lock = !global.lock_timeout.empty() ? global.lock_timeout : config_lock;
  if (!lock.empty()) {
    auto t = ParseDuration(lock);
    if (!t.ok()) return t.status().WithContext("lock timeout");
    out.lock_timeout = *t;
  }
  if (!config_finalize_after.empty()) {
    auto t = ParseDuration(config_finalize_after);
    if (!t.ok()) return t.status().WithContext(config_path + ": [captures] finalize_after");
    out.finalize_after = *t;
  }
  if (need_database && out.database_url.empty()) {
    return Status(Code::kInvalidArgument,
                  "no database given: pass --database URL, set DATABASE_URL, or set [database] "
                  "url in strata.toml (e.g. sqlite:app.db or postgres://user@host:5432/db)");
  }
  return out;
}

std::unique_ptr<Migrator> OpenMigrator(const GlobalOptions& global, bool need_database,
                                       int* exit_code, bool create_database) {
  auto options = ResolveOptions(global, need_database);
  if (!options.ok()) {
    *exit_code = Fail(options.status());
    return nullptr;
  }
  options->create_database = create_database;
  auto migrator = Migrator::Open(*options);
  if (!migrator.ok()) {
    *exit_code = Fail(migrator.status());
    return nullptr;
  }
  return std::move(migrator).value();
}

void PrintEvent(const Event& e) {
  switch (e.kind) {
    case Event::Kind::kWaitingForLock:
      fmt::print("waiting for the migration lock, held by {}\n", e.detail);
      break;
    case Event::Kind::kApplying: fmt::print("applying    {} ... ", e.id); break;
    case Event::Kind::kRollingBack: fmt::print("rolling back {} ... ", e.id); break;
    case Event::Kind::kApplied:
    case Event::Kind::kRolledBack: fmt::print("ok ({} ms)\n", e.duration_ms); break;
    case Event::Kind::kFailed: fmt::print("FAILED ({} ms)\n", e.duration_ms); break;
  }
  std::fflush(stdout);
}

}  // namespace strata::cli
