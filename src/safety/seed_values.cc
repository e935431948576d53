#include "safety/seed_values.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace strata {
namespace {

constexpr const char* kWords[] = {
    "amber", "birch", "cobalt", "delta", "ember", "fjord", "garnet", "harbor",
    "indigo", "juniper", "kestrel", "lumen", "maple", "nectar", "onyx", "pepper",
    "quartz", "river", "saffron", "tundra", "umber", "velvet", "willow", "xenon",
    "yarrow", "zephyr", "atlas", "breeze", "cinder", "dune", "echo", "flint",
};

// Text a real table holds sooner or later. The last one is heavy: it is used
// only in the first rows and in one row per thousand.
constexpr const char* kTextEdges[] = {
    "",
    " ",
    "  leading and trailing spaces  ",
    "O'Brien \"quoted\" back\\slash; DROP TABLE x; --",
    "line one\nline two\r\n\ttabbed",
    "Zoë Ærøskøbing, naïve café, Straße",                 // precomposed
    "Ame\u0301lie, n\u0303, a\u0308\u0301 (combining marks)",  // decomposed
    "日本語, 中文, 한국어",
    "👩‍👩‍👧 🎉 🇺🇦 👍🏽",                                       // ZWJ sequence, flag, skin tone
    "مرحبا שלום zero\u200bwidth",                          // right-to-left, zero-width space
};
constexpr int kTextEdgeCount = sizeof(kTextEdges) / sizeof(kTextEdges[0]);
constexpr int kLongTextBytes = 40 * 1024;

bool Integral(SeedKind k) { return k == SeedKind::kInteger || k == SeedKind::kBool; }

std::string Base36(uint64_t v) {
  std::string out;
  do {
    out += "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
    v /= 36;
  } while (v);
  std::reverse(out.begin(), out.end());
  return out;
}

/// Characters (code points) in UTF-8 `s`.
int64_t Chars(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

/// `s` cut to at most `max` code points, never inside one.
void TruncateChars(std::string& s, int64_t max) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && n++ == max) {
      s.resize(i);
      return;
    }
  }
}

/// Days since 1970-01-01 as YYYY-MM-DD (H. Hinnant's civil_from_days).
std::string Date(int64_t days) {
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

std::string Time(int64_t seconds) {
  seconds %= 86400;
  return fmt::format("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
}

constexpr int64_t kDays2000 = 10957;      // 2000-01-01
constexpr int64_t kSeconds2000 = 946684800;

}  // namespace

int SeedValues::EdgeCount(const SeedColumn& c) {
  if (!c.allowed.empty()) return 0;
  switch (c.kind) {
    case SeedKind::kInteger: return c.auto_increment ? 0 : 5;
    case SeedKind::kReal: return 6;
    case SeedKind::kNumeric: return 4;
    case SeedKind::kText: return kTextEdgeCount + 1;
    case SeedKind::kBlob: return 5;
    case SeedKind::kDate:
    case SeedKind::kTime: return 4;
    case SeedKind::kTimestamp: return 5;
    case SeedKind::kUuid: return 2;
    case SeedKind::kJson: return 5;
    case SeedKind::kBool:
    case SeedKind::kEnum:
    case SeedKind::kUnsupported: return 0;
  }
  return 0;
}

Value SeedValues::Make(const SeedColumn& c, int64_t row, int attempt, bool distinct) {
  if (c.kind == SeedKind::kUnsupported) return Value();
  const int64_t key = row + attempt * rows_;
  const int edges = EdgeCount(c);
  const int heavy = c.kind == SeedKind::kText ? 1 : c.kind == SeedKind::kBlob ? 2 : 0;
  const int slots = edges + (c.not_null ? 0 : 1);
  int edge = -1;
  if (attempt == 0 && slots > 0) {
    if (row < slots) {
      edge = static_cast<int>(row);
    } else if (heavy == 1 && row % 1000 == 999) {
      edge = slots - 1;  // the long text
    } else if (Below(32) == 0 && slots > heavy) {
      edge = static_cast<int>(Below(slots - heavy));
    }
  }
  // Indexes cap an entry's size (PostgreSQL: about 2.7 kB): no long text or
  // large blob in a unique key.
  if (distinct && edge >= slots - heavy) edge = -1;
  if (!c.not_null && edge >= 0) {
    if (edge == 0) return Value();
    --edge;
  }
  if (!c.allowed.empty()) {
    const std::string& pick = c.allowed[distinct ? key % c.allowed.size() : Below(c.allowed.size())];
    if (Integral(c.kind)) {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(pick.data(), pick.data() + pick.size(), v);
      if (ec == std::errc() && p == pick.data() + pick.size()) return Value(v);
    }
    return Value(pick);
  }
  switch (c.kind) {
    case SeedKind::kInteger: return Integer(c, key, distinct, edge);
    case SeedKind::kBool: return Value(static_cast<int64_t>(distinct ? key % 2 : Below(2)));
    case SeedKind::kReal: return Real(c, edge);
    case SeedKind::kNumeric: return Numeric(c, key, distinct, edge);
    case SeedKind::kText: return Text(c, key, distinct, edge);
    case SeedKind::kBlob: return Bytes(key, distinct, edge);
    case SeedKind::kDate:
    case SeedKind::kTime:
    case SeedKind::kTimestamp: return Temporal(c, key, distinct, edge);
    case SeedKind::kUuid: return Uuid(key, distinct, edge);
    case SeedKind::kJson: return Json(key, distinct, edge);
    case SeedKind::kEnum:
    case SeedKind::kUnsupported: return Value();
  }
  return Value();
}

Value SeedValues::Integer(const SeedColumn& c, int64_t key, bool distinct, int edge) {
  if (edge >= 0) {
    const int64_t candidates[] = {c.min, c.max, 0, -1, 1};
    int64_t v = candidates[edge];
    if (v >= c.min && v <= c.max) return Value(v);
  }
  auto clamp = [&](int64_t v) { return std::clamp(v, c.min, c.max); };
  if (distinct) {
    int64_t base = clamp(1);
    if (key <= c.max - base) return Value(base + key);
  } else {
    int64_t lo = clamp(0);
    int64_t hi = lo <= c.max - 9999 ? lo + 9999 : c.max;
    return Value(lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1)));
  }
  uint64_t span = static_cast<uint64_t>(c.max) - static_cast<uint64_t>(c.min) + 1;
  uint64_t offset = span == 0 ? rng_() : Below(span);
  return Value(static_cast<int64_t>(static_cast<uint64_t>(c.min) + offset));
}

