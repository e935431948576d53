#include "engine/url.h"

#include <cctype>
#include <filesystem>

#include <fmt/format.h>

namespace strata {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Redacts `key=value` pairs whose key is a password, in query strings and in
// libpq key/value connection strings.
std::string RedactPasswordParams(std::string text) {
  static const std::string_view kKeys[] = {"password=", "passwd=", "pwd="};
  for (std::string_view key : kKeys) {
    size_t pos = 0;
    while ((pos = text.find(key, pos)) != std::string::npos) {
      bool at_boundary = pos == 0 || text[pos - 1] == '?' || text[pos - 1] == '&' ||
                         text[pos - 1] == ' ' || text[pos - 1] == ';';
      size_t start = pos + key.size();
      if (!at_boundary) {
        pos = start;
        continue;
      }
      size_t end = start;
      if (end < text.size() && text[end] == '\'') {
        end = text.find('\'', end + 1);
        end = end == std::string::npos ? text.size() : end + 1;
      } else {
        while (end < text.size() && text[end] != '&' && text[end] != ' ' &&
               text[end] != ';' && text[end] != '\n')
          ++end;
      }
      text.replace(start, end - start, "***");
      pos = start + 3;
    }
  }
  return text;
}

}  // namespace

Result<DatabaseUrl> ParseDatabaseUrl(std::string_view url) {
  if (url.empty()) {
    return Status(Code::kInvalidArgument,
                  "no database given: pass --database URL, set DATABASE_URL, or set "
                  "database.url in strata.toml");
  }
  if (StartsWith(url, "postgres://") || StartsWith(url, "postgresql://")) {
    return DatabaseUrl{Engine::kPostgres, EncodeCredentials(url)};
  }
  if (StartsWith(url, "sqlite:") || StartsWith(url, "sqlite3:")) {
    std::string_view rest = url.substr(url.find(':') + 1);
    if (StartsWith(rest, "//")) rest.remove_prefix(2);
    if (rest.empty()) {
      return Status(Code::kInvalidArgument,
                    fmt::format("database URL '{}' names no file: use sqlite:path/to/app.db", url));
    }
    return DatabaseUrl{Engine::kSqlite, std::string(rest)};
  }
  if (url.find("://") == std::string_view::npos &&
      (EndsWith(url, ".db") || EndsWith(url, ".sqlite") || EndsWith(url, ".sqlite3"))) {
    return DatabaseUrl{Engine::kSqlite, std::string(url)};
  }
  std::string shown = RedactUrl(url);
  size_t colon = shown.find(':');
  std::string scheme = colon == std::string::npos ? shown : shown.substr(0, colon);
  return Status(Code::kInvalidArgument,
                fmt::format("unsupported database URL '{}' (scheme '{}'); use sqlite:path/to/app.db, "
                            "postgres://user@host:port/db or postgresql://...",
                            shown, scheme));
}

bool SqliteFileMissing(const DatabaseUrl& url) {
  return url.engine == Engine::kSqlite && url.target != ":memory:" &&
         !StartsWith(url.target, "file:") && !std::filesystem::exists(url.target);
}

Status SqliteFileMissingError(std::string_view path) {
  return Status(Code::kUnavailable,
                fmt::format("SQLite database '{}' does not exist (check the path; `strata up` "
                            "creates it)",
                            path));
}

std::string EncodeCredentials(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  size_t auth_start = scheme_end + 3;
  size_t auth_end = url.find_first_of("/?#", auth_start);
  if (auth_end == std::string_view::npos) auth_end = url.size();
  size_t at = url.rfind('@', auth_end);
  if (at == std::string_view::npos || at < auth_start) return std::string(url);
  std::string out(url.substr(0, auth_start));
  for (size_t i = auth_start; i < at; ++i) {
    if (url[i] == '@') {
      out += "%40";
    } else {
      out += url[i];
    }
  }
  out += url.substr(at);
  return out;
}

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    size_t auth_start = scheme_end + 3;
    size_t auth_end = out.find_first_of("/?#", auth_start);
    if (auth_end == std::string::npos) auth_end = out.size();
    size_t at = out.rfind('@', auth_end);
    if (at != std::string::npos && at >= auth_start) {
      size_t colon = out.find(':', auth_start);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  return RedactPasswordParams(std::move(out));
}

std::string RedactSecrets(std::string_view text) {
  std::string out(text);
  size_t pos = 0;
  while ((pos = out.find("://", pos)) != std::string::npos) {
    size_t start = pos;
    while (start > 0 && (std::isalnum(static_cast<unsigned char>(out[start - 1])) ||
                         out[start - 1] == '+' || out[start - 1] == '-' || out[start - 1] == '.'))
      --start;
    size_t end = out.find_first_of(" \t\n'\"<>", pos);
    if (end == std::string::npos) end = out.size();
    std::string redacted = RedactUrl(std::string_view(out).substr(start, end - start));
    out.replace(start, end - start, redacted);
    pos = start + redacted.size();
  }
  return RedactPasswordParams(std::move(out));
}

}  // namespace strata
