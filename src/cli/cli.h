// Shared pieces of the strata command: exit codes, configuration, printing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "strata/migrator.h"
#include "strata/status.h"

namespace strata::cli {

/// Exit codes; docs/exit-codes.md lists the same table.
enum ExitCode {
  kExitOk = 0,
  kExitMigrationFailed = 1,  // a migration or rollback failed and was undone
  kExitUsage = 2,            // bad flags, configuration, URL or migration files
  kExitLocked = 3,           // another strata run holds the lock
  kExitUnavailable = 4,      // cannot connect to the database
  kExitIrreversible = 5,     // refused: no way back (needs --allow-irreversible)
  kExitVerifyFailed = 6,     // a check after a step found a difference
  kExitConflict = 7,         // history and files disagree (changed/missing/out of order)
  kExitInProgress = 8,       // a no-transaction migration was left half applied
  kExitInternal = 70,
  kExitInterrupted = 130,    // stopped by SIGINT or SIGTERM, the running migration undone
};

int ExitCodeFor(Code code);

/// For commands that run migrations (up, down, rehearse): the first SIGINT
/// or SIGTERM asks the run to stop (Interrupt): the statement running is
/// cancelled and its migration rolled back, the ones before it stay, the
/// lock and sandboxes are released, and the command exits 130. A second
/// signal ends the process at once.
void StopGracefullyOnSignals();

/// For options that take a migration version: digits, read in decimal as
/// file names are ("0010" is ten; CLI11 alone would read it as octal eight).
const CLI::Validator& DecimalVersion();

/// For options that take a count: a whole number of at least `least`, said
/// so when it is not (CLI11's own range checks print the double range).
CLI::Validator WholeNumberFrom(int64_t least);

/// Options every command accepts, resolved against DATABASE_URL and strata.toml.
struct GlobalOptions {
  std::string database;  // --database
  std::string dir;       // --dir
  std::string config;    // --config
  std::optional<std::string> lock_timeout;  // --lock-timeout (given empty: an error)
};

/// Reads strata.toml (when present) and the environment to fill in what the
/// flags left empty: --database, then DATABASE_URL, then [database] url;
/// --dir, then [migrations] dir, then "migrations".
Result<MigratorOptions> ResolveOptions(const GlobalOptions& global, bool need_database);

/// Prints "strata: error: message" (secrets redacted) and returns the exit code.
int Fail(const Status& status);

/// Opens the migrator for a command; on failure prints and sets `exit_code`.
/// Only `up` passes `create_database` (see MigratorOptions).
std::unique_ptr<Migrator> OpenMigrator(const GlobalOptions& global, bool need_database,
                                       int* exit_code, bool create_database = false);

/// Prints migrator events as progress lines on stdout.
void PrintEvent(const Event& event);

/// Of a migration applied with `down_source` ("file", "derived", "none",
/// "baseline") and history's `irreversible`: whether a down script was
/// stored that cannot undo it (a change ran uncaptured, --allow-irreversible),
/// and whether it has a way back at all.
bool RanUncaptured(std::string_view down_source, bool irreversible);
bool HasWayBack(std::string_view down_source, bool irreversible);

/// One command: adds itself to `app`; its callback stores the exit code.
using CommandSetup = void (*)(CLI::App& app, GlobalOptions& global, int& exit_code);

void SetupInit(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupNew(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupStatus(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupUp(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupDown(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupValidate(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupResolve(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupFinalize(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupBaseline(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupSeed(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupFingerprint(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupDiff(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupSnapshot(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupRestore(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupShow(CLI::App& app, GlobalOptions& global, int& exit_code);
void SetupRehearse(CLI::App& app, GlobalOptions& global, int& exit_code);

}  // namespace strata::cli
