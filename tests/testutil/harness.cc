#include "testutil/harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace strata::testing {
namespace fs = std::filesystem;
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string UniqueSuffix() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return fmt::format("{}_{}_{}", getpid(), counter++, rd() % 100000);
}

int Spawn(const std::vector<std::string>& args, const std::string& cwd,
          const std::map<std::string, std::string>& env, const std::string& out_path,
          const std::string& err_path) {
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(127);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    unsetenv("DATABASE_URL");
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    std::string bin = STRATA_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

/// Points XDG_CACHE_HOME, for this process and the strata runs it starts,
/// at a directory of its own, so tests neither read nor litter the user's
/// checksum cache (migration/checksum_cache.h).
class PrivateCacheHome {
 public:
  PrivateCacheHome() {
    std::string tmpl = (fs::temp_directory_path() / "strata_test_cache_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
    setenv("XDG_CACHE_HOME", path_.c_str(), 1);
  }
  ~PrivateCacheHome() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }

 private:
  std::string path_;
};
const PrivateCacheHome private_cache_home;

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "strata_test_XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void TempDir::Write(const std::string& relative, const std::string& content) const {
  fs::path p = fs::path(path_) / relative;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

void TempDir::Remove(const std::string& relative) const { fs::remove(fs::path(path_) / relative); }

std::string PostgresTestUrl() {
  const char* url = std::getenv("STRATA_TEST_PG_URL");
  return url ? url : "";
}

std::string UrlAsRole(const std::string& url, const std::string& role) {
  const size_t user = url.find("://") + 3;
  return url.substr(0, user) + role + url.substr(url.find('@', user));
}


TestDatabase::TestDatabase(Engine engine) : engine_(engine) {
  if (engine == Engine::kSqlite) {
    url_ = "sqlite:" + dir_.path() + "/test.db";
    return;
  }
  std::string base = PostgresTestUrl();
  if (base.empty()) return;
  admin_url_ = UrlWithDatabase(base, "postgres");
  name_ = "strata_it_" + UniqueSuffix();
  auto admin = OpenDatabase(admin_url_);
  if (!admin.ok()) throw std::runtime_error(admin.status().message());
  Status s = (*admin)->Exec("CREATE DATABASE " + name_);
  if (!s.ok()) throw std::runtime_error(s.message());
  url_ = UrlWithDatabase(base, name_);
}

TestDatabase::~TestDatabase() {
  if (engine_ != Engine::kPostgres || name_.empty()) return;
  auto admin = OpenDatabase(admin_url_);
  if (admin.ok()) (*admin)->Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)").IgnoreError();
}

std::unique_ptr<Database> TestDatabase::Connect() const {
  auto db = OpenDatabase(url_);
  if (!db.ok()) throw std::runtime_error(db.status().message());
  return std::move(db).value();
}

CliRun RunStrata(const std::vector<std::string>& args, const std::string& cwd,
                 const std::map<std::string, std::string>& env) {
  TempDir out_dir;
  std::string out = out_dir.path() + "/out", err = out_dir.path() + "/err";
  int pid = Spawn(args, cwd, env, out, err);
  int status = 0;
  waitpid(pid, &status, 0);
  CliRun run;
  run.pid = pid;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = ReadAll(out);
  run.err = ReadAll(err);
  return run;
}

StrataProcess::StrataProcess(const std::vector<std::string>& args, const std::string& cwd) {
  std::string base = (fs::temp_directory_path() / ("strata_proc_" + UniqueSuffix())).string();
  out_path_ = base + ".out";
  err_path_ = base + ".err";
  pid_ = Spawn(args, cwd, {}, out_path_, err_path_);
}

StrataProcess::~StrataProcess() {
  if (!waited_) {
    Kill();
    Wait();
  }
  fs::remove(out_path_);
  fs::remove(err_path_);
}

CliRun StrataProcess::Wait() {
  int status = 0;
  waitpid(pid_, &status, 0);
  waited_ = true;
  CliRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = ReadAll(out_path_);
  run.err = ReadAll(err_path_);
  return run;
}

void StrataProcess::Kill() { kill(pid_, SIGKILL); }

void StrataProcess::Signal(int sig) { kill(pid_, sig); }

bool StrataProcess::WaitForOutput(const std::string& text, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (ReadAll(out_path_).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<std::string> Column(Database& db, const std::string& sql) {
  auto rows = db.Query(sql);
  if (!rows.ok()) throw std::runtime_error(sql + ": " + rows.status().message());
  std::vector<std::string> out;
  for (const auto& r : rows->rows) out.push_back(r[0].ToString());
  return out;
}

int64_t Scalar(Database& db, const std::string& sql) {
  auto rows = db.Query(sql);
  if (!rows.ok()) throw std::runtime_error(sql + ": " + rows.status().message());
  if (rows->empty()) throw std::runtime_error(sql + ": no rows");
  return rows->rows[0][0].ToInt();
}

std::string SchemaDump(Database& db) {
  std::string out;
  auto add = [&](const std::string& sql) {
    auto rows = db.Query(sql);
    if (!rows.ok()) throw std::runtime_error(sql + ": " + rows.status().message());
    for (const auto& r : rows->rows) {
      for (const auto& v : r) out += v.ToString() + "|";
      out += "\n";
    }
  };
  if (db.engine() == Engine::kSqlite) {
    add("SELECT type, name, tbl_name, sql FROM sqlite_schema "
        "WHERE name NOT LIKE 'strata\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY type, name");
  } else {
    add("SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '') "
        "FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name NOT LIKE 'strata\\_%' ORDER BY table_name, column_name");
    add("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename NOT LIKE 'strata\\_%' ORDER BY indexname");
    add("SELECT viewname, definition FROM pg_views WHERE schemaname = current_schema() ORDER BY 1");
    add("SELECT event_object_table, trigger_name, event_manipulation, action_statement "
        "FROM information_schema.triggers WHERE trigger_schema = current_schema() ORDER BY 2, 3");
  }
  return out;
}

}  // namespace strata::testing
