#include "migration/loader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "migration/checksum.h"
#include "migration/checksum_cache.h"
#include "util/text.h"

namespace strata {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kExpected = "expected NNNN_name.up.sql, NNNN_name.down.sql or NNNN_name.verify.sql";

/// Reads the file `name` of the directory `dir_fd` (or AT_FDCWD) and says
/// what fstat found when it opened it; errors name `path`. A leading UTF-8
/// byte order mark is dropped.
Result<std::string> ReadFileAt(int dir_fd, const std::string& name, const std::string& path,
                               struct stat* st) {
  // Not blocking: opening a FIFO waits for a writer that may never come.
  int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return Status(Code::kIOError, fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  }
  std::string out;
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    // A FIFO or a device (a link to /dev/zero) has no end to read to.
    close(fd);
    *st = {};
    return Status(Code::kIOError, fmt::format("{}: cannot read: not a regular file (a FIFO, a "
                                              "device or a directory)",
                                              path));
  }
  const size_t expected = static_cast<size_t>(st->st_size);  // reaching it saves the read that finds EOF
  out.reserve(expected);
  char buf[16384];
  while (expected == 0 || out.size() < expected) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return Status(Code::kIOError, fmt::format("{}: cannot read: {}", path, std::strerror(err)));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  // A UTF-8 byte order mark (Windows editors write one) is no SQL: left in,
  // it would hide the directive header and start the first statement. The
  // checksum already ignores it.
  if (out.compare(0, 3, "\xEF\xBB\xBF") == 0) out.erase(0, 3);
  return out;
}

int64_t CoarseNowNs() {
  // The clock the kernel stamps files with (finer stamps are never earlier).
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

/// The cache of `dir` for `options`, or nullopt when it is off or unusable.
std::optional<ChecksumCache> OpenCache(const std::string& dir, const LoadOptions& options) {
  if (!options.use_cache) return std::nullopt;
  int64_t now = options.now_ns != 0 ? options.now_ns : CoarseNowNs();
  char* real = realpath(dir.c_str(), nullptr);
  if (real == nullptr) return std::nullopt;
  std::string real_dir(real);
  std::free(real);
  std::string file = options.cache_file.empty() ? ChecksumCache::PathFor(real_dir)
                                                : options.cache_file;
  if (file.empty()) return std::nullopt;
  return ChecksumCache::Open(std::move(file), std::move(real_dir), now);
}

}  // namespace

Result<std::string> ReadScript(const std::string& path) {
  struct stat st {};
  return ReadFileAt(AT_FDCWD, path, path, &st);
}

Status ReadUpScript(Migration& m) {
  if (!m.up_sql_unread) return Status::OK();
  STRATA_ASSIGN_OR_RETURN(std::string text, ReadScript(m.up_path));
  if (IsSectioned(m.layout)) {
    auto sections = SplitSections(text, m.layout);
    if (!sections.ok()) {
      return Status(sections.status().code(), fmt::format("{}:{}", m.up_path, sections.status().message()));
    }
    text = std::move(sections->up);
  }
  auto directives = ParseDirectives(text);
  if (!directives.ok()) {
    return Status(directives.status().code(),
                  fmt::format("{}:{}", m.up_path, directives.status().message()));
  }
  m.up_sql = std::move(text);
  m.checksum = ScriptChecksum(m.up_sql);
  m.directives = *directives;
  m.up_sql_unread = false;
  return Status::OK();
}

namespace {

/// Fills out's version, version_text and name from `stem`, which is
/// "<version><separator><name>"; errors name `file` and end with `expected`.
Status ReadVersionAndName(std::string_view file, std::string_view stem, std::string_view separator,
                          std::string_view expected, MigrationFileName& out) {
  size_t at = stem.find(separator);
  if (at == std::string_view::npos || at + separator.size() == stem.size()) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: name does not parse: no '{}name' after the version; {}", file,
                              separator, expected));
  }
  std::string_view version = stem.substr(0, at);
  bool digits = !version.empty() && std::all_of(version.begin(), version.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  if (!digits) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: version '{}' is not a number; {}", file, version, expected));
  }
  auto [ptr, ec] = std::from_chars(version.data(), version.data() + version.size(), out.version);
  if (ec != std::errc()) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: version '{}' is too large (the largest is 9223372036854775807)", file, version));
  }
  out.version_text = std::string(version);
  out.name = std::string(stem.substr(at + separator.size()));
  return Status::OK();
}

constexpr std::string_view kExpectedFlyway =
    "expected V<version>__name.sql or U<version>__name.sql (Flyway's layout)";
constexpr std::string_view kExpectedDbmate =
    "expected <version>_name.sql holding -- migrate:up and -- migrate:down sections (dbmate's layout)";
constexpr std::string_view kExpectedGoose =
    "expected <version>_name.sql holding -- +goose Up and -- +goose Down sections (goose's layout)";

