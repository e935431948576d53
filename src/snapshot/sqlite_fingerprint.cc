// FingerprintSqliteImage: see sqlite_fingerprint.h. The page layout read here
// is SQLite's file format (sqlite.org/fileformat2.html): table b-tree
// interior pages (type 5) and leaves (type 13), cell pointer arrays, varints,
// and the rule for how much of a cell's payload stays on its page.
#include "snapshot/sqlite_fingerprint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>
#include <xxhash.h>

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

/// One table's walk. Its sums come from the cache or from SQL over rowid
/// ranges; a page that is not what a table b-tree should hold ends the walk
/// with std::nullopt, and the caller reads the table whole.
class TableWalk {
 public:
  TableWalk(Database& db, int fd, uint32_t page_size, uint32_t usable, uint64_t pages,
            const SumCache& old_cache, SumCache& new_cache, ImageFingerprintStats& stats)
      : db_(db), fd_(fd), page_size_(page_size), usable_(usable), pages_(pages),
        old_(old_cache), new_(new_cache), stats_(stats) {}

  /// `salt`: what besides the stored bytes decides the rows SELECT * returns
  /// (the table's name and definition, the text encoding).
  Result<std::optional<RowSum>> Run(const std::string& table, const std::string& rowid,
                                    uint32_t root, const std::string& salt) {
    select_ = fmt::format("SELECT {0}, * FROM {1} WHERE {0} BETWEEN $1 AND $2 ORDER BY {0}", rowid,
                          db_.QuoteIdent(table));
    salt_ = salt;
    StartSegment();
    bool walked = Descend(root, 0);
    if (!status_.ok()) return status_;
    if (!walked) return std::optional<RowSum>();
    if (seg_.leaves > 0) CloseSegment();
    STRATA_RETURN_IF_ERROR(Flush());
    if (!status_.ok()) return status_;
    return std::optional<RowSum>(total_);
  }

 private:
  struct Segment {
    Key key;
    int64_t lo = 0, hi = 0, rows = 0;
    int leaves = 0;
  };

  bool ReadPage(uint32_t pgno, std::string& buf) {
    if (pgno == 0 || pgno > pages_ || ++visited_ > pages_) return false;
    buf.resize(page_size_);
    size_t done = 0;
    while (done < buf.size()) {
      ssize_t n = pread(fd_, buf.data() + done, buf.size() - done,
                        static_cast<off_t>(pgno - 1) * page_size_ + done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += n;
    }
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
    return status_.ok();
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
      new_[seg_.key] = hit->second;
      if (!pending_.empty()) status_ = Flush();
      return;
    }
    pending_.push_back(seg_);
  }

  /// Reads the segments not in the cache with one query over their rowid
  /// range, routing each row to its segment by rowid.
  Status Flush() {
    if (pending_.empty()) return Status::OK();
    std::vector<RowSum> sums(pending_.size());
    size_t at = 0;
    int64_t strays = 0;
    Status s = db_.ForEachRow(
        select_, {Value(pending_.front().lo), Value(pending_.back().hi)},
        [&](std::span<const CellView> cells) {
          int64_t rowid = cells[0].integer;
          while (at < pending_.size() && pending_[at].hi < rowid) ++at;
          if (at == pending_.size() || rowid < pending_[at].lo) {
            ++strays;
          } else {
            sums[at].sum += hasher_.Hash(cells.subspan(1));
            ++sums[at].rows;
          }
          return Status::OK();
        });
    if (!s.ok()) return s;
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (strays > 0 || sums[i].rows != pending_[i].rows) {
        return Status(Code::kInternal,
                      fmt::format("the database file's pages hold {} rows with rowids {} to {}, "
                                  "but SQLite returned {}: the file and the connection do not "
                                  "show the same state",
                                  pending_[i].rows, pending_[i].lo, pending_[i].hi,
                                  sums[i].rows + strays));
      }
      total_.Add(sums[i]);
      new_[pending_[i].key] = sums[i];
    }
    pending_.clear();
    return Status::OK();
  }

  Database& db_;
  int fd_;
  uint32_t page_size_, usable_;
  uint64_t pages_;
  uint64_t visited_ = 0;
  const SumCache& old_;
  SumCache& new_;
  ImageFingerprintStats& stats_;
  std::string select_, salt_, overflow_;
  struct FreeState {
    void operator()(XXH3_state_t* state) const { XXH3_freeState(state); }
  };
  std::unique_ptr<XXH3_state_t, FreeState> leaf_state_{XXH3_createState()},
      seg_state_{XXH3_createState()};
  Segment seg_;
  std::vector<Segment> pending_;
  RowHasher hasher_;
  RowSum total_;
  Status status_;
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

Result<DataFingerprint> FingerprintSqliteImage(Database& db, const std::string& image_path,
                                               const std::string& cache_path,
                                               ImageFingerprintStats* stats) {
  ImageFingerprintStats local_stats;
  if (stats == nullptr) stats = &local_stats;
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, db.ListTables());
  STRATA_ASSIGN_OR_RETURN(Rows defs, db.Query("SELECT name, rootpage, coalesce(sql, '') "
                                               "FROM sqlite_schema WHERE type = 'table'"));
  std::map<std::string, std::pair<int64_t, std::string>> def;
  for (const auto& row : defs.rows) def[row[0].ToString()] = {row[1].ToInt(), row[2].ToString()};

  int fd = open(image_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status(Code::kIOError, fmt::format("cannot open {}: {}", image_path, std::strerror(errno)));
  }
  unsigned char header[100];
  struct stat st {};
  bool have_header = pread(fd, header, sizeof header, 0) == sizeof header && fstat(fd, &st) == 0;
  uint32_t page_size = have_header ? Be16(header + 16) : 0;
  if (page_size == 1) page_size = 65536;
  // Too odd a file to walk: every table is read with SQL.
  bool walkable = have_header && page_size >= 512 && page_size > header[20] + 480u;
  uint32_t usable = walkable ? page_size - header[20] : 0;
  uint64_t pages = walkable ? static_cast<uint64_t>(st.st_size) / page_size : 0;
  std::string encoding = have_header ? fmt::format("{}", Be32(header + 56)) : "";

  SumCache old_cache = LoadCache(cache_path), new_cache;
  std::vector<TableFingerprint> tables;
  Status s;
  for (const std::string& name : names) {
    std::optional<RowSum> sum;
    auto it = def.find(name);
    if (walkable && it != def.end() && it->second.first > 0) {
      auto rowid = RowidName(db, name);
      if (!rowid.ok()) {
        s = rowid.status();
        break;
      }
      if (!rowid->empty()) {
        TableWalk walk(db, fd, page_size, usable, pages, old_cache, new_cache, *stats);
        auto walked = walk.Run(name, *rowid, static_cast<uint32_t>(it->second.first),
                               fmt::format("{}\n{}\n{}\n", name, it->second.second, encoding));
        if (!walked.ok()) {
          s = walked.status().WithContext(fmt::format("fingerprinting table {}", name));
          break;
        }
        sum = *walked;
      }
    }
    if (!sum) {
      ++stats->tables_read;
      auto whole = SumRows(db, "SELECT * FROM " + db.QuoteIdent(name));
      if (!whole.ok()) {
        s = whole.status().WithContext(fmt::format("fingerprinting table {}", name));
        break;
      }
      sum = *whole;
    }
    tables.push_back(TableFingerprintOf(name, *sum));
  }
  close(fd);
  STRATA_RETURN_IF_ERROR(s);
  SaveCache(cache_path, new_cache);
  return CombineTables(std::move(tables));
}

}  // namespace strata::snapshot
