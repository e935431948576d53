// The orchestrator: plans and runs `up` and `down`, reports status.
#include "strata/migrator.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>

#include <fmt/format.h>

#include "history/history.h"
#include "history/lock.h"
#include "migration/loader.h"
#include "migration/migration.h"
#include "sql/inverse.h"
#include "sql/splitter.h"
#include "util/diff.h"
#include "migration/checksum.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kSavepoint = "strata_step";

int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

sql::Dialect DialectOf(Engine engine) {
  return engine == Engine::kPostgres ? sql::Dialect::kPostgres : sql::Dialect::kSqlite;
}

/// Splits `script`; errors read "<where>:LINE:COL: message".
Result<std::vector<sql::Statement>> Split(std::string_view script, const std::string& where,
                                          sql::Dialect dialect) {
  auto stmts = sql::SplitStatements(script, dialect);
  if (!stmts.ok()) return Status(Code::kParse, where + ":" + stmts.status().message());
  return stmts;
}

/// A migration ready to run: its statements and its way back.
struct Prepared {
  std::vector<sql::Statement> up;
  std::vector<sql::Statement> verify;
  std::string down_script;
  std::string down_source;  // "file", "derived" or "none"
  std::string irreversible;  // when down_source is "none": the refusal, for the user
};

Result<Prepared> Prepare(Migration& m, sql::Dialect dialect, const std::string& dir) {
  Prepared p;
  STRATA_RETURN_IF_ERROR(ReadUpScript(m));  // unread when the checksum cache vouched for it
  STRATA_ASSIGN_OR_RETURN(p.up, Split(m.up_sql, m.up_path, dialect));
  if (m.has_verify()) {
    STRATA_ASSIGN_OR_RETURN(std::string verify, ReadScript(m.verify_path));
    STRATA_ASSIGN_OR_RETURN(p.verify, Split(verify, m.verify_path, dialect));
    // The statements keep their own text; `verify` may go.
  }
  if (m.has_down()) {
    STRATA_ASSIGN_OR_RETURN(p.down_script, ReadScript(m.down_path));
    STRATA_RETURN_IF_ERROR(Split(p.down_script, m.down_path, dialect).status());
    auto directives = ParseDirectives(p.down_script);
    if (!directives.ok()) return directives.status().WithContext(m.down_path);
    p.down_source = "file";
    return p;
  }
  sql::Inverse inverse = sql::DeriveInverse(p.up, dialect);
  if (inverse.reversible) {
    p.down_script = m.directives.no_transaction
                        ? "-- strata:no-transaction\n" + inverse.down_script
                        : inverse.down_script;
    p.down_source = "derived";
  } else {
    p.down_source = "none";
    p.irreversible = fmt::format(
        "migration {}: down script missing and the up script cannot be undone automatically: {}; "
        "write {}/{}.down.sql or pass --allow-irreversible",
        m.id(), inverse.reason, dir, m.id());
  }
  return p;
}

