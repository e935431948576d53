// FingerprintSqliteImage: see sqlite_fingerprint.h. The page layout read here
// is SQLite's file format (sqlite.org/fileformat2.html): table b-tree
// interior pages (type 5) and leaves (type 13), cell pointer arrays, varints,
// and the rule for how much of a cell's payload stays on its page.
#include "snapshot/sqlite_fingerprint.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <xxhash.h>

#include "engine/sqlite/sqlite_database.h"

namespace strata::snapshot {
namespace {

using U128 = unsigned __int128;

struct Key {
  uint64_t high = 0, low = 0;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& k) const { return static_cast<size_t>(k.low); }
};
using SumCache = std::unordered_map<Key, RowSum, KeyHash>;

// The cache file: magic, then per segment its key (16 bytes), sum (16) and
// row count (8), host byte order, then the XXH64 of all that.
constexpr char kMagic[] = "strata-segment-sums-1\n";
constexpr size_t kMagicSize = sizeof(kMagic) - 1;
constexpr size_t kEntrySize = 40;

SumCache LoadCache(const std::string& path) {
  SumCache cache;
  int fd = path.empty() ? -1 : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cache;
  std::string bytes;
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) bytes.append(buf, n);
  close(fd);
  if (n < 0 || bytes.size() < kMagicSize + 8 || (bytes.size() - kMagicSize - 8) % kEntrySize != 0 ||
      bytes.compare(0, kMagicSize, kMagic) != 0) {
    return cache;
  }
  size_t body = bytes.size() - 8;
  uint64_t check;
  std::memcpy(&check, bytes.data() + body, 8);
  if (check != XXH64(bytes.data(), body, 0)) return cache;
  for (size_t at = kMagicSize; at < body; at += kEntrySize) {
    Key key;
    RowSum sum;
    std::memcpy(&key.high, bytes.data() + at, 8);
    std::memcpy(&key.low, bytes.data() + at + 8, 8);
    std::memcpy(&sum.sum, bytes.data() + at + 16, 16);
    std::memcpy(&sum.rows, bytes.data() + at + 32, 8);
    cache.emplace(key, sum);
  }
  return cache;
}

/// Replaces the cache file (temporary file, then rename: a crash leaves the
/// old file or the new one). Failing to write a cache is not an error.
void SaveCache(const std::string& path, const SumCache& cache) {
  if (path.empty()) return;
  std::string bytes(kMagic, kMagicSize);
  bytes.reserve(kMagicSize + cache.size() * kEntrySize + 8);
  for (const auto& [key, sum] : cache) {
    bytes.append(reinterpret_cast<const char*>(&key.high), 8);
    bytes.append(reinterpret_cast<const char*>(&key.low), 8);
    bytes.append(reinterpret_cast<const char*>(&sum.sum), 16);
    bytes.append(reinterpret_cast<const char*>(&sum.rows), 8);
  }
  uint64_t check = XXH64(bytes.data(), bytes.size(), 0);
  bytes.append(reinterpret_cast<const char*>(&check), 8);
  std::string temp = fmt::format("{}.{}.tmp", path, getpid());
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += n;
  }
  close(fd);
  if (done != bytes.size() || rename(temp.c_str(), path.c_str()) != 0) unlink(temp.c_str());
}

uint32_t Be16(const unsigned char* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

/// Reads a varint at `p`; the number of bytes, or 0 when it runs past `end`.
size_t Varint(const unsigned char* p, const unsigned char* end, uint64_t* out) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    if (p + i >= end) return 0;
    v = (v << 7) | (p[i] & 0x7f);
    if ((p[i] & 0x80) == 0) {
      *out = v;
      return i + 1;
    }
  }
  if (p + 8 >= end) return 0;
  *out = (v << 8) | p[8];
  return 9;
}

struct Segment {
  Key key;
  int64_t lo = 0, hi = 0, rows = 0;
  int leaves = 0;
};

/// Segments of one table next to each other, whose rows one query over
/// their rowid range reads.
struct Job {
  size_t table = 0;  // its index in the tables walked
  std::shared_ptr<const std::string> select;
  std::vector<Segment> segments;
};

