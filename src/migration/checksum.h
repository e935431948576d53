// Checksums of migration scripts.
#pragma once

#include <string>
#include <string_view>

namespace strata {

/// The script as compared for checksums: a UTF-8 byte-order mark dropped,
/// CRLF and CR turned into LF, trailing whitespace cut from every line, and
/// trailing blank lines removed. An editor or a checkout on another OS does
/// not change it; any real edit does.
std::string NormalizeScript(std::string_view script);

/// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

/// Sha256Hex(NormalizeScript(script)).
std::string ScriptChecksum(std::string_view script);

}  // namespace strata
