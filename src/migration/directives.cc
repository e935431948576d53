#include <cctype>
#include <charconv>
#include <map>

#include <fmt/format.h>

#include "migration/migration.h"
#include "util/text.h"

namespace strata {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  text = Trim(text);
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  if (ec != std::errc() || n < 0) {
    return Status(Code::kInvalidArgument,
                  fmt::format("'{}' is not a duration; write e.g. 500ms, 30s, 5m, 1h or 7d", text));
  }
  int64_t scale = unit.empty() || unit == "s" ? 1000
                  : unit == "ms"                ? 1
                  : unit == "m" || unit == "min" ? 60'000
                  : unit == "h"                 ? 3'600'000
                  : unit == "d"                 ? 86'400'000
                                                : 0;
  if (scale != 0) {
    // Beyond 100 years a wait or a retention is no longer meant; and the
    // clocks that add it would overflow.
    constexpr int64_t kMaxMs = 100LL * 365 * 86'400'000;
    if (n > kMaxMs / scale) {
      return Status(Code::kInvalidArgument,
                    fmt::format("'{}' is too long a duration (at most 100 years: 36500d)", text));
    }
    return std::chrono::milliseconds(n * scale);
  }
  return Status(Code::kInvalidArgument,
                fmt::format("'{}' has an unknown unit '{}'; use ms, s, m, h or d", text, unit));
}

std::optional<std::string> GooseWords(std::string_view body) {
  if (AsciiLower(body.substr(0, 6)) != "+goose" ||
      (body.size() > 6 && body[6] != ' ' && body[6] != '\t')) {
    return std::nullopt;
  }
  std::string words;
  for (std::string_view w = Trim(body.substr(6)); !w.empty(); w = Trim(w)) {
    size_t end = w.find_first_of(" \t");
    if (!words.empty()) words += ' ';
    words += AsciiLower(w.substr(0, end));
    w = end == std::string_view::npos ? "" : w.substr(end);
  }
  return words;
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

/// Atlas's file directive "-- atlas:<name> <argument>" (`rest` is what
/// follows "atlas:"): txmode none is strata:no-transaction (file and all
/// are the transaction every migration has), nolint concerns Atlas's linter
/// alone; the others would change what the file means, which Strata cannot
/// honour, so they are errors.
template <typename F>
Status OnAtlasDirective(int line_no, std::string_view rest, F& on_directive) {
  size_t sp = rest.find_first_of(" \t");
  const std::string_view name = rest.substr(0, sp);
  const std::string_view arg = sp == std::string_view::npos ? "" : Trim(rest.substr(sp));
  if (name == "txmode") {
    if (arg == "none") return on_directive(line_no, "no-transaction");
    if (arg == "file" || arg == "all") return Status::OK();
    return Status(Code::kParse, fmt::format("{}: atlas:txmode '{}' is none of none, file and all",
                                            line_no, arg));
  }
  if (name == "nolint") return Status::OK();
  if (name == "delimiter") {
    return Status(Code::kParse,
                  fmt::format("{}: -- atlas:delimiter: Strata splits the script into statements "
                              "itself (it knows function and trigger bodies); remove the "
                              "directive and end each statement with ';'",
                              line_no));
  }
  if (name == "checkpoint") {
    return Status(Code::kParse,
                  fmt::format("{}: -- atlas:checkpoint: a checkpoint file holds the whole schema "
                              "for a new database to start from, and Strata applies every file in "
                              "order, so it would create what the files before it created; move "
                              "it out of the directory",
                              line_no));
  }
  return Status(Code::kParse,
                fmt::format("{}: unknown Atlas directive 'atlas:{}' (Strata reads atlas:txmode and "
                            "atlas:nolint)",
                            line_no, name));
}

/// Calls `on_directive(line_no, text)` for each `-- strata:` comment line
/// before the first statement, `text` being what follows "strata:", for
/// the options of a dbmate section marker (OnDbmateMarker), for goose's
/// NO TRANSACTION annotation and for Atlas's directives (OnAtlasDirective).
template <typename F>
Status ForEachDirective(std::string_view script, F on_directive) {
  int line_no = 0;
  while (!script.empty()) {
    std::string_view line = Trim(TakeLine(script));
    ++line_no;
    if (line.empty()) continue;
    if (line.substr(0, 2) != "--") break;  // the first statement ends the header
    std::string_view body = Trim(line.substr(2));
    if (body.substr(0, 7) == "strata:") {
      STRATA_RETURN_IF_ERROR(on_directive(line_no, body.substr(7)));
    } else if (body.substr(0, 8) == "migrate:") {
      STRATA_RETURN_IF_ERROR(OnDbmateMarker(line_no, body, on_directive));
    } else if (GooseWords(body) == "no transaction") {
      STRATA_RETURN_IF_ERROR(on_directive(line_no, "no-transaction"));
    } else if (body.substr(0, 6) == "atlas:") {
      STRATA_RETURN_IF_ERROR(OnAtlasDirective(line_no, body.substr(6), on_directive));
    }
  }
  return Status::OK();
}

/// Whether the comment text `body` (after "--") looks meant as a directive:
/// "strata" in any case, then a colon, spaces allowed before it.
bool LooksLikeDirective(std::string_view body) {
  if (body.size() < 6) return false;
  for (size_t i = 0; i < 6; ++i) {
    if (std::tolower(static_cast<unsigned char>(body[i])) != "strata"[i]) return false;
  }
  body.remove_prefix(6);
  while (!body.empty() && (body.front() == ' ' || body.front() == '\t')) body.remove_prefix(1);
  return !body.empty() && body.front() == ':';
}

/// For a file being loaded: a directive-like comment that is not read as one
/// (misspelt "-- Strata:", "-- strata :"; or placed after the first
/// statement, where the header has ended) is an error, not silently ignored.
Status CheckDirectiveComments(std::string_view script) {
  int line_no = 0;
  bool in_header = true;
  while (!script.empty()) {
    std::string_view line = Trim(TakeLine(script));
    ++line_no;
    if (line.empty()) continue;
    if (line.substr(0, 2) != "--") {
      in_header = false;
      continue;
    }
    std::string_view body = Trim(line.substr(2));
    if (!LooksLikeDirective(body)) continue;
    if (body.substr(0, 7) != "strata:") {
      return Status(Code::kParse,
                    fmt::format("{}: '{}' is not read as a directive: write it '-- strata:...', "
                                "in lower case with no space before the colon",
                                line_no, line));
    }
    if (!in_header) {
      return Status(Code::kParse,
                    fmt::format("{}: directive '{}' comes after the first statement, where it is "
                                "not read: move it to the top of the file, before any statement "
                                "or /* */ comment",
                                line_no, line));
    }
  }
  return Status::OK();
}

}  // namespace

