#include "migration/checksum.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace strata {

std::string NormalizeScript(std::string_view script) {
  if (script.substr(0, 3) == "\xEF\xBB\xBF") script.remove_prefix(3);
  std::string out;
  out.reserve(script.size() + 1);
  // Line by line: a line ends at LF, CRLF or CR; its trailing blanks go.
  while (!script.empty()) {
    size_t eol = script.find_first_of("\r\n");
    std::string_view line = script.substr(0, eol);
    size_t keep = line.find_last_not_of(" \t\f\v");
    out.append(line.data(), keep == std::string_view::npos ? 0 : keep + 1);
    out += '\n';
    if (eol == std::string_view::npos) break;
    size_t skip = (script[eol] == '\r' && eol + 1 < script.size() && script[eol + 1] == '\n') ? 2 : 1;
    script.remove_prefix(eol + skip);
  }
  size_t end = out.find_last_not_of('\n');
  out.resize(end == std::string::npos ? 0 : end + 2);
  return out;
}

std::string Sha256Hex(std::string_view data) {
  // Setting up OpenSSL and fetching the algorithm cost more than a thousand
  // small digests: do it once, without reading openssl.cnf (the default
  // provider is all SHA-256 needs).
  static EVP_MD* const kSha256 = [] {
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    return EVP_MD_fetch(nullptr, "SHA256", nullptr);
  }();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, kSha256, nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

std::string ScriptChecksum(std::string_view script) {
  return Sha256Hex(NormalizeScript(script));
}

}  // namespace strata
