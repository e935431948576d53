// SnapshotStore: a directory of content-addressed chunks and snapshot manifests.
//
//   <dir>/chunks/ab/ab01...ff   one zstd frame holding the chunk's bytes; the
//                               name is the SHA-256 of those bytes
//   <dir>/snapshots/<id>.json   one manifest per complete snapshot
//   <dir>/tmp/                  files being written; garbage after a crash
//   <dir>/lock                  flock(): shared while a snapshot is written,
//                               exclusive while prune deletes
//
// A chunk is written once and never changed. Chunks reach their final name
// only after their bytes are on disk (fsync before rename), and a manifest is
// written last, the same way: a crash or a full disk at any point leaves
// earlier snapshots intact and at worst unreferenced chunks and temporary
// files, which prune removes. Files are created 0600, directories 0700.
//
// Thread safety: PutChunk may be called from several threads at once; every
// other method is for one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/manifest.h"
#include "strata/status.h"

namespace strata::snapshot {

/// zstd level 1: ~2.8x smaller than the pages of a typical table. The fast
/// (negative) levels compress about twice as fast but store ~1.7x more:
/// they do not entropy-code literals, most of a page image.
constexpr int kDefaultCompressionLevel = 1;

struct StoreOptions {
  /// Fault injection for tests: once this many bytes have been written
  /// through this object, every further write fails as on a full disk.
  /// Negative: never.
  int64_t fail_after_bytes = -1;
  int compression_level = kDefaultCompressionLevel;  // zstd
};

struct PutResult {
  ChunkRef ref;
  bool added = false;    // false: the store already had it
  uint64_t stored = 0;   // compressed bytes written, when added
};

/// Held while it lives: see SnapshotStore::Lock.
class StoreLock {
 public:
  explicit StoreLock(int fd) : fd_(fd) {}
  ~StoreLock();
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

 private:
  int fd_;
};

class SnapshotStore {
 public:
  /// Opens the store at `dir`, creating it (and its parents) when missing.
  static Result<std::unique_ptr<SnapshotStore>> Open(const std::string& dir,
                                                     const StoreOptions& options = {});
  ~SnapshotStore();

  const std::string& dir() const { return dir_; }

  /// Shared: snapshots are being written; exclusive: prune. Waits up to
  /// `wait_ms` for a conflicting holder, then fails with kLocked.
  Result<std::unique_ptr<StoreLock>> Lock(bool exclusive, int wait_ms = 60'000);

  // --- Writing a snapshot -------------------------------------------------
  /// Hashes `data` and, unless the store has it, compresses it into a
  /// temporary file. Thread-safe.
  Result<PutResult> PutChunk(std::string_view data);
  /// With `on`, PutChunk reads back (ReadChunk) a chunk the store already
  /// has before sharing it, and writes the content anew when it is damaged.
  void CheckReusedChunks(bool on) { check_reused_ = on; }
  /// Makes the chunks written since the last call durable (fsync) and gives
  /// them their final names.
  Status SyncChunks();
  /// Deletes chunks written but not yet synced (a snapshot that failed).
  void DiscardPending();
  /// Writes the manifest atomically. Call after SyncChunks.
  Status WriteManifest(const Manifest& manifest);

  // --- Reading ------------------------------------------------------------
  /// Compressed size of a stored chunk, or kNotFound.
  Result<uint64_t> StoredSize(const std::string& hash) const;
  /// The chunk's bytes, checked against its size and SHA-256: a missing chunk
  /// is kNotFound, a damaged one kVerifyFailed, each naming the file.
  /// A damaged chunk is moved to damaged/ in the store: a snapshot taken
  /// after that writes its content anew instead of sharing the damaged
  /// copy, and the earlier snapshots that hold it are whole again once one
  /// has.
  Result<std::string> ReadChunk(const ChunkRef& ref) const;

  struct Listing {
    std::string id;
    Result<Manifest> manifest;  // a failure: the manifest file is damaged
  };
  /// Every manifest file, oldest first, parsed or with why it does not parse.
  Result<std::vector<Listing>> List() const;
  /// The manifest whose id is `id`, or starts with `id` when only one does.
  Result<Manifest> Load(const std::string& id) const;
  Status RemoveManifest(const std::string& id);

  struct GcReport {
    uint64_t chunks = 0, bytes = 0, temp_files = 0;
  };
  /// Removes (or with `dry_run` counts) chunks no readable manifest lists,
  /// and leftover temporary files. Refuses while a manifest is damaged,
  /// since its chunks cannot be known. REQUIRES: the exclusive lock.
  Result<GcReport> RemoveUnreferencedChunks(bool dry_run);

  std::string ChunkPath(const std::string& hash) const;
  std::string ManifestPath(const std::string& id) const;

 private:
  SnapshotStore(std::string dir, StoreOptions options);
  enum class Durability { kSync, kStartWriteback };
  /// Writes `data` to a new file at `path` (0600), counting against the
  /// injected fault; fsyncs it, or only starts its writeback (SyncChunks
  /// waits for it). On failure the file is removed.
  Status WriteNewFile(const std::string& path, std::string_view data, Durability d);

  struct Pending {
    std::string temp_path;
    bool done = false;
  };

  std::string dir_;
  StoreOptions options_;
  std::mutex mu_;
  std::map<std::string, Pending> pending_;  // hash -> temp file, guarded by mu_
  int64_t written_ = 0;                     // guarded by mu_
  uint64_t temp_counter_ = 0;               // guarded by mu_
  bool check_reused_ = false;
};

/// "1.2 GiB", "512 KiB", "17 B".
std::string FormatBytes(uint64_t bytes);

}  // namespace strata::snapshot
