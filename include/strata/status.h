// Status and Result<T>: errors as values across the library surface.
//
// A Status is cheap when ok (no allocation) and otherwise carries a code to
// branch on and a message written for the person who will read it. Library
// code never throws across its public functions; only the CLI turns a Status
// into printed text and an exit code.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace strata {

enum class Code {
  kOk = 0,
  kInvalidArgument,   // bad input from the user: flags, URLs, file names
  kNotFound,          // a file, migration or table that should exist does not
  kIOError,           // the file system failed us
  kParse,             // SQL or configuration that does not parse
  kDatabase,          // the database rejected a statement
  kUnavailable,       // cannot connect to the database
  kLocked,            // another strata run holds the migration lock
  kIrreversible,      // a plan needs a way back it does not have
  kConflict,          // history and files disagree (checksum, missing file)
  kInProgress,        // a previous run left a migration half applied
  kVerifyFailed,      // a check after a step found a difference
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message)
      : rep_(code == Code::kOk ? nullptr
                               : std::make_shared<Rep>(Rep{code, std::move(message)})) {}

  static Status OK() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const {
    static const std::string kEmpty;
    return rep_ ? rep_->message : kEmpty;
  }

  /// Returns a copy whose message is `context: message`.
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return Status(code(), std::string(context) + ": " + message());
  }

  /// Intentionally drops the status (e.g. best-effort cleanup).
  void IgnoreError() const {}

 private:
  struct Rep {
    Code code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

/// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace strata

/// Returns early from the enclosing function when `expr` yields a failed Status.
#define STRATA_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::strata::Status strata_status_ = (expr); \
    if (!strata_status_.ok()) return strata_status_; \
  } while (0)

#define STRATA_CONCAT_INNER_(a, b) a##b
#define STRATA_CONCAT_(a, b) STRATA_CONCAT_INNER_(a, b)

/// `STRATA_ASSIGN_OR_RETURN(auto x, Fallible());` binds the value or returns the Status.
#define STRATA_ASSIGN_OR_RETURN(lhs, expr) \
  STRATA_ASSIGN_OR_RETURN_IMPL_(STRATA_CONCAT_(strata_result_, __LINE__), lhs, expr)
#define STRATA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
