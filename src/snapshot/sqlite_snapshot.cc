// SQLite snapshots: the page image of the database file. See snapshot.h.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <xxhash.h>

#include "engine/sqlite/sqlite_database.h"
#include "engine/url.h"
#include "history/history.h"
#include "snapshot/chunker.h"
#include "snapshot/snapshot.h"
#include "snapshot/sqlite_fingerprint.h"
#include "util/interrupt.h"

namespace strata::snapshot {
namespace {

/// Chunks of about 1 MiB, a whole number of pages: a 1% change still adds
/// about 1% (the changed pages' chunks), and a 1 GB file is ~1,000 files
/// in the store rather than ~2,000 (creating a file is not free).
constexpr uint64_t kChunkTarget = 1 << 20;

Status Errno(const std::string& what) {
  return Status(Code::kIOError, fmt::format("{}: {}", what, std::strerror(errno)));
}

struct RawDb {
  sqlite3* db = nullptr;
  ~RawDb() { sqlite3_close_v2(db); }
};

Status OpenRaw(const std::string& path, int flags, RawDb& out) {
  if (sqlite3_open_v2(path.c_str(), &out.db, flags, nullptr) != SQLITE_OK) {
    return Status(Code::kUnavailable, fmt::format("cannot open SQLite database '{}': {}", path,
                                                  out.db ? sqlite3_errmsg(out.db) : "out of memory"));
  }
  sqlite3_busy_timeout(out.db, 10'000);
  return Status::OK();
}

/// Copies every page of `src` into `dest` with the backup API, which takes
/// the locks SQLite needs: other connections to `dest` see the new content.
/// `locked`, when given, runs once the copy holds `dest`'s write lock (kept
/// until the copy is done) and before it has copied a page: an error from it
/// abandons the copy, `dest` as it was, and is returned.
Status Backup(sqlite3* dest, sqlite3* src, const std::string& what,
              const std::function<Status()>& locked = nullptr) {
  sqlite3_backup* b = sqlite3_backup_init(dest, "main", src, "main");
  if (b == nullptr) return Status(Code::kDatabase, what + ": " + sqlite3_errmsg(dest));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int rc;
  // A step of no pages only takes the locks: one of 4096 might finish (and
  // commit) a small copy before `locked` had its say.
  bool checked = !locked;
  Status refused;
  while ((rc = sqlite3_backup_step(b, checked ? 4096 : 0)) == SQLITE_OK || rc == SQLITE_BUSY ||
         rc == SQLITE_LOCKED) {
    // Stopped before it is done, the copy's transaction on `dest` is rolled
    // back by sqlite3_backup_finish: `dest` stays as it was.
    if (Interrupt::Requested()) {
      rc = SQLITE_INTERRUPT;
      break;
    }
    if (rc == SQLITE_OK && !checked) {
      checked = true;
      refused = locked();
      if (!refused.ok()) break;
    }
    if (rc != SQLITE_OK) {
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  sqlite3_backup_finish(b);
  if (!refused.ok()) return refused;
  if (rc != SQLITE_DONE) {
    std::string why = sqlite3_errstr(rc);
    if (rc == SQLITE_INTERRUPT) {
      return Status(Code::kDatabase, fmt::format("{} stopped: {}; the copy was undone", what,
                                                 Interrupt::Describe()));
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      why += " (another connection kept the database locked for 30 s)";
    } else if (rc == SQLITE_READONLY) {
      why += " (a WAL database cannot change its page size this way)";
    }
    return Status(rc == SQLITE_BUSY ? Code::kLocked : Code::kDatabase, what + ": " + why);
  }
  return Status::OK();
}

/// The first column of the first row `sql` returns on `db` as text; "" when
/// there is none or it fails.
std::string QueryText(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  return out;
}

/// The backup API cannot give a WAL database pages of another size: when
/// `dest` is one and its pages differ from the image's, the image at
/// `image_path` is rewritten (VACUUM, every row kept) in the target's page size.
Status MatchWalPageSize(sqlite3* dest, const std::string& image_path, uint32_t image_page_size) {
  if (QueryText(dest, "PRAGMA journal_mode") != "wal") return Status::OK();
  std::string size = QueryText(dest, "PRAGMA page_size");
  if (size.empty() || size == std::to_string(image_page_size)) return Status::OK();
  RawDb image;
  STRATA_RETURN_IF_ERROR(OpenRaw(image_path, SQLITE_OPEN_READWRITE, image));
  std::string sql = fmt::format("PRAGMA journal_mode = DELETE; PRAGMA page_size = {}; VACUUM", size);
  if (sqlite3_exec(image.db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Status(Code::kDatabase,
                  fmt::format("rewriting the snapshot's {}-byte pages as the target's {}-byte "
                              "pages: {}",
                              image_page_size, size, sqlite3_errmsg(image.db)));
  }
  return Status::OK();
}

Result<std::string> NewestVersion(Database& db) {
  STRATA_ASSIGN_OR_RETURN(bool has_history, db.TableExists("strata_history"));
  if (!has_history) return std::string();
  STRATA_ASSIGN_OR_RETURN(Rows rows, db.Query("SELECT version_text FROM strata_history "
                                              "WHERE status = 'applied' ORDER BY version DESC "
                                              "LIMIT 1"));
  return rows.empty() ? std::string() : rows.rows[0][0].ToString();
}

/// Where the data fingerprint of the database at `path` keeps its segment
/// sums: one file per database in the store's cache directory.
std::string SegmentCachePath(const SnapshotStore& store, const std::string& path) {
  std::string dir = store.dir() + "/cache";
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return "";
  char* real = realpath(path.c_str(), nullptr);
  std::string name = real ? real : path;
  free(real);
  return fmt::format("{}/segments-{:016x}", dir, XXH3_64bits(name.data(), name.size()));
}

}  // namespace

TargetWatch::~TargetWatch() { sqlite3_close_v2(sqlite); }

Result<std::unique_ptr<TargetWatch>> WatchSqlite(const std::string& path) {
  auto watch = std::make_unique<TargetWatch>();
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return watch;  // restored by renaming a new file into place
  RawDb raw;
  STRATA_RETURN_IF_ERROR(OpenRaw(path, SQLITE_OPEN_READWRITE, raw));
  // The data version moves when the connection, starting a transaction,
  // finds that another one committed since its last: read the file once, so
  // that it stands for the file as it is now (the snapshot of the current
  // state, taken next, holds at least this much).
  if (sqlite3_exec(raw.db, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr) !=
          SQLITE_OK ||
      sqlite3_file_control(raw.db, "main", SQLITE_FCNTL_DATA_VERSION,
                           &watch->sqlite_data_version) != SQLITE_OK) {
    return Status(Code::kDatabase,
                  fmt::format("cannot read SQLite database '{}': {}", path, sqlite3_errmsg(raw.db)));
  }
  watch->sqlite = raw.db;
  raw.db = nullptr;
  return watch;
}

Result<Manifest> CaptureSqlite(SnapshotStore& store, const std::string& path, Manifest m,
                               const CreateOptions& options) {
  if (path == ":memory:" || path.rfind("file::memory:", 0) == 0) {
    return Status(Code::kInvalidArgument, "an in-memory SQLite database cannot be snapshotted");
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return SqliteFileMissingError(path);  // exit 4, as elsewhere
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> reader, OpenSqlite(path));
  STRATA_ASSIGN_OR_RETURN(Rows mode, reader->Query("PRAGMA journal_mode"));
  bool wal = !mode.empty() && mode.rows[0][0].ToString() == "wal";
  // The image must be one state. Rollback journal: a read transaction's
  // shared lock keeps writers from committing while the file is read. WAL:
  // committed pages may live in the -wal file, so take the write lock (no
  // new frames), then checkpoint; if a reader of an older state keeps the
  // checkpoint from finishing, copy through the backup API instead. When
  // the caller holds the write lock already, a read transaction is enough.
  // The file is read through ImageFile, which SQLite closes (a descriptor
  // closed beside it would drop this process's locks on the file).
  STRATA_RETURN_IF_ERROR(reader->Exec(wal && !options.write_lock_held ? "BEGIN IMMEDIATE" : "BEGIN"));
  auto end_read = [&] { reader->Exec("ROLLBACK").IgnoreError(); };
  Status s = reader->Exec("SELECT count(*) FROM sqlite_schema");
  std::string image_path = path;
  std::string backup_path;
  if (s.ok() && wal) {
    RawDb ck;
    s = OpenRaw(path, SQLITE_OPEN_READWRITE, ck);
    int log = -1, done = -2;
    // A new connection learns that the database is in WAL mode when it
    // first reads it; until then a checkpoint does nothing and says -1, -1.
    int rc = s.ok() ? sqlite3_exec(ck.db, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr)
                    : SQLITE_ERROR;
    if (rc == SQLITE_OK) {
      rc = sqlite3_wal_checkpoint_v2(ck.db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    }
    if (s.ok() && (rc != SQLITE_OK || log < 0 || log != done)) {
      backup_path = fmt::format("{}/tmp/wal-copy.{}.db", store.dir(), getpid());
      RawDb src, dest;
      s = OpenRaw(path, SQLITE_OPEN_READONLY, src);
      if (s.ok()) s = OpenRaw(backup_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, dest);
      if (s.ok()) s = Backup(dest.db, src.db, "copying the WAL database");
      image_path = backup_path;
    }
  }
  // A copy made through the backup API is a file of its own. Each thread
  // reads through its own ImageFile.
  std::unique_ptr<ImageFile> image, walked_image;
  for (std::unique_ptr<ImageFile>* file : {&image, &walked_image}) {
    if (!s.ok()) break;
    auto opened = ImageFile::Open(image_path);
    if (opened.ok()) {
      *file = std::move(opened).value();
    } else {
      s = opened.status();
    }
  }
  auto cleanup = [&] {
    image.reset();
    walked_image.reset();
    end_read();
    if (!backup_path.empty()) unlink(backup_path.c_str());
  };
  if (!s.ok()) {
    cleanup();
    return s;
  }
  auto pragma = [&](const char* sql) -> Result<int64_t> {
    STRATA_ASSIGN_OR_RETURN(Rows rows, reader->Query(sql));
    return rows.empty() ? 0 : rows.rows[0][0].ToInt();
  };
  auto page_size = pragma("PRAGMA page_size");
  auto page_count = pragma("PRAGMA page_count");
  auto version = NewestVersion(*reader);
  if (!page_size.ok() || !page_count.ok() || !version.ok()) {
    cleanup();
    return !page_size.ok() ? page_size.status()
                           : !page_count.ok() ? page_count.status() : version.status();
  }
  m.page_size = static_cast<uint32_t>(*page_size);
  m.page_count = static_cast<uint64_t>(*page_count);
  m.schema_version = *version;

  // Fingerprints on the reader's connection, in the same transaction, while
  // this thread reads the file.
  Status fp_status;
  std::thread fingerprint([&] {
    auto schema = FingerprintSchema(*reader);
    if (!schema.ok()) {
      fp_status = schema.status().WithContext("schema fingerprint");
      return;
    }
    m.schema = std::move(schema).value();
    m.schema.canonical_text.clear();
    // More connections read rows beside it, in the state `reader` keeps
    // (the walk checks each segment's rows against its pages).
    int threads = options.threads > 0 ? options.threads : DefaultThreads();
    auto data = FingerprintSqliteImage(*reader, *walked_image, SegmentCachePath(store, path), nullptr,
                                       ReadersOf(path), threads);
    if (!data.ok()) {
      fp_status = data.status().WithContext("data fingerprint");
      return;
    }
    m.data = std::move(data).value();
  });

  uint64_t total = m.page_count * m.page_size;
  uint64_t chunk = std::max<uint64_t>(1, kChunkTarget / m.page_size) * m.page_size;
  if (options.progress) options.progress->Start("snapshot", total);
  std::vector<PutResult> puts;
  {
    ChunkPipeline pipeline(store, options.threads > 0 ? options.threads : DefaultThreads());
    for (uint64_t off = 0; off < total && s.ok(); off += chunk) {
      if (Interrupt::Requested()) {
        s = Status(Code::kIOError,
                   Interrupt::Describe() + " while taking the snapshot; nothing of it was kept");
        break;
      }
      std::string buf = pipeline.Buffer(std::min(chunk, total - off));
      s = image->Read(buf.data(), buf.size(), off);
      if (!s.ok()) break;
      if (options.progress) options.progress->Advance(buf.size());
      s = pipeline.Add(std::move(buf));
    }
    auto finished = pipeline.Finish();
    if (s.ok() && !finished.ok()) s = finished.status();
    if (finished.ok()) puts = std::move(finished).value();
  }
  if (options.progress) options.progress->Done();
  fingerprint.join();
  cleanup();
  if (s.ok()) s = fp_status;
  if (!s.ok()) return s;
  Part part{"database", "sqlite-pages", total, {}, {}};
  for (const auto& p : puts) part.chunks.push_back(p.ref);
  m.parts.push_back(std::move(part));
  STRATA_RETURN_IF_ERROR(Account(store, puts, m));
  return m;
}

Status WriteSqliteImage(SnapshotStore& store, const Manifest& m, const std::string& path,
                        Progress* progress, bool sync, std::vector<std::string>* damage) {
  const Part* part = m.FindPart("database");
  if (part == nullptr) return Status(Code::kVerifyFailed, "the manifest has no database part");
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create " + path);
  if (progress) progress->Start(damage ? "verify" : "restore", part->bytes);
  Status s;
  std::set<std::string> named;  // a chunk used twice is damaged once
  uint64_t offset = 0;
  for (size_t i = 0; i < part->chunks.size() && s.ok(); ++i) {
    if (Interrupt::Requested()) {
      s = Status(Code::kIOError, Interrupt::Describe() + " while writing " + path +
                                     ", which was removed; nothing was restored");
      break;
    }
    const ChunkRef& c = part->chunks[i];
    auto bytes = store.ReadChunk(c);
    if (!bytes.ok() && damage == nullptr) {
      s = bytes.status();
    } else if (!bytes.ok()) {
      if (named.insert(c.hash).second) {
        damage->push_back(fmt::format("{}: chunk {} of {} at byte {}: {}", part->name, i + 1,
                                      part->chunks.size(), offset, bytes.status().message()));
      }
    } else if (damage == nullptr || damage->empty()) {  // once damaged, only check the rest
      for (size_t done = 0; done < bytes->size();) {
        ssize_t n = write(fd, bytes->data() + done, bytes->size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          s = Errno("cannot write " + path);
          break;
        }
        done += n;
      }
    }
    offset += c.size;
    if (progress) progress->Advance(c.size);
  }
  if (s.ok() && sync && fsync(fd) != 0) s = Errno("cannot sync " + path);
  close(fd);
  if (progress) progress->Done();
  if (!s.ok() || (damage && !damage->empty())) unlink(path.c_str());
  return s;
}

namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

/// Removes the scratch files (.strata-restore-<pid>-<id>.db, and their
/// journals) a restore killed outright left in `dir`: those of processes
/// that are gone. A database's size each, they would stay for good.
void RemoveDeadRestoreFiles(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> listing(opendir(dir.c_str()), closedir);
  if (!listing) return;
  constexpr std::string_view kPrefix = ".strata-restore-";
  while (const dirent* entry = readdir(listing.get())) {
    const std::string_view name = entry->d_name;
    if (!name.starts_with(kPrefix)) continue;
    const std::string pid_text(name.substr(kPrefix.size(), name.find('-', kPrefix.size()) - kPrefix.size()));
    char* end = nullptr;
    const long pid = std::strtol(pid_text.c_str(), &end, 10);
    if (pid_text.empty() || *end != '\0' || pid <= 0 || pid == getpid()) continue;
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // still running
    unlink((dir + "/" + std::string(name)).c_str());
  }
}

}  // namespace

Status RestoreSqlite(SnapshotStore& store, const Manifest& m, const std::string& path,
                     const RestoreOptions& options) {
  struct stat st {};
  bool exists = stat(path.c_str(), &st) == 0;
  if (!options.replace && exists) {
    return Status(Code::kInvalidArgument,
                  fmt::format("'{}' already exists; restore into a new path, or into the "
                              "target itself with --yes",
                              path));
  }
  if (!exists) {
    // Left by an earlier database at this path (deleted after a crash, say):
    // SQLite would apply it over the restored file on its first open.
    for (const char* suffix : {"-wal", "-journal"}) {
      if (stat((path + suffix).c_str(), &st) != 0) continue;
      return Status(Code::kInvalidArgument,
                    fmt::format("'{}{}' is left from an earlier database at '{}', and SQLite "
                                "would apply it over the restored file; nothing was restored. "
                                "Move it (and '{}-shm') away, then restore again",
                                path, suffix, path, path));
    }
  }
  RemoveDeadRestoreFiles(DirOf(path));
  std::string temp = fmt::format("{}/.strata-restore-{}-{}.db", DirOf(path), getpid(), m.id);
  STRATA_RETURN_IF_ERROR(WriteSqliteImage(store, m, temp, options.progress, true, nullptr));
  auto drop_temp = [&] {
    unlink(temp.c_str());
    unlink((temp + "-journal").c_str());
    unlink((temp + "-wal").c_str());
    unlink((temp + "-shm").c_str());
  };
  // Checked before it takes the target's place: a snapshot whose pages do
  // not hold what its fingerprints say leaves the target as it was.
  Result<std::string> mismatch = UnreadableSqliteIsDamage([&]() -> Result<std::string> {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenSqlite(temp));
    return CompareFingerprints(*db, m);
  }());
  if (!mismatch.ok() || !mismatch->empty()) {
    drop_temp();
    if (!mismatch.ok()) return mismatch.status().WithContext("checking the restored file");
    return Status(Code::kVerifyFailed,
                  fmt::format("snapshot {} does not hold what its fingerprints say, so it was not "
                              "restored ('{}' is as it was):\n{}",
                              m.id, path, *mismatch));
  }
  if (!options.replace || !exists) {
    if (rename(temp.c_str(), path.c_str()) != 0) {
      Status s = Errno("cannot rename " + temp + " to " + path);
      drop_temp();
      return s;
    }
    int dfd = open(DirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
    return Status::OK();
  }
  // Copied through the watch's connection, when there is one: the data
  // version it read before the snapshot of the current state was taken
  // must not have moved once the copy holds the write lock. A commit in
  // between would be in neither that snapshot nor the restored file.
  TargetWatch* watch = options.replace ? options.watch : nullptr;
  std::function<Status()> unwritten;
  if (watch != nullptr && watch->sqlite != nullptr) {
    unwritten = [&]() -> Status {
      uint32_t now = 0;
      if (sqlite3_file_control(watch->sqlite, "main", SQLITE_FCNTL_DATA_VERSION, &now) != SQLITE_OK) {
        return Status(Code::kDatabase, fmt::format("cannot read the data version of '{}': {}",
                                                   path, sqlite3_errmsg(watch->sqlite)));
      }
      if (now == watch->sqlite_data_version) return Status::OK();
      const Manifest* before = options.unchanged_since;
      return Status(Code::kLocked,
                    fmt::format("'{}' changed while the snapshot of its current state{} was "
                                "taken, before the restore could keep writers out, so that "
                                "snapshot lacks what was written; nothing was restored. Run the "
                                "restore again, once the writers are stopped",
                                path, before ? " (" + before->id + ")" : ""));
    };
  }
  Status s;
  {
    RawDb src, own;
    sqlite3* dest = unwritten ? watch->sqlite : nullptr;
    if (dest == nullptr) {
      s = OpenRaw(path, SQLITE_OPEN_READWRITE, own);
      dest = own.db;
    }
    if (s.ok()) s = MatchWalPageSize(dest, temp, m.page_size);
    if (s.ok()) s = OpenRaw(temp, SQLITE_OPEN_READONLY, src);
    if (s.ok()) s = Backup(dest, src.db, "copying the snapshot into " + path, unwritten);
  }
  drop_temp();
  STRATA_RETURN_IF_ERROR(s);
  if (options.lock_owner == nullptr) return Status::OK();
  // The image carries the lock row of whoever held the lock when it was
  // taken; the lock belongs to the restorer now.
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenSqlite(path));
  STRATA_ASSIGN_OR_RETURN(bool has_lock_table, db->TableExists("strata_lock"));
  if (!has_lock_table) return Status::OK();
  const LockOwner& o = *options.lock_owner;
  return db->Query("INSERT OR REPLACE INTO strata_lock (id, actor, host, pid, since) "
                   "VALUES (1, $1, $2, $3, $4)",
                   {o.actor, o.host, static_cast<int64_t>(o.pid), o.since})
      .status();
}

}  // namespace strata::snapshot
