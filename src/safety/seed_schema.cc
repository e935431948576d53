// The engine-neutral half of the seed schema: the reader factory, and
// ApplyCheck, which folds the simple forms of a CHECK into column bounds so
// that generated values satisfy them the first time. ApplyCheck is fed the
// CHECK as SQLite keeps it (as written) or as PostgreSQL deparses it (casts,
// ANY (ARRAY[...])).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "safety/seed_schema.h"

namespace strata {

std::unique_ptr<SeedSchemaReader> NewSeedSchemaReader(Database& db) {
  switch (db.engine()) {
    case Engine::kSqlite: return NewSqliteSeedSchemaReader(db);
    case Engine::kPostgres: return NewPostgresSeedSchemaReader(db);
  }
  return nullptr;
}

const SeedColumn* SeedTable::Find(std::string_view column) const {
  for (const SeedColumn& c : columns) {
    if (c.name == column) return &c;
  }
  // SQLite compares names without case, and CHECK text may spell them otherwise.
  auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (const SeedColumn& c : columns) {
    if (same(c.name, column)) return &c;
  }
  return nullptr;
}

SeedColumn* SeedTable::Find(std::string_view column) {
  return const_cast<SeedColumn*>(static_cast<const SeedTable*>(this)->Find(column));
}

namespace {

struct Tok {
  enum Kind { kIdent, kNumber, kString, kOp, kPunct } kind;
  std::string text;  // identifiers lower-cased unless quoted; strings unquoted
  bool Is(Kind k, std::string_view t) const { return kind == k && text == t; }
  bool Literal() const { return kind == kNumber || kind == kString; }
};

bool IsKeyword(const std::string& w) {
  return w == "and" || w == "or" || w == "not" || w == "between" || w == "in" || w == "is";
}

/// Tokens of `expr`, with casts (::type, ::type(n), ::type[]) left out.
std::optional<std::vector<Tok>> Lex(std::string_view s) {
  std::vector<Tok> out;
  size_t i = 0;
  auto word_at = [&](size_t& j) {
    size_t b = j;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' || s[j] == '$')) ++j;
    std::string w(s.substr(b, j - b));
    for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return w;
  };
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) { ++i; continue; }
    if (c == '\'' || c == '"' || c == '`') {
      std::string text;
      size_t j = i + 1;
      for (;; ++j) {
        if (j >= s.size()) return std::nullopt;
        if (s[j] == c) {
          if (j + 1 < s.size() && s[j + 1] == c) { text += c; ++j; continue; }
          break;
        }
        text += s[j];
      }
      out.push_back({c == '\'' ? Tok::kString : Tok::kIdent, text});
      i = j + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.' ||
                              ((s[j] == '-' || s[j] == '+') && (s[j - 1] == 'e' || s[j - 1] == 'E')))) ++j;
      out.push_back({Tok::kNumber, std::string(s.substr(i, j - i))});
      i = j;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      out.push_back({Tok::kIdent, word_at(i)});
    } else if (c == ':' && i + 1 < s.size() && s[i + 1] == ':') {
      // A cast: skip the type name, its modifiers and array brackets.
      i += 2;
      for (;;) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        if (i < s.size() && s[i] == '"') {
          size_t j = s.find('"', i + 1);
          if (j == std::string_view::npos) return std::nullopt;
          i = j + 1;
        } else if (i < s.size() && (std::isalpha(static_cast<unsigned char>(s[i])) || s[i] == '_')) {
          size_t j = i;
          if (IsKeyword(word_at(j))) break;
          i = j;
        } else if (i < s.size() && s[i] == '(' && !out.empty()) {
          size_t j = s.find(')', i);
          if (j == std::string_view::npos) return std::nullopt;
          i = j + 1;
        } else if (s.substr(i, 2) == "[]") {
          i += 2;
        } else if (s.substr(i, 1) == ".") {
          ++i;
        } else {
          break;
        }
      }
    } else if (std::string_view("<>=!").find(c) != std::string_view::npos) {
      size_t j = i;
      while (j < s.size() && std::string_view("<>=!").find(s[j]) != std::string_view::npos) ++j;
      out.push_back({Tok::kOp, std::string(s.substr(i, j - i))});
      i = j;
    } else if (c == '-' || c == '+') {
      out.push_back({Tok::kOp, std::string(1, c)});
      ++i;
    } else {
      out.push_back({Tok::kPunct, std::string(1, c)});
      ++i;
    }
  }
  // Fold "- 5" into "-5" where a sign cannot be a binary minus.
  std::vector<Tok> folded;
  for (size_t k = 0; k < out.size(); ++k) {
    bool unary = (out[k].Is(Tok::kOp, "-") || out[k].Is(Tok::kOp, "+")) && k + 1 < out.size() &&
                 out[k + 1].kind == Tok::kNumber &&
                 (folded.empty() || folded.back().kind == Tok::kOp || folded.back().kind == Tok::kPunct ||
                  (folded.back().kind == Tok::kIdent && IsKeyword(folded.back().text)));
    if (unary) {
      folded.push_back({Tok::kNumber, (out[k].text == "-" ? "-" : "") + out[k + 1].text});
      ++k;
    } else {
      folded.push_back(out[k]);
    }
  }
  // Unwrap "( x )" around a single operand, as PostgreSQL writes (price)::numeric.
  bool changed = true;
  while (changed) {
    changed = false;
    for (size_t k = 0; k + 2 < folded.size(); ++k) {
      bool callee = k > 0 && folded[k - 1].kind == Tok::kIdent && !IsKeyword(folded[k - 1].text);
      if (folded[k].Is(Tok::kPunct, "(") && folded[k + 2].Is(Tok::kPunct, ")") && !callee &&
          (folded[k + 1].kind != Tok::kPunct && folded[k + 1].kind != Tok::kOp)) {
        folded.erase(folded.begin() + k + 2);
        folded.erase(folded.begin() + k);
        changed = true;
      }
    }
  }
  return folded;
}

