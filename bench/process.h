// Runs one command to completion the way a shell would, and times it.
//
// The child gets stdin from a file (or /dev/null), stdout in a file when the
// caller wants to read it (else /dev/null), and stderr in a scratch file that
// is read back only when the command fails.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "strata/status.h"

namespace strata::bench {

struct Command {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::string stdin_path;         // empty: /dev/null
  bool capture_stdout = false;    // false: stdout goes to /dev/null
};

struct Outcome {
  double seconds = 0;   // from spawn to exit, steady clock
  long max_rss_kb = 0;  // the child's peak resident set (ru_maxrss of wait4)
  std::string out;      // stdout, when captured
};

/// Runs `command` with its output files in `scratch`. Fails unless the command
/// exits 0; the message then holds the command line, how it ended and its stderr.
Result<Outcome> Run(const Command& command, const std::filesystem::path& scratch);

/// `argv` joined with spaces, quoting arguments a shell would split.
std::string CommandLine(const std::vector<std::string>& argv);

/// The PostgreSQL `url` with its database name replaced by `db`, query string kept.
std::string WithDatabase(const std::string& url, const std::string& db);

/// `flag`, else STRATA_TEST_PG_URL, else "" (no PostgreSQL part).
std::string PgUrlOrEnv(const std::string& flag);

/// Makes `work_dir` (or, when empty, a new temporary directory named
/// `prefix`.XXXXXX) and changes into it, so that no strata.toml of the
/// caller's directory is read. Returns its absolute path.
Result<std::filesystem::path> EnterWorkDir(const std::string& work_dir, const std::string& prefix);

}  // namespace strata::bench
