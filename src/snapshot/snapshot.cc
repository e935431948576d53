#include "snapshot/snapshot.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "engine/url.h"
#include "history/history.h"
#include "snapshot/pg_conn.h"
#include "util/interrupt.h"
#include "util/text.h"

namespace strata::snapshot {

Status Account(const SnapshotStore& store, const std::vector<PutResult>& puts, Manifest& m) {
  std::map<std::string, uint64_t> stored;
  m.chunk_count = puts.size();
  m.new_chunks = 0;
  m.added_bytes = 0;
  m.logical_bytes = 0;
  for (const auto& p : puts) {
    m.logical_bytes += p.ref.size;
    if (!p.added) continue;
    ++m.new_chunks;
    m.added_bytes += p.stored;
    stored[p.ref.hash] = p.stored;
  }
  for (const auto& p : puts) {
    if (stored.count(p.ref.hash)) continue;
    STRATA_ASSIGN_OR_RETURN(stored[p.ref.hash], store.StoredSize(p.ref.hash));
  }
  m.stored_bytes = 0;
  for (const auto& [hash, size] : stored) m.stored_bytes += size;
  return Status::OK();
}

std::string SourceName(const std::string& url) {
  auto target = ParseDatabaseUrl(url);
  if (!target.ok()) return "";
  if (target->engine != Engine::kSqlite) return RedactUrl(url);
  // Absolute, links resolved: two projects sharing a store each have an
  // "app.db" of their own, and prune must not take one's for the other's.
  const std::string& path = target->target;
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) return "sqlite:" + path;
  std::error_code error;
  std::filesystem::path full =
      std::filesystem::weakly_canonical(std::filesystem::absolute(path, error), error);
  return "sqlite:" + (error ? path : full.string());
}

Result<Manifest> CreateSnapshot(SnapshotStore& store, const std::string& url,
                                const CreateOptions& options) {
  STRATA_ASSIGN_OR_RETURN(DatabaseUrl target, ParseDatabaseUrl(url));
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<StoreLock> lock, store.Lock(false));
  store.CheckReusedChunks(options.check_reused);
  Manifest m;
  m.id = NewSnapshotId();
  m.label = options.label;
  m.reason = options.reason;
  m.engine = target.engine;
  m.database = SourceName(url);
  m.created_at = NowUtc();
  auto captured = target.engine == Engine::kSqlite
                      ? CaptureSqlite(store, SqliteFilePath(target.target), std::move(m), options)
                      : CapturePostgres(store, url, std::move(m), options);
  Status s = captured.status();
  // A signal that came while a read went on to its end (a COPY of one large
  // row is not cancelled midway) still stops it: no manifest is written.
  if (s.ok() && Interrupt::Requested()) {
    s = Status(Code::kIOError, Interrupt::Describe() + " while taking the snapshot; nothing of it was kept");
  }
  if (s.ok()) s = store.SyncChunks();
  if (s.ok()) {
    captured->completed_at = NowUtc();
    s = store.WriteManifest(*captured);
  }
  if (!s.ok()) {
    store.DiscardPending();
    return s.WithContext("snapshot not taken (earlier snapshots are intact)");
  }
  return captured;
}

Status CheckChunksPresent(const SnapshotStore& store, const Manifest& m) {
  std::vector<std::string> missing;
  for (const auto& p : m.parts) {
    for (const auto& c : p.chunks) {
      if (!store.StoredSize(c.hash).ok()) missing.push_back(fmt::format("{} ({})", c.hash, p.name));
    }
  }
  if (missing.empty()) return Status::OK();
  return Status(Code::kVerifyFailed,
                fmt::format("snapshot {} is damaged: {} chunk{} missing, first {}; nothing was "
                            "restored",
                            m.id, missing.size(), missing.size() == 1 ? " is" : "s are",
                            missing[0]));
}

