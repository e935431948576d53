#include "migration/checksum_cache.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace strata {
namespace {

// The first line of a cache file; bump the number when the format, the
// checksum or the directive lines change meaning.
// 2: files whose directives a later check refuses (misplaced, misspelt) were
// vouched for by 1.
constexpr std::string_view kMagic = "strata checksum cache 2\n";
constexpr std::string_view kEnd = "end ";

/// Tabs, newlines and backslashes escaped, so that any file name fits in a field.
std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

bool Unescape(std::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      *out += s[i];
      continue;
    }
    if (++i == s.size()) return false;
    switch (s[i]) {
      case '\\': *out += '\\'; break;
      case 't': *out += '\t'; break;
      case 'n': *out += '\n'; break;
      default: return false;
    }
  }
  return true;
}

template <typename Int>
bool ParseInt(std::string_view s, Int* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

/// Splits off the text before the next `sep`; false when there is none.
bool Next(std::string_view* rest, char sep, std::string_view* field) {
  size_t at = rest->find(sep);
  if (at == std::string_view::npos) return false;
  *field = rest->substr(0, at);
  rest->remove_prefix(at + 1);
  return true;
}

std::string HashHex(std::string_view data) {
  return fmt::format("{:016x}", XXH3_64bits(data.data(), data.size()));
}

int64_t Nanos(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

/// mkdir that is content when the directory exists.
bool MakeDir(const std::string& path) {
  return mkdir(path.c_str(), 0700) == 0 || errno == EEXIST;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

FileStamp FileStamp::Of(const struct stat& st) {
  return FileStamp{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                   static_cast<int64_t>(st.st_size), Nanos(st.st_mtim), Nanos(st.st_ctim)};
}

std::string ChecksumCache::PathFor(const std::string& real_dir) {
  std::string base;
  // The XDG base directory spec says to ignore a relative XDG_CACHE_HOME.
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && xdg[0] == '/') {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home && home[0] == '/') {
    base = std::string(home) + "/.cache";
  } else {
    return "";
  }
  return base + "/strata/" + HashHex(real_dir) + ".checksums";
}

ChecksumCache ChecksumCache::Open(std::string file, std::string real_dir, int64_t now_ns) {
  ChecksumCache cache(std::move(file), std::move(real_dir), now_ns);
  if (cache.file_.empty()) return cache;
  int fd = open(cache.file_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return cache;
  struct stat st {};
  // Only a file of the user's, which nobody else may write, can vouch for files.
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
      (st.st_mode & (S_IWGRP | S_IWOTH)) == 0) {
    std::vector<char>& text = cache.text_;
    text.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < text.size()) {
      ssize_t n = read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);
  }
  close(fd);
  if (!cache.Index()) {
    cache.text_.clear();
    cache.lines_.clear();
  }
  return cache;
}

bool ChecksumCache::Index() {
  // The last line, "end <hash>", holds a hash of everything before it.
  std::string_view text(text_.data(), text_.size());
  if (text.substr(0, kMagic.size()) != kMagic || text.back() != '\n') return false;
  size_t end_line = text.rfind('\n', text.size() - 2);
  if (end_line == std::string_view::npos) return false;
  std::string_view body = text.substr(0, end_line + 1);
  if (text.substr(end_line + 1) != std::string(kEnd) + HashHex(body) + "\n") return false;

  std::string_view rest = body.substr(kMagic.size());
  std::string_view line;
  std::string dir;
  if (!Next(&rest, '\n', &line) || !Unescape(line, &dir) || dir != real_dir_) return false;
  lines_.reserve(static_cast<size_t>(std::count(rest.begin(), rest.end(), '\n')));
  while (Next(&rest, '\n', &line)) {
    Line entry;
    if (!Next(&line, '\t', &entry.name)) return false;
    entry.rest = line;
    if (!lines_.empty() && !(lines_.back().name < entry.name)) return false;  // written sorted
    lines_.push_back(entry);
  }
  return true;
}

std::optional<ChecksumCache::Entry> ChecksumCache::Find(const std::string& name,
                                                        const FileStamp& stamp) {
  const std::string key = Escape(name);
  auto it = std::lower_bound(lines_.begin(), lines_.end(), key,
                             [](const Line& l, const std::string& k) { return l.name < k; });
  if (it == lines_.end() || it->name != key) return std::nullopt;
  std::string_view rest = it->rest, device, inode, size, mtime, ctime, checksum;
  Entry entry;
  if (!Next(&rest, '\t', &device) || !Next(&rest, '\t', &inode) || !Next(&rest, '\t', &size) ||
      !Next(&rest, '\t', &mtime) || !Next(&rest, '\t', &ctime) ||
      !Next(&rest, '\t', &checksum) || !Unescape(rest, &entry.directives) ||
      !ParseInt(device, &entry.stamp.device) || !ParseInt(inode, &entry.stamp.inode) ||
      !ParseInt(size, &entry.stamp.size) || !ParseInt(mtime, &entry.stamp.mtime_ns) ||
      !ParseInt(ctime, &entry.stamp.ctime_ns) || !(entry.stamp == stamp)) {
    return std::nullopt;
  }
  entry.checksum = std::string(checksum);
  if (!it->found) {
    it->found = true;
    ++found_;
  }
  return entry;
}

void ChecksumCache::Store(const std::string& name, const FileStamp& stamp, std::string checksum,
                          std::string directives) {
  // A file changed within the window may change again with the same times
  // (same tick or second) after being read: not trustworthy yet.
  const int64_t trusted_before =
      now_ns_ - std::chrono::duration_cast<std::chrono::nanoseconds>(kRacyWindow).count();
  if (stamp.mtime_ns >= trusted_before || stamp.ctime_ns >= trusted_before) return;
  stored_[Escape(name)] = Entry{stamp, std::move(checksum), std::move(directives)};
}

std::string ChecksumCache::Serialize() const {
  // The lines found, as they were, merged by name with the entries stored.
  std::string out(kMagic);
  out += Escape(real_dir_) + "\n";
  auto line = lines_.begin();
  auto stored = stored_.begin();
  while (line != lines_.end() || stored != stored_.end()) {
    if (line != lines_.end() && (stored == stored_.end() || line->name < stored->first)) {
      if (line->found) {
        out.append(line->name);
        out += '\t';
        out.append(line->rest);
        out += '\n';
      }
      ++line;
      continue;
    }
    if (line != lines_.end() && line->name == stored->first) ++line;  // replaced
    const Entry& e = stored->second;
    out += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", stored->first, e.stamp.device, e.stamp.inode,
                       e.stamp.size, e.stamp.mtime_ns, e.stamp.ctime_ns, e.checksum,
                       Escape(e.directives));
    ++stored;
  }
  out += std::string(kEnd) + HashHex(out) + "\n";
  return out;
}

Status ChecksumCache::Save() {
  if (file_.empty() || (stored_.empty() && found_ == lines_.size())) return Status::OK();

  // $XDG_CACHE_HOME (or ~/.cache) and its strata/ directory, made private as
  // the XDG spec asks when they do not exist yet.
  size_t slash = file_.rfind('/');
  std::string dir = file_.substr(0, slash);
  if (!MakeDir(dir.substr(0, dir.rfind('/'))) || !MakeDir(dir)) {
    return Status(Code::kIOError, fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
  }
  std::string temp = fmt::format("{}.tmp.{}", file_, getpid());
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Status(Code::kIOError, fmt::format("cannot write {}: {}", temp, std::strerror(errno)));
  }
  bool written = WriteAll(fd, Serialize());
  int err = errno;
  if (close(fd) != 0 && written) {
    written = false;
    err = errno;
  }
  if (written && rename(temp.c_str(), file_.c_str()) == 0) return Status::OK();
  if (written) err = errno;
  unlink(temp.c_str());
  return Status(Code::kIOError, fmt::format("cannot write {}: {}", file_, std::strerror(err)));
}

}  // namespace strata
