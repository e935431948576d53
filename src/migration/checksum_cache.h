// ChecksumCache: the checksums of unchanged up scripts, kept between runs.
//
// Without it, `strata status` on a thousand migrations spends most of its
// time opening, reading and hashing files that have not changed since the
// last run. The cache keeps, per file name, what stat(2) said of the file
// when it was hashed (device, inode, size, mtime and ctime to the
// nanosecond), its checksum and its directive lines; a file whose stat still
// says the same is not read again.
//
// It must never vouch for a changed file. Every write to a file sets its
// ctime to the current time, which no user can set back, so a change after
// hashing shows, except one made within the same timestamp tick as the
// version that was hashed: a coarse clock tick, or a second or two on
// filesystems that keep no finer times. As git does with its index ("racy"
// entries), a file whose mtime or ctime is not at least kRacyWindow older
// than the clock read before it was looked at is not stored: it is hashed
// again by the next run, and cached by the first run after it has aged.
//
// One cache file per migrations directory, named after its real path, under
// $XDG_CACHE_HOME/strata or ~/.cache/strata. It is written whole to a
// temporary file and renamed over the old one (mode 0600), so concurrent
// runs each leave a complete cache; a file that is damaged (its last line
// holds a hash of the rest), made for another directory, or writable by
// anyone but its owner, the user, is ignored. Not thread-safe.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "strata/status.h"

namespace strata {

/// What stat(2) says of a file, as far as telling a change goes.
struct FileStamp {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;

  static FileStamp Of(const struct stat& st);
  bool operator==(const FileStamp&) const = default;
};

class ChecksumCache {
 public:
  /// How much older than the clock a file's times must be for it to be stored.
  static constexpr std::chrono::seconds kRacyWindow{2};

  struct Entry {
    FileStamp stamp;
    std::string checksum;
    std::string directives;  // DirectiveLines() of the script
  };

  /// The cache file of the directory whose real path is `real_dir`, or ""
  /// when neither XDG_CACHE_HOME nor HOME is set.
  static std::string PathFor(const std::string& real_dir);

  /// Reads the cache of `real_dir` from `file`; a missing, damaged or foreign
  /// file gives an empty cache. `now_ns` is the real-time clock (coarse, as
  /// the kernel stamps files with) read before any file was looked at.
  static ChecksumCache Open(std::string file, std::string real_dir, int64_t now_ns);

  /// The entry of `name` when `stamp` shows the file unchanged since it was
  /// hashed, else nullopt.
  std::optional<Entry> Find(const std::string& name, const FileStamp& stamp);

  /// Remembers the checksum of a file just read, unless its times are too
  /// close to the clock for the stamp to be trusted.
  void Store(const std::string& name, const FileStamp& stamp, std::string checksum,
             std::string directives);

  /// Writes the cache back when this run changed it: entries stored, or
  /// entries of files that were not found (gone, renamed or changed) dropped.
  Status Save();

 private:
  /// One entry line of the file, split at its first tab, not yet parsed
  /// (most runs look at each entry once, and a lookup parses only its own).
  struct Line {
    std::string_view name;  // escaped
    std::string_view rest;  // the fields after the name
    bool found = false;     // Find() returned it
  };

  ChecksumCache(std::string file, std::string real_dir, int64_t now_ns)
      : file_(std::move(file)), real_dir_(std::move(real_dir)), now_ns_(now_ns) {}
  ChecksumCache(const ChecksumCache&) = delete;  // lines_ point into text_
  ChecksumCache& operator=(const ChecksumCache&) = delete;

 public:
  ChecksumCache(ChecksumCache&&) = default;

 private:
  bool Index();
  std::string Serialize() const;

  std::string file_;
  std::string real_dir_;
  int64_t now_ns_;
  std::vector<char> text_;        // the cache file as read (a move keeps its buffer)
  std::vector<Line> lines_;       // into text_, sorted by name
  std::map<std::string, Entry> stored_;  // by Store(), by escaped name
  size_t found_ = 0;              // lines found
};

}  // namespace strata