using Span = std::vector<Tok>;

/// Drops parentheses that enclose the whole of `t`.
Span StripParens(Span t) {
  while (t.size() >= 2 && t.front().Is(Tok::kPunct, "(") && t.back().Is(Tok::kPunct, ")")) {
    int depth = 0;
    bool encloses = true;
    for (size_t k = 0; k < t.size(); ++k) {
      if (t[k].Is(Tok::kPunct, "(")) ++depth;
      if (t[k].Is(Tok::kPunct, ")") && --depth == 0 && k + 1 < t.size()) { encloses = false; break; }
    }
    if (!encloses) break;
    t = Span(t.begin() + 1, t.end() - 1);
  }
  return t;
}

/// The top-level AND-ed parts of `t` (the AND of a BETWEEN stays inside).
std::vector<Span> SplitAnd(const Span& t) {
  std::vector<Span> parts(1);
  int depth = 0;
  bool between = false;
  for (const Tok& tok : t) {
    if (tok.Is(Tok::kPunct, "(") || tok.Is(Tok::kPunct, "[")) ++depth;
    if (tok.Is(Tok::kPunct, ")") || tok.Is(Tok::kPunct, "]")) --depth;
    if (depth == 0 && tok.Is(Tok::kIdent, "between")) between = true;
    if (depth == 0 && tok.Is(Tok::kIdent, "and")) {
      if (between) {
        between = false;
      } else {
        parts.emplace_back();
        continue;
      }
    }
    parts.back().push_back(tok);
  }
  return parts;
}

