#include "cli/snapshot_config.h"
#include "cli/config_file.h"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "engine/url.h"
#include "history/lock.h"
#include "snapshot/snapshot.h"
#include "util/interrupt.h"

namespace strata::cli {

Result<uint64_t> ParseSize(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return Status(Code::kInvalidArgument, fmt::format("'{}' is not a size (e.g. 512MiB, 2GB)", text));
  uint64_t n = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + i, n);
  if (err != std::errc()) {
    return Status(Code::kInvalidArgument, fmt::format("'{}' is too large a size", text));
  }
  std::string unit;
  for (char c : text.substr(i)) {
    if (c != ' ') unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1},          {"b", 1},           {"kb", 1000},       {"kib", 1ull << 10},
      {"mb", 1000000},  {"mib", 1ull << 20}, {"gb", 1000000000}, {"gib", 1ull << 30},
      {"tb", 1000000000000ull}, {"tib", 1ull << 40}};
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    if (n > UINT64_MAX / scale) {
      return Status(Code::kInvalidArgument, fmt::format("'{}' is too large a size", text));
    }
    return n * scale;
  }
  return Status(Code::kInvalidArgument, fmt::format("'{}' is not a size (e.g. 512MiB, 2GB)", text));
}

Result<SnapshotConfig> LoadSnapshotConfig(const GlobalOptions& global, const std::string& store_flag) {
  SnapshotConfig config;
  STRATA_ASSIGN_OR_RETURN(std::string path, ConfigPath(global.config));
  if (!path.empty()) {
    STRATA_ASSIGN_OR_RETURN(toml::table t, ReadConfigFile(path));
    const auto& s = t["snapshots"];
    config.dir = s["dir"].value_or(config.dir);
    config.before_up = s["before_up"].value_or(config.before_up);
    config.pg_dump = s["pg_dump"].value_or(config.pg_dump);
    if (auto level = s["compression_level"].value<int64_t>()) {
      if (*level < -7 || *level > 19) {
        return Status(Code::kInvalidArgument,
                      fmt::format("{}: [snapshots] compression_level = {}: give a zstd level "
                                  "from -7 (fastest) to 19 (smallest)",
                                  path, *level));
      }
      config.compression_level = static_cast<int>(*level);
    }
    if (auto size = s["max_auto_size"].value<std::string>()) {
      auto parsed = ParseSize(*size);
      if (!parsed.ok()) return parsed.status().WithContext(path + ": [snapshots] max_auto_size");
      config.max_auto_size = *parsed;
    } else if (auto bytes = s["max_auto_size"].value<int64_t>()) {
      if (*bytes < 0) {
        return Status(Code::kInvalidArgument,
                      fmt::format("{}: [snapshots] max_auto_size = {}: give a size of 0 or more "
                                  "(e.g. \"1GiB\")",
                                  path, *bytes));
      }
      config.max_auto_size = static_cast<uint64_t>(*bytes);
    }
  }
  if (!store_flag.empty()) config.dir = store_flag;
  return config;
}

void PrintNotes(const std::vector<std::string>& notes) {
  for (const std::string& note : notes) fmt::print("note: {}\n", note);
}

void PrintNotes(const snapshot::Manifest& m) { PrintNotes(m.notes); }

Result<std::unique_ptr<snapshot::SnapshotStore>> OpenStore(const SnapshotConfig& config, bool create) {
  std::error_code ec;
  if (!create && !std::filesystem::is_directory(config.dir, ec)) {
    return Status(Code::kNotFound,
                  fmt::format("no snapshot store at '{}': no snapshot was taken there (`strata "
                              "snapshot create` makes one; --store or [snapshots] dir in "
                              "strata.toml names another)",
                              config.dir));
  }
  snapshot::StoreOptions options;
  options.compression_level = config.compression_level;
  if (const char* fail = std::getenv("STRATA_TEST_STORE_FAIL_AFTER_BYTES")) {
    options.fail_after_bytes = std::atoll(fail);
  }
  return snapshot::SnapshotStore::Open(config.dir, options);
}

