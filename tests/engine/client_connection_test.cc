#include "engine/postgres/client_connection.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// pg_dump's command line is readable by every local user (ps): neither the
// password nor the TLS key's sslpassword may be on it.
TEST(ClientConnectionTest, SecretsStayOffTheCommandLine) {
  std::string service_file;
  {
    auto conn = ClientConnection::Make({{"host", "db.example"},
                                        {"user", "app"},
                                        {"password", "pw-secret"},
                                        {"sslpassword", "key-secret"},
                                        {"dbname", "it's"}});
    ASSERT_TRUE(conn.ok()) << conn.status().message();
    EXPECT_EQ(conn->conninfo(), "host='db.example' user='app' dbname='it\\'s'");
    EXPECT_THAT(conn->conninfo(), Not(HasSubstr("secret")));
    EXPECT_EQ(conn->env().at("PGPASSWORD"), "pw-secret");
    EXPECT_EQ(conn->env().at("PGSERVICE"), "strata");
    service_file = conn->env().at("PGSERVICEFILE");
    struct stat st {};
    ASSERT_EQ(stat(service_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(Slurp(service_file), "[strata]\nsslpassword=key-secret\n");
  }
  struct stat st {};
  EXPECT_NE(stat(service_file.c_str(), &st), 0) << "the service file outlived its connection";
}

TEST(ClientConnectionTest, WithoutAnSslPasswordNoServiceFileIsMade) {
  auto conn = ClientConnection::Make({{"host", "h"}, {"password", "pw"}});
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->conninfo(), "host='h'");
  EXPECT_EQ(conn->env().count("PGSERVICEFILE"), 0u);
}

}  // namespace
}  // namespace strata