/// Reads the segments' rows with SQL, on connections of their own while the
/// pages are walked (without any, on `db` as they come), and sums them per
/// table.
class SegmentReaders {
 public:
  SegmentReaders(Database& db, SumCache& new_cache, const OpenReader& open, int threads)
      : db_(db), new_(new_cache) {
    for (int i = 0; open && i < threads; ++i) workers_.emplace_back([this, &open] { Work(open); });
  }
  ~SegmentReaders() {
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.clear();  // after a failure nothing more is wanted
    }
    StopWorkers();
  }

  void Submit(Job job) {
    if (workers_.empty()) return Read(db_, hasher_, job);
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  /// A segment's sum known without reading it.
  void Remember(const Key& key, const RowSum& sum) {
    std::lock_guard<std::mutex> l(mu_);
    new_[key] = sum;
  }

  /// Waits for the workers to read what is queued; reads on `db` what none
  /// could (when no worker could open its connection).
  void Finish() {
    StopWorkers();
    while (std::optional<Job> job = Take(/*wait=*/false)) Read(db_, hasher_, *job);
  }

  /// After Finish: the rows read of table `table`, or why they could not be.
  Result<RowSum> Sum(size_t table) const {
    if (table < errors_.size() && !errors_[table].ok()) return errors_[table];
    return table < sums_.size() ? sums_[table] : RowSum();
  }

 private:
  /// Lets the workers end once the queue is empty, and waits for them.
  void StopWorkers() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::optional<Job> Take(bool wait) {
    std::unique_lock<std::mutex> l(mu_);
    if (wait) cv_.wait(l, [&] { return !queue_.empty() || closing_; });
    if (queue_.empty()) return std::nullopt;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    return job;
  }

  void Work(const OpenReader& open) {
    auto conn = open();
    if (!conn.ok()) return;  // its share is read by the others
    RowHasher hasher;
    while (std::optional<Job> job = Take(/*wait=*/true)) Read(**conn, hasher, *job);
  }

  /// Reads a job's rows with one query, routing each row to its segment by
  /// rowid, and checks that each segment has the rows its pages hold.
  void Read(Database& conn, RowHasher& hasher, const Job& job) {
    const std::vector<Segment>& segments = job.segments;
    std::vector<RowSum> sums(segments.size());
    size_t at = 0;
    int64_t strays = 0;
    Status s = conn.ForEachRow(
        *job.select, {Value(segments.front().lo), Value(segments.back().hi)},
        [&](std::span<const CellView> cells) {
          int64_t rowid = cells[0].integer;
          while (at < segments.size() && segments[at].hi < rowid) ++at;
          if (at == segments.size() || rowid < segments[at].lo) {
            ++strays;
          } else {
            sums[at].sum += hasher.Hash(cells.subspan(1));
            ++sums[at].rows;
          }
          return Status::OK();
        });
    for (size_t i = 0; s.ok() && i < segments.size(); ++i) {
      if (strays > 0 || sums[i].rows != segments[i].rows) {
        s = Status(Code::kInternal,
                   fmt::format("the database file's pages hold {} rows with rowids {} to {}, "
                               "but SQLite returned {}: the file and the connection do not "
                               "show the same state",
                               segments[i].rows, segments[i].lo, segments[i].hi,
                               sums[i].rows + strays));
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    if (sums_.size() <= job.table) {
      sums_.resize(job.table + 1);
      errors_.resize(job.table + 1);
    }
    if (!s.ok()) {
      if (errors_[job.table].ok()) errors_[job.table] = s;
      return;
    }
    for (size_t i = 0; i < segments.size(); ++i) {
      sums_[job.table].Add(sums[i]);
      new_[segments[i].key] = sums[i];
    }
  }

  Database& db_;
  RowHasher hasher_;  // for reads on db_
  SumCache& new_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool closing_ = false;
  std::vector<RowSum> sums_;
  std::vector<Status> errors_;
  std::vector<std::thread> workers_;
};

/// One table's walk. The sums of segments in the cache are its own; the
/// others go to `readers` in jobs. A page that is not what a table b-tree
/// should hold ends the walk with std::nullopt, and the caller reads the
/// table whole.
class TableWalk {
 public:
  TableWalk(Database& db, const ImageFile& image, uint32_t page_size, uint32_t usable, uint64_t pages,
            const SumCache& old_cache, SegmentReaders& readers, size_t table,
            ImageFingerprintStats& stats)
      : db_(db), image_(image), page_size_(page_size), usable_(usable), pages_(pages),
        old_(old_cache), readers_(readers), table_(table), stats_(stats) {}

  /// `salt`: what besides the stored bytes decides the rows SELECT * returns
  /// (the table's name and definition, the text encoding). The sum of the
  /// segments found in the cache; the rest is the readers'.
  std::optional<RowSum> Run(const std::string& table, const std::string& rowid, uint32_t root,
                            const std::string& salt) {
    select_ = std::make_shared<const std::string>(
        fmt::format("SELECT {0}, * FROM {1} WHERE {0} BETWEEN $1 AND $2 ORDER BY {0}", rowid,
                    db_.QuoteIdent(table)));
    salt_ = salt;
    StartSegment();
    if (!Descend(root, 0)) return std::nullopt;
    if (seg_.leaves > 0) CloseSegment();
    Flush();
    return total_;
  }

 private:
  /// Segments per job: about 2 MB of leaves, so that several connections
  /// share a large table.
  static constexpr size_t kSegmentsPerJob = 16;
  static constexpr uint32_t kBlockBytes = 256 * 1024;

  /// Page `pgno` into `buf`, from the block of pages read last when it is
  /// in it: a table's pages mostly follow each other in the file, and one
  /// read of a block costs far less than one read per page.
  bool ReadPage(uint32_t pgno, std::string& buf) {
    if (pgno == 0 || pgno > pages_ || ++visited_ > pages_) return false;
    if (pgno < block_first_ || pgno >= block_first_ + block_pages_) {
      uint64_t count = std::min<uint64_t>(std::max<uint32_t>(1, kBlockBytes / page_size_),
                                          pages_ - pgno + 1);
      block_.resize(count * page_size_);
      if (!image_.Read(block_.data(), block_.size(), (pgno - 1) * uint64_t{page_size_}).ok()) {
        block_pages_ = 0;
        return false;
      }
      block_first_ = pgno;
      block_pages_ = count;
    }
    buf.assign(block_.data() + (pgno - block_first_) * page_size_, page_size_);
    return true;
  }

  bool Descend(uint32_t pgno, int depth) {
    std::string page;
    if (depth > 40 || !ReadPage(pgno, page)) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(page.data());
    size_t head = pgno == 1 ? 100 : 0;
    if (page[head] == 13) return Leaf(p, head);
    if (page[head] != 5) return false;
    uint32_t cells = Be16(p + head + 3);
    if (head + 12 + 2 * size_t{cells} > usable_) return false;
    for (uint32_t i = 0; i < cells; ++i) {
      uint32_t at = Be16(p + head + 12 + 2 * i);
      if (at + 4 > usable_ || !Descend(Be32(p + at), depth + 1)) return false;
    }
    return Descend(Be32(p + head + 8), depth + 1);
  }

  bool Leaf(const unsigned char* p, size_t head) {
    XXH3_128bits_reset(leaf_state_.get());
    XXH3_128bits_update(leaf_state_.get(), p, page_size_);
    uint32_t cells = Be16(p + head + 3);
    if (head + 8 + 2 * size_t{cells} > usable_) return false;
    const unsigned char* end = p + usable_;
    const uint64_t max_local = usable_ - 35;
    const uint64_t min_local = (uint64_t{usable_} - 12) * 32 / 255 - 23;
    for (uint32_t i = 0; i < cells; ++i) {
      uint32_t at = Be16(p + head + 8 + 2 * i);
      if (at >= usable_) return false;
      uint64_t payload = 0, rowid = 0;
      size_t a = Varint(p + at, end, &payload);
      size_t b = a ? Varint(p + at + a, end, &rowid) : 0;
      if (b == 0) return false;
      int64_t key = static_cast<int64_t>(rowid);
      if (seg_.rows == 0) seg_.lo = key;
      seg_.hi = key;
      ++seg_.rows;
      if (payload <= max_local) continue;
      // The rest of the payload is on a chain of overflow pages; their bytes
      // are the row's too.
      uint64_t local = min_local + (payload - min_local) % (usable_ - 4);
      if (local > max_local) local = min_local;
      const unsigned char* link = p + at + a + b + local;
      if (link + 4 > end) return false;
      uint32_t next = Be32(link);
      for (uint64_t left = payload - local; left > 0;) {
        if (!ReadPage(next, overflow_)) return false;
        XXH3_128bits_update(leaf_state_.get(), overflow_.data(), page_size_);
        next = Be32(reinterpret_cast<const unsigned char*>(overflow_.data()));
        left -= std::min<uint64_t>(left, usable_ - 4);
      }
    }
    XXH128_hash_t leaf = XXH3_128bits_digest(leaf_state_.get());
    XXH3_128bits_update(seg_state_.get(), &leaf, sizeof leaf);
    ++seg_.leaves;
    // Cut after a leaf whose hash ends in five zero bits (32 leaves on
    // average), or at 256: an edit moves only the cuts near it.
    if ((leaf.low64 & 31) == 0 || seg_.leaves == 256) {
      CloseSegment();
      StartSegment();
    }
    return true;
  }

  void StartSegment() {
    seg_ = Segment();
    XXH3_128bits_reset(seg_state_.get());
    XXH3_128bits_update(seg_state_.get(), salt_.data(), salt_.size());
  }

  void CloseSegment() {
    XXH128_hash_t h = XXH3_128bits_digest(seg_state_.get());
    seg_.key = Key{h.high64, h.low64};
    if (seg_.rows == 0) return;
    ++stats_.segments;
    auto hit = old_.find(seg_.key);
    if (hit != old_.end() && hit->second.rows == seg_.rows) {
      ++stats_.reused;
      total_.Add(hit->second);
      readers_.Remember(seg_.key, hit->second);
      Flush();  // a job's segments are next to each other
      return;
    }
    pending_.push_back(seg_);
    if (pending_.size() == kSegmentsPerJob) Flush();
  }

  void Flush() {
    if (pending_.empty()) return;
    readers_.Submit(Job{table_, select_, std::move(pending_)});
    pending_.clear();
  }

  Database& db_;
  const ImageFile& image_;
  uint32_t page_size_, usable_;
  uint64_t pages_;
  uint64_t visited_ = 0;
  std::string block_;  // pages block_first_ to block_first_ + block_pages_ - 1
  uint64_t block_first_ = 0, block_pages_ = 0;
  const SumCache& old_;
  SegmentReaders& readers_;
  size_t table_;
  ImageFingerprintStats& stats_;
  std::shared_ptr<const std::string> select_;
  std::string salt_, overflow_;
  struct FreeState {
    void operator()(XXH3_state_t* state) const { XXH3_freeState(state); }
  };
  std::unique_ptr<XXH3_state_t, FreeState> leaf_state_{XXH3_createState()},
      seg_state_{XXH3_createState()};
  Segment seg_;
  std::vector<Segment> pending_;
  RowSum total_;
};

/// The first of SQLite's names for the rowid that no column of `table` takes.
Result<std::string> RowidName(Database& db, const std::string& table) {
  STRATA_ASSIGN_OR_RETURN(Rows cols, db.Query("SELECT lower(name) FROM pragma_table_xinfo($1)",
                                              {table}));
  for (const char* name : {"rowid", "_rowid_", "oid"}) {
    bool taken = std::any_of(cols.rows.begin(), cols.rows.end(),
                             [&](const auto& row) { return row[0].ToString() == name; });
    if (!taken) return std::string(name);
  }
  return std::string();
}

}  // namespace

Result<std::unique_ptr<ImageFile>> ImageFile::Open(const std::string& path) {
  std::unique_ptr<ImageFile> image(new ImageFile());
  image->path_ = path;
  // Opening a connection opens its file (and reads nothing yet).
  if (sqlite3_open_v2(path.c_str(), &image->db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK ||
      sqlite3_file_control(image->db_, "main", SQLITE_FCNTL_FILE_POINTER, &image->file_) != SQLITE_OK ||
      image->file_ == nullptr || image->file_->pMethods == nullptr) {
    return Status(Code::kIOError, fmt::format("cannot open {}: {}", path,
                                              image->db_ ? sqlite3_errmsg(image->db_) : "out of memory"));
  }
  return image;
}

ImageFile::~ImageFile() { sqlite3_close_v2(db_); }

Status ImageFile::Read(char* buf, size_t size, uint64_t offset) const {
  // xRead takes an int: a large range goes in pieces.
  constexpr size_t kMost = 1 << 30;
  for (size_t done = 0; done < size;) {
    const size_t n = std::min(kMost, size - done);
    const int rc = file_->pMethods->xRead(file_, buf + done, static_cast<int>(n),
                                          static_cast<sqlite3_int64>(offset + done));
    if (rc == SQLITE_IOERR_SHORT_READ) {
      return Status(Code::kIOError, fmt::format("{} ended before byte {} while its header says it "
                                                "has more pages",
                                                path_, offset + size));
    }
    if (rc != SQLITE_OK) {
      return Status(Code::kIOError, fmt::format("cannot read {} at byte {} (SQLite I/O error {})",
                                                path_, offset + done, rc));
    }
    done += n;
  }
  return Status::OK();
}

Result<uint64_t> ImageFile::Size() const {
  sqlite3_int64 size = 0;
  if (file_->pMethods->xFileSize(file_, &size) != SQLITE_OK) {
    return Status(Code::kIOError, "cannot read the size of " + path_);
  }
  return static_cast<uint64_t>(size);
}

Result<DataFingerprint> FingerprintSqliteImage(Database& db, const ImageFile& image,
                                               const std::string& cache_path,
                                               ImageFingerprintStats* stats,
                                               const OpenReader& open_reader, int readers) {
  ImageFingerprintStats local_stats;
  if (stats == nullptr) stats = &local_stats;
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, db.ListTables());
  STRATA_ASSIGN_OR_RETURN(Rows defs, db.Query("SELECT name, rootpage, coalesce(sql, '') "
                                               "FROM sqlite_schema WHERE type = 'table'"));
  std::map<std::string, std::pair<int64_t, std::string>> def;
  for (const auto& row : defs.rows) def[row[0].ToString()] = {row[1].ToInt(), row[2].ToString()};

  unsigned char header[100];
  auto size = image.Size();
  bool have_header = size.ok() && image.Read(reinterpret_cast<char*>(header), sizeof header, 0).ok();
  uint32_t page_size = have_header ? Be16(header + 16) : 0;
  if (page_size == 1) page_size = 65536;
  // Too odd a file to walk: every table is read with SQL.
  bool walkable = have_header && page_size >= 512 && page_size > header[20] + 480u;
  uint32_t usable = walkable ? page_size - header[20] : 0;
  uint64_t pages = walkable ? *size / page_size : 0;
  std::string encoding = have_header ? fmt::format("{}", Be32(header + 56)) : "";

  SumCache old_cache = LoadCache(cache_path), new_cache;
  SegmentReaders segment_readers(db, new_cache, open_reader, readers);
  // Per table: the sum of its segments found in the cache (the readers
  // have the rest), or, for a table read whole, its sum.
  std::vector<std::pair<RowSum, bool>> known(names.size());  // {sum, walked}
  Status s;
  for (size_t i = 0; i < names.size() && s.ok(); ++i) {
    const std::string& name = names[i];
    std::optional<RowSum> walked;
    auto it = def.find(name);
    if (walkable && it != def.end() && it->second.first > 0) {
      auto rowid = RowidName(db, name);
      if (!rowid.ok()) {
        s = rowid.status();
        break;
      }
      if (!rowid->empty()) {
        TableWalk walk(db, image, page_size, usable, pages, old_cache, segment_readers, i, *stats);
        walked = walk.Run(name, *rowid, static_cast<uint32_t>(it->second.first),
                          fmt::format("{}\n{}\n{}\n", name, it->second.second, encoding));
      }
    }
    if (walked) {
      known[i] = {*walked, true};
      continue;
    }
    ++stats->tables_read;
    auto whole = SumRows(db, "SELECT * FROM " + db.QuoteIdent(name));
    if (!whole.ok()) {
      s = whole.status().WithContext(fmt::format("fingerprinting table {}", name));
      break;
    }
    known[i] = {*whole, false};
  }
  if (s.ok()) segment_readers.Finish();
  std::vector<TableFingerprint> tables;
  for (size_t i = 0; i < names.size() && s.ok(); ++i) {
    RowSum sum = known[i].first;
    // Only a walked table adds what its jobs read: one whose walk stopped
    // part-way was read whole, and what its jobs read, or failed to read,
    // does not count.
    if (known[i].second) {
      auto read = segment_readers.Sum(i);
      if (!read.ok()) {
        s = read.status().WithContext(fmt::format("fingerprinting table {}", names[i]));
        break;
      }
      sum.Add(*read);
    }
    tables.push_back(TableFingerprintOf(names[i], sum));
  }
  STRATA_RETURN_IF_ERROR(s);
  SaveCache(cache_path, new_cache);
  return CombineTables(std::move(tables));
}

OpenReader ReadersOf(const std::string& path) {
  return [path]() -> Result<std::unique_ptr<Database>> {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> more, OpenSqlite(path, /*create=*/false));
    // A writer waiting to commit holds new readers off until the first
    // read ends: give up at once and leave the rows to the others.
    STRATA_RETURN_IF_ERROR(more->Exec("PRAGMA busy_timeout = 0"));
    STRATA_RETURN_IF_ERROR(more->Exec("BEGIN"));
    STRATA_RETURN_IF_ERROR(more->Exec("SELECT count(*) FROM sqlite_schema"));
    return more;
  };
}

}  // namespace strata::snapshot
