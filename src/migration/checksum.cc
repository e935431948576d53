#include "migration/checksum.h"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace strata {
namespace {

/// The three libcrypto functions SHA-256 needs, loaded on first use.
///
/// Linking libcrypto costs every start some 17,000 relocations (a few ms,
/// more than the rest of a cached `strata status`), while most runs hash
/// nothing: the checksum cache (checksum_cache.h) vouches for unchanged
/// files. So libcrypto is opened the first time a digest is needed.
struct LibCrypto {
  decltype(&::OPENSSL_init_crypto) init = nullptr;
  decltype(&::EVP_MD_fetch) fetch = nullptr;
  decltype(&::EVP_Digest) digest = nullptr;
  EVP_MD* sha256 = nullptr;
};

const LibCrypto& Crypto() {
  // Setting up OpenSSL and fetching the algorithm cost more than a thousand
  // small digests: do it once, without reading openssl.cnf (the default
  // provider is all SHA-256 needs).
  static const LibCrypto loaded = [] {
    LibCrypto c;
    void* handle = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
      c.init = reinterpret_cast<decltype(c.init)>(dlsym(handle, "OPENSSL_init_crypto"));
      c.fetch = reinterpret_cast<decltype(c.fetch)>(dlsym(handle, "EVP_MD_fetch"));
      c.digest = reinterpret_cast<decltype(c.digest)>(dlsym(handle, "EVP_Digest"));
    }
    if (c.init && c.fetch && c.digest) {
      c.init(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
      c.sha256 = c.fetch(nullptr, "SHA256", nullptr);
    }
    if (c.sha256 == nullptr) {
      // What the dynamic loader would have done had libcrypto been linked:
      // without SHA-256 no checksum can be trusted, so nothing may go on.
      const char* why = handle == nullptr ? dlerror() : "no SHA-256 in it";
      std::fprintf(stderr, "strata: cannot use libcrypto.so.3 (%s); install the libssl3 package\n",
                   why ? why : "unknown error");
      std::_Exit(127);
    }
    return c;
  }();
  return loaded;
}

}  // namespace

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
  const LibCrypto& crypto = Crypto();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  crypto.digest(data.data(), data.size(), digest, &len, crypto.sha256, nullptr);
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
