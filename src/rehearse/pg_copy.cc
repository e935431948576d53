#include "rehearse/pg_copy.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "engine/postgres/client_connection.h"
#include "engine/postgres/libpq.h"
#include "engine/postgres/postgres_database.h"
#include "engine/url.h"
#include "sql/splitter.h"

extern char** environ;

namespace strata {
namespace {

/// Reads a pipe line by line (lines keep no '\n').
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  /// False at the end of the stream; `error` is set when reading failed.
  bool Next(std::string* line, Status* error) {
    line->clear();
    for (;;) {
      size_t eol = buffer_.find('\n', pos_);
      if (eol != std::string::npos) {
        line->append(buffer_, pos_, eol - pos_);
        pos_ = eol + 1;
        return true;
      }
      line->append(buffer_, pos_, std::string::npos);
      buffer_.clear();
      pos_ = 0;
      buffer_.resize(1 << 16);
      ssize_t n;
      do n = read(fd_, buffer_.data(), buffer_.size()); while (n < 0 && errno == EINTR);
      if (n < 0) *error = Status(Code::kIOError, std::string("reading pg_dump's output: ") + std::strerror(errno));
      buffer_.resize(n > 0 ? n : 0);
      if (n <= 0) return !line->empty();
    }
  }

 private:
  int fd_;
  std::string buffer_;
  size_t pos_ = 0;
};

/// Runs pg_dump's SQL on the destination connection as it arrives.
class Restorer {
 public:
  Restorer(const LibPq& pq, PGconn* conn) : pq_(pq), conn_(conn) {}

  Status Line(const std::string& line) {
    if (in_copy_) {
      if (line == "\\.") return EndCopy();
      std::string row = line + "\n";
      if (pq_.PQputCopyData(conn_, row.data(), static_cast<int>(row.size())) != 1) return ConnError("COPY");
      return Status::OK();
    }
    bool boundary = (line.rfind("COPY ", 0) == 0 || line.rfind("\\", 0) == 0) && AtStatementEnd();
    if (boundary && line[0] == '\\') return Status::OK();  // psql meta-command (\restrict, ...)
    if (boundary) {
      STRATA_RETURN_IF_ERROR(Flush());
      PGresult* r = pq_.PQexec(conn_, line.c_str());
      bool copy_in = pq_.PQresultStatus(r) == PGRES_COPY_IN;
      Status s = copy_in ? Status::OK() : ResultError(r, line);
      pq_.PQclear(r);
      in_copy_ = copy_in;
      return s;
    }
    sql_ += line;
    sql_ += '\n';
    return Status::OK();
  }

  /// Runs the SQL gathered since the last statement run.
  Status Flush() {
    if (in_copy_) return Status(Code::kInternal, "pg_dump's output ended inside COPY data");
    if (sql_.find_first_not_of(" \t\r\n") == std::string::npos) {
      sql_.clear();
      return Status::OK();
    }
    PGresult* r = pq_.PQexec(conn_, sql_.c_str());
    Status s = ResultError(r, "");
    pq_.PQclear(r);
    sql_.clear();
    return s;
  }

 private:
  /// True when the gathered SQL ends between statements, not inside a
  /// string, dollar quote or comment: a line there is pg_dump's own.
  bool AtStatementEnd() const {
    std::string_view text = sql_;
    for (;;) {  // trailing blank and comment lines do not count
      size_t end = text.find_last_not_of(" \t\r\n");
      if (end == std::string_view::npos) return true;
      text = text.substr(0, end + 1);
      size_t bol = text.rfind('\n');
      std::string_view last = text.substr(bol == std::string_view::npos ? 0 : bol + 1);
      if (last.rfind("--", 0) != 0) break;
      text = text.substr(0, bol == std::string_view::npos ? 0 : bol);
    }
    return text.back() == ';' && sql::SplitStatements(text, sql::Dialect::kPostgres).ok();
  }

  Status EndCopy() {
    in_copy_ = false;
    if (pq_.PQputCopyEnd(conn_, nullptr) != 1) return ConnError("COPY");
    Status s;
    while (PGresult* r = pq_.PQgetResult(conn_)) {
      if (s.ok()) s = ResultError(r, "COPY");
      pq_.PQclear(r);
    }
    return s;
  }

  Status ResultError(PGresult* r, const std::string& what) {
    ExecStatusType st = r ? pq_.PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return Status::OK();
    std::string msg = r ? pq_.PQresultErrorMessage(r) : pq_.PQerrorMessage(conn_);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    // The target could not be copied (say it has an extension the role may
    // not create): no migration ran, so this is kUnavailable (exit 4), not
    // kDatabase, which the CLI reports as a migration that failed (exit 1).
    return Status(Code::kUnavailable,
                  fmt::format("cannot copy the target into the sandbox: restoring pg_dump's output{} "
                              "failed: {}",
                              what.empty() ? "" : " (" + what.substr(0, 80) + ")", msg));
  }

  Status ConnError(const char* what) {
    return Status(Code::kUnavailable, fmt::format("restoring the copy into the sandbox ({}): {}", what,
                                                  pq_.PQerrorMessage(conn_)));
  }

  const LibPq& pq_;
  PGconn* conn_;
  std::string sql_;
  bool in_copy_ = false;
};

/// A pg_dump child process: its stdout is `out`, its stderr an unlinked temp file.
struct Dump {
  pid_t pid = -1;
  int out = -1;
  int err = -1;
  std::optional<ClientConnection> conn;  // its service file lives as long as pg_dump

