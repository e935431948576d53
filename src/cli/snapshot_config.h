// The [snapshots] section of strata.toml, and the restoration point `up`
// takes before it applies anything.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "cli/cli.h"
#include "snapshot/progress.h"
#include "snapshot/store.h"

namespace strata::cli {

struct SnapshotConfig {
  std::string dir = ".strata/snapshots";
  bool before_up = true;
  uint64_t max_auto_size = 1ull << 30;  // PostgreSQL: no automatic snapshot above this
  std::string pg_dump = "pg_dump";
  int compression_level = snapshot::kDefaultCompressionLevel;  // zstd, -7..19
};

/// Reads [snapshots] from the project file (as ResolveOptions finds it);
/// `store_flag` (--store) overrides the directory.
Result<SnapshotConfig> LoadSnapshotConfig(const GlobalOptions& global,
                                          const std::string& store_flag = "");

/// Prints each of the snapshot's notes (what it does not hold) as "note: ...".
void PrintNotes(const snapshot::Manifest& m);
void PrintNotes(const std::vector<std::string>& notes);

/// Opens the store. STRATA_TEST_STORE_FAIL_AFTER_BYTES=N makes its writes
/// fail as on a full disk after N bytes (for tests of that failure).
/// Without `create`, a store that does not exist is an error (kNotFound):
/// a command that only reads or restores makes no directories.
Result<std::unique_ptr<snapshot::SnapshotStore>> OpenStore(const SnapshotConfig& config,
                                                           bool create = true);

/// "512MiB", "1 GB", "2048" (bytes) -> bytes.
Result<uint64_t> ParseSize(std::string_view text);

/// Takes the snapshot `up` records in history, or returns "" when it is off
/// for this database (PostgreSQL above max_auto_size; says so on stderr).
/// Its reads wait up to `lock_timeout` for another session's table lock.
Result<std::string> TakeRestorationPoint(const SnapshotConfig& config, const std::string& url,
                                         Database& db, std::chrono::milliseconds lock_timeout);

/// Restores `m` over the database of `options`: asks `question` first
/// (unless `yes`), takes the migration lock and a snapshot of the current
/// state, then restores and checks the fingerprints. A restore that would be
/// refused for what it drops is refused before anything is asked or taken.
/// What the restore left out goes to `notes`.
Status RestoreOverTarget(const MigratorOptions& options, const SnapshotConfig& config,
                         snapshot::SnapshotStore& store, const snapshot::Manifest& m, bool yes,
                         const std::string& question, std::vector<std::string>* notes);

/// Asks "question [y/N]" on the terminal. Without a terminal, or when the
/// answer is not yes, fails with a message that names `--yes`.
Status Confirm(const std::string& question, bool yes);

}  // namespace strata::cli
