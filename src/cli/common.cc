#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "cli/cli.h"
#include "cli/config_file.h"
#include "engine/url.h"
#include "migration/migration.h"
#include "util/interrupt.h"

namespace strata::cli {

const CLI::Validator& DecimalVersion() {
  static const CLI::Validator validator(
      [](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
          return "a version is digits, as in the file names (0042 or 42): '" + text + "'";
        }
        size_t first = text.find_first_not_of('0');
        text = first == std::string::npos ? "0" : text.substr(first);
        // Beyond it CLI11 would store the largest version instead, and the
        // command act on a version nobody typed.
        constexpr std::string_view kMax = "9223372036854775807";
        if (text.size() > kMax.size() || (text.size() == kMax.size() && text > kMax)) {
          return "a version is at most " + std::string(kMax) + ", as in the file names: '" +
                 text + "'";
        }
        return "";
      },
      "VERSION");
  return validator;
}

CLI::Validator WholeNumberFrom(int64_t least) {
  return CLI::Validator(
      [least](const std::string& value) -> std::string {
        int64_t n = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || end != value.data() + value.size() || n < least) {
          return fmt::format("a whole number, at least {}, is needed here (got '{}')", least, value);
        }
        return "";
      },
      fmt::format("N >= {}", least));
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
  // A run stopped by a signal says so, unless it left something to settle.
  const bool interrupted = Interrupt::Requested() && status.code() != Code::kInProgress &&
                           status.code() != Code::kInternal;
  const std::string said = Interrupt::Describe();
  const std::string prefix =
      interrupted && status.message().find(said) == std::string::npos ? said + ": " : "";
  fmt::print(stderr, "strata: error: {}{}\n", prefix, RedactSecrets(status.message()));
  return interrupted ? kExitInterrupted : ExitCodeFor(status.code());
}

