#include "strata/value.h"

#include <charconv>

#include <fmt/format.h>

namespace strata {

std::string Value::ToString() const {
  switch (type()) {
    case Type::kNull: return "";
    case Type::kInteger: return std::to_string(integer());
    case Type::kReal: return fmt::format("{}", real());
    case Type::kText: return text();
    case Type::kBlob: return blob().bytes;
  }
  return "";
}

int64_t Value::ToInt(int64_t fallback) const {
  switch (type()) {
    case Type::kInteger: return integer();
    case Type::kReal: return static_cast<int64_t>(real());
    case Type::kText: {
      int64_t v = 0;
      const std::string& s = text();
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      return (ec == std::errc() && ptr == s.data() + s.size()) ? v : fallback;
    }
    default: return fallback;
  }
}

}  // namespace strata
