#include "history/lock.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "history/history.h"
#include "util/interrupt.h"

namespace strata {

LockOwner CurrentOwner(const std::string& actor_override) {
  LockOwner owner;
  owner.actor = actor_override;
  if (owner.actor.empty()) {
    if (const char* env = std::getenv("STRATA_ACTOR"); env && *env) owner.actor = env;
  }
  if (owner.actor.empty()) {
    if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_name) owner.actor = pw->pw_name;
  }
  if (owner.actor.empty()) owner.actor = "unknown";
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) owner.host = host;
  owner.pid = static_cast<int>(getpid());
  owner.since = NowUtc();
  return owner;
}

Result<std::unique_ptr<MigrationLock>> MigrationLock::Acquire(
    const std::string& url, const std::string& session_sql, const LockOwner& owner,
    std::chrono::milliseconds timeout, const std::function<void(const std::string&)>& on_wait) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Database> conn, OpenDatabase(url));
  if (!session_sql.empty()) STRATA_RETURN_IF_ERROR(conn->Exec(session_sql));
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + timeout;
  auto pause = std::chrono::milliseconds(20);
  bool told = false;
  std::string holder;  // as the last attempt found it
  auto interrupted = [&] {
    return Status(Code::kLocked,
                  fmt::format("{} while waiting for the lock of {}{}; nothing was done",
                              Interrupt::Describe(), conn->Describe(),
                              holder.empty() ? "" : ", held by " + holder));
  };
  while (true) {
    auto tried = conn->TryLock(owner);
    // A signal that came during the try cancelled it (SQLite).
    if (!tried.ok() && Interrupt::Requested()) return interrupted();
    // Busy (SQLite: another connection holds the write lock for a long
    // transaction) is waited out like a lock row.
    if (!tried.ok() && tried.status().code() != Code::kLocked) return tried.status();
    LockAttempt attempt = tried.ok() ? *tried : LockAttempt{false, tried.status().message()};
    if (attempt.acquired) return std::unique_ptr<MigrationLock>(new MigrationLock(std::move(conn)));
    holder = attempt.holder;
    if (!told && on_wait) on_wait(attempt.holder);
    told = true;
    auto now = std::chrono::steady_clock::now();
    if (Interrupt::Requested()) return interrupted();
    if (now >= deadline) {
      return Status(Code::kLocked,
                    fmt::format("{} is locked, held by {}; waited {} ms "
                                "(--lock-timeout {} ms)",
                                conn->Describe(), attempt.holder,
                                std::chrono::duration_cast<std::chrono::milliseconds>(now - start)
                                    .count(),
                                timeout.count()));
    }
    // The last try is at the deadline, not a pause short of it.
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
  }
}

MigrationLock::~MigrationLock() { conn_->Unlock().IgnoreError(); }

}  // namespace strata
