#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/cli.h"
#include "migration/migration.h"

namespace strata::cli {

void SetupValidate(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "check migration files (names, SQL, directives, reversibility) and, with a database, "
      "that applied files are unchanged");
  auto allow_irreversible = std::make_shared<bool>(false);
  cmd->add_flag("--allow-irreversible", *allow_irreversible,
                "report a pending migration with no way back as a warning, not an error "
                "(as `up --allow-irreversible` would apply it)");
  auto engine = std::make_shared<std::string>();
  cmd->add_option("--engine", *engine,
                  "without a database, read the files as this engine's SQL (default: guessed "
                  "from the files)")
      ->check(CLI::IsMember({"sqlite", "postgres"}));
  cmd->callback([&global, &exit_code, allow_irreversible, engine] {
    auto migrator = OpenMigrator(global, false, &exit_code);
    if (!migrator) return;
    std::optional<Engine> files;
    if (!engine->empty()) files = *engine == "postgres" ? Engine::kPostgres : Engine::kSqlite;
    if (Database* db = migrator->database(); db != nullptr && files && *files != db->engine()) {
      exit_code = Fail(Status(Code::kInvalidArgument,
                              fmt::format("--engine {} does not match the database, which is {}; "
                                          "--engine is for checking files without one",
                                          *engine, EngineName(db->engine()))));
      return;
    }
    if (migrator->database() == nullptr && !files) {
      auto guessed = migrator->FilesEngine();
      if (!guessed.ok()) {
        exit_code = Fail(guessed.status());
        return;
      }
      files = guessed->first;
      fmt::print("no database: the files are read as {}'s SQL ({}); --engine or --database "
                 "says which\n",
                 files == Engine::kPostgres ? "PostgreSQL" : "SQLite", guessed->second);
    }
    auto findings = migrator->Validate(*allow_irreversible, files);
    if (!findings.ok()) {
      exit_code = Fail(findings.status());
      return;
    }
    int errors = 0, warnings = 0;
    for (const auto& f : *findings) {
      if (f.code == Code::kOk) {
        ++warnings;
        fmt::print("warning: {}\n", f.message);
      } else {
        if (errors++ == 0) exit_code = ExitCodeFor(f.code);
        fmt::print(stderr, "error: {}\n", f.message);
      }
    }
    fmt::print("{} migration{} checked: {} error{}, {} warning{}\n", migrator->migrations().size(),
               migrator->migrations().size() == 1 ? "" : "s", errors, errors == 1 ? "" : "s",
               warnings, warnings == 1 ? "" : "s");
  });
}

void SetupResolve(CLI::App& app, GlobalOptions& global, int& exit_code) {
  struct ResolveFlags {
    int64_t version = 0;
    bool applied = false;
    bool rolled_back = false;
    bool force = false;
    bool accept_file = false;
  };
  auto flags = std::make_shared<ResolveFlags>();
  CLI::App* cmd = app.add_subcommand(
      "resolve",
      "settle a no-transaction migration left in progress, after checking the database; or "
      "accept the changes made to an applied migration's file");
  cmd->add_option("version", flags->version, "the migration's version")
      ->transform(DecimalVersion())->required();
  auto* applied = cmd->add_flag("--applied", flags->applied,
                                "its statements all took effect: keep it as applied");
  auto* rolled = cmd->add_flag("--rolled-back", flags->rolled_back,
                               "its effects are gone (undone by hand): forget it");
  applied->excludes(rolled);
  auto* force = cmd->add_flag("--force", flags->force,
                              "settle it without checking that the database agrees (the tables, "
                              "columns and indexes the up script creates; indexes left INVALID)");
  auto* accept = cmd->add_flag(
      "--accept-file", flags->accept_file,
      "an applied migration whose files were changed since: record the up file as it is now (a "
      "comment, a reformat), so `status` and `up` accept it, and the down file as the down "
      "script `down` runs (one fixed after its rollback failed); a deleted down file keeps the "
      "stored script");
  accept->excludes(applied)->excludes(rolled)->excludes(force);
  cmd->footer("Exits 6 when the database disagrees with the claim (history is left unchanged).");
  cmd->callback([&global, &exit_code, flags] {
    if (!flags->accept_file && flags->applied == flags->rolled_back) {
      exit_code = Fail(Status(Code::kInvalidArgument,
                              "say --applied or --rolled-back (or --accept-file for changed files)"));
      return;
    }
    auto migrator = OpenMigrator(global, true, &exit_code);
    if (!migrator) return;
    if (flags->accept_file) {
      auto diff = migrator->AcceptChangedFile(flags->version);
      if (!diff.ok()) {
        exit_code = Fail(diff.status());
        return;
      }
      fmt::print("migration {}: history now records its file as it is; the change accepted:\n{}",
                 flags->version, *diff);
      return;
    }
    auto set_aside = migrator->Resolve(flags->version, flags->applied, flags->force);
    if (!set_aside.ok()) {
      exit_code = Fail(set_aside.status());
      return;
    }
    fmt::print("migration {} marked {}\n", flags->version,
               flags->applied ? "applied" : "rolled back (history row removed)");
    if (!set_aside->empty()) {
      fmt::print("the rows it saved before its destructive statements are kept in {}: compare "
                 "them with the tables it changed, put back what is missing, then drop them\n",
                 fmt::join(*set_aside, ", "));
    }
  });
}

