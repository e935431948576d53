// The data fingerprint of a SQLite file that remembers what it has read.
//
// FingerprintData reads every row through SQL, which for a large database
// costs more than the snapshot's own work. But a row's hash depends only on
// its table's definition and the bytes that store it, and the rows of a
// table b-tree lie in key order on its leaf pages. So the leaves are walked
// in order straight from the file and grouped into segments (runs of leaves
// cut where a leaf's content hash says so, so an edit moves only nearby
// cuts); a segment is keyed by the table's definition and the XXH3-128 of
// its leaves and their overflow pages, and its row sum is taken from the
// cache when that key was summed before, else read with SQL over the
// segment's rowid range. The result is exactly FingerprintData's; after 1%
// of a table changed, about 1% of it is read again.
//
// Tables this does not walk (WITHOUT ROWID, virtual, a column shadowing every
// rowid alias, a page that is not what the b-tree says) are read whole with
// SQL, as FingerprintData does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "safety/fingerprint.h"
#include "strata/database.h"

struct sqlite3;
struct sqlite3_file;

namespace strata::snapshot {

struct ImageFingerprintStats {
  int64_t segments = 0;       // segments walked
  int64_t reused = 0;         // of them, sums taken from the cache
  int64_t tables_read = 0;    // tables read whole with SQL
};

/// A SQLite database file (or a copy of it) read by byte range, opened
/// through a connection of its own that runs nothing: SQLite closes the
/// file, and while another connection of this process holds a lock on it,
/// SQLite keeps the descriptor open. Closing a descriptor of a file drops
/// every POSIX lock the process holds on it, so a descriptor opened and
/// closed beside SQLite would drop the read lock that keeps the image one
/// state, or the write lock of an `up` run that takes its snapshot.
/// Reads from several threads are safe where each has its own ImageFile.
class ImageFile {
 public:
  static Result<std::unique_ptr<ImageFile>> Open(const std::string& path);
  ~ImageFile();
  ImageFile(const ImageFile&) = delete;
  ImageFile& operator=(const ImageFile&) = delete;

  /// Reads `size` bytes at `offset`; a file that ends first is an error.
  Status Read(char* buf, size_t size, uint64_t offset) const;
  Result<uint64_t> Size() const;
  const std::string& path() const { return path_; }

 private:
  ImageFile() = default;
  ::sqlite3* db_ = nullptr;
  ::sqlite3_file* file_ = nullptr;
  std::string path_;
};

/// Opens another connection in a read transaction that shows the state the
/// first one's transaction keeps.
using OpenReader = std::function<Result<std::unique_ptr<Database>>()>;

/// Opens connections to the SQLite file at `path`, each in a read
/// transaction begun at once (while another connection's read transaction
/// keeps writers from committing, they all see its state), or failing at
/// once when a writer is waiting to commit.
OpenReader ReadersOf(const std::string& path);

/// The data fingerprint of the SQLite database open on `db`, whose file
/// (or a copy of it), `image`, holds the same state `db` reads (its
/// transaction keeps it so). `cache_path` remembers segment sums between runs ("" = no cache); it is
/// rewritten with the segments of this run only, so it stays the size of
/// one database's segments. A damaged or missing cache is not an error.
/// With `open_reader`, up to `readers` more connections read the segments'
/// rows while this thread walks the pages (a first snapshot reads every
/// row); one that cannot be opened leaves its share to the others and `db`.
Result<DataFingerprint> FingerprintSqliteImage(Database& db, const ImageFile& image,
                                               const std::string& cache_path,
                                               ImageFingerprintStats* stats = nullptr,
                                               const OpenReader& open_reader = {},
                                               int readers = 0);

}  // namespace strata::snapshot
