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

namespace strata {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kExpected = "expected NNNN_name.up.sql, NNNN_name.down.sql or NNNN_name.verify.sql";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

namespace {

/// Reads the file `name` of the directory `dir_fd` (or AT_FDCWD) and says
/// what fstat found when it opened it; errors name `path`.
Result<std::string> ReadFileAt(int dir_fd, const std::string& name, const std::string& path,
                               struct stat* st) {
  int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status(Code::kIOError, fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  }
  std::string out;
  size_t expected = 0;  // the size fstat saw: reaching it saves the read that finds EOF
  if (fstat(fd, st) == 0 && S_ISREG(st->st_mode)) {
    expected = static_cast<size_t>(st->st_size);
  } else {
    *st = {};
  }
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

struct Files {
  std::string name;
  std::string version_text;
  std::string up, down, verify;
};

}  // namespace

Result<MigrationFileName> ParseMigrationFileName(std::string_view file) {
  MigrationFileName out;
  std::string_view stem = file;
  if (EndsWith(stem, ".up.sql")) {
    out.kind = MigrationFileName::Kind::kUp;
    stem.remove_suffix(7);
  } else if (EndsWith(stem, ".down.sql")) {
    out.kind = MigrationFileName::Kind::kDown;
    stem.remove_suffix(9);
  } else if (EndsWith(stem, ".verify.sql")) {
    out.kind = MigrationFileName::Kind::kVerify;
    stem.remove_suffix(11);
  } else {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: name does not parse: {}", file, kExpected));
  }
  size_t underscore = stem.find('_');
  std::string_view version = stem.substr(0, underscore);
  if (underscore == std::string_view::npos || underscore + 1 == stem.size()) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: name does not parse: no '_name' after the version; {}", file,
                              kExpected));
  }
  bool digits = !version.empty() && std::all_of(version.begin(), version.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  if (!digits) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: version '{}' is not a number; {}", file, version, kExpected));
  }
  auto [ptr, ec] = std::from_chars(version.data(), version.data() + version.size(), out.version);
  if (ec != std::errc()) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: version '{}' is too large (the largest is 9223372036854775807)", file, version));
  }
  out.version_text = std::string(version);
  out.name = std::string(stem.substr(underscore + 1));
  return out;
}

Result<std::vector<Migration>> LoadMigrations(const std::string& dir, const LoadOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
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
  while (const dirent* entry = readdir(listing.get())) {
    std::string_view file = entry->d_name;
    if (file.empty() || file[0] == '.') continue;
    if (EndsWith(file, ".sql")) names.emplace_back(file);
    if (entry->d_type == DT_DIR && subdirs.size() < 3) subdirs.emplace_back(file);
  }
  const int dir_fd = dirfd(listing.get());
  std::sort(names.begin(), names.end());

  for (std::string& file : names) {
    auto parsed = ParseMigrationFileName(file);
    if (!parsed.ok()) {
      problems.push_back(fmt::format("{}/{}", dir, parsed.status().message()));
      continue;
    }
    Files& f = by_version[parsed->version];
    if (f.name.empty()) {
      f.name = std::move(parsed->name);
      f.version_text = std::move(parsed->version_text);
    } else if (f.name != parsed->name || f.version_text != parsed->version_text) {
      std::string other = f.version_text + "_" + f.name;
      problems.push_back(fmt::format("{}/{}: duplicate version {}: also used by {}/{}.*.sql", dir,
                                     file, parsed->version, dir, other));
      continue;
    }
    std::string* slot = parsed->kind == MigrationFileName::Kind::kUp     ? &f.up
                     : parsed->kind == MigrationFileName::Kind::kDown ? &f.down
                                                                      : &f.verify;
    *slot = std::move(file);
  }

  std::vector<Migration> out;
  out.reserve(by_version.size());
  for (auto& [version, f] : by_version) {
    auto in_dir = [&dir](const std::string& file) { return file.empty() ? file : dir + "/" + file; };
    if (f.up.empty()) {
      for (const std::string* p : {&f.down, &f.verify}) {
        if (p->empty()) continue;
        problems.push_back(fmt::format("{}: has no up script (expected {}/{}_{}.up.sql beside it)",
                                       in_dir(*p), dir, f.version_text, f.name));
      }
      continue;
    }
    Migration m;
    m.version = version;
    m.version_text = std::move(f.version_text);
    m.name = std::move(f.name);
    m.up_path = in_dir(f.up);
    m.down_path = in_dir(f.down);
    m.verify_path = in_dir(f.verify);
    struct stat st {};
    if (cache && fstatat(dir_fd, f.up.c_str(), &st, 0) == 0 && S_ISREG(st.st_mode)) {
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
    m.checksum = ScriptChecksum(m.up_sql);
    auto directives = ParseDirectives(m.up_sql);
    if (!directives.ok()) {
      problems.push_back(fmt::format("{}:{}", m.up_path, directives.status().message()));
      continue;
    }
    m.directives = *directives;
    if (cache && S_ISREG(st.st_mode)) {
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
