// Running a helper program (pg_dump) and collecting its output.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "strata/status.h"

namespace strata::snapshot {

/// Runs `argv` (argv[0] looked up in PATH) with `env` added to this process's
/// environment, and returns its stdout. Fails (kUnavailable: the database
/// could not be read through it) unless it exits 0; the message names the
/// program and holds its stderr. Arguments are passed as they are,
/// never through a shell.
Result<std::string> RunProgram(const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& env = {});

}  // namespace strata::snapshot
