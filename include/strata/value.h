// Value: one cell read from, or bound to, a database statement.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace strata {

/// Raw bytes, kept apart from text so that a BLOB and a TEXT with the same
/// bytes stay distinguishable.
struct Blob {
  std::string bytes;
  bool operator==(const Blob&) const = default;
};

class Value {
 public:
  enum class Type { kNull, kInteger, kReal, kText, kBlob };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(int64_t v) : v_(v) {}
  Value(int v) : v_(static_cast<int64_t>(v)) {}
  Value(double v) : v_(v) {}
  Value(std::string v) : v_(std::move(v)) {}
  Value(const char* v) : v_(std::string(v)) {}
  Value(Blob v) : v_(std::move(v)) {}

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  int64_t integer() const { return std::get<int64_t>(v_); }
  double real() const { return std::get<double>(v_); }
  const std::string& text() const { return std::get<std::string>(v_); }
  const Blob& blob() const { return std::get<Blob>(v_); }

  /// The value as text: integers and reals formatted, NULL as "".
  std::string ToString() const;
  /// The value as an integer: text is parsed, NULL and junk give `fallback`.
  int64_t ToInt(int64_t fallback = 0) const;

  bool operator==(const Value&) const = default;

 private:
  std::variant<std::monostate, int64_t, double, std::string, Blob> v_;
};

/// Rows returned by a query, with the column names in result order.
struct Rows {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;

  bool empty() const { return rows.empty(); }
  size_t size() const { return rows.size(); }
};

}  // namespace strata
