// Migration: one versioned change, as loaded from its files.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "strata/status.h"

namespace strata {

/// Directives read from a script's leading comments:
///   -- strata:no-transaction      run outside a transaction
///   -- strata:timeout 30s         bound each statement (ms, s, m, h)
///   -- strata:lock-timeout 5s     bound each statement's wait for a lock
///                                 another session holds
struct Directives {
  bool no_transaction = false;
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds lock_timeout{0};
};

/// How strictly ParseDirectives reads: a file being loaded is held to the
/// spelling and place of its directives; a script stored in history (applied
/// by an earlier version) is read as it was then, so its way back still runs.
enum class DirectiveCheck { kFile, kStored };

/// Parses the directives in the comment lines before the first statement.
/// An unknown `strata:` directive is an error (a typo must not pass silently);
/// for a file (kFile) so are a directive after the first statement, one
/// spelt otherwise ("-- Strata:", "-- strata :") and an argument to
/// strata:no-transaction. dbmate's "-- migrate:up transaction:false" marker
/// counts as strata:no-transaction.
Result<Directives> ParseDirectives(std::string_view script,
                                   DirectiveCheck check = DirectiveCheck::kFile);

/// The directive lines of `script`, one "-- strata:..." line each: all that
/// ParseDirectives reads, so it parses them as it parses the script (error
/// line numbers aside). The checksum cache keeps these instead of the script.
std::string DirectiveLines(std::string_view script);

/// The words of goose's annotation in the comment text `body` (what follows
/// "--", trimmed): "+goose NO  Transaction" -> "no transaction", lower-cased
/// and single-spaced; nullopt when `body` is no goose annotation.
std::optional<std::string> GooseWords(std::string_view body);

/// Parses "500ms", "30s", "5m", "1h" or a bare number of seconds.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

/// Whose file layout a migrations directory follows; Strata reads each as it is.
enum class Layout {
  kNative,  // 0001_x.up.sql, 0001_x.down.sql, 0001_x.verify.sql (golang-migrate's too)
  kDbmate,  // 20240101120000_x.sql: "-- migrate:up" and "-- migrate:down" sections of one file
  kGoose,   // 00001_x.sql or 20240101120000_x.sql: "-- +goose Up" and "-- +goose Down" sections
  kFlyway,  // V1__x.sql and its undo script U1__x.sql
  kSqitch,  // sqitch.plan naming changes in order; deploy/x.sql, revert/x.sql, verify/x.sql
  kAtlas,   // 20240101120000_x.sql or 20240101120000.sql beside atlas.sum: each file an up script
};

/// Whether one file of `layout` holds both the up and the down script.
inline bool IsSectioned(Layout layout) { return layout == Layout::kDbmate || layout == Layout::kGoose; }

struct Migration {
  int64_t version = 0;
  std::string version_text;  // as written in the file name: "0001", "20240101120000"
  std::string name;          // "create_users"

  Layout layout = Layout::kNative;
  std::string up_path;
  std::string down_path;     // empty when there is no down script; dbmate and goose: up_path,
                             // when its down section holds statements (ReadDownScript)
  std::string verify_path;   // empty when there is no verify file

  std::string up_sql;         // the down and verify scripts are read when needed: ReadScript()
  bool up_sql_unread = false;  // up_sql left empty: the checksum cache vouched for the file; ReadUpScript()

  std::string checksum;      // ScriptChecksum(up_sql)
  Directives directives;     // of the up script

  bool has_down() const { return !down_path.empty(); }
  bool has_verify() const { return !verify_path.empty(); }
  /// "0001_create_users"
  std::string id() const { return name.empty() ? version_text : version_text + "_" + name; }
};

}  // namespace strata
