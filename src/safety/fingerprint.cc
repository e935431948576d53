#include "safety/fingerprint.h"

#include <algorithm>
#include <map>

#include "migration/checksum.h"
#include "safety/catalog.h"
#include "util/diff.h"

namespace strata {
namespace {

/// Kinds in the order a reader expects them; unknown kinds go last.
int KindRank(std::string_view kind) {
  static constexpr std::string_view kOrder[] = {"extension", "type", "sequence", "table", "index",
                                                "view", "materialized view", "trigger", "function"};
  auto it = std::find(std::begin(kOrder), std::end(kOrder), kind);
  return static_cast<int>(it - std::begin(kOrder));
}

/// "kind name" then every line of every fact indented by two spaces; a
/// block never holds an empty line, so blank lines separate blocks.
std::string RenderObject(const SchemaObject& obj) {
  std::string out = obj.kind + " " + obj.name + "\n";
  for (std::string_view fact : obj.facts) {
    while (!fact.empty() && (fact.back() == '\n' || fact.back() == ' ' || fact.back() == '\r')) {
      fact.remove_suffix(1);
    }
    while (true) {
      size_t eol = fact.find('\n');
      out += "  ";
      out += fact.substr(0, eol);
      out += '\n';
      if (eol == std::string_view::npos) break;
      fact.remove_prefix(eol + 1);
    }
  }
  return out;
}

/// Blocks of a canonical text by their header line, in text order.
std::vector<std::pair<std::string, std::string>> Blocks(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> blocks;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (line.empty()) continue;
    if (line.front() != ' ' || blocks.empty()) {
      blocks.emplace_back(std::string(line), "");
    } else {
      blocks.back().second.append(line).append("\n");
    }
  }
  return blocks;
}

void AppendPrefixed(std::string* out, std::string_view prefix, std::string_view text) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    out->append(prefix).append(text.substr(0, eol)).append("\n");
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
}

}  // namespace

Result<SchemaFingerprint> FingerprintSchema(Database& db) {
  STRATA_ASSIGN_OR_RETURN(std::vector<SchemaObject> objects, NewCatalog(db)->Objects());
  std::sort(objects.begin(), objects.end(), [](const SchemaObject& a, const SchemaObject& b) {
    int ra = KindRank(a.kind), rb = KindRank(b.kind);
    if (ra != rb) return ra < rb;
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.name < b.name;
  });
  SchemaFingerprint out;
  for (const SchemaObject& obj : objects) {
    if (!out.canonical_text.empty()) out.canonical_text += "\n";
    out.canonical_text += RenderObject(obj);
  }
  out.hash = Sha256Hex(out.canonical_text);
  return out;
}

std::string DiffSchemas(const SchemaFingerprint& a, const SchemaFingerprint& b) {
  if (a.canonical_text == b.canonical_text) return "";
  auto before = Blocks(a.canonical_text), after = Blocks(b.canonical_text);
  std::map<std::string, std::string> old_blocks(before.begin(), before.end());
  std::map<std::string, std::string> new_blocks(after.begin(), after.end());
  std::string out;
  for (const auto& [header, body] : before) {
    auto it = new_blocks.find(header);
    if (it == new_blocks.end()) {
      out += "- " + header + "\n";
      AppendPrefixed(&out, "- ", body);
    } else if (it->second != body) {
      out += "~ " + header + "\n";
      AppendPrefixed(&out, "  ", LineDiff(body, it->second, 1));
    }
  }
  for (const auto& [header, body] : after) {
    if (old_blocks.count(header)) continue;
    out += "+ " + header + "\n";
    AppendPrefixed(&out, "+ ", body);
  }
  return out;
}

}  // namespace strata
