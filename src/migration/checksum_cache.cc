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
constexpr std::string_view kMagic = "strata checksum cache 1\n";
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
  std::string text;
  // Only a file of the user's, which nobody else may write, can vouch for files.
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
      (st.st_mode & (S_IWGRP | S_IWOTH)) == 0) {
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
  if (!cache.Parse(text)) cache.slots_.clear();
  return cache;
}

bool ChecksumCache::Parse(std::string_view text) {
  // The last line, "end <hash>", holds a hash of everything before it.
  if (text.size() < kMagic.size() || text.substr(0, kMagic.size()) != kMagic) return false;
  if (text.back() != '\n') return false;
  size_t end_line = text.rfind('\n', text.size() - 2);
  if (end_line == std::string_view::npos) return false;
  std::string_view body = text.substr(0, end_line + 1);
  std::string_view trailer = text.substr(end_line + 1);
  if (trailer != std::string(kEnd) + HashHex(body) + "\n") return false;

  std::string_view rest = body.substr(kMagic.size());
  std::string_view line;
  std::string dir;
  if (!Next(&rest, '\n', &line) || !Unescape(line, &dir) || dir != real_dir_) return false;
  slots_.reserve(static_cast<size_t>(std::count(rest.begin(), rest.end(), '\n')));
  while (Next(&rest, '\n', &line)) {
    std::string_view name, device, inode, size, mtime, ctime, checksum;
    Slot slot;
    std::string key;
    if (!Next(&line, '\t', &name) || !Next(&line, '\t', &device) || !Next(&line, '\t', &inode) ||
        !Next(&line, '\t', &size) || !Next(&line, '\t', &mtime) || !Next(&line, '\t', &ctime) ||
        !Next(&line, '\t', &checksum) || !Unescape(name, &key) ||
        !Unescape(line, &slot.entry.directives) || !ParseInt(device, &slot.entry.stamp.device) ||
        !ParseInt(inode, &slot.entry.stamp.inode) || !ParseInt(size, &slot.entry.stamp.size) ||
        !ParseInt(mtime, &slot.entry.stamp.mtime_ns) ||
        !ParseInt(ctime, &slot.entry.stamp.ctime_ns)) {
      return false;
    }
    slot.entry.checksum = std::string(checksum);
    slots_[std::move(key)] = std::move(slot);
  }
  return true;
}

const ChecksumCache::Entry* ChecksumCache::Find(const std::string& name, const FileStamp& stamp) {
  auto it = slots_.find(name);
  if (it == slots_.end() || !(it->second.entry.stamp == stamp)) return nullptr;
  it->second.seen = true;
  return &it->second.entry;
}

void ChecksumCache::Store(const std::string& name, const FileStamp& stamp, std::string checksum,
                          std::string directives) {
  // A file changed within the window may change again with the same times
  // (same tick or second) after being read: not trustworthy yet.
  const int64_t trusted_before =
      now_ns_ - std::chrono::duration_cast<std::chrono::nanoseconds>(kRacyWindow).count();
  if (stamp.mtime_ns >= trusted_before || stamp.ctime_ns >= trusted_before) return;
  slots_[name] = Slot{Entry{stamp, std::move(checksum), std::move(directives)}, true};
  changed_ = true;
}

std::string ChecksumCache::Serialize() const {
  std::vector<const std::pair<const std::string, Slot>*> sorted;
  for (const auto& kv : slots_) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::string out(kMagic);
  out += Escape(real_dir_) + "\n";
  for (const auto* kv : sorted) {
    const Entry& e = kv->second.entry;
    out += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", Escape(kv->first), e.stamp.device,
                       e.stamp.inode, e.stamp.size, e.stamp.mtime_ns, e.stamp.ctime_ns, e.checksum,
                       Escape(e.directives));
  }
  out += std::string(kEnd) + HashHex(out) + "\n";
  return out;
}

Status ChecksumCache::Save() {
  if (file_.empty()) return Status::OK();
  size_t before = slots_.size();
  std::erase_if(slots_, [](const auto& kv) { return !kv.second.seen; });
  if (!changed_ && slots_.size() == before) return Status::OK();

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
  if (written && rename(temp.c_str(), file_.c_str()) == 0) {
    changed_ = false;
    return Status::OK();
  }
  if (written) err = errno;
  unlink(temp.c_str());
  return Status(Code::kIOError, fmt::format("cannot write {}: {}", file_, std::strerror(err)));
}

}  // namespace strata
