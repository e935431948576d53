#include "snapshot/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "migration/checksum.h"

namespace strata::snapshot {
namespace {

Status Errno(const std::string& what, int err) {
  return Status(Code::kIOError, fmt::format("{}: {}", what, std::strerror(err)));
}

Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return Status::OK();
  return Errno("cannot create directory " + path, errno);
}

/// mkdir -p with mode 0700 for every directory it creates.
Status MakeDirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      STRATA_RETURN_IF_ERROR(MakeDir(path.substr(0, pos)));
    }
  }
  return Status::OK();
}

Status SyncDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open directory " + path, errno);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return Errno("cannot sync directory " + path, err);
  return Status::OK();
}

/// syncfs() of the file system holding `path`: every file and directory
/// entry written there so far is on disk when it returns.
Status SyncFileSystem(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open " + path, errno);
  int rc = syncfs(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return Errno("cannot sync the snapshot store's file system", err);
  return Status::OK();
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status(Code::kNotFound, path + " does not exist");
    return Errno("cannot open " + path, errno);
  }
  std::string out;
  struct stat st {};
  if (fstat(fd, &st) == 0) out.reserve(st.st_size);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return Errno("cannot read " + path, err);
    }
    if (n == 0) break;
    out.append(buf, n);
  }
  close(fd);
  return out;
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* d = opendir(path.c_str());
  if (!d) return names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    names.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[unit]);
}

StoreLock::~StoreLock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

SnapshotStore::SnapshotStore(std::string dir, StoreOptions options)
    : dir_(std::move(dir)), options_(options) {}

SnapshotStore::~SnapshotStore() { DiscardPending(); }

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::Open(const std::string& dir,
                                                           const StoreOptions& options) {
  if (dir.empty()) return Status(Code::kInvalidArgument, "no snapshot store directory given");
  std::string root = dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  Status s = MakeDirs(root);
  if (s.ok()) s = MakeDir(root + "/chunks");
  if (s.ok()) s = MakeDir(root + "/snapshots");
  if (s.ok()) s = MakeDir(root + "/tmp");
  if (!s.ok()) return s.WithContext("snapshot store " + root);
  return std::unique_ptr<SnapshotStore>(new SnapshotStore(root, options));
}

Result<std::unique_ptr<StoreLock>> SnapshotStore::Lock(bool exclusive, int wait_ms) {
  std::string path = dir_ + "/lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot open " + path, errno);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int err = errno;
      close(fd);
      return Errno("cannot lock " + path, err);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      close(fd);
      return Status(Code::kLocked,
                    exclusive ? "the snapshot store " + dir_ + " is in use by a snapshot being "
                                    "written; try prune again when it is done"
                              : "the snapshot store " + dir_ + " is being pruned; try again "
                                    "when prune is done");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::make_unique<StoreLock>(fd);
}

std::string SnapshotStore::ChunkPath(const std::string& hash) const {
  return fmt::format("{}/chunks/{}/{}", dir_, hash.substr(0, 2), hash);
}

std::string SnapshotStore::ManifestPath(const std::string& id) const {
  return fmt::format("{}/snapshots/{}.json", dir_, id);
}

Status SnapshotStore::WriteNewFile(const std::string& path, std::string_view data, Durability d) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create " + path, errno);
  Status s;
  size_t off = 0;
  while (off < data.size()) {
    size_t want = data.size() - off;
    if (options_.fail_after_bytes >= 0) {
      std::lock_guard<std::mutex> l(mu_);
      int64_t room = std::max<int64_t>(0, options_.fail_after_bytes - written_);
      if (room == 0) {
        s = Errno("cannot write " + path, ENOSPC);
        break;
      }
      want = std::min<size_t>(want, room);
      written_ += want;
    }
    ssize_t n = write(fd, data.data() + off, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = Errno("cannot write " + path, errno);
      break;
    }
    off += n;
  }
  if (s.ok() && d == Durability::kSync && fsync(fd) != 0) s = Errno("cannot sync " + path, errno);
  // The disk starts on it now; SyncChunks then waits for less.
  if (s.ok() && d == Durability::kStartWriteback) {
    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  }
  if (close(fd) != 0 && s.ok()) s = Errno("cannot close " + path, errno);
  if (!s.ok()) unlink(path.c_str());
  return s;
}