Result<Directives> ParseDirectives(std::string_view script, DirectiveCheck check) {
  if (check == DirectiveCheck::kFile) STRATA_RETURN_IF_ERROR(CheckDirectiveComments(script));
  Directives d;
  std::map<std::string, int, std::less<>> seen;  // directive -> its line
  STRATA_RETURN_IF_ERROR(ForEachDirective(script, [&](int line_no, std::string_view body) {
    size_t sp = body.find_first_of(" \t");
    std::string_view key = body.substr(0, sp);
    std::string_view arg = sp == std::string_view::npos ? "" : Trim(body.substr(sp));
    // A timeout given twice: one would silently win over the other (for a
    // file; a stored script is read as it was applied). no-transaction
    // twice (a goose or dbmate marker beside strata's) means it once.
    if (auto [at, fresh] = seen.emplace(std::string(key), line_no);
        !fresh && key != "no-transaction" && check == DirectiveCheck::kFile) {
      return Status(Code::kParse, fmt::format("{}: strata:{} is given twice (line {} gives it "
                                              "first): keep one",
                                              line_no, key, at->second));
    }
    if (key == "no-transaction") {
      if (!arg.empty() && check == DirectiveCheck::kFile) {
        return Status(Code::kParse,
                      fmt::format("{}: strata:no-transaction takes no argument (found '{}')",
                                  line_no, arg));
      }
      d.no_transaction = true;
    } else if (key == "timeout") {
      auto t = ParseDuration(arg);
      if (!t.ok()) return t.status().WithContext(fmt::format("{}: strata:timeout", line_no));
      d.timeout = *t;
    } else if (key == "lock-timeout") {
      auto t = ParseDuration(arg);
      if (!t.ok()) return t.status().WithContext(fmt::format("{}: strata:lock-timeout", line_no));
      d.lock_timeout = *t;
    } else {
      return Status(Code::kParse,
                    fmt::format("{}: unknown directive 'strata:{}' (known: strata:no-transaction, "
                                "strata:timeout <duration>, strata:lock-timeout <duration>)",
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
