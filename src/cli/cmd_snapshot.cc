// strata snapshot create|list|show|verify|restore|prune: the snapshot store.
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/snapshot_config.h"
#include "engine/url.h"
#include "history/history.h"
#include "snapshot/snapshot.h"
#include "util/interrupt.h"
#include "util/json_text.h"

namespace strata::cli {
namespace {

using snapshot::FormatBytes;
using snapshot::Manifest;
using snapshot::SnapshotStore;

struct SnapshotFlags {
  std::string store;
  std::string label;
  bool json = false;
  std::string id;
  bool all = false;
  bool yes = false;
  std::string into;
  int keep_last = -1;
  int keep_daily = -1;
  bool dry_run = false;
  bool force = false;
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Opened {
  SnapshotConfig config;
  std::unique_ptr<SnapshotStore> store;
};

/// `create`: make the store when it is not there (only a command that
/// writes a snapshot does).
Result<Opened> Open(const GlobalOptions& global, const SnapshotFlags& flags, bool create = false) {
  Opened o;
  STRATA_ASSIGN_OR_RETURN(o.config, LoadSnapshotConfig(global, flags.store));
  STRATA_ASSIGN_OR_RETURN(o.store, OpenStore(o.config, create));
  return o;
}

std::string Describe(const Manifest& m) {
  std::string what = m.reason;
  if (!m.label.empty()) what += ": " + m.label;
  return what;
}

int RunCreate(const GlobalOptions& global, const SnapshotFlags& flags) {
  StopGracefullyOnSignals();  // scratch databases and files are removed
  auto options = ResolveOptions(global, true);
  if (!options.ok()) return Fail(options.status());
  auto opened = Open(global, flags, /*create=*/true);
  if (!opened.ok()) return Fail(opened.status());
  snapshot::CreateOptions create;
  create.label = flags.label;
  create.pg_dump = opened->config.pg_dump;
  create.lock_timeout = options->lock_timeout;
  auto bar = snapshot::TerminalProgress(stderr);
  create.progress = bar.get();
  auto start = std::chrono::steady_clock::now();
  auto m = snapshot::CreateSnapshot(*opened->store, options->database_url, create);
  if (!m.ok()) return Fail(m.status());
  fmt::print("snapshot {} of {} (schema version {}): {} in {} chunks; {} new chunks, {} added "
             "to the store; {:.2f} s\n",
             m->id, m->database, m->schema_version.empty() ? "none" : m->schema_version,
             FormatBytes(m->logical_bytes), m->chunk_count, m->new_chunks,
             FormatBytes(m->added_bytes), SecondsSince(start));
  PrintNotes(*m);
  return kExitOk;
}

int RunList(const GlobalOptions& global, const SnapshotFlags& flags) {
  // A store that is not there is not made (a mistyped --store would then
  // pass a later `verify --all`): it holds no snapshots.
  auto config = LoadSnapshotConfig(global, flags.store);
  if (!config.ok()) return Fail(config.status());
  std::error_code ec;
  if (!std::filesystem::is_directory(config->dir, ec)) {
    if (flags.json) {
      fmt::print("[]\n");
    } else {
      fmt::print("no snapshots: there is no snapshot store at '{}'\n", config->dir);
    }
    return kExitOk;
  }
  auto opened = Open(global, flags);
  if (!opened.ok()) return Fail(opened.status());
  auto listing = opened->store->List();
  if (!listing.ok()) return Fail(listing.status());
  // Listed all the same; the exit code says one is damaged.
  const int done = std::any_of(listing->begin(), listing->end(), [](const auto& l) { return !l.manifest.ok(); })
                       ? kExitVerifyFailed
                       : kExitOk;
  if (flags.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& l : *listing) {
      if (!l.manifest.ok()) {
        out.push_back({{"id", l.id}, {"damaged", l.manifest.status().message()}});
        continue;
      }
      const Manifest& m = *l.manifest;
      out.push_back({{"id", m.id},          {"created_at", m.created_at},
                     {"engine", EngineName(m.engine)}, {"database", m.database},
                     {"schema_version", m.schema_version}, {"reason", m.reason},
                     {"label", m.label},    {"logical_bytes", m.logical_bytes},
                     {"stored_bytes", m.stored_bytes}, {"added_bytes", m.added_bytes}});
    }
    fmt::print("{}\n", JsonText(out, 2));
    return done;
  }
  if (listing->empty()) {
    fmt::print("no snapshots in {}\n", opened->config.dir);
    return kExitOk;
  }
  fmt::print("{:<22}  {:<24}  {:<8}  {:>10}  {:>10}  {}\n", "ID", "CREATED", "VERSION", "SIZE",
             "ADDED", "WHY / DATABASE");
  for (const auto& l : *listing) {
    if (!l.manifest.ok()) {
      fmt::print("{:<22}  DAMAGED: {}\n", l.id, l.manifest.status().message());
      continue;
    }
    const Manifest& m = *l.manifest;
    fmt::print("{:<22}  {:<24}  {:<8}  {:>10}  {:>10}  {} / {}\n", m.id, m.created_at,
               m.schema_version.empty() ? "-" : m.schema_version, FormatBytes(m.logical_bytes),
               FormatBytes(m.added_bytes), Describe(m), m.database);
  }
  return done;
}

int RunShow(const GlobalOptions& global, const SnapshotFlags& flags) {
  auto opened = Open(global, flags);
  if (!opened.ok()) return Fail(opened.status());
  auto m = opened->store->Load(flags.id);
  if (!m.ok()) return Fail(m.status());
  if (flags.json) {
    fmt::print("{}", snapshot::ToJson(*m));
    return kExitOk;
  }
  fmt::print("snapshot        {}\n", m->id);
  fmt::print("why             {}\n", Describe(*m));
  fmt::print("database        {} ({})\n", m->database, EngineName(m->engine));
  fmt::print("schema version  {}\n", m->schema_version.empty() ? "none applied" : m->schema_version);
  fmt::print("taken           {} .. {}\n", m->created_at, m->completed_at);
  fmt::print("size            {} in {} chunks; {} stored, {} of it added by this snapshot\n",
             FormatBytes(m->logical_bytes), m->chunk_count, FormatBytes(m->stored_bytes),
             FormatBytes(m->added_bytes));
  fmt::print("schema          {}\n", m->schema.hash);
  fmt::print("data            {}\n", m->data.hash);
  for (const std::string& note : m->notes) fmt::print("note            {}\n", note);
  for (const auto& t : m->data.tables) fmt::print("  {}  {:>12} rows  {}\n", t.hash, t.rows, t.table);
  if (m->engine == Engine::kSqlite) {
    fmt::print("pages           {} of {} bytes\n", m->page_count, m->page_size);
  } else {
    fmt::print("schema name     {} (PostgreSQL {})\n", m->pg_schema, m->pg_server_version);
    fmt::print("parts           {}\n", m->parts.size());
    for (const auto& p : m->parts) fmt::print("  {:<40} {:>10}  {} chunks\n", p.name, FormatBytes(p.bytes), p.chunks.size());
  }
  return kExitOk;
}

int RunVerify(const GlobalOptions& global, const SnapshotFlags& flags) {
  StopGracefullyOnSignals();  // scratch databases and files are removed
  auto opened = Open(global, flags);
  if (!opened.ok()) return Fail(opened.status());
  auto options = ResolveOptions(global, false);
  if (!options.ok()) return Fail(options.status());
  std::vector<std::string> ids;
  if (flags.all) {
    auto listing = opened->store->List();
    if (!listing.ok()) return Fail(listing.status());
    for (const auto& l : *listing) ids.push_back(l.id);
    if (ids.empty()) {
      fmt::print("no snapshots in {}\n", opened->config.dir);
      return kExitOk;
    }
  } else {
    ids.push_back(flags.id);
  }
  auto bar = snapshot::TerminalProgress(stderr);
  int failed = 0;
  int unverified = kExitOk;  // the exit code of the first snapshot that could not be verified
  for (const auto& id : ids) {
    auto m = opened->store->Load(id);
    if (!m.ok()) {
      if (!flags.all && m.status().code() != Code::kVerifyFailed) return Fail(m.status());
      fmt::print("{}: DAMAGED: {}\n", id, m.status().message());
      ++failed;
      continue;
    }
    auto start = std::chrono::steady_clock::now();
    auto report = snapshot::VerifySnapshot(*opened->store, *m, options->database_url, bar.get());
    if (!report.ok() && Interrupt::Requested()) return Fail(report.status());
    if (!report.ok()) {
      // Not known to be damaged: the exit code says why it was not verified.
      fmt::print("{}: could not be verified: {}\n", m->id, RedactSecrets(report.status().message()));
      if (unverified == kExitOk) unverified = ExitCodeFor(report.status().code());
      continue;
    }
    if (!report->damage.empty()) {
      fmt::print("{}: DAMAGED: {} of {} chunks are missing or corrupt; it cannot be restored\n",
                 m->id, report->damage.size(), m->chunk_count);
      for (const auto& d : report->damage) fmt::print("  {}\n", d);
      ++failed;
    } else if (!report->mismatch.empty()) {
      fmt::print("{}: FAILED: restored into a sandbox, its fingerprints differ from the "
                 "snapshot's:\n{}", m->id, report->mismatch);
      ++failed;
    } else {
      fmt::print("{}: ok: {} chunks intact; restored into a sandbox, schema and data "
                 "fingerprints equal ({:.2f} s)\n",
                 m->id, m->chunk_count, SecondsSince(start));
    }
  }
  return failed ? kExitVerifyFailed : unverified;
}

int RunRestore(const GlobalOptions& global, const SnapshotFlags& flags) {
  StopGracefullyOnSignals();  // scratch databases and files are removed
  auto opened = Open(global, flags);
  if (!opened.ok()) return Fail(opened.status());
  auto m = opened->store->Load(flags.id);
  if (!m.ok()) return Fail(m.status());
  auto start = std::chrono::steady_clock::now();
  if (!flags.into.empty()) {
    auto bar = snapshot::TerminalProgress(stderr);
    snapshot::RestoreOptions restore;
    restore.progress = bar.get();
    std::vector<std::string> left_out;
    restore.notes = &left_out;
    Status s = snapshot::RestoreSnapshot(*opened->store, *m, flags.into, restore);
    if (!s.ok()) return Fail(s);
    fmt::print("restored snapshot {} into {}; fingerprints match ({:.2f} s)\n", m->id,
               RedactUrl(flags.into), SecondsSince(start));
    PrintNotes(*m);
    PrintNotes(left_out);
    return kExitOk;
  }
  auto options = ResolveOptions(global, true);
  if (!options.ok()) return Fail(options.status());
  std::string target = RedactUrl(options->database_url);
  std::vector<std::string> left_out;
  Status s = RestoreOverTarget(
      *options, opened->config, *opened->store, *m, flags.yes,
      fmt::format("Restore snapshot {} ({}, schema version {}) into {}, replacing its current "
                  "contents?",
                  m->id, m->created_at, m->schema_version.empty() ? "none" : m->schema_version,
                  target),
      &left_out);
  if (!s.ok()) return Fail(s);
  fmt::print("restored snapshot {} into {}; fingerprints match ({:.2f} s)\n", m->id, target,
             SecondsSince(start));
  PrintNotes(*m);
  PrintNotes(left_out);
  return kExitOk;
}

/// Days since the epoch of an ISO 8601 UTC time ("2025-01-14T...").
int64_t DayOf(const std::string& iso) {
  std::tm tm{};
  if (iso.size() < 10) return 0;
  tm.tm_year = std::stoi(iso.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(iso.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(iso.substr(8, 2));
  return static_cast<int64_t>(timegm(&tm) / 86400);
}

/// The snapshots `strata restore --to-version` needs (id -> why): those the
/// history of the configured database records for migrations still applied.
/// Snapshots `up` took of anything whose history is not read here are kept
/// too: another database, another schema of this one (PostgreSQL), and this
/// one when it has no history to read (a SQLite file gone, a dropped schema:
/// what those snapshots are for).
Result<std::map<std::string, std::string>> NeededByHistory(
    const GlobalOptions& global, const std::vector<const Manifest*>& manifests) {
  STRATA_ASSIGN_OR_RETURN(MigratorOptions options, ResolveOptions(global, false));
  const std::string& url = options.database_url;
  std::string source = url.empty() ? "" : snapshot::SourceName(url);
  std::map<std::string, std::string> needed;
  STRATA_ASSIGN_OR_RETURN(DatabaseUrl target, url.empty() ? Result<DatabaseUrl>(DatabaseUrl{})
                                                            : ParseDatabaseUrl(url));
  // A SQLite file that does not exist is not created.
  bool read = false;
  std::string schema;  // PostgreSQL: the managed schema whose history was read
  if (!url.empty() && (target.engine != Engine::kSqlite || std::filesystem::exists(SqliteFilePath(target.target)))) {
    auto rows = [&]() -> Result<std::optional<std::vector<AppliedMigration>>> {
      STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenDatabase(url));
      STRATA_ASSIGN_OR_RETURN(bool exists, db->TableExists("strata_history"));
      if (!exists) return std::optional<std::vector<AppliedMigration>>();
      if (db->engine() == Engine::kPostgres) {
        STRATA_ASSIGN_OR_RETURN(schema, db->ManagedSchema());
      }
      STRATA_ASSIGN_OR_RETURN(std::vector<AppliedMigration> applied, History(*db).List(false));
      return std::optional<std::vector<AppliedMigration>>(std::move(applied));
    }();
    if (!rows.ok()) {
      return rows.status().WithContext(
          "reading strata_history to keep the snapshots `strata restore --to-version` needs "
          "(--force prunes without this check)");
    }
    if (*rows) {
      read = true;
      for (const auto& a : **rows) {
        if (a.snapshot_id.empty()) continue;
        needed.emplace(a.snapshot_id, "restoration point of " + a.id() + ", still applied");
      }
    }
  }
  for (const Manifest* m : manifests) {
    if (m->reason != "before up" || needed.count(m->id)) continue;
    const bool same = read && m->database == source && (m->engine != Engine::kPostgres || m->pg_schema == schema);
    if (same) continue;
    needed[m->id] = fmt::format("taken by `strata up` on {}{}, whose history was not read", m->database,
                                m->pg_schema.empty() ? "" : " (schema " + m->pg_schema + ")");
  }
  return needed;
}

int RunPrune(const GlobalOptions& global, const SnapshotFlags& flags) {
  if (flags.keep_last < 0 && flags.keep_daily < 0) {
    return Fail(Status(Code::kInvalidArgument,
                       "prune needs a policy: --keep-last N and/or --keep-daily D"));
  }
  auto opened = Open(global, flags);
  if (!opened.ok()) return Fail(opened.status());
  auto lock = opened->store->Lock(true);
  if (!lock.ok()) return Fail(lock.status());
  auto listing = opened->store->List();
  if (!listing.ok()) return Fail(listing.status());
  // Newest first.
  std::vector<const Manifest*> good;
  for (auto it = listing->rbegin(); it != listing->rend(); ++it) {
    if (it->manifest.ok()) good.push_back(&*it->manifest);
  }
  std::map<std::string, std::string> keep;  // id -> why
  for (int i = 0; i < flags.keep_last && i < static_cast<int>(good.size()); ++i) {
    keep[good[i]->id] = "last " + std::to_string(flags.keep_last);
  }
  if (flags.keep_daily > 0) {
    int64_t today = DayOf(NowUtc());
    std::set<int64_t> days;
    for (const Manifest* m : good) {
      int64_t day = DayOf(m->created_at);
      if (day <= today - flags.keep_daily || !days.insert(day).second) continue;
      keep.emplace(m->id, "newest of " + m->created_at.substr(0, 10));
    }
  }
  if (!flags.force) {
    auto needed = NeededByHistory(global, good);
    if (!needed.ok()) return Fail(needed.status());
    for (const auto& [id, why] : *needed) keep.emplace(id, why + "; --force removes it");
  }
  const char* verb = flags.dry_run ? "would remove" : "removed";
  int removed = 0;
  for (const Manifest* m : good) {
    auto k = keep.find(m->id);
    if (k != keep.end()) {
      fmt::print("keep    {}  ({})\n", m->id, k->second);
      continue;
    }
    if (!flags.dry_run) {
      Status s = opened->store->RemoveManifest(m->id);
      if (!s.ok()) return Fail(s);
    }
    fmt::print("{:<7} {}  ({}, {})\n", flags.dry_run ? "remove" : "removed", m->id, m->created_at,
               Describe(*m));
    ++removed;
  }
  for (const auto& l : *listing) {
    if (!l.manifest.ok()) fmt::print("damaged {}  (left alone: {})\n", l.id, l.manifest.status().message());
  }
  if (flags.dry_run) {
    // Chunks only this run would free cannot be counted without removing
    // the manifests; report what is unreferenced already.
    auto gc = opened->store->RemoveUnreferencedChunks(true);
    if (!gc.ok()) return Fail(gc.status());
    fmt::print("dry run: {} {} snapshot{}; nothing was changed\n", verb, removed, removed == 1 ? "" : "s");
    return kExitOk;
  }
  auto gc = opened->store->RemoveUnreferencedChunks(false);
  if (!gc.ok()) return Fail(gc.status());
  fmt::print("{} {} snapshot{}, {} unused chunks ({}) and {} temporary files\n", verb, removed,
             removed == 1 ? "" : "s", gc->chunks, FormatBytes(gc->bytes), gc->temp_files);
  return kExitOk;
}

}  // namespace

void SetupSnapshot(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto flags = std::make_shared<SnapshotFlags>();
  CLI::App* cmd = app.add_subcommand("snapshot", "deduplicated, verified snapshots of the database");
  cmd->require_subcommand(1);
  cmd->add_option("--store", flags->store,
                  "snapshot store directory (default: [snapshots] dir in strata.toml, then "
                  ".strata/snapshots)");
  cmd->footer("The store keeps content-addressed, zstd-compressed chunks shared between "
              "snapshots. See docs/guide.md, \"Snapshots\".");

  CLI::App* create = cmd->add_subcommand("create", "take a snapshot of the database now");
  create->add_option("--label", flags->label, "a note kept with the snapshot");
  create->add_option("--lock-timeout", global.lock_timeout,
                     "PostgreSQL: how long a read waits for a table lock another session holds "
                     "before the snapshot gives up, exit 3 (default 10s)");
  create->callback([&global, &exit_code, flags] { exit_code = RunCreate(global, *flags); });

  CLI::App* list = cmd->add_subcommand("list", "list the snapshots in the store, oldest first");
  list->add_flag("--json", flags->json, "print JSON for machines");
  list->footer("Exits 6 when a manifest is damaged (it is listed as DAMAGED, with the rest).");
  list->callback([&global, &exit_code, flags] { exit_code = RunList(global, *flags); });

  CLI::App* show = cmd->add_subcommand("show", "show one snapshot: fingerprints, sizes, parts");
  show->add_option("id", flags->id, "snapshot id (a unique prefix will do)")->required();
  show->add_flag("--json", flags->json, "print the manifest");
  show->callback([&global, &exit_code, flags] { exit_code = RunShow(global, *flags); });

  CLI::App* verify = cmd->add_subcommand(
      "verify", "check every chunk, restore into a sandbox and compare fingerprints");
  auto* id = verify->add_option("id", flags->id, "snapshot id (a unique prefix will do)");
  auto* all = verify->add_flag("--all", flags->all, "verify every snapshot in the store");
  id->excludes(all);
  verify->footer("Exits 6 when a snapshot is damaged or its sandbox differs; when one could not "
                 "be verified at all, the code of why (4: no scratch database could be made, or it "
                 "could not be given what the schema uses from other schemas). "
                 "PostgreSQL snapshots are restored into a scratch database on the --database "
                 "server (the role needs CREATEDB).");
  verify->callback([&global, &exit_code, flags, id, all] {
    if (id->count() == 0 && all->count() == 0) {
      exit_code = Fail(Status(Code::kInvalidArgument, "verify needs a snapshot id or --all"));
      return;
    }
    exit_code = RunVerify(global, *flags);
  });

  CLI::App* restore = cmd->add_subcommand(
      "restore", "restore a snapshot into the database (after confirmation) or a new one");
  restore->add_option("id", flags->id, "snapshot id (a unique prefix will do)")->required();
  restore->add_flag("-y,--yes", flags->yes, "do not ask before replacing the database's contents");
  restore->add_option("--into", flags->into,
                      "restore into this new database instead (sqlite:new.db, or a PostgreSQL "
                      "database, created when missing)");
  restore->add_option("--lock-timeout", global.lock_timeout,
                      "how long to wait for another run's lock, and on PostgreSQL for the locks of the "
                      "tables it replaces (default 10s)");
  restore->footer("Into the configured database: asks first (or --yes), takes the migration "
                  "lock and a snapshot of the current state, then restores and checks the "
                  "fingerprints.");
  restore->callback([&global, &exit_code, flags] { exit_code = RunRestore(global, *flags); });

  CLI::App* prune = cmd->add_subcommand(
      "prune", "remove snapshots outside a retention policy, and chunks no snapshot uses");
  prune->add_option("--keep-last", flags->keep_last, "keep the N newest snapshots")
      ->check(WholeNumberFrom(0));
  prune->add_option("--keep-daily", flags->keep_daily,
                    "keep the newest snapshot of each of the last D days (UTC, today included)")
      ->check(WholeNumberFrom(0));
  prune->add_flag("--dry-run", flags->dry_run, "print what would be removed; remove nothing");
  prune->add_flag("--force", flags->force,
                  "also remove snapshots history still records for applied migrations "
                  "(`strata restore --to-version` needs them)");
  prune->callback([&global, &exit_code, flags] { exit_code = RunPrune(global, *flags); });
}

}  // namespace strata::cli