Result<std::string> TakeRestorationPoint(const SnapshotConfig& config, const std::string& url,
                                         Database& db, std::chrono::milliseconds lock_timeout) {
  if (db.engine() == Engine::kPostgres) {
    STRATA_ASSIGN_OR_RETURN(Rows rows, db.Query("SELECT pg_database_size(current_database())"));
    uint64_t size = rows.empty() ? 0 : static_cast<uint64_t>(rows.rows[0][0].ToInt());
    if (size > config.max_auto_size) {
      std::fflush(stdout);
      fmt::print(stderr,
                 "strata: note: no snapshot before this run: the database holds {}, over "
                 "[snapshots] max_auto_size = {}; history records the WAL position of each "
                 "migration for point-in-time recovery (`strata show V`)\n",
                 snapshot::FormatBytes(size), snapshot::FormatBytes(config.max_auto_size));
      return std::string();
    }
  }
  STRATA_ASSIGN_OR_RETURN(auto store, OpenStore(config));
  snapshot::CreateOptions options;
  options.reason = "before up";
  options.pg_dump = config.pg_dump;
  options.lock_timeout = lock_timeout;
  options.write_lock_held = db.engine() == Engine::kSqlite && db.InTransaction();
  auto bar = snapshot::TerminalProgress(stderr);
  options.progress = bar.get();
  auto m = snapshot::CreateSnapshot(*store, url, options);
  if (!m.ok() && Interrupt::Requested()) {
    return m.status().WithContext("taking the snapshot before applying (nothing was applied)");
  }
  if (!m.ok()) {
    // A store that cannot be written (a full disk) is the usual cause.
    const bool store = m.status().code() == Code::kIOError;
    return m.status().WithContext(fmt::format(
        "taking the snapshot before applying into {} (nothing was applied; {}, or skip the "
        "snapshot with `strata up --no-snapshot`)",
        config.dir, store ? "free space there, e.g. with `strata snapshot prune`" : "fix the cause"));
  }
  fmt::print("snapshot {} taken before applying ({} added to {})\n", m->id,
             snapshot::FormatBytes(m->added_bytes), config.dir);
  PrintNotes(*m);
  std::fflush(stdout);
  return m->id;
}

Status Confirm(const std::string& question, bool yes) {
  if (yes) return Status::OK();
  if (!isatty(STDIN_FILENO)) {
    return Status(Code::kIrreversible,
                  question + " There is no terminal to ask on: pass --yes to confirm.");
  }
  std::fflush(stdout);
  fmt::print(stderr, "{} [y/N] ", question);
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) answer.clear();
  if (answer == "y" || answer == "Y" || answer == "yes" || answer == "YES") return Status::OK();
  return Status(Code::kIrreversible, "not confirmed; nothing was changed");
}

Status RestoreOverTarget(const MigratorOptions& options, const SnapshotConfig& config,
                         snapshot::SnapshotStore& store, const snapshot::Manifest& m, bool yes,
                         const std::string& question, std::vector<std::string>* notes) {
  STRATA_RETURN_IF_ERROR(snapshot::CheckRestorableInPlace(m, options.database_url));
  STRATA_RETURN_IF_ERROR(snapshot::CheckChunksPresent(store, m));
  STRATA_RETURN_IF_ERROR(Confirm(question, yes));
  LockOwner owner = CurrentOwner(options.actor);
  STRATA_ASSIGN_OR_RETURN(
      auto lock, MigrationLock::Acquire(options.database_url, options.session_sql, owner,
                                        options.lock_timeout, [](const std::string& holder) {
                                          fmt::print("waiting for the migration lock, held by {}\n",
                                                     holder);
                                          std::fflush(stdout);
                                        }));
  auto bar = snapshot::TerminalProgress(stderr);
  snapshot::CreateOptions create;
  create.reason = "before restore";
  create.label = "before restoring " + m.id;
  create.pg_dump = config.pg_dump;
  create.lock_timeout = options.lock_timeout;
  create.progress = bar.get();
  create.check_reused = true;
  // Watching from before the snapshot of the current state is taken: what
  // another connection commits after it read the target is refused by the
  // restore (SQLite), not lost.
  auto watch = snapshot::WatchTarget(options.database_url);
  if (!watch.ok()) {
    return watch.status().WithContext("opening the target before the snapshot of its current "
                                      "state (nothing was restored)");
  }
  auto before = snapshot::CreateSnapshot(store, options.database_url, create);
  if (!before.ok()) {
    return before.status().WithContext("taking a snapshot of the current state first (nothing "
                                       "was restored)");
  }
  fmt::print("snapshot {} of the current state taken first (`strata snapshot restore {}` undoes "
             "this restore)\n",
             before->id, before->id);
  std::fflush(stdout);
  snapshot::RestoreOptions restore;
  restore.replace = true;
  restore.progress = bar.get();
  restore.lock_owner = &owner;
  restore.lock_timeout = options.lock_timeout;
  restore.unchanged_since = &*before;
  restore.watch = watch->get();
  restore.notes = notes;
  return snapshot::RestoreSnapshot(store, m, options.database_url, restore);
}

}  // namespace strata::cli
