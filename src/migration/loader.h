// Loading a directory of migrations in Strata's native layout:
//   NNNN_name.up.sql, NNNN_name.down.sql (optional), NNNN_name.verify.sql (optional)
#pragma once

#include <string>
#include <vector>

#include "migration/migration.h"
#include "strata/status.h"

namespace strata {

/// The parts of a migration file name.
struct MigrationFileName {
  int64_t version = 0;
  std::string version_text;
  std::string name;
  enum class Kind { kUp, kDown, kVerify } kind = Kind::kUp;
};

/// Parses "0001_create_users.up.sql". Errors name the file and say what is expected.
Result<MigrationFileName> ParseMigrationFileName(std::string_view file_name);

struct LoadOptions {
  /// Keep the checksums of unchanged up scripts between runs in the per-user
  /// checksum cache (checksum_cache.h), and leave the scripts it vouches for
  /// unread (Migration::up_sql_unread): ReadUpScript() reads one when needed.
  bool use_cache = false;
  /// The cache file; empty: ChecksumCache::PathFor(the directory).
  std::string cache_file;
  /// The clock files are judged against, in ns since the epoch; 0: now.
  /// Tests pass a later time to have files they have just written cached.
  int64_t now_ns = 0;
};

/// Reads every migration in `dir`, sorted by version. Files that do not end
/// in ".sql" and hidden files are ignored. Every problem found is reported
/// in one kInvalidArgument status, one line per problem, each naming its
/// file: names that do not parse, duplicate versions, down or verify files
/// without their up, unreadable files, bad directives.
/// Up scripts are read here, unless the checksum cache vouches for them;
/// down and verify scripts, which most commands never need, are read by
/// ReadScript() when they are.
Result<std::vector<Migration>> LoadMigrations(const std::string& dir,
                                              const LoadOptions& options = {});

/// Reads the up script of `m` if LoadMigrations left it unread. Its checksum
/// and directives are taken again from the text read, so they describe what
/// the caller gets even when the file changed in the meantime.
Status ReadUpScript(Migration& m);

/// The whole content of a migration file; errors name the file.
Result<std::string> ReadScript(const std::string& path);

}  // namespace strata
