#include "safety/fingerprint.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "migration/checksum.h"
#include "safety/catalog.h"
#include "sql/lexer.h"
#include "util/diff.h"
#include "util/text.h"

namespace strata {
namespace {

/// Kinds in the order a reader expects them; unknown kinds go last. New
/// kinds are added at the end: the rank is part of the sort key, which
/// history's recorded blocks are keyed by.
int KindRank(std::string_view kind) {
  static constexpr std::string_view kOrder[] = {"extension", "type",    "sequence", "table",
                                                "index",     "view",    "materialized view",
                                                "trigger",   "function", "rule",    "policy"};
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


/// Sort key of an object: kinds in reading order, then kind and name.
std::string KeyOf(const SchemaObject& obj) {
  return fmt::format("{:02}{}\x1f{}", KindRank(obj.kind), obj.kind, obj.name);
}

/// The 256-bit digest of a block as four big-endian limbs.
SchemaDigest Digest(std::string_view block) {
  std::string hex = Sha256Hex(block);
  SchemaDigest d;
  for (int i = 0; i < 4; ++i) d.limbs[i] = std::stoull(hex.substr(i * 16, 16), nullptr, 16);
  return d;
}

}  // namespace

void SchemaDigest::Add(const SchemaDigest& o, bool subtract) {
  // Limb 3 is the least significant.
  unsigned __int128 carry = 0;
  for (int i = 3; i >= 0; --i) {
    unsigned __int128 a = limbs[i], b = o.limbs[i];
    if (!subtract) {
      unsigned __int128 sum = a + b + carry;
      limbs[i] = static_cast<uint64_t>(sum);
      carry = sum >> 64;
    } else {
      unsigned __int128 need = b + carry;
      carry = a < need ? 1 : 0;
      limbs[i] = static_cast<uint64_t>(a - need);  // wraps modulo 2^64
    }
  }
}

std::string SchemaDigest::Hex() const {
  return fmt::format("{:016x}{:016x}{:016x}{:016x}", limbs[0], limbs[1], limbs[2], limbs[3]);
}

Result<SchemaModel> SchemaModel::Read(Database& db) {
  SchemaModel model;
  STRATA_RETURN_IF_ERROR(model.Refresh(db, nullptr));
  return model;
}

Status SchemaModel::Refresh(Database& db, const std::vector<std::string>* tables) {
  dialect_ = db.engine() == Engine::kPostgres ? sql::Dialect::kPostgres : sql::Dialect::kSqlite;
  STRATA_ASSIGN_OR_RETURN(std::vector<SchemaObject> objects, NewCatalog(db)->Objects(tables));
  Replace(objects, tables);
  return Status::OK();
}

void SchemaModel::Replace(const std::vector<SchemaObject>& objects,
                          const std::vector<std::string>* tables) {
  auto remove = [&](std::map<std::string, Block>::iterator it) {
    digest_.Add(it->second.digest, /*subtract=*/true);
    any_order_digest_.Add(it->second.any_order, /*subtract=*/true);
    inheriting_.erase(it->first);
    return blocks_.erase(it);
  };
  if (tables == nullptr) {
    for (auto it = blocks_.begin(); it != blocks_.end();) it = remove(it);
    by_owner_.clear();
  } else {
    for (const std::string& t : *tables) {
      auto owned = by_owner_.find(OwnerKey(t));
      if (owned == by_owner_.end()) continue;
      for (const std::string& key : owned->second) remove(blocks_.find(key));
      by_owner_.erase(owned);
    }
  }
  for (const SchemaObject& obj : objects) {
    if (!Owned(obj.table, tables)) continue;
    Block b{obj.table, RenderObject(obj), {}, {}};
    b.digest = Digest(b.text);
    const std::string any_order = ColumnsInAnyOrder(b.text);
    b.any_order = any_order == b.text ? b.digest : Digest(any_order);
    std::string key = KeyOf(obj);
    auto old = blocks_.find(key);
    if (old != blocks_.end()) remove(old);
    digest_.Add(b.digest);
    any_order_digest_.Add(b.any_order);
    if (!obj.table.empty()) by_owner_[OwnerKey(obj.table)].insert(key);
    if (!InheritsFrom(key, b.text).empty()) inheriting_.insert(key);
    blocks_[key] = std::move(b);
  }
}

std::string_view SchemaModel::KindOfKey(std::string_view key) {
  size_t sep = key.find('\x1f');
  return sep == std::string_view::npos || sep < 2 ? std::string_view() : key.substr(2, sep - 2);
}

std::string_view SchemaModel::NameOfKey(std::string_view key) {
  size_t sep = key.find('\x1f');
  return sep == std::string_view::npos ? std::string_view() : key.substr(sep + 1);
}

bool SchemaModel::HasTable(std::string_view name) const {
  auto it = by_owner_.find(OwnerKey(name));
  if (it == by_owner_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(),
                     [&](const std::string& key) { return KindOfKey(key) == "table"; });
}

bool SchemaModel::Owned(std::string_view owner, const std::vector<std::string>* tables) const {
  if (tables == nullptr) return true;
  const std::string key = OwnerKey(owner);
  return !key.empty() && std::any_of(tables->begin(), tables->end(),
                                     [&](const std::string& t) { return OwnerKey(t) == key; });
}

std::string ColumnsInAnyOrder(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::vector<std::string_view> columns;  // the run of column lines being read
  auto flush = [&] {
    std::sort(columns.begin(), columns.end());
    for (auto c : columns) out += c;
    columns.clear();
  };
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol == std::string_view::npos ? text.size() : eol + 1);
    text.remove_prefix(line.size());
    if (line.rfind("  column ", 0) == 0) {
      columns.push_back(line);
      continue;
    }
    flush();
    out += line;
  }
  flush();
  return out;
}

