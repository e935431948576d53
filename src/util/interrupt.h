// Interrupt: a request from outside the library that long work stop.
//
// The CLI asks on SIGINT or SIGTERM. Each open database connection then
// cancels the statement it is running (its hook), and a migration run stops
// before its next migration: the migration running is rolled back as on any
// failure, the ones before it stay applied, and the run ends with its lock
// released. Process-wide and thread-safe; Request must not be called from a
// signal handler (the CLI calls it from a thread of its own).
#pragma once

#include <functional>
#include <string>

namespace strata {

class Interrupt {
 public:
  /// Asks everything running to stop; `reason` says why ("SIGINT").
  /// Runs every hook now; later calls change nothing.
  static void Request(std::string reason);
  static bool Requested();
  /// "interrupted (SIGINT)": what stopped, for messages; "" before a request.
  static std::string Describe();

  /// Runs `cancel` when an interrupt is requested while it lives. The hook is
  /// gone once its destructor returns, even while a request is running hooks.
  class Hook {
   public:
    explicit Hook(std::function<void()> cancel);
    ~Hook();
    Hook(const Hook&) = delete;
    Hook& operator=(const Hook&) = delete;

   private:
    std::function<void()> cancel_;
  };
};

}  // namespace strata