  ~Dump() {
    if (pid > 0) {  // abandoned: stop it
      kill(pid, SIGTERM);
      Wait();
    }
    if (out >= 0) close(out);
    if (err >= 0) close(err);
  }

  /// Waits for the child; returns its exit status (or -1).
  int Wait() {
    int status = 0;
    pid_t r;
    do r = waitpid(pid, &status, 0); while (r < 0 && errno == EINTR);
    pid = -1;
    if (r < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string Stderr() const {
    std::string text;
    char buf[4096];
    ssize_t n;
    lseek(err, 0, SEEK_SET);
    while ((n = read(err, buf, sizeof buf)) > 0 && text.size() < 16384) text.append(buf, n);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return RedactSecrets(text);
  }
};

Status StartDump(const ConnParams& source, Dump* dump) {
  STRATA_ASSIGN_OR_RETURN(ClientConnection made, ClientConnection::Make(source));
  const ClientConnection& conn = dump->conn.emplace(std::move(made));
  const char* bin_env = std::getenv("STRATA_PG_DUMP");
  std::string bin = bin_env && *bin_env ? bin_env : "pg_dump";
  std::vector<std::string> args = {bin, "--format=plain", "--no-owner", "--no-privileges",
                                   "--no-subscriptions", "--no-publications", "--no-security-labels",
                                   "--no-tablespaces", "--dbname=" + conn.conninfo()};
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    if (!conn.env().count(std::string(name))) env.emplace_back(entry);
  }
  for (const auto& [name, value] : conn.env()) env.push_back(name + "=" + value);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Status(Code::kIOError, std::string("pipe: ") + std::strerror(errno));
  dump->out = pipe_fds[0];
  const char* tmp = std::getenv("TMPDIR");
  std::string err_path = fmt::format("{}/strata-pg_dump-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  dump->err = mkostemp(err_path.data(), O_CLOEXEC);
  if (dump->err < 0) {
    close(pipe_fds[1]);
    return Status(Code::kIOError, fmt::format("cannot create {}: {}", err_path, std::strerror(errno)));
  }
  unlink(err_path.c_str());

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, dump->err, 2);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int rc = posix_spawnp(&dump->pid, bin.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    dump->pid = -1;
    return Status(Code::kUnavailable,
                  fmt::format("cannot run {}: {}; install the PostgreSQL client tools (pg_dump of "
                              "the server's major version or newer), or set STRATA_PG_DUMP to its path",
                              bin, std::strerror(rc)));
  }
  return Status::OK();
}

struct ConnCloser {
  const LibPq* pq;
  void operator()(PGconn* c) const { pq->PQfinish(c); }
};

}  // namespace

Result<ConnParams> ParseConnParams(const std::string& url) {
  STRATA_RETURN_IF_ERROR(CheckPostgresUrl(url));
  STRATA_ASSIGN_OR_RETURN(const LibPq* pq, LoadLibPq());
  char* err = nullptr;
  PQconninfoOption* options = pq->PQconninfoParse(EncodeCredentials(url).c_str(), &err);
  if (!options) {
    std::string msg = err ? err : "out of memory";
    if (err) pq->PQfreemem(err);
    return Status(Code::kInvalidArgument, fmt::format("bad PostgreSQL URL {}: {}", RedactUrl(url), msg));
  }
  ConnParams out;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (o->val && *o->val) out.emplace_back(o->keyword, o->val);
  }
  pq->PQconninfoFree(options);
  return out;
}

ConnParams WithDbname(ConnParams params, const std::string& dbname) {
  std::erase_if(params, [](const auto& kv) { return kv.first == "dbname"; });
  params.emplace_back("dbname", dbname);
  return params;
}

Status CopyPostgresDatabase(const ConnParams& source, const ConnParams& dest) {
  STRATA_ASSIGN_OR_RETURN(const LibPq* pq, LoadLibPq());
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : dest) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  std::unique_ptr<PGconn, ConnCloser> conn(pq->PQconnectdbParams(keys.data(), values.data(), 0),
                                           ConnCloser{pq});
  if (!conn || pq->PQstatus(conn.get()) != CONNECTION_OK) {
    return Status(Code::kUnavailable, fmt::format("cannot connect to the sandbox database: {}",
                                                  conn ? pq->PQerrorMessage(conn.get()) : "out of memory"));
  }
  Dump dump;
  STRATA_RETURN_IF_ERROR(StartDump(source, &dump));
  Restorer restorer(*pq, conn.get());
  LineReader reader(dump.out);
  std::string line;
  Status read_error, s;
  while (s.ok() && reader.Next(&line, &read_error)) s = restorer.Line(line);
  if (s.ok()) s = read_error;
  if (!s.ok()) return s;  // ~Dump stops pg_dump
  int rc = dump.Wait();
  if (rc != 0) {
    std::string why = dump.Stderr();
    std::string hint = why.find("version mismatch") != std::string::npos
                           ? " (install pg_dump of the server's major version or newer, or set "
                             "STRATA_PG_DUMP to its path)"
                           : "";
    return Status(Code::kUnavailable, fmt::format("pg_dump failed (exit code {}): {}{}", rc,
                                                  why.empty() ? "no message" : why, hint));
  }
  return restorer.Flush();
}

}  // namespace strata