std::string SchemaModel::HashWith(const std::map<std::string, std::string>& blocks,
                                  const std::vector<std::string>* tables) const {
  SchemaDigest d = digest_;
  for (const auto& [key, text] : Blocks(tables)) d.Add(Digest(text), /*subtract=*/true);
  for (const auto& [key, text] : blocks) d.Add(Digest(text));
  return d.Hex();
}

std::map<std::string, std::string> SchemaModel::Blocks(const std::vector<std::string>* tables) const {
  std::map<std::string, std::string> out;
  if (tables == nullptr) {
    for (const auto& [key, b] : blocks_) out[key] = b.text;
    return out;
  }
  for (const std::string& t : *tables) {
    auto owned = by_owner_.find(OwnerKey(t));
    if (owned == by_owner_.end()) continue;
    for (const std::string& key : owned->second) out[key] = blocks_.at(key).text;
  }
  return out;
}

std::string_view SchemaModel::InheritsFrom(std::string_view key, std::string_view text) {
  // A child's block says "inherits a, b" on its first line after the name.
  if (KindOfKey(key) != "table") return {};
  size_t start = text.find('\n') + 1;
  std::string_view facts = text.substr(start, text.find('\n', start) - start);
  size_t at = facts.find(" inherits ");
  if (facts.rfind("  column ", 0) == 0 || at == std::string_view::npos) return {};
  return facts.substr(at + 10);
}

std::vector<std::string> SchemaModel::Inheritors(std::string_view table) const {
  std::map<std::string, std::vector<std::string>> children;  // OwnerKey(parent) -> children
  for (const std::string& key : inheriting_) {
    auto tokens = sql::Tokenize(InheritsFrom(key, blocks_.at(key).text), sql::Dialect::kPostgres);
    if (!tokens.ok()) continue;
    for (const auto& t : *tokens) {
      if (t.kind == sql::TokenKind::kWord || t.kind == sql::TokenKind::kQuotedIdentifier) {
        children[OwnerKey(sql::IdentifierName(t, sql::Dialect::kPostgres))].emplace_back(
            NameOfKey(key));
      }
    }
  }
  std::vector<std::string> out;
  std::vector<std::string> todo{OwnerKey(table)};
  while (!todo.empty() && out.size() < blocks_.size()) {
    auto found = children.find(todo.back());
    todo.pop_back();
    if (found == children.end()) continue;
    for (const auto& child : found->second) {
      if (std::find(out.begin(), out.end(), child) != out.end()) continue;
      out.push_back(child);
      todo.push_back(OwnerKey(child));
    }
  }
  return out;
}

std::string SchemaModel::TableOf(std::string_view kind, std::string_view name) const {
  const std::string wanted = OwnerKey(name);
  for (const auto& [key, b] : blocks_) {
    if (KindOfKey(key) == kind && OwnerKey(NameOfKey(key)) == wanted) return b.table;
  }
  return "";
}

std::string SchemaModel::Render(const std::map<std::string, std::string>& blocks) {
  std::string out;
  for (const auto& [key, text] : blocks) {
    if (!out.empty()) out += "\n";
    out += text;
  }
  return out;
}

Result<SchemaFingerprint> FingerprintSchema(Database& db) {
  STRATA_ASSIGN_OR_RETURN(SchemaModel model, SchemaModel::Read(db));
  return SchemaFingerprint{SchemaModel::Render(model.Blocks()), model.hash(), model.any_order_hash()};
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
