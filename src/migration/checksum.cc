#include "migration/checksum.h"

#include <openssl/evp.h>

namespace strata {

std::string NormalizeScript(std::string_view script) {
  if (script.substr(0, 3) == "\xEF\xBB\xBF") script.remove_prefix(3);
  std::string out;
  out.reserve(script.size());
  size_t line_start = 0;
  auto end_line = [&] {
    while (out.size() > line_start && (out.back() == ' ' || out.back() == '\t' ||
                                       out.back() == '\f' || out.back() == '\v'))
      out.pop_back();
    out += '\n';
    line_start = out.size();
  };
  for (size_t i = 0; i < script.size(); ++i) {
    char c = script[i];
    if (c == '\r') {
      if (i + 1 < script.size() && script[i + 1] == '\n') ++i;
      end_line();
    } else if (c == '\n') {
      end_line();
    } else {
      out += c;
    }
  }
  end_line();
  while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') {
    out.pop_back();
  }
  if (out == "\n") out.clear();
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
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