/// dbmate's and goose's "20240101120000_create_users.sql".
Result<MigrationFileName> ParseSectionedFileName(std::string_view file, Layout layout) {
  MigrationFileName out;
  std::string_view stem = file;
  const std::string_view expected = layout == Layout::kGoose ? kExpectedGoose : kExpectedDbmate;
  if (!stem.ends_with(".sql")) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: name does not parse: {}", file, expected));
  }
  stem.remove_suffix(4);
  STRATA_RETURN_IF_ERROR(ReadVersionAndName(file, stem, "_", expected, out));
  return out;
}

constexpr std::string_view kExpectedAtlas =
    "expected <version>_name.sql or <version>.sql, the version a number (Atlas's layout)";

/// Atlas's "20240101120000_create_users.sql" or "20240101120000.sql" (its
/// name is optional).
Result<MigrationFileName> ParseAtlasFileName(std::string_view file) {
  MigrationFileName out;
  std::string_view stem = file;
  if (!stem.ends_with(".sql")) {
    return Status(Code::kInvalidArgument, fmt::format("{}: name does not parse: {}", file, kExpectedAtlas));
  }
  stem.remove_suffix(4);
  if (stem.find('_') != std::string_view::npos) {
    STRATA_RETURN_IF_ERROR(ReadVersionAndName(file, stem, "_", kExpectedAtlas, out));
    return out;
  }
  // No name: the stem is the version alone, read as "<stem>_x" would be.
  STRATA_RETURN_IF_ERROR(ReadVersionAndName(file, std::string(stem) + "_x", "_", kExpectedAtlas, out));
  out.name.clear();
  return out;
}

/// The layout a file's name follows, as far as the name tells.
Layout LayoutOfName(std::string_view file) {
  if (file.ends_with(".up.sql") || file.ends_with(".down.sql") || file.ends_with(".verify.sql")) {
    return Layout::kNative;
  }
  if (file.size() > 1 && (file[0] == 'V' || file[0] == 'U' || file[0] == 'R') &&
      file.find("__") != std::string_view::npos) {
    return Layout::kFlyway;
  }
  if (!file.empty() && std::isdigit(static_cast<unsigned char>(file[0]))) return Layout::kDbmate;
  return Layout::kNative;
}

std::string_view LayoutName(Layout layout) {
  switch (layout) {
    case Layout::kNative: return "Strata's (NNNN_name.up.sql)";
    case Layout::kDbmate: return "dbmate's (NNNN_name.sql with -- migrate:up)";
    case Layout::kGoose: return "goose's (NNNN_name.sql with -- +goose Up)";
    case Layout::kFlyway: return "Flyway's (V1__name.sql)";
    case Layout::kSqitch: return "Sqitch's (sqitch.plan)";
    case Layout::kAtlas: return "Atlas's (NNNN_name.sql beside atlas.sum)";
  }
  return "";
}

Result<MigrationFileName> ParseFileName(Layout layout, std::string_view file) {
  if (!IsUtf8(file)) {
    // PostgreSQL refuses the name in history after the migration ran.
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: the name is not UTF-8 text (saved in another encoding, such as "
                              "Latin-1); history keeps names as text: rename the file",
                              file));
  }
  switch (layout) {
    case Layout::kDbmate:
    case Layout::kGoose: return ParseSectionedFileName(file, layout);
    case Layout::kFlyway: return ParseFlywayFileName(file);
    case Layout::kAtlas: return ParseAtlasFileName(file);
    case Layout::kNative:
    case Layout::kSqitch: break;
  }
  return ParseMigrationFileName(file);
}

/// The up file of a migration that has none, for the message saying so.
std::string UpFileName(Layout layout, const std::string& version_text, const std::string& name) {
  if (layout == Layout::kFlyway) return fmt::format("V{}__{}.sql", version_text, name);
  return fmt::format("{}_{}.up.sql", version_text, name);
}

bool IsDbmateMarker(std::string_view line, std::string_view section) {
  if (line.substr(0, 2) != "--") return false;
  line.remove_prefix(2);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.substr(0, 8) != "migrate:") return false;
  line.remove_prefix(8);
  if (line.substr(0, section.size()) != section) return false;
  line.remove_prefix(section.size());
  return line.empty() || std::isspace(static_cast<unsigned char>(line.front()));
}

}  // namespace

Result<MigrationFileName> ParseMigrationFileName(std::string_view file) {
  MigrationFileName out;
  std::string_view stem = file;
  if (stem.ends_with(".up.sql")) {
    out.kind = MigrationFileName::Kind::kUp;
    stem.remove_suffix(7);
  } else if (stem.ends_with(".down.sql")) {
    out.kind = MigrationFileName::Kind::kDown;
    stem.remove_suffix(9);
  } else if (stem.ends_with(".verify.sql")) {
    out.kind = MigrationFileName::Kind::kVerify;
    stem.remove_suffix(11);
  } else {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: name does not parse: {}", file, kExpected));
  }
  STRATA_RETURN_IF_ERROR(ReadVersionAndName(file, stem, "_", kExpected, out));
  return out;
}

