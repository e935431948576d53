// Loading a directory of migrations, in Strata's native layout (golang-migrate's):
//   NNNN_name.up.sql, NNNN_name.down.sql (optional), NNNN_name.verify.sql (optional)
// or as dbmate and Flyway lay them out, so a team can point Strata at what it has:
//   20240101120000_name.sql with "-- migrate:up" and "-- migrate:down" sections
//   V1__name.sql, U1__name.sql (optional: Flyway's undo script), also in folders below
#pragma once

#include <map>
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

/// Parses Flyway's "V1__create_users.sql" (kUp) and "U1__create_users.sql"
/// (kDown). Versions are whole numbers; a dotted version ("V1.1__x.sql") and
/// a repeatable migration ("R__x.sql") are errors that say why.
Result<MigrationFileName> ParseFlywayFileName(std::string_view file_name);

/// The two sections of a dbmate or goose migration file.
struct Sections {
  std::string up;    // from the file's start up to the down marker line
  std::string down;  // from that line to the end; empty without it
  int down_line = 0;  // the file's line the down section starts at
  bool down_empty = true;  // the down section holds nothing but comments and blank lines
};

/// Cuts a file of `layout` (kDbmate: "-- migrate:up" and "-- migrate:down"
/// lines; kGoose: "-- +goose Up" and "-- +goose Down" annotations) at its
/// markers. The up section keeps the lines before it (comments only), so its
/// line numbers are the file's. Errors: no up marker, a statement before it,
/// a marker twice, down before up. goose's other annotations: a StatementEnd
/// ends its statement (a ';' is added where it has none); NO TRANSACTION,
/// at the top of the file, heads the down section too; ENVSUB ON is an
/// error, since Strata runs a script as written.
Result<Sections> SplitSections(std::string_view text, Layout layout);

/// Flyway's placeholders: each `${name}` in `text` (name: letters, digits and
/// `_ . : -`) replaced by `values[name]`, everywhere, as Flyway does. A name
/// without a value is an error naming its line ("3: placeholder ${x} ...").
Result<std::string> ReplacePlaceholders(std::string_view text,
                                        const std::map<std::string, std::string>& values);

/// Where other tools keep their migrations, relative to a project's root:
/// dbmate's (and often golang-migrate's) and Flyway's default directories.
inline constexpr const char* kOtherToolMigrationDirs[] = {"db/migrations",
                                                         "src/main/resources/db/migration"};

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

/// Reads every migration in `dir`, sorted by version, in the layout its file
/// names follow (the one most of them follow; the others are then named as
/// not parsing). Files that do not end in ".sql" and hidden files are ignored. Every problem found is reported
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

/// The down script of `m` as its files hold it today, and the line of its
/// file that the script's first line is (a dbmate down section starts
/// further down its file).
struct DownScript {
  std::string text;
  int first_line = 1;
};
Result<DownScript> ReadDownScript(const Migration& m);

/// What to write to give `m` a down script, in its layout:
/// "write migrations/0042_x.down.sql".
std::string HowToAddDown(const Migration& m);

}  // namespace strata