void SetupBaseline(CLI::App& app, GlobalOptions& global, int& exit_code) {
  struct BaselineFlags {
    int64_t version = 0;
    bool force = false;
  };
  auto flags = std::make_shared<BaselineFlags>();
  CLI::App* cmd = app.add_subcommand(
      "baseline",
      "adopt a database built before Strata: record the migrations up to VERSION as applied "
      "without running them, after checking that the database holds what they create");
  cmd->add_option("version", flags->version,
                  "the newest migration the database already holds (a file's version)")
      ->transform(DecimalVersion())->required();
  cmd->add_flag("--force", flags->force,
                "record them without the check (applying them to an empty sandbox database "
                "beside this one and comparing the schemas)");
  cmd->footer(
      "History must be empty. Those migrations have no way back: `down` stops above VERSION.\n"
      "Exits 6 when the schemas differ, 7 when history is not empty (nothing is recorded).");
  cmd->callback([&global, &exit_code, flags] {
    auto migrator = OpenMigrator(global, true, &exit_code);
    if (!migrator) return;
    auto report = migrator->Baseline(flags->version, flags->force);
    if (!report.ok()) {
      exit_code = Fail(report.status());
      return;
    }
    const std::vector<std::string>& ids = report->recorded;
    for (const auto& id : ids) fmt::print("recorded    {} as applied (baseline)\n", id);
    fmt::print("baselined {} migration{} at {}{}\n", ids.size(), ids.size() == 1 ? "" : "s",
               ids.back(),
               flags->force ? " without checking the schema"
                            : "; the schema matches what they create");
    for (const auto& table : report->left_out) {
      fmt::print("note: table {} is another migration tool's history, which the migrations do "
                 "not create; it was left out of the comparison and left as it is\n",
                 table);
    }
  });
}

void SetupFinalize(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto version = std::make_shared<int64_t>(0);
  CLI::App* cmd = app.add_subcommand(
      "finalize",
      "declare applied migrations up to VERSION final: drop the data captured before their "
      "destructive statements (they can then no longer be rolled back without data loss)");
  cmd->add_option("version", *version, "the last version to finalize")
      ->transform(DecimalVersion())->required();
  cmd->callback([&global, &exit_code, version] {
    auto migrator = OpenMigrator(global, true, &exit_code);
    if (!migrator) return;
    auto done = migrator->Finalize(*version);
    if (!done.ok()) {
      exit_code = Fail(done.status());
      return;
    }
    for (const auto& id : *done) fmt::print("finalized {}: its captured data was dropped\n", id);
    if (done->empty()) fmt::print("nothing to finalize up to version {}\n", *version);
  });
}

}  // namespace strata::cli