Result<MigrationFileName> ParseFlywayFileName(std::string_view file) {
  MigrationFileName out;
  std::string_view stem = file;
  if (!stem.ends_with(".sql") || stem.size() < 5) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: name does not parse: {}", file, kExpectedFlyway));
  }
  stem.remove_suffix(4);
  if (stem[0] == 'R') {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: a repeatable migration (R__) runs again whenever it changes; "
                              "Strata applies each migration once, in version order, with a way "
                              "back: make it a versioned migration V<version>__{}.sql",
                              file, stem.substr(std::min(stem.size(), size_t{3}))));
  }
  if (stem[0] == 'V') {
    out.kind = MigrationFileName::Kind::kUp;
  } else if (stem[0] == 'U') {
    out.kind = MigrationFileName::Kind::kDown;
  } else {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: name does not parse: {}", file, kExpectedFlyway));
  }
  stem.remove_prefix(1);
  std::string_view version = stem.substr(0, stem.find("__"));
  if (version.find_first_of("._") != std::string_view::npos) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: version '{}' has several parts; Strata orders migrations by "
                              "one whole number: rename the files to whole-number versions "
                              "(V1__, V2__, ...) in the order they apply",
                              file, version));
  }
  STRATA_RETURN_IF_ERROR(ReadVersionAndName(file, stem, "__", kExpectedFlyway, out));
  return out;
}

namespace {

/// A goose annotation: "-- +goose <words>" at the very start of a line (as
/// goose wants it: no space before, one after "--"); GooseWords of it.
std::optional<std::string> GooseAnnotation(std::string_view line) {
  if (line.size() < 10 || line.substr(0, 2) != "--" || (line[2] != ' ' && line[2] != '\t')) {
    return std::nullopt;
  }
  return GooseWords(Trim(line.substr(2)));
}

}  // namespace

Result<Sections> SplitSections(std::string_view text, Layout layout) {
  const bool goose = layout == Layout::kGoose;
  const std::string_view up_marker = goose ? "-- +goose Up" : "-- migrate:up";
  const std::string_view down_marker = goose ? "-- +goose Down" : "-- migrate:down";
  Sections out;
  constexpr size_t kNone = std::string_view::npos;
  size_t up_at = kNone, down_at = kNone;  // offsets in `patched`
  int up_line = 0, line_no = 0, statement_line = 0;
  // goose: the text with a ';' added where a StatementEnd closes a statement
  // that has none, as goose ends it there.
  std::string patched;
  patched.reserve(text.size() + 16);
  int block_line = 0;          // the open StatementBegin's line
  bool block_ended = true;     // the block's last statement ends with ';'
  std::string no_transaction;  // the goose annotation's line, as written
  bool seen_code = false;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t pos = patched.size();
    const char* begin = rest.data();
    std::string_view raw = TakeLine(rest);
    std::string_view line = raw;
    if (begin == text.data() && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // a UTF-8 BOM
    ++line_no;
    const std::string_view trimmed = Trim(line);
    const bool code = !trimmed.empty() && trimmed.substr(0, 2) != "--";
    std::optional<std::string> note = goose ? GooseAnnotation(TrimRight(line)) : std::nullopt;
    const bool is_up = goose ? note == "up" : IsDbmateMarker(trimmed, "up");
    const bool is_down = goose ? note == "down" : IsDbmateMarker(trimmed, "down");
    if (is_up) {
      if (up_at != kNone) {
        return Status(Code::kParse, fmt::format("{}: a second {} line (the first is line {})",
                                                line_no, up_marker, up_line));
      }
      up_at = pos;
      up_line = line_no;
    } else if (is_down) {
      if (down_at != kNone) {
        return Status(Code::kParse, fmt::format("{}: a second {} line (the first is line {})",
                                                line_no, down_marker, out.down_line));
      }
      if (up_at == kNone) {
        return Status(Code::kParse,
                      fmt::format("{}: {} comes before {}; the up section comes first", line_no,
                                  down_marker, up_marker));
      }
      if (block_line != 0) {
        return Status(Code::kParse, fmt::format("{}: {} inside the StatementBegin of line {}",
                                                line_no, down_marker, block_line));
      }
      down_at = pos;
      out.down_line = line_no;
    } else if (note == "statementbegin") {
      if (block_line != 0) {
        return Status(Code::kParse, fmt::format("{}: a StatementBegin inside the one of line {}",
                                                line_no, block_line));
      }
      block_line = line_no;
      block_ended = true;
    } else if (note == "statementend") {
      if (block_line == 0) {
        return Status(Code::kParse,
                      fmt::format("{}: a StatementEnd without a StatementBegin before it", line_no));
      }
      block_line = 0;
      if (!block_ended) patched += ';';
    } else if (note == "no transaction") {
      if (seen_code) {
        return Status(Code::kParse,
                      fmt::format("{}: -- +goose NO TRANSACTION comes after a statement; put it at "
                                  "the top of the file, where it holds for both sections",
                                  line_no));
      }
      no_transaction = std::string(TrimRight(line));
    } else if (note == "envsub on") {
      return Status(Code::kParse,
                    fmt::format("{}: -- +goose ENVSUB ON: goose would put environment variables "
                                "into the statements after it; Strata runs a script as written, "
                                "so that what it applies and its checksum do not depend on the "
                                "environment: write the values into the script",
                                line_no));
    } else if (note && note != "envsub off") {
      return Status(Code::kParse,
                    fmt::format("{}: unknown goose annotation '{}' (known: Up, Down, "
                                "StatementBegin, StatementEnd, NO TRANSACTION)",
                                line_no, trimmed));
    } else if (code && up_at == kNone && statement_line == 0) {
      statement_line = line_no;
    } else if (code && down_at != kNone) {
      out.down_empty = false;
    }
    if (code && block_line != 0) block_ended = trimmed.ends_with(';');
    seen_code = seen_code || code;
    patched.append(begin, rest.empty() ? text.data() + text.size() - begin : rest.data() - begin);
  }
  if (up_at == kNone) {
    return Status(Code::kParse,
                  goose ? std::string("1: no '-- +goose Up' line; a goose migration holds its up "
                                      "script after a '-- +goose Up' line at the start of a line, "
                                      "and its down script after a '-- +goose Down' line")
                        : std::string("1: no '-- migrate:up' line; a file named NNNN_name.sql is "
                                      "read as a dbmate migration: its up script after a '-- "
                                      "migrate:up' line, its down script after a '-- "
                                      "migrate:down' line (for Strata's own layout, name it "
                                      "NNNN_name.up.sql)"));
  }
  if (statement_line != 0) {
    return Status(Code::kParse,
                  fmt::format("{}: a statement before the {} line (line {}); it would "
                              "belong to no section",
                              statement_line, up_marker, up_line));
  }
  if (block_line != 0) {
    return Status(Code::kParse,
                  fmt::format("{}: a StatementBegin without a StatementEnd after it", block_line));
  }
  out.up = patched.substr(0, down_at == kNone ? patched.size() : down_at);
  if (down_at != kNone) {
    out.down = patched.substr(down_at);
    // goose's NO TRANSACTION holds for both sections: the down script is
    // read with the annotation heading it, on the line before its marker.
    if (!no_transaction.empty()) {
      out.down = no_transaction + "\n" + out.down;
      --out.down_line;
    }
  }
  return out;
}

