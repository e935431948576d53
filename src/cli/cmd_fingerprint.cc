// strata fingerprint: the schema and data fingerprints of a database.
// strata diff: the schema difference between two databases.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "safety/fingerprint.h"
#include "util/json_text.h"

namespace strata::cli {
namespace {

struct FingerprintOptions {
  bool schema = false;
  bool data = false;
  bool json = false;
  std::vector<std::string> tables;
};

Result<std::unique_ptr<Database>> Connect(const GlobalOptions& global) {
  STRATA_ASSIGN_OR_RETURN(MigratorOptions options, ResolveOptions(global, true));
  return OpenDatabase(options.database_url, /*create=*/false);
}

int RunFingerprint(const GlobalOptions& global, const FingerprintOptions& opt) {
  // --table picks the tables whose rows are hashed; the schema is always
  // the whole one. With --schema alone it would change nothing, and the
  // output (every object's text) would look like that table's schema.
  if (!opt.tables.empty() && opt.schema && !opt.data) {
    return Fail(Status(Code::kInvalidArgument,
                       "--table limits the data fingerprint, which --schema alone does not print "
                       "(the schema text is always the whole schema's); add --data, or leave "
                       "--table out"));
  }
  auto db = Connect(global);
  if (!db.ok()) return Fail(db.status());
  bool want_schema = opt.schema || !opt.data;
  bool want_data = opt.data || !opt.schema;
  std::optional<SchemaFingerprint> schema;
  std::optional<DataFingerprint> data;
  if (want_schema) {
    auto s = FingerprintSchema(**db);
    if (!s.ok()) return Fail(s.status());
    schema = std::move(s).value();
  }
  if (want_data) {
    auto d = FingerprintData(**db, opt.tables);
    if (!d.ok()) return Fail(d.status());
    data = std::move(d).value();
  }
  if (opt.json) {
    nlohmann::json out;
    out["database"] = (*db)->Describe();
    if (schema) out["schema"] = {{"hash", schema->hash}, {"text", schema->canonical_text}};
    if (data) {
      nlohmann::json tables = nlohmann::json::array();
      for (const auto& t : data->tables) {
        tables.push_back({{"table", t.table}, {"rows", t.rows}, {"hash", t.hash}});
      }
      out["data"] = {{"hash", data->hash}, {"tables", std::move(tables)}};
    }
    fmt::print("{}\n", JsonText(out, 2));
  } else if (opt.schema && !opt.data) {
    fmt::print("{}", schema->canonical_text);
  } else {
    if (opt.data) {
      for (const auto& t : data->tables) fmt::print("{}  {:>12} rows  {}\n", t.hash, t.rows, t.table);
    }
    if (schema) fmt::print("schema  {}\n", schema->hash);
    if (data) fmt::print("data    {}\n", data->hash);
  }
  return kExitOk;
}

}  // namespace

void SetupFingerprint(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto opt = std::make_shared<FingerprintOptions>();
  CLI::App* cmd = app.add_subcommand(
      "fingerprint", "print the schema fingerprint (canonical text) and the data fingerprints");
  cmd->add_flag("--schema", opt->schema, "print the canonical schema text");
  cmd->add_flag("--data", opt->data, "print the hash and row count of each table");
  cmd->add_flag("--json", opt->json, "print JSON for machines");
  cmd->add_option("--table", opt->tables, "hash the rows of only these tables (repeatable; not with --schema alone)");
  cmd->footer("Without --schema or --data, prints both hashes. Row order does not matter; "
              "Strata's own tables are left out.");
  cmd->callback([&global, &exit_code, opt] { exit_code = RunFingerprint(global, *opt); });
}

void SetupDiff(CLI::App& app, GlobalOptions& /*global*/, int& exit_code) {
  auto urls = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("diff", "show how the schemas of two databases differ");
  cmd->add_option("urls", *urls, "URL_A URL_B")->expected(2)->required();
  cmd->footer("Exits 0 when the schemas are equal, 6 when they differ.");
  cmd->callback([&exit_code, urls] {
    SchemaFingerprint fp[2];
    for (int i = 0; i < 2; ++i) {
      auto db = OpenDatabase((*urls)[i], /*create=*/false);
      if (!db.ok()) {
        exit_code = Fail(db.status());
        return;
      }
      auto s = FingerprintSchema(**db);
      if (!s.ok()) {
        exit_code = Fail(s.status().WithContext((*db)->Describe()));
        return;
      }
      fp[i] = std::move(s).value();
    }
    std::string diff = DiffSchemas(fp[0], fp[1]);
    if (diff.empty()) {
      fmt::print("schemas are equal ({})\n", fp[0].hash);
      return;
    }
    fmt::print("schemas differ (- first, + second):\n{}", diff);
    exit_code = kExitVerifyFailed;
  });
}

}  // namespace strata::cli
