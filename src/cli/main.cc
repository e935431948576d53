// strata: the command-line front end. Each command lives in cmd_<name>.cc;
// this file holds the table and the global flags.
#include <cstdio>

#include "cli/cli.h"

namespace strata::cli {
namespace {

constexpr CommandSetup kCommands[] = {
    SetupInit, SetupNew, SetupStatus, SetupUp, SetupDown, SetupValidate, SetupResolve,
    SetupBaseline, SetupFinalize,
    SetupSeed,
    SetupFingerprint,
    SetupDiff,
    SetupSnapshot, SetupRestore, SetupShow,
    SetupRehearse,
};

}  // namespace
}  // namespace strata::cli

int main(int argc, char** argv) {
  using namespace strata::cli;
  CLI::App app{"strata: schema migrations with a verified way back"};
  app.set_version_flag("--version", "strata 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions global;
  app.add_option("-d,--database", global.database,
                 "database URL: sqlite:path/app.db or postgres://user@host:port/db "
                 "(default: DATABASE_URL, then strata.toml)");
  app.add_option("--dir", global.dir, "migrations directory (default: strata.toml, then migrations/)");
  app.add_option("-c,--config", global.config, "project file (default: ./strata.toml if present)");
  app.footer(
      "Exit codes: 0 ok, 1 migration failed and was rolled back, 2 usage or validation error,\n"
      "3 locked by another run or connection, 4 cannot connect, 5 refused as irreversible,\n"
      "6 a verification failed (verify script, rollback check, diff, damaged snapshot),\n"
      "7 history and files disagree, 8 a no-transaction migration was left in progress,\n"
      "70 internal error (rolling back after a failure failed too),\n"
      "130 stopped by SIGINT/SIGTERM (the migration running rolled back). See docs/exit-codes.md.");
  int exit_code = kExitOk;
  for (CommandSetup setup : kCommands) setup(app, global, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  std::fflush(stdout);
  return exit_code;
}
