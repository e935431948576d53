// The orchestrator: plans and runs `up` and `down`, reports status.
#include "strata/migrator.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <regex>
#include <set>
#include <span>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/url.h"
#include "history/history.h"
#include "history/lock.h"
#include "migration/checksum.h"
#include "migration/loader.h"
#include "migration/migration.h"
#include "rehearse/sandbox.h"
#include "safety/capture.h"
#include "safety/catalog.h"
#include "safety/fingerprint.h"
#include "sql/classify.h"
#include "sql/inverse.h"
#include "sql/lexer.h"
#include "sql/splitter.h"
#include "util/diff.h"
#include "util/interrupt.h"
#include "util/json_text.h"
#include "util/text.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kSavepoint = "strata_step";

sql::Dialect DialectOf(Engine engine) {
  return engine == Engine::kPostgres ? sql::Dialect::kPostgres : sql::Dialect::kSqlite;
}

/// `s`, whose message starts "LINE", as "<where>:LINE", LINE counted from
/// line `first_line` of `where`.
Status AtFileLine(const Status& s, const std::string& where, int first_line) {
  std::string_view message = s.message();
  int line = 0;
  auto [end, ec] = std::from_chars(message.data(), message.data() + message.size(), line);
  if (ec != std::errc() || first_line == 1) return Status(s.code(), where + ":" + s.message());
  return Status(s.code(), fmt::format("{}:{}{}", where, line + first_line - 1,
                                      message.substr(static_cast<size_t>(end - message.data()))));
}

/// Splits `script`, whose first line is line `first_line` of `where`;
/// errors read "<where>:LINE:COL: message".
Result<std::vector<sql::Statement>> Split(std::string_view script, const std::string& where,
                                          sql::Dialect dialect, int first_line = 1) {
  auto stmts = sql::SplitStatements(script, dialect);
  if (!stmts.ok()) return AtFileLine(Status(Code::kParse, stmts.status().message()), where, first_line);
  for (sql::Statement& st : *stmts) st.line += first_line - 1;
  return stmts;
}

std::vector<sql::StatementInfo> Classified(const std::vector<sql::Statement>& script,
                                           sql::Dialect dialect) {
  std::vector<sql::StatementInfo> infos;
  infos.reserve(script.size());
  for (const auto& st : script) infos.push_back(sql::Classify(st.text, dialect));
  return infos;
}

/// Whether `script` may change settings that outlive it in the session
/// (SET, RESET, PRAGMA, set_config(...)): Database::ResetSession then puts
/// them back, so that they reach neither Strata's own statements nor the
/// next migration of the run.
bool ChangesSession(const std::vector<sql::Statement>& script) {
  for (const sql::Statement& st : script) {
    std::string_view text = st.text;
    size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) continue;
    std::string head = AsciiLower(text.substr(start, 7));
    if (head.rfind("set ", 0) == 0 || head.rfind("reset ", 0) == 0 || head.rfind("pragma", 0) == 0 ||
        AsciiLower(text).find("set_config") != std::string::npos) {
      return true;
    }
  }
  return false;
}

/// `s`, after putting the session's settings back when `changes_session`
/// (the first error wins).
Status ResetSessionAfter(Database& db, bool changes_session, Status s) {
  if (!changes_session) return s;
  Status reset = db.ResetSession();
  return s.ok() ? reset : s;
}

/// What to do when a migration failed with PostgreSQL's "unsafe use of new
/// value" (55P04): it used an enum value that ALTER TYPE ... ADD VALUE added
/// in the same transaction, which the whole script is (a BEGIN ... COMMIT
/// around the ADD VALUE, as a script written for psql has, is dropped and
/// commits nothing). "" for any other failure.
std::string NewEnumValueAdvice(const std::string& message) {
  if (message.find("(SQLSTATE 55P04)") == std::string::npos) return "";
  return "; the script runs in one transaction, so an enum value its ALTER TYPE ... ADD VALUE "
         "adds cannot be used in it yet (a BEGIN ... COMMIT around the ADD VALUE does not "
         "commit it first): move the statements that use the new value to the next "
         "migration, or mark this one `-- strata:no-transaction` to run it as written";
}

/// The materialized views the down script fills, by `REFRESH MATERIALIZED
/// VIEW` or by a `CREATE MATERIALIZED VIEW` (not `WITH NO DATA`), refreshed
/// again once the captured data is back: the down script runs before it,
/// and such a view would otherwise keep the rows as the migration left them.
std::vector<sql::Statement> RefreshesOf(const std::vector<sql::Statement>& script, sql::Dialect dialect) {
  std::vector<sql::Statement> out;
  if (dialect != sql::Dialect::kPostgres) return out;
  for (const sql::Statement& st : script) {
    auto tokens = sql::Tokenize(st.text, dialect);
    if (!tokens.ok() || tokens->size() < 3) continue;
    const auto& t = *tokens;
    if (t[0].IsWord("refresh") && t[1].IsWord("materialized") && t[2].IsWord("view")) {
      out.push_back(st);
      continue;
    }
    const sql::StatementInfo info = sql::Classify(st.text, dialect);
    const size_t n = t.size() - (t.back().kind == sql::TokenKind::kEnd ? 1 : 0);
    const bool no_data = n >= 3 && t[n - 3].IsWord("with") && t[n - 2].IsWord("no") && t[n - 1].IsWord("data");
    if (info.kind == sql::StatementKind::kCreateView && info.materialized && !no_data) {
      const std::string name = (info.schema.empty() ? "" : sql::QuoteIdentifier(info.schema) + ".") +
                               sql::QuoteIdentifier(info.object);
      out.push_back({"REFRESH MATERIALIZED VIEW " + name, st.line});
    }
  }
  return out;
}

/// Why `st` must run outside a transaction block, else "": the engines
/// refuse it there (VACUUM, the CONCURRENTLY forms of index builds, CREATE
/// DATABASE, ...), or SQLite ignores it there without an error (PRAGMA
/// journal_mode = ..., which keeps the mode it has).
std::string OutsideTransactionOnly(const sql::Statement& st, const sql::StatementInfo& info,
                                   sql::Dialect dialect) {
  using K = sql::StatementKind;
  constexpr std::string_view kRefused = " cannot run inside a transaction, and this script runs in one";
  if (info.concurrently && (info.kind == K::kCreateIndex || info.kind == K::kDropIndex)) {
    return (info.kind == K::kCreateIndex ? "CREATE INDEX CONCURRENTLY" : "DROP INDEX CONCURRENTLY") +
           std::string(kRefused);
  }
  auto tokens = sql::Tokenize(st.text, dialect);  // comments skipped
  if (!tokens.ok() || tokens->empty()) return "";
  const auto& t = *tokens;
  auto word = [&](size_t i, const char* w) { return i < t.size() && t[i].IsWord(w); };
  if (word(0, "vacuum")) return "VACUUM" + std::string(kRefused);
  if (word(0, "reindex") &&
      std::any_of(t.begin(), t.end(), [](const sql::Token& x) { return x.IsWord("concurrently"); })) {
    return "REINDEX CONCURRENTLY" + std::string(kRefused);
  }
  if ((word(0, "create") || word(0, "drop")) && (word(1, "database") || word(1, "tablespace"))) {
    return AsciiUpper(std::string(t[0].text)) + " " + AsciiUpper(std::string(t[1].text)) +
           std::string(kRefused);
  }
  if (word(0, "alter") && word(1, "system")) return "ALTER SYSTEM" + std::string(kRefused);
  // PRAGMA [schema.]journal_mode = v, or (v); the name maybe quoted.
  if (dialect == sql::Dialect::kSqlite && word(0, "pragma")) {
    const size_t at = t.size() > 4 && t[2].IsPunct('.') ? 3 : 1;
    auto name = [&](size_t i) {
      return i < t.size() && (t[i].kind == sql::TokenKind::kWord || t[i].kind == sql::TokenKind::kQuotedIdentifier) &&
             AsciiLower(sql::IdentifierName(t[i], dialect)) == "journal_mode";
    };
    auto sets = [&](size_t i) {
      return i < t.size() && ((t[i].kind == sql::TokenKind::kOperator && t[i].text == "=") || t[i].IsPunct('('));
    };
    if (name(at) && sets(at + 1)) {
      return "PRAGMA journal_mode does nothing in the transaction a migration runs in (SQLite keeps "
             "the mode it has, without an error)";
    }
  }
  return "";
}

/// kInvalidArgument naming the first statement of a script that runs in a
/// transaction which must run outside one.
Status RefuseOutsideTransactionOnly(const std::vector<sql::Statement>& script,
                                    const std::vector<sql::StatementInfo>& infos,
                                    const std::string& where, sql::Dialect dialect) {
  for (size_t i = 0; i < script.size(); ++i) {
    std::string why = OutsideTransactionOnly(script[i], infos[i], dialect);
    if (why.empty()) continue;
    return Status(Code::kInvalidArgument,
                  fmt::format("{}:{}: {}; put `-- strata:no-transaction` on the first line of the file "
                              "(its statements then run one by one; a failure part-way leaves it "
                              "in progress for `strata resolve`)",
                              where, script[i].line, why));
  }
  return Status::OK();
}

/// The transaction control word a statement starts with, in lower case
/// ("begin", "start", "commit", "end", "rollback", "abort"); "" for any other
/// statement and for ROLLBACK TO a savepoint, which leaves the transaction open.
std::string ControlWord(const sql::Statement& st, const sql::StatementInfo& info) {
  if (info.kind != sql::StatementKind::kTransactionControl) return "";
  std::string first = AsciiLower(info.summary.substr(0, info.summary.find(' ')));
  if (first == "rollback" && AsciiLower(st.text).find(" to ") != std::string::npos) return "";
  return first;
}

/// Whether `st` turns row-level security on for its table: ALTER TABLE ...
/// ENABLE or FORCE ROW LEVEL SECURITY (not NO FORCE).
bool TurnsOnRowSecurity(const sql::Statement& st, sql::Dialect dialect) {
  auto tokens = sql::Tokenize(st.text, dialect);
  if (!tokens.ok() || tokens->size() < 5 || !(*tokens)[0].IsWord("alter")) return false;
  const auto& t = *tokens;
  for (size_t i = 1; i + 3 < t.size(); ++i) {
    if ((t[i].IsWord("enable") || (t[i].IsWord("force") && !t[i - 1].IsWord("no"))) && t[i + 1].IsWord("row") &&
        t[i + 2].IsWord("level") && t[i + 3].IsWord("security")) {
      return true;
    }
  }
  return false;
}

/// A script that runs in the transaction Strata opens for it: BEGIN ...
/// COMMIT blocks (as files written for psql or sqitch have) are dropped
/// (from `infos`, its statements' classifications, too), since the script
/// is already atomic; transaction control anywhere else would end that
/// transaction part-way, and is refused, as is a statement the engine
/// refuses inside a transaction block.
Status Unwrap(std::vector<sql::Statement>& script, std::vector<sql::StatementInfo>& infos,
              const std::string& where, sql::Dialect dialect) {
  auto control = [&](size_t i, std::initializer_list<const char*> words) {
    std::string word = ControlWord(script[i], infos[i]);
    return std::any_of(words.begin(), words.end(), [&](const char* w) { return word == w; });
  };
  // BEGIN ... COMMIT blocks, one after another (statements between them
  // too, such as SQLite's PRAGMA foreign_keys = off before a table rebuild):
  // all of it runs in the migration's one transaction instead.
  std::vector<size_t> wrappers;
  bool open = false, balanced = true;
  for (size_t i = 0; i < script.size() && balanced; ++i) {
    if (control(i, {"begin", "start"}) && !open) {
      open = true;
    } else if (control(i, {"commit", "end"}) && open) {
      open = false;
    } else {
      balanced = infos[i].kind != sql::StatementKind::kTransactionControl ||
                 !control(i, {"begin", "start", "commit", "end", "rollback", "abort"});
      continue;
    }
    wrappers.push_back(i);
  }
  if (!balanced || open) {
    // Then only an outer wrapper goes, and what is inside is refused below.
    wrappers.clear();
    if (script.size() >= 2 && control(0, {"begin", "start"}) &&
        control(script.size() - 1, {"commit", "end"})) {
      wrappers = {0, script.size() - 1};
    }
  }
  for (auto it = wrappers.rbegin(); it != wrappers.rend(); ++it) {
    script.erase(script.begin() + static_cast<std::ptrdiff_t>(*it));
    infos.erase(infos.begin() + static_cast<std::ptrdiff_t>(*it));
  }
  // The token line of a statement from `from` on whose last word is COMMIT:
  // written without a ';' before it, it ended that statement, not the block.
  auto commit_run_on = [&](size_t from) -> std::optional<int> {
    for (size_t i = from; i < script.size(); ++i) {
      auto tokens = sql::Tokenize(script[i].text, dialect);
      if (!tokens.ok()) continue;
      for (auto t = tokens->rbegin(); t != tokens->rend(); ++t) {
        if (t->kind == sql::TokenKind::kEnd) continue;
        if (t->kind == sql::TokenKind::kWord && AsciiLower(std::string(t->text)) == "commit") {
          return script[i].line + t->line - 1;
        }
        break;
      }
    }
    return std::nullopt;
  };
  for (size_t i = 0; i < script.size(); ++i) {
    if (control(i, {"begin", "start"}) && i + 1 < script.size()) {
      if (std::optional<int> line = commit_run_on(i + 1)) {
        return Status(Code::kInvalidArgument,
                      fmt::format("{}:{}: {} opens a block that no COMMIT closes: the COMMIT at "
                                  "line {} ends the statement before it, for want of a ';' there",
                                  where, script[i].line, infos[i].summary, *line));
      }
    }
    if (control(i, {"begin", "start", "commit", "end", "rollback", "abort"})) {
      return Status(Code::kInvalidArgument,
                    fmt::format("{}:{}: {} would end the transaction the script runs in, so a "
                                "failure after it could leave the migration half applied; remove "
                                "it (each migration runs in one transaction), or mark the file "
                                "-- strata:no-transaction and manage transactions yourself",
                                where, script[i].line, infos[i].summary));
    }
  }
  return RefuseOutsideTransactionOnly(script, infos, where, dialect);
}

/// kInvalidArgument naming the first statement of `script` that is psql
/// input rather than SQL: a meta-command (`\connect`, pg_dump's
/// `\restrict`) or COPY ... FROM STDIN, whose rows psql streams (or TO
/// STDOUT, whose rows psql prints: Strata reads none, and the server would
/// go on and commit the rest of the step).
Status RefusePsqlInput(const std::vector<sql::Statement>& script, const std::string& where,
                       sql::Dialect dialect) {
  for (const sql::Statement& st : script) {
    std::string_view text = st.text;
    size_t start = text.find_first_not_of(" \t\r\n");
    if (start != std::string_view::npos && text[start] == '\\') {
      std::string command(text.substr(start, text.find_first_of(" \t\r\n", start) - start));
      return Status(Code::kInvalidArgument,
                    fmt::format("{}:{}: {} is a psql command, not SQL, and Strata sends SQL to the "
                                "server; remove it (pg_dump 15.14 and later write \\restrict and "
                                "\\unrestrict lines)",
                                where, st.line, command));
    }
    const bool backslash = text.find('\\') != std::string_view::npos;
    const bool copy = start != std::string_view::npos &&
                      AsciiLower(std::string(text.substr(start, 4))) == "copy";
    if (!backslash && !copy) continue;
    auto tokens = sql::Tokenize(text, dialect);
    if (!tokens.ok() || tokens->empty()) continue;
    // A meta-command after SQL on its line (`SELECT .. \gexec`, `\gset`):
    // outside strings and comments, a backslash is psql's, never SQL.
    for (size_t i = 0; backslash && i < tokens->size(); ++i) {
      if (!(*tokens)[i].IsPunct('\\')) continue;
      std::string command = "\\";
      if (i + 1 < tokens->size() && (*tokens)[i + 1].offset == (*tokens)[i].end()) {
        command += std::string((*tokens)[i + 1].text);
      }
      return Status(Code::kInvalidArgument,
                    fmt::format("{}:{}: {} is a psql command, not SQL, and Strata sends SQL to the "
                                "server; write the statement it stands for in SQL (for \\gexec, "
                                "the statements it would generate, or a DO block that runs them)",
                                where, st.line + (*tokens)[i].line - 1, command));
    }
    if (!(*tokens)[0].IsWord("copy")) continue;
    for (size_t i = 1; i + 1 < tokens->size(); ++i) {
      // PostgreSQL reads either word after either direction as the client.
      const bool client = (*tokens)[i + 1].IsWord("stdin") || (*tokens)[i + 1].IsWord("stdout");
      if ((*tokens)[i].IsWord("from") && client) {
        return Status(Code::kInvalidArgument,
                      fmt::format("{}:{}: COPY ... FROM STDIN reads its rows from psql's input, "
                                  "which Strata does not send; write the rows as INSERT "
                                  "statements (pg_dump --inserts), or COPY from a file the "
                                  "server can read",
                                  where, st.line));
      }
      if ((*tokens)[i].IsWord("to") && client) {
        return Status(Code::kInvalidArgument,
                      fmt::format("{}:{}: COPY ... TO STDOUT writes its rows to psql's output, "
                                  "which Strata does not show; remove it, or COPY to a file the "
                                  "server can write",
                                  where, st.line));
      }
    }
  }
  return Status::OK();
}

/// Unwrap for a script whose classifications are not needed otherwise.
Status Unwrap(std::vector<sql::Statement>& script, const std::string& where, sql::Dialect dialect) {
  std::vector<sql::StatementInfo> infos = Classified(script, dialect);
  return Unwrap(script, infos, where, dialect);
}

/// A migration ready to run: its statements and its way back.
struct Prepared {
  std::string up_text;  // the up script with its placeholders replaced, as it runs
  std::vector<sql::Statement> up;
  size_t up_left_out = 0;  // the up script's own BEGIN/COMMIT statements, unwrapped
  std::vector<sql::StatementInfo> info;  // of each up statement
  std::vector<sql::Statement> verify;
  std::string down_script;
  /// The line of its file down_script starts at: a dbmate or goose file's
  /// down section is below its up section (1 otherwise).
  int down_first_line = 1;
  std::string down_source;  // "file", "derived" or "none"
  std::string irreversible;  // when down_source is "none": the refusal, for the user
};

/// Where unqualified names of the statements after `st` resolve when `st`
/// changes that: the first schema of a search_path it sets (PostgreSQL `SET
/// search_path`, `SET SCHEMA`, `set_config('search_path', ..)`; "" when it
/// puts back the default or sets none), or, for SQLite's ATTACH, the name of
/// the database it attaches (whose tables unqualified names reach when main
/// has none of that name). nullopt when it changes neither.
std::optional<std::string> NamesResolveIn(const sql::Statement& st, sql::Dialect dialect) {
  auto tokens = sql::Tokenize(st.text, dialect);
  if (!tokens.ok() || tokens->empty()) return std::nullopt;
  const std::vector<sql::Token>& t = *tokens;
  auto unquote = [](std::string_view text) {
    if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'')) {
      text = text.substr(1, text.size() - 2);
    }
    return std::string(text);
  };
  if (dialect == sql::Dialect::kSqlite) {
    if (!t[0].IsWord("attach")) return std::nullopt;
    for (size_t i = 1; i + 1 < t.size(); ++i) {
      if (t[i].IsWord("as")) return unquote(t[i + 1].text);
    }
    return std::nullopt;
  }
  size_t at = t.size();
  for (size_t i = 0; i < t.size(); ++i) {
    const bool names_path = t[i].IsWord("search_path") ||
                            (t[i].kind == sql::TokenKind::kString &&
                             AsciiLower(unquote(t[i].text)) == "search_path") ||
                            (i == 1 && t[0].IsWord("set") && t[i].IsWord("schema"));
    if (names_path) {
      at = i + 1;
      break;
    }
  }
  if (at == t.size() && !(t[0].IsWord("reset") && t.size() > 1 && t[1].IsWord("all"))) {
    return std::nullopt;
  }
  if (t[0].IsWord("reset") || t[0].IsWord("discard")) return std::string();
  for (size_t i = at; i < t.size(); ++i) {
    if (t[i].IsWord("to") || t[i].kind == sql::TokenKind::kOperator ||
        t[i].kind == sql::TokenKind::kPunct) {
      continue;
    }
    if (t[i].IsWord("default")) return std::string();
    // A set_config value is one string of the whole list: its first entry.
    std::string first = unquote(t[i].text);
    if (t[i].kind == sql::TokenKind::kString) {
      std::string list = first;
      first.clear();
      for (size_t start = 0; start <= list.size();) {
        size_t comma = std::min(list.find(',', start), list.size());
        std::string entry(Trim(std::string_view(list).substr(start, comma - start)));
        start = comma + 1;
        if (entry.empty() || entry == "\"$user\"" || entry == "$user") continue;
        first = unquote(entry);
        break;
      }
      return first;
    }
    if (first == "$user") continue;
    return t[i].kind == sql::TokenKind::kWord ? AsciiLower(first) : first;
  }
  return std::string();
}

/// The refusal `up` meets at the first destructive statement of `p` whose
/// schema qualifier names a schema other than the managed one (`managed`),
/// or whose unqualified table an earlier statement sent elsewhere
/// (NamesResolveIn), found before anything runs (a snapshot, earlier
/// migrations); nullopt when there is none. A table the migration itself
/// creates there first holds nothing from before it.
std::optional<std::string> OutsideManagedSchema(const Migration& m, const Prepared& p,
                                                const std::string& managed, sql::Dialect dialect) {
  std::set<std::string> created;
  // Set when a statement sends unqualified names elsewhere than the managed
  // schema: what the capture of a later statement could not follow.
  std::string elsewhere;
  int moved_at = 0;
  for (size_t i = 0; i < p.info.size(); ++i) {
    const sql::StatementInfo& info = p.info[i];
    const std::string table = info.table.empty() ? info.object : info.table;
    if (auto resolves = NamesResolveIn(p.up[i], dialect)) {
      const bool away = !resolves->empty() && AsciiLower(*resolves) != AsciiLower(managed);
      elsewhere = away ? *resolves : "";
      moved_at = away ? p.up[i].line : 0;
    }
    if (info.kind == sql::StatementKind::kCreateTable && info.temporary) {
      for (const char* temp : {"temp.", "pg_temp."}) created.insert(temp + AsciiLower(table));
    }
    if (info.schema.empty()) {
      if (elsewhere.empty() || !info.destructive) continue;
      if (info.kind == sql::StatementKind::kCreateTable) continue;
      const bool attached = dialect == sql::Dialect::kSqlite;
      return fmt::format(
          "migration {}: {}:{}: {} by an unqualified name after line {} {} '{}', so it may act "
          "on a table there; Strata captures and checks only the schema it manages ('{}'), so "
          "a rollback could not restore what it removes. Qualify the name ({}.{}), or pass "
          "--allow-irreversible to apply it without a way back",
          m.id(), m.up_path, p.up[i].line, info.summary, moved_at,
          attached ? "attaches database" : "sets search_path to schema", elsewhere, managed,
          managed, table);
    }
    const std::string key = AsciiLower(info.schema) + "." + AsciiLower(table);
    if (info.kind == sql::StatementKind::kCreateTable) created.insert(key);
    if (!info.destructive || AsciiLower(info.schema) == AsciiLower(managed) || created.count(key)) {
      continue;
    }
    return fmt::format("migration {}: {}:{}: {}", m.id(), m.up_path, p.up[i].line,
                       OutsideSchemaRefusal(info, info.schema));
  }
  return std::nullopt;
}

/// Why `up` would refuse a statement of `m` whatever the database holds
/// (NeverCapturable), for validate and `up --dry-run` to say beforehand.
std::optional<std::string> NeverCapturableIn(const Migration& m, const Prepared& p) {
  for (size_t i = 0; i < p.info.size(); ++i) {
    if (auto never = NeverCapturable(p.info[i])) {
      return fmt::format("migration {}: {}:{}: {}", m.id(), m.up_path, p.up[i].line, *never);
    }
  }
  return std::nullopt;
}

/// Whether `info` drops column `column` of `table` (alone or among other
/// actions of its ALTER TABLE).
bool DropsColumn(const sql::StatementInfo& info, const std::string& table, const std::string& column,
                 sql::Dialect dialect) {
  return info.kind == sql::StatementKind::kDropColumn &&
         sql::NameKey(info.table, dialect) == sql::NameKey(table, dialect) &&
         std::any_of(info.columns.begin(), info.columns.end(), [&](const std::string& c) {
           return sql::NameKey(c, dialect) == sql::NameKey(column, dialect);
         });
}

/// A warning when the up script of `m` drops a column that its down file
/// does not add back (nor rebuild its table): the values captured before
/// the drop would have no column to go back into, and `down` would fail.
std::optional<std::string> DroppedColumnsNotAddedBack(const Migration& m, const Prepared& p,
                                                      sql::Dialect dialect) {
  using K = sql::StatementKind;
  auto split = sql::SplitStatements(p.down_script, dialect);
  if (!split.ok()) return std::nullopt;
  std::vector<sql::StatementInfo> down;
  for (const auto& st : *split) down.push_back(sql::Classify(st.text, dialect));
  auto same = [&](const std::string& a, const std::string& b) {
    return sql::NameKey(a, dialect) == sql::NameKey(b, dialect);
  };
  auto added_back = [&](const std::string& table, const std::string& column) {
    return std::any_of(down.begin(), down.end(), [&](const sql::StatementInfo& d) {
      // ADD COLUMN, alone or among other actions (ALTER TABLE .. DROP
      // COLUMN full_name, ADD COLUMN name): each is in `added`.
      if (same(d.table, table) &&
          std::any_of(d.added.begin(), d.added.end(), [&](const sql::AddedColumn& a) { return same(a.name, column); })) {
        return true;
      }
      // A rebuild: the table made anew, or another renamed to its name.
      return (d.kind == K::kCreateTable && same(d.object, table)) ||
             (d.kind == K::kRenameTable && same(d.new_name, table)) || d.kind == K::kOther;
    });
  };
  // The column's name before the up script (the values go back under it):
  // renames before the drop followed back; "" when the script added it.
  auto name_before = [&](size_t i, const std::string& table, std::string column) {
    for (size_t j = i; j-- > 0;) {
      const sql::StatementInfo& e = p.info[j];
      if (!same(e.table, table)) continue;
      if (e.kind == K::kRenameColumn && same(e.new_name, column)) column = e.column;
      const bool added = std::any_of(e.added.begin(), e.added.end(),
                                     [&](const sql::AddedColumn& a) { return same(a.name, column); });
      if (added) return std::string();
    }
    return column;
  };
  // A column of that name the up script added (after renaming the old one
  // away: n8n's integer keys made strings) that the down script keeps, as it
  // changes its type back, say: the values go back into it.
  auto kept_by_down = [&](const std::string& table, const std::string& column) {
    const bool added = std::any_of(p.info.begin(), p.info.end(), [&](const sql::StatementInfo& e) {
      return same(e.table, table) && std::any_of(e.added.begin(), e.added.end(),
                                                 [&](const sql::AddedColumn& a) { return same(a.name, column); });
    });
    const bool removed = std::any_of(down.begin(), down.end(), [&](const sql::StatementInfo& d) {
      if (d.kind == K::kRenameColumn) return same(d.table, table) && same(d.column, column);
      return DropsColumn(d, table, column, dialect);
    });
    return added && !removed;
  };
  for (size_t i = 0; i < p.info.size(); ++i) {
    const sql::StatementInfo& up = p.info[i];
    if (up.kind != K::kDropColumn) continue;
    // Made by the script before the drop: a new table has no values to
    // lose; one made IF NOT EXISTS has them only if it was there before.
    const auto created = std::find_if(p.info.begin(), p.info.begin() + static_cast<std::ptrdiff_t>(i),
                                      [&](const sql::StatementInfo& e) {
                                        return e.kind == K::kCreateTable && same(e.object, up.table);
                                      });
    const bool made = created != p.info.begin() + static_cast<std::ptrdiff_t>(i);
    if (made && !created->if_not_exists) continue;
    for (const std::string& dropped : up.columns) {
      const std::string column = name_before(i, up.table, dropped);
      if (column.empty() || added_back(up.table, column) || kept_by_down(up.table, column)) continue;
      return fmt::format("{}: {}:{}: drops column {}.{}{}, and the down file does not add it back: "
                         "{}the values captured before the drop would have no column to go back "
                         "into, so `strata down` would fail; add it back in {} (ALTER TABLE {} ADD "
                         "COLUMN {} ...)",
                         m.id(), m.up_path, p.up[i].line, up.table, dropped,
                         column == dropped ? "" : fmt::format(" (column {} before the migration)", column),
                         made ? fmt::format("if table {} is there before the migration with that "
                                            "column (line {} creates it only if not), ",
                                            up.table, p.up[created - p.info.begin()].line)
                              : "",
                         m.down_path.empty() ? "the down file" : m.down_path, up.table, column);
    }
  }
  return std::nullopt;
}

/// A warning when rolling `m` back alone cannot pass its check: its down
/// file has no statements and its up script changes the schema (the change
/// would stay), or its up script has none and its down file has some (the
/// rollback would change what the migration left as it was).
std::optional<std::string> DownThatCannotPass(const Migration& m, const Prepared& p, sql::Dialect dialect) {
  using K = sql::StatementKind;
  auto split = sql::SplitStatements(p.down_script, dialect);
  if (!split.ok()) return std::nullopt;
  const std::string down_file = m.down_path.empty() ? "the down file" : m.down_path;
  if (p.info.empty() && !split->empty()) {
    return fmt::format("{}: its up script has no statements and {} has {}: rolling {} back alone "
                       "must change nothing, so `strata down` would fail its check; a change split "
                       "over several versions rolls back with one down script, in the version whose "
                       "up script makes the change",
                       m.id(), down_file, split->size(), m.id());
  }
  if (!split->empty()) return std::nullopt;
  auto same = [&](const std::string& a, const std::string& b) {
    return sql::NameKey(a, dialect) == sql::NameKey(b, dialect);
  };
  // Whether statement `b` undoes `a` before it: what `a` made dropped,
  // what it added dropped, what it renamed renamed back.
  auto undoes = [&](const sql::StatementInfo& a, const sql::StatementInfo& b) {
    switch (a.kind) {
      case K::kAddColumn:
        return b.kind == K::kDropColumn && same(a.table, b.table) &&
               std::all_of(a.added.begin(), a.added.end(), [&](const sql::AddedColumn& added) {
                 return DropsColumn(b, a.table, added.name, dialect);
               });
      case K::kRenameTable:
        return b.kind == K::kRenameTable && same(b.object, a.new_name) && same(b.new_name, a.object);
      case K::kRenameColumn:
        return b.kind == K::kRenameColumn && same(a.table, b.table) && same(b.column, a.new_name) &&
               same(b.new_name, a.column);
      case K::kCreateTable: case K::kCreateIndex: case K::kCreateView: case K::kCreateTrigger:
      case K::kCreateSequence: case K::kCreateType: case K::kCreateFunction:
        return (b.kind == K::kDropTable || b.kind == K::kDropIndex || b.kind == K::kDropView ||
                b.kind == K::kDropTrigger || b.kind == K::kDropOther) &&
               same(a.object, b.object);
      default:
        return false;
    }
  };
  // One of such a pair changes nothing in the end.
  auto paired = [&](size_t i) {
    for (size_t j = 0; j < p.info.size(); ++j) {
      if ((j > i && undoes(p.info[i], p.info[j])) || (j < i && undoes(p.info[j], p.info[i]))) return true;
    }
    return false;
  };
  // The statements that rebuild a table: renamed away, made again under
  // its name and the old one dropped (T -> old, CREATE T, DROP old), or
  // SQLite's way (CREATE new, DROP T, new -> T). An empty down script
  // leaves the new table, which is no change if it is defined as the old
  // one was: only the database can tell.
  std::set<size_t> rebuilding;
  std::string rebuilt_note;
  auto find_after = [&](size_t from, K kind, const std::string& name) {
    for (size_t j = from + 1; j < p.info.size(); ++j) {
      const sql::StatementInfo& b = p.info[j];
      if (b.kind == kind && same(b.object.empty() ? b.table : b.object, name)) return j;
    }
    return p.info.size();
  };
  for (size_t i = 0; i < p.info.size(); ++i) {
    const sql::StatementInfo& a = p.info[i];
    std::string table;
    std::vector<size_t> parts{i};
    if (a.kind == K::kRenameTable) {
      const size_t made = find_after(i, K::kCreateTable, a.object);
      const size_t dropped = find_after(i, K::kDropTable, a.new_name);
      if (made < p.info.size() && dropped < p.info.size()) {
        table = a.object;
        parts.insert(parts.end(), {made, dropped});
      }
    } else if (a.kind == K::kCreateTable) {
      for (size_t j = i + 1; j < p.info.size() && table.empty(); ++j) {
        const sql::StatementInfo& r = p.info[j];
        const size_t dropped = r.kind == K::kRenameTable && same(r.object, a.object)
                                   ? find_after(i, K::kDropTable, r.new_name)
                                   : p.info.size();
        if (dropped < j) {
          table = r.new_name;
          parts.insert(parts.end(), {j, dropped});
        }
      }
    }
    if (table.empty() || rebuilding.count(i)) continue;
    rebuilding.insert(parts.begin(), parts.end());
    if (rebuilt_note.empty()) {
      rebuilt_note = fmt::format(
          "{}: {} has no statements, but {}:{} begins rebuilding table {}: rolling back leaves the "
          "rebuilt table in place, so `strata down` passes its check only if it is defined exactly "
          "as before (a rebuild that changes a column, constraint or index needs a down script "
          "that rebuilds it back)",
          m.id(), down_file, m.up_path, p.up[i].line, table);
    }
  }
  for (size_t i = 0; i < p.info.size(); ++i) {
    const sql::StatementInfo& info = p.info[i];
    const bool schema = info.kind != K::kInsert && info.kind != K::kUpdate && info.kind != K::kDelete &&
                        info.kind != K::kTruncate && info.kind != K::kSelect &&
                        info.kind != K::kTransactionControl && info.kind != K::kOther &&
                        info.kind != K::kAlterOther;
    // One that may find its work done (IF [NOT] EXISTS) may change nothing.
    if (!schema || info.if_exists || info.if_not_exists || info.temporary || paired(i) ||
        rebuilding.count(i)) {
      continue;
    }
    return fmt::format("{}: {} has no statements, but {}:{} {}: rolling back would leave that "
                       "change in place, so `strata down` would fail its check; write the down "
                       "script that undoes it, or delete the down file to have Strata derive one "
                       "(or refuse the migration as irreversible)",
                       m.id(), down_file, m.up_path, p.up[i].line,
                       info.summary.empty() ? "changes the schema" : info.summary);
  }
  if (!rebuilt_note.empty()) return rebuilt_note;
  return std::nullopt;
}

/// The history row of `m` applied by `actor`, as far as the file says.
AppliedMigration RowOf(const Migration& m, const std::string& actor) {
  AppliedMigration row;
  row.version = m.version;
  row.version_text = m.version_text;
  row.name = m.name;
  row.checksum = m.checksum;
  row.up_script = m.up_sql;
  row.applied_by = actor;
  row.no_transaction = m.directives.no_transaction;
  return row;
}

using Placeholders = std::map<std::string, std::string>;

/// The values of a Flyway directory's placeholders (none for other layouts):
/// the user's, and Flyway's built-in ones the user did not set
/// (flyway:filename is each script's own, see Replaced). Without a database
/// (file-only commands), the database's names stand in as
/// flyway_default_schema and so on: good for reading the scripts, not for
/// running them.
Result<Placeholders> PlaceholderValues(const std::vector<Migration>& migrations, Database* db,
                                       const Placeholders& given) {
  if (std::none_of(migrations.begin(), migrations.end(),
                   [](const Migration& m) { return m.layout == Layout::kFlyway; })) {
    return Placeholders{};
  }
  Placeholders out = given;
  std::string schema = "flyway_default_schema", user = "flyway_user", database = "flyway_database";
  if (db != nullptr && db->engine() == Engine::kSqlite) {
    schema = database = "main";
    user = "";
  } else if (db != nullptr) {
    STRATA_ASSIGN_OR_RETURN(
        Rows rows, db->Query("SELECT current_schema(), current_user, current_database()", {}));
    schema = rows.rows[0][0].ToString();
    user = rows.rows[0][1].ToString();
    database = rows.rows[0][2].ToString();
  }
  char now[32];
  const std::time_t t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  std::strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S", &local);
  std::error_code ec;
  for (auto [name, value] : {std::pair<const char*, std::string>{"flyway:defaultSchema", schema},
                             {"flyway:user", user},
                             {"flyway:database", database},
                             {"flyway:timestamp", now},
                             {"flyway:workingDirectory", std::filesystem::current_path(ec).string()}}) {
    out.emplace(name, std::move(value));
  }
  return out;
}

/// `text` of the script `path` with its placeholders replaced when `m` is
/// in a Flyway directory (Flyway's semantics; other layouts have none).
Result<std::string> Replaced(const Migration& m, std::string text, const std::string& path,
                             const Placeholders& values, int first_line = 1) {
  if (m.layout != Layout::kFlyway || text.find("${") == std::string::npos) return text;
  Placeholders own = values;
  own.emplace("flyway:filename", std::filesystem::path(path).filename().string());
  auto replaced = ReplacePlaceholders(text, own);
  if (!replaced.ok()) return AtFileLine(replaced.status(), path, first_line);
  return std::move(replaced).value();
}

/// Whether `infos` are UPDATEs and DELETEs only, which write no row that a
/// capture of what they change does not put back (no upsert: its new rows
/// stay).
bool OnlyUpdatesAndDeletes(const std::vector<sql::StatementInfo>& infos) {
  return !infos.empty() && std::all_of(infos.begin(), infos.end(), [](const sql::StatementInfo& i) {
    return (i.kind == sql::StatementKind::kUpdate || i.kind == sql::StatementKind::kDelete) &&
           i.destructive;
  });
}

/// A verify script checks what the up script did; one that writes or
/// changes the schema would keep its changes uncaptured, and the rollback
/// of its migration would not undo them. So would what no transaction
/// undoes: a sequence moved (setval, nextval), a SQLite pragma set.
Status RefuseVerifyWrites(const std::vector<sql::Statement>& verify,
                          const std::vector<sql::StatementInfo>& infos, const std::string& where,
                          sql::Dialect dialect) {
  using K = sql::StatementKind;
  auto refuse = [&](const sql::Statement& st, const std::string& what) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{}:{}: this statement {}, but a verify script only checks what "
                              "the up script did: what it changed would be kept uncaptured, and "
                              "no rollback would undo it. Move it into the up script",
                              where, st.line, what));
  };
  // A temporary table is the session's own: SQLite, which has no ASSERT,
  // checks by inserting a count into one with a CHECK constraint.
  std::set<std::string> temporary;  // lower case, made by the script and not dropped since
  auto is_temporary = [&](const std::string& schema, const std::string& table) {
    const std::string s = AsciiLower(schema);
    return s == "temp" || s == "pg_temp" || (schema.empty() && temporary.count(AsciiLower(table)));
  };
  // SQLite's pragmas that only read, whatever their argument.
  static const std::set<std::string> kReadingPragmas = {
      "foreign_key_check", "foreign_key_list", "index_info", "index_list", "index_xinfo",
      "integrity_check", "quick_check", "table_info", "table_list", "table_xinfo"};
  for (size_t i = 0; i < verify.size() && i < infos.size(); ++i) {
    const sql::StatementInfo& info = infos[i];
    auto tokens = sql::Tokenize(verify[i].text, dialect);
    if (tokens.ok() && !tokens->empty()) {
      const std::vector<sql::Token>& t = *tokens;
      for (size_t k = 0; k + 1 < t.size(); ++k) {
        if ((t[k].IsWord("setval") || t[k].IsWord("nextval")) && t[k + 1].IsPunct('(')) {
          return refuse(verify[i], "moves a sequence (" + AsciiLower(t[k].text) + "), which no rollback undoes");
        }
      }
      if (t[0].IsWord("CALL")) return refuse(verify[i], "calls a procedure, which may write");
      if (t[0].IsWord("PRAGMA") && dialect == sql::Dialect::kSqlite) {
        // PRAGMA [schema.]name [= value | (argument)]
        size_t name = t.size() > 3 && t[2].IsPunct('.') ? 3 : 1;
        const bool sets = std::any_of(t.begin(), t.end(), [](const sql::Token& x) { return x.text == "="; });
        const bool argument = name + 1 < t.size() && t[name + 1].IsPunct('(');
        if (sets || (argument && name < t.size() && !kReadingPragmas.count(AsciiLower(t[name].text)))) {
          return refuse(verify[i], "sets a SQLite pragma, which no transaction undoes");
        }
      }
    }
    if (info.temporary) {  // CREATE TEMP TABLE, VIEW, TRIGGER; SELECT INTO TEMP
      if (info.kind == K::kCreateTable) temporary.insert(AsciiLower(info.object));
      continue;
    }
    if (info.kind == K::kDropTable && !info.objects.empty() &&
        std::all_of(info.objects.begin(), info.objects.end(),
                    [&](const sql::ObjectName& o) { return is_temporary(o.schema, o.name); })) {
      for (const auto& o : info.objects) temporary.erase(AsciiLower(o.name));
      continue;
    }
    // An index, a column, rows of one of them (of one table only: DROP
    // and TRUNCATE may name several).
    const std::string& table = info.table.empty() && info.objects.size() == 1 ? info.objects[0].name : info.table;
    const std::string& schema = info.table.empty() && info.objects.size() == 1 ? info.objects[0].schema : info.schema;
    if (info.kind != K::kDropTable && info.objects.size() <= 1 && !table.empty() &&
        is_temporary(schema, table) && info.writes.empty()) {
      continue;
    }
    // SAVEPOINT and its kin (Unwrap refused what would end the transaction).
    const bool reads = info.kind == K::kSelect || info.kind == K::kTransactionControl ||
                       (info.kind == K::kOther && info.writes.empty() && !info.body_ddl &&
                        !info.dynamic_rewrites);
    if (!reads) return refuse(verify[i], info.summary);
  }
  return Status::OK();
}

Result<Prepared> Prepare(Migration& m, sql::Dialect dialect, const Placeholders& values) {
  Prepared p;
  STRATA_RETURN_IF_ERROR(ReadUpScript(m));  // unread when the checksum cache vouched for it
  STRATA_ASSIGN_OR_RETURN(p.up_text, Replaced(m, m.up_sql, m.up_path, values));
  STRATA_ASSIGN_OR_RETURN(p.up, Split(p.up_text, m.up_path, dialect));
  STRATA_RETURN_IF_ERROR(RefusePsqlInput(p.up, m.up_path, dialect));
  p.info = Classified(p.up, dialect);
  p.up_left_out = p.up.size();
  if (!m.directives.no_transaction) {
    STRATA_RETURN_IF_ERROR(Unwrap(p.up, p.info, m.up_path, dialect));
  }
  p.up_left_out -= p.up.size();
  if (m.has_verify()) {
    STRATA_ASSIGN_OR_RETURN(std::string verify, ReadScript(m.verify_path));
    // It runs as part of its migration, under the up script's directives.
    auto directives = ParseDirectives(verify);
    if (!directives.ok()) return AtFileLine(directives.status(), m.verify_path, 1);
    if (directives->no_transaction || directives->timeout.count() > 0 ||
        directives->lock_timeout.count() > 0) {
      return Status(Code::kInvalidArgument,
                    fmt::format("{}: a verify script runs as part of its migration, under the "
                                "directives of its up script (whose timeouts bound the verify "
                                "statements too); move the directive into {}",
                                m.verify_path, m.up_path));
    }
    STRATA_ASSIGN_OR_RETURN(p.verify, Split(verify, m.verify_path, dialect));
    STRATA_RETURN_IF_ERROR(RefusePsqlInput(p.verify, m.verify_path, dialect));
    // BEGIN; ... ROLLBACK; (as Sqitch writes verify scripts): the checks
    // without their wrapper, which would end the migration's transaction.
    std::vector<sql::StatementInfo> infos = Classified(p.verify, dialect);
    if (p.verify.size() >= 2) {
      std::string first = ControlWord(p.verify.front(), infos.front());
      if ((first == "begin" || first == "start") &&
          ControlWord(p.verify.back(), infos.back()) == "rollback") {
        p.verify.pop_back();
        infos.pop_back();
        p.verify.erase(p.verify.begin());
        infos.erase(infos.begin());
      }
    }
    STRATA_RETURN_IF_ERROR(Unwrap(p.verify, infos, m.verify_path, dialect));
    STRATA_RETURN_IF_ERROR(RefuseVerifyWrites(p.verify, infos, m.verify_path, dialect));
    // What it changes all the same (a function a SELECT calls, a GRANT) is
    // undone once it has run: nothing captured it, no rollback would.
    if (!m.directives.no_transaction && !p.verify.empty()) {
      const int line = p.verify.front().line;
      p.verify.insert(p.verify.begin(), {"SAVEPOINT strata_verify", line});
      p.verify.push_back({"ROLLBACK TO SAVEPOINT strata_verify", line});
      p.verify.push_back({"RELEASE SAVEPOINT strata_verify", line});
    }
    // The statements keep their own text; `verify` may go.
  }
  if (m.has_down()) {
    STRATA_ASSIGN_OR_RETURN(DownScript file, ReadDownScript(m));
    STRATA_ASSIGN_OR_RETURN(p.down_script,
                            Replaced(m, std::move(file.text), m.down_path, values, file.first_line));
    p.down_first_line = file.first_line;
    STRATA_ASSIGN_OR_RETURN(auto down, Split(p.down_script, m.down_path, dialect, file.first_line));
    STRATA_RETURN_IF_ERROR(RefusePsqlInput(down, m.down_path, dialect));
    auto directives = ParseDirectives(p.down_script);
    if (!directives.ok()) return AtFileLine(directives.status(), m.down_path, file.first_line);
    if (!directives->no_transaction) {
      STRATA_RETURN_IF_ERROR(Unwrap(down, m.down_path, dialect));
    }
    // A down file with no statement (the one `strata new` writes, left as it
    // is) undoes nothing. That is right for an up script that only writes
    // rows (the captured data brings them back), but for one whose every
    // statement has a certain inverse it is a rollback bound to fail its
    // check, stored for good: the derived inverse is the way back then.
    const bool derive_instead = down.empty() && !p.up.empty() &&
                                sql::DeriveInverse(p.up, dialect).reversible;
    if (!derive_instead) {
      p.down_source = "file";
      return p;
    }
  }
  sql::Inverse inverse = sql::DeriveInverse(p.up, dialect);
  // dbmate and goose write both markers into every file, so a data
  // migration's down section is left empty there as its down file would be
  // in Strata's layout, and means the same: the rows captured before its
  // UPDATEs and DELETEs are the way back. (Any other statement needs a down
  // script or a derived inverse: an INSERT's rows or a DROP's structure are
  // not brought back by captured data alone.) An Atlas directory has no
  // place for a down script at all, and the same holds there.
  const bool captures_suffice = IsSectioned(m.layout) || m.layout == Layout::kAtlas;
  if (!inverse.reversible && captures_suffice && OnlyUpdatesAndDeletes(p.info)) {
    p.down_source = "file";
    return p;
  }
  if (!inverse.reversible && captures_suffice) {
    // Its UPDATEs and DELETEs are not what lacks a way back: name the first
    // of the other statements that does.
    std::vector<sql::Statement> others;
    for (size_t i = 0; i < p.up.size(); ++i) {
      if (!OnlyUpdatesAndDeletes({p.info[i]})) others.push_back(p.up[i]);
    }
    sql::Inverse rest = sql::DeriveInverse(others, dialect);
    if (!rest.reversible) inverse.reason = rest.reason;
  }
  if (inverse.reversible) {
    p.down_script = m.directives.no_transaction
                        ? "-- strata:no-transaction\n" + inverse.down_script
                        : inverse.down_script;
    p.down_source = "derived";
  } else {
    p.down_source = "none";
    // A data migration's way back is what it changes, captured: an empty
    // down file says so (hunt87 #2: the message asked for an inverse
    // UPDATE, which cannot be written).
    const std::string empty_will_do =
        OnlyUpdatesAndDeletes(p.info)
            ? " (an empty one will do: the rows and values its UPDATEs and DELETEs change are "
              "captured as it runs and put back by a rollback)"
            : "";
    p.irreversible = fmt::format(
        "migration {}: down script missing and the up script cannot be undone automatically: {}; "
        "{}{} or pass --allow-irreversible",
        m.id(), inverse.reason, HowToAddDown(m), empty_will_do);
  }
  return p;
}

/// How the down file of `p` differs from the down script history `stored`
/// (which `down` runs), as a line diff; nullopt when it does not, or when the
/// migration has no down file now (a deleted one leaves the stored script).
std::optional<std::string> DownFileChange(const Prepared& p, const AppliedMigration& stored) {
  if (p.down_source != "file") return std::nullopt;
  std::string was = NormalizeScript(stored.down_script), now = NormalizeScript(p.down_script);
  if (was != now) return LineDiff(was, now);
  // An empty down file written for one stored without a way back is a
  // change all the same (`up` would take it as the way back).
  if (stored.down_source == "none") return std::string("(an empty down file, where none was stored)\n");
  return std::nullopt;
}

/// What a migration touches, for its fingerprints: the tables it names (with
/// their indexes and triggers), or the whole schema when it has statements
/// whose objects Strata cannot place on a table.
struct Scope {
  bool whole = false;
  std::vector<std::string> tables;
  const std::vector<std::string>* filter() const { return whole ? nullptr : &tables; }
};

/// The tables the INSERTs of `p` write through views (PostgreSQL's
/// automatically updatable ones), for the rollback check to cover as it
/// covers a table written directly. An INSERT into a view whose own INSTEAD
/// OF triggers or rules do the writing is refused, as its DELETE and UPDATE
/// are (what they write is not known), unless `allow_irreversible`.
Result<std::vector<std::string>> TablesUnderViews(Database& db, const Prepared& p,
                                                  const std::string& id, bool allow_irreversible) {
  std::vector<std::string> out;
  for (size_t i = 0; i < p.info.size(); ++i) {
    const sql::StatementInfo& info = p.info[i];
    if (info.kind != sql::StatementKind::kInsert || info.table.empty()) continue;
    STRATA_ASSIGN_OR_RETURN(Database::ViewWrites w, db.WritesThroughView(info.table));
    if (!w.view) continue;
    if (w.by_triggers && !allow_irreversible) {
      return Status(Code::kIrreversible,
                    fmt::format("migration {}: line {} inserts into view {}, whose own INSTEAD OF "
                                "triggers or rules write the tables under it; Strata cannot tell "
                                "which, so a rollback could not be checked; write the statement "
                                "against those tables, or pass --allow-irreversible",
                                id, p.up[i].line, info.table));
    }
    out.insert(out.end(), w.tables.begin(), w.tables.end());
  }
  return out;
}

/// "; the 2 migrations before it stay applied" (`state`), or "" for none.
std::string StayNote(int completed, std::string_view state) {
  if (completed == 0) return "";
  return completed == 1 ? fmt::format("; the migration before it stays {}", state)
                        : fmt::format("; the {} migrations before it stay {}", completed, state);
}

/// SQLite: no foreign key, view or trigger left naming a table the
/// migration renamed and then dropped (`where` names the up script). ALTER
/// TABLE ... RENAME takes the references to a table along (unless
/// legacy_alter_table is on), so a rebuild that renames the old table away,
/// creates the new one and drops the old one leaves its children naming the
/// dropped table (no row can be inserted into them once foreign keys are
/// enforced), and its views and triggers reading it (they fail, and so does
/// every later RENAME, which checks the whole schema). (A parent dropped on
/// purpose while a child still names it is left alone.)
Status NoReferencesToDroppedTables(Database& db, const std::vector<sql::StatementInfo>& info,
                                   const std::string& where) {
  std::set<std::string> renamed_to, renamed_and_dropped;
  for (const auto& i : info) {
    if (i.kind == sql::StatementKind::kRenameTable) renamed_to.insert(AsciiLower(i.new_name));
    if (i.kind != sql::StatementKind::kDropTable) continue;
    for (const auto& o : i.objects) {
      if (renamed_to.count(AsciiLower(o.name))) renamed_and_dropped.insert(AsciiLower(o.name));
    }
  }
  if (renamed_and_dropped.empty()) return Status::OK();
  STRATA_ASSIGN_OR_RETURN(Rows tables, db.Query("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')"));
  for (const auto& row : tables.rows) renamed_and_dropped.erase(AsciiLower(row[0].ToString()));
  if (renamed_and_dropped.empty()) return Status::OK();  // made again under the name
  auto refused = [&](const std::string& what, const std::string& gone, const std::string& harm) {
    return Status(
        Code::kDatabase,
        fmt::format("the end of {}: {} {}, which the migration dropped, so {}; SQLite moved the "
                    "reference there when the table it named was renamed to {}: run PRAGMA "
                    "legacy_alter_table = ON before renaming (as Django and Alembic do), or "
                    "create the new table first and rename it into place",
                    where, what, gone, harm, gone));
  };
  STRATA_ASSIGN_OR_RETURN(
      Rows rows, db.Query("SELECT s.name, f.\"table\" FROM sqlite_schema s,"
                          " pragma_foreign_key_list(s.name) f WHERE s.type = 'table'"));
  for (const auto& row : rows.rows) {
    const std::string child = row[0].ToString(), parent = row[1].ToString();
    if (!renamed_and_dropped.count(AsciiLower(parent))) continue;
    return refused(fmt::format("table {} keeps a foreign key to", child), parent,
                   fmt::format("no row could be inserted into {} once foreign keys are enforced", child));
  }
  STRATA_ASSIGN_OR_RETURN(
      Rows readers, db.Query("SELECT type, name, sql FROM sqlite_schema WHERE type IN ('view', "
                             "'trigger') AND sql IS NOT NULL ORDER BY type DESC, name"));
  for (const auto& row : readers.rows) {
    const std::string sql_text = row[2].ToString();
    auto tokens = sql::Tokenize(sql_text, sql::Dialect::kSqlite);
    if (!tokens.ok()) continue;
    for (const sql::Token& t : *tokens) {
      if (t.kind != sql::TokenKind::kWord && t.kind != sql::TokenKind::kQuotedIdentifier) continue;
      const std::string name = sql::IdentifierName(t, sql::Dialect::kSqlite);
      if (!renamed_and_dropped.count(AsciiLower(name))) continue;
      return refused(fmt::format("{} {} still reads", row[0].ToString(), row[1].ToString()), name,
                     fmt::format("it fails when it {}, and so would every later ALTER TABLE ... "
                                 "RENAME",
                                 row[0].ToString() == "view" ? "is read" : "fires"));
    }
  }
  return Status::OK();
}

/// A statement that gave up waiting for a lock (SQLSTATE 55P03: a lock or
/// statement timeout's lock wait, NOWAIT) names the sessions holding locks on
/// `tables`: ending those, or waiting for them, is the user's next step.
Status NameLockHolders(Database& db, Status s, const std::vector<std::string>& tables) {
  if (s.ok() || s.message().find("(SQLSTATE 55P03)") == std::string::npos) return s;
  auto holders = db.LockHoldersOn(tables);
  if (!holders.ok() || holders->empty()) return s;
  return Status(s.code(), fmt::format("{}; other sessions hold locks on its tables: {}; end "
                                      "them or their transactions, or wait for them, and run "
                                      "it again",
                                      s.message(), fmt::join(*holders, "; ")));
}

/// The tables `infos` act on, by name.
std::vector<std::string> TablesNamed(const std::vector<sql::StatementInfo>& infos) {
  std::vector<std::string> out;
  for (const auto& info : infos) {
    const std::string& name = info.table.empty() ? info.object : info.table;
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

/// What calling routines may write, following the routines their bodies
/// call in turn. A routine the script defines before the call is the one
/// called; the others are read from the database (PostgreSQL), one round
/// trip per level of calls, each once per migration.
class RoutineEffects {
 public:
  struct Effects {
    std::vector<std::string> writes, rewrites;
    /// The routine that rewrites a table named only at run time, if one does.
    std::string dynamic_in;
    bool ddl = false;  // one of them runs DDL
    std::vector<sql::ObjectName> qualified;  // rewrites named with their schema
    bool trigger_table = false;  // a trigger function's: rewrites the table it fires on
    /// The tables and columns they rename (StatementInfo::body_renames).
    std::vector<std::pair<std::string, std::string>> renames;
    std::vector<sql::StatementInfo::ColumnRename> column_renames;
  };
  /// By NameKey: the routines a script defines, up to a statement.
  using Defined = std::map<std::string, const sql::StatementInfo*>;

  RoutineEffects(Database& db, sql::Dialect dialect) : db_(db), dialect_(dialect) {}

  Result<Effects> Of(const std::vector<std::string>& names, const Defined& defined) {
    Effects out;
    std::set<std::string> seen;
    std::vector<std::string> level = names;
    for (int depth = 0; depth < 32 && !level.empty(); ++depth) {
      std::vector<std::string> unread;
      for (const std::string& name : level) {
        if (!defined.count(sql::NameKey(name, dialect_))) unread.push_back(name);
      }
      STRATA_RETURN_IF_ERROR(Read(unread));
      std::vector<std::string> next;
      for (const std::string& name : level) {
        const std::string key = sql::NameKey(name, dialect_);
        if (!seen.insert(key).second) continue;
        std::vector<const sql::StatementInfo*> bodies;
        if (auto here = defined.find(key); here != defined.end()) {
          bodies.push_back(here->second);
        } else {
          for (const auto& body : read_[key]) bodies.push_back(&body);
        }
        for (const sql::StatementInfo* body : bodies) {
          Add(out.writes, body->writes);
          Add(out.rewrites, body->rewrites);
          if (body->dynamic_rewrites && out.dynamic_in.empty()) out.dynamic_in = name;
          out.ddl |= body->body_ddl;
          out.trigger_table |= body->rewrites_trigger_table;
          out.qualified.insert(out.qualified.end(), body->qualified_rewrites.begin(),
                               body->qualified_rewrites.end());
          out.renames.insert(out.renames.end(), body->body_renames.begin(), body->body_renames.end());
          out.column_renames.insert(out.column_renames.end(), body->body_column_renames.begin(),
                                    body->body_column_renames.end());
          next.insert(next.end(), body->calls.begin(), body->calls.end());
        }
      }
      level = std::move(next);
    }
    return out;
  }

  /// Reads the database's definitions of those of `names` not read yet
  /// (PostgreSQL), in one round trip.
  Status Read(const std::vector<std::string>& names) {
    std::vector<std::string> unread;
    for (const std::string& name : names) {
      const std::string key = sql::NameKey(name, dialect_);
      if (read_.count(key)) continue;
      read_[key] = {};  // none, unless the database has it
      unread.push_back(name);
    }
    if (unread.empty() || dialect_ != sql::Dialect::kPostgres) return Status::OK();
    STRATA_ASSIGN_OR_RETURN(auto definitions, db_.RoutineDefinitions(unread));
    for (const auto& [name, definition] : definitions) {
      read_[sql::NameKey(name, dialect_)].push_back(sql::Classify(definition, dialect_));
    }
    return Status::OK();
  }

  /// Takes `body` as the database's definition of `name` (already read).
  void Know(const std::string& name, sql::StatementInfo body) {
    auto& known = read_[sql::NameKey(name, dialect_)];
    if (known.empty()) known.push_back(std::move(body));
  }

  static void Add(std::vector<std::string>& to, const std::vector<std::string>& tables) {
    for (const auto& table : tables) {
      if (std::find(to.begin(), to.end(), table) == to.end()) to.push_back(table);
    }
  }

 private:
  Database& db_;
  sql::Dialect dialect_;
  std::map<std::string, std::vector<sql::StatementInfo>> read_;  // by NameKey; none: no such routine
};

/// Adds to each statement's `writes` and `rewrites` what the routines it
/// calls write (a backfill in a function), and marks it when one of them
/// rewrites a table named only at run time.
Status AddCalledRoutineWrites(Prepared& p, sql::Dialect dialect, RoutineEffects& routines) {
  if (dialect != sql::Dialect::kPostgres) return Status::OK();
  using K = sql::StatementKind;
  std::vector<std::vector<std::string>> called(p.up.size());
  std::vector<std::string> all;
  for (size_t i = 0; i < p.up.size(); ++i) {
    // Routines are called by queries, DML, CALL and DO; a name before a
    // parenthesis in DDL is a table, a type or a column list (looking those
    // up cost every CREATE TABLE of a run a round trip). A DO block's calls
    // are in its body.
    const K kind = p.info[i].kind;
    if (kind != K::kSelect && kind != K::kInsert && kind != K::kUpdate && kind != K::kDelete &&
        kind != K::kOther && !(kind == K::kCreateTable && p.info[i].from_query) &&
        !(kind == K::kCreateView && p.info[i].materialized)) {
      continue;
    }
    called[i] = p.info[i].calls;
    auto tokens = sql::Tokenize(p.up[i].text, dialect);
    if (tokens.ok()) {
      const auto& t = *tokens;
      for (size_t k = 0; k + 1 < t.size(); ++k) {
        if ((t[k].kind == sql::TokenKind::kWord || t[k].kind == sql::TokenKind::kQuotedIdentifier) &&
            t[k + 1].IsPunct('(')) {
          called[i].push_back(sql::IdentifierName(t[k], dialect));
        }
      }
    }
    all.insert(all.end(), called[i].begin(), called[i].end());
  }
  // The routines the statements call, in one round trip; those they call in
  // turn as they are reached.
  STRATA_RETURN_IF_ERROR(routines.Read(all));
  RoutineEffects::Defined defined;
  for (size_t i = 0; i < p.up.size(); ++i) {
    sql::StatementInfo& info = p.info[i];
    if (info.kind == K::kCreateFunction) defined[sql::NameKey(info.object, dialect)] = &info;
    if (called[i].empty()) continue;
    STRATA_ASSIGN_OR_RETURN(RoutineEffects::Effects effects, routines.Of(called[i], defined));
    RoutineEffects::Add(info.writes, effects.writes);
    RoutineEffects::Add(info.rewrites, effects.rewrites);
    info.body_ddl |= effects.ddl;
    info.qualified_rewrites.insert(info.qualified_rewrites.end(), effects.qualified.begin(),
                                   effects.qualified.end());
    // What a called routine renames is renamed by the statement calling it.
    info.body_renames.insert(info.body_renames.end(), effects.renames.begin(), effects.renames.end());
    info.body_column_renames.insert(info.body_column_renames.end(), effects.column_renames.begin(),
                                    effects.column_renames.end());
    if (!effects.dynamic_in.empty() && info.dynamic_in.empty()) {
      info.dynamic_rewrites = true;
      info.dynamic_in = "routine " + effects.dynamic_in;
    }
  }
  return Status::OK();
}

/// Adds to each statement's `writes` and `rewrites` the other tables whose
/// rows the triggers it fires may change or remove (a hand-written cascade,
/// a running total): an INSERT's, UPDATE's or DELETE's own, those of the
/// tables its body or called routines write, and those of the tables such a
/// trigger writes in turn. Those are captured whole before
/// it and checked on rollback, as for a routine it calls. A table a trigger
/// only inserts into (an audit trail) is left alone: nothing in it is lost,
/// and capturing it whole would refuse the rollback once the application
/// appended to it. The triggers are those in the database and those the
/// script creates before the statement; a PostgreSQL trigger's function is
/// read with the routines it calls, and one that rewrites a table named only
/// at run time marks the statement.
Status AddTriggerWrites(Database& db, Prepared& p, sql::Dialect dialect, RoutineEffects& routines) {
  using K = sql::StatementKind;
  struct Fired {
    unsigned events;
    std::vector<std::string> columns;  // UPDATE OF: fires only when one is assigned
    bool enabled;                      // PostgreSQL: not ALTER TABLE .. DISABLE TRIGGER
    /// What it writes: its body's (SQLite), or its function's with the
    /// routines that calls (PostgreSQL).
    RoutineEffects::Effects effects;
  };
  // A trigger whose body is its own (SQLite's BEGIN .. END).
  auto body_fires = [](const sql::StatementInfo& trigger) {
    RoutineEffects::Effects effects;
    effects.rewrites = trigger.trigger_rewrites;
    return Fired{trigger.trigger_events, trigger.trigger_columns, true, std::move(effects)};
  };
  std::set<std::string> enabled;  // tables whose triggers the script enables before the statement
  RoutineEffects::Defined defined;  // the script's routines before the statement at hand
  // What a PostgreSQL trigger function rewrites, the routines it calls included.
  auto function_fires = [&](unsigned events, std::vector<std::string> columns,
                            const std::string& function) -> Result<Fired> {
    STRATA_ASSIGN_OR_RETURN(RoutineEffects::Effects effects, routines.Of({function}, defined));
    return Fired{events, std::move(columns), true, std::move(effects)};
  };
  std::map<std::string, std::vector<Fired>> on;  // by table key
  auto triggers_of = [&](const std::string& table) -> Result<std::vector<Fired>*> {
    const std::string key = sql::NameKey(table, dialect);
    auto found = on.find(key);
    if (found != on.end()) return &found->second;
    std::vector<Fired>& fired = on[key];
    STRATA_ASSIGN_OR_RETURN(auto sources, db.TriggersOn(table));
    for (const auto& source : sources) {
      sql::StatementInfo info = sql::Classify(source.definition, dialect);
      if (source.events == 0) {  // SQLite: the CREATE TRIGGER, its body inside
        fired.push_back(body_fires(info));
        continue;
      }
      // PostgreSQL: the function's definition (the script may redefine it
      // before the statement), with the routines it calls.
      const std::string function = info.object;
      routines.Know(function, std::move(info));
      STRATA_ASSIGN_OR_RETURN(Fired f, function_fires(source.events, source.columns, function));
      f.enabled = source.enabled;
      fired.push_back(std::move(f));
    }
    return &fired;
  };
  for (size_t i = 0; i < p.info.size(); ++i) {
    sql::StatementInfo& info = p.info[i];
    if (info.kind == K::kCreateFunction) {
      defined[sql::NameKey(info.object, dialect)] = &info;
      continue;
    }
    if (info.kind == K::kCreateTrigger && !info.table.empty()) {
      STRATA_ASSIGN_OR_RETURN(std::vector<Fired>* fired, triggers_of(info.table));
      if (info.trigger_function.empty()) {
        fired->push_back(body_fires(info));
      } else {
        STRATA_ASSIGN_OR_RETURN(Fired f, function_fires(info.trigger_events, info.trigger_columns,
                                                        info.trigger_function));
        fired->push_back(std::move(f));
      }
      continue;
    }
    // ALTER TABLE t ENABLE [ALWAYS | REPLICA] TRIGGER: its disabled triggers fire from here on.
    if (info.kind == K::kAlterOther && !info.table.empty()) {
      if (auto tokens = sql::Tokenize(p.up[i].text, dialect); tokens.ok()) {
        for (size_t k = 0; k + 1 < tokens->size(); ++k) {
          if ((*tokens)[k].IsWord("ENABLE")) enabled.insert(sql::NameKey(info.table, dialect));
        }
      }
      continue;
    }
    // The tables the statement writes and the events that fires on them:
    // its own table (by its kind), and those its body or the routines it
    // calls write (the rows and how, not known: any event), then those the
    // triggers fired write in turn.
    // (An upsert's DO UPDATE fires UPDATE triggers too.)
    const unsigned own = info.kind == K::kUpdate   ? Database::kOnUpdate
                         : info.kind == K::kDelete ? Database::kOnDelete
                         : info.kind == K::kInsert
                             ? Database::kOnInsert | (info.updates_rows ? Database::kOnUpdate : 0u)
                             : 0u;
    constexpr unsigned kAny = Database::kOnInsert | Database::kOnUpdate | Database::kOnDelete;
    std::vector<std::pair<std::string, unsigned>> reached;
    if (own != 0 && !info.table.empty()) reached.emplace_back(info.table, own);
    for (const std::string& table : info.rewrites) reached.emplace_back(table, kAny);
    for (const std::string& table : info.writes) reached.emplace_back(table, Database::kOnInsert);
    if (reached.empty()) continue;
    // An UPDATE fires an UPDATE OF trigger only when it assigns one of its
    // columns (assigned: empty when the statement does not read as expected).
    const std::vector<std::string> assigned = own == Database::kOnUpdate ? info.columns
                                                                         : std::vector<std::string>();
    std::map<std::string, unsigned> done;  // by table key: the events followed
    for (size_t r = 0; r < reached.size() && r < 256; ++r) {
      const auto [table, events] = reached[r];
      const std::string key = sql::NameKey(table, dialect);
      const unsigned fresh = events & ~done[key];
      if (fresh == 0) continue;
      done[key] |= fresh;
      const bool statement_itself = r == 0 && own != 0;
      STRATA_ASSIGN_OR_RETURN(std::vector<Fired>* fired, triggers_of(table));
      auto fires = [&](const Fired& trigger) {
        if ((trigger.events & fresh) == 0 || (!trigger.enabled && !enabled.count(key))) return false;
        if (!statement_itself || fresh != Database::kOnUpdate || trigger.columns.empty() ||
            assigned.empty()) {
          return true;
        }
        return std::any_of(trigger.columns.begin(), trigger.columns.end(), [&](const std::string& c) {
          return std::any_of(assigned.begin(), assigned.end(), [&](const std::string& a) {
            return sql::NameKey(a, dialect) == sql::NameKey(c, dialect);
          });
        });
      };
      for (const Fired& trigger : *fired) {
        if (!fires(trigger)) continue;
        const RoutineEffects::Effects& effects = trigger.effects;
        if (!effects.dynamic_in.empty() && info.dynamic_in.empty()) {
          info.dynamic_rewrites = true;
          info.dynamic_in = fmt::format("routine {} (run by a trigger on {} it fires)",
                                        effects.dynamic_in, table);
        }
        info.qualified_rewrites.insert(info.qualified_rewrites.end(), effects.qualified.begin(),
                                       effects.qualified.end());
        if (effects.trigger_table) {  // a soft delete: captured whole, the statement's own table too
          RoutineEffects::Add(info.writes, {table});
          RoutineEffects::Add(info.rewrites, {table});
          reached.emplace_back(table, kAny);
        }
        for (const std::string& rewritten : effects.rewrites) {
          // The statement's own table: an UPDATE's or INSERT's stamps are
          // other columns of its rows; a DELETE's trigger that rewrites it
          // (replies deleted with their comment) reaches rows its capture
          // does not hold, so the table is captured whole, as for a soft
          // delete.
          if (sql::NameKey(rewritten, dialect) == sql::NameKey(info.table, dialect) && info.kind != K::kDelete) {
            continue;
          }
          RoutineEffects::Add(info.writes, {rewritten});
          RoutineEffects::Add(info.rewrites, {rewritten});
          reached.emplace_back(rewritten, kAny);
        }
      }
    }
  }
  return Status::OK();
}

Scope ScopeOf(const std::vector<sql::StatementInfo>& infos, const SchemaModel& model) {
  using K = sql::StatementKind;
  Scope scope;
  auto add = [&](const std::string& t) {
    if (!t.empty() && std::find(scope.tables.begin(), scope.tables.end(), t) == scope.tables.end())
      scope.tables.push_back(t);
  };
  for (const auto& i : infos) {
    // ALTER TYPE, DOMAIN, SEQUENCE, VIEW, FUNCTION...: not a table's; a
    // constraint dropped with CASCADE takes other tables' foreign keys. A
    // routine the statement calls that runs DDL (a partition helper) may
    // change any of the schema.
    if ((i.kind == K::kAlterOther && (i.table.empty() || i.cascade)) ||
        (i.body_ddl && i.kind != K::kCreateFunction)) {
      scope.whole = true;
      // Its tables' data is checked still: one a DO block drops a column
      // of is captured whole, and written to since, it must not be put
      // back whole (the application's rows went with exit 0; hunt49 #1).
      for (const auto& t : i.writes) add(t);
      continue;
    }
    switch (i.kind) {
      case K::kSelect:
      case K::kTransactionControl: break;
      case K::kRenameTable: case K::kRenameColumn: case K::kDropColumn:
      case K::kAlterColumnType: case K::kDropTable:
        // The engine rewrites (or invalidates) views, triggers and foreign
        // keys of other tables that name what these change.
        scope.whole = true;
        [[fallthrough]];
      case K::kCreateTable: case K::kAddColumn: case K::kAlterOther: case K::kTruncate:
      case K::kInsert: case K::kUpdate: case K::kDelete: case K::kCreateIndex:
      case K::kCreateTrigger:
        add(i.table.empty() ? i.object : i.table);
        for (const auto& o : i.objects) add(o.name);
        if (i.kind == K::kRenameTable) add(i.new_name);  // a column's new name is no table
        break;
      case K::kDropIndex:
      case K::kDropTrigger: {
        std::string table = i.table;
        for (const auto& o : i.objects.empty() ? std::vector<sql::ObjectName>{{i.schema, i.object}} : i.objects) {
          std::string owner = model.TableOf(i.kind == K::kDropIndex ? "index" : "trigger", o.name);
          if (owner.empty() && table.empty()) scope.whole = true;
          add(owner);
        }
        add(table);
        break;
      }
      default:
        scope.whole = true;
    }
    // What a DO block or a function body writes, or a routine the
    // statement calls (AddCalledRoutineWrites): its data is checked too.
    for (const auto& t : i.writes) add(t);
  }
  // A statement on a table reaches its partitions and inheritance children
  // (ALTER TABLE recurses; DML on a parent writes them).
  for (size_t i = 0, n = scope.tables.size(); i < n && !scope.whole; ++i) {
    for (const auto& child : model.Inheritors(scope.tables[i])) add(child);
  }
  return scope;
}

/// The data fingerprints of those of `tables` that exist now (see
/// FingerprintData for `columns_by_name`).
Result<std::vector<TableFingerprint>> ExistingTablesData(Database& db,
                                                         const std::vector<std::string>& tables,
                                                         bool columns_by_name = false) {
  std::vector<TableFingerprint> out;
  for (const auto& t : tables) {
    Result<DataFingerprint> one = FingerprintData(db, {t}, columns_by_name);
    if (!one.ok() && one.status().code() == Code::kNotFound) continue;  // not (yet) there
    if (!one.ok()) return one.status();
    out.push_back(std::move(one->tables[0]));
  }
  return out;
}

/// The tables the engine changes by itself when statement `info` deletes or
/// updates rows: foreign key actions (CASCADE, SET NULL, SET DEFAULT), or
/// for a PostgreSQL TRUNCATE ... CASCADE every table referencing the ones
/// it empties, followed to the end, parents before children (the order
/// their rows must be put back in). The statement's own table is included
/// when it reaches itself (a tree of rows deleting its branches), except
/// for TRUNCATE, which captures it whole anyway. Rows are deleted by a
/// DELETE, by SQLite's REPLACE conflict resolution (the rows an INSERT OR
/// REPLACE or UPDATE OR REPLACE collides with) and by a SQLite `DROP TABLE`,
/// which deletes the table's rows first ("an implicit DELETE FROM";
/// PostgreSQL refuses it, or with CASCADE drops the constraints, not rows).
/// `table`: the statement's table under its name before the migration (the
/// foreign keys read are those of then; a rename rewrites them to follow).
Result<std::vector<std::string>> CascadeReach(Database& db, const sql::StatementInfo& info,
                                              const std::string& table,
                                              std::optional<bool> foreign_keys) {
  using K = sql::StatementKind;
  using Change = Database::RowChange;
  const bool truncate = info.kind == K::kTruncate && info.cascade;
  const bool updates = info.kind == K::kUpdate || info.updates_rows;
  const bool deletes = info.kind == K::kDelete || info.deletes_colliding || info.deletes_rows ||
                       (info.kind == K::kDropTable && !info.table.empty() &&
                        DialectOf(db.engine()) == sql::Dialect::kSqlite);
  if (!info.destructive || (!deletes && !updates && !truncate)) return std::vector<std::string>();
  std::vector<Change> changes;
  if (truncate) changes.push_back(Change::kTruncateCascade);
  if (deletes) changes.push_back(Change::kDelete);
  if (updates) changes.push_back(Change::kUpdate);
  std::map<std::string, std::vector<std::string>> children;  // of each table reached
  std::vector<std::string> todo = {table};
  while (!todo.empty()) {
    std::string parent = std::move(todo.back());
    todo.pop_back();
    if (children.count(parent)) continue;
    std::vector<std::string>& found = children[parent];
    // An UPDATE's ON UPDATE actions fire only for the referenced columns it
    // assigns (a backfill of a status column cascades nowhere); the rows a
    // cascade changes further down may have any referenced column changed,
    // and so may a BEFORE UPDATE trigger (NEW.code := upper(NEW.code)).
    const std::vector<std::string>* assigned = nullptr;
    if (info.kind == K::kUpdate && !info.columns.empty() && parent == table) {
      STRATA_ASSIGN_OR_RETURN(bool stamps, db.HasBeforeUpdateTriggers(table));
      if (!stamps) assigned = &info.columns;
    }
    for (Change change : changes) {
      STRATA_ASSIGN_OR_RETURN(std::vector<std::string> reached,
                              db.CascadingChildren(parent, change, foreign_keys,
                                                   change == Change::kUpdate ? assigned : nullptr));
      for (auto& child : reached) {
        if (std::find(found.begin(), found.end(), child) == found.end()) found.push_back(child);
      }
    }
    for (const auto& child : found) todo.push_back(child);
  }
  // Depth-first post-order from the statement's table, reversed: every
  // table comes after the tables it references (cycles are cut).
  std::vector<std::string> post;
  std::set<std::string> seen;
  std::function<void(const std::string&)> visit = [&](const std::string& t) {
    if (!seen.insert(t).second) return;
    for (const auto& c : children[t]) visit(c);
    post.push_back(t);
  };
  visit(table);
  std::reverse(post.begin(), post.end());
  post.erase(post.begin());  // the statement's table itself
  const auto& own = children[table];
  if (!truncate && std::find(own.begin(), own.end(), table) != own.end()) {
    post.insert(post.begin(), info.table);
  }
  return post;
}

/// SQLite: a plain INSERT or UPDATE of a table declared with `ON CONFLICT
/// REPLACE` deletes the rows it collides with, as INSERT OR REPLACE does, so
/// it is marked as one: destructive, captured whole, its foreign key actions
/// followed. A conflict clause of the statement's own (INSERT OR IGNORE,
/// UPDATE OR ABORT) overrides the table's.
Status MarkReplacingWrites(Database& db, Prepared& p) {
  using K = sql::StatementKind;
  for (sql::StatementInfo& info : p.info) {
    if ((info.kind != K::kInsert && info.kind != K::kUpdate) || info.own_conflict_clause ||
        info.table.empty()) {
      continue;
    }
    STRATA_ASSIGN_OR_RETURN(bool replaces, db.ReplacesOnConflict(info.table));
    if (!replaces) continue;
    info.destructive = true;
    info.deletes_colliding = true;
  }
  return Status::OK();
}

/// For each statement of `p`, the tables its foreign key actions reach; those
/// tables join the scope, so their data is recorded and checked too.
/// A transactional script that turns foreign keys on (which SQLite ignores
/// inside a transaction) before a statement they would cascade from is
/// refused: it would leave the rows the script meant to cascade to.
Result<std::vector<std::vector<std::string>>> AddCascades(Database& db, const Prepared& p,
                                                          const std::string& where,
                                                          bool no_transaction,
                                                          bool allow_irreversible, Scope& scope) {
  std::vector<std::vector<std::string>> reach(p.up.size());
  std::optional<bool> foreign_keys;  // as a statement before turned them, if one did
  int ignored_pragma = 0;  // the line of an ignored PRAGMA foreign_keys = ON still in force
  // Tables the migration renamed: name now -> name before (SQLite rewrites
  // the foreign keys referencing a renamed table, so a rebuild that renames
  // the old table away and drops it cascades as that table would).
  std::map<std::string, std::string> renamed;
  const sql::Dialect dialect = DialectOf(db.engine());
  for (size_t i = 0; i < p.up.size(); ++i) {
    const sql::StatementInfo& info = p.info[i];
    auto was = renamed.find(sql::NameKey(info.table, dialect));
    const std::string table = was == renamed.end() ? info.table : was->second;
    Result<std::vector<std::string>> reached = CascadeReach(db, info, table, foreign_keys);
    if (!reached.ok() && reached.status().code() == Code::kIrreversible) {
      if (!allow_irreversible) {
        return Status(Code::kIrreversible,
                      fmt::format("{}:{}: {}; delete or update those rows first (a migration of "
                                  "that schema), or pass --allow-irreversible to apply it without "
                                  "a way back for them",
                                  where, p.up[i].line, reached.status().message()));
      }
      reached = std::vector<std::string>();  // as asked: those rows have no way back
    }
    STRATA_RETURN_IF_ERROR(reached.status());
    reach[i] = std::move(reached).value();
    if (ignored_pragma != 0) {
      STRATA_ASSIGN_OR_RETURN(std::vector<std::string> meant, CascadeReach(db, info, table, true));
      meant.erase(std::remove_if(meant.begin(), meant.end(),
                                 [&](const std::string& t) {
                                   return std::find(reach[i].begin(), reach[i].end(), t) != reach[i].end();
                                 }),
                  meant.end());
      if (!meant.empty()) {
        return Status(Code::kInvalidArgument,
                      fmt::format("{}:{}: PRAGMA foreign_keys = ON does nothing in the transaction "
                                  "the script runs in (SQLite ignores it there), so line {} ({}) "
                                  "would not reach {} through their foreign keys' ON DELETE/ON "
                                  "UPDATE actions, as the pragma asks; mark the file -- "
                                  "strata:no-transaction to run it as written (Strata captures "
                                  "what the actions reach), or write the statements for {} "
                                  "yourself and remove the pragma",
                                  where, ignored_pragma, p.up[i].line, info.summary, fmt::join(meant, ", "),
                                  meant.size() == 1 ? "that table" : "those tables"));
      }
    }
    if (info.kind == sql::StatementKind::kRenameTable && !info.new_name.empty()) {
      renamed.erase(sql::NameKey(info.table, dialect));
      renamed[sql::NameKey(info.new_name, dialect)] = table;
    } else if (info.kind == sql::StatementKind::kDropTable ||
               info.kind == sql::StatementKind::kCreateTable) {
      renamed.erase(sql::NameKey(info.table, dialect));
    }
    // (SQLite ignores the pragma inside a transaction.)
    if (auto set = db.ForeignKeysAfter(p.up[i].text); set && no_transaction) {
      foreign_keys = set;
    } else if (set) {
      ignored_pragma = *set ? p.up[i].line : 0;
    }
    for (const auto& t : reach[i]) {
      if (std::find(scope.tables.begin(), scope.tables.end(), t) == scope.tables.end())
        scope.tables.push_back(t);
    }
  }
  return reach;
}

/// A migration ready to run with its safety net: the statements with the
/// captures before destructive ones, and what its rollback is checked against.
struct Guarded {
  std::vector<sql::Statement> up;
  std::vector<size_t> statements;  // where in `up` each statement of the migration is
  std::string checks;          // JSON, see CheckRollback
  std::string restore_script;  // puts captured data back, after the down script
  bool uncaptured = false;     // --allow-irreversible let a change run without its capture
};

/// Whether `statement` is a PostgreSQL ALTER TABLE whose every action
/// checks the table's rows and changes nothing they need: SET NOT NULL, ADD
/// [CONSTRAINT x] FOREIGN KEY or CHECK, VALIDATE CONSTRAINT. A down script's
/// such statement may run after the captured rows are back.
bool ChecksRows(std::string_view statement, sql::Dialect dialect) {
  if (dialect != sql::Dialect::kPostgres) return false;
  auto tokens = sql::Tokenize(statement, dialect);
  if (!tokens.ok() || tokens->size() < 4 || !(*tokens)[0].IsWord("alter") || !(*tokens)[1].IsWord("table")) {
    return false;
  }
  const auto& t = *tokens;
  // The actions: after the table's name, split at top-level commas.
  size_t i = 2;
  if (i + 1 < t.size() && t[i].IsWord("if") && t[i + 1].IsWord("exists")) i += 2;
  if (i < t.size() && t[i].IsWord("only")) ++i;
  ++i;  // the name
  while (i + 1 < t.size() && t[i].IsPunct('.')) i += 2;
  bool any = false;
  while (i < t.size()) {
    size_t end = i;
    for (int depth = 0; end < t.size(); ++end) {
      if (t[end].IsPunct('(')) ++depth;
      if (t[end].IsPunct(')')) --depth;
      if (depth == 0 && (t[end].IsPunct(',') || t[end].IsPunct(';'))) break;
    }
    auto word = [&](size_t k, std::string_view w) { return k < end && t[k].IsWord(w); };
    size_t k = i;
    bool checks = false;
    if (word(k, "alter")) {
      k += word(k + 1, "column") ? 2 : 1;
      checks = word(k + 1, "set") && word(k + 2, "not") && word(k + 3, "null") && k + 4 == end;
    } else if (word(k, "add")) {
      ++k;
      if (word(k, "constraint")) k += 2;
      checks = word(k, "foreign") || word(k, "check");
    } else if (word(k, "validate")) {
      checks = word(k + 1, "constraint");
    }
    if (!checks) return false;
    any = true;
    i = end + 1;
  }
  return any;
}

/// Whether `create` makes a SQLite full-text index whose text lives in
/// another table (`USING fts5(.., content='history')`): its rows read
/// through to that table, so they change with every write to it, and
/// dropping the index loses no data of its own. Not a contentless one
/// (`content=''`): its index is all there is of what was written to it.
bool CreatesExternalContentIndex(std::string_view create, sql::Dialect dialect) {
  if (dialect != sql::Dialect::kSqlite) return false;
  const std::optional<std::string> content = sql::FullTextContentOption(create);
  return content && *content != "''";
}

/// See its definition, with RefuseDroppingWrittenColumns.
Result<std::string> FilledColumnQuery(Database& db, const std::string& table, const std::string& column);

/// The condition (SQL) under which a row of `table` holds a value of
/// `column` other than what adding it gave: not NULL, nor the column's
/// constant default when it has one.
std::string OtherThanDefault(Database& db, const std::string& table, const std::string& column);

/// How many rows of `table` meet `where`; nullopt when it cannot be read
/// (a column gone: the down script will say what is wrong).
std::optional<int64_t> CountRows(Database& db, const std::string& table, const std::string& where,
                                 const std::vector<Value>& params = {});

/// How a PostgreSQL default filled the column a migration added, read as it
/// ends (an expression: now(), gen_random_uuid(), nextval(..), an identity;
/// or a constant the migration then changed or dropped): its rows' values
/// are the migration's, not to be told from ones written since otherwise.
/// `one_value` when every row got the same one (now() is the transaction's
/// time; nullopt inside when there was no row): a rollback then looks for
/// other values only (and for values other than a constant default the
/// column has then), and rows deleted since do not count. A default the migration changed or dropped after adding the
/// column (ADD COLUMN email TEXT NOT NULL DEFAULT ''; ALTER COLUMN email
/// DROP DEFAULT) is held by what it gave; `expression` is the default as
/// the migration ends ("none"). nullopt for a generated column (its values
/// are its row's), or a constant default that is what the rows hold, or
/// on a table without rows (then RefuseDroppingWrittenColumns looks for
/// other values).
struct DefaultFill {
  std::string expression;
  std::optional<std::optional<std::string>> one_value;
};
Result<std::optional<DefaultFill>> DefaultFillAfter(Database& db, const std::string& table,
                                                    const std::string& column);

/// The name column `column` of `table` has after `script`'s statements from
/// `from` on: a later RENAME COLUMN of it.
std::string ColumnNameAfter(const std::vector<sql::StatementInfo>& script, size_t from,
                            const std::string& table, std::string column, sql::Dialect dialect) {
  for (size_t j = from; j < script.size(); ++j) {
    const sql::StatementInfo& r = script[j];
    if (r.kind == sql::StatementKind::kRenameColumn && sql::NameKey(r.table, dialect) == sql::NameKey(table, dialect) &&
        sql::NameKey(r.column, dialect) == sql::NameKey(column, dialect)) {
      column = r.new_name;
    }
  }
  return column;
}

/// Whether `down` renames `table`.`column` and keeps it under the new name
/// (drops no column of either name): rolling back leaves its values in the
/// table, where the rollback's checks compare them.
bool KeptUnderNewName(const std::vector<sql::StatementInfo>& down, const std::string& table,
                      const std::string& column, sql::Dialect dialect) {
  const std::string renamed = ColumnNameAfter(down, 0, table, column, dialect);
  if (sql::NameKey(renamed, dialect) == sql::NameKey(column, dialect)) return false;
  return std::none_of(down.begin(), down.end(), [&](const sql::StatementInfo& i) {
    return DropsColumn(i, table, column, dialect) || DropsColumn(i, table, renamed, dialect);
  });
}

/// Whether `script` writes values into `table`.`column` itself: an UPDATE
/// that assigns it (or whose assignments were not read), or an INSERT
/// into the table.
bool WritesColumn(const std::vector<sql::StatementInfo>& script, const std::string& table,
                  const std::string& column, sql::Dialect dialect) {
  using K = sql::StatementKind;
  return std::any_of(script.begin(), script.end(), [&](const sql::StatementInfo& info) {
    if ((info.kind != K::kInsert && info.kind != K::kUpdate) ||
        sql::NameKey(info.table, dialect) != sql::NameKey(table, dialect)) {
      return false;
    }
    return info.kind == K::kInsert || info.columns.empty() ||
           std::any_of(info.columns.begin(), info.columns.end(), [&](const std::string& c) {
             return sql::NameKey(c, dialect) == sql::NameKey(column, dialect);
           });
  });
}

/// Whether `script` fills the column its statement `i` adds to `table`,
/// under the name it adds it or the one it renames it to later: the
/// column's values are the migration's (checks["filled"] holds them).
bool FillsAddedColumn(const std::vector<sql::StatementInfo>& script, size_t i, const std::string& table,
                      const std::string& added, sql::Dialect dialect) {
  return WritesColumn(script, table, added, dialect) ||
         WritesColumn(script, table, ColumnNameAfter(script, i + 1, table, added, dialect), dialect);
}

/// The name that the table called `table` just before statement `from` has
/// once the whole script has run, following its renames; "" when the script
/// dropped it and no other table took its name. A rollback's checks of what was
/// written since read the table under this name (a rebuild that renames the
/// old table away first, or a table created as "x_staging" and renamed).
std::string NameAfterScript(const std::string& table, const std::vector<sql::StatementInfo>& script,
                            size_t from) {
  using K = sql::StatementKind;
  auto same = [](const std::string& a, const std::string& b) { return AsciiLower(a) == AsciiLower(b); };
  std::string now = table;
  bool gone = false;
  for (size_t i = from; i < script.size(); ++i) {
    const sql::StatementInfo& s = script[i];
    if (s.kind == K::kRenameTable && !gone && same(s.table, now)) {
      now = s.new_name;
    } else if (gone && ((s.kind == K::kRenameTable && same(s.new_name, now)) ||
                        (s.kind == K::kCreateTable && same(s.table, now)))) {
      gone = false;  // another table has the name now, as before the rename-first rebuilds
    } else if (s.kind == K::kDropTable && !gone &&
               std::any_of(s.objects.begin(), s.objects.end(),
                           [&](const sql::ObjectName& o) { return same(o.name, now); })) {
      gone = true;
    }
  }
  return gone ? std::string() : now;
}

/// The name of the table a data fact of `checks["data"]` is about, before
/// the migration or at its creation: the fact's key, or its "table" when a
/// table of that name was renamed away and another created under it (the
/// key of the created one then says so).
std::string NameAt(const std::string& key, const nlohmann::json& facts) {
  return facts.is_object() ? facts.value("table", key) : key;
}

/// The table a data fact of `checks["data"]` is read under after the migration.
std::string ReadAs(const std::string& key, const nlohmann::json& facts) {
  return facts.is_object() ? facts.value("after_name", NameAt(key, facts)) : key;
}

/// `table`, quoted, and qualified by `schema` when there is one.
std::string QuotedTable(Database& db, const std::string& schema, const std::string& table) {
  return schema.empty() ? db.QuoteIdent(table) : db.QuoteIdent(schema) + "." + db.QuoteIdent(table);
}

/// Whether a destructive statement of `kind` names a table (not a
/// sequence, view or type), for a lock on it.
bool ActsOnATable(sql::StatementKind kind) {
  using K = sql::StatementKind;
  switch (kind) {
    case K::kDelete: case K::kUpdate: case K::kInsert: case K::kTruncate: case K::kDropTable:
    case K::kDropColumn: case K::kAlterColumnType:
      return true;
    default:
      return false;
  }
}

/// `before`: the data of the scope's tables that exist.
/// Whether a statement of `infos` inserts into `table` (or a body it runs
/// writes it).
bool InsertsInto(std::span<const sql::StatementInfo> infos, const std::string& table, sql::Dialect dialect) {
  const std::string key = sql::NameKey(table, dialect);
  return std::any_of(infos.begin(), infos.end(), [&](const sql::StatementInfo& e) {
    return (e.kind == sql::StatementKind::kInsert && sql::NameKey(e.table, dialect) == key) ||
           std::any_of(e.writes.begin(), e.writes.end(),
                       [&](const std::string& w) { return sql::NameKey(w, dialect) == key; });
  });
}

/// How checks["merges"] records a capture's Capture::Merge: with the copy
/// to keep ("keep") only when the migration makes the table anew under its
/// name (a rebuild, whose down script copies the rows back) and changes no
/// rows of it beyond the copy (those would keep its change where the
/// application wrote since).
nlohmann::json MergeEntry(const Capture& capture, const Prepared& p, sql::Dialect dialect) {
  using K = sql::StatementKind;
  const Capture::Merge& merge = *capture.merge;
  nlohmann::json entry = {{"table", capture.replaces},      {"capture", capture.table},
                          {"since", merge.since},           {"left", merge.left},
                          {"since_empty", merge.since_empty}, {"key", merge.key}};
  const std::string table = sql::NameKey(capture.replaces, dialect);
  auto is = [&](const std::string& name) { return sql::NameKey(name, dialect) == table; };
  const bool remade = std::any_of(p.info.begin(), p.info.end(), [&](const sql::StatementInfo& e) {
    return (e.kind == K::kCreateTable && is(e.object)) || (e.kind == K::kRenameTable && is(e.new_name));
  });
  const bool rewrites = std::any_of(p.info.begin(), p.info.end(), [&](const sql::StatementInfo& e) {
    return ((e.kind == K::kUpdate || e.kind == K::kDelete || e.kind == K::kTruncate) && is(e.table)) ||
           std::any_of(e.rewrites.begin(), e.rewrites.end(), is);
  });
  if (remade && !rewrites) {
    entry["keep"] = merge.keep;
    entry["unkeep"] = merge.unkeep;
  }
  return entry;
}

/// The down script's DELETEs of rows that may have been there before the
/// migration, as statements to capture before its first one: a DELETE
/// from a table the up script only inserts into (a seed: INSERT ... ON
/// CONFLICT DO NOTHING leaves a row that was there, which the down
/// script's DELETE ... WHERE name IN (..) takes too). Only a WHERE of the
/// table's own columns (as `tables` knows them before the migration),
/// literals and operators: it reads the same before the up script runs.
Result<std::vector<std::pair<std::string, sql::StatementInfo>>> DownDeletesOfSeededTables(
    const Prepared& p, TableTracker& tables, sql::Dialect dialect) {
  using K = sql::StatementKind;
  std::vector<std::pair<std::string, sql::StatementInfo>> out;
  if (p.down_source != "file") return out;
  auto split = sql::SplitStatements(p.down_script, dialect);
  if (!split.ok()) return out;
  for (const sql::Statement& st : *split) {
    sql::StatementInfo info = sql::Classify(st.text, dialect);
    if (info.kind != K::kDelete || info.where_clause.empty() || !info.with_clause.empty() ||
        !info.alias.empty()) {
      continue;
    }
    const std::string key = sql::NameKey(info.table, dialect);
    bool inserts = false, other = false;
    for (const sql::StatementInfo& up : p.info) {
      const bool names = sql::NameKey(up.table, dialect) == key || sql::NameKey(up.object, dialect) == key;
      const bool writes = std::any_of(up.writes.begin(), up.writes.end(),
                                      [&](const std::string& w) { return sql::NameKey(w, dialect) == key; });
      if (names && up.kind == K::kInsert && !up.destructive) {
        inserts = true;
      } else if (names || writes) {
        other = true;
      }
    }
    if (!inserts || other) continue;
    STRATA_ASSIGN_OR_RETURN(const TableTracker::Table* t, tables.Find(info.schema, info.table));
    if (t == nullptr) continue;
    auto tokens = sql::Tokenize(info.where_clause, dialect);
    if (!tokens.ok()) continue;
    const auto& w = *tokens;
    bool simple = true;
    for (size_t k = 0; k < w.size() && simple; ++k) {
      const sql::Token& tok = w[k];
      if (tok.kind == sql::TokenKind::kEnd) break;
      if (tok.kind == sql::TokenKind::kWord || tok.kind == sql::TokenKind::kQuotedIdentifier) {
        static constexpr std::string_view kWords[] = {"and",  "or",      "not",  "in",    "is",    "null",
                                                      "like", "ilike",   "true", "false", "escape", "between"};
        const bool keyword = tok.kind == sql::TokenKind::kWord &&
                             std::any_of(std::begin(kWords), std::end(kWords),
                                         [&](std::string_view word) { return tok.IsWord(word); });
        const std::string name = sql::IdentifierName(tok, dialect);
        const bool column = std::any_of(t->columns.begin(), t->columns.end(), [&](const auto& c) {
          return !c.before.empty() && sql::NameKey(c.before, dialect) == sql::NameKey(name, dialect);
        });
        const bool call = k + 1 < w.size() && w[k + 1].IsPunct('(') && !tok.IsWord("in");
        simple = (keyword || column) && !call;
      } else {
        simple = tok.kind == sql::TokenKind::kString || tok.kind == sql::TokenKind::kNumber ||
                 tok.kind == sql::TokenKind::kOperator || tok.IsPunct('(') || tok.IsPunct(')') ||
                 tok.IsPunct(',');
      }
    }
    if (!simple) continue;
    std::string text(st.text);
    if (t->key.empty() && dialect == sql::Dialect::kPostgres) {
      // No row identity without a key: the rows put back could not be told
      // from the application's changes to them, so the table is captured
      // whole (a write to it since refuses the rollback). SQLite's rowid can.
      text = "DELETE FROM " + (info.schema.empty() ? "" : sql::QuoteIdentifier(info.schema) + ".") +
             sql::QuoteIdentifier(info.table);
      info = sql::Classify(text, dialect);
    }
    info.summary = fmt::format("(its down script) deletes rows of {} that may have been there before it",
                               info.table);
    out.emplace_back(std::move(text), std::move(info));
  }
  return out;
}

/// The tables the seeded DELETEs of the down script (above) reach through
/// foreign key actions (ON DELETE CASCADE, SET NULL), parents before
/// children, when rows they would delete are there before the migration:
/// the rows that hang on those go with them, so they are captured whole
/// (and are in the migration's scope) and put back after the rows they
/// hang on. A foreign key Strata cannot follow is left to the check after
/// the down script, which refuses the rollback. Read once, before the
/// migration, by Up: its scope takes them, and Guard captures them.
Result<std::vector<std::string>> SeedCascades(Database& db, const Prepared& p) {
  TableTracker tables(db);
  STRATA_ASSIGN_OR_RETURN(auto seeded, DownDeletesOfSeededTables(p, tables, DialectOf(db.engine())));
  std::vector<std::string> out;
  for (const auto& [text, info] : seeded) {
    auto there = db.Query(fmt::format("SELECT 1 FROM {}{} LIMIT 1", QuotedTable(db, info.schema, info.table),
                                      info.where_clause.empty() ? "" : " WHERE " + info.where_clause));
    if (!there.ok() || there->empty()) continue;
    Result<std::vector<std::string>> reached = CascadeReach(db, info, info.table, std::nullopt);
    if (!reached.ok() && reached.status().code() == Code::kIrreversible) continue;
    STRATA_RETURN_IF_ERROR(reached.status());
    for (std::string& t : *reached) {
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(std::move(t));
    }
  }
  return out;
}

/// Whether statement `info` captures none of `table`'s columns a body
/// renamed ({new name, old name}): an UPDATE,
/// DROP COLUMN or ALTER COLUMN TYPE captures its own columns and the
/// table's primary key, the rest whole rows.
bool CapturesNoneOf(Database& db, const sql::StatementInfo& info, const std::string& table,
                    const std::vector<std::pair<std::string, std::string>>& renamed, sql::Dialect dialect) {
  using K = sql::StatementKind;
  if (info.columns.empty() ||
      (info.kind != K::kUpdate && info.kind != K::kDropColumn && info.kind != K::kAlterColumnType)) {
    return false;
  }
  auto key = db.ListPrimaryKey(table);
  if (!key.ok() || key->empty()) return false;
  std::vector<std::string> captured = info.columns;
  captured.insert(captured.end(), key->begin(), key->end());
  for (const auto& [to, from] : renamed) {
    for (const std::string& c : captured) {
      if (sql::NameKey(c, dialect) == sql::NameKey(to, dialect) ||
          sql::NameKey(c, dialect) == sql::NameKey(from, dialect)) {
        return false;
      }
    }
  }
  return true;
}

Result<Guarded> Guard(Database& db, const Migration& m, const Prepared& p, const Scope& scope,
                      const std::vector<std::vector<std::string>>& cascades,
                      const std::vector<std::string>& seed_cascades, const SchemaModel& model, const std::vector<TableFingerprint>& before,
                      bool allow_irreversible) {
  using nlohmann::json;
  json checks;
  checks["scope"] = scope.whole ? json("whole") : json(scope.tables);
  // Errors of the stored down script then name its file's lines.
  if (p.down_first_line > 1) checks["down_line"] = p.down_first_line;
  json objects = json::object();
  for (auto& [key, text] : model.Blocks(scope.filter())) objects[key] = text;
  checks["objects"] = std::move(objects);
  json data = json::object();
  for (const auto& t : before) data[t.table] = {{"rows", t.rows}, {"hash", t.hash}};
  // Tables the migration creates: their rows as it leaves them are recorded
  // too ("after"), so that rolling back does not drop rows written since.
  // A full-text index of another table's text has no rows of its own.
  for (size_t i = 0; i < p.info.size(); ++i) {
    const sql::StatementInfo& info = p.info[i];
    if (info.kind != sql::StatementKind::kCreateTable || info.temporary || info.object.empty() ||
        CreatesExternalContentIndex(p.up[i].text, DialectOf(db.engine()))) {
      continue;
    }
    std::string after = NameAfterScript(info.object, p.info, i + 1);
    std::string key = info.object;
    if (data.contains(key)) {
      // A table of this name existed before: fine when the script's table
      // ends where that one's fact reads (a rebuild under the same name);
      // otherwise that one was renamed away (ALTER TABLE users RENAME TO
      // users_old; CREATE TABLE users ...) and this one needs a fact of its own.
      const std::string earlier = NameAfterScript(info.object, p.info, 0);
      if (after.empty() || AsciiLower(after) == AsciiLower(earlier.empty() ? key : earlier)) continue;
      key += "\x1f" "created";
      if (data.contains(key)) continue;
      data[key] = {{"table", info.object}};
    }
    data[key]["created"] = true;
    if (!after.empty() && after != info.object) data[key]["after_name"] = after;
  }
  for (const auto& t : before) {
    std::string after = NameAfterScript(t.table, p.info, 0);
    if (!after.empty() && after != t.table) data[t.table]["after_name"] = after;
  }
  checks["data"] = std::move(data);
  // Columns it adds and fills itself, under the names it leaves them:
  // their values are summed once it ends (WithDataAfter). So are those a
  // PostgreSQL default fills (ADD COLUMN created_at .. DEFAULT now()), which
  // WithDataAfter leaves out when the column is generated or holds the
  // constant default it has then (RefuseDroppingWrittenColumns holds those).
  json filled = json::array();
  const sql::Dialect dialect = DialectOf(db.engine());
  for (size_t i = 0; i < p.info.size(); ++i) {
    const sql::StatementInfo& info = p.info[i];
    for (const sql::AddedColumn& added : info.added) {
      const std::string table = NameAfterScript(info.table, p.info, i + 1);
      if (table.empty()) continue;
      const bool by_script = FillsAddedColumn(p.info, i, info.table, added.name, dialect);
      const bool by_default = !by_script && added.fills && db.engine() == Engine::kPostgres;
      if (!by_script && !by_default) continue;
      const std::string column = ColumnNameAfter(p.info, i + 1, info.table, added.name, dialect);
      filled.push_back({{"table", table}, {"column", column}, {"added", added.name}});
      if (by_default) filled.back()["by_default"] = true;
      // (ADD COLUMN IF NOT EXISTS of a column there before: the rollback keeps it.)
      if (added.if_not_exists) filled.back()["if_not_exists"] = true;
    }
  }
  if (!filled.empty()) checks["filled"] = std::move(filled);
  // Tables it creates under a schema name: those outside the managed schema
  // are found after the migration (WithDataAfter) and their rows recorded, so
  // that rolling back does not drop rows written to them since either.
  json elsewhere = json::array();
  for (const auto& info : p.info) {
    if (info.kind == sql::StatementKind::kCreateTable && !info.temporary && !info.schema.empty()) {
      elsewhere.push_back({{"schema", info.schema}, {"table", info.object}});
    }
  }
  if (!elsewhere.empty()) checks["created_elsewhere"] = std::move(elsewhere);
  // Columns it adds to a table named with a schema: those outside the
  // managed schema get their values recorded after it as well (sqitch's
  // ALTER TABLE flipr.users ADD COLUMN email), since no check of the
  // rollback sees them.
  json added_elsewhere = json::array();
  for (const auto& info : p.info) {
    if (info.schema.empty()) continue;
    for (const sql::AddedColumn& added : info.added) {
      added_elsewhere.push_back({{"schema", info.schema}, {"table", info.table}, {"column", added.name}});
    }
  }
  if (!added_elsewhere.empty()) checks["added_elsewhere"] = std::move(added_elsewhere);

  Guarded g;
  std::vector<std::vector<std::string>> restores;
  json uncaptured = json::array();
  std::map<std::string, std::string> body_renamed;  // by a body: new name (NameKey) -> old name
  // A table a body renamed columns of (NameKey) -> {new name, old name}.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> body_renamed_column;
  std::vector<std::string> whole_captured;  // cascade children, once each
  json replaces = json::array();            // tables the restore puts back whole
  json merges = json::array();              // Capture::Merge of those, by key
  json by_rowid = json::array();            // tables it puts rows back in by rowid
  json probes = json::array();              // what the restore writes over
  TableTracker tables(db);
  bool session_changed = false;  // by a statement before the one at hand
  // Names need following only up to the last statement that may capture.
  size_t last_capture = 0;
  // What a DO block or a called routine rewrites (a backfill's UPDATE):
  // the rows it picks are not known, so each such table is captured whole
  // before it, once (a CREATE FUNCTION only defines the body).
  auto rewrites_of = [&](size_t i) {
    return p.info[i].kind == sql::StatementKind::kCreateFunction ? std::vector<std::string>()
                                                                 : p.info[i].rewrites;
  };
  for (size_t i = 0; i < p.up.size(); ++i) {
    if (p.info[i].destructive || !cascades[i].empty() || !rewrites_of(i).empty()) last_capture = i;
  }
  // Captured before the first statement: the rows the down script's
  // DELETE would take that were there before (put back after it, last).
  STRATA_ASSIGN_OR_RETURN(auto seeded, DownDeletesOfSeededTables(p, tables, DialectOf(db.engine())));
  for (size_t i = 0; i < p.up.size(); ++i) {
    const sql::Statement& st = p.up[i];
    // What the statement removes, and first what its foreign key actions
    // will change in other tables (whole tables: the engine picks the rows).
    // Restores run in reverse, so parents come back before their children.
    std::vector<std::pair<std::string, sql::StatementInfo>> plans;
    if (i == 0) {
      // Children first: restores run in reverse.
      for (auto it = seed_cascades.rbegin(); it != seed_cascades.rend(); ++it) {
        whole_captured.push_back(*it);
        std::string all = "DELETE FROM " + db.QuoteIdent(*it);
        sql::StatementInfo info = sql::Classify(all, DialectOf(db.engine()));
        info.summary = fmt::format("{} (through a foreign key action of its down script's DELETE "
                                   "of rows that were there before it)",
                                   info.summary);
        plans.emplace_back(std::move(all), std::move(info));
      }
      for (auto& seed : seeded) plans.push_back(std::move(seed));
    }
    for (auto it = cascades[i].rbegin(); it != cascades[i].rend(); ++it) {
      const std::string& child = *it;
      if (std::find(whole_captured.begin(), whole_captured.end(), child) != whole_captured.end())
        continue;
      whole_captured.push_back(child);
      std::string all = "DELETE FROM " + db.QuoteIdent(child);
      sql::StatementInfo info = sql::Classify(all, DialectOf(db.engine()));
      info.summary = fmt::format("{} (through a foreign key action on {})", info.summary,
                                 p.info[i].table);
      plans.emplace_back(std::move(all), std::move(info));
    }
    for (const std::string& table : rewrites_of(i)) {
      if (std::find(whole_captured.begin(), whole_captured.end(), table) != whole_captured.end())
        continue;
      whole_captured.push_back(table);
      std::string all = "DELETE FROM " + db.QuoteIdent(table);
      sql::StatementInfo info = sql::Classify(all, DialectOf(db.engine()));
      info.summary = fmt::format("writes rows of {} (in {}, whose rows it picks Strata cannot "
                                 "know, so the table is captured whole)",
                                 table, p.info[i].kind == sql::StatementKind::kOther
                                            ? "a DO block or a routine it calls"
                                            : "a routine it calls or a trigger it fires");
      plans.emplace_back(std::move(all), std::move(info));
    }
    // A change of the statement's that Strata cannot capture (`why`):
    // refused, or with --allow-irreversible noted as `what` (the migration
    // then has no way back).
    auto uncapturable = [&](const std::string& why, const std::string& what) {
      if (!allow_irreversible) {
        return Status(Code::kIrreversible, fmt::format("migration {}: {}:{}: this statement {}; {}", m.id(),
                                                       m.up_path, st.line, p.info[i].summary, why));
      }
      uncaptured.push_back(fmt::format("{} ({})", p.info[i].summary, what));
      return Status::OK();
    };
    // What a body it runs rewrites in another schema is not captured (a
    // CREATE FUNCTION only defines its body).
    const bool runs_body = p.info[i].kind != sql::StatementKind::kCreateFunction;
    for (const sql::ObjectName& t : p.info[i].qualified_rewrites) {
      if (!runs_body) break;
      STRATA_ASSIGN_OR_RETURN(std::string outside, db.OutsideSchema(t.schema, t.name));
      if (outside.empty()) continue;
      STRATA_RETURN_IF_ERROR(uncapturable(
          fmt::format("{} changes or removes rows of {}.{}, in schema {}: Strata captures only the "
                      "schema it manages, so a rollback could not restore them; pass "
                      "--allow-irreversible to apply it without a way back",
                      p.info[i].dynamic_in.empty() ? "a routine or trigger it runs" : p.info[i].dynamic_in,
                      t.schema, t.name, outside),
          fmt::format("rows of {}.{}", t.schema, t.name)));
    }
    if (p.info[i].dynamic_rewrites && runs_body) {
      STRATA_RETURN_IF_ERROR(uncapturable(
          fmt::format("{} runs a statement that changes or removes rows of a table named only when "
                      "it runs (EXECUTE of format('... %I ...'), of text joined with ||, or of a "
                      "variable), so Strata cannot capture them and a rollback could not restore "
                      "them; name the table in the SQL, or pass --allow-irreversible to apply it "
                      "without a way back",
                      p.info[i].dynamic_in.empty() ? "its body" : p.info[i].dynamic_in),
          "rows of a table named at run time"));
    }
    // A table a body renamed, whose rows this statement (or its body)
    // then changes or removes under the new name: nothing of it was
    // captured (river's 005 drops it once its new shape holds some columns).
    if (runs_body) {
      for (const auto& [to, from] : p.info[i].body_renames) body_renamed[sql::NameKey(to, dialect)] = from;
    }
    std::vector<std::string> reached;  // the tables whose rows it changes or removes
    if (!body_renamed.empty() || !body_renamed_column.empty()) {
      using K = sql::StatementKind;
      reached = p.info[i].rewrites;
      if (p.info[i].destructive || p.info[i].kind == K::kDelete || p.info[i].kind == K::kUpdate ||
          p.info[i].kind == K::kTruncate) {
        reached.push_back(p.info[i].table.empty() ? p.info[i].object : p.info[i].table);
      }
    }
    for (const std::string& name : reached) {
      // A column renamed in a body: what this statement captures carries
      // the new name, and the down script renames it back first. A
      // statement that captures other columns by a key of others is clear.
      if (auto column = body_renamed_column.find(sql::NameKey(name, dialect));
          column != body_renamed_column.end() &&
          !CapturesNoneOf(db, p.info[i], name, column->second, dialect)) {
        const std::string renamed = fmt::format("{} was renamed from {}", column->second.front().first,
                                                column->second.front().second);
        STRATA_RETURN_IF_ERROR(uncapturable(
            fmt::format("it changes or removes rows of {}, whose column {} in a DO block or "
                        "routine: Strata follows no rename in a body, so what it captures here "
                        "could not be put back once the down script renames the column back; "
                        "write the rename outside the block (Strata follows it), or pass "
                        "--allow-irreversible to apply it without a way back",
                        name, renamed),
            fmt::format("rows of {}, whose column {} in a body", name, renamed)));
        body_renamed_column.erase(column);
      }
      auto from = body_renamed.find(sql::NameKey(name, dialect));
      if (from == body_renamed.end()) continue;
      STRATA_RETURN_IF_ERROR(uncapturable(
          fmt::format("it changes or removes rows of {}, which a DO block or routine renamed from "
                      "{}: Strata follows no rename in a body, so nothing of {} was captured and a "
                      "rollback could not bring its rows back; write the rename outside the block "
                      "(Strata follows it and captures what is lost), or pass --allow-irreversible "
                      "to apply it without a way back",
                      name, from->second, from->second),
          fmt::format("rows of {}, renamed from {} in a body", name, from->second)));
      body_renamed.erase(from);
    }
    // The body's own writes were captured before it ran, under the old
    // column name: only later statements are concerned.
    if (runs_body) {
      for (const auto& r : p.info[i].body_column_renames) {
        body_renamed_column[sql::NameKey(r.table, dialect)].emplace_back(r.to, r.from);
      }
    }
    if (p.info[i].destructive) plans.emplace_back(st.text, p.info[i]);
    for (const auto& [text, info] : plans) {
      auto capture = PlanCapture(db, tables, text, info, m.version,
                                 static_cast<int>(restores.size()) + 1);
      if (!capture.ok()) {
        if (capture.status().code() != Code::kIrreversible || !allow_irreversible) {
          return Status(capture.status().code(), fmt::format("migration {}: {}:{}: {}", m.id(),
                                                             m.up_path, st.line,
                                                             capture.status().message()));
        }
        uncaptured.push_back(info.summary);
      } else if (*capture) {
        // After a SET or set_config (a pg_dump header empties search_path),
        // the capture runs with the connection's settings, then gives the
        // migration its own back.
        const auto around = session_changed ? db.AroundCaptureSql()
                                            : std::pair<std::vector<std::string>, std::vector<std::string>>();
        for (const auto& sql : around.first) g.up.push_back({sql, st.line});
        // Other writers wait from the capture to the commit: a row they
        // change or add in between would go with the statement uncaptured.
        // (A no-transaction migration cannot hold a lock past a statement.)
        if (std::string lock = db.LockAgainstWritesSql(QuotedTable(db, info.schema, info.table));
            !lock.empty() && !m.directives.no_transaction && ActsOnATable(info.kind)) {
          g.up.push_back({std::move(lock), st.line});
        }
        for (auto& sql : (*capture)->before) g.up.push_back({std::move(sql), st.line});
        // The capture holds what the statement removes (a dropped column's
        // values, rows a policy hides from the application): Strata's alone.
        if (std::string revoke = db.RevokeFromOthersSql(db.QuoteIdent((*capture)->table)); !revoke.empty()) {
          g.up.push_back({std::move(revoke), st.line});
        }
        for (const auto& sql : around.second) g.up.push_back({sql, st.line});
        restores.push_back(std::move((*capture)->restore));
        if (!(*capture)->replaces.empty()) replaces.push_back((*capture)->replaces);
        if ((*capture)->merge) merges.push_back(MergeEntry(**capture, p, DialectOf(db.engine())));
        if (!(*capture)->by_rowid.empty()) by_rowid.push_back((*capture)->by_rowid);
        if (!(*capture)->probe.empty()) {
          nlohmann::json probe = {{"sql", (*capture)->probe},
                                  {"of", (*capture)->probed},
                                  {"changed", (*capture)->probe_changed},
                                  {"table", (*capture)->probed_table}};
          if (!(*capture)->keep.empty()) {
            probe["keep"] = (*capture)->keep;
            probe["unkeep"] = (*capture)->unkeep;
            probe["changed_rows"] = (*capture)->changed_rows;
          }
          if (!(*capture)->prune.empty()) probe["prune"] = (*capture)->prune;
          if (const auto& u = (*capture)->untouched) {
            probe["untouched"] = {{"where", u->where},   {"key", u->key},         {"copy_table", u->copy_table},
                                  {"key_now", u->key_now}, {"columns", u->columns}};
            // The rows it takes may include some the migration inserted.
            if (InsertsInto(std::span(p.info).first(i), info.table, DialectOf(db.engine()))) {
              probe["untouched"]["after_insert"] = true;
            }
          }
          probes.push_back(std::move(probe));
        }
      }
    }
    g.statements.push_back(g.up.size());
    g.up.push_back(st);
    // Row-level security turned on for a table this role does not bypass
    // would fail Strata's reads of it after the commit (they see every row or
    // none): read it now, so that the migration fails, and is undone, here.
    if (dialect == sql::Dialect::kPostgres && TurnsOnRowSecurity(st, dialect) && !p.info[i].table.empty()) {
      const std::string table = QuotedTable(db, p.info[i].schema, p.info[i].table);
      const std::string read = "SELECT 1 FROM " + table + " LIMIT 0";
      // With the connection's settings (row_security off), not a SET of the script's.
      const auto around = ChangesSession({st}) || session_changed
                              ? db.AroundCaptureSql()
                              : std::pair<std::vector<std::string>, std::vector<std::string>>();
      for (const auto& sql : around.first) g.up.push_back({sql, st.line});
      g.up.push_back({p.info[i].if_exists ? fmt::format("DO $strata$ BEGIN IF pg_catalog.to_regclass({}) IS "
                                                        "NOT NULL THEN PERFORM 1 FROM {} LIMIT 0; END IF; END "
                                                        "$strata$",
                                                        SqlLiteral(table), table)
                                          : read,
                      st.line});
      for (const auto& sql : around.second) g.up.push_back({sql, st.line});
    }
    session_changed = session_changed || ChangesSession({st});
    if (i < last_capture) STRATA_RETURN_IF_ERROR(tables.After(p.info[i]));
  }
  checks["captures"] = restores.size();
  if (!replaces.empty()) checks["replaces"] = std::move(replaces);
  if (!merges.empty()) checks["merges"] = std::move(merges);
  if (!by_rowid.empty()) checks["by_rowid"] = std::move(by_rowid);
  if (!probes.empty()) checks["probes"] = std::move(probes);
  g.uncaptured = !uncaptured.empty();
  if (!uncaptured.empty()) checks["uncaptured"] = std::move(uncaptured);
  for (auto it = restores.rbegin(); it != restores.rend(); ++it) {
    for (const auto& sql : *it) g.restore_script += sql + ";\n";
  }
  g.checks = JsonText(checks);
  return g;
}

/// What a run knows of tables' data without reading them: the fingerprint it
/// read last, or what statements that cannot change rows left behind.
class KnownData {
 public:
  /// The fingerprints of those of `tables` that exist, read where not known.
  /// `model` must be current for these tables: a table it does not have
  /// (unless it is one of Strata's own, which it leaves out) is not there.
  Result<std::vector<TableFingerprint>> Existing(Database& db, const std::vector<std::string>& tables,
                                                 const SchemaModel& model) {
    std::vector<TableFingerprint> out;
    std::vector<std::string> unread;
    for (const auto& t : tables) {
      auto it = known_.find(t);
      if (it != known_.end()) {
        if (it->second) out.push_back(*it->second);
      } else if (!model.HasTable(t) && AsciiLower(t).rfind("strata_", 0) != 0) {
        known_[t] = std::nullopt;
      } else {
        unread.push_back(t);
      }
    }
    STRATA_ASSIGN_OR_RETURN(auto read, ExistingTablesData(db, unread));
    for (const auto& t : unread) known_[t] = std::nullopt;
    for (auto& f : read) known_[f.table] = f;
    out.insert(out.end(), read.begin(), read.end());
    return out;
  }

  /// Learns what `infos` left in each of `tables`, where the statements tell
  /// without reading: indexes and triggers leave rows alone, a new table is
  /// empty, and a column added to an empty table leaves it empty. Any other
  /// statement may write rows of any table (directly, by triggers or by
  /// foreign key actions), so then everything is forgotten, to be read when
  /// needed.
  void After(const std::vector<sql::StatementInfo>& infos, const std::vector<std::string>& tables) {
    using K = sql::StatementKind;
    // Statements that write no rows beyond their own table's new column.
    bool ddl_only = std::all_of(infos.begin(), infos.end(), [](const sql::StatementInfo& i) {
      return i.kind == K::kCreateIndex || i.kind == K::kCreateTrigger || i.kind == K::kAddColumn ||
             (i.kind == K::kCreateTable && !i.from_query);
    });
    if (!ddl_only) {
      known_.clear();
      return;
    }
    for (const auto& t : tables) {
      auto it = known_.find(t);
      std::optional<TableFingerprint> now = it == known_.end() ? std::nullopt : it->second;
      bool derived = it != known_.end();
      for (const auto& i : infos) {
        if (!i.schema.empty()) derived = false;  // maybe another schema's table of that name
        if (AsciiLower(i.table.empty() ? i.object : i.table) != AsciiLower(t)) continue;
        if (i.kind == K::kCreateTable && !now) now = TableFingerprint{t, 0, std::string(32, '0')};
        if (i.kind == K::kAddColumn && (!now || now->rows != 0)) derived = false;
      }
      if (derived && now) {
        known_[t] = std::move(now);
      } else {
        known_.erase(t);
      }
    }
  }

  void Clear() { known_.clear(); }

 private:
  std::map<std::string, std::optional<TableFingerprint>> known_;  // nullopt: no such table
};

/// The fingerprint of the rows `probe["sql"]` reads now.
Result<std::string> ProbeHash(Database& db, const nlohmann::json& probe) {
  STRATA_ASSIGN_OR_RETURN(RowSum sum, SumRows(db, probe["sql"].get<std::string>()));
  return TableFingerprintOf("", sum).hash;
}

/// The column names of a table's schema block, in its order ("" on failure).
std::vector<std::string> ColumnsOfBlock(const std::string& block, sql::Dialect dialect) {
  std::vector<std::string> names;
  std::string_view rest = block;
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    if (line.rfind("  column ", 0) != 0) continue;
    sql::Lexer lexer(line.substr(9), dialect);
    auto name = lexer.Next();
    if (!name.ok() || (name->kind != sql::TokenKind::kWord &&
                       name->kind != sql::TokenKind::kQuotedIdentifier)) {
      return {};
    }
    names.push_back(sql::IdentifierName(*name, dialect));
  }
  return names;
}

/// The columns of `table` in the order `model` gives them (empty when it
/// has no such table).
std::vector<std::string> ColumnsIn(const SchemaModel& model, const std::string& table,
                                   sql::Dialect dialect) {
  const std::vector<std::string> tables = {table};
  for (const auto& [key, text] : model.Blocks(&tables)) {
    if (SchemaModel::KindOfKey(key) == "table" &&
        AsciiLower(SchemaModel::NameOfKey(key)) == AsciiLower(table)) {
      return ColumnsOfBlock(text, dialect);
    }
  }
  return {};
}

/// The data fingerprint of `table` now, hashed as its `facts` recorded it
/// when the migration left it ("after"): a table the migration created by
/// its columns' names, another with its columns in their order then
/// ("after_columns"; a later rollback may have put one back last), or in
/// their order now for rows recorded before that was kept. nullopt when
/// the table is not there.
Result<std::optional<TableFingerprint>> DataAsRecordedAfter(Database& db, const std::string& key,
                                                            const nlohmann::json& facts) {
  const std::string table = ReadAs(key, facts);
  const nlohmann::json* columns = facts.contains("after_columns") ? &facts["after_columns"] : nullptr;
  if (columns != nullptr && columns->is_array() && !columns->empty()) {
    std::string select;
    for (const auto& c : *columns) {
      select += (select.empty() ? "" : ", ") + db.QuoteIdent(c.get<std::string>());
    }
    auto sum = SumRows(db, fmt::format("SELECT {} FROM {}", select, db.QuoteIdent(table)));
    // A column gone since (or the table): read it as it is, which differs.
    if (sum.ok()) return std::optional<TableFingerprint>(TableFingerprintOf(table, *sum));
  }
  STRATA_ASSIGN_OR_RETURN(auto now, ExistingTablesData(db, {table}, facts.value("created", false)));
  if (now.empty()) return std::optional<TableFingerprint>();
  return std::optional<TableFingerprint>(std::move(now.front()));
}

/// `checks` with the data fingerprints of its tables as the migration left
/// them ("after"): a rollback compares data only where nothing was written since.
Result<std::string> WithDataAfter(Database& db, const std::string& checks_json, KnownData& known,
                                  const SchemaModel& model) {
  auto checks = nlohmann::json::parse(checks_json, nullptr, /*allow_exceptions=*/false);
  if (!checks.is_object()) return std::string();
  // For status: the schema it left, with columns in any order (a rollback
  // of a later migration may put a column back last).
  checks["schema_after_any_order"] = model.any_order_hash();
  // Each probe records what it reads now ("after"). One that no longer
  // reads (a later statement of the migration renamed or dropped what it
  // names) has nothing to compare; a capture's probe stays without "after"
  // when it names its table, whose data as the migration left it stands in.
  // One with a copy to keep ("keep") keeps it now; "kept" says it did
  // (without it, the hash alone is compared).
  auto read_after = [&db](nlohmann::json& probes) {
    nlohmann::json kept = nlohmann::json::array();
    for (auto& probe : probes) {
      auto hash = ProbeHash(db, probe);
      // Read first: a later statement of the migration may have renamed or
      // dropped what the prune names.
      if (hash.ok() && probe.contains("prune") && db.Exec(probe["prune"].get<std::string>()).ok()) {
        hash = ProbeHash(db, probe);
      }
      if (hash.ok()) {
        probe["after"] = *hash;
        if (probe.contains("keep") && db.Exec(probe["unkeep"].get<std::string>()).ok() &&
            db.Exec(probe["keep"].get<std::string>()).ok()) {
          probe["kept"] = true;
        }
      } else if (probe.value("table", "").empty()) {
        continue;
      }
      kept.push_back(std::move(probe));
    }
    probes = std::move(kept);
  };
  if (checks.contains("probes")) read_after(checks["probes"]);
  if (checks.contains("filled")) {
    nlohmann::json read = nlohmann::json::array();
    for (auto& filled : checks["filled"]) {
      const std::string table = filled["table"].get<std::string>();
      const std::string column = filled["column"].get<std::string>();
      if (filled.value("by_default", false)) {
        auto fill = DefaultFillAfter(db, table, column);
        if (!fill.ok() || !fill->has_value()) continue;  // nothing to hold
        filled["default"] = (*fill)->expression;
        if ((*fill)->one_value) {
          const std::optional<std::string>& value = *(*fill)->one_value;
          filled["value"] = value ? nlohmann::json(*value) : nlohmann::json(nullptr);
          read.push_back(std::move(filled));
          continue;
        }
      }
      auto query = FilledColumnQuery(db, table, column);
      auto sum = query.ok() ? SumRows(db, *query) : Result<RowSum>(query.status());
      if (!sum.ok()) continue;  // dropped or renamed away later: nothing to hold
      filled["after"] = TableFingerprintOf("", *sum).hash;
      read.push_back(std::move(filled));
    }
    checks["filled"] = std::move(read);
  }
  // A table remade by the migration, as it leaves it, when it has the
  // columns it had before, no fewer (a rebuild that drops one loses its
  // values, which only the capture holds): written since, another table is
  // not merged. A column it adds (Prisma's rebuild for ADD COLUMN .. NOT
  // NULL DEFAULT) must hold nothing of its own yet, NULL, its constant
  // default or one value the copy gave it in every row: values the
  // application writes to it since, which the down script drops, are
  // refused (RefuseDroppingWrittenColumns).
  if (checks.contains("merges")) {
    for (auto& merge : checks["merges"]) {
      if (!merge.contains("keep")) continue;
      const std::string table = merge["table"].get<std::string>();
      auto now = db.ListColumns(table);
      auto before = db.ListColumns(merge["capture"].get<std::string>());
      if (!now.ok() || !before.ok() || now->empty()) continue;
      std::set<std::string> had, has;
      for (const auto& c : *before) had.insert(AsciiLower(c));
      for (const auto& c : *now) has.insert(AsciiLower(c));
      if (!std::includes(has.begin(), has.end(), had.begin(), had.end())) continue;
      nlohmann::json added = nlohmann::json::array();
      bool empty = true;
      for (const std::string& c : *now) {
        if (had.count(AsciiLower(c))) continue;
        std::string other = OtherThanDefault(db, table, c);
        // The one value the rebuild's copy gave every row (shiori's
        // `SELECT .., 'warc' FROM bookmark`) is the migration's, as a
        // default's would be: byte for byte (not by the column's collation:
        // NOCASE's 'WARC' is another value), and in two rows at least (the
        // one row of a copy computing it, lower(name), holds one value too).
        const std::string text = db.engine() == Engine::kPostgres
                                     ? db.QuoteIdent(c) + "::text COLLATE \"C\""
                                     : "CAST(" + db.QuoteIdent(c) + " AS TEXT) COLLATE BINARY";
        auto fill = db.Query(fmt::format("SELECT DISTINCT {} FROM {} WHERE {} LIMIT 2", text,
                                         db.QuoteIdent(table), other));
        if (fill.ok() && fill->rows.size() == 1 && !fill->rows[0][0].is_null() &&
            CountRows(db, table, other).value_or(0) >= 2) {
          other += fmt::format(" AND {} {} {}", text,
                               db.engine() == Engine::kPostgres ? "IS DISTINCT FROM" : "IS NOT",
                               SqlLiteral(fill->rows[0][0].ToString()));
        }
        empty = empty && CountRows(db, table, other) == 0;
        added.push_back({{"column", c}, {"other", other}});
      }
      if (!empty) continue;
      if (!added.empty()) merge["added"] = std::move(added);
      // A plain copy only: the same rows, value for value (a copy that
      // changes values, lower(name) or NULL for a column, would keep its
      // change in the rows the application writes since). As text: a new
      // type (SQLite's INTEGER to TEXT: 10 to '10') is no change of value.
      std::string columns;
      for (const auto& c : *before) {
        const std::string q = db.QuoteIdent(c);
        columns += (columns.empty() ? "" : ", ") +
                   (db.engine() == Engine::kPostgres ? q + "::text" : "CAST(" + q + " AS TEXT)");
      }
      auto was = SumRows(db, fmt::format("SELECT {} FROM {}", columns, db.QuoteIdent(merge["capture"].get<std::string>())));
      auto is = SumRows(db, fmt::format("SELECT {} FROM {}", columns, db.QuoteIdent(merge["table"].get<std::string>())));
      if (!was.ok() || !is.ok() || was->sum != is->sum || was->rows != is->rows) continue;
      if (db.Exec(merge["unkeep"].get<std::string>()).ok() && db.Exec(merge["keep"].get<std::string>()).ok()) {
        merge["kept"] = true;
      }
    }
  }
  if (checks.contains("created_elsewhere")) {
    nlohmann::json outside_managed = nlohmann::json::array();
    for (auto& t : checks["created_elsewhere"]) {
      auto outside = db.OutsideSchema(t["schema"].get<std::string>(), t["table"].get<std::string>());
      if (!outside.ok() || outside->empty()) continue;  // in the managed schema: "data" has it
      t["sql"] = "SELECT * FROM " + db.QuoteIdent(*outside) + "." +
                 db.QuoteIdent(t["table"].get<std::string>());
      outside_managed.push_back(std::move(t));
    }
    read_after(outside_managed);
    checks["created_elsewhere"] = std::move(outside_managed);
  }
  if (checks.contains("added_elsewhere")) {
    nlohmann::json outside_managed = nlohmann::json::array();
    for (auto& c : checks["added_elsewhere"]) {
      auto outside = db.OutsideSchema(c["schema"].get<std::string>(), c["table"].get<std::string>());
      if (!outside.ok() || outside->empty()) continue;  // in the managed schema: the other checks have it
      const std::string column = db.QuoteIdent(c["column"].get<std::string>());
      c["sql"] = fmt::format("SELECT {0} FROM {1}.{2} WHERE {0} IS NOT NULL", column, db.QuoteIdent(*outside),
                             db.QuoteIdent(c["table"].get<std::string>()));
      outside_managed.push_back(std::move(c));
    }
    read_after(outside_managed);
    checks["added_elsewhere"] = std::move(outside_managed);
  }
  if (checks["data"].empty()) return JsonText(checks);
  std::vector<std::string> tables;
  for (auto& [key, facts] : checks["data"].items()) {
    // A rebuild's old and new table may end under one name: read it once.
    std::string read_as = ReadAs(key, facts);
    if (std::find(tables.begin(), tables.end(), read_as) == tables.end()) tables.push_back(read_as);
  }
  STRATA_ASSIGN_OR_RETURN(auto existing, known.Existing(db, tables, model));
  for (auto& [key, facts] : checks["data"].items()) {
    auto read = std::find_if(existing.begin(), existing.end(), [&](const TableFingerprint& f) {
      return f.table == ReadAs(key, facts);
    });
    if (read == existing.end()) continue;
    const TableFingerprint& t = *read;
    facts["after"] = t.hash;
    // The order of the columns it was hashed in (KnownData reads them in
    // their order), for when a later rollback has put one back last.
    if (!facts.value("created", false)) {
      std::vector<std::string> columns = ColumnsIn(model, t.table, DialectOf(db.engine()));
      if (!columns.empty()) facts["after_columns"] = std::move(columns);
    }
    // A table the migration created is compared by its columns' names: a
    // later rollback may have put one of them back at the end.
    if (facts.value("created", false) && t.rows > 0) {
      STRATA_ASSIGN_OR_RETURN(DataFingerprint named, FingerprintData(db, {t.table}, true));
      facts["after"] = named.tables.at(0).hash;
    }
  }
  return JsonText(checks);
}

/// Applied migrations whose schema and data afterwards are still to be read.
/// On PostgreSQL reading the catalog after each migration costs more than
/// the migration itself, so consecutive migrations on different tables share
/// one read, taken before a migration touches one of their tables or reaches
/// beyond its tables, and at the end: until then nothing else changed their
/// tables, so the read shows what each of them left.
class Unread {
 public:
  struct Entry {
    int64_t version = 0;
    int64_t duration_ms = 0;
    std::vector<std::string> tables;
    std::string checks;
  };

  bool Touches(const std::vector<std::string>& tables) const {
    return std::any_of(tables.begin(), tables.end(),
                       [&](const std::string& t) { return tables_.count(AsciiLower(t)) > 0; });
  }

  void Add(Entry e) {
    for (const auto& t : e.tables) tables_.insert(AsciiLower(t));
    entries_.push_back(std::move(e));
  }

  void SetDuration(int64_t version, int64_t ms) {
    for (auto& e : entries_) {
      if (e.version == version) e.duration_ms = ms;
    }
  }

  /// Forgets the migration `version` (it did not apply after all).
  void Drop(int64_t version) {
    std::erase_if(entries_, [&](const Entry& e) { return e.version == version; });
    tables_.clear();
    for (const auto& e : entries_) {
      for (const auto& t : e.tables) tables_.insert(AsciiLower(t));
    }
  }

  /// Reads the catalog of all their tables at once and brings `model` up to
  /// date migration by migration; the outcome of each, in order.
  Result<std::vector<History::Outcome>> Read(Database& db, SchemaModel& model, KnownData& known) {
    std::vector<History::Outcome> out;
    if (entries_.empty()) return out;
    std::vector<std::string> tables;
    for (const auto& e : entries_) tables.insert(tables.end(), e.tables.begin(), e.tables.end());
    STRATA_ASSIGN_OR_RETURN(std::vector<SchemaObject> objects, NewCatalog(db)->Objects(&tables));
    for (const auto& e : entries_) {
      std::string before = model.hash();
      model.Replace(objects, &e.tables);
      STRATA_ASSIGN_OR_RETURN(std::string checks, WithDataAfter(db, e.checks, known, model));
      out.push_back({e.version, e.duration_ms, std::move(before), model.hash(), std::move(checks)});
    }
    entries_.clear();
    tables_.clear();
    return out;
  }

 private:
  std::vector<Entry> entries_;
  std::set<std::string> tables_;  // lower case
};

/// Tables whose data changed after the migration (the application wrote to
/// them): their data cannot be expected to return to what it was before.
/// Each costs a read of the whole table. With `guarded_only`, only the
/// tables whose later writes a rollback would lose (created by it, or put
/// back whole, or lower-case in `also`): RefuseReplacingWrites and
/// CopyUntouched need those before the rollback; the others matter only
/// once a rollback check fails.
Result<std::vector<std::string>> WrittenSince(Database& db, const std::string& checks_json,
                                              bool guarded_only, const std::set<std::string>& also = {}) {
  std::vector<std::string> out;
  auto checks = nlohmann::json::parse(checks_json, nullptr, /*allow_exceptions=*/false);
  if (!checks.is_object()) return out;
  std::set<std::string> replaced;  // and put back by rowid: guarded as well
  for (const char* guarded : {"replaces", "by_rowid"}) {
    if (!checks.contains(guarded)) continue;
    for (const auto& t : checks[guarded]) replaced.insert(AsciiLower(t.get<std::string>()));
  }
  for (auto& [table, facts] : checks["data"].items()) {
    if (!facts.contains("after")) continue;
    if (!facts.value("created", false) && guarded_only && !replaced.count(AsciiLower(table)) &&
        !also.count(AsciiLower(table))) {
      continue;
    }
    STRATA_ASSIGN_OR_RETURN(std::optional<TableFingerprint> now, DataAsRecordedAfter(db, table, facts));
    if (now && now->hash != facts["after"].get<std::string>()) out.push_back(table);
  }
  return out;
}

/// The refusal to drop `table`, which migration `id` created, with rows
/// written to it since; `now`: its name now (the migration may have renamed it).
Status CreatedTableWrittenSince(const std::string& id, const std::string& table,
                                const std::string& now) {
  return Status(Code::kVerifyFailed,
                fmt::format("{} created table {}, and {} was written to since (its rows differ "
                            "from what {} left); a rollback of {} must remove the table it "
                            "created, and those rows with it, so {} was not rolled back. Save "
                            "what was written since (or take a snapshot), then pass "
                            "--discard-later-writes",
                            id, table == now ? table : fmt::format("{} (now {})", table, now), now,
                            id, id, id));
}

/// Whether what `probe["sql"]` reads now differs from what it read as the
/// migration left it (`probe["after"]`); false when it cannot be read (gone
/// or renamed since: the down script will say what is wrong).
bool ReadsOtherwiseNow(Database& db, const nlohmann::json& probe) {
  if (!probe.contains("after")) return false;
  auto hash = ProbeHash(db, probe);
  if (!hash.ok() || *hash == probe["after"].get<std::string>()) return false;
  // Rows deleted since differ in the hash, but the restore writes nothing
  // to them: the rows still there are compared with the copy kept.
  if (probe.value("kept", false)) {
    auto changed = db.Query(probe["changed_rows"].get<std::string>());
    if (changed.ok() && !changed->empty()) return changed->rows[0][0].ToInt() > 0;
  }
  return true;
}

/// The names `table` goes by in `script` (renamed away and back, or a
/// table renamed to it): NameKeys.
std::set<std::string> NamesInScript(const std::vector<sql::StatementInfo>& script, const std::string& table,
                                    sql::Dialect dialect) {
  std::set<std::string> names = {sql::NameKey(table, dialect)};
  for (bool grew = true; grew;) {
    grew = false;
    for (const sql::StatementInfo& d : script) {
      if (d.kind != sql::StatementKind::kRenameTable) continue;
      const std::string from = sql::NameKey(d.table, dialect), to = sql::NameKey(d.new_name, dialect);
      if (names.count(from) != names.count(to)) {
        names.insert(from);
        names.insert(to);
        grew = true;
      }
    }
  }
  return names;
}

/// The tables a rollback puts back whole whose rows written since it
/// keeps as the down script copies them back (Capture::Merge): copied as
/// the migration left them, written to since, and filled by the down script
/// itself (a rebuild's INSERT .. SELECT into the table, or into the table
/// it then renames to it). Lower-case names.
std::set<std::string> MergedTables(const nlohmann::json& checks, const std::vector<std::string>& written,
                                   const std::vector<sql::StatementInfo>& down, sql::Dialect dialect) {
  std::set<std::string> out;
  if (!checks.is_object() || !checks.contains("merges")) return out;
  for (const auto& merge : checks["merges"]) {
    if (!merge.value("kept", false)) continue;
    const std::string table = merge["table"].get<std::string>();
    if (std::none_of(written.begin(), written.end(),
                     [&](const std::string& w) { return AsciiLower(w) == AsciiLower(table); })) {
      continue;
    }
    const std::set<std::string> names = NamesInScript(down, table, dialect);
    if (std::any_of(down.begin(), down.end(), [&](const sql::StatementInfo& d) {
          return d.kind == sql::StatementKind::kInsert && names.count(sql::NameKey(d.table, dialect));
        })) {
      out.insert(AsciiLower(table));
    }
  }
  return out;
}

/// The tables a down script renames away before it makes them anew, and
/// keeps (keto's rollback of DROP TABLE t; ALTER TABLE t_uuid RENAME TO t):
/// the rows written to one since go with the rename, and the captured table
/// goes back into the new one over nothing of theirs. Only when, after the
/// rename, the script does nothing to either name but make the old table
/// anew (CREATE TABLE, indexes, triggers): no rows copied in, no further
/// rename, no drop. Lower-case names.
std::set<std::string> RenamedAwayByDown(const std::vector<sql::StatementInfo>& down) {
  using K = sql::StatementKind;
  std::set<std::string> out, created;
  for (size_t k = 0; k < down.size(); ++k) {
    const sql::StatementInfo& d = down[k];
    if (d.kind == K::kCreateTable) created.insert(AsciiLower(d.object));
    if (d.kind != K::kRenameTable || created.count(AsciiLower(d.table))) continue;
    const std::string from = AsciiLower(d.table), to = AsciiLower(d.new_name);
    auto names = [&](const std::string& n) { return AsciiLower(n) == from || AsciiLower(n) == to; };
    const bool undone = std::any_of(down.begin() + k + 1, down.end(), [&](const sql::StatementInfo& e) {
      switch (e.kind) {
        case K::kCreateTable: return names(e.object) && AsciiLower(e.object) != from;
        case K::kCreateIndex: case K::kCreateTrigger: return false;
        case K::kRenameTable: return names(e.table) || names(e.new_name);
        case K::kDropTable:
          return std::any_of(e.objects.begin(), e.objects.end(), [&](const sql::ObjectName& o) { return names(o.name); });
        default:
          return names(e.table) || names(e.object) ||
                 std::any_of(e.writes.begin(), e.writes.end(), [&](const std::string& w) { return names(w); });
      }
    });
    if (!undone) out.insert(from);
  }
  return out;
}

/// Whether every row the down script writes into `table` (under any of its
/// names in the script) it copies from that table itself: a rebuild back,
/// whose rows no other table's writes since can carry into it.
bool CopiesOnlyItself(const std::vector<sql::StatementInfo>& down, const std::string& table,
                      sql::Dialect dialect) {
  const std::set<std::string> names = NamesInScript(down, table, dialect);
  auto named = [&](const std::string& n) { return names.count(sql::NameKey(n, dialect)) > 0; };
  for (const sql::StatementInfo& d : down) {
    if (std::any_of(d.writes.begin(), d.writes.end(), named)) return false;  // a body's writes
    if (!named(d.table)) continue;
    if (d.kind == sql::StatementKind::kUpdate) return false;  // values from anywhere
    if (d.kind != sql::StatementKind::kInsert) continue;
    if (d.reads.empty() || !std::all_of(d.reads.begin(), d.reads.end(), named)) return false;
  }
  return true;
}

/// OK unless rolling back would put a table back whole (it was dropped,
/// truncated or emptied, and captured) while rows were written to it since
/// the migration: those writes would be lost without a word.
Status RefuseReplacingWrites(const std::string& id, const nlohmann::json& checks,
                             const std::vector<std::string>& written,
                             const std::set<std::string>& merged) {
  if (!checks.is_object()) return Status::OK();
  const nlohmann::json no_facts = nlohmann::json::object();
  auto facts_of = [&](const std::string& table) -> const nlohmann::json& {
    if (!checks.contains("data") || !checks["data"].contains(table)) return no_facts;
    return checks["data"][table];
  };
  // The first table of the list checks[key] written to since, if any.
  // (Not one whose rows written since stay as the down script copies them.)
  auto first_written = [&](const char* key) -> std::optional<std::string> {
    if (!checks.contains(key)) return std::nullopt;
    for (const auto& t : checks[key]) {
      std::string table = t.get<std::string>();
      if (!merged.count(AsciiLower(table)) &&
          std::any_of(written.begin(), written.end(),
                      [&](const std::string& w) { return AsciiLower(w) == AsciiLower(table); })) {
        return table;
      }
    }
    return std::nullopt;
  };
  // A table put back whole first: in a rebuild, the table the migration
  // created took the name of the one it replaced, and this says it better.
  if (auto table = first_written("replaces")) {
    return Status(Code::kVerifyFailed,
                  fmt::format("rolling back {} would put table {} back as it was before {} (its "
                              "rows were captured whole), but {} was written to since {} was "
                              "applied, and those writes would be lost; {} was not rolled back. "
                              "Save what was written since (or take a snapshot), then pass "
                              "--discard-later-writes",
                              id, *table, id, ReadAs(*table, facts_of(*table)), id, id));
  }
  if (auto table = first_written("by_rowid")) {
    return Status(Code::kVerifyFailed,
                  fmt::format("rolling back {} would put rows or values of table {} back by "
                              "SQLite's rowid (it has no primary key), but {} was written to "
                              "since {} was applied, and a row written since may hold a "
                              "captured row's rowid (SQLite reuses the rowid of a deleted last "
                              "row, and VACUUM renumbers them), so they could land on other "
                              "rows; {} was not rolled back. Save what was written since (or "
                              "take a snapshot), then pass --discard-later-writes",
                              id, *table, ReadAs(*table, facts_of(*table)), id, id));
  }
  for (const auto& table : written) {
    const auto& facts = facts_of(table);
    if (!facts.is_object() || !facts.value("created", false)) continue;
    // The new table of a rebuild (__new_t, renamed t) whose rows stay.
    if (merged.count(AsciiLower(ReadAs(table, facts)))) continue;
    return CreatedTableWrittenSince(id, NameAt(table, facts), ReadAs(table, facts));
  }
  return Status::OK();
}

/// OK unless rolling back drops a table the migration created outside the
/// managed schema ("flipr.users") whose rows differ from what the migration
/// left: written since, and dropping it would lose them without a word.
/// Likewise a column it added to such a table that the down script drops
/// (itself or with its table) and that holds other values now.
Status RefuseDroppingTablesWrittenElsewhere(Database& db, const std::string& id,
                                            const nlohmann::json& checks,
                                            const std::vector<sql::StatementInfo>& down,
                                            sql::Dialect dialect) {
  if (!checks.is_object()) return Status::OK();
  for (const auto& t : checks.value("created_elsewhere", nlohmann::json::array())) {
    if (!ReadsOtherwiseNow(db, t)) continue;
    std::string table = t["schema"].get<std::string>() + "." + t["table"].get<std::string>();
    return CreatedTableWrittenSince(id, table, table);
  }
  auto same = [&](const std::string& a, const std::string& b) {
    return sql::NameKey(a, dialect) == sql::NameKey(b, dialect);
  };
  for (const auto& c : checks.value("added_elsewhere", nlohmann::json::array())) {
    const std::string schema = c["schema"].get<std::string>(), table = c["table"].get<std::string>(),
                      column = c["column"].get<std::string>();
    const bool dropped = std::any_of(down.begin(), down.end(), [&](const sql::StatementInfo& d) {
      if (d.kind == sql::StatementKind::kDropTable) {
        return std::any_of(d.objects.begin(), d.objects.end(), [&](const sql::ObjectName& o) {
          return same(o.schema, schema) && same(o.name, table);
        });
      }
      return same(d.schema, schema) && DropsColumn(d, table, column, dialect);
    });
    if (!dropped || !ReadsOtherwiseNow(db, c)) continue;
    return Status(Code::kVerifyFailed,
                  fmt::format("rolling back {} drops column {}.{}.{}, which {} added, and it holds "
                              "values written since {} was applied (in schema {}, which Strata "
                              "does not check, so only this says so); those values would be lost, "
                              "so {} was not rolled back. Save them (or take a snapshot), then pass "
                              "--discard-later-writes",
                              id, schema, table, column, id, id, schema, id));
  }
  return Status::OK();
}

/// The name now of the table called `key` before the migration when it
/// holds other rows than the migration left (written since); "" otherwise,
/// or when that is not known.
std::string TableWrittenSince(Database& db, const nlohmann::json& checks, const std::string& key) {
  if (key.empty() || !checks.contains("data") || !checks["data"].contains(key)) return "";
  const nlohmann::json& facts = checks["data"][key];
  if (!facts.is_object() || !facts.contains("after")) return "";
  auto now = DataAsRecordedAfter(db, key, facts);
  bool written = now.ok() && now->has_value() && (*now)->hash != facts["after"].get<std::string>();
  return written ? ReadAs(key, facts) : "";
}

/// OK unless the restore would write captured values or rows over ones the
/// application wrote since the migration: what each probe reads now differs
/// from what it read as the migration left the table.
Status RefuseOverwritingWrites(Database& db, const std::string& id,
                               const nlohmann::json& checks) {
  if (!checks.is_object() || !checks.contains("probes")) return Status::OK();
  for (const auto& probe : checks["probes"]) {
    // A probe that could not read once the migration ended (it renamed the
    // table or columns after capturing): the whole table written to since
    // counts. (A rename in the probe would follow them, at more cost.)
    std::string changed;
    if (probe.contains("after")) {
      if (ReadsOtherwiseNow(db, probe)) {
        changed = probe["changed"].get<std::string>();
        // Without the copy, the rows deleted since count as well.
        if (probe.contains("keep") && !probe.value("kept", false)) changed += " (or deleted their rows)";
      }
    } else if (std::string now = TableWrittenSince(db, checks, probe.value("table", ""));
               !now.empty()) {
      changed = fmt::format("{} was written to (what {} captured was renamed after, so the whole "
                            "table is compared)", now, id);
    }
    if (changed.empty()) continue;
    return Status(Code::kVerifyFailed,
                  fmt::format("rolling back {} would put back the {} it captured, but {} since "
                              "it was applied, and those writes would be lost; {} was not rolled "
                              "back. Save what was written since (or take a snapshot), then pass "
                              "--discard-later-writes",
                              id, probe["of"].get<std::string>(), changed, id));
  }
  return Status::OK();
}

/// Whether `table`'s rows are as the migration whose `checks` these are left
/// them: nothing was written to it since.
bool UnchangedSince(Database& db, const nlohmann::json& checks, const std::string& table) {
  if (!checks.is_object() || !checks.contains("data")) return false;
  for (auto& [key, facts] : checks["data"].items()) {
    if (AsciiLower(ReadAs(key, facts)) != AsciiLower(table) || !facts.contains("after")) continue;
    auto now = DataAsRecordedAfter(db, key, facts);
    return now.ok() && now->has_value() && (*now)->hash == facts["after"].get<std::string>();
  }
  return false;
}

/// The default of `table`.`column` when it is a constant (a literal, maybe
/// signed, in parentheses or cast: 0, false, 'new'::status): the value every
/// row there when the column was added got. nullopt for an expression
/// (now(), nextval(..)), whose values cannot be told from ones written since.
struct ConstantValue {
  std::string written;   // as the catalog shows it: false, 'new'::status
  std::string compared;  // what a column's value is compared with (IS NOT / IS DISTINCT FROM)
};
std::optional<ConstantValue> ConstantDefault(Database& db, const std::string& table,
                                             const std::string& column) {
  auto rows = db.engine() == Engine::kPostgres
                  ? db.Query("SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid), "
                             "pg_catalog.format_type(a.atttypid, a.atttypmod) FROM "
                             "pg_catalog.pg_attrdef d JOIN pg_catalog.pg_attribute a ON "
                             "a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = "
                             "$1::regclass AND a.attname = $2 AND a.attgenerated = ''",
                             {Value(db.QuoteIdent(table)), Value(column)})
                  : db.Query("SELECT dflt_value FROM pragma_table_xinfo($1) WHERE name = $2 "
                             "COLLATE NOCASE AND hidden = 0",
                             {Value(table), Value(column)});
  if (!rows.ok() || rows->empty() || rows->rows[0][0].is_null()) return std::nullopt;
  static const std::regex kConstant(
      R"(^[(\s]*[-+]?\s*(\d+(\.\d*)?([eE][-+]?\d+)?|\.\d+|'([^']|'')*'|true|false)[)\s]*)"
      R"((::[a-z_][a-z0-9_ ."]*(\([0-9, ]*\))?(\[\])?[)\s]*)?$)",
      std::regex::icase);
  std::string expr = rows->rows[0][0].ToString();
  if (!std::regex_match(expr, kConstant)) return std::nullopt;
  // PostgreSQL: as the column holds it, compared as text (real 0.1 is not
  // numeric 0.1; json and point have no equality).
  if (db.engine() == Engine::kPostgres) {
    return ConstantValue{expr, fmt::format("(CAST(({}) AS {}))::text", expr, rows->rows[0][1].ToString())};
  }
  return ConstantValue{expr, "(" + expr + ")"};
}

/// The values of a column the migration added and filled (checks["filled"]),
/// as text, each with its row's key (SQLite: rowid when there is no primary
/// key; PostgreSQL: none then): what a rollback compares with how the
/// migration left them, so that values swapped between rows count too.
/// Rows holding NULL or the column's constant default are left out: a row
/// the application inserts since without a value loses nothing.
Result<std::string> FilledColumnQuery(Database& db, const std::string& table, const std::string& column) {
  const bool pg = db.engine() == Engine::kPostgres;
  auto text = [&](const std::string& name) {
    const std::string c = db.QuoteIdent(name);
    return pg ? c + "::text" : "CAST(" + c + " AS TEXT)";
  };
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> key, db.ListPrimaryKey(table));
  std::string select;
  for (const std::string& k : key) select += text(k) + ", ";
  if (key.empty() && !pg) select = "rowid, ";
  return fmt::format("SELECT {}{} FROM {} WHERE {}", select, text(column), db.QuoteIdent(table),
                     OtherThanDefault(db, table, column));
}

std::optional<int64_t> CountRows(Database& db, const std::string& table, const std::string& where,
                                 const std::vector<Value>& params) {
  auto rows = db.Query(fmt::format("SELECT count(*) FROM {} WHERE {}", db.QuoteIdent(table), where), params);
  if (!rows.ok() || rows->empty()) return std::nullopt;
  return rows->rows[0][0].ToInt();
}

std::string OtherThanDefault(Database& db, const std::string& table, const std::string& column) {
  const std::string c = db.QuoteIdent(column);
  std::optional<ConstantValue> fill = ConstantDefault(db, table, column);
  if (!fill) return c + " IS NOT NULL";
  return db.engine() == Engine::kPostgres
             ? fmt::format("{0} IS NOT NULL AND {0}::text IS DISTINCT FROM {1}", c, fill->compared)
             : fmt::format("{0} IS NOT NULL AND {0} IS NOT {1}", c, fill->compared);
}

Result<std::optional<DefaultFill>> DefaultFillAfter(Database& db, const std::string& table,
                                                    const std::string& column) {
  STRATA_ASSIGN_OR_RETURN(
      Rows rows,
      db.Query("SELECT a.attgenerated <> '', CASE WHEN a.attidentity <> '' THEN 'identity' ELSE "
               "pg_catalog.pg_get_expr(d.adbin, d.adrelid) END FROM pg_catalog.pg_attribute a LEFT "
               "JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
               "WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped",
               {Value(db.QuoteIdent(table)), Value(column)}));
  if (rows.empty() || rows.rows[0][0].ToString() == "t") return std::optional<DefaultFill>();
  // The default as it ends (the migration may have changed or dropped the
  // one that filled the rows).
  DefaultFill fill{rows.rows[0][1].is_null() ? "none" : rows.rows[0][1].ToString(), std::nullopt};
  const std::string c = db.QuoteIdent(column) + "::text";
  STRATA_ASSIGN_OR_RETURN(Rows range,
                          db.Query(fmt::format("SELECT min({0}), max({0}) FROM {1}", c, db.QuoteIdent(table))));
  const Value& low = range.rows[0][0];
  const bool one = !low.is_null() && low.ToString() == range.rows[0][1].ToString();
  // No row got a value, or all the constant default there now: held as any
  // column added with a constant default (RefuseDroppingWrittenColumns
  // leaves out the rows holding it).
  if (std::optional<ConstantValue> constant = ConstantDefault(db, table, column); constant && (low.is_null() || one)) {
    if (low.is_null()) return std::optional<DefaultFill>();
    auto as_text = db.Query("SELECT " + constant->compared);
    if (as_text.ok() && !as_text->empty() && as_text->rows[0][0].ToString() == low.ToString()) {
      return std::optional<DefaultFill>();
    }
  }
  if (low.is_null()) {
    fill.one_value = std::optional<std::string>();
  } else if (one) {
    fill.one_value = low.ToString();
  }
  return std::optional<DefaultFill>(std::move(fill));
}

/// OK unless rolling back drops a column the migration added empty or with
/// a constant default (no generated value, not assigned by an UPDATE of the
/// migration, no INSERT of it into that table) that holds other values now: the application wrote them
/// since, and dropping the column would lose them without a word. Whatever the down
/// script's way of removing it (DROP COLUMN, a table rebuild), a rollback
/// that passes its check leaves the schema as before, without the column;
/// unless the down script renames the column and keeps it (a no-op ADD
/// COLUMN IF NOT EXISTS after a DO block renamed a column to that name).
/// Values the migration itself put there (through a procedure or function,
/// which the script does not show) are told apart by the table's rows being
/// as it left them.
Status RefuseDroppingWrittenColumns(Database& db, const AppliedMigration& m,
                                    const nlohmann::json& checks,
                                    const std::vector<sql::StatementInfo>& up_infos,
                                    const std::vector<sql::StatementInfo>& down_infos,
                                    sql::Dialect dialect) {
  // ADD COLUMN IF NOT EXISTS of a column that was there: the rollback keeps it.
  auto existed_before = [&](const std::string& table, const std::string& column) {
    if (!checks.is_object() || !checks.contains("objects")) return false;
    for (const auto& [key, text] : checks["objects"].items()) {
      if (SchemaModel::KindOfKey(key) != "table" ||
          sql::NameKey(SchemaModel::NameOfKey(key), dialect) != sql::NameKey(table, dialect)) {
        continue;
      }
      for (const std::string& c : ColumnsOfBlock(text.get<std::string>(), dialect)) {
        if (sql::NameKey(c, dialect) == sql::NameKey(column, dialect)) return true;
      }
    }
    return false;
  };
  // The table's name as the migration left it (a later statement may have
  // renamed it): its data fact knows.
  auto name_after = [&](const std::string& table) {
    if (checks.is_object() && checks.contains("data")) {
      for (const auto& [key, facts] : checks["data"].items()) {
        if (sql::NameKey(NameAt(key, facts), dialect) == sql::NameKey(table, dialect)) return ReadAs(key, facts);
      }
    }
    return table;
  };
  // The columns held below by what the migration (or its default) filled
  // them with as it ended.
  auto held_below = [&](const std::string& table, const std::string& column) {
    if (!checks.is_object() || !checks.contains("filled")) return false;
    return std::any_of(checks["filled"].begin(), checks["filled"].end(), [&](const nlohmann::json& f) {
      return (f.contains("after") || f.contains("value")) &&
             sql::NameKey(f["table"].get<std::string>(), dialect) == sql::NameKey(table, dialect) &&
             sql::NameKey(f["column"].get<std::string>(), dialect) == sql::NameKey(column, dialect);
    });
  };
  for (size_t i = 0; i < up_infos.size(); ++i) {
    const sql::StatementInfo& info = up_infos[i];
    if (info.added.empty()) continue;
    const std::string table = name_after(info.table);
    for (sql::AddedColumn added : info.added) {
      if (added.if_not_exists && existed_before(info.table, added.name)) continue;
      // The migration's values: held below, when written since.
      if (FillsAddedColumn(up_infos, i, info.table, added.name, dialect)) continue;
      added.name = ColumnNameAfter(up_infos, i + 1, info.table, added.name, dialect);
      if (held_below(table, added.name) || KeptUnderNewName(down_infos, table, added.name, dialect)) continue;
      // What the rows there then got: NULL, or the column's constant default.
      std::optional<ConstantValue> filled;
      if (added.fills) {
        filled = ConstantDefault(db, table, added.name);
        if (!filled) continue;
      }
      const int64_t n = CountRows(db, table, OtherThanDefault(db, table, added.name)).value_or(0);
      if (n == 0 || UnchangedSince(db, checks, table)) continue;
      return Status(Code::kVerifyFailed,
                    fmt::format("rolling back {} drops column {}.{}, which {} added {}, and {} "
                                "row{} hold{} {} value in it now (written since {} was applied); "
                                "those values would be lost, so {} was not rolled back. Save "
                                "them (or take a snapshot), then pass --discard-later-writes",
                                m.id(), table, added.name, m.id(),
                                filled ? "with the default " + filled->written : "empty", n,
                                n == 1 ? "" : "s", n == 1 ? "s" : "", filled ? "another" : "a",
                                m.id(), m.id()));
    }
  }
  // A column a rebuild added (merged back, Capture::Merge): the down
  // script rebuilds the table without it.
  for (const auto& merge : checks.is_object() ? checks.value("merges", nlohmann::json::array())
                                              : nlohmann::json::array()) {
    if (!merge.value("kept", false) || !merge.contains("added")) continue;
    const std::string table = merge["table"].get<std::string>();
    if (UnchangedSince(db, checks, table)) continue;
    for (const auto& added : merge["added"]) {
      const int64_t n = CountRows(db, table, added["other"].get<std::string>()).value_or(0);
      if (n == 0) continue;
      return Status(Code::kVerifyFailed,
                    fmt::format("rolling back {} rebuilds table {} without column {}, which {} "
                                "added, and {} row{} hold{} a value in it now (written since {} "
                                "was applied); those values would be lost, so {} was not rolled "
                                "back. Save them (or take a snapshot), then pass --discard-later-writes",
                                m.id(), table, added["column"].get<std::string>(), m.id(), n,
                                n == 1 ? "" : "s", n == 1 ? "s" : "", m.id(), m.id()));
    }
  }
  // A column it added and filled itself (ADD COLUMN position_int; UPDATE ..
  // SET position_int = CAST(position AS INTEGER), maybe renamed after), or
  // whose default did (DEFAULT now()): the rollback drops it, so its values
  // must be the migration's, as summed when it ended, or the one value its
  // default gave every row then; values written since would be lost.
  for (const auto& filled : checks.is_object() ? checks.value("filled", nlohmann::json::array())
                                               : nlohmann::json::array()) {
    if (!filled.contains("after") && !filled.contains("value")) continue;
    const std::string table = filled["table"].get<std::string>();
    const std::string column = filled["column"].get<std::string>();
    if (UnchangedSince(db, checks, table)) continue;
    const std::string added = filled.value("added", column);
    if (filled.value("if_not_exists", false) && existed_before(table, added)) continue;
    if (KeptUnderNewName(down_infos, table, column, dialect)) continue;
    const std::string by = filled.contains("default")
                               ? " with a default (" + filled["default"].get<std::string>() + " when it ended)"
                               : " and filled";
    const std::string named = added == column ? "" : " (as " + added + ")";
    if (filled.contains("value")) {
      const nlohmann::json& value = filled["value"];
      const int64_t n =
          CountRows(db, table,
                    OtherThanDefault(db, table, column) +
                        (value.is_null() ? "" : fmt::format(" AND {}::text IS DISTINCT FROM $1", db.QuoteIdent(column))),
                    value.is_null() ? std::vector<Value>{} : std::vector<Value>{Value(value.get<std::string>())})
              .value_or(0);
      if (n == 0) continue;
      return Status(Code::kVerifyFailed,
                    fmt::format("rolling back {} drops column {}.{}, which {} added{}{}, and {} "
                                "row{} hold{} a value {} (written or inserted since {} was "
                                "applied); those values would be lost, so {} was not rolled back. "
                                "Save them (or take a snapshot), then pass --discard-later-writes",
                                m.id(), table, column, m.id(), named, by, n, n == 1 ? "" : "s",
                                n == 1 ? "s" : "",
                                value.is_null() ? "in it now" : "other than the one it gave the rows there",
                                m.id(), m.id()));
    }
    auto query = FilledColumnQuery(db, table, column);
    auto now = query.ok() ? SumRows(db, *query) : Result<RowSum>(query.status());
    if (!now.ok() || TableFingerprintOf("", *now).hash == filled["after"].get<std::string>()) continue;
    return Status(Code::kVerifyFailed,
                  fmt::format("rolling back {} drops column {}.{}, which {} added{}{}, but "
                              "its values changed since {} was applied (rows written, inserted or "
                              "deleted since); those values would be lost, so {} was not rolled "
                              "back. Save them (or take a snapshot), then pass --discard-later-writes",
                              m.id(), table, column, m.id(), named, by, m.id(), m.id()));
  }
  return Status::OK();
}

/// What ALTER COLUMN .. TYPE without USING (an assignment cast) does to a
/// value that a cast written out (::) would cut to a shorter length: for
/// the character types, cut it only when what goes is spaces, and fail
/// otherwise ("value too long"); for the bit strings, fail. The cast
/// written out cuts either way, so it alone overstates the loss.
enum class Shortening { kNone, kSpacesOnly, kFails };

Shortening ShorteningOf(const std::string& type) {
  static const std::regex kCharacter(
      R"(^\s*(pg_catalog\.)?(character varying|varchar|character|char|bpchar|national character varying|national character|nchar)\s*(\(\s*\d+\s*\))?\s*$)",
      std::regex::icase);
  static const std::regex kBits(R"(^\s*(pg_catalog\.)?(bit varying|varbit|bit)\s*(\(\s*\d+\s*\))?\s*$)",
                                std::regex::icase);
  if (std::regex_match(type, kCharacter)) return Shortening::kSpacesOnly;
  if (std::regex_match(type, kBits)) return Shortening::kFails;
  return Shortening::kNone;
}

/// OK unless the down script's ALTER COLUMN ... TYPE (PostgreSQL, default
/// conversion) would change a value in a table written to since the
/// migration: numeric 9.99 -> integer 10, timestamp(6) -> timestamp(0). The
/// conversion rounds without an error, and the rows written since have no
/// capture to put them back. A conversion that fails instead is the down
/// script's own error (a varchar too short for a value); one given USING is
/// the script's deliberate mapping.
Status RefuseLossyRetypes(Database& db, const AppliedMigration& m, const nlohmann::json& checks,
                          const std::vector<sql::StatementInfo>& down) {
  if (db.engine() != Engine::kPostgres) return Status::OK();
  // The names a statement uses as they are now, before the down script's
  // renames ahead of it (RENAME COLUMN v2 TO v; ALTER COLUMN v TYPE ..).
  auto name_now = [&](size_t at, std::string table, std::string column) {
    for (size_t j = at; j-- > 0;) {
      const sql::StatementInfo& r = down[j];
      if (r.kind == sql::StatementKind::kRenameTable && r.new_name == table) {
        table = r.object;
      } else if (r.kind == sql::StatementKind::kRenameColumn && r.table == table && r.new_name == column) {
        column = r.column;
      }
    }
    return std::pair{table, column};
  };
  for (size_t k = 0; k < down.size(); ++k) {
    const sql::StatementInfo& info = down[k];
    for (const sql::Retype& written : info.retyped) {
      if (!written.using_expr.empty()) continue;
      const auto [table_now, column_now] = name_now(k, info.table, written.column);
      const std::string table = QuotedTable(db, info.schema, table_now);
      sql::Retype retype = written;
      retype.column = column_now;
      const Shortening shortening = ShorteningOf(retype.type);
      if (shortening == Shortening::kFails) continue;
      auto type = db.Query(
          "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
          "WHERE a.attrelid = $1::regclass AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
          {Value(table), Value(retype.column)});
      if (!type.ok() || type->empty()) continue;  // the down script will say what is wrong
      const std::string was = type->rows[0][0].ToString();
      const std::string column = db.QuoteIdent(retype.column);
      const std::string converted = fmt::format("({}::{})", column, retype.type);
      // A type without equality (json) fails to compare: passed over.
      // Cut where only spaces go; a longer value stops the down script.
      const std::string silently =
          shortening == Shortening::kSpacesOnly
              ? fmt::format(" AND pg_catalog.rtrim({0}::text) = pg_catalog.rtrim({1}::text)", column, converted)
              : "";
      auto changed = db.Query(fmt::format(
          "SELECT count(*) OVER (), {0}::text, {1}::text FROM {2} WHERE {1}::{3} IS DISTINCT FROM {0}{4} "
          "LIMIT 1",
          column, converted, table, was, silently));
      if (!changed.ok() || changed->empty() || UnchangedSince(db, checks, table_now)) continue;
      const auto& row = changed->rows[0];
      const int64_t n = row[0].ToInt();
      return Status(Code::kVerifyFailed,
                    fmt::format("rolling back {} changes the type of column {}.{} from {} to {} "
                                "(its down script), which would change {} value{} written since "
                                "{} was applied (\"{}\" would become \"{}\"); those values would be "
                                "lost, so {} was not rolled back. Save them (or take a snapshot), "
                                "then pass --discard-later-writes, or make the down script keep "
                                "them (a type that holds them, or a USING expression)",
                                m.id(), info.table, written.column, was, retype.type, n,
                                n == 1 ? "" : "s", m.id(), row[1].is_null() ? "NULL" : row[1].ToString(),
                                row[2].is_null() ? "NULL" : row[2].ToString(), m.id()));
    }
  }
  return Status::OK();
}

/// OK unless the restore of a column the migration dropped would write the
/// captured values over what the down script writes to that table (ADD
/// COLUMN name; UPDATE users SET name = full_name) while the table was
/// written to since: the down script's values then carry the application's
/// writes, and the restore would put the old values back over them.
/// The tables the column came back from count too: a column the up script
/// moved (UPDATE local_user SET admin = .. FROM person; ALTER TABLE person
/// DROP COLUMN admin) is filled back from its new home by the down script,
/// whose writes since it carries.
Status RefuseRestoringOverDownWrites(Database& db, const AppliedMigration& m,
                                     const nlohmann::json& checks,
                                     const std::vector<sql::StatementInfo>& up_infos,
                                     const std::vector<sql::Statement>& down_script,
                                     const std::vector<sql::StatementInfo>& down,
                                     sql::Dialect dialect) {
  using K = sql::StatementKind;
  if (!checks.is_object() || checks.value("captures", 0) == 0) return Status::OK();
  STRATA_ASSIGN_OR_RETURN(const std::string managed, db.ManagedSchema());
  // Whether down statement `d` writes rows into `table` (an INSERT or
  // UPDATE, or a WITH whose common table expressions do).
  auto writes_into = [&](const sql::StatementInfo& d, const std::string& table) {
    const std::string key = sql::NameKey(table, dialect);
    if ((d.kind == K::kUpdate || d.kind == K::kInsert) && sql::NameKey(d.table, dialect) == key) return true;
    return std::any_of(d.writes.begin(), d.writes.end(),
                       [&](const std::string& w) { return sql::NameKey(w, dialect) == key; });
  };
  // The first table of the migration's data that the down script's writes
  // to `table` name and that was written to since, under its name now;
  // followed through the tables those statements read that the down
  // script fills itself first (CREATE TEMP TABLE t AS SELECT .. FROM kv).
  auto read_and_written = [&](const std::string& table, bool others_only) -> std::string {
    if (!checks.contains("data")) return "";
    std::set<std::string> named;
    std::vector<bool> read(down.size(), false);
    auto take = [&](size_t i) {
      read[i] = true;
      auto tokens = i < down_script.size() ? sql::Tokenize(down_script[i].text, dialect)
                                           : Result<std::vector<sql::Token>>(std::vector<sql::Token>());
      if (!tokens.ok()) return;
      for (const sql::Token& t : *tokens) {
        if (t.kind == sql::TokenKind::kWord || t.kind == sql::TokenKind::kQuotedIdentifier) {
          named.insert(sql::NameKey(sql::IdentifierName(t, dialect), dialect));
        }
      }
    };
    for (size_t i = 0; i < down.size(); ++i) {
      if (writes_into(down[i], table)) take(i);
    }
    for (bool grew = true; grew;) {
      grew = false;
      for (size_t i = 0; i < down.size(); ++i) {
        const sql::StatementInfo& d = down[i];
        const std::string filled = d.kind == K::kCreateTable ? d.object
                                   : d.kind == K::kInsert || d.kind == K::kUpdate ? d.table
                                                                                  : "";
        if (read[i] || filled.empty() || sql::NameKey(filled, dialect) == sql::NameKey(table, dialect) ||
            !named.count(sql::NameKey(filled, dialect))) {
          continue;
        }
        take(i);
        grew = true;
      }
    }
    for (const auto& [key, facts] : checks["data"].items()) {
      const std::string name = facts.value("table", key);
      const std::string after = facts.value("after_name", name);
      if (!named.count(sql::NameKey(name, dialect)) && !named.count(sql::NameKey(after, dialect))) continue;
      if (others_only && (sql::NameKey(name, dialect) == sql::NameKey(table, dialect) ||
                          sql::NameKey(after, dialect) == sql::NameKey(table, dialect))) {
        continue;
      }
      if (std::string now = TableWrittenSince(db, checks, key); !now.empty()) return now + " was written to";
    }
    // A table of another schema that the up script wrote to (INSERT INTO
    // aux.kv SELECT .. FROM config): no data facts were kept for it, so
    // whether it was written since cannot be told.
    for (const sql::StatementInfo& up : up_infos) {
      const std::string schema = sql::NameKey(up.schema, dialect);
      if (schema.empty() || schema == sql::NameKey(managed, dialect) || schema == "temp" || schema == "pg_temp") continue;
      if (up.kind != K::kInsert && up.kind != K::kUpdate) continue;
      // (By its name alone: the down script may reach it through search_path.)
      if (named.count(sql::NameKey(up.table, dialect))) {
        return fmt::format("{}.{}, outside the schema Strata manages ('{}'), may have been written to",
                           up.schema, up.table, managed);
      }
    }
    return "";
  };
  // The down script's first statement writing into `table`.
  auto writing_to = [&](const std::string& table) {
    return std::find_if(down.begin(), down.end(), [&](const sql::StatementInfo& d) { return writes_into(d, table); });
  };
  for (const sql::StatementInfo& dropping : up_infos) {
    if (dropping.kind != K::kDropColumn) continue;
    auto writes = writing_to(dropping.table);
    if (writes == down.end()) continue;
    std::string now = TableWrittenSince(db, checks, dropping.table);
    now = now.empty() ? read_and_written(dropping.table, /*others_only=*/false) : now + " was written to";
    if (now.empty()) continue;
    std::string columns;
    for (const auto& c : dropping.columns) columns += (columns.empty() ? "" : ", ") + dropping.table + "." + c;
    return Status(Code::kVerifyFailed,
                  fmt::format("rolling back {} would put back the values of {} it captured "
                              "(it dropped the column) over what its down script writes to {} "
                              "({}), but {} since {} was applied: the down "
                              "script's values may carry those writes, and they would be lost; {} "
                              "was not rolled back. Save what was written since (or take a "
                              "snapshot), then pass --discard-later-writes",
                              m.id(), columns, dropping.table, writes->summary, now, m.id(), m.id()));
  }
  // The same for rows captured before a DELETE or UPDATE, moved to another
  // table (INSERT INTO kv SELECT .. FROM config ..; DELETE FROM config ..):
  // the down script writes them back from there, with that table's writes
  // since, and the captured rows would be put back over them. (The table's
  // own writes to the captured rows are RefuseOverwritingWrites's.)
  if (checks.contains("probes")) {
    std::set<std::string> seen;
    for (const auto& probe : checks["probes"]) {
      const std::string table = probe.value("table", "");
      if (table.empty() || !seen.insert(sql::NameKey(table, dialect)).second) continue;
      auto writes = writing_to(table);
      if (writes == down.end()) continue;
      const std::string now = read_and_written(table, /*others_only=*/true);
      if (now.empty()) continue;
      return Status(Code::kVerifyFailed,
                    fmt::format("rolling back {} would put back the rows of {} it captured (before "
                                "its up script deleted or changed them) over what its down script "
                                "writes to {} ({}), but {} since {} was applied: the "
                                "down script's values may carry those writes, and they would be "
                                "lost; {} was not rolled back. Save what was written since (or take "
                                "a snapshot), then pass --discard-later-writes",
                                m.id(), table, table, writes->summary, now, m.id(), m.id()));
    }
  }
  // The same for a table put back whole (dropped, say, after its rows were
  // merged into another table): the down script's rows for it, built from
  // the tables written since, would give way to the captured ones.
  if (!checks.contains("replaces") || !checks.contains("data")) return Status::OK();
  for (const auto& t : checks["replaces"]) {
    const std::string table = t.get<std::string>();
    auto writes = writing_to(table);
    if (writes == down.end()) continue;
    // Rows the down script copies from the table itself carry no other
    // table's writes (its own, written since, stay when merged, and are
    // refused by RefuseReplacingWrites otherwise).
    if (CopiesOnlyItself(down, table, dialect)) continue;
    // Any table of the migration written since, or one of another schema
    // that the down script's rows come from.
    std::string now;
    for (const auto& [key, facts] : checks["data"].items()) {
      now = TableWrittenSince(db, checks, key);
      if (!now.empty()) {
        now += " was written to";
        break;
      }
    }
    if (now.empty()) now = read_and_written(table, /*others_only=*/true);
    if (!now.empty()) {
      return Status(Code::kVerifyFailed,
                    fmt::format("rolling back {} would put table {} back whole as it captured it, "
                                "over what its down script writes to {} ({}), but {} "
                                "since {} was applied: the down script's rows may carry those "
                                "writes, and they would be lost; {} was not rolled back. Save what "
                                "was written since (or take a snapshot), then pass "
                                "--discard-later-writes",
                                m.id(), table, table, writes->summary, now, m.id(), m.id()));
    }
  }
  return Status::OK();
}


/// Of each table a rollback merges (Capture::Merge), the columns of the
/// rows written since, as MakeSinceTables copied them.
using SinceColumns = std::map<std::string, std::vector<std::string>>;

/// Makes the temporary tables of keys that the restores of `checks` leave
/// to the down script (Capture::Merge): of each table in `merged`, the rows
/// written since, read now (before the down script) against the copy kept
/// as the migration left it; of the others, none.
Result<SinceColumns> MakeSinceTables(Database& db, const nlohmann::json& checks,
                                     const std::set<std::string>& merged) {
  SinceColumns out;
  if (!checks.is_object() || !checks.contains("merges")) return out;
  const bool pg = db.engine() == Engine::kPostgres;
  for (const auto& merge : checks["merges"]) {
    const std::string since = db.QuoteIdent(merge["since"].get<std::string>());
    const std::string left = merge["left"].get<std::string>();
    STRATA_RETURN_IF_ERROR(db.Exec("DROP TABLE IF EXISTS " + since));
    const std::string table = merge["table"].get<std::string>();
    if (!merged.count(AsciiLower(table))) {
      STRATA_RETURN_IF_ERROR(db.Exec(merge["since_empty"].get<std::string>()));
      continue;
    }
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> columns, db.ListColumns(left));
    // Not the columns the migration added: the down script drops them (what
    // they hold was refused before, RefuseDroppingWrittenColumns).
    for (const auto& a : merge.value("added", nlohmann::json::array())) {
      std::erase_if(columns, [&](const std::string& c) { return AsciiLower(c) == AsciiLower(a["column"].get<std::string>()); });
    }
    auto same = [&](const std::string& column, bool nulls) {
      const std::string q = db.QuoteIdent(column);
      // Keys as they are, which an index of the copy serves (a SQLite key
      // may hold a NULL: IS); the other columns as text on PostgreSQL.
      if (pg) {
        return nulls ? fmt::format("l.{0}::text IS NOT DISTINCT FROM t.{0}::text", q)
                     : fmt::format("l.{0} = t.{0}", q);
      }
      return fmt::format("l.{0} IS t.{0}", q);
    };
    std::vector<std::string> same_key, same_row;
    for (const auto& k : merge["key"]) same_key.push_back(same(k.get<std::string>(), false));
    // Whole rows, the columns in the copy's order (the table's, which the
    // migration left so): CheckMerged compares those written since with
    // what the down script copied back.
    std::vector<std::string> row_t, row_l;
    same_row = same_key;
    for (const std::string& c : columns) {
      same_row.push_back(same(c, true));
      row_t.push_back("t." + db.QuoteIdent(c));
      row_l.push_back("l." + db.QuoteIdent(c));
    }
    STRATA_RETURN_IF_ERROR(db.Exec(fmt::format(
        "CREATE TEMP TABLE {0} AS SELECT {1}, 1 AS strata_present FROM {2} AS t WHERE NOT EXISTS "
        "(SELECT 1 FROM {3} AS l WHERE {4}) UNION ALL SELECT {5}, 0 FROM {3} AS l WHERE NOT EXISTS "
        "(SELECT 1 FROM {2} AS t WHERE {6})",
        since, fmt::join(row_t, ", "), db.QuoteIdent(table), db.QuoteIdent(left),
        fmt::join(same_row, " AND "), fmt::join(row_l, ", "), fmt::join(same_key, " AND "))));
    out[AsciiLower(table)] = std::move(columns);
  }
  return out;
}

/// OK unless the down script of migration `id` did not copy back, as they
/// were, the rows of a table in `merged` that the application wrote since
/// (MakeSinceTables read them): the restore leaves those rows to it.
Status CheckMerged(Database& db, const std::string& id, const nlohmann::json& checks,
                   const SinceColumns& merged) {
  if (merged.empty()) return Status::OK();
  const bool pg = db.engine() == Engine::kPostgres;
  for (const auto& merge : checks["merges"]) {
    const std::string table = merge["table"].get<std::string>();
    auto columns = merged.find(AsciiLower(table));
    if (columns == merged.end()) continue;
    const std::string since = merge["since"].get<std::string>();
    std::vector<std::string> same_row;
    for (const std::string& c : columns->second) {
      const std::string q = db.QuoteIdent(c);
      same_row.push_back(pg ? fmt::format("s.{0}::text IS NOT DISTINCT FROM t.{0}::text", q)
                            : fmt::format("s.{0} IS t.{0}", q));
    }
    auto missing = db.Query(fmt::format("SELECT count(*) FROM {} AS s WHERE s.strata_present = 1 AND NOT "
                                        "EXISTS (SELECT 1 FROM {} AS t WHERE {})",
                                        db.QuoteIdent(since), db.QuoteIdent(table), fmt::join(same_row, " AND ")));
    // Unreadable: the down script left a column out, which the schema check names.
    const int64_t n = !missing.ok() ? 1 : missing->empty() ? 0 : missing->rows[0][0].ToInt();
    if (n == 0) continue;
    return Status(Code::kVerifyFailed,
                  fmt::format("table {} was written to since {} was applied, and its down script "
                              "did not copy {} of the rows written since back into it as they "
                              "are: their values would be lost; {} was not rolled back. Make the "
                              "down script copy every row and column back, or save them (or "
                              "take a snapshot), then pass --discard-later-writes",
                              table, id, n == 1 ? "one" : std::to_string(n), id));
  }
  return Status::OK();
}

/// SQLite, whose connections enforce foreign keys only when asked (Strata's
/// as the session had it; an application's often on): how many rows of
/// `tables` and of the tables whose foreign keys reference them reference
/// no row, per child table, parent and foreign key ("child -> parent
/// (foreign key N)"). Counted, not named by rowid: a rebuild renumbers
/// rowids, and a WITHOUT ROWID table has none. A foreign key SQLite cannot
/// check (to a column without a unique index: "foreign key mismatch") is
/// passed over, as SQLite passes it over while they are off. Empty on
/// PostgreSQL, which enforces them always.
std::map<std::string, int64_t> DanglingReferences(Database& db, const std::set<std::string>& tables) {
  std::map<std::string, int64_t> out;
  if (db.engine() != Engine::kSqlite || tables.empty()) return out;
  // Only tables whose text declares a foreign key can have one: a schema of
  // a thousand tables is read once, not once per table (a `down --to 0` of
  // a thousand migrations runs this twice per migration).
  auto declaring = db.Query("SELECT name FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%references%'");
  if (!declaring.ok()) return out;
  std::set<std::string> children;
  for (const auto& row : declaring->rows) {
    const std::string name = row[0].ToString();
    bool child = tables.count(AsciiLower(name)) > 0;
    if (!child) {
      auto parents = db.Query("SELECT \"table\" FROM pragma_foreign_key_list($1)", {Value(name)});
      if (!parents.ok()) continue;
      for (const auto& p : parents->rows) child = child || tables.count(AsciiLower(p[0].ToString())) > 0;
    }
    if (child) children.insert(name);
  }
  for (const std::string& child : children) {
    // Columns: table, rowid, parent, fkid.
    auto rows = db.Query("SELECT parent, fkid, count(*) FROM pragma_foreign_key_check($1) GROUP BY parent, fkid",
                         {Value(child)});
    if (!rows.ok()) continue;
    for (const auto& row : rows->rows) {
      out[fmt::format("{} -> {} (foreign key {})", child, row[0].ToString(), row[1].ToString())] = row[2].ToInt();
    }
  }
  return out;
}

/// The tables a migration's checks name (as before it and as it left
/// them), lower case.
std::set<std::string> TablesOfChecks(const nlohmann::json& checks) {
  std::set<std::string> out;
  if (!checks.is_object() || !checks.contains("data")) return out;
  for (const auto& [key, facts] : checks["data"].items()) {
    out.insert(AsciiLower(key));
    out.insert(AsciiLower(ReadAs(key, facts)));
  }
  return out;
}

/// Whether a migration's recorded checks say it captured data.
bool CapturedData(const std::string& checks_json) {
  auto checks = nlohmann::json::parse(checks_json, nullptr, /*allow_exceptions=*/false);
  return checks.is_object() && checks.value("captures", 0) > 0;
}

/// Whether `live` differs from the schema history recorded after a
/// migration (`schema_after`, and in its checks the hash with columns in any
/// order: a column a rollback put back last is no difference).
bool DiffersFromRecorded(const SchemaModel& live, const std::string& schema_after,
                         const std::string& checks_json) {
  if (live.hash() == schema_after) return false;
  auto checks = nlohmann::json::parse(checks_json, nullptr, /*allow_exceptions=*/false);
  return !checks.is_object() || checks.value("schema_after_any_order", "") != live.any_order_hash();
}

/// Why rolling back `target` while `later` (applied after it, out of order)
/// stays would undo part of `later` unchecked, from their recorded checks:
/// the tables both reach, or one reaches the whole schema; empty when they
/// share none, or either recorded no checks (applied before Strata did).
/// Names compare as the engine tells them apart (PostgreSQL's "Users" is
/// not users).
std::string SharedScope(const AppliedMigration& target, const AppliedMigration& later,
                        sql::Dialect dialect) {
  auto a = nlohmann::json::parse(target.checks, nullptr, /*allow_exceptions=*/false);
  auto b = nlohmann::json::parse(later.checks, nullptr, /*allow_exceptions=*/false);
  if (!a.is_object() || !b.is_object() || !a.contains("scope") || !b.contains("scope")) return "";
  constexpr const char* kBeyond =
      "{} changes more than its own tables (it drops or renames a table or column, or changes "
      "a view, function or type)";
  if (!a["scope"].is_array()) {
    return fmt::format(fmt::runtime(std::string(kBeyond) + ", so its rollback is checked against "
                                    "the whole schema, which now holds what {} changed"),
                       target.id(), later.id());
  }
  if (!b["scope"].is_array()) {
    return fmt::format(fmt::runtime(std::string(kBeyond) + ", which rolling back {} could change too"),
                       later.id(), target.id());
  }
  std::set<std::string> tables;
  for (const auto& t : a["scope"]) tables.insert(sql::NameKey(t.get<std::string>(), dialect));
  std::string shared;
  for (const auto& t : b["scope"]) {
    if (tables.count(sql::NameKey(t.get<std::string>(), dialect))) {
      shared += (shared.empty() ? "" : ", ") + t.get<std::string>();
    }
  }
  if (shared.empty()) return "";
  return fmt::format("both change {} {}", shared.find(',') == std::string::npos ? "table" : "tables",
                     shared);
}

/// The columns of each table among a migration's recorded objects (its
/// checks' "objects": table key -> block), by sql::NameKey of the table
/// (PostgreSQL's "Users" is not users), in their order before the migration.
std::map<std::string, std::vector<std::string>> RecordedColumns(
    const std::map<std::string, std::string>& objects, sql::Dialect dialect) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [key, text] : objects) {
    if (SchemaModel::KindOfKey(key) == "table") {
      out[sql::NameKey(SchemaModel::NameOfKey(key), dialect)] = ColumnsOfBlock(text, dialect);
    }
  }
  return out;
}

/// A schema a rollback left as before but for the order of columns.
struct Reordered {
  std::string hash;         // the schema's hash now
  std::string hash_before;  // what it would be with the columns in their old order
};

/// After a rollback step, before it commits: the objects and tables the
/// migration touched must be as they were before it, columns in any order
/// (`reordered` is then set when the order differs). kVerifyFailed names
/// what differs.
Status CheckRollback(Database& db, const std::string& checks_json,
                     const std::vector<std::string>& written_since,
                     std::optional<Reordered>* reordered = nullptr) {
  if (checks_json.empty()) return Status::OK();  // applied before Strata recorded checks
  auto checks = nlohmann::json::parse(checks_json, nullptr, /*allow_exceptions=*/false);
  if (checks.is_discarded()) {
    return Status(Code::kVerifyFailed, "the checks recorded in history are not valid JSON");
  }
  Scope scope;
  if (checks["scope"].is_string()) {
    scope.whole = true;
  } else {
    for (const auto& t : checks["scope"]) scope.tables.push_back(t.get<std::string>());
  }
  SchemaModel live;
  STRATA_RETURN_IF_ERROR(live.Refresh(db, scope.filter()));
  std::map<std::string, std::string> expected;
  for (auto& [key, text] : checks["objects"].items()) expected[key] = text.get<std::string>();
  const std::map<std::string, std::string> now_blocks = live.Blocks(scope.filter());
  auto any_order = [](const std::map<std::string, std::string>& blocks) {
    std::map<std::string, std::string> out;
    for (const auto& [key, text] : blocks) out[key] = ColumnsInAnyOrder(text);
    return out;
  };
  std::string problems;
  if (auto want = any_order(expected), got = any_order(now_blocks); want != got) {
    // Columns in any order there too: a column put back last is not news.
    problems += "schema differs from before the migration (- before, + now):\n" +
                DiffSchemas(SchemaFingerprint{SchemaModel::Render(want), "", ""},
                            SchemaFingerprint{SchemaModel::Render(got), "", ""});
  }
  // Rows are hashed with the columns in their order before the migration.
  const sql::Dialect dialect = DialectOf(db.engine());
  const std::map<std::string, std::vector<std::string>> columns_before = RecordedColumns(expected, dialect);
  for (auto& [table, want] : checks["data"].items()) {
    if (!want.contains("hash")) continue;  // created by the migration: gone with it
    if (std::find(written_since.begin(), written_since.end(), table) != written_since.end()) continue;
    auto exists = db.TableExists(table);
    if (!exists.ok() || !*exists) {
      problems += fmt::format("table {}: does not exist\n", table);
      continue;
    }
    std::string select = "*";
    if (auto c = columns_before.find(sql::NameKey(table, dialect)); c != columns_before.end() && !c->second.empty()) {
      select.clear();
      for (const auto& name : c->second) select += (select.empty() ? "" : ", ") + db.QuoteIdent(name);
    }
    auto sum = SumRows(db, fmt::format("SELECT {} FROM {}", select, db.QuoteIdent(table)));
    if (!sum.ok()) {
      problems += fmt::format("table {}: {}\n", table, sum.status().message());
      continue;
    }
    const TableFingerprint t = TableFingerprintOf(table, *sum);
    if (t.hash != want["hash"].get<std::string>()) {
      problems += fmt::format("data of table {} differs: {} rows before, {} now{}\n", table,
                              want["rows"].get<int64_t>(), t.rows,
                              want["rows"].get<int64_t>() == t.rows ? " (values changed)" : "");
    }
  }
  if (!problems.empty()) return Status(Code::kVerifyFailed, problems);
  if (reordered && expected != now_blocks) {
    STRATA_ASSIGN_OR_RETURN(SchemaModel whole, SchemaModel::Read(db));
    *reordered = Reordered{whole.hash(), whole.HashWith(expected, scope.filter())};
  }
  return Status::OK();
}

/// The columns of a table written to since its migration that the
/// migration left as they were, and that its down script must leave so: a
/// rollback's data check compares such a table as it was before the
/// migration no more (later writes differ), so without this a down script
/// that dropped and added back a renamed column ("DROP COLUMN full_name;
/// ADD COLUMN name") emptied it with exit 0. Each pair is the column's name
/// before the down script and after it (a RENAME COLUMN of the up script
/// maps one to the other). None for a table whose rows either script writes
/// (the down may carry later writes over, as an expand/contract rollback
/// does), or the migration creates, drops, renames or rebuilds.
struct KeptColumns {
  std::string table;
  std::vector<std::pair<std::string, std::string>> columns;  // before the down, after it
  TableFingerprint before;  // read before the down script, in its transaction
  std::vector<std::string> made_by_down;  // the tables the down script creates
};

std::optional<KeptColumns> KeptColumnsOf(const std::string& table, const nlohmann::json& checks,
                                         const std::vector<sql::StatementInfo>& up_infos,
                                         const std::vector<sql::StatementInfo>& down_infos,
                                         sql::Dialect dialect) {
  using K = sql::StatementKind;
  const std::string key = sql::NameKey(table, dialect);
  auto is = [&](const std::string& name) { return !name.empty() && sql::NameKey(name, dialect) == key; };
  auto names = [&](const sql::StatementInfo& i) {
    if (is(i.table) || is(i.object) || is(i.new_name)) return true;
    for (const auto& o : i.objects) {
      if (is(o.name)) return true;
    }
    for (const auto& w : i.writes) {
      if (is(w)) return true;
    }
    return false;
  };
  for (const auto* infos : {&up_infos, &down_infos}) {
    for (const auto& i : *infos) {
      if (!names(i)) continue;
      switch (i.kind) {
        case K::kInsert: case K::kUpdate: case K::kDelete: case K::kTruncate: case K::kSelect:
        case K::kOther: case K::kCreateTable: case K::kDropTable: case K::kRenameTable:
        case K::kAlterColumnType:
          return std::nullopt;
        default:
          if (!i.retyped.empty()) return std::nullopt;
      }
    }
  }
  std::map<std::string, std::string> objects;
  for (auto& [key, text] : checks["objects"].items()) objects[key] = text.get<std::string>();
  const auto recorded = RecordedColumns(objects, dialect);
  const auto before_up = recorded.find(key);
  if (before_up == recorded.end()) return std::nullopt;
  KeptColumns kept{table, {}, {}, {}};
  for (const auto& i : down_infos) {
    if (i.kind == K::kCreateTable && !i.table.empty()) kept.made_by_down.push_back(i.table);
  }
  for (const std::string& column : before_up->second) {
    std::string now = column;  // its name once the up script ran
    bool dropped = false;
    for (const auto& i : up_infos) {
      if (!is(i.table)) continue;
      if (i.kind == K::kRenameColumn && AsciiLower(i.column) == AsciiLower(now)) now = i.new_name;
      if (i.kind == K::kDropColumn &&
          std::any_of(i.columns.begin(), i.columns.end(),
                      [&](const std::string& c) { return AsciiLower(c) == AsciiLower(now); })) {
        dropped = true;
      }
    }
    if (!dropped) kept.columns.emplace_back(now, column);
  }
  if (kept.columns.empty()) return std::nullopt;
  return kept;
}

/// The rows of `kept`'s table read over its columns as named before the
/// down script (`after_down` false) or after it; nullopt when one of them
/// is not there (the schema check names that).
Result<std::optional<TableFingerprint>> ReadKept(Database& db, const KeptColumns& kept, bool after_down) {
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> present, db.ListColumns(kept.table));
  std::string select;
  for (const auto& [before, after] : kept.columns) {
    const std::string& name = after_down ? after : before;
    if (std::none_of(present.begin(), present.end(),
                     [&](const std::string& c) { return AsciiLower(c) == AsciiLower(name); })) {
      return std::optional<TableFingerprint>();
    }
    select += (select.empty() ? "" : ", ") + db.QuoteIdent(name);
  }
  // PostgreSQL: not the rows of a partition (or inheritance child) the
  // down script makes: those the rollback puts back into the table it
  // dropped, and they are no change of the down script's to the parent's.
  std::string where;
  if (after_down && db.engine() == Engine::kPostgres && !kept.made_by_down.empty()) {
    std::vector<std::string> made;
    for (const auto& t : kept.made_by_down) {
      made.push_back("pg_catalog.to_regclass(" + SqlLiteral(db.QuoteIdent(t)) + ")");
    }
    where = fmt::format(" WHERE tableoid <> ALL (ARRAY(SELECT c FROM unnest(ARRAY[{}]) c WHERE c IS NOT NULL))",
                        fmt::join(made, ", "));
  }
  STRATA_ASSIGN_OR_RETURN(RowSum sum, SumRows(db, fmt::format("SELECT {} FROM {}{}", select,
                                                               db.QuoteIdent(kept.table), where)));
  return std::optional<TableFingerprint>(TableFingerprintOf(kept.table, sum));
}

/// The rows of a table written to since its migration, copied before the
/// down script runs (Capture::Untouched): a value may change only where a
/// capture took the row and assigned the column (the restore puts those
/// back); every other value is the application's, or was there before the
/// migration, and a down script that changes it (an UPDATE whose WHERE
/// reaches further than the up script's did, or that sets more columns)
/// or deletes the row would lose it.
struct UntouchedRows {
  std::string table;
  std::string copy;  // the temporary copy, quoted
  /// The copy's columns (the table's as the migration left it, the key's
  /// first), each with the name the down script gives it back (the up
  /// script's renames undone), and the captures (strata_in_N) that may
  /// change it.
  struct Column {
    std::string copied, after;
    std::vector<size_t> changed_by;
  };
  std::vector<Column> columns;
  size_t keys = 0;
  std::vector<size_t> held;  // the captures whose rows are held; all when empty
  std::string key_names;     // for messages: "id" or "a, b"
  /// Held whole without a primary key: no row can be named, but the up
  /// script wrote none, so fewer rows after the down script than before
  /// are rows that were there before the migration or were written since.
  std::optional<int64_t> rows_before;
};

/// Whether statement `i` writes rows of `table` (INSERT, UPDATE, DELETE,
/// TRUNCATE, or a body or WITH that does).
bool WritesRowsOf(const sql::StatementInfo& i, const std::string& table, sql::Dialect dialect) {
  using K = sql::StatementKind;
  const std::string key = sql::NameKey(table, dialect);
  const bool kind = i.kind == K::kInsert || i.kind == K::kUpdate || i.kind == K::kDelete || i.kind == K::kTruncate;
  if (kind && sql::NameKey(i.table, dialect) == key) return true;
  return std::any_of(i.writes.begin(), i.writes.end(),
                     [&](const std::string& w) { return sql::NameKey(w, dialect) == key; });
}

/// The tables of the migration (lower case) whose rows its down script may
/// delete (DELETE, TRUNCATE, DROP TABLE, a MERGE or body that does) and its up script
/// wrote none of, nor created: CopyUntouched holds their rows whole, so the
/// rollback reads whether they were written since before the down script
/// runs (one that deletes just the rows written since leaves the table as
/// before the migration). A down script that only updates them is left to
/// its own call (an expand/contract rollback carries the application's
/// writes back; a duplicate's key renamed is a row kept).
std::set<std::string> HeldWhole(const nlohmann::json& checks, const std::vector<sql::StatementInfo>& up_infos,
                                const std::vector<sql::StatementInfo>& down_infos, sql::Dialect dialect) {
  using K = sql::StatementKind;
  std::set<std::string> out;
  if (!checks.is_object() || !checks.contains("data")) return out;
  for (const auto& [table, facts] : checks["data"].items()) {
    if (facts.value("created", false)) continue;
    const std::string key = sql::NameKey(table, dialect);
    auto writes = [&](const sql::StatementInfo& i) { return WritesRowsOf(i, table, dialect); };
    // A DROP TABLE of it too: a down script that rebuilds it with one row
    // per old key (CREATE t_new AS SELECT DISTINCT ..; DROP TABLE t;
    // RENAME) deletes the others.
    auto deletes = [&](const sql::StatementInfo& i) {
      const bool named = sql::NameKey(i.table.empty() ? i.object : i.table, dialect) == key;
      return (named && (i.kind == K::kDelete || i.kind == K::kTruncate || i.kind == K::kDropTable ||
                        i.deletes_rows)) ||
             std::any_of(i.rewrites.begin(), i.rewrites.end(),
                         [&](const std::string& w) { return sql::NameKey(w, dialect) == key; });
    };
    // A plain DELETE of the up script's own leaves the rows there as they
    // were (the captured ones come back after the down script): they are
    // held as well.
    auto writes_rows_left = [&](const sql::StatementInfo& i) {
      const bool own_delete = i.kind == K::kDelete && i.writes.empty() && i.rewrites.empty() &&
                              sql::NameKey(i.table, dialect) == key;
      return !own_delete && writes(i);
    };
    if (std::any_of(down_infos.begin(), down_infos.end(), deletes) &&
        std::none_of(up_infos.begin(), up_infos.end(), writes_rows_left)) {
      out.insert(AsciiLower(table));
    }
  }
  return out;
}

/// Copies the rows of `table` (UntouchedRows), when the down script writes
/// to it and the up script's writes to it were captured by key. When the
/// up script inserts into it too, only the rows a capture took before any
/// insert are held (its own rows cannot be told from the application's).
/// When the up script wrote no row of it at all (ADD UNIQUE (hash,
/// created_by), whose down script deletes the duplicates the application
/// made since), every row is held, by its primary key, against being
/// deleted. nullopt when there is nothing to hold the down script to.
Result<std::optional<UntouchedRows>> CopyUntouched(Database& db, const std::string& table,
                                                   const nlohmann::json& checks,
                                                   const std::vector<sql::StatementInfo>& up_infos,
                                                   const std::vector<sql::StatementInfo>& down_infos,
                                                   const std::set<std::string>& held_whole,
                                                   sql::Dialect dialect) {
  using K = sql::StatementKind;
  const std::string key = sql::NameKey(table, dialect);
  auto writes = [&](const sql::StatementInfo& i) { return WritesRowsOf(i, table, dialect); };
  if (!held_whole.count(AsciiLower(table)) && std::none_of(down_infos.begin(), down_infos.end(), writes)) {
    return std::optional<UntouchedRows>();
  }
  const bool inserts = InsertsInto(up_infos, table, dialect);
  if (checks.contains("replaces")) {
    for (const auto& t : checks["replaces"]) {
      if (sql::NameKey(t.get<std::string>(), dialect) == key) return std::optional<UntouchedRows>();
    }
  }
  std::vector<const nlohmann::json*> taken;  // into `checks`, which outlives them
  static const nlohmann::json kNone = nlohmann::json::array();
  for (const auto& probe : checks.contains("probes") ? checks["probes"] : kNone) {
    if (probe.contains("untouched") && probe["untouched"].contains("copy_table") &&
        sql::NameKey(probe.value("table", ""), dialect) == key) {
      taken.push_back(&probe["untouched"]);
    }
  }
  UntouchedRows out;
  out.table = table;
  std::vector<std::string> key_now;
  if (taken.empty()) {
    if (!held_whole.count(AsciiLower(table))) return std::optional<UntouchedRows>();
    STRATA_ASSIGN_OR_RETURN(key_now, db.ListPrimaryKey(table));
    if (key_now.empty()) {
      out.rows_before = CountRows(db, table, "TRUE");
      if (!out.rows_before) return std::optional<UntouchedRows>();
      return std::optional<UntouchedRows>(std::move(out));
    }
    out.copy = db.QuoteIdent(fmt::format("strata_untouched_{:x}", std::hash<std::string>{}(key)));
    out.key_names = fmt::format("{}", fmt::join(key_now, ", "));
  } else {
    out.copy = db.QuoteIdent((*taken[0])["copy_table"].get<std::string>());
    out.key_names = (*taken[0])["key"].get<std::string>();
    for (size_t k = 0; k < taken.size(); ++k) {
      // Rows it took after an insert may be the up script's own.
      if (inserts && !taken[k]->value("after_insert", false)) out.held.push_back(k);
    }
    if (inserts && out.held.empty()) return std::optional<UntouchedRows>();
    for (const auto& k : (*taken[0])["key_now"]) key_now.push_back(k.get<std::string>());
  }
  // The names the columns had before the up script renamed them.
  auto before = [&](std::string column) {
    for (auto it = up_infos.rbegin(); it != up_infos.rend(); ++it) {
      if (it->kind == K::kRenameColumn && sql::NameKey(it->table, dialect) == key &&
          sql::NameKey(it->new_name, dialect) == sql::NameKey(column, dialect)) {
        column = it->column;
      }
    }
    return column;
  };
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> now, db.ListColumns(table));
  auto is = [&](const std::string& a, const std::string& b) {
    return sql::NameKey(a, dialect) == sql::NameKey(b, dialect);
  };
  for (const std::string& k : key_now) {
    if (std::none_of(now.begin(), now.end(), [&](const std::string& c) { return is(c, k); })) {
      return std::optional<UntouchedRows>();  // renamed later in the migration: not compared
    }
    out.columns.push_back({k, before(k), {}});
  }
  out.keys = key_now.size();
  // Held whole, only its rows' keys are: what a down script writes to the
  // rows is its own call (carrying the application's writes back from a
  // column it drops, in an expand/contract rollback), a row it deletes is not.
  for (const std::string& c : taken.empty() ? std::vector<std::string>() : now) {
    if (std::any_of(key_now.begin(), key_now.end(), [&](const std::string& k) { return is(c, k); })) continue;
    UntouchedRows::Column column{c, before(c), {}};
    for (size_t k = 0; k < taken.size(); ++k) {
      const auto& assigned = (*taken[k])["columns"];
      if (std::any_of(assigned.begin(), assigned.end(), [&](const auto& a) { return is(a.template get<std::string>(), c); })) {
        column.changed_by.push_back(k);
      }
    }
    out.columns.push_back(std::move(column));
  }
  const bool pg = dialect == sql::Dialect::kPostgres;
  std::vector<std::string> select;
  for (size_t i = 0; i < out.columns.size(); ++i) {
    // As text on PostgreSQL: the down script may give a column another type.
    select.push_back(fmt::format("t.{}{} AS strata_c{}", db.QuoteIdent(out.columns[i].copied), pg ? "::text" : "", i));
  }
  for (size_t k = 0; k < taken.size(); ++k) {
    select.push_back(fmt::format("CASE WHEN {} THEN 0 ELSE 1 END AS strata_in_{}",
                                 (*taken[k])["where"].get<std::string>(), k));
  }
  STRATA_RETURN_IF_ERROR(db.Exec("DROP TABLE IF EXISTS " + out.copy));
  // A capture table gone or renamed since: not compared.
  if (!db.Query(fmt::format("CREATE TEMP TABLE {} AS SELECT {} FROM {} AS t", out.copy, fmt::join(select, ", "),
                            db.QuoteIdent(table)))
           .ok()) {
    return std::optional<UntouchedRows>();
  }
  return std::optional<UntouchedRows>(std::move(out));
}

/// The refusal of CheckUntouched (below): `what` says which rows the down
/// script of `id` lost; `undone` as there.
Status UntouchedLost(const std::string& what, const std::string& id, bool undone) {
  const std::string fix =
      "Make the down script change only the rows and columns its up script changed, and delete none "
      "of the rows it only changed (Strata puts back the values it captured)";
  if (!undone) {
    return Status(Code::kVerifyFailed,
                  fmt::format("{}, and they are lost: the down script ran without a transaction "
                              "(strata:no-transaction), so Strata cannot undo it; put them back "
                              "from a backup or snapshot. {}",
                              what, fix));
  }
  return Status(Code::kVerifyFailed,
                fmt::format("{}, and would be lost; {} was not rolled back. {}, or save the rows (or "
                            "take a snapshot), then pass --discard-later-writes",
                            what, id, fix));
}

/// OK unless the down script of migration `id` changed a value of `rows`
/// (copied by CopyUntouched) that no capture of it assigned, or deleted
/// one of them; drops the copy. `undone`: the rollback is undone when this
/// fails (false: the down script ran outside a transaction).
Status CheckUntouched(Database& db, const std::string& id, const UntouchedRows& rows, bool undone) {
  const bool pg = db.engine() == Engine::kPostgres;
  if (rows.rows_before) {
    const std::optional<int64_t> now = CountRows(db, rows.table, "TRUE");
    if (!now || *now >= *rows.rows_before) return Status::OK();  // unreadable: the schema check says
    const std::string what = fmt::format(
        "the down script of {} deleted {} of the {} rows of {}, a table without a primary key that "
        "{} wrote no row of, and the application wrote to {} since: those rows were there before "
        "it or are the application's",
        id, *rows.rows_before - *now, *rows.rows_before, rows.table, id, rows.table);
    return UntouchedLost(what, id, undone);
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> after, db.ListColumns(rows.table));
  auto present = [&](const std::string& name) {
    return std::any_of(after.begin(), after.end(), [&](const std::string& c) { return AsciiLower(c) == AsciiLower(name); });
  };
  std::vector<std::string> same;
  for (size_t i = 0; i < rows.columns.size(); ++i) {
    const auto& c = rows.columns[i];
    const std::string name = present(c.after) ? c.after : c.copied;
    if (!present(name)) {
      if (i < rows.keys) return Status::OK();  // the key is not there: the schema check says so
      continue;  // a column the up script added, the down script drops
    }
    const std::string t = "t." + db.QuoteIdent(name) + (pg ? "::text" : "");
    std::string cond = i < rows.keys ? fmt::format("u.strata_c{} {} {}", i, pg ? "=" : "IS", t)
                                     : fmt::format("u.strata_c{} IS {}{}", i, pg ? "NOT DISTINCT FROM " : "", t);
    for (size_t k : c.changed_by) cond += fmt::format(" OR u.strata_in_{} = 1", k);
    same.push_back("(" + cond + ")");
  }
  std::vector<std::string> keys_read;
  for (size_t i = 0; i < rows.keys; ++i) keys_read.push_back(fmt::format("u.strata_c{}", i));
  std::string held;
  for (size_t k : rows.held) held += fmt::format("{}u.strata_in_{} = 1", held.empty() ? "" : " OR ", k);
  auto changed = db.Query(fmt::format("SELECT {} FROM {} AS u WHERE NOT EXISTS (SELECT 1 FROM {} AS t WHERE {}){} LIMIT 4",
                                      fmt::join(keys_read, ", "), rows.copy, db.QuoteIdent(rows.table),
                                      fmt::join(same, " AND "), held.empty() ? "" : " AND (" + held + ")"));
  db.Exec("DROP TABLE IF EXISTS " + rows.copy).IgnoreError();
  if (!changed.ok() || changed->empty()) return Status::OK();  // unreadable: the schema check names what
  // "id = 2; id = 5" or "(a, b) = (1, x)", three at most.
  const bool one = rows.keys == 1;
  std::vector<std::string> keys;
  for (size_t r = 0; r < changed->rows.size() && r < 3; ++r) {
    std::vector<std::string> values;
    for (const Value& v : changed->rows[r]) values.push_back(v.is_null() ? "NULL" : v.ToString());
    keys.push_back(one ? fmt::format("{} = {}", rows.key_names, values[0])
                       : fmt::format("({}) = ({})", rows.key_names, fmt::join(values, ", ")));
  }
  const std::string what = fmt::format(
      "the down script of {} changed or deleted rows of {} beyond what {} changed ({}{}), and the "
      "application wrote to {} since: the values {} did not change are the application's (or were "
      "there before it)",
      id, rows.table, id, fmt::join(keys, "; "), changed->rows.size() > 3 ? "; ..." : "", rows.table, id);
  return UntouchedLost(what, id, undone);
}

/// What a down script can change in the schema beyond the tables its
/// migration touched (the recorded scope): the other tables its DDL names,
/// or every object when it renames (the engine rewrites the references in
/// other tables, views and triggers), cascades, or acts on an object of no
/// table. Empty when the scope is the whole schema (the rollback check
/// compares all of it) or was not recorded.
struct Reach {
  bool whole = false;
  bool renames = false;
  std::vector<std::string> tables;  // named by the down, outside the scope
  std::vector<std::string> scope;   // the migration's tables
  bool empty() const { return !whole && tables.empty(); }
};

/// The table of index or trigger `name` (in `schema`, "" for the default),
/// or "" when there is none such.
std::string TableOfIndexOrTrigger(Database& db, const std::string& schema, const std::string& name) {
  auto rows = db.engine() == Engine::kPostgres
                  ? db.Query("SELECT c.relname FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class c "
                             "ON c.oid = x.indrelid WHERE x.indexrelid = pg_catalog.to_regclass($1)",
                             {Value(schema.empty() ? db.QuoteIdent(name)
                                                   : db.QuoteIdent(schema) + "." + db.QuoteIdent(name))})
                  : db.Query("SELECT tbl_name FROM sqlite_master WHERE type IN ('index', 'trigger') "
                             "AND name = $1 COLLATE NOCASE",
                             {Value(name)});
  if (!rows.ok() || rows->empty()) return "";
  return rows->rows[0][0].ToString();
}

/// `infos` classify the statements of `down`.
Reach DownReach(Database& db, const std::vector<sql::Statement>& down,
                const std::vector<sql::StatementInfo>& infos, const std::string& checks_json,
                sql::Dialect dialect) {
  using K = sql::StatementKind;
  Reach reach;
  auto checks = nlohmann::json::parse(checks_json, nullptr, /*allow_exceptions=*/false);
  if (!checks.is_object() || !checks["scope"].is_array()) return reach;
  std::set<std::string> in_scope;
  for (const auto& t : checks["scope"]) {
    reach.scope.push_back(t.get<std::string>());
    in_scope.insert(AsciiLower(reach.scope.back()));
  }
  auto name = [&](const std::string& t) {
    if (t.empty() || in_scope.count(AsciiLower(t))) return;
    if (std::find(reach.tables.begin(), reach.tables.end(), t) == reach.tables.end())
      reach.tables.push_back(t);
  };
  for (size_t i = 0; i < down.size(); ++i) {
    const sql::Statement& st = down[i];
    const sql::StatementInfo& info = infos[i];
    bool cascades = false;
    if (info.kind == K::kDropTable || info.kind == K::kDropColumn || info.kind == K::kDropOther ||
        info.kind == K::kDropView || info.kind == K::kDropIndex || info.kind == K::kAlterOther) {
      auto tokens = sql::Tokenize(st.text, dialect);
      cascades = !tokens.ok() || std::any_of(tokens->begin(), tokens->end(), [](const sql::Token& t) {
                   return t.IsWord("CASCADE");
                 });
    }
    switch (info.kind) {
      case K::kSelect: case K::kTransactionControl:
      case K::kInsert: case K::kUpdate: case K::kDelete: case K::kTruncate:
        break;  // data only
      case K::kRenameTable: case K::kRenameColumn:
        reach.whole = reach.renames = true;
        break;
      case K::kDropIndex: case K::kDropTrigger:
        // Its table, when the statement says (PostgreSQL's DROP TRIGGER ..
        // ON t), else the catalog's: a down script dropping an index of
        // another table by mistake is caught.
        if (cascades) reach.whole = true;
        name(info.table);
        for (const auto& o : info.objects) {
          if (info.table.empty()) name(TableOfIndexOrTrigger(db, o.schema, o.name));
        }
        break;
      case K::kCreateTable: case K::kAddColumn: case K::kDropColumn: case K::kAlterColumnType:
      case K::kDropTable: case K::kCreateIndex: case K::kCreateTrigger:
        if (cascades || (info.table.empty() && info.object.empty())) reach.whole = true;
        name(info.table.empty() ? info.object : info.table);
        for (const auto& o : info.objects) name(o.name);  // DROP TABLE a, b
        break;
      case K::kAlterOther:
        if (cascades || info.table.empty()) reach.whole = true;
        name(info.table);
        break;
      default: reach.whole = true;  // views, functions, types, unknown statements
    }
  }
  return reach;
}

/// The schema blocks `reach` covers, but those of the migration's tables.
Result<std::map<std::string, std::string>> OutsideBlocks(Database& db, const Reach& reach) {
  const std::vector<std::string>* filter = reach.whole ? nullptr : &reach.tables;
  SchemaModel model;
  STRATA_RETURN_IF_ERROR(model.Refresh(db, filter));
  std::map<std::string, std::string> blocks = model.Blocks(filter);
  for (const auto& [key, text] : model.Blocks(&reach.scope)) blocks.erase(key);
  return blocks;
}

/// After a rollback step: what `reach` covers is as it was before the down
/// script ran (`before`, from OutsideBlocks). kVerifyFailed names what the
/// down script changed that the migration never touched.
Status CheckReach(Database& db, const Reach& reach, const std::string& id,
                  const std::map<std::string, std::string>& before) {
  STRATA_ASSIGN_OR_RETURN(auto now, OutsideBlocks(db, reach));
  if (now == before) return Status::OK();
  std::string message = fmt::format(
      "the down script of {} changed what {} never touched (- before the rollback, + now):\n{}",
      id, id,
      DiffSchemas(SchemaFingerprint{SchemaModel::Render(before), "", ""},
                  SchemaFingerprint{SchemaModel::Render(now), "", ""}));
  if (reach.renames) {
    message += "A RENAME makes the engine rewrite the references to the renamed table or column "
               "in other tables, views and triggers. To rebuild a SQLite table, create the new "
               "one, copy the rows, drop the old one, then rename the new one.\n";
  }
  return Status(Code::kVerifyFailed, message);
}

void Emit(const EventHandler& on_event, Event::Kind kind, int64_t version, const std::string& id,
          int64_t duration_ms = 0, std::string detail = "") {
  if (on_event) on_event(Event{kind, version, id, duration_ms, std::move(detail)});
}

}  // namespace

const char* MigrationStateName(MigrationState state) {
  switch (state) {
    case MigrationState::kApplied: return "applied";
    case MigrationState::kPending: return "pending";
    case MigrationState::kOutOfOrder: return "out-of-order";
    case MigrationState::kChanged: return "changed";
    case MigrationState::kMissingFile: return "missing-file";
    case MigrationState::kInProgress: return "in-progress";
  }
  return "unknown";
}

int StatusReport::Count(MigrationState state) const {
  return static_cast<int>(std::count_if(migrations.begin(), migrations.end(),
                                        [&](const auto& m) { return m.state == state; }));
}

/// Bounds each statement of a migration, and its waits for other sessions'
/// locks, as its directives say (Directives{}: no bound); `fallback` bounds
/// the lock waits of a script without its own directive.
Status SetTimeouts(Database& db, const Directives& directives,
                   std::chrono::milliseconds fallback = std::chrono::milliseconds(0)) {
  STRATA_RETURN_IF_ERROR(db.SetStatementTimeout(directives.timeout));
  return db.SetLockTimeout(directives.lock_timeout.count() > 0 ? directives.lock_timeout : fallback);
}

/// The statements of one migration step, each with what to call it in an error.
struct Step {
  struct Label {
    std::string where;  // "migrations/0003_x.up.sql:12"
    Code code = Code::kDatabase;
  };
  std::vector<BatchStatement> statements;
  std::vector<Label> labels;

  void Add(BatchStatement statement, std::string where, Code code = Code::kDatabase) {
    statements.push_back(std::move(statement));
    labels.push_back(Label{std::move(where), code});
  }
  void AddScript(const std::vector<sql::Statement>& script, const std::string& path,
                 Code code = Code::kDatabase) {
    for (const auto& st : script) Add({st.text, {}}, fmt::format("{}:{}", path, st.line), code);
  }
};

/// One locked `up`, `down` or `resolve`: the lock and the history of a run.
class Migrator::Run {
 public:
  Run(Migrator& m, const EventHandler& on_event)
      : m_(m), db_(*m.db_), history_(db_), on_event_(on_event) {}
  /// A run that stopped on an error before Flush(): its steps that did not
  /// wait for the disk are made durable now, as far as the connection allows.
  ~Run() {
    if (unsynced_ && !db_.InTransaction()) history_.Sync().IgnoreError();
  }

  Status Lock() {
    owner_ = CurrentOwner(m_.options_.actor);
    auto lock = MigrationLock::Acquire(
        m_.options_.database_url, m_.options_.session_sql, owner_, m_.options_.lock_timeout,
        [&](const std::string& holder) {
          Emit(on_event_, Event::Kind::kWaitingForLock, 0, "", 0, holder);
        });
    if (!lock.ok()) return lock.status();
    lock_ = std::move(lock).value();
    return Status::OK();
  }

  History& history() { return history_; }
  const LockOwner& owner() const { return owner_; }

  /// Runs `statements` on the migration connection; a failure names
  /// `where:line` and the database's message.
  Status Exec(const std::vector<sql::Statement>& statements, const std::string& where) {
    for (const auto& s : statements) {
      Status st = db_.Exec(s.text);
      if (!st.ok()) return Status(st.code(), fmt::format("{}:{}: {}", where, s.line, st.message()));
    }
    return Status::OK();
  }

  /// Runs a verify script: any failure is kVerifyFailed.
  Status Verify(const std::vector<sql::Statement>& statements, const std::string& where) {
    Status s = Exec(statements, where);
    if (s.ok()) return s;
    return Status(Code::kVerifyFailed, "verify script " + s.message());
  }

  /// Runs `step` atomically, in one batch (one round trip on PostgreSQL):
  /// inside the run's transaction under a savepoint, or in a transaction of
  /// its own, as the engine prefers. On failure the database is as before
  /// the step, and the steps before it stay for Flush() to commit.
  /// With `check`, the check runs after the step's statements and before
  /// it commits; a failed check undoes the step and is returned.
  /// Without `wait_for_disk`, a step in a transaction of its own commits
  /// without waiting for the disk where the engine allows: the caller runs a
  /// later step that waits, and Flush() makes sure of it otherwise. A run of
  /// many steps then pays for one wait, not one per step, and each step
  /// stays atomic with its history row.
  /// With `before`, it runs once the step's transaction or savepoint is
  /// open and before the step's statements (a second round trip); a failure
  /// undoes the step and is returned.
  Status Atomic(const Step& step, const std::function<Status()>& check = nullptr,
                bool wait_for_disk = true, const std::function<Status()>& before = nullptr) {
    bool own_transaction = db_.step_atomicity() == StepAtomicity::kTransaction;
    bool no_wait = own_transaction && !wait_for_disk && !db_.NoWaitCommitSql().empty();
    if (own_transaction) {
      if (db_.InTransaction()) STRATA_RETURN_IF_ERROR(db_.Commit());
    } else if (!db_.InTransaction()) {
      STRATA_RETURN_IF_ERROR(db_.Begin());
    }
    size_t guards = 0;
    std::vector<BatchStatement> all = Batch(step, own_transaction, no_wait, /*close=*/!check, &guards);
    BatchResult result;
    Status checked;
    if (before) {
      const auto opened = all.begin() + 1 + static_cast<std::ptrdiff_t>(guards);
      result = db_.ExecBatch({all.begin(), opened});
      if (result.status.ok()) checked = before();
      if (result.status.ok() && checked.ok()) {
        result = db_.ExecBatch({opened, all.end()});
        if (!result.status.ok()) result.failed += 1 + guards;
      }
    } else {
      result = db_.ExecBatch(all);
    }
    if (result.status.ok() && checked.ok() && check) checked = check();
    if (result.status.ok() && checked.ok()) {
      if (own_transaction) {
        Status committed = check ? db_.Commit() : Status::OK();
        // A step that waits for the disk (each writes history) takes the
        // ones before it along.
        if (committed.ok()) unsynced_ = no_wait;
        return committed;
      }
      if (check) {
        STRATA_RETURN_IF_ERROR(db_.ReleaseSavepoint(kSavepoint));
        all.push_back({"RELEASE SAVEPOINT strata_step", {}});
      }
      auto& kept = uncommitted_.emplace_back();
      for (auto& statement : all) kept.push_back({std::string(statement.sql), std::move(statement.params)});
      return Status::OK();
    }
    Status undo;
    if (own_transaction) {
      if (db_.InTransaction()) undo = db_.Rollback();
    } else if (!db_.InTransaction()) {
      // The engine rolled the whole transaction back, not just the step
      // (SQLite does on an interrupt, RAISE(ROLLBACK), a full disk): the
      // steps before it in the run's transaction are run again.
      undo = Replay();
    } else {
      undo = db_.RollbackToSavepoint(kSavepoint);
      if (undo.ok()) undo = db_.ReleaseSavepoint(kSavepoint);
    }
    return Failed(step.labels, result.status.ok() ? checked : result.status, result.status.ok(),
                  result.failed, guards, undo);
  }

  /// Starts `step` as Atomic does (in a transaction of its own, no check)
  /// and returns before it ends where the engine pipelines (Database::
  /// SendBatch): Finish() tells how it went. Steps sent after one that
  /// fails do not run. REQUIRES: transactions of their own, none open.
  void Send(const Step& step, bool wait_for_disk) {
    const bool no_wait = !wait_for_disk && !db_.NoWaitCommitSql().empty();
    size_t guards = 0;
    db_.SendBatch(Batch(step, /*own_transaction=*/true, no_wait, /*close=*/true, &guards));
    sent_.push_back({step.labels, guards, no_wait});
  }

  /// How many steps were sent and not finished.
  size_t sent() const { return sent_.size(); }
  /// Whether Finish() would not wait.
  bool FinishReady() { return db_.BatchDone(); }

  /// How the oldest step sent and not finished went, as Atomic returns it,
  /// and how long it took by the server's clock (-1: not known). A step
  /// that did not run (one sent before it failed) is kInternal.
  std::pair<Status, int64_t> Finish() {
    SentStep sent = std::move(sent_.front());
    sent_.pop_front();
    BatchResult result = db_.TakeBatch();
    if (result.status.ok()) {
      unsynced_ = sent.no_wait;
      return {Status::OK(), result.server_ms};
    }
    if (result.not_run) return {result.status, -1};
    Status undo = db_.InTransaction() ? db_.Rollback() : Status::OK();
    return {Failed(sent.labels, result.status, false, result.failed, sent.guards, undo), -1};
  }

  /// Reports a failed step and commits the steps of the run before it.
  Status Fail(int64_t version, const std::string& id, Clock::time_point start, Status s) {
    SetTimeouts(db_, {}).IgnoreError();
    Emit(on_event_, Event::Kind::kFailed, version, id, MillisSince(start), s.message());
    Status kept = Flush();
    if (!kept.ok()) {
      s = Status(s.code(), s.message() + "; committing the steps before it failed too: " +
                               kept.message());
    }
    return s;
  }

  /// Remembers how a step went; written to history by Flush().
  void RecordOutcome(History::Outcome outcome) { outcomes_.push_back(std::move(outcome)); }

  /// Says that the schema is now what `version`'s row records as its
  /// schema_after, and that row is the newest (nullopt: not known).
  void SchemaIsAfter(std::optional<int64_t> version) { schema_is_after_ = version; }

  /// Flush() at the end of a run, saying what a failure took back: steps
  /// in the run's transaction (SQLite's) go with it, and the lines printed
  /// for them said "ok" (a reader's open transaction keeps SQLite's COMMIT
  /// from finishing outside WAL mode).
  Status FlushAtEnd(std::string_view done) {
    const size_t steps = uncommitted_.size();
    Status s = Flush();
    if (s.ok() || steps == 0) return s;
    if (db_.InTransaction()) db_.Rollback().IgnoreError();
    return Status(s.code(), fmt::format("committing the run failed: {}; its transaction was rolled "
                                        "back, so the {} migration{} it {} since its last commit "
                                        "{} not (`strata status` shows where the database is)",
                                        s.message(), steps, steps == 1 ? "" : "s", done,
                                        steps == 1 ? "is" : "are"));
  }

  /// Commits what the run has done so far. With the schema as the newest
  /// row says, its schema cookie is stored too: `status` then knows there is
  /// no drift without reading the catalog.
  /// Steps committed without waiting for the disk are durable when it returns.
  Status Flush() {
    if (!outcomes_.empty()) {
      STRATA_RETURN_IF_ERROR(history_.SetOutcomes(outcomes_));
      outcomes_.clear();
    } else if (unsynced_) {
      STRATA_RETURN_IF_ERROR(history_.Sync());
    }
    unsynced_ = false;  // the history writes above waited for the disk
    if (schema_is_after_) STRATA_RETURN_IF_ERROR(history_.RecordSchemaCookie(*schema_is_after_));
    STRATA_RETURN_IF_ERROR(db_.InTransaction() ? db_.Commit() : Status::OK());
    uncommitted_.clear();
    return Status::OK();
  }

 private:
  /// The statements of `step` as one batch: a transaction or savepoint
  /// opened, the engine's guards (`guards` says how many), the step, and
  /// unless not to `close`, the end of the transaction or savepoint.
  std::vector<BatchStatement> Batch(const Step& step, bool own_transaction, bool no_wait, bool close,
                                    size_t* guards) {
    std::vector<BatchStatement> all;
    all.reserve(step.statements.size() + 4);
    all.push_back({own_transaction ? "BEGIN" : "SAVEPOINT strata_step", {}});
    *guards = 0;
    for (std::string_view guard : {db_.StepGuardSql(), no_wait ? db_.NoWaitCommitSql() : ""}) {
      if (!guard.empty()) all.push_back({guard, {}}), ++*guards;
    }
    all.insert(all.end(), step.statements.begin(), step.statements.end());
    if (close) all.push_back({own_transaction ? "COMMIT" : "RELEASE SAVEPOINT strata_step", {}});
    return all;
  }

  /// What a step whose batch failed at statement `failed` (with `guards`
  /// after its opening) returns: `error`, named after the statement's label
  /// unless `checked` (its check failed, not a statement), and what undoing
  /// it said (`undo`) when that failed too.
  Status Failed(const std::vector<Step::Label>& labels, Status error, bool checked, size_t failed,
                size_t guards, const Status& undo) {
    if (!undo.ok()) {
      db_.Rollback().IgnoreError();
      outcomes_.clear();
      uncommitted_.clear();
      return Status(Code::kInternal, error.message() +
                                         "; then rolling back failed too, and the whole run "
                                         "was rolled back: " + undo.message());
    }
    if (checked) return error;
    if (failed == labels.size() + guards + 1 && labels.size() > 1) {
      // The step's COMMIT: a deferred constraint or trigger of its script.
      std::string where = labels.back().where;
      if (size_t colon = where.rfind(':'); colon != std::string::npos &&
                                           where.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
        where.resize(colon);
      }
      return Status(error.code(), fmt::format("{}, at its end (a constraint or trigger deferred to the "
                                              "end of the transaction): {}",
                                              where, error.message()));
    }
    if (failed < 1 + guards || failed > labels.size() + guards) {
      return error.WithContext("recording the step in history");
    }
    const Step::Label& label = labels[failed - 1 - guards];
    // A statement a signal cancelled did not fail its label's way (a verify
    // script, putting captured data back): it was stopped.
    Code code = label.code == Code::kDatabase || Interrupt::Requested() ? error.code() : label.code;
    return Status(code, fmt::format("{}: {}", label.where, error.message()));
  }

  /// Runs the steps of the run's open transaction again, in a new one.
  Status Replay() {
    STRATA_RETURN_IF_ERROR(SetTimeouts(db_, {}));
    STRATA_RETURN_IF_ERROR(db_.Begin());
    for (const auto& kept : uncommitted_) {
      std::vector<BatchStatement> batch;
      for (const auto& [sql, params] : kept) batch.push_back({sql, params});
      BatchResult again = db_.ExecBatch(batch);
      if (!again.status.ok()) return again.status.WithContext("running the steps before it again");
    }
    return Status::OK();
  }

  Migrator& m_;
  Database& db_;
  History history_;
  const EventHandler& on_event_;
  LockOwner owner_;
  std::unique_ptr<MigrationLock> lock_;
  std::vector<History::Outcome> outcomes_;
  std::optional<int64_t> schema_is_after_;
  bool unsynced_ = false;  // a step committed without waiting for the disk since Flush()
  /// The steps sent and not finished, in order.
  struct SentStep {
    std::vector<Step::Label> labels;
    size_t guards = 0;
    bool no_wait = false;
  };
  std::deque<SentStep> sent_;
  /// The batches of the steps done in the run's open transaction (savepoint
  /// steps only), to run again if the engine rolls it all back.
  std::vector<std::vector<std::pair<std::string, std::vector<Value>>>> uncommitted_;
};

Migrator::Migrator(MigratorOptions options, std::future<Result<std::vector<Migration>>> loading,
                   std::unique_ptr<Database> db)
    : options_(std::move(options)),
      loading_(std::move(loading)),
      migrations_(std::make_unique<std::vector<Migration>>()),
      db_(std::move(db)) {}

Status Migrator::Loaded() {
  if (loading_.valid()) {
    auto loaded = loading_.get();
    if (loaded.ok()) *migrations_ = std::move(loaded).value();
    load_status_ = loaded.status();
  }
  return load_status_;
}

Migrator::~Migrator() = default;

Result<std::unique_ptr<Migrator>> Migrator::Open(const MigratorOptions& options) {
  // A rollback must not depend on today's checkout: a directory that fails
  // to load only stops the commands that need the files.
  // Reading and hashing the files overlaps with connecting (for SQLite, the
  // engine reading its schema): a `status` of a thousand migrations is
  // mostly these two.
  auto loading = std::async(std::launch::async, [dir = options.migrations_dir] {
    LoadOptions load;
    load.use_cache = true;  // files the checksum cache vouches for are not read
    return LoadMigrations(dir, load);
  });
  std::unique_ptr<Database> db;
  std::string missing;
  if (!options.database_url.empty()) {
    auto url = ParseDatabaseUrl(options.database_url);
    if (url.ok() && !options.create_database && SqliteFileMissing(*url)) missing = url->target;
    auto opened = OpenDatabase(missing.empty() ? options.database_url : "sqlite::memory:",
                               options.create_database);
    if (!opened.ok()) {
      loading.wait();
      return opened.status();
    }
    db = std::move(opened).value();
    if (!options.session_sql.empty()) {
      if (Status s = db->Exec(options.session_sql); !s.ok()) {
        loading.wait();
        return s;
      }
    }
  }
  // The files are waited for where they are first needed: `status` reads
  // history in the meantime.
  auto migrator = std::unique_ptr<Migrator>(new Migrator(options, std::move(loading), std::move(db)));
  migrator->missing_file_ = std::move(missing);
  return migrator;
}

Status Migrator::FileIsThere() const {
  return missing_file_.empty() ? Status::OK() : SqliteFileMissingError(missing_file_);
}

Result<StatusReport> Migrator::GetStatus() { return ReadStatus(/*check_drift=*/true); }

Result<StatusReport> Migrator::ReadStatus(bool check_drift) {
  if (!db_) {
    STRATA_RETURN_IF_ERROR(Loaded());
    return Status(Code::kInvalidArgument, "status needs a database (--database URL)");
  }
  History history(*db_);
  StatusReport report;
  // Of each row only what status shows is kept, in the report itself: with
  // thousands of rows, every copy costs fresh memory, and on a virtual
  // machine each fresh page is a page fault of some 10 us.
  std::vector<MigrationStatus>& rows = report.migrations;
  struct {
    int64_t version = INT64_MIN;
    bool in_progress = false;
    std::string id, schema_after, schema_cookie;
  } newest;
  Status scanned = history.Scan([&](const AppliedMigration& a) {
    MigrationStatus& s = rows.emplace_back();
    s.version = a.version;
    s.id = a.id();
    s.state = a.state == AppliedState::kInProgress ? MigrationState::kInProgress
                                                    : MigrationState::kApplied;
    s.applied_at = a.applied_at;
    s.applied_by = a.applied_by;
    s.duration_ms = a.duration_ms;
    s.down_source = a.down_source;
    s.irreversible = a.irreversible;
    s.finalized_at = a.finalized_at;
    s.error = a.error;
    s.checksum = a.checksum;
    if (a.version > newest.version) {
      newest.version = a.version;
      newest.in_progress = a.state == AppliedState::kInProgress;
      newest.id = s.id;
      newest.schema_after = a.schema_after;
      newest.schema_cookie = a.schema_cookie;
    }
    return Status::OK();
  });
  STRATA_RETURN_IF_ERROR(Loaded());
  STRATA_RETURN_IF_ERROR(scanned);
  auto by_version = [](const MigrationStatus& a, const MigrationStatus& b) { return a.version < b.version; };
  if (!std::is_sorted(rows.begin(), rows.end(), by_version)) {
    std::sort(rows.begin(), rows.end(), by_version);
  }
  report.database = db_->Describe();
  if (!missing_file_.empty()) {
    report.database = "sqlite:" + missing_file_;
    report.note = fmt::format("the SQLite file '{}' does not exist yet (nothing is applied; "
                              "`strata up` creates it)", missing_file_);
  }
  // Both lists are in version order: walked together, each applied row is
  // judged against its file, and the pending files are added after the
  // rows, then put in place if any comes before an applied one.
  const size_t applied_count = rows.size();
  auto file = migrations_->begin();
  auto add_pending_before = [&](std::optional<int64_t> version) {  // nullopt: all the rest
    for (; file != migrations_->end() && (!version || file->version < *version); ++file) {
      MigrationStatus& s = rows.emplace_back();
      s.version = file->version;
      s.id = file->id();
      s.state = file->version < newest.version ? MigrationState::kOutOfOrder : MigrationState::kPending;
      s.down_source = file->has_down() ? "file" : "derived-or-none";
    }
  };
  for (size_t i = 0; i < applied_count; ++i) {
    const int64_t version = rows[i].version;
    add_pending_before(version);
    Migration* f = file != migrations_->end() && file->version == version ? &*file++ : nullptr;
    MigrationStatus& s = rows[i];  // after the additions, which may move the rows
    if (f != nullptr && f->id() != s.id) s.file_id = f->id();
    if (s.state == MigrationState::kInProgress) {
      // stays in progress
    } else if (f == nullptr) {
      s.state = MigrationState::kMissingFile;
    } else if (f->checksum != s.checksum) {
      s.state = MigrationState::kChanged;
      STRATA_ASSIGN_OR_RETURN(std::optional<AppliedMigration> full, history.Get(s.version));
      STRATA_RETURN_IF_ERROR(ReadUpScript(*f));
      if (full) s.diff = LineDiff(NormalizeScript(full->up_script), NormalizeScript(f->up_sql));
    }
  }
  add_pending_before(std::nullopt);
  if (rows.size() > applied_count && applied_count > 0 &&
      rows[applied_count].version < rows[applied_count - 1].version) {
    std::stable_sort(rows.begin(), rows.end(), by_version);
  }
  if (!check_drift) return report;
  STRATA_ASSIGN_OR_RETURN(report.running, db_->LockHolder());
  if (!report.running.empty()) return report;
  if (applied_count > 0 && !newest.in_progress && !newest.schema_after.empty()) {
    if (!newest.schema_cookie.empty()) {
      STRATA_ASSIGN_OR_RETURN(std::string cookie, history.SchemaCookie());
      if (cookie == newest.schema_cookie) return report;  // unchanged since
    }
    STRATA_ASSIGN_OR_RETURN(SchemaModel live, SchemaModel::Read(*db_));
    bool drifted = live.hash() != newest.schema_after;
    if (drifted) {  // the row's checks are read only now
      STRATA_ASSIGN_OR_RETURN(std::optional<AppliedMigration> row, history.Get(newest.version));
      drifted = DiffersFromRecorded(live, newest.schema_after, row ? row->checks : "");
    }
    if (drifted) {
      report.drift = fmt::format(
          "the schema differs from what history says it should be after {} (recorded {}, live "
          "{}): it was changed outside strata; `strata fingerprint --schema` shows it",
          newest.id, newest.schema_after.substr(0, 16), live.hash().substr(0, 16));
    }
  }
  return report;
}

Result<RunReport> Migrator::Up(const UpOptions& options, const EventHandler& on_event) {
  if (!db_) return Status(Code::kInvalidArgument, "up needs a database (--database URL)");
  sql::Dialect dialect = DialectOf(db_->engine());
  Run run(*this, on_event);
  if (!options.dry_run) STRATA_RETURN_IF_ERROR(run.Lock());
  // Before the snapshot, whose failure would point elsewhere.
  STRATA_ASSIGN_OR_RETURN(const std::string managed, db_->ManagedSchema());
  STRATA_ASSIGN_OR_RETURN(StatusReport status, ReadStatus(/*check_drift=*/false));

  std::vector<std::string> conflicts;
  for (const auto& s : status.migrations) {
    if (s.state == MigrationState::kInProgress) {
      return Status(Code::kInProgress,
                    fmt::format("migration {} was left in progress by an interrupted "
                                "no-transaction run{}; check the database, then run `strata "
                                "resolve {} --applied` or `strata resolve {} --rolled-back`",
                                s.id, s.error.empty() ? "" : " (" + s.error + ")", s.version,
                                s.version));
    }
    if (s.state == MigrationState::kChanged) {
      conflicts.push_back(fmt::format("{} was changed after it was applied:\n{}", s.id, s.diff));
    }
    if (s.state == MigrationState::kMissingFile && !options.allow_missing && options.only.empty()) {
      conflicts.push_back(fmt::format(
          "{} is applied but its file is not in {} (deleted, or a checkout without it): put "
          "it back, roll it back with `strata down` (its down script is stored), or pass "
          "--allow-missing to apply on top of it",
          s.id, options_.migrations_dir));
    }
    if (s.state == MigrationState::kOutOfOrder && !options.allow_out_of_order &&
        options.only.empty() && (!options.to || s.version <= *options.to)) {
      conflicts.push_back(fmt::format(
          "{} is pending but a later version is already applied; pass --allow-out-of-order to "
          "apply it anyway",
          s.id));
    }
  }
  if (!conflicts.empty()) {
    std::string msg = "history and files disagree; nothing was applied:";
    for (const auto& c : conflicts) msg += "\n  " + c;
    return Status(Code::kConflict, msg);
  }

  std::map<int64_t, MigrationState> state_of;
  int64_t newest = INT64_MIN;  // the newest applied version
  for (const auto& s : status.migrations) {
    state_of[s.version] = s.state;
    if (s.state != MigrationState::kPending && s.state != MigrationState::kOutOfOrder)
      newest = std::max(newest, s.version);
  }
  const int64_t newest_before = newest;
  bool applied_below_newest = false;  // a migration older than `newest` applied
  auto listed = [](const std::vector<int64_t>& versions, int64_t v) {
    return std::find(versions.begin(), versions.end(), v) != versions.end();
  };
  for (int64_t v : options.only) {
    auto it = state_of.find(v);
    if (it == state_of.end() ||
        (it->second != MigrationState::kPending && it->second != MigrationState::kOutOfOrder)) {
      return Status(Code::kConflict,
                    fmt::format("migration {} cannot be applied: {}; nothing was applied", v,
                                it == state_of.end() ? "there is no file for it"
                                                     : "it is not pending"));
    }
  }
  RunReport report;
  std::vector<std::pair<const Migration*, Prepared>> todo;
  STRATA_ASSIGN_OR_RETURN(const Placeholders placeholders,
                          PlaceholderValues(*migrations_, db_.get(), options_.placeholders));
  std::vector<std::string> refusals;
  auto accepts_irreversible = [&](int64_t version) {
    return options.allow_irreversible || listed(options.irreversible_accepted, version);
  };
  for (auto& m : *migrations_) {
    MigrationState st = state_of[m.version];
    if (st != MigrationState::kPending && st != MigrationState::kOutOfOrder) continue;
    if (options.to && m.version > *options.to) continue;
    if (!options.only.empty() && !listed(options.only, m.version)) continue;
    STRATA_ASSIGN_OR_RETURN(Prepared p, Prepare(m, dialect, placeholders));
    if (p.down_source == "none" && !accepts_irreversible(m.version)) refusals.push_back(p.irreversible);
    if (!accepts_irreversible(m.version)) {
      if (auto outside = OutsideManagedSchema(m, p, managed, dialect)) refusals.push_back(*outside);
      auto never = NeverCapturableIn(m, p);
      if (never && p.down_source != "none") refusals.push_back(*never);
    }
    report.plan.push_back(PlanStep{m.version, m.id(), p.up_text, p.down_source, p.down_script, "",
                                   m.directives.no_transaction, p.up.size(), p.up_left_out});
    todo.emplace_back(&m, std::move(p));
  }
  if (!refusals.empty()) {
    std::string msg = refusals.size() == 1 ? refusals[0] : "irreversible migrations:";
    if (refusals.size() > 1)
      for (const auto& r : refusals) msg += "\n  " + r;
    return Status(Code::kIrreversible, msg);
  }
  if (options.dry_run) return report;

  // Where the run's steps share one transaction (SQLite), it is opened
  // before the snapshot: its write lock keeps the application from
  // committing between the restoration point and the first migration,
  // whose state it is. History is made before it opens: an interrupted
  // statement rolls the whole transaction back, and only the steps are
  // run again.
  const bool one_transaction = db_->step_atomicity() == StepAtomicity::kSavepoint;
  if (one_transaction) STRATA_RETURN_IF_ERROR(run.history().Ensure());
  std::string snapshot_id;
  if (options.before_apply && !todo.empty()) {
    if (one_transaction && !db_->InTransaction()) STRATA_RETURN_IF_ERROR(db_->Begin());
    Result<std::string> taken = options.before_apply();
    if (!taken.ok()) {
      if (db_->InTransaction()) db_->Rollback().IgnoreError();
      return taken.status();
    }
    snapshot_id = std::move(taken).value();
  }
  if (!one_transaction) STRATA_RETURN_IF_ERROR(run.history().Ensure());
  // The schema is read whole once; then only what the migrations touch is
  // re-read, for several migrations at once where they touch different tables.
  STRATA_ASSIGN_OR_RETURN(SchemaModel model, SchemaModel::Read(*db_));
  // A change made outside Strata since the newest migration: history
  // records the schema as this run leaves it, that change included, so
  // status stops reporting it; the report says so once.
  if (newest_before != INT64_MIN && !todo.empty()) {
    STRATA_ASSIGN_OR_RETURN(std::optional<AppliedMigration> row, run.history().Get(newest_before));
    if (row && row->state == AppliedState::kApplied && !row->schema_after.empty() &&
        DiffersFromRecorded(model, row->schema_after, row->checks)) {
      report.drift = fmt::format(
          "the schema already differed from what history recorded after {} (changed outside "
          "strata); the migrations were applied over it, and history now records the schema "
          "with that change, so `strata status` no longer reports it",
          row->id());
    }
  }
  KnownData known;
  Unread unread;
  // Learns how the migrations sent went (below): what they left is read
  // only once they are known to be applied.
  std::function<Status(bool)> take_sent;
  auto read_unread = [&]() -> Status {
    STRATA_RETURN_IF_ERROR(take_sent(true));
    STRATA_ASSIGN_OR_RETURN(auto outcomes, unread.Read(*db_, model, known));
    for (auto& o : outcomes) run.RecordOutcome(std::move(o));
    return Status::OK();
  };
  // Migrations sent and not yet known to be applied (Run::Send): the
  // next ones are prepared meanwhile, as if these were applied.
  struct Sent {
    const Migration* m;
    Clock::time_point start;  // when it became the oldest sent
    std::vector<std::string> tables;
  };
  std::deque<Sent> sent;
  bool sent_failed = false;  // one of them failed, which stopped the run
  auto failed_message = [&](const Migration& m, const Status& s) {
    if (s.code() == Code::kInternal) return s;
    return Status(s.code() == Code::kVerifyFailed ? Code::kVerifyFailed : Code::kDatabase,
                  fmt::format("migration {} failed and was rolled back at {}{}{}", m.id(), s.message(),
                              NewEnumValueAdvice(s.message()), StayNote(report.completed, "applied")));
  };
  // What a signal that came before `m` ran says.
  auto interrupted_message = [&](const Migration& m) {
    return Status(Code::kDatabase, fmt::format("{} before migration {}, which was not applied{}",
                                               Interrupt::Describe(), m.id(),
                                               StayNote(report.completed, "applied")));
  };
  auto applied = [&](const Migration& m, int64_t ms) {
    if (m.version > newest) {
      run.SchemaIsAfter(newest = m.version);
    } else {
      applied_below_newest = true;
    }
    ++report.completed;
    Emit(on_event, Event::Kind::kApplied, m.version, m.id(), ms);
  };
  std::function<Status(const Migration&, Clock::time_point, Status)> fail;
  // Learns how the migrations sent went: all of them, or (not `all`) those
  // whose outcome is in. The first that failed stops the run, as a failure
  // does, and those after it did not run.
  take_sent = [&](bool all) -> Status {
    while (!sent.empty() && (all || run.FinishReady())) {
      auto [s, server_ms] = run.Finish();
      const Sent head = sent.front();
      sent.pop_front();
      const int64_t ms = server_ms >= 0 ? server_ms : MillisSince(head.start);
      if (!s.ok()) {
        sent_failed = true;
        while (run.sent() > 0) run.Finish();
        unread.Drop(head.m->version);
        for (const Sent& later : sent) unread.Drop(later.m->version);
        sent.clear();
        known.Clear();
        s = NameLockHolders(*db_, std::move(s), head.tables);
        if (Interrupt::Requested() && s.code() == Code::kInternal) {
          return fail(*head.m, head.start, interrupted_message(*head.m));
        }
        return fail(*head.m, head.start, failed_message(*head.m, s));
      }
      unread.SetDuration(head.m->version, ms);
      applied(*head.m, ms);
      if (!sent.empty()) {
        sent.front().start = Clock::now();
        Emit(on_event, Event::Kind::kApplying, sent.front().m->version, sent.front().m->id());
      }
    }
    return Status::OK();
  };
  fail = [&](const Migration& m, Clock::time_point start, Status s) {
    Status read = read_unread();
    if (!read.ok()) {
      s = Status(s.code(), s.message() + "; reading the schema the migrations before it left "
                                          "failed too: " + read.message());
    }
    return run.Fail(m.version, m.id(), start, s);
  };
  // A migration stopped before it runs (its capture refused, or a read it
  // needs failed) leaves the ones before it in the run applied, as a failing
  // one does; on SQLite they are still in the run's open transaction.
  auto stop_before = [&](Status s) {
    // One sent before it failed: that is what stopped the run.
    if (Status earlier = take_sent(true); !earlier.ok()) return earlier;
    Status kept = read_unread();
    if (kept.ok()) kept = run.Flush();
    if (!kept.ok()) {
      s = Status(s.code(), s.message() + "; committing the migrations before it failed too: " +
                               kept.message());
    } else if (report.completed > 0) {
      // Whatever its exit code says of what the run changed.
      s = Status(s.code(), fmt::format("{}\n(the {} migration{} before it in this run {} applied and "
                                       "stay{} so; nothing of it or after it was)",
                                       s.message(), report.completed, report.completed == 1 ? "" : "s",
                                       report.completed == 1 ? "was" : "were",
                                       report.completed == 1 ? "s" : ""));
    }
    return s;
  };
  using K = sql::StatementKind;
  // A signal that came while no statement ran cancelled nothing: it is
  // looked at before each migration and again just before it runs.
  auto interrupted_before = [&](const Migration& m) { return stop_before(interrupted_message(m)); };
  for (auto& [m, p] : todo) {
    if (Interrupt::Requested()) return interrupted_before(*m);
    // A read of its preparation that a signal cancelled: it was not applied
    // (unless what stopped the run was one sent before it, which says so).
    auto stop_before_it = [&, m = m](Status s) {
      return Interrupt::Requested() && !sent_failed ? interrupted_before(*m) : stop_before(std::move(s));
    };
    RoutineEffects routines(*db_, dialect);
    if (Status s = AddCalledRoutineWrites(p, dialect, routines); !s.ok()) return stop_before_it(s);
    if (Status s = AddTriggerWrites(*db_, p, dialect, routines); !s.ok()) return stop_before_it(s);
    // Dropping an index or trigger looks its table up in the model.
    bool looks_up = std::any_of(p.info.begin(), p.info.end(), [](const sql::StatementInfo& i) {
      return i.kind == K::kDropIndex || i.kind == K::kDropTrigger;
    });
    if (looks_up) {
      if (Status read = read_unread(); !read.ok()) return stop_before_it(read);
    }
    if (Status marked = MarkReplacingWrites(*db_, p); !marked.ok()) return stop_before_it(marked);
    auto under_views = TablesUnderViews(*db_, p, m->id(), accepts_irreversible(m->version));
    if (!under_views.ok()) return stop_before_it(under_views.status());
    auto scope_of = [&] {
      Scope s = ScopeOf(p.info, model);
      for (const std::string& t : *under_views) {
        if (std::find(s.tables.begin(), s.tables.end(), t) == s.tables.end()) s.tables.push_back(t);
      }
      return s;
    };
    Scope scope = scope_of();
    // Deferred: the reads after a transactional migration on known tables.
    const bool deferred = !scope.whole && !m->directives.no_transaction;
    if (!deferred || unread.Touches(scope.tables)) {
      if (Status read = read_unread(); !read.ok()) return stop_before_it(read);
      scope = scope_of();  // partitions created since are known now
    }
    auto cascades = AddCascades(*db_, p, m->up_path, m->directives.no_transaction,
                                accepts_irreversible(m->version), scope);
    if (!cascades.ok()) return stop_before_it(cascades.status());
    auto seed_children = SeedCascades(*db_, p);
    if (!seed_children.ok()) return stop_before_it(seed_children.status());
    for (const std::string& t : *seed_children) {
      if (std::find(scope.tables.begin(), scope.tables.end(), t) == scope.tables.end()) scope.tables.push_back(t);
    }
    auto before = known.Existing(*db_, scope.tables, model);
    if (!before.ok()) return stop_before_it(before.status());
    auto guarding = Guard(*db_, *m, p, scope, *cascades, *seed_children, model, *before,
                          accepts_irreversible(m->version));
    if (!guarding.ok()) return stop_before_it(guarding.status());
    Guarded guarded = std::move(guarding).value();
    // Rehearsal: statement N fails where it stands, after its capture.
    if (size_t n = options.inject_failure_at.value_or(0); n > 0 && n <= guarded.statements.size()) {
      guarded.up[guarded.statements[n - 1]].text = "SELECT * FROM strata_injected_failure";
    }
    const bool changes_session = ChangesSession(guarded.up);
    // A transactional migration on known tables goes out while the ones
    // before it may still run (the server goes from one to the next); it
    // is prepared as if they were applied, and learnt about once they are.
    // SQLite runs each at once in the run's transaction.
    std::function<Status()> check;
    if (dialect == sql::Dialect::kSqlite &&
        std::any_of(p.info.begin(), p.info.end(),
                    [](const sql::StatementInfo& i) { return i.kind == K::kRenameTable; }) &&
        std::any_of(p.info.begin(), p.info.end(),
                    [](const sql::StatementInfo& i) { return i.kind == K::kDropTable; })) {
      check = [&] { return NoReferencesToDroppedTables(*db_, p.info, m->up_path); };
    }
    const bool pipelined = deferred && !check && !changes_session &&
                           db_->step_atomicity() == StepAtomicity::kTransaction;
    if (!pipelined) {
      if (Status s = take_sent(true); !s.ok()) return s;
    }
    if (Interrupt::Requested()) return interrupted_before(*m);
    if (sent.empty()) Emit(on_event, Event::Kind::kApplying, m->version, m->id());
    AppliedMigration row = RowOf(*m, run.owner().actor);
    row.down_script = p.down_script;
    row.down_source = p.down_source;
    // No down script, or one that cannot bring back what ran uncaptured.
    row.irreversible = p.down_source == "none" || guarded.uncaptured;
    row.snapshot_id = snapshot_id;
    row.schema_before = model.hash();  // replaced by the outcome when migrations were unread
    row.checks = guarded.checks;
    row.restore_script = guarded.restore_script;
    auto start = Clock::now();
    Status s;
    if (Status set = SetTimeouts(*db_, m->directives, options_.statement_lock_timeout); !set.ok()) {
      return stop_before_it(set);
    }
    // Reads what the migration left right away (when not deferred).
    auto record_now = [&]() -> Status {
      STRATA_RETURN_IF_ERROR(model.Refresh(*db_, scope.filter()));
      known.Clear();
      STRATA_ASSIGN_OR_RETURN(std::string checks, WithDataAfter(*db_, row.checks, known, model));
      run.RecordOutcome({m->version, MillisSince(start), "", model.hash(), std::move(checks)});
      return Status::OK();
    };
    if (m->directives.no_transaction) {
      STRATA_RETURN_IF_ERROR(run.Flush());
      row.applied_at = NowUtc();
      row.state = AppliedState::kInProgress;
      STRATA_RETURN_IF_ERROR(run.history().Insert(row));
      s = ResetSessionAfter(*db_, changes_session, run.Exec(guarded.up, m->up_path));
      s = NameLockHolders(*db_, std::move(s), scope.tables);
      if (s.ok()) s = run.Verify(p.verify, m->verify_path);
      if (s.ok()) s = run.history().MarkApplied(m->version, MillisSince(start));
      if (s.ok()) {
        s = record_now();
      } else {
        run.SchemaIsAfter(std::nullopt);  // part of it stays applied
        run.history().RecordError(m->version, s.message()).IgnoreError();
        s = Status(Code::kInProgress,
                   fmt::format("migration {} failed at {}; it runs without a transaction, so the "
                               "statements before that one stay applied and history marks it in "
                               "progress; check the database, then run `strata resolve {} "
                               "--applied` or `--rolled-back`",
                               m->id(), s.message(), m->version));
      }
    } else {
      row.applied_at = NowUtc();
      Step step;
      // The history row goes first: its log position is then the one just
      // before the migration's changes.
      step.Add(run.history().InsertStatement(row), "recording it in strata_history");
      step.AddScript(guarded.up, m->up_path);
      step.AddScript(p.verify, "verify script " + m->verify_path, Code::kVerifyFailed);
      // Only the run's last step waits for the disk (and with it the ones
      // before): a thousand small migrations do not wait a thousand times.
      // Nothing of Strata's runs in the step after the script: the settings
      // are put back once it ends (committed or not: SQLite's pragmas are
      // not undone by a rollback).
      const bool wait_for_disk = m == todo.back().first;
      if (pipelined) {
        run.Send(step, wait_for_disk);
        known.After(p.info, scope.tables);
        unread.Add({m->version, 0, scope.tables, row.checks});
        sent.push_back({m, start, scope.tables});
        if (Status taken = take_sent(false); !taken.ok()) return taken;
        continue;
      }
      s = ResetSessionAfter(*db_, changes_session,
                            run.Atomic(step, check, wait_for_disk));
      s = NameLockHolders(*db_, std::move(s), scope.tables);
      if (s.ok() && deferred) {
        known.After(p.info, scope.tables);
        unread.Add({m->version, MillisSince(start), scope.tables, row.checks});
      } else if (s.ok()) {
        s = record_now();
      }
      if (!s.ok()) s = failed_message(*m, s);
    }
    if (!s.ok()) return fail(*m, start, s);
    applied(*m, MillisSince(start));
  }
  STRATA_RETURN_IF_ERROR(read_unread());
  if (applied_below_newest && newest == newest_before) {
    // Applied out of order, below a newer version applied before: status
    // compares the schema with the newest row's schema_after, which this
    // run left behind; it takes the schema as the run leaves it (as `down`
    // does for the row a rollback out of order leaves newest), so that
    // status does not report the run as drift.
    STRATA_RETURN_IF_ERROR(run.history().SetSchemaAfter(newest, model.hash()));
    run.SchemaIsAfter(newest);
  }
  STRATA_RETURN_IF_ERROR(SetTimeouts(*db_, {}));
  STRATA_RETURN_IF_ERROR(run.FlushAtEnd("applied"));
  STRATA_ASSIGN_OR_RETURN(report.finalized, FinalizeExpired(run.history()));
  return report;
}

/// The tables rolling back a migration with `checks` reads to tell whether
/// the application wrote to them since, and those its down script acts on,
/// as {schema ("" for the search path), table}: kept from other writers
/// while the rollback runs, a write cannot slip in between those reads and
/// the statements that would lose it.
std::vector<std::pair<std::string, std::string>> TablesGuardedOnRollback(
    const nlohmann::json& checks, const std::vector<sql::StatementInfo>& up_infos,
    const std::vector<sql::StatementInfo>& down_infos) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&out](std::string schema, std::string table) {
    std::pair<std::string, std::string> t{std::move(schema), std::move(table)};
    if (!t.second.empty() && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(std::move(t));
  };
  if (checks.is_object()) {
    if (checks.contains("data")) {
      for (const auto& [key, facts] : checks["data"].items()) add("", ReadAs(key, facts));
    }
    if (checks.contains("created_elsewhere")) {
      for (const auto& t : checks["created_elsewhere"]) add(t["schema"], t["table"]);
    }
    if (checks.contains("probes")) {
      for (const auto& probe : checks["probes"]) add("", probe.value("table", ""));
    }
  }
  for (const auto& info : up_infos) {
    if (!info.added.empty()) add(info.schema, info.table);
  }
  for (const auto& info : down_infos) add(info.schema, info.table.empty() ? info.object : info.table);
  return out;
}

namespace {

/// The indexes and triggers of `model` that a person may have made by hand
/// (by sort key, with their table): not a unique index, which a constraint
/// makes.
std::map<std::string, std::string> HandMadeCandidates(const SchemaModel& model) {
  std::map<std::string, std::string> out;
  for (const auto& [key, text] : model.Blocks()) {
    const std::string_view kind = SchemaModel::KindOfKey(key);
    if (kind != "index" && kind != "trigger") continue;
    if (kind == "index" && text.find("unique") != std::string::npos) continue;
    out.emplace(key, model.TableOf(kind, SchemaModel::NameOfKey(key)));
  }
  return out;
}

/// Refuses a rollback (of `id`, whose up statements are `up`) whose down
/// script dropped an index or trigger of a table that is still there, one
/// that was there before it (`before`) and that its migration did not make:
/// one made since, by hand.
Status RefuseDroppingHandMade(Database& db, const std::map<std::string, std::string>& before,
                              const std::vector<sql::StatementInfo>& up, const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(SchemaModel after, SchemaModel::Read(db));
  const std::map<std::string, std::string> now = HandMadeCandidates(after);
  const sql::Dialect dialect = DialectOf(db.engine());
  std::set<std::string> made;  // by the migration
  for (const sql::StatementInfo& info : up) {
    if (info.kind == sql::StatementKind::kCreateIndex || info.kind == sql::StatementKind::kCreateTrigger) {
      made.insert(sql::NameKey(info.object, dialect));
    }
  }
  std::vector<std::string> dropped;
  for (const auto& [key, table] : before) {
    const std::string name(SchemaModel::NameOfKey(key));
    if (now.count(key) || table.empty() || !after.HasTable(table) || made.count(sql::NameKey(name, dialect))) {
      continue;
    }
    dropped.push_back(fmt::format("{} {} on {}", SchemaModel::KindOfKey(key), name, table));
  }
  if (dropped.empty()) return Status::OK();
  return Status(Code::kVerifyFailed,
                fmt::format("the down script of {} drops {}, which {} did not make (made since, "
                            "by hand)",
                            id, fmt::join(dropped, ", "), id));
}

}  // namespace

Result<RunReport> Migrator::Down(const DownOptions& options, const EventHandler& on_event) {
  if (!db_) return Status(Code::kInvalidArgument, "down needs a database (--database URL)");
  STRATA_RETURN_IF_ERROR(FileIsThere());
  sql::Dialect dialect = DialectOf(db_->engine());
  // How errors name the script that ran (in a rehearsal, the file's).
  const std::string_view down_label = options.rehearsal ? " (down script)" : " (down script stored at apply time)";
  Run run(*this, on_event);
  if (!options.dry_run) STRATA_RETURN_IF_ERROR(run.Lock());
  STRATA_ASSIGN_OR_RETURN(std::vector<AppliedMigration> applied, run.history().List(false));
  std::reverse(applied.begin(), applied.end());

  std::vector<AppliedMigration> targets;
  int steps = options.steps.value_or(options.to ? INT32_MAX : 1);
  for (const auto& a : applied) {
    if (options.to ? a.version <= *options.to : static_cast<int>(targets.size()) >= steps) break;
    if (a.state == AppliedState::kInProgress) {
      return Status(Code::kInProgress,
                    fmt::format("migration {} was left in progress by an interrupted "
                                "no-transaction run; settle it first with `strata resolve {} "
                                "--applied` or `--rolled-back`",
                                a.id(), a.version));
    }
    STRATA_ASSIGN_OR_RETURN(std::optional<AppliedMigration> full, run.history().Get(a.version));
    targets.push_back(std::move(*full));
  }
  // The schema may already differ from what the newest migration left (an
  // index or trigger made by hand since): a down script that rebuilds its
  // table (SQLite's way to change one) drops it with the table, and the
  // check, which compares with the state before the migration, cannot tell.
  // The rollbacks then look for it. Known cheaply where the engine keeps a
  // schema cookie (SQLite), which a run records.
  bool drifted = false;
  if (!options.dry_run && !targets.empty() && !targets[0].schema_after.empty() &&
      !targets[0].schema_cookie.empty()) {
    STRATA_ASSIGN_OR_RETURN(std::string cookie, run.history().SchemaCookie());
    if (cookie != targets[0].schema_cookie) {
      STRATA_ASSIGN_OR_RETURN(SchemaModel live, SchemaModel::Read(*db_));
      drifted = DiffersFromRecorded(live, targets[0].schema_after, targets[0].checks);
    }
  }
  const bool schema_was_recorded = !drifted && !targets.empty() && !targets[0].schema_cookie.empty();

  // Rolled back newest version first: a migration with a lower version that
  // was applied after one of them (up --allow-out-of-order) is still applied
  // when that one goes. Where both reach the same tables, its changes would
  // go too (a column it added to a table the other created), checked by
  // neither, and history would still list it as applied.
  for (const auto& t : targets) {
    for (const auto& a : applied) {
      if (a.version >= t.version || a.applied_at <= t.applied_at) continue;
      STRATA_ASSIGN_OR_RETURN(std::optional<AppliedMigration> later, run.history().Get(a.version));
      std::string shared = later ? SharedScope(t, *later, dialect) : "";
      if (shared.empty()) continue;
      return Status(Code::kIrreversible,
                    fmt::format("migration {} cannot be rolled back while {} stays applied: {} was "
                                "applied after it (out of order), down rolls back in version "
                                "order, and {}; nothing was rolled back (restore the state "
                                "before {} with `strata restore --to-version {}`)",
                                t.id(), later->id(), later->id(), shared, t.id(),
                                t.version_text.empty() ? std::to_string(t.version)
                                                       : t.version_text));
    }
  }

  RunReport report;
  std::vector<std::vector<sql::Statement>> scripts, restores;
  std::vector<Directives> directives;
  for (const auto& t : targets) {
    std::string id = t.id();
    if (t.down_source == "baseline") {
      return Status(Code::kIrreversible,
                    fmt::format("migration {} was recorded by `strata baseline`: the database held "
                                "it before Strata managed it, and nothing was stored to undo it; "
                                "nothing was rolled back (roll back to a version after it, or "
                                "restore a backup taken before it)",
                                id));
    }
    if (t.down_source == "none") {
      return Status(Code::kIrreversible,
                    fmt::format("migration {} was applied with --allow-irreversible and has no "
                                "down script; nothing was rolled back (roll back to a version "
                                "after it, or restore a backup taken before it)",
                                id));
    }
    const auto checks = nlohmann::json::parse(t.checks, nullptr, /*allow_exceptions=*/false);
    if (const std::vector<std::string> uncaptured = UncapturedChanges(checks); !uncaptured.empty()) {
      return Status(Code::kIrreversible,
                    fmt::format("migration {} was applied with --allow-irreversible, and what "
                                "this ran without a capture changed cannot be put back by its "
                                "down script: {}; nothing was rolled back (restore the state "
                                "before it with `strata restore --to-version {}`, or roll back "
                                "to a version after it)",
                                id, fmt::join(uncaptured, "; "),
                                t.version_text.empty() ? std::to_string(t.version) : t.version_text));
    }
    if (!t.finalized_at.empty() && CapturedData(t.checks)) {
      return Status(Code::kIrreversible,
                    fmt::format("migration {} was finalized at {}: the data it removed was "
                                "released, so rolling it back would lose that data; nothing was "
                                "rolled back (restore a snapshot taken before it instead)",
                                id, t.finalized_at));
    }
    std::string where = id + std::string(down_label);
    const int down_line = checks.is_object() ? checks.value("down_line", 1) : 1;
    STRATA_ASSIGN_OR_RETURN(auto stmts, Split(t.down_script, where, dialect, down_line));
    auto d = ParseDirectives(t.down_script, DirectiveCheck::kStored);
    if (!d.ok()) return d.status().WithContext(where);
    const size_t split = stmts.size();
    if (!d->no_transaction) STRATA_RETURN_IF_ERROR(Unwrap(stmts, where, dialect));
    STRATA_ASSIGN_OR_RETURN(auto restore, Split(t.restore_script, id + " (captured data)", dialect));
    if (!restore.empty()) {
      for (sql::Statement& st : RefreshesOf(stmts, dialect)) restore.push_back(std::move(st));
    }
    scripts.push_back(std::move(stmts));
    restores.push_back(std::move(restore));
    directives.push_back(*d);
    report.plan.push_back(PlanStep{t.version, id, t.down_script, "", "", t.restore_script,
                                   d->no_transaction, scripts.back().size(),
                                   split - scripts.back().size()});
  }
  // Rolling back target i would lose what the application wrote since
  // (`written`: the tables that changed): the refusals, which only read.
  // The up script as applied: it ran, so it splits (nothing to go on otherwise).
  auto up_infos_of = [&](size_t i) {
    auto up = sql::SplitStatements(targets[i].up_script, dialect);
    return up.ok() ? Classified(*up, dialect) : std::vector<sql::StatementInfo>();
  };
  auto checks_of = [&](size_t i) {
    return nlohmann::json::parse(targets[i].checks, nullptr, /*allow_exceptions=*/false);
  };
  auto refusal = [&](size_t i, const std::vector<std::string>& written, const nlohmann::json& checks,
                     const std::vector<sql::StatementInfo>& up_infos,
                     const std::vector<sql::StatementInfo>& down_infos) -> Status {
    if (options.discard_later_writes) return Status::OK();
    const std::string& id = report.plan[i].id;
    const std::set<std::string> merged = directives[i].no_transaction
                                             ? std::set<std::string>()
                                             : MergedTables(checks, written, down_infos, dialect);
    std::set<std::string> left_alone = merged;
    for (const std::string& t : RenamedAwayByDown(down_infos)) left_alone.insert(t);
    Status refused = RefuseReplacingWrites(id, checks, written, left_alone);
    if (refused.ok()) refused = RefuseOverwritingWrites(*db_, id, checks);
    if (refused.ok()) {
      refused = RefuseRestoringOverDownWrites(*db_, targets[i], checks, up_infos, scripts[i], down_infos, dialect);
    }
    if (refused.ok()) refused = RefuseDroppingWrittenColumns(*db_, targets[i], checks, up_infos, down_infos, dialect);
    if (refused.ok()) refused = RefuseLossyRetypes(*db_, targets[i], checks, down_infos);
    if (refused.ok()) refused = RefuseDroppingTablesWrittenElsewhere(*db_, id, checks, down_infos, dialect);
    return refused;
  };
  if (options.dry_run) {
    // The first step's refusals hold now; a later step's depend on what
    // the rollbacks before it put back, which only running them shows.
    if (!targets.empty()) {
      STRATA_ASSIGN_OR_RETURN(
          std::vector<std::string> written,
          WrittenSince(*db_, targets[0].checks, /*guarded_only=*/!directives[0].no_transaction));
      Status refused = refusal(0, written, checks_of(0), up_infos_of(0), Classified(scripts[0], dialect));
      if (!refused.ok()) {
        return Status(refused.code(), "dry run: the rollback would stop at its first migration: " +
                                          refused.message());
      }
    }
    return report;
  }

  auto interrupted_before = [&](const PlanStep& step) -> Status {
    STRATA_RETURN_IF_ERROR(run.Flush());
    return Status(Code::kDatabase,
                  fmt::format("{} before rolling back {}, which stays applied{}",
                              Interrupt::Describe(), step.id, StayNote(report.completed, "rolled back")));
  };
  for (size_t i = 0; i < targets.size(); ++i) {
    const PlanStep& step = report.plan[i];
    if (Interrupt::Requested()) return interrupted_before(step);
    std::string where = step.id + std::string(down_label);
    std::string restore_where = step.id + " (putting back the data captured before it)";
    Emit(on_event, Event::Kind::kRollingBack, step.version, step.id);
    auto start = Clock::now();
    STRATA_RETURN_IF_ERROR(SetTimeouts(*db_, directives[i], options_.statement_lock_timeout));
    const nlohmann::json checks = checks_of(i);
    const std::vector<sql::StatementInfo> up_infos = up_infos_of(i);
    const std::vector<sql::StatementInfo> down_infos = Classified(scripts[i], dialect);
    // The tables whose rows the down script is held to whole (CopyUntouched),
    // and those of the migration with the tables referencing them
    // (DanglingReferences).
    const std::set<std::string> held_whole = HeldWhole(checks, up_infos, down_infos, dialect);
    const std::set<std::string> tables_of_checks = TablesOfChecks(checks);
    auto fail_refused = [&](Status refused) {
      if (report.completed > 0) {
        refused = Status(refused.code(),
                         refused.message() + fmt::format(" (the {} newer migration{} this run "
                                                         "rolled back before it stay{} rolled back)",
                                                         report.completed,
                                                         report.completed == 1 ? "" : "s",
                                                         report.completed == 1 ? "s" : ""));
      }
      return run.Fail(step.version, step.id, start, refused);
    };
    // The tables written since: in a transaction, read once the tables are
    // kept from other writers (below); a down script without one cannot be
    // undone and tried again, so every table written since is known before
    // it runs (a write between the two is not caught there).
    std::vector<std::string> written;
    if (directives[i].no_transaction) {
      STRATA_ASSIGN_OR_RETURN(written, WrittenSince(*db_, targets[i].checks, /*guarded_only=*/false));
      if (Status refused = refusal(i, written, checks, up_infos, down_infos); !refused.ok()) {
        return fail_refused(refused);
      }
    }
    const Reach reach = DownReach(*db_, scripts[i], down_infos, targets[i].checks, dialect);
    std::map<std::string, std::string> outside_before;
    if (!reach.empty()) {
      STRATA_ASSIGN_OR_RETURN(outside_before, OutsideBlocks(*db_, reach));
    }
    // Tables the migration never touched whose rows the down script's
    // DELETE or UPDATE reaches through a foreign key action (ON DELETE
    // CASCADE, SET NULL): their rows are the application's, compared before
    // and after the down script, with the tables kept from writers between.
    std::vector<std::string> cascaded;
    std::vector<TableFingerprint> cascaded_before;
    if (!options.discard_later_writes && !reach.scope.empty()) {
      std::set<std::string> own;
      for (const auto& t : reach.scope) own.insert(AsciiLower(t));
      for (const auto& t : TablesNamed(down_infos)) own.insert(AsciiLower(t));
      for (const auto& info : down_infos) {
        using K = sql::StatementKind;
        if (info.kind != K::kDelete && info.kind != K::kUpdate && info.kind != K::kTruncate) continue;
        Result<std::vector<std::string>> reached = CascadeReach(*db_, info, info.table, std::nullopt);
        if (!reached.ok() && reached.status().code() == Code::kIrreversible) {
          return Status(Code::kVerifyFailed,
                        fmt::format("rollback of {}: its down script {}: {}; nothing was rolled "
                                    "back (--discard-later-writes lets it change them)",
                                    targets[i].id(), info.summary, reached.status().message()));
        }
        STRATA_RETURN_IF_ERROR(reached.status());
        for (auto& t : *reached) {
          if (own.insert(AsciiLower(t)).second) cascaded.push_back(std::move(t));
        }
      }
    }
    std::optional<Reordered> reordered;
    const bool changes_session = ChangesSession(scripts[i]);
    // Of the tables written since: what the down script must leave as it
    // finds it (read in its transaction, before it runs).
    std::vector<KeptColumns> kept;
    std::vector<UntouchedRows> untouched;
    // Tables put back whole whose rows written since stay as the down
    // script copies them (Capture::Merge), and the keys of those rows, read
    // before it runs; every restore of a table put back whole reads them.
    SinceColumns merged;
    auto read_since = [&]() -> Status {
      // (Not without a transaction: the check after the down script could
      // not undo it, and the captures would be gone.)
      STRATA_ASSIGN_OR_RETURN(
          merged, MakeSinceTables(*db_, checks,
                                  options.discard_later_writes || directives[i].no_transaction
                                      ? std::set<std::string>()
                                      : MergedTables(checks, written, down_infos, dialect)));
      return Status::OK();
    };
    // The rows of the tables written since that the down script must leave
    // as they are, copied before it runs (its transaction, if any, begun).
    auto copy_untouched = [&]() -> Status {
      untouched.clear();
      for (size_t w = 0; !options.discard_later_writes && w < written.size(); ++w) {
        STRATA_ASSIGN_OR_RETURN(std::optional<UntouchedRows> copied,
                                CopyUntouched(*db_, written[w], checks, up_infos, down_infos, held_whole, dialect));
        if (copied) untouched.push_back(std::move(*copied));
      }
      return Status::OK();
    };
    // Set when the check found that the down script would lose what the
    // application wrote: its message says all, the rollback undone.
    bool would_lose_writes = false;
    // SQLite: rows of the migration's tables, and of those referencing
    // them, that reference nothing before the down script (the rollback is
    // not blamed for those).
    std::map<std::string, int64_t> dangling_before;
    // With `drifted`: the indexes and triggers before the down script
    // (HandMadeCandidates), read by `before`.
    std::optional<std::map<std::string, std::string>> objects_before;
    auto check = [&]() -> Status {
      if (objects_before) STRATA_RETURN_IF_ERROR(RefuseDroppingHandMade(*db_, *objects_before, up_infos_of(i), step.id));
      Status s = CheckRollback(*db_, targets[i].checks, written, &reordered);
      db_->KeepTransactionOnReadErrors(true);
      if (s.ok()) {
        s = CheckMerged(*db_, step.id, checks, merged);
        for (size_t u = 0; s.ok() && u < untouched.size(); ++u) {
          s = CheckUntouched(*db_, step.id, untouched[u], /*undone=*/!directives[i].no_transaction);
        }
        if (s.ok()) {
          // A row the application wrote since that references one the
          // rollback removes (a parent put back whole, without the rows
          // written since: --discard-later-writes) would be left pointing
          // at nothing, which SQLite does not stop when foreign keys are off.
          std::vector<std::string> left;
          int64_t rows = 0;
          for (const auto& [reference, n] : DanglingReferences(*db_, tables_of_checks)) {
            const int64_t more = n - (dangling_before.count(reference) ? dangling_before.at(reference) : 0);
            if (more <= 0) continue;
            rows += more;
            left.push_back(fmt::format("{} more of {}", more, reference));
          }
          if (!left.empty()) {
            s = Status(Code::kVerifyFailed,
                       fmt::format("rolling back {} would leave {} row{} referencing rows that are not "
                                   "there ({}), which SQLite does not stop while foreign keys are off "
                                   "(`sqlite3 FILE 'PRAGMA foreign_key_check'` lists them once it is "
                                   "done): a parent it removes or a child it puts back; the rollback "
                                   "was undone. Delete those rows or point them elsewhere, then roll "
                                   "back again",
                                   step.id, rows, rows == 1 ? "" : "s", fmt::join(left, "; ")));
          }
        }
        would_lose_writes = !s.ok();
      }
      db_->KeepTransactionOnReadErrors(false);
      if (s.ok() && !reach.empty()) s = CheckReach(*db_, reach, step.id, outside_before);
      for (const KeptColumns& k : kept) {
        if (!s.ok()) break;
        STRATA_ASSIGN_OR_RETURN(std::optional<TableFingerprint> now, ReadKept(*db_, k, /*after_down=*/true));
        if (!now || now->hash == k.before.hash) continue;
        std::vector<std::string> names;
        for (const auto& [before, after] : k.columns) {
          names.push_back(before == after ? after : before + " (" + after + " again)");
        }
        s = Status(Code::kVerifyFailed,
                   fmt::format("data of table {} differs: the down script changed values of "
                               "columns {} left as they were ({}; {} rows before the down script, "
                               "{} now), and those values are the application's (it wrote to {} "
                               "since, so the table is not compared with its state before {})",
                               k.table, step.id, fmt::join(names, ", "), k.before.rows, now->rows,
                               k.table, step.id));
      }
      if (!s.ok() || cascaded_before.empty()) return s;
      STRATA_ASSIGN_OR_RETURN(std::vector<TableFingerprint> now, ExistingTablesData(*db_, cascaded));
      std::vector<std::string> changed;
      for (const TableFingerprint& t : cascaded_before) {
        auto same = std::find_if(now.begin(), now.end(), [&](const TableFingerprint& n) {
          return n.table == t.table && n.hash == t.hash;
        });
        if (same == now.end()) changed.push_back(t.table);
      }
      if (changed.empty()) return s;
      return Status(Code::kVerifyFailed,
                    fmt::format("the down script of {} changed rows of {}, which {} never touched, "
                                "through a foreign key action (ON DELETE or ON UPDATE CASCADE, SET "
                                "NULL, SET DEFAULT) of the rows it deletes or updates: those rows "
                                "are the application's, and would be lost. Save them (or take a "
                                "snapshot), then pass --discard-later-writes, or change the down "
                                "script",
                                step.id, fmt::join(changed, ", "), step.id));
    };
    Status s;
    if (Interrupt::Requested()) return interrupted_before(step);
    if (directives[i].no_transaction) {
      STRATA_RETURN_IF_ERROR(run.Flush());
      // As a no-transaction up: in progress until it is done, so a rollback
      // that stops part-way (a failed statement or check, a kill) shows.
      STRATA_RETURN_IF_ERROR(run.history().MarkInProgress(step.version));
      s = read_since();
      if (s.ok()) s = copy_untouched();
      if (s.ok()) s = ResetSessionAfter(*db_, changes_session, run.Exec(scripts[i], where));
      s = NameLockHolders(*db_, std::move(s), TablesNamed(down_infos));
      if (s.ok()) {
        s = run.Exec(restores[i], restore_where);
        // As in the transaction below.
        if (!s.ok() && !Interrupt::Requested()) s = Status(Code::kVerifyFailed, s.message());
      }
      if (s.ok()) s = check();
      if (s.ok()) s = run.history().Remove(step.version);
      if (!s.ok()) {
        run.SchemaIsAfter(std::nullopt);  // part of it is undone
        run.history()
            .RecordError(step.version, fmt::format("rollback at {} failed: {}", NowUtc(), s.message()))
            .IgnoreError();
        const bool checked = s.code() == Code::kVerifyFailed;
        s = Status(Code::kInProgress,
                   fmt::format("rollback of {} {}; its down script runs without a transaction, "
                               "so what it did stays done and history marks it in progress; "
                               "check the database, then run `strata resolve {} --rolled-back` "
                               "once the rollback is finished by hand, or `--applied` once what "
                               "it undid is put back{}",
                               step.id,
                               checked ? "did not restore the state before it" : "failed at " + s.message(),
                               step.version, checked ? ":\n" + s.message() : ""));
      }
    } else {
      // With `defer`, the down script's statements that check rows (SET NOT
      // NULL, a foreign key or CHECK added) run after the captured data is
      // back, not before it.
      auto make_undo = [&](bool defer) {
      Step undo;
      // SQLite: an AUTOINCREMENT counter does not go back below where it
      // stood before the rollback (a down script's table rebuild sets it to
      // the largest id it copies, and ids the application used and deleted
      // since would be handed out again).
      bool counters = false;
      if (db_->engine() == Engine::kSqlite) {
        auto found = db_->Query("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'");
        counters = found.ok() && !found->empty();
      }
      const std::string keeping = "keeping AUTOINCREMENT counters from going back";
      if (counters) {
        undo.Add({"CREATE TEMP TABLE strata_counters AS SELECT name, seq FROM sqlite_sequence", {}}, keeping);
      }
      std::vector<const sql::Statement*> checking;
      for (const auto& st : scripts[i]) {
        if (defer && ChecksRows(st.text, dialect)) {
          checking.push_back(&st);
          continue;
        }
        undo.Add({st.text, {}}, fmt::format("{}:{}", where, st.line));
      }
      // Captured data that cannot go back means the down script did not
      // rebuild what the up script removed: the rollback fails verification.
      for (const auto& st : restores[i]) undo.Add({st.text, {}}, restore_where, Code::kVerifyFailed);
      for (const sql::Statement* st : checking) undo.Add({st->text, {}}, fmt::format("{}:{}", where, st->line));
      if (counters) {
        undo.Add({"UPDATE sqlite_sequence SET seq = c.seq FROM temp.strata_counters AS c "
                  "WHERE c.name = sqlite_sequence.name AND c.seq > sqlite_sequence.seq",
                  {}},
                 keeping);
        undo.Add({"DROP TABLE temp.strata_counters", {}}, keeping);
      }
      // Before Strata's own statements and the check, which run in the step.
      if (changes_session) {
        for (const auto& sql : db_->ResetSessionSql()) undo.Add({sql, {}}, "putting the session's settings back");
      }
      undo.Add(run.history().RemoveStatement(step.version), "removing it from strata_history");
      return undo;
      };
      Step undo = make_undo(false);
      // First in the step: the tables the refusals read and the down script
      // acts on are kept from other writers until it commits, then the
      // refusals run. Only the tables whose rollback is refused when written
      // to are read at first (`guarded_only`): the others' rows cannot be
      // held to what they were, which a failed check shows.
      std::vector<std::string> quoted, tables;
      for (const auto& [schema, table] : TablesGuardedOnRollback(checks, up_infos, down_infos)) {
        quoted.push_back(QuotedTable(*db_, schema, table));
        tables.push_back(table);
      }
      for (const std::string& t : cascaded) {
        quoted.push_back(db_->QuoteIdent(t));
        tables.push_back(t);
      }
      bool guarded_only = true;
      std::optional<Status> refused;
      auto before = [&]() -> Status {
        STRATA_RETURN_IF_ERROR(db_->LockAgainstWrites(quoted));
        // Their reads may fail (a table renamed later in the migration),
        // which they pass over; the transaction must go on all the same.
        db_->KeepTransactionOnReadErrors(true);
        Status r;
        if (auto read = WrittenSince(*db_, targets[i].checks, guarded_only, held_whole); !read.ok()) {
          r = read.status();
        } else {
          written = std::move(read).value();
          r = refusal(i, written, checks, up_infos, down_infos);
          if (!r.ok()) refused = r;
        }
        if (r.ok()) r = read_since();
        kept.clear();
        for (size_t w = 0; r.ok() && !options.discard_later_writes && w < written.size(); ++w) {
          std::optional<KeptColumns> k = KeptColumnsOf(written[w], checks, up_infos, down_infos, dialect);
          if (!k) continue;
          r = db_->LockAgainstWrites({db_->QuoteIdent(written[w])});
          if (!r.ok()) break;
          auto read = ReadKept(*db_, *k, /*after_down=*/false);
          if (!read.ok() || !*read) continue;  // a name the migration changed later: not compared
          k->before = std::move(**read);
          kept.push_back(std::move(*k));
        }
        if (r.ok()) r = copy_untouched();
        if (r.ok()) dangling_before = DanglingReferences(*db_, tables_of_checks);
        if (r.ok() && !cascaded.empty()) {
          auto data = ExistingTablesData(*db_, cascaded);
          if (data.ok()) {
            cascaded_before = std::move(data).value();
          } else {
            r = data.status();
          }
        }
        db_->KeepTransactionOnReadErrors(false);
        if (r.ok() && drifted) {
          auto model = SchemaModel::Read(*db_);
          if (!model.ok()) return model.status();
          objects_before = HandMadeCandidates(*model);
        }
        return r;
      };
      const bool wait_for_disk = i + 1 == targets.size();
      s = run.Atomic(undo, check, wait_for_disk, before);
      if (s.code() == Code::kVerifyFailed && !refused) {
        // Undone. Tables the application wrote to since cannot come back as
        // they were: learnt now (a read of each), they are left out of the
        // check, which runs once more when there are any.
        STRATA_ASSIGN_OR_RETURN(std::vector<std::string> all_written,
                                WrittenSince(*db_, targets[i].checks, /*guarded_only=*/false));
        if (all_written.size() > written.size()) {
          guarded_only = false;
          s = run.Atomic(undo, check, wait_for_disk, before);
        }
      }
      // A statement of the down script that checks rows failed (SET NOT
      // NULL, a foreign key to a table it made again): the rows it needs are
      // in the captures, put back after it. Once more, with it after them.
      if (!s.ok() && !refused && !restores[i].empty() &&
          std::any_of(scripts[i].begin(), scripts[i].end(),
                      [&](const sql::Statement& st) { return ChecksRows(st.text, dialect); }) &&
          (s.message().find("(SQLSTATE 23502)") != std::string::npos ||
           s.message().find("(SQLSTATE 23503)") != std::string::npos ||
           s.message().find("(SQLSTATE 23514)") != std::string::npos)) {
        Status deferred = run.Atomic(make_undo(true), check, wait_for_disk, before);
        if (deferred.ok() || refused) s = deferred;
      }
      if (refused) return fail_refused(*refused);
      s = NameLockHolders(*db_, std::move(s), tables);
      if (!s.ok() && s.code() != Code::kInternal && s.code() != Code::kVerifyFailed) {
        // A dropped NOT NULL column added back NOT NULL: its values come
        // back only after the down script. (Not another column's NULLs.)
        bool not_null = false;
        if (!restores[i].empty() && s.message().find("(SQLSTATE 23502)") != std::string::npos) {
          const size_t open = s.message().find("column \"");
          const size_t close = open == std::string::npos ? open : s.message().find('"', open + 8);
          const std::string column = close == std::string::npos ? "" : s.message().substr(open + 8, close - open - 8);
          for (const sql::StatementInfo& info : up_infos_of(i)) {
            if (info.kind != sql::StatementKind::kDropColumn) continue;
            not_null = not_null || std::find(info.columns.begin(), info.columns.end(), column) != info.columns.end();
          }
        }
        // Stopped by a signal, or by a lock another session held, the down
        // script is not at fault.
        const bool lock_wait = s.message().find("(SQLSTATE 55P03)") != std::string::npos;
        const std::string fix_it =
            Interrupt::Requested() || lock_wait || options.rehearsal
                ? ""
                : fmt::format(" (The down script that ran is the one stored when it was "
                              "applied: to run a fixed down file instead, store it with "
                              "`strata resolve {} --accept-file`.)",
                              step.version);
        s = Status(Code::kDatabase,
                   fmt::format("rollback of {} {} {}; it was undone {}{}.{}",
                               step.id, lock_wait ? "waited too long for a lock:" : "failed at",
                               s.message(),
                               options.rehearsal ? "in the rehearsal's sandbox: fix the down file and rehearse again"
                                                 : fmt::format("and {} is still applied", step.id),
                               not_null ? "; the values of a column its migration dropped come "
                                          "back after the down script has run, so it adds the "
                                          "column without NOT NULL: Strata sets NOT NULL again "
                                          "once they are back"
                                        : "",
                               fix_it));
      }
    }
    s = ResetSessionAfter(*db_, changes_session, std::move(s));
    // Putting the captured data back needs what the role may lack (pausing
    // a table's triggers is its owner's): not the down script's fault.
    if (s.code() == Code::kVerifyFailed && std::string_view(s.message()).starts_with(restore_where) &&
        s.message().find("(SQLSTATE 42501)") != std::string::npos) {
      s = Status(Code::kDatabase,
                 fmt::format("rollback of {} failed at {}; it was undone and {} is still applied. "
                             "The role Strata connects as lacks a privilege that putting the "
                             "captured data back needs (pausing a table's triggers around it is "
                             "the table owner's): roll back as the owner or a superuser",
                             step.id, s.message(), step.id));
    }
    if (s.code() == Code::kVerifyFailed) {
      std::string note = fmt::format("rollback at {} failed verification: {}", NowUtc(), s.message());
      run.history().RecordError(step.version, note).IgnoreError();
      // Where it failed: in putting back the captured data (the down
      // script did not rebuild what it goes into, or the restore itself
      // failed), or in the check after it all.
      const bool restoring = std::string_view(s.message()).starts_with(restore_where);
      // Undone, the schema is as the rollback found it: if that already
      // differed from what the migration left, a change made outside
      // Strata since (an index made by hand) is in the difference.
      bool outside = false;
      if (!restoring && !targets[i].schema_after.empty()) {
        auto live = SchemaModel::Read(*db_);
        outside = live.ok() &&
                  DiffersFromRecorded(*live, targets[i].schema_after, targets[i].checks);
      }
      // SET NOT NULL again, after a dropped column's values went back: rows
      // written since have none.
      const bool null_since = restoring && s.message().find("(SQLSTATE 23502)") != std::string::npos;
      // A captured value whose key a row written since holds now.
      const bool key_taken_since = restoring && (s.message().find("(SQLSTATE 23505)") != std::string::npos ||
                                                 s.message().find("UNIQUE constraint failed") != std::string::npos);
      // (A check that found the down script would lose the application's
      // writes says all itself: nothing needs fixing by hand.)
      // How a fixed down file gets to run.
      const std::string retry =
          options.rehearsal ? std::string("rehearse again")
                            : fmt::format("store it with `strata resolve {} --accept-file` and roll back again",
                                          step.version);
      if (!would_lose_writes) {
        s = Status(Code::kVerifyFailed,
                   fmt::format("rollback of {} did not restore the state before it, so it was "
                               "undone{}. {}.\n{}",
                               step.id,
                               options.rehearsal ? " (in the rehearsal's sandbox)"
                                                 : fmt::format("; {} is still applied and history records "
                                                               "the failure",
                                                               step.id),
                               null_since
                                   ? fmt::format("Rows written since {} was applied have no value in a "
                                                 "column it dropped, which was NOT NULL before it (the "
                                                 "error below names it): give them a value or delete "
                                                 "them, then roll back again; or make the down script "
                                                 "give them one as it adds the column back (ADD COLUMN "
                                                 "... DEFAULT ...)",
                                                 step.id)
                               : key_taken_since
                                   ? options.rehearsal
                                         ? fmt::format("A value captured when {} was applied could not "
                                                       "be put back: a row the down script wrote holds "
                                                       "it under a unique key (the error below names the "
                                                       "key). Fix the down file and rehearse again",
                                                       step.id)
                                         : fmt::format("A value captured when {} was applied could not "
                                                       "be put back: another row holds it now under a "
                                                       "unique key (the error below names the key), a "
                                                       "row written since or one the down script wrote. "
                                                       "Change or delete a row written since and roll "
                                                       "back again, or fix the down file and {}",
                                                       step.id, retry)
                               : restoring ? fmt::format(
                                                 "The data captured at apply time could not be put "
                                                 "back (the down script must first rebuild the "
                                                 "columns and tables the up script removed; the "
                                                 "error below says why). Fix the down file and {}",
                                                 retry)
                               : outside
                                   ? fmt::format(
                                         "Before the rollback ran, the schema already differed "
                                         "from what {} left (`strata status` calls it drift): a "
                                         "change made outside Strata since, such as an index "
                                         "created by hand, is part of the difference below; undo "
                                         "it (or make it a migration of its own) and roll back "
                                         "again",
                                         step.id)
                                   : up_infos_of(i).empty()
                                   ? fmt::format(
                                         "Its up script ran no statements, so rolling it back "
                                         "alone must change nothing, and its down script changed "
                                         "the schema (the difference is below). A change split "
                                         "over several versions (one statement each, as in ory's "
                                         "fizz migrations) rolls back with one down script: put "
                                         "the pieces in the down file of the version whose up "
                                         "script made the change, empty this one's and {}",
                                         options.rehearsal ? retry : fmt::format(
                                             "store them with `strata resolve {} --accept-file` and "
                                             "roll back again", step.version))
                                   : fmt::format(
                                         "The down script {}did not put it back (the difference "
                                         "is below), or a trigger that the rollback's statements "
                                         "fired changed a table. Fix the down file and {}",
                                         options.rehearsal ? "" : "stored at apply time ", retry),
                               s.message()));
      }
    }
    if (!s.ok()) return run.Fail(step.version, step.id, start, s);
    // A column put back comes last. When that is all that differs from what
    // the next newest row recorded, it records the schema as it now is.
    if (reordered && i + 1 < applied.size() &&
        applied[i + 1].schema_after == reordered->hash_before) {
      STRATA_RETURN_IF_ERROR(run.history().SetSchemaAfter(applied[i + 1].version, reordered->hash));
      applied[i + 1].schema_after = reordered->hash;
      targets[i].schema_before = reordered->hash;
    }
    // In order, the schema is back to what the next newest row left.
    bool in_order = i + 1 < applied.size() && !targets[i].schema_before.empty() &&
                    applied[i + 1].schema_after == targets[i].schema_before;
    if (!in_order && i + 1 < applied.size() && !applied[i + 1].schema_after.empty()) {
      // Rolled back out of the order they were applied in (one applied with
      // --allow-out-of-order): no row records the schema as the verified
      // rollback left it. The next newest row takes it, so that status does
      // not report Strata's own rollback as drift.
      STRATA_ASSIGN_OR_RETURN(SchemaModel now, SchemaModel::Read(*db_));
      STRATA_RETURN_IF_ERROR(run.history().SetSchemaAfter(applied[i + 1].version, now.hash()));
      applied[i + 1].schema_after = now.hash();
      in_order = true;
    }
    // (Not when the schema differed before from what the newest row
    // recorded, or that is not known: a rollback leaves a change made
    // outside it as it was, and status must still see it.)
    run.SchemaIsAfter(in_order && schema_was_recorded ? std::optional<int64_t>(applied[i + 1].version)
                                                      : std::nullopt);
    ++report.completed;
    Emit(on_event, Event::Kind::kRolledBack, step.version, step.id, MillisSince(start));
  }
  STRATA_RETURN_IF_ERROR(SetTimeouts(*db_, {}));
  STRATA_RETURN_IF_ERROR(run.FlushAtEnd("rolled back"));
  return report;
}

Result<std::pair<Engine, std::string>> Migrator::FilesEngine() {
  STRATA_RETURN_IF_ERROR(Loaded());
  std::map<std::string, int> pg, sqlite;  // what was seen, how often
  for (auto& m : *migrations_) {
    STRATA_RETURN_IF_ERROR(ReadUpScript(m));
    auto tokens = sql::Tokenize(m.up_sql, sql::Dialect::kPostgres);
    if (!tokens.ok()) continue;
    const auto& t = *tokens;
    auto word = [&](size_t i, std::string_view w) { return i < t.size() && t[i].IsWord(w); };
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i].kind == sql::TokenKind::kOperator && t[i].text == "::") ++pg["::"];
      if (t[i].kind == sql::TokenKind::kString && t[i].text.starts_with("$")) ++pg["$$"];
      for (const char* w : {"serial", "bigserial", "jsonb", "timestamptz", "concurrently"}) {
        if (word(i, w)) ++pg[AsciiUpper(w)];
      }
      if ((word(i, "add") || word(i, "drop") || word(i, "rename")) && word(i + 1, "constraint")) {
        ++pg[AsciiUpper(t[i].text) + " CONSTRAINT"];
      }
      if (word(i, "alter") && word(i + 1, "column")) ++pg["ALTER COLUMN"];
      if (word(i, "create") || word(i, "alter")) {
        for (const char* w : {"type", "extension", "schema", "sequence", "function", "procedure", "policy",
                              "role", "domain", "materialized"}) {
          if (word(i + 1, w)) ++pg[AsciiUpper(t[i].text) + " " + AsciiUpper(w)];
        }
      }
      if (word(i, "row") && word(i + 1, "level") && word(i + 2, "security")) ++pg["ROW LEVEL SECURITY"];
      if (word(i, "comment") && word(i + 1, "on")) ++pg["COMMENT ON"];
      if ((i == 0 || t[i - 1].IsPunct(';')) && (word(i, "grant") || word(i, "revoke"))) {
        ++pg[AsciiUpper(t[i].text)];
      }
      if (word(i, "generated") && word(i + 2, "as") && word(i + 3, "identity")) ++pg["AS IDENTITY"];
      if (word(i, "with") && word(i + 1, "time") && word(i + 2, "zone")) ++pg["WITH TIME ZONE"];
      if (word(i, "execute") && (word(i + 1, "function") || word(i + 1, "procedure"))) {
        ++pg["EXECUTE FUNCTION"];
      }
      for (const char* w : {"autoincrement", "pragma"}) {
        if (word(i, w)) ++sqlite[AsciiUpper(w)];
      }
      if (word(i, "without") && word(i + 1, "rowid")) ++sqlite["WITHOUT ROWID"];
      if (word(i, "virtual") && word(i + 1, "table")) ++sqlite["VIRTUAL TABLE"];
      // A trigger's own BEGIN .. END body (PostgreSQL's run a function).
      if (word(i, "trigger")) {
        for (size_t k = i + 1; k < t.size() && !t[k].IsPunct(';'); ++k) {
          if (word(k, "execute")) break;
          if (word(k, "begin")) {
            ++sqlite["a trigger's BEGIN .. END body"];
            break;
          }
        }
      }
    }
  }
  auto total = [](const std::map<std::string, int>& seen) {
    int n = 0;
    for (const auto& [what, count] : seen) n += count;
    return n;
  };
  auto named = [](const std::map<std::string, int>& seen) {
    std::vector<std::pair<int, std::string>> most;
    for (const auto& [what, count] : seen) most.emplace_back(-count, what);
    std::sort(most.begin(), most.end());
    std::vector<std::string> out;
    for (size_t i = 0; i < most.size() && i < 4; ++i) out.push_back(most[i].second);
    return fmt::format("{}", fmt::join(out, ", "));
  };
  if (total(pg) > total(sqlite)) return std::make_pair(Engine::kPostgres, "they use " + named(pg));
  if (!sqlite.empty()) return std::make_pair(Engine::kSqlite, "they use " + named(sqlite));
  return std::make_pair(Engine::kSqlite, std::string("nothing in them is PostgreSQL's alone"));
}

Result<std::vector<Finding>> Migrator::Validate(bool allow_irreversible, std::optional<Engine> files_engine) {
  STRATA_RETURN_IF_ERROR(Loaded());
  std::vector<Finding> findings;
  Engine engine = files_engine.value_or(Engine::kSqlite);
  if (db_) engine = db_->engine();
  std::map<int64_t, MigrationState> state_of;
  if (db_) {
    STRATA_ASSIGN_OR_RETURN(StatusReport status, ReadStatus(/*check_drift=*/false));
    for (const auto& s : status.migrations) {
      state_of[s.version] = s.state;
      switch (s.state) {
        case MigrationState::kChanged:
          findings.push_back({Code::kConflict,
                              fmt::format("{}: changed after it was applied (checksum differs):\n{}",
                                          s.id, s.diff)});
          break;
        case MigrationState::kInProgress:
          findings.push_back({Code::kInProgress,
                              fmt::format("{}: left in progress by an interrupted no-transaction "
                                          "run; settle it with `strata resolve {}`",
                                          s.id, s.version)});
          break;
        case MigrationState::kMissingFile:
          // As `status`: history and files disagree (exit 7).
          findings.push_back({Code::kConflict,
                              fmt::format("{}: applied, but its file is gone (its down script is "
                                          "kept in history, so it can still be rolled back)",
                                          s.id)});
          break;
        case MigrationState::kApplied:
          if (!s.file_id.empty()) {
            findings.push_back({Code::kOk, fmt::format("{}: applied under this name, its file is "
                                                       "now named {} (same version and checksum)",
                                                       s.id, s.file_id)});
          }
          break;
        case MigrationState::kOutOfOrder:
          findings.push_back({Code::kOk, fmt::format("{}: pending, but a later version is "
                                                     "already applied (out of order)",
                                                     s.id)});
          break;
        default: break;
      }
    }
  }
  STRATA_ASSIGN_OR_RETURN(const Placeholders placeholders,
                          PlaceholderValues(*migrations_, db_.get(), options_.placeholders));
  // No managed schema: nothing can be applied, which `up` says.
  const Result<std::string> managed =
      db_ ? db_->ManagedSchema() : Result<std::string>(Status(Code::kNotFound, "no database"));
  // The down scripts stored at apply time, which `down` runs, not the files.
  std::map<int64_t, AppliedMigration> stored;
  if (db_ && !state_of.empty()) {
    STRATA_ASSIGN_OR_RETURN(std::vector<AppliedMigration> rows, History(*db_).List(true));
    for (auto& row : rows) stored.emplace(row.version, std::move(row));
  }
  for (auto& m : *migrations_) {
    auto p = Prepare(m, DialectOf(engine), placeholders);
    // Without a database the engine is not known: a file that reads as
    // PostgreSQL (dollar-quoted bodies, nested comments) is fine.
    if (!p.ok() && !db_) {
      auto as_pg = Prepare(m, sql::Dialect::kPostgres, placeholders);
      if (as_pg.ok()) p = std::move(as_pg);
    }
    if (!p.ok()) {
      findings.push_back({p.status().code(), p.status().message()});
      continue;
    }
    bool pending = !state_of.count(m.version) || state_of[m.version] == MigrationState::kPending ||
                   state_of[m.version] == MigrationState::kOutOfOrder;
    if (p->down_source == "none" && pending) {
      findings.push_back({allow_irreversible ? Code::kOk : Code::kIrreversible, p->irreversible});
    }
    auto row = stored.find(m.version);
    // A baselined migration was never applied here: nothing was stored.
    if (!pending && row != stored.end() && row->second.state == AppliedState::kApplied &&
        row->second.down_source != "baseline") {
      if (auto change = DownFileChange(*p, row->second)) {
        findings.push_back(
            {Code::kOk,
             fmt::format("{}: its down file differs from the down script stored when it was "
                         "applied, which `down` runs; to roll back with the file instead, run "
                         "`strata resolve {} --accept-file`:\n{}",
                         m.id(), m.version, *change)});
      }
    }
    if (pending && p->down_source == "file") {
      if (auto lost = DroppedColumnsNotAddedBack(m, *p, DialectOf(engine))) {
        findings.push_back({Code::kOk, *lost});
      } else if (auto cannot = DownThatCannotPass(m, *p, DialectOf(engine))) {
        findings.push_back({Code::kOk, *cannot});
      }
    }
    if (managed.ok() && pending) {
      if (auto outside = OutsideManagedSchema(m, *p, *managed, DialectOf(db_->engine()))) {
        findings.push_back({allow_irreversible ? Code::kOk : Code::kIrreversible, *outside});
      }
    }
    if (pending && p->down_source != "none") {
      if (auto never = NeverCapturableIn(m, *p)) {
        findings.push_back({allow_irreversible ? Code::kOk : Code::kIrreversible, *never});
      }
    }
  }
  return findings;
}

namespace {

/// Where the database disagrees with settling `row` as applied (or rolled
/// back): an index left invalid, or a table, column or index the up script
/// creates that is missing (or still there). One line per problem.
Result<std::vector<std::string>> ResolveProblems(Database& db, const AppliedMigration& row,
                                                 bool applied) {
  const sql::Dialect dialect = DialectOf(db.engine());
  std::vector<std::string> problems;
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> invalid, db.ListInvalidIndexes());
  for (const std::string& index : invalid) {
    problems.push_back(fmt::format(
        "index {0} is INVALID, as an interrupted CREATE INDEX CONCURRENTLY leaves it (the "
        "database maintains it but does not use it): rebuild it with REINDEX INDEX CONCURRENTLY "
        "{0} to keep the migration, or drop it with DROP INDEX CONCURRENTLY {0} to forget it",
        sql::IdentifierSql(index, dialect)));
  }
  STRATA_ASSIGN_OR_RETURN(auto statements, Split(row.up_script, row.id() + " as applied", dialect));
  std::vector<sql::StatementInfo> infos;
  std::set<std::string> gone;  // names a later statement drops or renames: not checked
  for (const auto& st : statements) {
    sql::StatementInfo& info = infos.emplace_back(sql::Classify(st.text, dialect));
    for (const auto& o : info.objects) gone.insert(sql::NameKey(o.name, dialect));
    if (info.kind == sql::StatementKind::kRenameTable) gone.insert(sql::NameKey(info.object, dialect));
  }
  STRATA_ASSIGN_OR_RETURN(SchemaModel model, SchemaModel::Read(db));
  using K = sql::StatementKind;
  for (const auto& info : infos) {
    // Other schemas and temporary objects are not in the model.
    if (!info.schema.empty() || info.temporary || info.object.empty() ||
        gone.count(sql::NameKey(info.object, dialect))) {
      continue;
    }
    std::vector<std::pair<std::string, bool>> found;  // (what, exists)
    if (info.kind == K::kCreateTable) {
      found.emplace_back("table " + info.object, model.HasTable(info.object));
    } else if (info.kind == K::kCreateIndex) {
      found.emplace_back("index " + info.object, !model.TableOf("index", info.object).empty());
    } else if (info.kind == K::kAddColumn && model.HasTable(info.table)) {
      STRATA_ASSIGN_OR_RETURN(std::vector<std::string> columns, db.ListColumns(info.table));
      std::set<std::string> have;
      for (const auto& c : columns) have.insert(sql::NameKey(c, dialect));
      for (const auto& c : info.columns) {
        found.emplace_back("column " + info.table + "." + c, have.count(sql::NameKey(c, dialect)) > 0);
      }
    }
    for (const auto& [what, exists] : found) {
      if (exists != applied) problems.push_back(what + (applied ? " does not exist" : " still exists"));
    }
  }
  return problems;
}

}  // namespace

namespace {

/// The capture tables of migration `version` that its `restore` statements
/// drop when they are done (strata_capture_V_...), as named there.
std::vector<std::string> CaptureTablesIn(const std::vector<sql::Statement>& restore, int64_t version,
                                         sql::Dialect dialect) {
  const std::string prefix = CaptureTablePrefix(version);
  std::vector<std::string> out;
  for (const auto& st : restore) {
    sql::StatementInfo info = sql::Classify(st.text, dialect);
    if (info.kind == sql::StatementKind::kDropTable && info.table.rfind(prefix, 0) == 0) {
      out.push_back(std::move(info.table));
    }
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> Migrator::Resolve(int64_t version, bool applied, bool unchecked) {
  STRATA_RETURN_IF_ERROR(FileIsThere());
  if (!db_) return Status(Code::kInvalidArgument, "resolve needs a database (--database URL)");
  Run run(*this, nullptr);
  STRATA_RETURN_IF_ERROR(run.Lock());
  STRATA_ASSIGN_OR_RETURN(std::optional<AppliedMigration> row, run.history().Get(version));
  if (!row || row->state != AppliedState::kInProgress) {
    return Status(Code::kInvalidArgument,
                  fmt::format("migration {} is not in progress; nothing to resolve", version));
  }
  if (!unchecked) {
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> problems, ResolveProblems(*db_, *row, applied));
    if (!problems.empty()) {
      std::string msg = fmt::format(
          "migration {} cannot be marked {}: the database disagrees; history is unchanged:",
          row->id(), applied ? "applied" : "rolled back");
      for (const auto& p : problems) msg += "\n  " + p;
      msg += fmt::format("\nfix the database, or pass --force to mark it {} anyway",
                         applied ? "applied" : "rolled back");
      return Status(Code::kVerifyFailed, msg);
    }
  }
  std::vector<std::string> set_aside;
  Status s = InTransaction(*db_, [&]() -> Status {
    if (applied) {
      // The database as it is now is what the migration left: a rollback
      // compares what was written since with it, as for one that completed.
      STRATA_ASSIGN_OR_RETURN(SchemaModel model, SchemaModel::Read(*db_));
      KnownData known;
      STRATA_ASSIGN_OR_RETURN(std::string checks, WithDataAfter(*db_, row->checks, known, model));
      // Its file did not run to the end: what was finished by hand is on
      // record (`show`; `restore --to-version` does not apply it again).
      auto json = nlohmann::json::parse(checks, nullptr, /*allow_exceptions=*/false);
      if (!json.is_object()) json = nlohmann::json::object();
      json["resolved"] = {{"at", NowUtc()}, {"by", run.owner().actor}, {"error", row->error}};
      STRATA_RETURN_IF_ERROR(run.history().MarkApplied(version, row->duration_ms));
      return run.history().SetOutcomes({{version, row->duration_ms, "", model.hash(), JsonText(json)}});
    }
    // The rows the run saved before its destructive statements are kept,
    // under names of their own: they may be the only copy of what it
    // removed, and applying the migration again makes its captures anew.
    const sql::Dialect dialect = DialectOf(db_->engine());
    STRATA_ASSIGN_OR_RETURN(auto restore, Split(row->restore_script, row->id() + " (captured data)", dialect));
    const std::string prefix = CaptureTablePrefix(version);
    for (const std::string& table : CaptureTablesIn(restore, version, dialect)) {
      STRATA_ASSIGN_OR_RETURN(bool exists, db_->TableExists(table));
      if (!exists) continue;
      const std::string base = fmt::format("strata_resolved_{}_{}", version, table.substr(prefix.size()));
      std::string name = base;
      for (int n = 2;; ++n) {
        STRATA_ASSIGN_OR_RETURN(bool taken, db_->TableExists(name));
        if (!taken) break;
        name = fmt::format("{}_{}", base, n);
      }
      STRATA_RETURN_IF_ERROR(db_->Exec(fmt::format("ALTER TABLE {} RENAME TO {}", db_->QuoteIdent(table),
                                                   db_->QuoteIdent(name))));
      set_aside.push_back(name);
    }
    return run.history().Remove(version);
  });
  if (!s.ok()) return s;
  return set_aside;
}

namespace {

/// The tables other migration tools keep their history in, in the schema
/// they migrate: a database that dbmate, golang-migrate, Flyway, goose,
/// Atlas, Prisma, Liquibase, Alembic, knex, sqlx, diesel or drizzle built
/// has one, and the migrations it ran never create it.
constexpr std::string_view kOtherToolHistoryTables[] = {
    "schema_migrations",           // dbmate, golang-migrate, Rails, Ecto
    "ar_internal_metadata",        // Rails
    "flyway_schema_history",       // Flyway
    "goose_db_version",            // goose
    "atlas_schema_revisions",      // Atlas (on SQLite; on PostgreSQL in a schema of that name)
    "_prisma_migrations",          // Prisma
    "databasechangelog",           // Liquibase
    "databasechangeloglock",       // Liquibase
    "alembic_version",             // Alembic
    "knex_migrations",             // knex
    "knex_migrations_lock",        // knex
    "_sqlx_migrations",            // sqlx
    "__diesel_schema_migrations",  // diesel
    "__drizzle_migrations",        // drizzle (on SQLite; on PostgreSQL in schema drizzle)
};

/// The tables, views and sequences of schemas other than the managed one
/// and the server's own, as "schema.name" (PostgreSQL; none on SQLite).
Result<std::set<std::string>> RelationsElsewhere(Database& db) {
  std::set<std::string> out;
  if (db.engine() != Engine::kPostgres) return out;
  STRATA_ASSIGN_OR_RETURN(
      Rows rows, db.Query("SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                          "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') "
                          "AND n.nspname <> current_schema() AND n.nspname <> 'information_schema' "
                          "AND left(n.nspname, 3) <> 'pg_'"));
  for (const auto& row : rows.rows) out.insert(row[0].ToString() + "." + row[1].ToString());
  return out;
}

/// How `live`, the schema of the database, differs from what `migrations`
/// up to `version` create on an empty database of the same engine ("" when
/// equal; columns in any order). The migrations run in a sandbox beside
/// `url`'s database. Another tool's history table that `live` has and the
/// migrations do not create is left out of the comparison and named in
/// `left_out`. The tables, views and sequences they make in other schemas
/// (`live_db`'s) are compared by name.
Result<std::string> DiffFromReplay(Database& live_db, const SchemaModel& live_model, const MigratorOptions& options,
                                   int64_t version, std::vector<std::string>& left_out) {
  Result<std::unique_ptr<Sandbox>> made = CreateSandbox(options.database_url, SandboxContent::kEmpty);
  if (!made.ok()) {
    return made.status().WithContext(
        "making an empty database to apply the migrations to and compare with (pass --force "
        "to record them without that check)");
  }
  std::unique_ptr<Sandbox> sandbox = std::move(made).value();
  MigratorOptions replay;
  replay.database_url = sandbox->url();
  replay.migrations_dir = options.migrations_dir;
  replay.actor = options.actor;
  replay.create_database = true;
  replay.session_sql = sandbox->session_sql();
  replay.placeholders = options.placeholders;
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Migrator> migrator, Migrator::Open(replay));
  UpOptions up;
  up.to = version;
  up.allow_irreversible = true;  // the sandbox is thrown away
  Result<RunReport> ran = migrator->Up(up);
  if (!ran.ok()) {
    return ran.status().WithContext(fmt::format(
        "applying the migrations up to {} to an empty database ({}) to compare with",
        version, sandbox->Describe()));
  }
  STRATA_ASSIGN_OR_RETURN(SchemaModel replayed_model, SchemaModel::Read(*migrator->database()));
  for (std::string_view table : kOtherToolHistoryTables) {
    if (live_model.HasTable(table) && !replayed_model.HasTable(table)) left_out.emplace_back(table);
  }
  auto any_order = [](const std::map<std::string, std::string>& blocks) {
    SchemaFingerprint f;
    f.canonical_text = ColumnsInAnyOrder(SchemaModel::Render(blocks));
    f.hash = Sha256Hex(f.canonical_text);
    return f;
  };
  std::map<std::string, std::string> live_blocks = live_model.Blocks();
  // Its indexes and triggers go with it.
  for (const auto& [key, text] : live_model.Blocks(&left_out)) live_blocks.erase(key);
  SchemaFingerprint replayed = any_order(replayed_model.Blocks());
  SchemaFingerprint live = any_order(live_blocks);
  // What they make in other schemas (a Sqitch project's flipr.users) is
  // compared by name: the schema compared above would not show it missing.
  STRATA_ASSIGN_OR_RETURN(std::set<std::string> made_elsewhere, RelationsElsewhere(*migrator->database()));
  STRATA_ASSIGN_OR_RETURN(std::set<std::string> there, RelationsElsewhere(live_db));
  std::string diff = replayed == live ? std::string() : DiffSchemas(replayed, live);
  for (const std::string& r : made_elsewhere) {
    if (there.count(r)) continue;
    if (!diff.empty() && diff.back() != '\n') diff += '\n';
    diff += "- " + r + " (in another schema: the migrations make it, the database has none)";
  }
  return diff;
}

}  // namespace

Result<BaselineReport> Migrator::Baseline(int64_t version, bool unchecked) {
  STRATA_RETURN_IF_ERROR(FileIsThere());
  if (!db_) return Status(Code::kInvalidArgument, "baseline needs a database (--database URL)");
  STRATA_RETURN_IF_ERROR(Loaded());
  std::vector<Migration*> adopted;
  for (Migration& m : *migrations_) {
    if (m.version <= version) adopted.push_back(&m);
  }
  if (adopted.empty() || adopted.back()->version != version) {
    return Status(Code::kInvalidArgument,
                  fmt::format("no migration file has version {}; baseline takes the version of "
                              "the newest migration the database already holds",
                              version));
  }
  Run run(*this, nullptr);
  STRATA_RETURN_IF_ERROR(run.Lock());
  STRATA_RETURN_IF_ERROR(run.history().Ensure());
  STRATA_ASSIGN_OR_RETURN(std::vector<AppliedMigration> applied, run.history().List(false));
  if (!applied.empty()) {
    return Status(Code::kConflict,
                  fmt::format("history already lists {} migration{} (the newest {}); baseline "
                              "adopts a database Strata has not managed yet: nothing was recorded",
                              applied.size(), applied.size() == 1 ? "" : "s",
                              applied.back().id()));
  }
  BaselineReport report;
  // Read once: compared with the replay, and its hash recorded.
  STRATA_ASSIGN_OR_RETURN(SchemaModel live, SchemaModel::Read(*db_));
  if (!unchecked) {
    STRATA_ASSIGN_OR_RETURN(std::string diff,
                            DiffFromReplay(*db_, live, options_, version, report.left_out));
    if (!diff.empty()) {
      return Status(Code::kVerifyFailed,
                    fmt::format("the database's schema is not what the migrations up to {} "
                                "create (- what they create, + the database); nothing was "
                                "recorded:\n{}\npick the version the database matches, or pass "
                                "--force to record it anyway",
                                adopted.back()->id(), diff));
    }
  }
  std::vector<std::string>& ids = report.recorded;
  Status recorded = InTransaction(*db_, [&]() -> Status {
    for (Migration* m : adopted) {
      STRATA_RETURN_IF_ERROR(ReadUpScript(*m));
      AppliedMigration row = RowOf(*m, run.owner().actor);
      row.down_source = "baseline";  // never run here: no way back below it
      row.applied_at = NowUtc();
      row.irreversible = true;
      if (m == adopted.back()) {
        row.schema_after = live.hash();
        row.checks = JsonText(nlohmann::json{{"schema_after_any_order", live.any_order_hash()}});
      }
      STRATA_RETURN_IF_ERROR(run.history().Insert(row));
      ids.push_back(m->id());
    }
    return Status::OK();
  });
  STRATA_RETURN_IF_ERROR(recorded);
  run.SchemaIsAfter(version);
  STRATA_RETURN_IF_ERROR(run.Flush());
  return report;
}

Result<std::string> Migrator::AcceptChangedFile(int64_t version) {
  STRATA_RETURN_IF_ERROR(FileIsThere());
  if (!db_) return Status(Code::kInvalidArgument, "resolve needs a database (--database URL)");
  STRATA_RETURN_IF_ERROR(Loaded());
  auto file = std::find_if(migrations_->begin(), migrations_->end(),
                           [&](const Migration& m) { return m.version == version; });
  Run run(*this, nullptr);
  STRATA_RETURN_IF_ERROR(run.Lock());
  STRATA_ASSIGN_OR_RETURN(std::optional<AppliedMigration> row, run.history().Get(version));
  if (!row || row->state != AppliedState::kApplied) {
    return Status(Code::kInvalidArgument,
                  fmt::format("migration {} is not applied; there is no applied file to accept",
                              version));
  }
  if (file == migrations_->end()) {
    return Status(Code::kInvalidArgument,
                  fmt::format("migration {} has no file in {}: there is nothing to accept; put "
                              "the file back",
                              row->id(), options_.migrations_dir));
  }
  STRATA_ASSIGN_OR_RETURN(const Placeholders placeholders,
                          PlaceholderValues(*migrations_, db_.get(), options_.placeholders));
  // As `up` would store it now; a down file that no longer parses is refused here.
  STRATA_ASSIGN_OR_RETURN(Prepared p, Prepare(*file, DialectOf(db_->engine()), placeholders));
  const bool up_changed = file->checksum != row->checksum;
  // A down file written or fixed since replaces the stored script.
  const std::optional<std::string> down_change = DownFileChange(p, *row);
  const bool down_changed = down_change.has_value();
  if (!up_changed && !down_changed) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{} is unchanged since it was applied (its up file, and its down "
                              "file against the stored down script); nothing to accept",
                              row->id()));
  }
  std::string diff;
  if (up_changed) {
    diff += "up file:\n" + LineDiff(NormalizeScript(row->up_script), NormalizeScript(file->up_sql));
  }
  if (down_changed) {
    diff += "down script (stored " + row->down_source + ", now the file's):\n" + *down_change;
  }
  STRATA_RETURN_IF_ERROR(InTransaction(*db_, [&]() -> Status {
    if (up_changed) {
      STRATA_RETURN_IF_ERROR(
          db_->Query("UPDATE strata_history SET checksum = $1, up_script = $2 WHERE version = $3",
                     {file->checksum, file->up_sql, version})
              .status());
    }
    if (!down_changed) return Status::OK();
    // Applied without a down script (--allow-irreversible) but with every
    // change captured: the file's script is its way back now, as `down` sees.
    const bool way_back = UncapturedChanges(*row).empty();
    return db_->Query("UPDATE strata_history SET down_script = $1, down_source = 'file'" +
                          std::string(way_back ? ", irreversible = 0" : "") + " WHERE version = $2",
                      {p.down_script, version})
        .status();
  }));
  return diff;
}

Result<std::vector<std::string>> Migrator::DataUnlikeBefore(const std::string& checks_json) {
  return DataUnlike(checks_json, /*after=*/false);
}

Result<std::vector<std::string>> Migrator::DataUnlikeAfter(const std::string& checks_json) {
  return DataUnlike(checks_json, /*after=*/true);
}

Result<std::map<std::string, std::string>> Migrator::DataHashes() {
  if (!db_) return Status(Code::kInvalidArgument, "needs a database (--database URL)");
  STRATA_ASSIGN_OR_RETURN(DataFingerprint data, FingerprintData(*db_));
  std::map<std::string, std::string> out;
  for (const TableFingerprint& t : data.tables) out[t.table] = fmt::format("{} rows {}", t.rows, t.hash);
  return out;
}

std::vector<std::string> Migrator::TablesTouched(const std::string& checks_json) {
  std::vector<std::string> out;
  auto checks = nlohmann::json::parse(checks_json, nullptr, /*allow_exceptions=*/false);
  if (!checks.is_object() || !checks.contains("data")) return out;
  for (const auto& [key, facts] : checks["data"].items()) out.push_back(key);
  return out;
}

Result<std::vector<std::string>> Migrator::DataUnlike(const std::string& checks_json, bool after) {
  if (!db_) return Status(Code::kInvalidArgument, "needs a database (--database URL)");
  std::vector<std::string> out;
  auto checks = nlohmann::json::parse(checks_json, nullptr, /*allow_exceptions=*/false);
  if (!checks.is_object() || !checks.contains("data")) return out;
  for (const auto& [key, facts] : checks["data"].items()) {
    if (!facts.is_object()) continue;
    if (after) {  // the tables whose rows it recorded as it left them
      if (!facts.contains("after")) continue;
      STRATA_ASSIGN_OR_RETURN(std::optional<TableFingerprint> now, DataAsRecordedAfter(*db_, key, facts));
      if (!now || now->hash != facts["after"].get<std::string>()) out.push_back(ReadAs(key, facts));
      continue;
    }
    // The tables that existed before it.
    if (!facts.contains("hash") || facts.value("created", false)) continue;
    const std::string table = NameAt(key, facts);
    STRATA_ASSIGN_OR_RETURN(std::vector<TableFingerprint> now, ExistingTablesData(*db_, {table}));
    if (now.empty() || now.front().hash != facts["hash"].get<std::string>()) out.push_back(table);
  }
  return out;
}

Result<bool> Migrator::HoldsDataToRelease(const AppliedMigration& a) {
  // One that captured nothing has nothing to release; nor has one whose
  // captures hold no row (a DROP of an empty table): finalized, its
  // rollback would be refused for data it never held.
  if (!a.finalized_at.empty() || a.state != AppliedState::kApplied || !CapturedData(a.checks)) return false;
  const sql::Dialect dialect = DialectOf(db_->engine());
  STRATA_ASSIGN_OR_RETURN(auto restore, Split(a.restore_script, a.id() + " (captured data)", dialect));
  const std::string prefix = CaptureTablePrefix(a.version);
  for (const std::string& table : CaptureTablesIn(restore, a.version, dialect)) {
    // The captures themselves (strata_capture_V_N), not the copies and key
    // counters kept beside them.
    const std::string n = table.substr(prefix.size());
    if (n.empty() || !std::all_of(n.begin(), n.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      continue;
    }
    STRATA_ASSIGN_OR_RETURN(bool exists, db_->TableExists(table));
    if (!exists) continue;
    STRATA_ASSIGN_OR_RETURN(Rows rows, db_->Query(fmt::format("SELECT 1 FROM {} LIMIT 1", db_->QuoteIdent(table))));
    if (!rows.empty()) return true;
  }
  return false;
}

Status Migrator::FinalizeOne(const AppliedMigration& a) {
  STRATA_ASSIGN_OR_RETURN(auto restore, Split(a.restore_script, a.id() + " (captured data)",
                                              DialectOf(db_->engine())));
  Status s = InTransaction(*db_, [&]() -> Status {
    for (const auto& st : restore) {
      // The capture tables are dropped; the statements that would have
      // used them go with them.
      if (st.text.rfind("DROP TABLE ", 0) == 0) STRATA_RETURN_IF_ERROR(db_->Exec(st.text));
    }
    return db_->Query("UPDATE strata_history SET restore_script = '', finalized_at = $1 "
                      "WHERE version = $2",
                      {NowUtc(), a.version})
        .status();
  });
  return s.ok() ? s : s.WithContext("finalizing " + a.id());
}

Result<std::vector<std::string>> Migrator::Finalize(int64_t version) {
  STRATA_RETURN_IF_ERROR(FileIsThere());
  if (!db_) return Status(Code::kInvalidArgument, "finalize needs a database (--database URL)");
  Run run(*this, nullptr);
  STRATA_RETURN_IF_ERROR(run.Lock());
  STRATA_ASSIGN_OR_RETURN(std::vector<AppliedMigration> applied, run.history().List(true));
  std::vector<std::string> done;
  for (const auto& a : applied) {
    if (a.version > version) continue;
    STRATA_ASSIGN_OR_RETURN(bool holds, HoldsDataToRelease(a));
    if (!holds) continue;
    STRATA_RETURN_IF_ERROR(FinalizeOne(a));
    done.push_back(a.id());
  }
  return done;
}

Result<std::vector<std::string>> Migrator::FinalizeExpired(History& history) {
  std::vector<std::string> done;
  if (!options_.finalize_after) return done;
  const std::string cutoff = FormatUtc(
      std::chrono::system_clock::now() -
      std::chrono::duration_cast<std::chrono::system_clock::duration>(*options_.finalize_after));
  STRATA_ASSIGN_OR_RETURN(std::vector<AppliedMigration> applied, history.List(true));
  for (const auto& a : applied) {
    if (a.applied_at > cutoff) continue;
    STRATA_ASSIGN_OR_RETURN(bool holds, HoldsDataToRelease(a));
    if (!holds) continue;
    STRATA_RETURN_IF_ERROR(FinalizeOne(a));
    done.push_back(a.id());
  }
  return done;
}

}  // namespace strata