Result<PutResult> SnapshotStore::PutChunk(std::string_view data) {
  PutResult out;
  out.ref = ChunkRef{Sha256Hex(data), data.size()};
  struct stat st {};
  // A damaged copy is moved aside by ReadChunk: then written anew below.
  if (stat(ChunkPath(out.ref.hash).c_str(), &st) == 0 && (!check_reused_ || ReadChunk(out.ref).ok())) {
    return out;
  }
  std::string temp;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (pending_.count(out.ref.hash)) return out;
    temp = fmt::format("{}/tmp/{}.{}.{}.tmp", dir_, out.ref.hash, getpid(), temp_counter_++);
    pending_[out.ref.hash] = Pending{temp, false};
  }
  // One context and output buffer per thread, reused: no allocation or
  // zero-filling per chunk.
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(),
                                                                        ZSTD_freeCCtx);
  thread_local std::string compressed;
  compressed.resize(std::max(compressed.size(), ZSTD_compressBound(data.size())));
  size_t n = ZSTD_compressCCtx(cctx.get(), compressed.data(), compressed.size(), data.data(),
                               data.size(), options_.compression_level);
  Status s;
  if (ZSTD_isError(n)) {
    s = Status(Code::kInternal, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  } else {
    s = WriteNewFile(temp, std::string_view(compressed.data(), n), Durability::kStartWriteback);
  }
  std::lock_guard<std::mutex> l(mu_);
  if (!s.ok()) {
    pending_.erase(out.ref.hash);
    return s;
  }
  pending_[out.ref.hash].done = true;
  out.added = true;
  out.stored = n;
  return out;
}

Status SnapshotStore::SyncChunks() {
  std::map<std::string, Pending> pending;
  {
    std::lock_guard<std::mutex> l(mu_);
    pending.swap(pending_);
  }
  if (pending.empty()) return Status::OK();
  auto fail = [&](Status s) {
    for (const auto& [hash, p] : pending) unlink(p.temp_path.c_str());
    return s;
  };
  // Many files: one syncfs() of the file system beats an fsync() each.
  bool many = pending.size() > 16;
  if (many) {
    Status s = SyncFileSystem(dir_ + "/tmp");
    if (!s.ok()) return fail(s);
  } else {
    for (const auto& [hash, p] : pending) {
      int fd = open(p.temp_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return fail(Errno("cannot open " + p.temp_path, errno));
      int rc = fsync(fd);
      int err = errno;
      close(fd);
      if (rc != 0) return fail(Errno("cannot sync " + p.temp_path, err));
    }
  }
  std::set<std::string> dirs;
  bool new_dir = false;
  for (const auto& [hash, p] : pending) {
    std::string sub = dir_ + "/chunks/" + hash.substr(0, 2);
    if (!dirs.count(sub)) {
      struct stat st {};
      if (stat(sub.c_str(), &st) != 0) {
        new_dir = true;
        Status s = MakeDir(sub);
        if (!s.ok()) return fail(s);
      }
      dirs.insert(sub);
    }
    if (rename(p.temp_path.c_str(), ChunkPath(hash).c_str()) != 0) {
      return fail(Errno("cannot rename " + p.temp_path, errno));
    }
  }
  // The new names: again one syncfs() rather than an fsync() of each of up
  // to 256 directories.
  if (many) return SyncFileSystem(dir_ + "/chunks");
  for (const auto& d : dirs) STRATA_RETURN_IF_ERROR(SyncDir(d));
  if (new_dir) STRATA_RETURN_IF_ERROR(SyncDir(dir_ + "/chunks"));
  return Status::OK();
}

void SnapshotStore::DiscardPending() {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [hash, p] : pending_) unlink(p.temp_path.c_str());
  pending_.clear();
}

Status SnapshotStore::WriteManifest(const Manifest& manifest) {
  std::string temp;
  {
    std::lock_guard<std::mutex> l(mu_);
    temp = fmt::format("{}/tmp/{}.{}.{}.json.tmp", dir_, manifest.id, getpid(), temp_counter_++);
  }
  STRATA_RETURN_IF_ERROR(WriteNewFile(temp, ToJson(manifest), Durability::kSync));
  if (rename(temp.c_str(), ManifestPath(manifest.id).c_str()) != 0) {
    Status s = Errno("cannot rename " + temp, errno);
    unlink(temp.c_str());
    return s;
  }
  return SyncDir(dir_ + "/snapshots");
}

Result<uint64_t> SnapshotStore::StoredSize(const std::string& hash) const {
  struct stat st {};
  if (stat(ChunkPath(hash).c_str(), &st) != 0) {
    return Status(Code::kNotFound, "chunk " + hash + " is missing");
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<std::string> SnapshotStore::ReadChunk(const ChunkRef& ref) const {
  std::string path = ChunkPath(ref.hash);
  auto file = ReadFile(path);
  if (!file.ok()) {
    if (file.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound, "chunk " + ref.hash + " is missing (" + path + ")");
    }
    return file.status();
  }
  auto damaged = [&](const std::string& why) {
    // Left in place, every later snapshot holding this content would share
    // the damaged copy (a chunk that exists is not written again).
    const std::string aside = dir_ + "/damaged/" + ref.hash;
    std::string moved;
    if (MakeDir(dir_ + "/damaged").ok() && rename(path.c_str(), aside.c_str()) == 0) {
      moved = fmt::format("; moved to {}, so the next snapshot holding this content writes it anew",
                          aside);
    }
    return Status(Code::kVerifyFailed,
                  fmt::format("chunk {} is damaged ({}): {}{}", ref.hash, path, why, moved));
  };
  unsigned long long size = ZSTD_getFrameContentSize(file->data(), file->size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return damaged("not a zstd frame");
  }
  if (size != ref.size) {
    return damaged(fmt::format("it holds {} bytes where the manifest expects {}", size, ref.size));
  }
  std::string out(size, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), file->data(), file->size());
  if (ZSTD_isError(n)) return damaged(std::string("does not decompress: ") + ZSTD_getErrorName(n));
  if (n != size) return damaged("it decompresses to fewer bytes than it declares");
  if (Sha256Hex(out) != ref.hash) return damaged("its content does not match its SHA-256");
  return out;
}