Value SeedValues::Real(const SeedColumn& c, int edge) {
  auto fits = [&](double v) {
    if (c.real_min && (v < *c.real_min || (c.real_min_strict && v == *c.real_min))) return false;
    if (c.real_max && (v > *c.real_max || (c.real_max_strict && v == *c.real_max))) return false;
    return true;
  };
  if (edge >= 0) {
    const double huge = c.narrow_real ? 3.0e38 : 1.0e300;
    const double tiny = c.narrow_real ? 1.0e-30 : 1.0e-300;
    const double candidates[] = {0.0, -0.0, tiny, huge, -huge, 0.1};
    if (fits(candidates[edge])) return Value(candidates[edge]);
  }
  double lo = c.real_min.value_or(c.real_max ? *c.real_max - 1000 : -1000);
  double hi = c.real_max.value_or(lo + 2000);
  double v = lo + std::uniform_real_distribution<double>(0, 1)(rng_) * (hi - lo);
  v = std::round(v * 100) / 100;
  if (!fits(v)) v = (lo + hi) / 2;
  return Value(v);
}

Value SeedValues::Numeric(const SeedColumn& c, int64_t key, bool distinct, int edge) {
  const int s = c.numeric_scale;
  const double unit = std::pow(10.0, -s);
  const double limit = std::pow(10.0, c.numeric_int_digits) - unit;
  double lo = std::max(-limit, c.real_min.value_or(-limit));
  double hi = std::min(limit, c.real_max.value_or(limit));
  if (c.real_min_strict) lo += unit;
  if (c.real_max_strict) hi -= unit;
  auto format = [&](double v) { return fmt::format("{:.{}f}", v, s); };
  if (edge >= 0) {
    std::string nines = std::string(std::max(c.numeric_int_digits, 1), '9') +
                        (s > 0 ? "." + std::string(s, '9') : "");
    switch (edge) {
      case 0: if (lo <= 0 && 0 <= hi) return Value(format(0)); break;
      case 1: return Value(c.real_max || c.real_max_strict ? format(hi) : nines);
      case 2: return Value(c.real_min || c.real_min_strict ? format(lo) : "-" + nines);
      case 3: if (lo <= unit && unit <= hi) return Value(format(unit)); break;
    }
  }
  double base = std::clamp(0.0, lo, hi);
  double v = distinct ? base + static_cast<double>(key) + (s > 0 ? 0.5 : 0)
                      : base + std::floor(std::uniform_real_distribution<double>(0, 1000)(rng_) / unit) * unit;
  if (v > hi) v = lo + std::uniform_real_distribution<double>(0, 1)(rng_) * (hi - lo);
  return Value(format(std::clamp(v, lo, hi)));
}