Result<std::string> CompareFingerprints(Database& db, const Manifest& m) {
  // All the rows, as the snapshot read them: a policy hiding some is an error.
  if (db.engine() == Engine::kPostgres) STRATA_RETURN_IF_ERROR(db.Exec("SET row_security = off"));
  STRATA_ASSIGN_OR_RETURN(SchemaFingerprint schema, FingerprintSchema(db));
  STRATA_ASSIGN_OR_RETURN(DataFingerprint data, FingerprintData(db, {}, m.columns_in_any_order));
  std::string out;
  if (m.columns_in_any_order ? schema.any_order_hash != m.schema.any_order_hash
                             : schema.hash != m.schema.hash) {
    out += fmt::format("schema fingerprint {} differs from the snapshot's {}\n", schema.hash,
                       m.schema.hash);
  }
  // Each table too, not only the whole: a manifest whose table list was
  // altered (its counts are what `snapshot show` prints) is not the
  // snapshot's. (A manifest without one differs only by the whole.)
  if (data.hash != m.data.hash || !m.data.tables.empty()) {
    std::map<std::string, const TableFingerprint*> have;
    for (const auto& t : data.tables) have[t.table] = &t;
    for (const auto& want : m.data.tables) {
      auto it = have.find(want.table);
      if (it == have.end()) {
        out += fmt::format("table {} is missing\n", want.table);
      } else {
        if (!(*it->second == want)) {
          out += fmt::format("table {}: {} rows, hash {}; the snapshot had {} rows, hash {}\n",
                             want.table, it->second->rows, it->second->hash, want.rows, want.hash);
        }
        have.erase(it);
      }
    }
    for (const auto& [name, t] : have) out += fmt::format("table {} was not in the snapshot\n", name);
    if (out.empty() && data.hash != m.data.hash) out = "data fingerprint differs\n";
  }
  return out;
}

Result<std::string> UnreadableSqliteIsDamage(Result<std::string> read) {
  if (read.ok() || Interrupt::Requested()) return read;
  const Code code = read.status().code();
  if (code != Code::kVerifyFailed && code != Code::kUnavailable) return read;
  return "the file its chunks make is not a readable SQLite database: " + read.status().message() + "\n";
}

namespace {

std::string RandomSuffix() {
  std::random_device rd;
  return fmt::format("{:08x}", rd());
}

/// "" when the SQLite file at `path` passes PRAGMA quick_check and has the
/// manifest's fingerprints, else what is wrong. The check and the
/// fingerprints read the file at the same time, on two connections.
Result<std::string> CheckSqliteSandbox(const std::string& path, const Manifest& m) {
  Result<std::string> problems = std::string();
  std::thread check([&] {
    problems = [&]() -> Result<std::string> {
      STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenDatabase("sqlite:" + path));
      STRATA_ASSIGN_OR_RETURN(Rows rows, db->Query("PRAGMA quick_check"));
      std::string out;
      for (const auto& r : rows.rows) {
        if (r[0].ToString() != "ok") out += r[0].ToString() + "\n";
      }
      return out;
    }();
  });
  auto mismatch = [&]() -> Result<std::string> {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenDatabase("sqlite:" + path));
    return CompareFingerprints(*db, m);
  }();
  check.join();
  problems = UnreadableSqliteIsDamage(std::move(problems));
  mismatch = UnreadableSqliteIsDamage(std::move(mismatch));
  if (!problems.ok()) return problems;
  if (!problems->empty()) return "SQLite integrity check failed:\n" + *problems;
  return mismatch;
}

/// Restores `m` into a sandbox and compares. SQLite: the chunks are checked
/// as the sandbox file is written (one read of each), each damaged one named
/// in `damage`; the file is scratch, so it is not synced.
Result<std::string> SandboxCheck(SnapshotStore& store, const Manifest& m,
                                 const std::string& server_url, Progress* progress,
                                 std::string* where, std::vector<std::string>* damage) {
  if (m.engine == Engine::kSqlite) {
    std::string path = fmt::format("{}/tmp/verify-{}-{}.db", store.dir(), getpid(), RandomSuffix());
    *where = path;
    STRATA_RETURN_IF_ERROR(WriteSqliteImage(store, m, path, progress, false, damage));
    if (!damage->empty()) return std::string();
    auto out = CheckSqliteSandbox(path, m);
    unlink(path.c_str());
    unlink((path + "-journal").c_str());
    return out;
  }
  if (server_url.empty()) {
    return Status(Code::kInvalidArgument,
                  "verifying a PostgreSQL snapshot restores it into a scratch database on a "
                  "server: give one with --database (the snapshot's source server will do)");
  }
  std::string name = "strata_verify_" + RandomSuffix();
  std::string url = UrlWithDatabase(server_url, name);
  *where = RedactUrl(url);
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> admin, PgConn::Open(server_url));
  Status created = CreateDatabaseLike(*admin, m, name);
  if (!created.ok()) {
    // As rehearse's sandbox: nothing is known about the snapshot (exit 4).
    return Status(Code::kUnavailable, "cannot create the scratch database to verify it in (the "
                                      "role needs CREATEDB): " + created.message());
  }
  Result<std::string> out = [&]() -> Result<std::string> {
    RestoreOptions ro;
    ro.progress = progress;
    return RestorePostgres(store, m, url, ro);
  }();
  // A signal cancels the statement running when it comes, this one too:
  // once more then, so the scratch database never stays.
  const std::string drop = "DROP DATABASE IF EXISTS " + SqlIdentifier(name) + " WITH (FORCE)";
  if (!admin->Exec(drop).ok() && Interrupt::Requested()) admin->Exec(drop).IgnoreError();
  return out;
}

}  // namespace

