// strata.toml: read once per use, and checked.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "strata/status.h"

namespace strata::cli {

/// The project file to read: `flag` (--config) when given, which must be a
/// file that exists; else ./strata.toml when there is one; else "" (none).
Result<std::string> ConfigPath(const std::string& flag);

/// Parses the project file `path` (strata.toml) and checks it for sections
/// and keys strata does not know and values of the wrong type: a typo there
/// would otherwise fall back to a default without a word. Errors name
/// path:line:column.
Result<toml::table> ReadConfigFile(const std::string& path);

}  // namespace strata::cli
