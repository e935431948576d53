// The migration lock: at most one strata run changes a database at a time.
//
// The lock lives on a connection of its own, so a no-transaction statement
// such as CREATE INDEX CONCURRENTLY on the migration connection never waits
// on it. It is released when the MigrationLock is destroyed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "strata/database.h"

namespace strata {

/// Who this process is: actor from STRATA_ACTOR or the OS user, host, pid, now.
LockOwner CurrentOwner(const std::string& actor_override = "");

class MigrationLock {
 public:
  /// Takes the lock for the database at `url`, retrying until `timeout`;
  /// `session_sql` (may be empty) runs on its connection first.
  /// `on_wait` is called once with the holder's description when the first
  /// attempt fails. Fails with kLocked naming the holder.
  static Result<std::unique_ptr<MigrationLock>> Acquire(
      const std::string& url, const std::string& session_sql, const LockOwner& owner,
      std::chrono::milliseconds timeout,
      const std::function<void(const std::string& holder)>& on_wait);

  ~MigrationLock();
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;

 private:
  explicit MigrationLock(std::unique_ptr<Database> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<Database> conn_;
};

}  // namespace strata
