#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "migration/migration.h"

namespace strata {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  text = Trim(text);
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  if (ec != std::errc() || n < 0) {
    return Status(Code::kInvalidArgument,
                  fmt::format("'{}' is not a duration; write e.g. 500ms, 30s, 5m, 1h or 7d", text));
  }
  if (unit.empty() || unit == "s") return std::chrono::milliseconds(n * 1000);
  if (unit == "ms") return std::chrono::milliseconds(n);
  if (unit == "m" || unit == "min") return std::chrono::milliseconds(n * 60'000);
  if (unit == "h") return std::chrono::milliseconds(n * 3'600'000);
  if (unit == "d") return std::chrono::milliseconds(n * 86'400'000);
  return Status(Code::kInvalidArgument,
                fmt::format("'{}' has an unknown unit '{}'; use ms, s, m, h or d", text, unit));
}

namespace {

/// dbmate's section marker "-- migrate:up transaction:false" (or
/// migrate:down) heads the script of its section; its options are
/// directives too: transaction:false is strata:no-transaction.
template <typename F>
Status OnDbmateMarker(int line_no, std::string_view marker, F& on_directive) {
  size_t sp = marker.find_first_of(" \t");
  std::string_view options = sp == std::string_view::npos ? "" : Trim(marker.substr(sp));
  while (!options.empty()) {
    size_t end = options.find_first_of(" \t");
    std::string_view option = options.substr(0, end);
    options = end == std::string_view::npos ? "" : Trim(options.substr(end));
    if (option == "transaction:false") {
      STRATA_RETURN_IF_ERROR(on_directive(line_no, "no-transaction"));
    } else if (option != "transaction:true") {
      return Status(Code::kParse,
                    fmt::format("{}: unknown dbmate option '{}' (known: transaction:false)",
                                line_no, option));
    }
  }
  return Status::OK();
}

/// Calls `on_directive(line_no, text)` for each `-- strata:` comment line
/// before the first statement, `text` being what follows "strata:", and for
/// the options of a dbmate section marker (OnDbmateMarker).
template <typename F>
Status ForEachDirective(std::string_view script, F on_directive) {
  int line_no = 0;
  while (!script.empty()) {
    size_t eol = script.find('\n');
    std::string_view line = Trim(script.substr(0, eol));
    script = eol == std::string_view::npos ? std::string_view() : script.substr(eol + 1);
    ++line_no;
    if (line.empty()) continue;
    if (line.substr(0, 2) != "--") break;  // the first statement ends the header
    std::string_view body = Trim(line.substr(2));
    if (body.substr(0, 7) == "strata:") {
      STRATA_RETURN_IF_ERROR(on_directive(line_no, body.substr(7)));
    } else if (body.substr(0, 8) == "migrate:") {
      STRATA_RETURN_IF_ERROR(OnDbmateMarker(line_no, body, on_directive));
    }
  }
  return Status::OK();
}

}  // namespace

Result<Directives> ParseDirectives(std::string_view script) {
  Directives d;
  STRATA_RETURN_IF_ERROR(ForEachDirective(script, [&](int line_no, std::string_view body) {
    size_t sp = body.find_first_of(" \t");
    std::string_view key = body.substr(0, sp);
    std::string_view arg = sp == std::string_view::npos ? "" : Trim(body.substr(sp));
    if (key == "no-transaction") {
      d.no_transaction = true;
    } else if (key == "timeout") {
      auto t = ParseDuration(arg);
      if (!t.ok()) return t.status().WithContext(fmt::format("{}: strata:timeout", line_no));
      d.timeout = *t;
    } else {
      return Status(Code::kParse,
                    fmt::format("{}: unknown directive 'strata:{}' (known: strata:no-transaction, "
                                "strata:timeout <duration>)",
                                line_no, key));
    }
    return Status::OK();
  }));
  return d;
}

std::string DirectiveLines(std::string_view script) {
  std::string out;
  ForEachDirective(script, [&](int, std::string_view body) {
    out += "-- strata:";
    out.append(body);
    out += '\n';
    return Status::OK();
  }).IgnoreError();  // the callback never fails
  return out;
}

}  // namespace strata