Result<VerifyReport> VerifySnapshot(SnapshotStore& store, const Manifest& m,
                                    const std::string& server_url, Progress* progress) {
  VerifyReport report;
  // SQLite checks each chunk as it writes the sandbox (SandboxCheck);
  // PostgreSQL checks them all first, before creating a scratch database.
  if (m.engine != Engine::kSqlite) {
    std::set<std::string> checked;
    if (progress) progress->Start("verify", m.logical_bytes);
    for (const auto& p : m.parts) {
      uint64_t offset = 0;
      for (size_t i = 0; i < p.chunks.size(); ++i) {
        const ChunkRef& c = p.chunks[i];
        if (checked.insert(c.hash).second) {
          auto bytes = store.ReadChunk(c);
          if (!bytes.ok()) {
            report.damage.push_back(fmt::format("{}: chunk {} of {} at byte {}: {}", p.name,
                                                i + 1, p.chunks.size(), offset,
                                                bytes.status().message()));
          }
        }
        offset += c.size;
        if (progress) progress->Advance(c.size);
      }
    }
    if (progress) progress->Done();
    if (!report.damage.empty()) return report;
  }
  STRATA_ASSIGN_OR_RETURN(report.mismatch, SandboxCheck(store, m, server_url, progress,
                                                        &report.sandbox, &report.damage));
  report.sandbox_checked = report.damage.empty();
  return report;
}

Status CheckSameEngine(const Manifest& m, const std::string& url) {
  STRATA_ASSIGN_OR_RETURN(DatabaseUrl target, ParseDatabaseUrl(url));
  if (target.engine == m.engine) return Status::OK();
  return Status(Code::kInvalidArgument,
                fmt::format("snapshot {} is of a {} database and cannot be restored into {}",
                            m.id, EngineName(m.engine), RedactUrl(url)));
}

Result<std::unique_ptr<TargetWatch>> WatchTarget(const std::string& url) {
  STRATA_ASSIGN_OR_RETURN(DatabaseUrl target, ParseDatabaseUrl(url));
  if (target.engine == Engine::kSqlite) return WatchSqlite(SqliteFilePath(target.target));
  return std::make_unique<TargetWatch>();
}

Status CheckRestorableInPlace(const Manifest& m, const std::string& url) {
  STRATA_RETURN_IF_ERROR(CheckSameEngine(m, url));
  if (m.engine != Engine::kSqlite) return CheckPostgresRestorableInPlace(m, url);
  // A file that is gone is made with --into, which checks what a deleted
  // database may have left beside it (a -wal SQLite would apply over it).
  STRATA_ASSIGN_OR_RETURN(DatabaseUrl target, ParseDatabaseUrl(url));
  const std::string path = SqliteFilePath(target.target);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    return Status(Code::kUnavailable,
                  fmt::format("SQLite database '{}' does not exist, so there is nothing to restore "
                              "over; to make it from snapshot {}, run `strata snapshot restore {} "
                              "--into {}`",
                              path, m.id, m.id, RedactUrl(url)));
  }
  return Status::OK();
}

Status RestoreSnapshot(SnapshotStore& store, const Manifest& m, const std::string& url,
                       const RestoreOptions& options) {
  STRATA_RETURN_IF_ERROR(CheckSameEngine(m, url));
  STRATA_ASSIGN_OR_RETURN(DatabaseUrl target, ParseDatabaseUrl(url));
  STRATA_RETURN_IF_ERROR(CheckChunksPresent(store, m));
  // SQLite's restored file is checked before it replaces the target.
  if (m.engine == Engine::kSqlite) return RestoreSqlite(store, m, SqliteFilePath(target.target), options);
  STRATA_ASSIGN_OR_RETURN(std::string mismatch, RestorePostgres(store, m, url, options));
  if (!mismatch.empty() && options.replace) {
    return Status(Code::kVerifyFailed,
                  fmt::format("snapshot {} does not hold what its fingerprints say, so the "
                              "restore was rolled back ({} is as it was); restore it --into a "
                              "new database to see what it holds:\n{}",
                              m.id, RedactUrl(url), mismatch));
  }
  if (!mismatch.empty()) {
    return Status(Code::kVerifyFailed,
                  fmt::format("snapshot {} was restored into {}, but its fingerprints differ "
                              "from the snapshot's:\n{}",
                              m.id, RedactUrl(url), mismatch));
  }
  return Status::OK();
}

}  // namespace strata::snapshot