std::optional<double> Number(const Tok& t) {
  if (!t.Literal() || t.text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(t.text.c_str(), &end);
  if (end != t.text.c_str() + t.text.size()) return std::nullopt;
  return v;
}

std::string Flip(const std::string& op) {
  if (op == ">") return "<";
  if (op == "<") return ">";
  if (op == ">=") return "<=";
  if (op == "<=") return ">=";
  return op;
}

bool IsIntegral(SeedKind k) { return k == SeedKind::kInteger || k == SeedKind::kBool; }

/// col `op` literal.
bool Bound(SeedColumn& c, const std::string& op, const Tok& lit) {
  std::optional<double> n = Number(lit);
  if (op == "=" || op == "==") {
    c.allowed = {lit.text};
    return true;
  }
  if (c.kind == SeedKind::kText && (op == "<>" || op == "!=") && lit.kind == Tok::kString &&
      lit.text.empty()) {
    c.min_length = std::max<int64_t>(c.min_length, 1);
    return true;
  }
  if (!n || !(IsIntegral(c.kind) || c.kind == SeedKind::kReal || c.kind == SeedKind::kNumeric)) return false;
  if (IsIntegral(c.kind)) {
    double v = *n;
    if (std::fabs(v) > 9.2e18) return false;
    if (op == ">") c.min = std::max(c.min, static_cast<int64_t>(std::floor(v)) + 1);
    else if (op == ">=") c.min = std::max(c.min, static_cast<int64_t>(std::ceil(v)));
    else if (op == "<") c.max = std::min(c.max, static_cast<int64_t>(std::ceil(v)) - 1);
    else if (op == "<=") c.max = std::min(c.max, static_cast<int64_t>(std::floor(v)));
    else return false;
    return true;
  }
  if (op == ">" || op == ">=") {
    if (!c.real_min || *n >= *c.real_min) { c.real_min = *n; c.real_min_strict = op == ">"; }
  } else if (op == "<" || op == "<=") {
    if (!c.real_max || *n <= *c.real_max) { c.real_max = *n; c.real_max_strict = op == "<"; }
  } else {
    return false;
  }
  return true;
}

bool LengthBound(SeedColumn& c, const std::string& op, const Tok& lit) {
  std::optional<double> n = Number(lit);
  if (!n) return false;
  auto v = static_cast<int64_t>(*n);
  auto tighten_max = [&](int64_t m) { c.max_length = c.max_length ? std::min(c.max_length, m) : m; };
  if (op == "<=") tighten_max(v);
  else if (op == "<") tighten_max(v - 1);
  else if (op == ">=") c.min_length = std::max(c.min_length, v);
  else if (op == ">") c.min_length = std::max(c.min_length, v + 1);
  else if (op == "=" || op == "==") { tighten_max(v); c.min_length = std::max(c.min_length, v); }
  else return false;
  return true;
}

bool IsCompare(const Tok& t) {
  return t.kind == Tok::kOp && (t.text == ">" || t.text == ">=" || t.text == "<" || t.text == "<=" ||
                                t.text == "=" || t.text == "==" || t.text == "<>" || t.text == "!=");
}

bool IsLengthFn(const Tok& t) {
  return t.kind == Tok::kIdent && (t.text == "length" || t.text == "char_length" ||
                                   t.text == "character_length");
}

bool ApplyPart(Span t, SeedTable& table) {
  t = StripParens(std::move(t));
  if (t.empty()) return false;
  // X OR col IS NULL (Django's nullable JSONField): generated values meet X.
  int depth = 0;
  for (size_t k = 0; k < t.size(); ++k) {
    if (t[k].Is(Tok::kPunct, "(")) ++depth;
    if (t[k].Is(Tok::kPunct, ")")) --depth;
    if (depth != 0 || !t[k].Is(Tok::kIdent, "or")) continue;
    Span left(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(k));
    Span right(t.begin() + static_cast<std::ptrdiff_t>(k) + 1, t.end());
    auto is_null = [](Span s) {
      s = StripParens(std::move(s));
      return s.size() == 3 && s[0].kind == Tok::kIdent && s[1].Is(Tok::kIdent, "is") &&
             s[2].Is(Tok::kIdent, "null");
    };
    if (is_null(right)) return ApplyPart(std::move(left), table);
    if (is_null(left)) return ApplyPart(std::move(right), table);
    return false;
  }
  // length(col) op N and N op length(col)
  if (t.size() == 6 && IsLengthFn(t[0]) && t[1].Is(Tok::kPunct, "(") && t[3].Is(Tok::kPunct, ")") &&
      IsCompare(t[4])) {
    SeedColumn* c = table.Find(t[2].text);
    return c && LengthBound(*c, t[4].text, t[5]);
  }
  if (t.size() == 6 && IsCompare(t[1]) && IsLengthFn(t[2]) && t[3].Is(Tok::kPunct, "(")) {
    SeedColumn* c = table.Find(t[4].text);
    return c && LengthBound(*c, Flip(t[1].text), t[0]);
  }
  // json_valid(col) [= 1]: how SQLite declares a JSON column.
  if (t.size() >= 4 && t[0].Is(Tok::kIdent, "json_valid") && t[1].Is(Tok::kPunct, "(") &&
      t[3].Is(Tok::kPunct, ")") &&
      (t.size() == 4 || (t.size() == 6 && (t[4].Is(Tok::kOp, "=") || t[4].Is(Tok::kOp, "==")) &&
                         t[5].text == "1"))) {
    SeedColumn* c = table.Find(t[2].text);
    if (!c || !(c->kind == SeedKind::kText || c->kind == SeedKind::kJson)) return false;
    c->kind = SeedKind::kJson;
    return true;
  }
  if (t[0].kind != Tok::kIdent) {
    if (t.size() == 3 && t[0].Literal() && IsCompare(t[1]) && t[2].kind == Tok::kIdent) {
      SeedColumn* c = table.Find(t[2].text);
      return c && Bound(*c, Flip(t[1].text), t[0]);
    }
    return false;
  }
  SeedColumn* c = table.Find(t[0].text);
  if (!c) return false;
  if (t.size() == 3 && IsCompare(t[1]) && t[2].Literal()) return Bound(*c, t[1].text, t[2]);
  // col op col: start < end, min_qty <= max_qty.
  if (t.size() == 3 && IsCompare(t[1]) && t[2].kind == Tok::kIdent && t[1].text != "=" &&
      t[1].text != "==" && t[1].text != "<>" && t[1].text != "!=") {
    const SeedColumn* other = table.Find(t[2].text);
    if (!other || other == c) return false;
    const bool less = t[1].text[0] == '<';
    table.orders.push_back(SeedOrder{less ? c->name : other->name, less ? other->name : c->name,
                                     t[1].text.size() == 1});
    return true;
  }
  if (t.size() == 5 && t[1].Is(Tok::kIdent, "between") && t[2].Literal() && t[3].Is(Tok::kIdent, "and") &&
      t[4].Literal()) {
    return Bound(*c, ">=", t[2]) && Bound(*c, "<=", t[4]);
  }
  bool in = t.size() > 2 && t[1].Is(Tok::kIdent, "in");
  bool any = t.size() > 3 && t[1].Is(Tok::kOp, "=") && t[2].Is(Tok::kIdent, "any");
  if (in || any) {
    std::vector<std::string> values;
    for (size_t k = in ? 2 : 3; k < t.size(); ++k) {
      if (t[k].Literal()) values.push_back(t[k].text);
      else if (!(t[k].kind == Tok::kPunct || t[k].Is(Tok::kIdent, "array"))) return false;
    }
    if (values.empty()) return false;
    c->allowed = std::move(values);
    return true;
  }
  return false;
}

}  // namespace

bool ApplyCheck(std::string_view expr, SeedTable& table) {
  std::optional<std::vector<Tok>> tokens = Lex(expr);
  if (!tokens) return false;
  bool all = true;
  for (Span& part : SplitAnd(StripParens(std::move(*tokens)))) {
    if (!ApplyPart(std::move(part), table)) all = false;
  }
  return all;
}

}  // namespace strata
