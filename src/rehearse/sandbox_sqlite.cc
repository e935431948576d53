// The SQLite sandbox: the target, opened read-only, copied page by page with
// the online backup API into a file in a fresh temporary directory. The copy
// is consistent: the backup holds a read transaction on the target while it
// runs (waiting up to 10 s for a writer to finish).
#include <sqlite3.h>
#include <stdlib.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "rehearse/sandbox.h"

namespace strata {
namespace {

struct Closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqlitePtr = std::unique_ptr<sqlite3, Closer>;

std::string Message(sqlite3* db, int rc) { return db ? sqlite3_errmsg(db) : sqlite3_errstr(rc); }

Status RemoveDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) return Status(Code::kIOError, fmt::format("removing the sandbox {}: {}", dir, ec.message()));
  return Status::OK();
}

/// Copies `source` into the new file `dest_path`, then clears the copied
/// migration lock: a run holding the target's lock does not hold the copy's.
Status Copy(sqlite3* source, const std::string& dest_path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(dest_path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  SqlitePtr dest(raw);
  if (rc != SQLITE_OK) {
    return Status(Code::kIOError, fmt::format("creating the sandbox {}: {}", dest_path, Message(raw, rc)));
  }
  sqlite3_backup* backup = sqlite3_backup_init(dest.get(), "main", source, "main");
  if (!backup) {
    return Status(Code::kIOError, fmt::format("copying into the sandbox: {}", sqlite3_errmsg(dest.get())));
  }
  rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return Status(rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? Code::kLocked : Code::kIOError,
                  fmt::format("copying the target into the sandbox: {}", sqlite3_errstr(rc)));
  }
  // strata_lock may not exist: then there is nothing to clear.
  sqlite3_exec(dest.get(), "DELETE FROM strata_lock", nullptr, nullptr, nullptr);
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Sandbox>> CreateSqliteSandbox(const std::string& path, SandboxContent content) {
  // A database file that does not exist yet is rehearsed as an empty one,
  // as `up` would create it (and the file is not created).
  struct stat st {};
  const bool plain = path.rfind("file:", 0) != 0;  // not a URI
  const int stat_rc = plain ? stat(path.c_str(), &st) : 0;
  const bool missing = content == SandboxContent::kEmpty || (plain && stat_rc != 0 && errno == ENOENT);
  if (!missing && plain && stat_rc == 0 && S_ISDIR(st.st_mode)) {
    return Status(Code::kUnavailable,
                  fmt::format("cannot open SQLite database '{}': it is a directory; name the "
                              "database file in it",
                              path));
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(missing ? ":memory:" : path.c_str(), &raw,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  SqlitePtr source(raw);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(source.get(), 10'000);
    // Opening is lazy: read the schema so that a missing or bad file fails here.
    rc = sqlite3_exec(source.get(), "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr);
  }
  if (rc != SQLITE_OK) {
    return Status(Code::kUnavailable,
                  fmt::format("cannot open SQLite database '{}' for reading: {} (does it exist?)",
                              path, Message(source.get(), rc)));
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = fmt::format("{}/strata-rehearse-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir.data())) {
    return Status(Code::kIOError, fmt::format("cannot create a temporary directory {}: {}", dir,
                                              std::strerror(errno)));
  }
  std::string copy = dir + "/sandbox.db";
  Status s = Copy(source.get(), copy);
  if (!s.ok()) {
    RemoveDir(dir).IgnoreError();
    return s;
  }
  std::string described = "sqlite:" + copy;
  if (content == SandboxContent::kEmpty) {
    described += " (empty)";
  } else if (missing) {
    described += fmt::format(" (empty: {} does not exist yet; `up` would create it)", path);
  }
  return std::make_unique<Sandbox>("sqlite:" + copy, described, "PRAGMA synchronous = OFF",
                                   [dir] { return RemoveDir(dir); });
}

}  // namespace strata