Result<std::string> ReplacePlaceholders(std::string_view text,
                                        const std::map<std::string, std::string>& values) {
  auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
           c == '-';
  };
  std::string out;
  out.reserve(text.size());
  size_t done = 0;
  for (size_t at = text.find("${"); at != std::string_view::npos; at = text.find("${", at + 2)) {
    size_t end = at + 2;
    while (end < text.size() && name_char(text[end])) ++end;
    if (end == at + 2 || end >= text.size() || text[end] != '}') continue;  // not one
    const std::string name(text.substr(at + 2, end - at - 2));
    auto value = values.find(name);
    if (value == values.end()) {
      const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(at), '\n');
      return Status(Code::kInvalidArgument,
                    fmt::format("{}: placeholder ${{{}}} has no value: give it one under "
                                "[placeholders] in strata.toml ({} = \"...\"); Flyway's "
                                "built-in ones Strata fills are flyway:defaultSchema, "
                                "flyway:user, flyway:database, flyway:timestamp, "
                                "flyway:filename and flyway:workingDirectory",
                                line, name, name.find(':') == std::string::npos ? name : "\"" + name + "\""));
    }
    out.append(text.substr(done, at - done)).append(value->second);
    done = end + 1;
    at = end - 1;
  }
  out.append(text.substr(done));
  return out;
}

Result<DownScript> ReadDownScript(const Migration& m) {
  if (!m.has_down()) {
    return Status(Code::kNotFound, fmt::format("migration {} has no down script", m.id()));
  }
  STRATA_ASSIGN_OR_RETURN(std::string text, ReadScript(m.down_path));
  if (!IsSectioned(m.layout)) return DownScript{std::move(text), 1};
  auto sections = SplitSections(text, m.layout);
  if (!sections.ok()) {
    return Status(sections.status().code(), fmt::format("{}:{}", m.down_path, sections.status().message()));
  }
  return DownScript{std::move(sections->down), sections->down_line};
}