/// Rehearsal: makes statement `n` (1-based) of `script` fail, when it has one.
void InjectFailure(std::vector<sql::Statement>& script, size_t n) {
  if (n == 0 || n > script.size()) return;
  script[n - 1].text = "SELECT * FROM strata_injected_failure";
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

  Status Lock() {
    owner_ = CurrentOwner(m_.options_.actor);
    auto lock = MigrationLock::Acquire(
        m_.options_.database_url, owner_, m_.options_.lock_timeout,
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
  Status Atomic(const Step& step) {
    bool own_transaction = db_.step_atomicity() == StepAtomicity::kTransaction;
    if (own_transaction) {
      if (db_.InTransaction()) STRATA_RETURN_IF_ERROR(db_.Commit());
    } else if (!db_.InTransaction()) {
      STRATA_RETURN_IF_ERROR(db_.Begin());
    }
    std::vector<BatchStatement> all;
    all.reserve(step.statements.size() + 2);
    all.push_back({own_transaction ? "BEGIN" : "SAVEPOINT strata_step", {}});
    size_t guards = db_.StepGuardSql().empty() ? 0 : 1;
    if (guards) all.push_back({db_.StepGuardSql(), {}});
    all.insert(all.end(), step.statements.begin(), step.statements.end());
    all.push_back({own_transaction ? "COMMIT" : "RELEASE SAVEPOINT strata_step", {}});
    BatchResult result = db_.ExecBatch(all);
    if (result.status.ok()) return Status::OK();
    Status undo;
    if (own_transaction) {
      if (db_.InTransaction()) undo = db_.Rollback();
    } else {
      undo = db_.RollbackToSavepoint(kSavepoint);
      if (undo.ok()) undo = db_.ReleaseSavepoint(kSavepoint);
    }
    if (!undo.ok()) {
      db_.Rollback().IgnoreError();
      pending_durations_.clear();
      return Status(Code::kInternal, result.status.message() +
                                         "; then rolling back failed too, and the whole run "
                                         "was rolled back: " + undo.message());
    }
    size_t i = result.failed;
    if (i < 1 + guards || i > step.statements.size() + guards) {
      return result.status.WithContext("recording the step in history");
    }
    const Step::Label& label = step.labels[i - 1 - guards];
    Code code = label.code == Code::kDatabase ? result.status.code() : label.code;
    return Status(code, fmt::format("{}{}: {}", label.code == Code::kVerifyFailed ? "verify script " : "",
                                    label.where, result.status.message()));
  }

  /// Reports a failed step and commits the steps of the run before it.
  Status Fail(int64_t version, const std::string& id, Clock::time_point start, Status s) {
    db_.SetStatementTimeout(std::chrono::milliseconds(0)).IgnoreError();
    Emit(on_event_, Event::Kind::kFailed, version, id, MillisSince(start), s.message());
    Status kept = Flush();
    if (!kept.ok()) {
      s = Status(s.code(), s.message() + "; committing the steps before it failed too: " +
                               kept.message());
    }
    return s;
  }

  /// Remembers how long a step took; written to history by Flush().
  void RecordDuration(int64_t version, int64_t ms) { pending_durations_.emplace_back(version, ms); }

  /// Commits what the run has done so far.
  Status Flush() {
    if (!pending_durations_.empty()) {
      STRATA_RETURN_IF_ERROR(history_.SetDurations(pending_durations_));
      pending_durations_.clear();
    }
    return db_.InTransaction() ? db_.Commit() : Status::OK();
  }

 private:
  Migrator& m_;
  Database& db_;
  History history_;
  const EventHandler& on_event_;
  LockOwner owner_;
  std::unique_ptr<MigrationLock> lock_;
  std::vector<std::pair<int64_t, int64_t>> pending_durations_;
};

Migrator::Migrator(MigratorOptions options, std::unique_ptr<std::vector<Migration>> migrations,
                   std::unique_ptr<Database> db)
    : options_(std::move(options)), migrations_(std::move(migrations)), db_(std::move(db)) {}

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
  if (!options.database_url.empty()) {
    auto opened = OpenDatabase(options.database_url);
    if (!opened.ok()) {
      loading.wait();
      return opened.status();
    }
    db = std::move(opened).value();
  }
  auto loaded = loading.get();
  auto files = std::make_unique<std::vector<Migration>>();
  if (loaded.ok()) *files = std::move(loaded).value();
  auto migrator = std::unique_ptr<Migrator>(new Migrator(options, std::move(files), std::move(db)));
  migrator->load_status_ = loaded.status();
  return migrator;
}

Result<StatusReport> Migrator::GetStatus() {
  STRATA_RETURN_IF_ERROR(load_status_);
  if (!db_) return Status(Code::kInvalidArgument, "status needs a database (--database URL)");
  History history(*db_);
  STRATA_ASSIGN_OR_RETURN(std::vector<AppliedMigration> applied, history.List(false));
  StatusReport report;
  report.database = db_->Describe();
  std::map<int64_t, Migration*> files;
  for (auto& m : *migrations_) files[m.version] = &m;
  int64_t max_applied = applied.empty() ? INT64_MIN : applied.back().version;

  for (const auto& a : applied) {
    MigrationStatus s;
    s.version = a.version;
    s.applied_at = a.applied_at;
    s.applied_by = a.applied_by;
    s.duration_ms = a.duration_ms;
    s.down_source = a.down_source;
    s.error = a.error;
    auto f = files.find(a.version);
    s.id = a.id();
    if (a.state == AppliedState::kInProgress) {
      s.state = MigrationState::kInProgress;
    } else if (f == files.end()) {
      s.state = MigrationState::kMissingFile;
    } else if (f->second->checksum != a.checksum) {
      s.state = MigrationState::kChanged;
      STRATA_ASSIGN_OR_RETURN(std::optional<AppliedMigration> full, history.Get(a.version));
      STRATA_RETURN_IF_ERROR(ReadUpScript(*f->second));
      if (full) s.diff = LineDiff(NormalizeScript(full->up_script), NormalizeScript(f->second->up_sql));
    } else {
      s.state = MigrationState::kApplied;
    }
    report.migrations.push_back(std::move(s));
  }
  std::map<int64_t, bool> is_applied;
  for (const auto& a : applied) is_applied[a.version] = true;
  for (const auto& m : *migrations_) {
    if (is_applied.count(m.version)) continue;
    MigrationStatus s;
    s.version = m.version;
    s.id = m.id();
    s.state = m.version < max_applied ? MigrationState::kOutOfOrder : MigrationState::kPending;
    s.down_source = m.has_down() ? "file" : "derived-or-none";
    report.migrations.push_back(std::move(s));
  }
  std::stable_sort(report.migrations.begin(), report.migrations.end(),
                   [](const auto& a, const auto& b) { return a.version < b.version; });
  return report;
}

Result<RunReport> Migrator::Up(const UpOptions& options, const EventHandler& on_event) {
  if (!db_) return Status(Code::kInvalidArgument, "up needs a database (--database URL)");
  sql::Dialect dialect = DialectOf(db_->engine());
  Run run(*this, on_event);
  if (!options.dry_run) STRATA_RETURN_IF_ERROR(run.Lock());
  STRATA_ASSIGN_OR_RETURN(StatusReport status, GetStatus());

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
    if (s.state == MigrationState::kOutOfOrder && !options.allow_out_of_order &&
        (!options.to || s.version <= *options.to)) {
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
  for (const auto& s : status.migrations) state_of[s.version] = s.state;
  RunReport report;
  std::vector<std::pair<const Migration*, Prepared>> todo;
  std::vector<std::string> refusals;
  for (auto& m : *migrations_) {
    MigrationState st = state_of[m.version];
    if (st != MigrationState::kPending && st != MigrationState::kOutOfOrder) continue;
    if (options.to && m.version > *options.to) continue;
    STRATA_ASSIGN_OR_RETURN(Prepared p, Prepare(m, dialect, options_.migrations_dir));
    if (p.down_source == "none" && !options.allow_irreversible) refusals.push_back(p.irreversible);
    report.plan.push_back(PlanStep{m.version, m.id(), m.up_sql, p.down_source, p.down_script,
                                   m.directives.no_transaction});
    todo.emplace_back(&m, std::move(p));
  }
  if (!refusals.empty()) {
    std::string msg = refusals.size() == 1 ? refusals[0] : "irreversible migrations:";
    if (refusals.size() > 1)
      for (const auto& r : refusals) msg += "\n  " + r;
    return Status(Code::kIrreversible, msg);
  }
  if (options.dry_run) return report;

  std::string snapshot_id;
  if (options.before_apply && !todo.empty()) {
    STRATA_ASSIGN_OR_RETURN(snapshot_id, options.before_apply());
  }
  STRATA_RETURN_IF_ERROR(run.history().Ensure());
  for (auto& [m, p] : todo) {
    if (options.inject_failure_at) InjectFailure(p.up, *options.inject_failure_at);
    Emit(on_event, Event::Kind::kApplying, m->version, m->id());
    AppliedMigration row;
    row.version = m->version;
    row.version_text = m->version_text;
    row.name = m->name;
    row.checksum = m->checksum;
    row.up_script = m->up_sql;
    row.down_script = p.down_script;
    row.down_source = p.down_source;
    row.applied_by = run.owner().actor;
    row.irreversible = p.down_source == "none";
    row.no_transaction = m->directives.no_transaction;
    row.snapshot_id = snapshot_id;
    auto start = Clock::now();
    Status s;
    STRATA_RETURN_IF_ERROR(db_->SetStatementTimeout(m->directives.timeout));
    if (m->directives.no_transaction) {
      STRATA_RETURN_IF_ERROR(run.Flush());
      row.applied_at = NowUtc();
      row.state = AppliedState::kInProgress;
      STRATA_RETURN_IF_ERROR(run.history().Insert(row));
      s = run.Exec(p.up, m->up_path);
      if (s.ok()) s = run.Verify(p.verify, m->verify_path);
      if (s.ok()) {
        s = run.history().MarkApplied(m->version, MillisSince(start));
      } else {
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
      step.AddScript(p.up, m->up_path);
      step.AddScript(p.verify, m->verify_path, Code::kVerifyFailed);
      s = run.Atomic(step);
      if (s.ok()) run.RecordDuration(m->version, MillisSince(start));
      if (!s.ok() && s.code() != Code::kInternal) {
        s = Status(s.code() == Code::kVerifyFailed ? Code::kVerifyFailed : Code::kDatabase,
                   fmt::format("migration {} failed and was rolled back at {}{}", m->id(),
                               s.message(),
                               report.completed > 0
                                   ? fmt::format("; the {} migration{} before it stay applied",
                                                 report.completed, report.completed == 1 ? "" : "s")
                                   : ""));
      }
    }
    if (!s.ok()) return run.Fail(m->version, m->id(), start, s);
    ++report.completed;
    Emit(on_event, Event::Kind::kApplied, m->version, m->id(), MillisSince(start));
  }
  STRATA_RETURN_IF_ERROR(db_->SetStatementTimeout(std::chrono::milliseconds(0)));
  STRATA_RETURN_IF_ERROR(run.Flush());
  return report;
}

Result<RunReport> Migrator::Down(const DownOptions& options, const EventHandler& on_event) {
  if (!db_) return Status(Code::kInvalidArgument, "down needs a database (--database URL)");
  sql::Dialect dialect = DialectOf(db_->engine());
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

  RunReport report;
  std::vector<std::vector<sql::Statement>> scripts;
  std::vector<Directives> directives;
  for (const auto& t : targets) {
    std::string id = t.id();
    if (t.down_source == "none") {
      return Status(Code::kIrreversible,
                    fmt::format("migration {} was applied with --allow-irreversible and has no "
                                "down script; nothing was rolled back (roll back to a version "
                                "after it, or restore a backup taken before it)",
                                id));
    }
    std::string where = id + " (down script stored at apply time)";
    STRATA_ASSIGN_OR_RETURN(auto stmts, Split(t.down_script, where, dialect));
    auto d = ParseDirectives(t.down_script);
    if (!d.ok()) return d.status().WithContext(where);
    scripts.push_back(std::move(stmts));
    directives.push_back(*d);
    report.plan.push_back(PlanStep{t.version, id, t.down_script, "", "", d->no_transaction});
  }
  if (options.dry_run) return report;

  for (size_t i = 0; i < targets.size(); ++i) {
    const PlanStep& step = report.plan[i];
    std::string where = step.id + " (down script stored at apply time)";
    Emit(on_event, Event::Kind::kRollingBack, step.version, step.id);
    auto start = Clock::now();
    STRATA_RETURN_IF_ERROR(db_->SetStatementTimeout(directives[i].timeout));
    Status s;
    if (directives[i].no_transaction) {
      STRATA_RETURN_IF_ERROR(run.Flush());
      s = run.Exec(scripts[i], where);
      if (s.ok()) s = run.history().Remove(step.version);
      if (!s.ok()) {
        s = Status(s.code(), fmt::format("rollback of {} failed at {}; its down script runs "
                                         "without a transaction, so the statements before that "
                                         "one stay applied and history still lists it",
                                         step.id, s.message()));
      }
    } else {
      Step undo;
      for (const auto& st : scripts[i]) undo.Add({st.text, {}}, fmt::format("{}:{}", where, st.line));
      undo.Add(run.history().RemoveStatement(step.version), "removing it from strata_history");
      s = run.Atomic(undo);
      if (!s.ok() && s.code() != Code::kInternal) {
        s = Status(Code::kDatabase,
                   fmt::format("rollback of {} failed at {}; it was undone and {} is still "
                               "applied",
                               step.id, s.message(), step.id));
      }
    }
    if (!s.ok()) return run.Fail(step.version, step.id, start, s);
    ++report.completed;
    Emit(on_event, Event::Kind::kRolledBack, step.version, step.id, MillisSince(start));
  }
  STRATA_RETURN_IF_ERROR(db_->SetStatementTimeout(std::chrono::milliseconds(0)));
  STRATA_RETURN_IF_ERROR(run.Flush());
  return report;
}

Result<std::vector<Finding>> Migrator::Validate() {
  STRATA_RETURN_IF_ERROR(load_status_);
  std::vector<Finding> findings;
  Engine engine = Engine::kSqlite;
  if (db_) engine = db_->engine();
  std::map<int64_t, MigrationState> state_of;
  if (db_) {
    STRATA_ASSIGN_OR_RETURN(StatusReport status, GetStatus());
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
          findings.push_back({Code::kOk, fmt::format("{}: applied, but its file is gone (its "
                                                     "down script is kept in history)",
                                                     s.id)});
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
  for (auto& m : *migrations_) {
    auto p = Prepare(m, DialectOf(engine), options_.migrations_dir);
    if (!p.ok()) {
      findings.push_back({p.status().code(), p.status().message()});
      continue;
    }
    bool pending = !state_of.count(m.version) || state_of[m.version] == MigrationState::kPending ||
                   state_of[m.version] == MigrationState::kOutOfOrder;
    if (p->down_source == "none" && pending) {
      findings.push_back({Code::kIrreversible, p->irreversible});
    }
  }
  return findings;
}

Status Migrator::Resolve(int64_t version, bool applied) {
  if (!db_) return Status(Code::kInvalidArgument, "resolve needs a database (--database URL)");
  Run run(*this, nullptr);
  STRATA_RETURN_IF_ERROR(run.Lock());
  STRATA_ASSIGN_OR_RETURN(std::optional<AppliedMigration> row, run.history().Get(version));
  if (!row || row->state != AppliedState::kInProgress) {
    return Status(Code::kInvalidArgument,
                  fmt::format("migration {} is not in progress; nothing to resolve", version));
  }
  return applied ? run.history().MarkApplied(version, row->duration_ms)
                 : run.history().Remove(version);
}

}  // namespace strata
