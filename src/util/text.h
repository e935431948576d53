// Small text helpers shared across the library.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata {

/// ASCII lower case (SQL keywords and identifiers; other bytes unchanged).
inline std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// ASCII upper case.
inline std::string AsciiUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

inline bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/// `text` without the ASCII whitespace (spaces, tabs, CR, LF) after it.
inline std::string_view TrimRight(std::string_view text) {
  while (!text.empty() && IsAsciiSpace(text.back())) text.remove_suffix(1);
  return text;
}

/// `text` without the ASCII whitespace (spaces, tabs, CR, LF) around it.
inline std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsAsciiSpace(text.front())) text.remove_prefix(1);
  return TrimRight(text);
}

/// Cuts the first line off `text` and returns it, without its '\n'.
inline std::string_view TakeLine(std::string_view& text) {
  size_t eol = text.find('\n');
  std::string_view line = text.substr(0, eol);
  text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
  return line;
}

/// `text` between two `quote`s, each `quote` inside doubled: SQL's quoting
/// of string literals and of identifiers.
inline std::string QuotedDoubling(std::string_view text, char quote) {
  std::string out(1, quote);
  for (char c : text) {
    if (c == quote) out += quote;
    out += c;
  }
  return out + quote;
}

/// `text` as a standard SQL string literal: single quotes, doubled inside
/// (SQLite; PostgreSQL with standard_conforming_strings, its default).
inline std::string SqlLiteral(std::string_view text) { return QuotedDoubling(text, '\''); }

/// `name` as a standard SQL quoted identifier: double quotes, doubled inside.
inline std::string SqlIdentifier(std::string_view name) { return QuotedDoubling(name, '"'); }

/// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or
/// code points above U+10FFFF), as PostgreSQL's text columns require.
inline bool IsUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    uint32_t code = length == 1 ? c : c & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

/// Whole milliseconds since `start` on the monotonic clock.
inline int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace strata
