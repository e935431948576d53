// Snapshots of a database: create, verify, restore.
//
// SQLite: the database file's pages, read under a read transaction (rollback
// journal) or the write lock with the WAL checkpointed (WAL mode), so the
// image is one consistent state while other connections keep reading; cut on
// page boundaries so unchanged pages deduplicate. Restore builds the file
// beside the target and copies it in with SQLite's backup API, so open
// connections stay valid; into a new path it is renamed into place.
//
// PostgreSQL: the managed schema (current_schema() of the URL): its
// definition from pg_dump (pre-data and post-data sections), each table's
// rows as a COPY text stream cut by content, and sequence values, all read in
// one exported snapshot, so they agree with each other. Restore runs in one
// transaction: drop the schema, create it from the dump, COPY the rows back,
// set the sequences, then indexes, constraints and triggers.
//
// strata_history is part of both (restoring to a point brings history back
// to that point); the SQLite migration lock row is not carried over.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "snapshot/manifest.h"
#include "snapshot/progress.h"
#include "snapshot/store.h"
#include "strata/database.h"

struct sqlite3;

namespace strata::snapshot {

/// Other connections' commits to a restore's target from the moment it was
/// made, for a restore over the target to refuse what was written after the
/// snapshot of its current state was taken (RestoreOptions::watch). SQLite:
/// a connection to the target and its data version then
/// (SQLITE_FCNTL_DATA_VERSION, which moves with each commit another
/// connection makes); the restore copies through that connection. Empty for
/// PostgreSQL, whose restore compares the tables with that snapshot instead
/// (RestoreOptions::unchanged_since), and for a SQLite file not there yet.
struct TargetWatch {
  TargetWatch() = default;
  TargetWatch(const TargetWatch&) = delete;
  TargetWatch& operator=(const TargetWatch&) = delete;
  ~TargetWatch();

