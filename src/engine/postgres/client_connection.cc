#include "engine/postgres/client_connection.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace strata {

namespace {

std::string Quoted(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

Result<ClientConnection> ClientConnection::Make(
    const std::vector<std::pair<std::string, std::string>>& params) {
  ClientConnection out;
  std::string ssl_password;
  bool has_service = false;
  for (const auto& [keyword, value] : params) {
    has_service = has_service || keyword == "service";
    if (keyword == "password") {
      out.env_["PGPASSWORD"] = value;
    } else if (keyword == "sslpassword") {
      ssl_password = value;
    } else {
      out.conninfo_ += fmt::format("{}{}={}", out.conninfo_.empty() ? "" : " ", keyword, Quoted(value));
    }
  }
  // A service file line runs to its end: a value with a line break, or a
  // URL that names a service of its own (which this file would stand in
  // for), keeps it in the conninfo.
  if (!ssl_password.empty() && (has_service || ssl_password.find_first_of("\r\n") != std::string::npos)) {
    out.conninfo_ += " sslpassword=" + Quoted(ssl_password);
    ssl_password.clear();
  }
  if (ssl_password.empty()) return out;
  const char* tmp = std::getenv("TMPDIR");
  std::string path = fmt::format("{}/strata-pgservice-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkostemp(path.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) {
    return Status(Code::kIOError, fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  }
  const std::string text = "[strata]\nsslpassword=" + ssl_password + "\n";
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!written) {
    unlink(path.c_str());
    return Status(Code::kIOError, fmt::format("cannot write {}", path));
  }
  out.service_file_ = path;
  out.env_["PGSERVICEFILE"] = path;
  out.env_["PGSERVICE"] = "strata";
  return out;
}

ClientConnection::ClientConnection(ClientConnection&& other) noexcept
    : conninfo_(std::move(other.conninfo_)),
      env_(std::move(other.env_)),
      service_file_(std::move(other.service_file_)) {
  other.service_file_.clear();
}

ClientConnection::~ClientConnection() {
  if (!service_file_.empty()) unlink(service_file_.c_str());
}

}  // namespace strata