namespace {

int stop_pipe[2] = {-1, -1};
std::atomic<int> stop_signals{0};

extern "C" void OnStopSignal(int sig) {
  if (stop_signals.fetch_add(1) > 0) {  // the second: at once
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(sig);
  if (write(stop_pipe[1], &byte, 1) < 0) {
    // Nothing to do in a signal handler; the run goes on.
  }
  errno = saved;
}

}  // namespace

void StopGracefullyOnSignals() {
  if (stop_pipe[0] >= 0 || pipe2(stop_pipe, O_CLOEXEC) != 0) return;
  // Interrupt::Request takes a lock and cancels statements: not for a
  // signal handler, so the handler only wakes this thread.
  std::thread([] {
    unsigned char sig = 0;
    while (read(stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    const char* name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    fmt::print(stderr, "strata: {} received: stopping once the statement running is cancelled "
                       "and what it began is undone (a migration with a transaction rolled "
                       "back, a snapshot or restore not kept); send it again to stop at once\n",
               name);
    Interrupt::Request(name);
  }).detach();
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM}) {
    // One ignored stays ignored (SIGINT of a job a script started with &).
    struct sigaction before {};
    if (sigaction(sig, nullptr, &before) == 0 && before.sa_handler == SIG_IGN) continue;
    sigaction(sig, &action, nullptr);
  }
}

namespace {

/// What strata.toml may hold: each section's keys and the types they take.
struct ConfigKey {
  std::string_view section, key;
  toml::node_type type;
  std::string_view example;
  toml::node_type also = toml::node_type::none;  // a second type it takes
};

const ConfigKey kConfigKeys[] = {
    {"database", "url", toml::node_type::string, "\"sqlite:app.db\""},
    {"migrations", "dir", toml::node_type::string, "\"migrations\""},
    {"migrations", "lock_timeout", toml::node_type::string, "\"5s\""},
    {"lock", "timeout", toml::node_type::string, "\"10s\""},
    {"captures", "finalize_after", toml::node_type::string, "\"30d\""},
    {"snapshots", "dir", toml::node_type::string, "\".strata/snapshots\""},
    {"snapshots", "before_up", toml::node_type::boolean, "true"},
    {"snapshots", "max_auto_size", toml::node_type::string, "\"1GiB\"", toml::node_type::integer},
    {"snapshots", "pg_dump", toml::node_type::string, "\"pg_dump\""},
    {"snapshots", "compression_level", toml::node_type::integer, "1"},
};

std::string_view TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

std::string At(const std::string& path, const toml::source_region& region) {
  const auto& where = region.begin;
  return where.line > 0 ? fmt::format("{}:{}:{}", path, where.line, where.column) : path;
}

/// "[database] url, [migrations] dir, ... and [snapshots] dir, before_up, ...":
/// every key kConfigKeys lists, by section.
std::string KnownKeys() {
  std::vector<std::string> sections;
  std::string_view current;
  for (const ConfigKey& k : kConfigKeys) {
    if (k.section != current) {
      sections.push_back(fmt::format("[{}] {}", k.section, k.key));
      current = k.section;
    } else {
      sections.back() += fmt::format(", {}", k.key);
    }
  }
  std::string last = sections.back();
  sections.pop_back();
  return fmt::format("{}, {} and [placeholders] (Flyway's, any name)", fmt::join(sections, ", "),
                     last);
}

Status CheckConfig(const toml::table& config, const std::string& path) {
  for (const auto& [section, node] : config) {
    const std::string_view name = section.str();
    const auto* table = node.as_table();
    if (name == "placeholders" && table != nullptr) {
      // Flyway's ${name} values: any name, each a string.
      for (const auto& [key, value] : *table) {
        if (!value.is_string()) {
          return Status(Code::kInvalidArgument,
                        fmt::format("{}: [placeholders] {} is {}; write e.g. {} = \"value\"",
                                    At(path, value.source()), key.str(), TypeName(value.type()),
                                    key.str()));
        }
      }
      continue;
    }
    bool known = std::any_of(std::begin(kConfigKeys), std::end(kConfigKeys),
                             [&](const ConfigKey& k) { return k.section == name; });
    if (!known || table == nullptr) {
      return Status(Code::kInvalidArgument,
                    fmt::format("{}: {} (strata.toml takes {})",
                                At(path, table ? node.source() : section.source()),
                                table ? fmt::format("unknown section [{}]", name)
                                      : fmt::format("'{}' is outside any section", name),
                                KnownKeys()));
    }
    for (const auto& [key, value] : *table) {
      const ConfigKey* spec = nullptr;
      std::vector<std::string> keys;
      for (const ConfigKey& k : kConfigKeys) {
        if (k.section != name) continue;
        keys.emplace_back(k.key);
        if (k.key == key.str()) spec = &k;
      }
      if (spec == nullptr) {
        return Status(Code::kInvalidArgument,
                      fmt::format("{}: [{}] has no key '{}' (it takes: {})",
                                  At(path, key.source()), name, key.str(), fmt::join(keys, ", ")));
      }
      if (value.type() != spec->type && value.type() != spec->also) {
        return Status(Code::kInvalidArgument,
                      fmt::format("{}: [{}] {} is {}; write e.g. {} = {}",
                                  At(path, value.source()), name, key.str(),
                                  TypeName(value.type()), key.str(), spec->example));
      }
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::string> ConfigPath(const std::string& flag) {
  if (flag.empty()) return std::string(std::filesystem::exists("strata.toml") ? "strata.toml" : "");
  if (!std::filesystem::exists(flag)) {
    return Status(Code::kNotFound, fmt::format("config file '{}' does not exist", flag));
  }
  if (std::filesystem::is_directory(flag)) {
    return Status(Code::kInvalidArgument,
                  fmt::format("config file '{}' is a directory; --config names the file, as "
                              "in {}/strata.toml",
                              flag, flag));
  }
  return flag;
}

Result<toml::table> ReadConfigFile(const std::string& path) {
  toml::table config;
  try {
    config = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status(Code::kInvalidArgument, fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                                      e.source().begin.column, e.description()));
  }
  STRATA_RETURN_IF_ERROR(CheckConfig(config, path));
  return config;
}

namespace {

/// "strata.toml:4:11: [lock] timeout": where a value of the config file is,
/// for an error about it.
std::string ValueAt(const toml::table& t, const std::string& path, std::string_view table,
                    std::string_view key) {
  const toml::node* n = t[table][key].node();
  if (n == nullptr) return fmt::format("{}: [{}] {}", path, table, key);
  return fmt::format("{}:{}:{}: [{}] {}", path, n->source().begin.line, n->source().begin.column,
                     table, key);
}

}  // namespace

Result<MigratorOptions> ResolveOptions(const GlobalOptions& global, bool need_database) {
  MigratorOptions out;
  STRATA_ASSIGN_OR_RETURN(std::string config_path, ConfigPath(global.config));
  std::string config_url, config_dir, config_finalize_after, config_table_lock;
  std::optional<std::string> config_lock;  // given empty is not left out: "" is an error
  std::string lock_at, table_lock_at, finalize_after_at;  // where in the config file
  if (!config_path.empty()) {
    STRATA_ASSIGN_OR_RETURN(toml::table t, ReadConfigFile(config_path));
    config_url = t["database"]["url"].value_or(std::string());
    config_dir = t["migrations"]["dir"].value_or(std::string());
    config_table_lock = t["migrations"]["lock_timeout"].value_or(std::string());
    config_lock = t["lock"]["timeout"].value<std::string>();
    config_finalize_after = t["captures"]["finalize_after"].value_or(std::string());
    lock_at = ValueAt(t, config_path, "lock", "timeout");
    table_lock_at = ValueAt(t, config_path, "migrations", "lock_timeout");
    finalize_after_at = ValueAt(t, config_path, "captures", "finalize_after");
    if (const toml::table* values = t["placeholders"].as_table()) {
      for (const auto& [key, value] : *values) {
        out.placeholders[std::string(key.str())] = value.value_or(std::string());
      }
    }
  }
  const char* env_url = std::getenv("DATABASE_URL");
  out.database_url = !global.database.empty()    ? global.database
                     : (env_url && *env_url)      ? std::string(env_url)
                                                  : config_url;
  out.migrations_dir = !global.dir.empty() ? global.dir
                       : !config_dir.empty() ? config_dir
                                             : "migrations";
  const std::optional<std::string>& lock = global.lock_timeout ? global.lock_timeout : config_lock;
  if (lock) {
    auto t = ParseDuration(*lock);
    if (!t.ok()) return t.status().WithContext(global.lock_timeout ? "--lock-timeout" : lock_at);
    out.lock_timeout = *t;
  }
  if (!config_table_lock.empty()) {
    auto t = ParseDuration(config_table_lock);
    if (!t.ok()) return t.status().WithContext(table_lock_at);
    out.statement_lock_timeout = *t;
  }
  if (!config_finalize_after.empty()) {
    auto t = ParseDuration(config_finalize_after);
    if (!t.ok()) return t.status().WithContext(finalize_after_at);
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

bool RanUncaptured(std::string_view down_source, bool irreversible) {
  return irreversible && down_source != "none" && down_source != "baseline";
}

bool HasWayBack(std::string_view down_source, bool irreversible) {
  return !irreversible && down_source != "none" && down_source != "baseline";
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