Value SeedValues::Text(const SeedColumn& c, int64_t key, bool distinct, int edge) {
  std::string s;
  if (edge >= 0 && edge < kTextEdgeCount) {
    s = kTextEdges[edge];
  } else if (edge == kTextEdgeCount) {
    s.reserve(kLongTextBytes + 64);
    while (static_cast<int64_t>(s.size()) < kLongTextBytes) {
      s += kWords[Below(std::size(kWords))];
      s += Below(8) == 0 ? " ünïcödé 🎉 " : " ";
    }
  } else if (c.name.find("email") != std::string::npos) {
    s = fmt::format("{}.{}@example.com", kWords[Below(std::size(kWords))], Base36(key));
  } else {
    if (distinct) s = Base36(static_cast<uint64_t>(key)) + " ";
    int words = 1 + static_cast<int>(Below(3));
    for (int i = 0; i < words; ++i) {
      if (i) s += ' ';
      s += kWords[Below(std::size(kWords))];
    }
  }
  if (c.max_length > 0 && Chars(s) > c.max_length) TruncateChars(s, c.max_length);
  if (Chars(s) < c.min_length) s.append(static_cast<size_t>(c.min_length - Chars(s)), 'x');
  return Value(std::move(s));
}

Value SeedValues::Bytes(int64_t key, bool distinct, int edge) {
  std::string b;
  auto random = [&](size_t n) {
    while (b.size() < n) {
      uint64_t r = rng_();
      for (int i = 0; i < 8 && b.size() < n; ++i) b += static_cast<char>(r >> (8 * i));
    }
  };
  switch (edge) {
    case 0: break;                                   // empty
    case 1: b.assign(1, '\0'); break;                // a single zero byte
    case 2: for (int i = 0; i < 256; ++i) b += static_cast<char>(i); break;
    case 3: random(64 * 1024); break;
    case 4: random(1024 * 1024); break;
    default:
      if (distinct) {
        for (int i = 7; i >= 0; --i) b += static_cast<char>(static_cast<uint64_t>(key) >> (8 * i));
      }
      random(b.size() + 1 + Below(32));
  }
  return Value(Blob{std::move(b)});
}

Value SeedValues::Temporal(const SeedColumn& c, int64_t key, bool distinct, int edge) {
  if (c.kind == SeedKind::kDate) {
    static constexpr const char* kEdges[] = {"1970-01-01", "2000-02-29", "0001-01-01", "9999-12-31"};
    if (edge >= 0) return Value(kEdges[edge]);
    return Value(Date(kDays2000 + (distinct ? key : static_cast<int64_t>(Below(11323)))));
  }
  if (c.kind == SeedKind::kTime) {
    static constexpr const char* kEdges[] = {"00:00:00", "23:59:59.999999", "12:00:00", "00:00:00.000001"};
    if (edge >= 0) return Value(kEdges[edge]);
    if (!distinct) return Value(Time(static_cast<int64_t>(Below(86400))));
    return Value(fmt::format("{}.{:06}", Time(key), key / 86400 % 1000000));
  }
  static constexpr const char* kEdges[] = {"1970-01-01 00:00:00", "2038-01-19 03:14:08",
                                           "0001-01-01 00:00:00", "9999-12-31 23:59:59",
                                           "2024-02-29 23:59:59.999999"};
  if (edge >= 0) return Value(kEdges[edge]);
  int64_t t = kSeconds2000 + (distinct ? key * 61 + static_cast<int64_t>(Below(60))
                                       : static_cast<int64_t>(Below(30LL * 365 * 86400)));
  return Value(Date(t / 86400) + " " + Time(t));
}

Value SeedValues::Uuid(int64_t key, bool distinct, int edge) {
  if (edge == 0) return Value("00000000-0000-0000-0000-000000000000");
  if (edge == 1) return Value("ffffffff-ffff-ffff-ffff-ffffffffffff");
  uint64_t hi = (rng_() & ~0xF000ULL) | 0x4000ULL;  // version 4
  uint64_t lo = (rng_() & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  if (distinct) lo = (lo & ~0xFFFFFFFFFFFFULL) | (static_cast<uint64_t>(key) & 0xFFFFFFFFFFFFULL);
  return Value(fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                           hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFULL));
}

Value SeedValues::Json(int64_t key, bool distinct, int edge) {
  static constexpr const char* kEdges[] = {
      "{}", "[]", "null", "\"\"",
      "{\"emoji\": \"🎉\", \"name\": \"Zoë\", "
      "\"nested\": {\"list\": [1, 2.5, -0, null, true, \"\"]}}"};
  if (edge >= 0) return Value(kEdges[edge]);
  return Value(fmt::format("{{\"id\": {}, \"name\": \"{}\", \"score\": {}{}}}", key,
                           kWords[Below(std::size(kWords))], Below(1000),
                           distinct ? "" : ", \"tags\": [\"a\", \"b\"]"));
}

}  // namespace strata
