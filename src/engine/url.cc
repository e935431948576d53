#include "engine/url.h"

#include <cctype>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

namespace strata {
namespace {

/// `raw` with each %XX decoded, in lower case: libpq decodes a URL's
/// parameter names too, so "%70assword" is "password" to it.
std::string DecodedLowerKey(std::string_view raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    auto hex = [&](size_t at) {
      return at < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[at]));
    };
    if (c == '%' && hex(i + 1) && hex(i + 2)) {
      c = static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool IsPasswordKey(std::string_view key) {
  // sslpassword: the passphrase of the client's SSL key.
  for (std::string_view k : {"password", "passwd", "pwd", "sslpassword"}) {
    if (key == k) return true;
  }
  return false;
}

// Redacts `key=value` pairs whose key is a password, in query strings and in
// libpq key/value connection strings: keys in any case (libpq refuses
// PASSWORD=, and its error quotes the value) and percent-encoded, and a
// pair whose '=' itself is encoded ("password%3Dsecret", which libpq
// refuses as an unknown key, quoting it).
std::string RedactPasswordParams(std::string text) {
  auto starts_key = [](char c) { return c == '?' || c == '&' || c == ' ' || c == ';' || c == '"'; };
  auto ends_value = [](char c) { return c == '&' || c == ' ' || c == ';' || c == '\n'; };
  for (size_t pos = 0; pos < text.size(); ++pos) {
    if (pos > 0 && !starts_key(text[pos - 1])) continue;
    size_t key_end = pos;
    while (key_end < text.size() && text[key_end] != '=' && !starts_key(text[key_end]) &&
           text[key_end] != '\n')
      ++key_end;
    const std::string key = DecodedLowerKey(std::string_view(text).substr(pos, key_end - pos));
    if (size_t eq = key.find('='); eq != std::string::npos && IsPasswordKey(key.substr(0, eq))) {
      const std::string shown = key.substr(0, eq) + "=***";
      text.replace(pos, key_end - pos, shown);
      pos += shown.size() - 1;
      continue;
    }
    if (key_end >= text.size() || text[key_end] != '=' || !IsPasswordKey(key)) continue;
    const size_t start = key_end + 1;
    // Redacted already ("password=***: connection failed", a message
    // redacted again): the separator after it stays.
    if (text.compare(start, 4, "***:") == 0) {
      pos = start + 2;
      continue;
    }
    size_t end = start;
    if (end < text.size() && text[end] == '\'') {
      end = text.find('\'', end + 1);
      end = end == std::string::npos ? text.size() : end + 1;
    } else {
      while (end < text.size() && !ends_value(text[end])) ++end;
    }
    text.replace(start, end - start, "***");
    pos = start + 2;
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
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return DatabaseUrl{Engine::kPostgres, EncodeCredentials(url)};
  }
  if (url.starts_with("sqlite:") || url.starts_with("sqlite3:")) {
    std::string_view rest = url.substr(url.find(':') + 1);
    if (rest.starts_with("//")) rest.remove_prefix(2);
    if (rest.empty()) {
      return Status(Code::kInvalidArgument,
                    fmt::format("database URL '{}' names no file: use sqlite:path/to/app.db", url));
    }
    if (!rest.starts_with("file:") && rest.find('?') != std::string_view::npos) {
      // golang-migrate's sqlite3://app.db?_foreign_keys=on, say: taken as
      // part of the path, it would make a file named "app.db?_foreign_keys=on".
      return Status(Code::kInvalidArgument,
                    fmt::format("database URL '{}' has parameters ('{}'), which sqlite: URLs do "
                                "not take: write sqlite:{} (or a SQLite URI: sqlite:file:{})",
                                url, rest.substr(rest.find('?')), rest.substr(0, rest.find('?')),
                                rest));
    }
    return DatabaseUrl{Engine::kSqlite, std::string(rest)};
  }
  if (url.find("://") == std::string_view::npos &&
      (url.ends_with(".db") || url.ends_with(".sqlite") || url.ends_with(".sqlite3"))) {
    return DatabaseUrl{Engine::kSqlite, std::string(url)};
  }
  std::string shown = RedactUrl(url);
  size_t colon = shown.find(':');
  // A URL mistyped without its "//" ("postgres:app:secret@host/db") has no
  // authority for RedactUrl to find: what comes before its last '@' may
  // still be a user and password, so none of it is shown.
  if (shown.find("://") == std::string::npos && colon != std::string::npos) {
    size_t at = shown.rfind('@', shown.find('?'));
    if (at != std::string::npos && at > colon) shown.replace(colon + 1, at - colon - 1, "***");
  }
  std::string scheme = colon == std::string::npos ? shown : shown.substr(0, colon);
  return Status(Code::kInvalidArgument,
                fmt::format("unsupported database URL '{}' (scheme '{}'); use sqlite:path/to/app.db, "
                            "postgres://user@host:port/db or postgresql://...",
                            shown, scheme));
}

bool SqliteFileMissing(const DatabaseUrl& url) {
  return url.engine == Engine::kSqlite && url.target != ":memory:" &&
         !url.target.starts_with("file:") && !std::filesystem::exists(url.target);
}

std::string SqliteFilePath(std::string_view target) {
  if (!target.starts_with("file:")) return std::string(target);
  std::string_view rest = target.substr(5);
  rest = rest.substr(0, rest.find_first_of("?#"));
  if (rest.starts_with("//")) {  // an authority: empty or localhost
    const size_t slash = rest.find('/', 2);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  std::string path;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size() && std::isxdigit(static_cast<unsigned char>(rest[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(rest[i + 2]))) {
      path += static_cast<char>(std::stoi(std::string(rest.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      path += rest[i];
    }
  }
  return path;
}

Status SqliteFileMissingError(std::string_view path) {
  return Status(Code::kUnavailable,
                fmt::format("SQLite database '{}' does not exist (check the path; `strata up` "
                            "creates it)",
                            path));
}

namespace {

/// The credentials of a URL as libpq reads them: from after "://" to the
/// '@' that ends them, or {npos, npos} when there is none. libpq reads the
/// authority up to the first '/' (a '?' or '#' before it belongs to the
/// password), and EncodeCredentials makes the last '@' there the separator.
/// With `lenient`, a URL whose '/' comes before every '@' (a '/' written
/// unencoded in the password, which libpq cannot read) takes the last '@'
/// before the query, so that its error messages do not show the password.
std::pair<size_t, size_t> Credentials(std::string_view url, bool lenient) {
  constexpr auto npos = std::string_view::npos;
  size_t scheme_end = url.find("://");
  if (scheme_end == npos) return {npos, npos};
  size_t auth_start = scheme_end + 3;
  size_t auth_end = url.find('/', auth_start);
  if (auth_end == npos) auth_end = url.size();
  size_t at = auth_end == auth_start ? npos : url.rfind('@', auth_end - 1);
  if (at != npos && at >= auth_start) return {auth_start, at};
  if (!lenient || auth_end == url.size()) return {npos, npos};
  size_t query = url.find('?', auth_end);
  if (query == npos) query = url.size();
  at = url.rfind('@', query - 1);
  if (at != npos && at > auth_end) return {auth_start, at};
  return {npos, npos};
}

}  // namespace

std::string EncodeCredentials(std::string_view url) {
  auto [start, at] = Credentials(url, /*lenient=*/false);
  if (at == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, start));
  for (size_t i = start; i < at; ++i) {
    switch (url[i]) {
      case '@': out += "%40"; break;
      case '?': out += "%3F"; break;
      case '#': out += "%23"; break;
      default: out += url[i];
    }
  }
  out += url.substr(at);
  return out;
}

std::string_view UrlPassword(std::string_view url) {
  auto [start, at] = Credentials(url, /*lenient=*/true);
  if (at == std::string_view::npos) return {};
  size_t colon = url.find(':', start);
  if (colon == std::string_view::npos || colon >= at) return {};
  return url.substr(colon + 1, at - colon - 1);
}

std::string UrlWithDatabase(const std::string& given_url, const std::string& dbname) {
  // A '?' of the password is not the query's.
  const std::string url = EncodeCredentials(given_url);
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t query = url.find('?', start);
  size_t slash = url.find('/', start);
  if (slash > query) slash = std::string::npos;
  std::string base = url.substr(0, std::min(slash, query));
  std::string out = base + "/" + dbname;
  if (query == std::string::npos) return out;
  std::string kept;
  std::string_view rest = std::string_view(url).substr(query + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view param = rest.substr(0, amp);
    if (param.rfind("dbname=", 0) != 0 && !param.empty()) {
      kept += kept.empty() ? "?" : "&";
      kept += param;
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out + kept;
}

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  std::string_view password = UrlPassword(url);
  if (!password.empty()) {
    out.replace(static_cast<size_t>(password.data() - url.data()), password.size(), "***");
  }
  return RedactPasswordParams(std::move(out));
}

std::string UrlWithoutPassword(std::string_view url) {
  std::string out(url);
  std::string_view password = UrlPassword(url);
  if (!password.empty()) {
    // With the ':' before it.
    out.erase(static_cast<size_t>(password.data() - url.data()) - 1, password.size() + 1);
  }
  const size_t query = out.find('?');
  if (query == std::string::npos) return out;
  std::string kept;
  for (size_t at = query + 1; at <= out.size();) {
    size_t end = out.find('&', at);
    if (end == std::string::npos) end = out.size();
    const std::string_view pair = std::string_view(out).substr(at, end - at);
    const std::string key = DecodedLowerKey(pair.substr(0, pair.find('=')));
    if (!pair.empty() && !IsPasswordKey(key.substr(0, key.find('=')))) {
      kept += (kept.empty() ? "" : "&") + std::string(pair);
    }
    at = end + 1;
  }
  return out.substr(0, query) + (kept.empty() ? "" : "?" + kept);
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
