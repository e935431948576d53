// Sandbox: a private copy of a target database that a rehearsal may change
// at will. The target is only read: SQLite is opened read-only and copied
// with the backup API; on PostgreSQL the target is dumped (pg_dump reads in
// one consistent snapshot) into a scratch database on the same server.
//
// A Sandbox owns its copy and removes it when destroyed (the temporary
// directory, or DROP DATABASE), unless Keep() was called.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "strata/status.h"

namespace strata {

class Sandbox {
 public:
  /// `remove` deletes the copy; it runs at most once. `session_sql` is run
  /// on the connection to the copy: the copy is thrown away, so it waives
  /// waiting for the disk at each commit.
  Sandbox(std::string url, std::string described, std::string session_sql,
          std::function<Status()> remove)
      : url_(std::move(url)),
        described_(std::move(described)),
        session_sql_(std::move(session_sql)),
        remove_(std::move(remove)) {}
  ~Sandbox() { Remove().IgnoreError(); }
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  /// The URL to connect to the copy. It may carry the target's password:
  /// print Describe() instead.
  const std::string& url() const { return url_; }
  /// The copy's URL with any password redacted.
  const std::string& Describe() const { return described_; }
  /// Settings for a connection to the copy (see the constructor).
  const std::string& session_sql() const { return session_sql_; }

  /// Leaves the copy in place: Remove() and the destructor do nothing.
  void Keep() { remove_ = nullptr; }

  /// Deletes the copy now (once); says why when that failed.
  Status Remove() {
    if (!remove_) return Status::OK();
    auto remove = std::move(remove_);
    remove_ = nullptr;
    return remove();
  }

 private:
  std::string url_;
  std::string described_;
  std::string session_sql_;
  std::function<Status()> remove_;
};

/// What a new sandbox holds.
enum class SandboxContent {
  kCopy,   // a copy of the target
  kEmpty,  // nothing (PostgreSQL: the target's working schema, empty)
};

/// Copies the database at `target_url` into a new sandbox of the same
/// engine, or makes an empty one beside it. kUnavailable when the target
/// cannot be opened or reached.
Result<std::unique_ptr<Sandbox>> CreateSandbox(std::string_view target_url,
                                               SandboxContent content = SandboxContent::kCopy);

// Per engine (sandbox_sqlite.cc, sandbox_postgres.cc).
Result<std::unique_ptr<Sandbox>> CreateSqliteSandbox(const std::string& path, SandboxContent content);
Result<std::unique_ptr<Sandbox>> CreatePostgresSandbox(const std::string& url, SandboxContent content);

}  // namespace strata
