#include <cctype>
#include <ctime>
#include <filesystem>
#include <limits>
#include <fstream>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "cli/cli.h"
#include "migration/loader.h"

namespace strata::cli {
namespace fs = std::filesystem;
namespace {

std::string Slug(const std::string& name) {
  std::string out;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    // Bytes of UTF-8 sequences are kept: "café" stays café, not "caf".
    if (u >= 0x80) out += c;
    else if (std::isalnum(u)) out += static_cast<char>(std::tolower(u));
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

std::string TimestampVersion() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace

void SetupNew(CLI::App& app, GlobalOptions& global, int& exit_code) {
  struct NewFlags {
    std::string name;
    bool timestamp = false;
  };
  auto flags = std::make_shared<NewFlags>();
  CLI::App* cmd = app.add_subcommand("new", "create the next migration's up and down files");
  cmd->add_option("name", flags->name, "what the migration does, e.g. add_users_email")->required();
  cmd->add_flag("--timestamp", flags->timestamp,
                "use a UTC timestamp as the version (the default when the directory already does)");
  cmd->callback([&global, &exit_code, flags] {
    auto options = ResolveOptions(global, false);
    if (!options.ok()) {
      exit_code = Fail(options.status());
      return;
    }
    const std::string& dir = options->migrations_dir;
    std::string slug = Slug(flags->name);
    if (slug.empty()) {
      exit_code = Fail(Status(Code::kInvalidArgument,
                              fmt::format("'{}' has no letters or digits to name a file with", flags->name)));
      return;
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    auto existing = LoadMigrations(dir);
    if (!existing.ok()) {
      exit_code = Fail(existing.status());
      return;
    }
    if (!existing->empty() && existing->back().version == std::numeric_limits<int64_t>::max()) {
      exit_code = Fail(Status(Code::kInvalidArgument,
                              fmt::format("{} has the largest version there is; no migration can "
                                          "come after it",
                                          existing->back().up_path)));
      return;
    }
    // New files follow the layout the directory already has (Strata's own when empty).
    const Layout layout = existing->empty() ? Layout::kNative : existing->back().layout;
    if (layout == Layout::kSqitch) {
      exit_code = Fail(Status(Code::kInvalidArgument,
                              fmt::format("{} is a Sqitch project: a change is a line of its "
                                          "sqitch.plan as well as its scripts; add it with `sqitch "
                                          "add {}`, and strata applies it from there",
                                          dir, slug)));
      return;
    }
    std::string version;
    bool timestamps = flags->timestamp || layout == Layout::kDbmate ||
                      (!existing->empty() && existing->back().version_text.size() >= 12);
    if (timestamps) {
      version = TimestampVersion();
      if (!existing->empty() && std::stoll(version) <= existing->back().version) {
        version = std::to_string(existing->back().version + 1);
      }
    } else {
      int64_t next = existing->empty() ? 1 : existing->back().version + 1;
      size_t width = existing->empty() ? (layout == Layout::kFlyway ? 1 : 4)
                                       : existing->back().version_text.size();
      version = fmt::format("{:0{}}", next, width);
    }
    const std::string up_note = fmt::format(
        "-- {}\n-- Directives, if needed: -- strata:no-transaction, -- strata:timeout 30s\n\n",
        flags->name);
    const std::string down_note = fmt::format(
        "-- Undo {}. {} to let strata derive the inverse\n"
        "-- of a purely additive up script (create table/index/view, add column, rename).\n\n",
        flags->name,
        IsSectioned(layout) ? "Leave this section empty" : "Leave this file without statements");
    std::vector<std::pair<std::string, std::string>> files;  // path, content
    if (layout == Layout::kDbmate) {
      files.emplace_back(fmt::format("{}/{}_{}.sql", dir, version, slug),
                         "-- migrate:up\n" + up_note + "\n-- migrate:down\n" + down_note);
    } else if (layout == Layout::kGoose) {
      files.emplace_back(fmt::format("{}/{}_{}.sql", dir, version, slug),
                         "-- +goose Up\n" + up_note + "\n-- +goose Down\n" + down_note);
    } else if (layout == Layout::kAtlas) {
      // No down file: Atlas would run it as a migration.
      files.emplace_back(fmt::format("{}/{}_{}.sql", dir, version, slug), up_note);
    } else if (layout == Layout::kFlyway) {
      files.emplace_back(fmt::format("{}/V{}__{}.sql", dir, version, slug), up_note);
      files.emplace_back(fmt::format("{}/U{}__{}.sql", dir, version, slug), down_note);
    } else {
      files.emplace_back(fmt::format("{}/{}_{}.up.sql", dir, version, slug), up_note);
      files.emplace_back(fmt::format("{}/{}_{}.down.sql", dir, version, slug), down_note);
    }
    for (const auto& [path, content] : files) {
      std::ofstream out(path);
      out << content;
      out.close();
      if (!out) {
        exit_code = Fail(Status(Code::kIOError, fmt::format("cannot write {}", path)));
        return;
      }
      fmt::print("created {}\n", path);
    }
    if (layout == Layout::kAtlas) {
      fmt::print("note: {}/atlas.sum is Atlas's and was left as it is; run `atlas migrate hash` "
                 "if Atlas reads this directory too. Strata derives the way back of an additive "
                 "script, and captures the rows an UPDATE or DELETE changes\n",
                 dir);
    }
  });
}

}  // namespace strata::cli
