// strata: the command-line front end. Each command lives in cmd_<name>.cc;
// this file holds the table and the global flags.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

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

/// Single-character edits between `a` and `b` (Levenshtein).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// The error for a command line that names no command `app` has
/// ("stauts", "snapshot lst"), with the nearest one; "" when it names one,
/// or none (CLI11 then says one is required). CLI11 alone said "A
/// subcommand is required" for a typo, as if none had been given.
std::string UnknownCommand(CLI::App& app, int argc, char** argv) {
  CLI::App* level = &app;
  std::string path = "strata";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return "";
    if (arg.size() > 1 && arg[0] == '-') {
      if (arg.find('=') != std::string::npos) continue;
      // An option of this command or, passed on, of one above it.
      for (CLI::App* at = level; at != nullptr; at = at->get_parent()) {
        const CLI::Option* option = at->get_option_no_throw(arg);
        if (option == nullptr) continue;
        if (option->get_items_expected_min() > 0) ++i;  // its value
        break;
      }
      continue;
    }
    std::vector<CLI::App*> commands = level->get_subcommands([](CLI::App*) { return true; });
    if (commands.empty()) return "";  // an argument of the command
    CLI::App* named = nullptr;
    std::string nearest;
    size_t nearest_distance = 3;  // suggest up to two edits away, or a command it begins
    for (CLI::App* command : commands) {
      const std::string& name = command->get_name();
      if (name == arg) named = command;
      size_t d = name.rfind(arg, 0) == 0 ? 1 : EditDistance(arg, name);
      if (d < nearest_distance) {
        nearest_distance = d;
        nearest = name;
      }
    }
    if (named == nullptr) {
      return fmt::format("unknown command '{}'{}; `{} --help` lists the commands", arg,
                         nearest.empty() ? "" : fmt::format(" (did you mean '{}'?)", nearest), path);
    }
    level = named;
    path += " " + arg;
  }
  return "";
}

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
  if (std::string unknown = UnknownCommand(app, argc, argv); !unknown.empty()) {
    fmt::print(stderr, "strata: error: {}\n", unknown);
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  std::fflush(stdout);
  return exit_code;
}
