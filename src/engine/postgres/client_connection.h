// Handing a libpq client program (pg_dump) a connection without putting its
// secrets on the program's command line, where any local user reads them
// (ps, /proc/PID/cmdline).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "strata/status.h"

namespace strata {

class ClientConnection {
 public:
  /// From libpq connection parameters (keyword, value): `conninfo` holds all
  /// but password and sslpassword; `env` adds PGPASSWORD, and for
  /// sslpassword, which libpq reads from no variable, PGSERVICE and
  /// PGSERVICEFILE naming a service file of this object's, readable by its
  /// owner only, removed when the object goes.
  static Result<ClientConnection> Make(const std::vector<std::pair<std::string, std::string>>& params);

  ClientConnection(ClientConnection&& other) noexcept;
  ClientConnection& operator=(ClientConnection&&) = delete;
  ClientConnection(const ClientConnection&) = delete;
  ~ClientConnection();

  /// For --dbname: keyword='value' pairs, values quoted as libpq reads them.
  const std::string& conninfo() const { return conninfo_; }
  /// To add to the program's environment.
  const std::map<std::string, std::string>& env() const { return env_; }

 private:
  ClientConnection() = default;
  std::string conninfo_;
  std::map<std::string, std::string> env_;
  std::string service_file_;  // "" when none was written
};

}  // namespace strata
