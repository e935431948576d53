#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "cli/cli.h"
#include "engine/url.h"
#include "migration/loader.h"

namespace strata::cli {
namespace fs = std::filesystem;
namespace {

/// `text` as a TOML basic string: a '"' in a password or the '\' of a
/// Windows path must not end the string or start an escape.
std::string TomlString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\u{:04X}", static_cast<unsigned>(u));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

/// The directory a project already keeps its migrations in, when it was
/// set up for another tool and has no migrations/ (a Sqitch project's plan
/// is in its root); else "migrations". An empty migrations/ beside them
/// would leave `status` listing none and `up` saying all is up to date.
std::string ExistingMigrationsDir() {
  std::error_code ec;
  if (fs::exists("migrations", ec)) return "migrations";
  for (const char* other : kOtherToolMigrationDirs) {
    if (fs::is_directory(other, ec)) return other;
  }
  if (fs::exists("sqitch.plan", ec)) return ".";
  return "migrations";
}

}  // namespace

void SetupInit(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("init", "create strata.toml and the migrations directory");
  cmd->callback([&global, &exit_code] {
    std::string config = global.config.empty() ? "strata.toml" : global.config;
    std::string url = global.database.empty() ? "sqlite:app.db" : global.database;
    // strata.toml is committed with the project: a password stays out of it.
    const bool password_left_out = UrlWithoutPassword(url) != url;
    url = UrlWithoutPassword(url);
    std::error_code ec;
    std::string dir;
    bool found = false;  // another tool's directory, taken as it is
    if (fs::exists(config)) {
      // The directory to make is the one the file names.
      auto options = ResolveOptions(global, false);
      if (!options.ok()) {
        exit_code = Fail(options.status());
        return;
      }
      dir = options->migrations_dir;
      fmt::print("{} exists; left as it is\n", config);
    } else {
      dir = global.dir.empty() ? ExistingMigrationsDir() : global.dir;
      found = global.dir.empty() && dir != "migrations";
      std::ofstream out(config);
      out << "# Strata project file. Flags and DATABASE_URL override these settings.\n"
          << "[database]\n"
          << "# sqlite:path/to/app.db or postgres://user@host:5432/db\n"
          << "url = " << TomlString(url) << "\n\n"
          << "[migrations]\n"
          << "dir = " << TomlString(dir) << "\n"
          << "# how long a migration's statements wait for another session's lock (an\n"
          << "# ALTER TABLE behind a long transaction) unless it says -- strata:lock-timeout\n"
          << "# lock_timeout = \"5s\"\n\n"
          << "[lock]\n"
          << "# how long `up` and `down` wait for another run's lock\n"
          << "timeout = \"10s\"\n";
      out.close();
      if (!out) {
        exit_code = Fail(Status(Code::kIOError, fmt::format("cannot write {}", config)));
        return;
      }
      fmt::print("created {}\n", config);
      if (password_left_out) {
        fmt::print("the password is left out of {} (a file projects commit): give it in "
                   "DATABASE_URL, PGPASSWORD or ~/.pgpass\n",
                   config);
      }
    }
    if (found) {
      if (dir == ".") {
        fmt::print("a Sqitch project is here (sqitch.plan): strata.toml reads its changes from "
                   "dir = \".\" (pass --dir for another directory)\n");
      } else {
        fmt::print("migrations found in {}/: strata.toml points there (pass --dir for another "
                   "directory)\n",
                   dir);
      }
      fmt::print("next: strata status\n");
      return;
    }
    if (fs::is_directory(dir)) {
      fmt::print("{}/ exists; left as it is\n", dir);
    } else if (!fs::create_directories(dir, ec)) {
      exit_code = Fail(Status(Code::kIOError, fmt::format("cannot create {}/: {}", dir, ec.message())));
      return;
    } else {
      fmt::print("created {}/\n", dir);
    }
    fmt::print("next: strata new create_users\n");
  });
}

}  // namespace strata::cli