Result<std::vector<SnapshotStore::Listing>> SnapshotStore::List() const {
  std::vector<Listing> out;
  for (const std::string& name : ListDir(dir_ + "/snapshots")) {
    if (!name.ends_with(".json")) continue;
    std::string id = name.substr(0, name.size() - 5);
    auto text = ReadFile(dir_ + "/snapshots/" + name);
    if (!text.ok()) {
      out.push_back(Listing{id, text.status()});
      continue;
    }
    auto m = ManifestFromJson(*text);
    if (m.ok() && m->id != id) {
      m = Status(Code::kParse, "the file's name does not match the id inside (" + m->id + ")");
    }
    out.push_back(Listing{id, std::move(m)});
  }
  // Oldest first by creation time: ids taken within one second do not sort
  // by it. A damaged manifest goes by the time its id starts with.
  auto when = [](const Listing& l) {
    if (l.manifest.ok()) return l.manifest->created_at;
    const std::string& id = l.id;
    if (id.size() < 15 || id[8] != '-') return std::string();
    return fmt::format("{}-{}-{}T{}:{}:{}", id.substr(0, 4), id.substr(4, 2), id.substr(6, 2),
                       id.substr(9, 2), id.substr(11, 2), id.substr(13, 2));
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const Listing& a, const Listing& b) { return when(a) < when(b); });
  return out;
}

Result<Manifest> SnapshotStore::Load(const std::string& id) const {
  if (id.empty() || id.find('/') != std::string::npos) {
    return Status(Code::kInvalidArgument, "'" + id + "' is not a snapshot id");
  }
  std::vector<std::string> matches;
  for (const std::string& name : ListDir(dir_ + "/snapshots")) {
    if (!name.ends_with(".json")) continue;
    std::string candidate = name.substr(0, name.size() - 5);
    if (candidate == id) {
      matches = {candidate};
      break;
    }
    if (candidate.rfind(id, 0) == 0) matches.push_back(candidate);
  }
  if (matches.empty()) {
    return Status(Code::kNotFound, fmt::format("no snapshot '{}' in {} (`strata snapshot list` "
                                               "shows them)",
                                               id, dir_));
  }
  if (matches.size() > 1) {
    return Status(Code::kInvalidArgument,
                  fmt::format("'{}' matches {} snapshots ({}, ...); give more of the id", id,
                              matches.size(), matches[0]));
  }
  std::string path = ManifestPath(matches[0]);
  STRATA_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto m = ManifestFromJson(text);
  if (!m.ok()) {
    return Status(Code::kVerifyFailed,
                  fmt::format("the manifest of snapshot {} is damaged ({}): {}", matches[0], path,
                              m.status().message()));
  }
  return m;
}

Status SnapshotStore::RemoveManifest(const std::string& id) {
  if (unlink(ManifestPath(id).c_str()) != 0) return Errno("cannot remove " + ManifestPath(id), errno);
  return SyncDir(dir_ + "/snapshots");
}

Result<SnapshotStore::GcReport> SnapshotStore::RemoveUnreferencedChunks(bool dry_run) {
  STRATA_ASSIGN_OR_RETURN(std::vector<Listing> listings, List());
  std::set<std::string> used;
  for (const auto& l : listings) {
    if (!l.manifest.ok()) {
      return Status(Code::kVerifyFailed,
                    fmt::format("the manifest of snapshot {} is damaged ({}), so the chunks it "
                                "uses are unknown; no chunk was removed. Remove {} if the "
                                "snapshot is lost",
                                l.id, l.manifest.status().message(), ManifestPath(l.id)));
    }
    for (const auto& p : l.manifest->parts) {
      for (const auto& c : p.chunks) used.insert(c.hash);
    }
  }
  GcReport report;
  for (const std::string& sub : ListDir(dir_ + "/chunks")) {
    std::string subdir = dir_ + "/chunks/" + sub;
    for (const std::string& name : ListDir(subdir)) {
      if (used.count(name)) continue;
      std::string path = subdir + "/" + name;
      struct stat st {};
      if (stat(path.c_str(), &st) == 0) report.bytes += st.st_size;
      ++report.chunks;
      if (!dry_run && unlink(path.c_str()) != 0) return Errno("cannot remove " + path, errno);
    }
  }
  for (const std::string& name : ListDir(dir_ + "/tmp")) {
    ++report.temp_files;
    if (!dry_run) unlink((dir_ + "/tmp/" + name).c_str());
  }
  return report;
}

}  // namespace strata::snapshot