std::string HowToAddDown(const Migration& m) {
  std::string dir = fs::path(m.up_path).parent_path().string();
  std::string in_dir = dir.empty() ? "" : dir + "/";
  switch (m.layout) {
    case Layout::kDbmate:
      return fmt::format("write its down script under a '-- migrate:down' line in {}", m.up_path);
    case Layout::kGoose:
      return fmt::format("write its down script under a '-- +goose Down' line in {}", m.up_path);
    case Layout::kFlyway:
      return fmt::format("write {}U{}__{}.sql", in_dir, m.version_text, m.name);
    case Layout::kSqitch:
      return fmt::format("write {}", (fs::path(dir).parent_path() / "revert" /
                                      fs::path(m.up_path).filename()).string());
    case Layout::kAtlas: {
      // Atlas reads every .sql file of the directory as a migration. A file
      // named by its version alone needs a name in Strata's layout.
      const std::string stem = m.name.empty() ? m.version_text + "_name" : m.id();
      return fmt::format("an Atlas directory has no place for one (Atlas would run any other "
                         ".sql file in {} as a migration): move the migrations to Strata's "
                         "layout ({}.up.sql and {}.down.sql{})",
                         dir, stem, stem, m.name.empty() ? ", any name after the '_'" : "");
    }
    case Layout::kNative: break;
  }
  return fmt::format("write {}{}.down.sql", in_dir, m.id());
}

