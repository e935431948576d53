#include "process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

extern char** environ;

namespace strata::bench {
namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string DescribeWaitStatus(int wstatus) {
  if (WIFEXITED(wstatus)) return fmt::format("exited with code {}", WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) return fmt::format("was killed by signal {}", WTERMSIG(wstatus));
  return fmt::format("ended with wait status {}", wstatus);
}

}  // namespace

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& arg : argv) {
    if (!line.empty()) line += ' ';
    bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$*?;&|<>()") == std::string::npos;
    if (plain) {
      line += arg;
      continue;
    }
    line += '\'';
    for (char c : arg) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += '\'';
  }
  return line;
}

std::string WithDatabase(const std::string& url, const std::string& db) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t query = url.find('?', start);
  size_t path = url.find('/', start);
  size_t head_end = path < query ? path : query;
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  return url.substr(0, head_end) + "/" + db + tail;
}

std::string PgUrlOrEnv(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("STRATA_TEST_PG_URL");
  return env ? env : "";
}

Result<std::filesystem::path> EnterWorkDir(const std::string& work_dir, const std::string& prefix) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path work;
  if (!work_dir.empty()) {
    work = fs::absolute(work_dir);
    fs::create_directories(work, ec);
  } else {
    std::string pattern = (fs::temp_directory_path(ec) / (prefix + ".XXXXXX")).string();
    if (mkdtemp(pattern.data())) work = pattern;
  }
  if (!ec && !work.empty()) fs::current_path(work, ec);
  if (work.empty() || ec) {
    return Status(Code::kIOError,
                  fmt::format("cannot create a work directory: {}",
                              ec ? ec.message() : std::string(std::strerror(errno))));
  }
  return work;
}

Result<Outcome> Run(const Command& command, const std::filesystem::path& scratch) {
  std::vector<char*> argv;
  for (const auto& arg : command.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const std::string in_path = command.stdin_path.empty() ? "/dev/null" : command.stdin_path;
  const std::string out_path =
      command.capture_stdout ? (scratch / "stdout.txt").string() : "/dev/null";
  const std::string err_path = (scratch / "stderr.txt").string();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  auto started = std::chrono::steady_clock::now();
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Status(Code::kNotFound, fmt::format("cannot run `{}`: {}", CommandLine(command.argv),
                                               std::strerror(rc)));
  }
  int wstatus = 0;
  rusage usage{};
  while (wait4(pid, &wstatus, 0, &usage) < 0) {
    if (errno != EINTR) {
      return Status(Code::kInternal, fmt::format("waiting for `{}`: {}",
                                                 CommandLine(command.argv), std::strerror(errno)));
    }
  }
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return Status(Code::kInternal, fmt::format("`{}` {}; its stderr:\n{}",
                                               CommandLine(command.argv),
                                               DescribeWaitStatus(wstatus), ReadFile(err_path)));
  }
  Outcome outcome;
  outcome.seconds = elapsed.count();
  outcome.max_rss_kb = usage.ru_maxrss;
  if (command.capture_stdout) outcome.out = ReadFile(out_path);
  return outcome;
}

}  // namespace strata::bench
