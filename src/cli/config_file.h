// strata.toml: read once per use, and checked.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "strata/status.h"

namespace strata::cli {

/// Parses the project file `path` (strata.toml) and checks it for sections
/// and keys strata does not know and values of the wrong type: a typo there
/// would otherwise fall back to a default without a word. Errors name
/// path:line:column.
Result<toml::table> ReadConfigFile(const std::string& path);

}  // namespace strata::cli
