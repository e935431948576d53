// JSON text of a value, whatever bytes its strings hold.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace strata {

/// `value` as JSON text (`indent` as json::dump's). In a string that is not
/// UTF-8 (a file name or comment saved in Latin-1, a SQL_ASCII database's
/// bytes) each invalid byte becomes U+FFFD, where dump() would throw.
inline std::string JsonText(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace strata