  sqlite3* sqlite = nullptr;
  uint32_t sqlite_data_version = 0;
};

/// Starts watching the database at `url`: made before the snapshot of its
/// current state is taken, so that nothing committed after that snapshot
/// read it goes unseen.
Result<std::unique_ptr<TargetWatch>> WatchTarget(const std::string& url);

struct CreateOptions {
  std::string label;
  std::string reason = "manual";
  Progress* progress = nullptr;
  int threads = 0;             // 0: DefaultThreads()
  std::string pg_dump = "pg_dump";
  /// PostgreSQL: how long a read waits for a table lock another session
  /// holds (an ALTER TABLE under way) before the snapshot gives up with
  /// kLocked; 0 waits as long as it takes.
  std::chrono::milliseconds lock_timeout{0};
  /// Reads back each chunk the store already holds before sharing it, and
  /// writes its content anew when it is damaged (the snapshot a restore
  /// takes first is the only copy of what the restore replaces).
  bool check_reused = false;
  /// SQLite: another connection of this process holds the database's write
  /// lock (an `up` run's open transaction, which has written nothing yet):
  /// no commit can come while the pages are read, and the snapshot must not
  /// wait for that lock itself.
  bool write_lock_held = false;
};

/// How a manifest names the database at `url`: "sqlite:<path>" with the
/// path absolute and its links resolved, or the URL without its password.
/// "" when `url` does not parse.
std::string SourceName(const std::string& url);

/// Takes a snapshot of the database at `url` into `store`. Nothing is listed
/// unless the whole snapshot was written.
Result<Manifest> CreateSnapshot(SnapshotStore& store, const std::string& url,
                                const CreateOptions& options);

struct VerifyReport {
  std::vector<std::string> damage;  // one line per damaged or missing chunk
  bool sandbox_checked = false;
  std::string sandbox;              // where it was restored (redacted)
  std::string mismatch;             // how the sandbox's fingerprints differ; "" = equal
  bool ok() const { return damage.empty() && sandbox_checked && mismatch.empty(); }
};

/// Checks every chunk (present, decompresses, SHA-256 matches); when they are
/// all good, restores the snapshot into a sandbox (a temporary SQLite file in
/// the store, or a scratch database on the server at `server_url` for
/// PostgreSQL) and compares its fingerprints with the manifest's.
Result<VerifyReport> VerifySnapshot(SnapshotStore& store, const Manifest& manifest,
                                    const std::string& server_url, Progress* progress);

/// kInvalidArgument unless `url` names a database of the engine `m` was
/// taken of: checked before anything else of a restore happens.
Status CheckSameEngine(const Manifest& m, const std::string& url);

/// Checks that every chunk the manifest lists is present, without reading
/// them: a restore refuses a snapshot that lacks one before touching anything.
Status CheckChunksPresent(const SnapshotStore& store, const Manifest& manifest);

struct RestoreOptions {
  /// true: `url` is the live target, whose contents are replaced. false: a
  /// new database (SQLite: a path that does not exist; PostgreSQL: created
  /// if missing, and its schema must hold nothing yet).
  bool replace = false;
  Progress* progress = nullptr;
  /// SQLite, replace: the lock row strata_lock should hold afterwards (the
  /// restorer's), instead of the one captured in the snapshot.
  const LockOwner* lock_owner = nullptr;
  /// PostgreSQL, replace: how long to wait for the locks of the tables the
  /// restore drops (other sessions' open transactions on them) before
  /// giving up with kLocked, nothing restored; 0 waits as long as it takes.
  /// While it waits, those tables' other users queue behind it.
  std::chrono::milliseconds lock_timeout{0};
  /// PostgreSQL, replace: the snapshot of the target taken just before the
  /// restore; once the restore holds the tables' locks, their contents must
  /// still be that snapshot's (kLocked, nothing restored, when a write
  /// landed in between: it would be in no snapshot).
  const Manifest* unchanged_since = nullptr;
  /// SQLite, replace: made (WatchTarget) before `unchanged_since` was
  /// taken. The copy into the target goes through its connection; once the
  /// copy holds the target's write lock, and before it has changed a page,
  /// another connection's commit since the watch began is refused (kLocked,
  /// nothing restored): it would be in no snapshot.
  TargetWatch* watch = nullptr;
  /// PostgreSQL: what the restore left out, each a sentence (a grant to a
  /// role the server lacks).
  std::vector<std::string>* notes = nullptr;
};

/// Whether restoring `manifest` over `url` in place would be refused for
/// what it would drop (PostgreSQL: objects of other schemas built on the
/// schema, publications), checked before anything is asked or taken; the
/// restore checks again once it holds its locks.
Status CheckRestorableInPlace(const Manifest& manifest, const std::string& url);

/// Restores the snapshot into `url` and checks the result's fingerprints
/// against the manifest (kVerifyFailed with the difference when they differ).
/// A damaged chunk or a mismatch stops it before the target is changed:
/// SQLite builds and checks the whole file first; PostgreSQL restores and
/// checks in one transaction.
Status RestoreSnapshot(SnapshotStore& store, const Manifest& manifest, const std::string& url,
                       const RestoreOptions& options);

/// "" when `db` has the manifest's fingerprints, else what differs. PostgreSQL:
/// sets row_security off on `db`, so that rows a policy hides are an error.
Result<std::string> CompareFingerprints(Database& db, const Manifest& manifest);

/// A SQLite file assembled from a snapshot's intact chunks that SQLite cannot
/// read (malformed, not a database) holds the wrong pages: `read`'s error
/// becomes what differs. Other errors (an interrupt) stay errors.
Result<std::string> UnreadableSqliteIsDamage(Result<std::string> read);

// Engine parts (sqlite_snapshot.cc, postgres_snapshot.cc).
Result<Manifest> CaptureSqlite(SnapshotStore& store, const std::string& path, Manifest manifest,
                               const CreateOptions& options);
Status RestoreSqlite(SnapshotStore& store, const Manifest& manifest, const std::string& path,
                     const RestoreOptions& options);
Result<std::unique_ptr<TargetWatch>> WatchSqlite(const std::string& path);
/// Writes the page image to a new file at `path`, checking every chunk as it
/// goes; `sync` fsyncs the file. Without `damage`, the first missing or
/// damaged chunk stops it; with it, each one is named there and the rest are
/// still checked. The file is removed unless every chunk was good.
Status WriteSqliteImage(SnapshotStore& store, const Manifest& manifest, const std::string& path,
                        Progress* progress, bool sync, std::vector<std::string>* damage);
Result<Manifest> CapturePostgres(SnapshotStore& store, const std::string& url, Manifest manifest,
                                 const CreateOptions& options);
/// Restores in one transaction and compares the fingerprints before it
/// commits: "" when they are equal, else what differs; then, over the target
/// (`options.replace`), it was rolled back, and into a new database committed.
Result<std::string> RestorePostgres(SnapshotStore& store, const Manifest& manifest,
                                    const std::string& url, const RestoreOptions& options);
Status CheckPostgresRestorableInPlace(const Manifest& manifest, const std::string& url);

class PgConn;
/// CREATE DATABASE `name` (for a restore or verify) with the encoding and
/// locale of the snapshot's source, from template0, unless the server's
/// defaults are those; a locale the server lacks falls back to its
/// defaults when their encoding is the same.
Status CreateDatabaseLike(PgConn& admin, const Manifest& manifest, const std::string& name);

/// Fills the size fields of `manifest` from the results of its chunks.
Status Account(const SnapshotStore& store, const std::vector<PutResult>& puts, Manifest& manifest);

}  // namespace strata::snapshot