namespace {

struct Files {
  std::string name;
  std::string version_text;
  std::string up, down, verify;
  std::string first;  // the first file seen of this version
};

/// Reads the changes `plan` (the text of sqitch.plan) names, in its order,
/// into `by_version`: the Nth change is version N, its scripts
/// deploy/NAME.sql (up), revert/NAME.sql (down) and verify/NAME.sql, those
/// of `dir_fd` that exist. A change reworked later ("name [name@tag]")
/// keeps its earlier scripts in deploy/name@tag.sql and so on.
void ReadSqitchPlan(std::string_view plan, const std::string& dir, int dir_fd,
                    std::map<int64_t, Files>& by_version, std::vector<std::string>& problems) {
  struct Change {
    std::string name, file;
    int line = 0;
    std::vector<std::string> requires_;
  };
  std::vector<Change> changes;
  int line_no = 0;
  while (!plan.empty()) {
    std::string_view line = Trim(TakeLine(plan));
    ++line_no;
    if (line.empty() || line[0] == '#' || line[0] == '%' || line[0] == '@') continue;  // note, pragma, tag
    if (line[0] == '-') {
      problems.push_back(fmt::format("{}/sqitch.plan:{}: a change marked to be reverted ('-') is "
                                     "not read; Strata applies the plan's changes in order",
                                     dir, line_no));
      continue;
    }
    if (line[0] == '+') line.remove_prefix(1);
    Change c;
    c.line = line_no;
    size_t end = line.find_first_of(" \t");
    c.name = std::string(line.substr(0, end));
    c.file = c.name;
    std::string_view rest = end == std::string_view::npos ? "" : line.substr(end);
    size_t open = rest.find('['), close = rest.find(']');
    size_t note = rest.find('#');
    if (open != std::string_view::npos && close != std::string_view::npos && open < close &&
        (note == std::string_view::npos || open < note)) {
      std::string_view deps = rest.substr(open + 1, close - open - 1);
      while (!deps.empty()) {
        size_t sp = deps.find_first_of(" \t");
        std::string_view dep = deps.substr(0, sp);
        if (!dep.empty() && dep[0] == ':') dep.remove_prefix(1);  // the old plan syntax: [:users]
        if (!dep.empty()) c.requires_.emplace_back(dep);
        deps = sp == std::string_view::npos ? "" : deps.substr(sp + 1);
      }
    }
    changes.push_back(std::move(c));
  }
  // A rework names the change it replaces as a dependency "name@tag".
  for (size_t j = 0; j < changes.size(); ++j) {
    for (const std::string& dep : changes[j].requires_) {
      if (dep.rfind(changes[j].name + "@", 0) != 0) continue;
      for (size_t i = j; i-- > 0;) {
        if (changes[i].name != changes[j].name) continue;
        changes[i].file = dep;
        break;
      }
    }
  }
  std::map<std::string, int> seen;  // file -> plan line
  int64_t version = 0;
  for (const Change& c : changes) {
    ++version;
    auto [at, fresh] = seen.emplace(c.file, c.line);
    if (!fresh) {
      problems.push_back(fmt::format("{}/sqitch.plan:{}: change {} is planned again (first on "
                                     "line {}) without reworking it ([{}@tag])",
                                     dir, c.line, c.name, at->second, c.name));
      continue;
    }
    Files& f = by_version[version];
    f.name = c.name;
    f.version_text = std::to_string(version);
    auto exists = [&](const std::string& file) { return faccessat(dir_fd, file.c_str(), F_OK, 0) == 0; };
    f.up = "deploy/" + c.file + ".sql";
    if (!exists(f.up)) {
      problems.push_back(fmt::format("{}/sqitch.plan:{}: change {} has no deploy script {}/{}", dir,
                                     c.line, c.name, dir, f.up));
      by_version.erase(version);
      continue;
    }
    if (exists("revert/" + c.file + ".sql")) f.down = "revert/" + c.file + ".sql";
    if (exists("verify/" + c.file + ".sql")) f.verify = "verify/" + c.file + ".sql";
  }
}

/// Whether the first of `names` in dbmate's naming holds goose's
/// "-- +goose Up" annotation.
bool IsGooseFile(int dir_fd, const std::string& dir, const std::vector<std::string>& names) {
  for (const std::string& file : names) {
    if (LayoutOfName(file) != Layout::kDbmate) continue;
    struct stat st {};
    auto text = ReadFileAt(dir_fd, file, dir + "/" + file, &st);
    if (!text.ok()) return false;
    std::string_view rest = *text;
    if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // a UTF-8 BOM
    while (!rest.empty()) {
      if (GooseAnnotation(TrimRight(TakeLine(rest))) == "up") return true;
    }
    return false;
  }
  return false;
}

/// Adds to `out` the ".sql" files named in Flyway's layout in the
/// subdirectories of `rel` (a directory under `dir_fd`, "" for itself) and
/// theirs in turn, as "sub/V1__x.sql": Flyway looks for migrations in the
/// whole tree under its location (db/migration/release_2/V30__x.sql), so a
/// project that groups them by release keeps them there. Hidden entries are
/// skipped, and so are symbolic links to directories, which could loop.
void ListNestedFlywayFiles(int dir_fd, const std::string& rel, int depth,
                           std::vector<std::string>& out) {
  if (depth > 16) return;
  int fd = openat(dir_fd, rel.empty() ? "." : rel.c_str(),
                  O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  std::unique_ptr<DIR, int (*)(DIR*)> listing(fdopendir(fd), closedir);
  if (listing == nullptr) {
    close(fd);
    return;
  }
  std::vector<std::string> subdirs;
  while (const dirent* entry = readdir(listing.get())) {
    std::string_view name = entry->d_name;
    if (name.empty() || name[0] == '.') continue;
    const std::string path = rel.empty() ? std::string(name) : rel + "/" + std::string(name);
    bool is_dir = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = fstatat(dir_fd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) {
      subdirs.push_back(path);
    } else if (!rel.empty() && name.ends_with(".sql") && LayoutOfName(name) == Layout::kFlyway) {
      out.push_back(path);
    }
  }
  listing.reset();
  for (const std::string& sub : subdirs) ListNestedFlywayFiles(dir_fd, sub, depth + 1, out);
}

/// The layout most of `names` follow (Strata's own on a tie).
Layout MostCommonLayout(const std::vector<std::string>& names) {
  size_t count[5] = {0, 0, 0, 0, 0};
  for (const std::string& file : names) ++count[static_cast<int>(LayoutOfName(file))];
  Layout most = Layout::kNative;
  for (Layout l : {Layout::kDbmate, Layout::kFlyway}) {
    if (count[static_cast<int>(l)] > count[static_cast<int>(most)]) most = l;
  }
  return most;
}

}  // namespace

Result<std::vector<Migration>> LoadMigrations(const std::string& dir, const LoadOptions& options) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    return Status(Code::kInvalidArgument,
                  fmt::format("'{}' is a file, not a directory of migrations; pass --dir with the "
                              "directory that holds the migration files",
                              dir));
  }
  if (!fs::is_directory(dir, ec)) {
    // Where dbmate and Flyway keep theirs, beside the directory looked for.
    fs::path beside = fs::path(dir).parent_path();
    for (const char* other : kOtherToolMigrationDirs) {
      fs::path candidate = beside / other;
      if (!fs::is_directory(candidate, ec)) continue;
      return Status(Code::kNotFound,
                    fmt::format("migrations directory '{}' does not exist, but {} does: pass "
                                "--dir {} (or set [migrations] dir in strata.toml)",
                                dir, candidate.string(), candidate.string()));
    }
    return Status(Code::kNotFound,
                  fmt::format("migrations directory '{}' does not exist; create it with "
                              "`strata init` or pass --dir",
                              dir));
  }
  // Before any file is looked at: the cache judges files against this clock.
  std::optional<ChecksumCache> cache = OpenCache(dir, options);
  std::vector<std::string> problems;
  std::map<int64_t, Files> by_version;
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> listing(opendir(dir.c_str()), closedir);
  if (listing == nullptr) {
    return Status(Code::kIOError, fmt::format("cannot list '{}': {}", dir, std::strerror(errno)));
  }
  std::vector<std::string> subdirs;  // a layout of one folder per migration?
  std::vector<std::string> go_names;  // goose's migrations written in Go
  while (const dirent* entry = readdir(listing.get())) {
    std::string_view file = entry->d_name;
    if (file.empty() || file[0] == '.') continue;
    if (file.ends_with(".sql")) names.emplace_back(file);
    if (file.ends_with(".go") && !file.ends_with("_test.go") &&
        std::isdigit(static_cast<unsigned char>(file[0]))) {
      go_names.emplace_back(file);
    }
    if (entry->d_type == DT_DIR && subdirs.size() < 3) subdirs.emplace_back(file);
  }
  const int dir_fd = dirfd(listing.get());
  std::sort(names.begin(), names.end());

  // A Sqitch project: its plan, not file names, says what the changes are.
  const bool sqitch = faccessat(dir_fd, "sqitch.plan", F_OK, 0) == 0;
  Layout layout = sqitch ? Layout::kSqitch : MostCommonLayout(names);
  // dbmate, goose and Atlas name their files alike; Atlas's integrity file
  // tells, or else the first file's markers.
  if (layout == Layout::kDbmate && faccessat(dir_fd, "atlas.sum", F_OK, 0) == 0) {
    layout = Layout::kAtlas;
  } else if (layout == Layout::kDbmate && IsGooseFile(dir_fd, dir, names)) {
    layout = Layout::kGoose;
  }
  // Flyway's migrations may be in folders below (one per release, say),
  // even all of them.
  if (!sqitch && (layout == Layout::kFlyway || names.empty())) {
    std::vector<std::string> nested;
    ListNestedFlywayFiles(dir_fd, "", 0, nested);
    if (!nested.empty()) {
      layout = Layout::kFlyway;
      names.insert(names.end(), nested.begin(), nested.end());
      std::sort(names.begin(), names.end());
    }
  }
  if (layout == Layout::kGoose) {
    std::sort(go_names.begin(), go_names.end());
    for (const std::string& file : go_names) {
      problems.push_back(fmt::format(
          "{}/{}: a goose migration written in Go, which goose runs compiled into the "
          "application; Strata runs SQL: write it as {}/{}.sql (its down script under a "
          "'-- +goose Down' line), or its versions would apply without it",
          dir, file, dir, file.substr(0, file.size() - 3)));
    }
  }
  if (sqitch) {
    struct stat st {};
    auto plan = ReadFileAt(dir_fd, "sqitch.plan", dir + "/sqitch.plan", &st);
    if (!plan.ok()) return plan.status();
    ReadSqitchPlan(*plan, dir, dir_fd, by_version, problems);
    names.clear();
  }
  // Up files first, so that a migration is named by its up file: a Flyway
  // undo file matches its versioned migration by version alone, and
  // U1__revert_init.sql sorts before V1__init.sql.
  std::vector<std::pair<std::string, Result<MigrationFileName>>> parsed_names;
  parsed_names.reserve(names.size());
  for (std::string& file : names) {
    // A file in a folder below (Flyway's layout) is named by its own name;
    // its messages name its folder too.
    const size_t slash = file.rfind('/');
    auto parsed = ParseFileName(layout, std::string_view(file).substr(slash + 1));
    if (!parsed.ok() && slash != std::string::npos) {
      parsed = Status(parsed.status().code(), file.substr(0, slash + 1) + parsed.status().message());
    }
    parsed_names.emplace_back(std::move(file), std::move(parsed));
  }
  std::stable_partition(parsed_names.begin(), parsed_names.end(), [](const auto& entry) {
    return !entry.second.ok() || entry.second->kind == MigrationFileName::Kind::kUp;
  });
  for (auto& [file, parsed] : parsed_names) {
    if (!parsed.ok()) {
      std::string problem = fmt::format("{}/{}", dir, parsed.status().message());
      // Only a name another layout reads is named in it: afterMigrate.sql
      // (a Flyway callback) or schema.sql is named in none.
      if (LayoutOfName(file) != layout && ParseFileName(LayoutOfName(file), file).ok()) {
        problem += fmt::format(" (it is named in {} layout, but most files here follow {} "
                               "and a directory holds one layout)",
                               LayoutName(LayoutOfName(file)), LayoutName(layout));
      }
      problems.push_back(std::move(problem));
      continue;
    }
    Files& f = by_version[parsed->version];
    std::string* slot = parsed->kind == MigrationFileName::Kind::kUp     ? &f.up
                     : parsed->kind == MigrationFileName::Kind::kDown ? &f.down
                                                                      : &f.verify;
    // Flyway pairs an undo file with the versioned migration of the same
    // version, whatever either's description (V1__init.sql, U1__revert_init.sql).
    const bool by_version_alone =
        layout == Layout::kFlyway && parsed->kind == MigrationFileName::Kind::kDown;
    if (f.name.empty()) {
      f.name = std::move(parsed->name);
      f.version_text = std::move(parsed->version_text);
      f.first = file;
    } else if (slot->empty() && parsed->kind != MigrationFileName::Kind::kUp && !by_version_alone &&
               f.up.size() > 7 && f.up.compare(f.up.size() - 7, 7, ".up.sql") == 0 &&
               (f.name != parsed->name || f.version_text != parsed->version_text)) {
      // A down or verify file for an up file of its version, named
      // otherwise (golang-migrate pairs by version alone): the pair is
      // meant, so the name is what to fix, not the version.
      std::string expected = f.up.substr(f.up.rfind('/') + 1);
      expected.replace(expected.size() - 7, 7,
                       parsed->kind == MigrationFileName::Kind::kDown ? ".down.sql" : ".verify.sql");
      problems.push_back(fmt::format("{}/{}: version {} is the up script {}/{}, named otherwise; "
                                     "rename this file {} so that it pairs with it",
                                     dir, file, parsed->version, dir, f.up, expected));
      continue;
    } else if (!slot->empty() || (!by_version_alone && (f.name != parsed->name ||
                                                        f.version_text != parsed->version_text))) {
      std::string other = layout == Layout::kNative ? f.version_text + "_" + f.name + ".*.sql"
                          : slot->empty()           ? f.first
                                                    : *slot;
      problems.push_back(fmt::format("{}/{}: duplicate version {}: also used by {}/{}", dir,
                                     file, parsed->version, dir, other));
      continue;
    }
    *slot = std::move(file);
  }

  std::vector<Migration> out;
  out.reserve(by_version.size());
  for (auto& [version, f] : by_version) {
    auto in_dir = [&dir](const std::string& file) { return file.empty() ? file : dir + "/" + file; };
    if (f.up.empty()) {
      for (const std::string* p : {&f.down, &f.verify}) {
        if (p->empty()) continue;
        problems.push_back(fmt::format("{}: has no up script (expected {}/{} beside it)", in_dir(*p),
                                       dir, UpFileName(layout, f.version_text, f.name)));
      }
      continue;
    }
    Migration m;
    m.version = version;
    m.version_text = std::move(f.version_text);
    m.name = std::move(f.name);
    m.layout = layout;
    m.up_path = in_dir(f.up);
    m.down_path = in_dir(f.down);
    m.verify_path = in_dir(f.verify);
    struct stat st {};
    // A dbmate or goose file is read whole: whether it has a down section is in it.
    const bool cached = cache && !IsSectioned(layout);
    if (cached && fstatat(dir_fd, f.up.c_str(), &st, 0) == 0 && S_ISREG(st.st_mode)) {
      if (auto known = cache->Find(f.up, FileStamp::Of(st))) {
        auto directives = ParseDirectives(known->directives);
        if (directives.ok()) {
          m.checksum = std::move(known->checksum);
          m.directives = *directives;
          m.up_sql_unread = true;
          out.push_back(std::move(m));
          continue;
        }
      }
    }
    auto content = ReadFileAt(dir_fd, f.up, m.up_path, &st);
    if (!content.ok()) {
      problems.push_back(content.status().message());
      continue;
    }
    m.up_sql = std::move(content).value();
    if (IsSectioned(layout)) {
      auto sections = SplitSections(m.up_sql, layout);
      if (!sections.ok()) {
        problems.push_back(fmt::format("{}:{}", m.up_path, sections.status().message()));
        continue;
      }
      m.up_sql = std::move(sections->up);
      if (!sections->down_empty) m.down_path = m.up_path;
    }
    m.checksum = ScriptChecksum(m.up_sql);
    auto directives = ParseDirectives(m.up_sql);
    if (!directives.ok()) {
      problems.push_back(fmt::format("{}:{}", m.up_path, directives.status().message()));
      continue;
    }
    m.directives = *directives;
    if (cached && S_ISREG(st.st_mode)) {
      cache->Store(f.up, FileStamp::Of(st), m.checksum, DirectiveLines(m.up_sql));
    }
    out.push_back(std::move(m));
  }
  // A cache that cannot be written only costs the next run the reading.
  if (cache) cache->Save().IgnoreError();
  if (out.empty() && problems.empty()) {
    for (const std::string& sub : subdirs) {
      if (faccessat(dir_fd, (sub + "/up.sql").c_str(), F_OK, 0) != 0) continue;
      // "2019-01-01-000000_create_users" -> "20190101000000_create_users"
      size_t underscore = sub.find('_');
      std::string version, name = underscore == std::string::npos ? "name" : sub.substr(underscore + 1);
      for (char c : sub.substr(0, underscore)) {
        if (std::isdigit(static_cast<unsigned char>(c))) version += c;
      }
      return Status(Code::kInvalidArgument,
                    fmt::format("{} holds no migration files but folders like {}/up.sql (one "
                                "folder per migration, as Diesel lays them out); Strata reads "
                                "files in one directory named NNNN_name.up.sql and "
                                "NNNN_name.down.sql: {}/up.sql would be {}/{}_{}.up.sql",
                                dir, sub, sub, dir, version.empty() ? "0001" : version, name));
    }
  }
  if (!problems.empty()) {
    std::string msg = fmt::format("{} problem{} in {}:", problems.size(),
                                  problems.size() == 1 ? "" : "s", dir);
    for (const auto& p : problems) msg += "\n  " + p;
    return Status(Code::kInvalidArgument, msg);
  }
  return out;
}

}  // namespace strata
