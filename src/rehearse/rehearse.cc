// The rehearsal orchestrator: a sandbox, a migrator on it, and for each
// pending migration the sequence of rehearse.h, checked by fingerprints.
#include "rehearse/rehearse.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "engine/url.h"
#include "migration/checksum.h"
#include "migration/loader.h"
#include "rehearse/sandbox.h"
#include "safety/fingerprint.h"
#include "safety/seed.h"
#include "sql/classify.h"
#include "sql/dialect.h"
#include "sql/splitter.h"
#include "strata/migrator.h"
#include "util/interrupt.h"
#include "util/text.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;


std::string Indent(std::string_view text, std::string_view prefix = "  ") {
  std::string out;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    out += prefix;
    out += text.substr(0, eol);
    out += '\n';
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
  return out;
}

/// What a step is checked against: the schema and the data of every table.
struct State {
  SchemaFingerprint schema;
  DataFingerprint data;

  std::vector<std::string> Tables() const {
    std::vector<std::string> names;
    for (const auto& t : data.tables) names.push_back(t.table);
    return names;
  }
};

/// Columns are taken in any order: a down script can put a dropped column
/// back only at the end (see ColumnsInAnyOrder).
Result<State> ReadState(Database& db) {
  State s;
  STRATA_ASSIGN_OR_RETURN(SchemaFingerprint schema, FingerprintSchema(db));
  s.schema.canonical_text = ColumnsInAnyOrder(schema.canonical_text);
  s.schema.hash = Sha256Hex(s.schema.canonical_text);
  STRATA_ASSIGN_OR_RETURN(s.data, FingerprintData(db, {}, /*columns_by_name=*/true));
  return s;
}

/// What Compare holds against each other: everything, or the data only by
/// row counts (tables whose rows differ in value alone are then listed in
/// `*other_values`).
struct Values {
  std::vector<std::string>* other_values = nullptr;
  /// When set: the keys (sql::NameKey) of the tables the migration's checks
  /// cover. A table outside them that gained rows is one a trigger the
  /// migration fired only appends to (an audit trail): a real rollback
  /// leaves those rows, and so does a rehearsal. Listed in `*appended`.
  const std::set<std::string>* checked = nullptr;
  std::vector<std::string>* appended = nullptr;
  sql::Dialect dialect = sql::Dialect::kSqlite;
};

/// How `got` differs from `want`, for a person; empty when they are equal.
std::string Compare(const State& want, const State& got, std::string_view want_name,
                    std::string_view got_name, Values values = {}) {
  std::string out;
  if (!(want.schema == got.schema)) {
    out += fmt::format("the schema differs (- {}, + {}):\n", want_name, got_name);
    out += Indent(DiffSchemas(want.schema, got.schema));
  }
  if (want.data == got.data) return out;
  std::map<std::string, std::pair<const TableFingerprint*, const TableFingerprint*>> tables;
  for (const auto& t : want.data.tables) tables[t.table].first = &t;
  for (const auto& t : got.data.tables) tables[t.table].second = &t;
  std::string lines;
  for (const auto& [name, pair] : tables) {
    auto [a, b] = pair;
    if (a && b && *a == *b) continue;
    if (!b) {
      lines += fmt::format("  {}: {} rows {}, no such table {}\n", name, a->rows, want_name, got_name);
    } else if (!a) {
      lines += fmt::format("  {}: no such table {}, {} rows {}\n", name, want_name, b->rows, got_name);
    } else if (values.checked && b->rows > a->rows &&
               !values.checked->count(sql::NameKey(name, values.dialect))) {
      values.appended->push_back(name);
    } else if (a->rows != b->rows) {
      lines += fmt::format("  {}: {} rows {}, {} rows {}\n", name, a->rows, want_name, b->rows, got_name);
    } else if (values.other_values) {
      values.other_values->push_back(name);
    } else {
      lines += fmt::format("  {}: {} rows both {} and {}, but not the same values\n", name, a->rows,
                           want_name, got_name);
    }
  }
  return lines.empty() ? out : out + "the data differs:\n" + lines;
}

/// The migrator's outcome of one up or down, with its time.
struct Timed {
  Status status;
  int64_t ms = -1;
};

class Rehearser {
 public:
  Rehearser(const RehearseOptions& options, const RehearsalHandler& on_event, RehearsalReport& report)
      : options_(options), on_event_(on_event), report_(report) {}

  Status Run() {
    auto started = Clock::now();
    report_.target = RedactUrl(options_.database_url);
    report_.seed_rows = options_.seed_rows;
    // A directory that does not load stops the rehearsal before the target
    // is copied, which for a large database takes minutes. (The checksum
    // cache makes the second load, the migrator's, a look at each file.)
    LoadOptions load;
    load.use_cache = true;
    STRATA_RETURN_IF_ERROR(LoadMigrations(options_.migrations_dir, load).status());
    STRATA_ASSIGN_OR_RETURN(sandbox_, CreateSandbox(options_.database_url));
    report_.sandbox = sandbox_->Describe();
    report_.copy_ms = MillisSince(started);
    Status s = RunInSandbox();
    migrator_.reset();
    if (options_.keep_sandbox) {
      sandbox_->Keep();
      report_.sandbox_kept = true;
      // Kept for a look at what the rehearsal stopped on, too.
      if (!s.ok()) return Status(s.code(), s.message() + " (the sandbox is kept at " + report_.sandbox + ")");
    } else if (s.ok()) {
      if (Status removed = sandbox_->Remove(); !removed.ok()) report_.warnings.push_back(removed.message());
    }
    report_.total_ms = MillisSince(started);
    return s;
  }

 private:
  /// Rehearses the plan on the sandbox made by Run().
  Status RunInSandbox() {
    MigratorOptions mo;
    mo.database_url = sandbox_->url();
    mo.migrations_dir = options_.migrations_dir;
    mo.actor = options_.actor;
    mo.session_sql = sandbox_->session_sql();
    mo.placeholders = options_.placeholders;
    STRATA_ASSIGN_OR_RETURN(migrator_, Migrator::Open(mo));
    db_ = migrator_->database();
    dialect_ = db_->engine() == Engine::kPostgres ? sql::Dialect::kPostgres : sql::Dialect::kSqlite;

    UpOptions plan_options;
    plan_options.to = options_.to;
    plan_options.dry_run = true;
    plan_options.allow_irreversible = options_.allow_irreversible;
    STRATA_ASSIGN_OR_RETURN(RunReport plan, migrator_->Up(plan_options));
    for (const PlanStep& step : plan.plan) {
      MigrationRehearsal& m = report_.migrations.emplace_back();
      m.version = step.version;
      m.id = step.id;
      m.down_source = step.down_source;
      m.statements = step.statements;
    }
    Emit(RehearsalEvent::Kind::kSandboxReady);
    if (options_.seed_rows > 0 && !plan.plan.empty()) {
      STRATA_ASSIGN_OR_RETURN(std::vector<std::string> tables, db_->ListTables());
      if (!tables.empty()) {
        Status s = SeedTables({}, &report_.seeded);
        if (!s.ok()) return s.WithContext("seeding the sandbox");
      }
      Emit(RehearsalEvent::Kind::kSeeded);
    }

    bool go_on = true;
    for (size_t i = 0; i < plan.plan.size(); ++i) {
      MigrationRehearsal& m = report_.migrations[i];
      if (!go_on || Interrupt::Requested()) {
        m.note = "not rehearsed: " + (Interrupt::Requested() ? Interrupt::Describe()
                                                            : "an earlier migration failed");
        go_on = false;
      } else {
        STRATA_ASSIGN_OR_RETURN(go_on, RehearseOne(plan.plan[i], m, i + 1 < plan.plan.size()));
        m.result = m.failures.empty() ? RehearsalResult::kPass : RehearsalResult::kFail;
        if (Interrupt::Requested()) {
          // What failed was the interrupt's doing, not the migration's.
          m.failures.clear();
          m.result = RehearsalResult::kNotRehearsed;
          m.note = Interrupt::Describe() + " during its rehearsal";
          go_on = false;
        }
      }
      Emit(RehearsalEvent::Kind::kMigrationDone, &m);
    }
    return Status::OK();
  }

  void Emit(RehearsalEvent::Kind kind, const MigrationRehearsal* m = nullptr) {
    if (on_event_) on_event_(RehearsalEvent{kind, report_, m});
  }

  Timed Up(int64_t version, std::optional<size_t> inject = std::nullopt) {
    UpOptions up;
    up.to = version;
    up.allow_irreversible = options_.allow_irreversible;
    up.inject_failure_at = inject;
    int64_t ms = -1;
    auto r = migrator_->Up(up, [&](const Event& e) {
      if (e.kind == Event::Kind::kApplied && e.version == version) ms = e.duration_ms;
    });
    return {r.status(), ms};
  }

  Timed Down(int64_t version) {
    int64_t ms = -1;
    auto r = migrator_->Down(DownOptions{.steps = 1, .rehearsal = true}, [&](const Event& e) {
      if (e.kind == Event::Kind::kRolledBack && e.version == version) ms = e.duration_ms;
    });
    return {r.status(), ms};
  }

  Result<bool> Pending(int64_t version) {
    STRATA_ASSIGN_OR_RETURN(StatusReport status, migrator_->GetStatus());
    for (const auto& s : status.migrations) {
      if (s.version == version) return s.state == MigrationState::kPending;
    }
    return false;
  }

  /// Fills `tables` (empty: all) with generated rows; adds what it did to `seeded`.
  Status SeedTables(const std::vector<std::string>& tables,
                    std::vector<std::pair<std::string, int64_t>>* seeded) {
    auto started = Clock::now();
    SeedOptions so;
    so.rows_per_table = options_.seed_rows;
    so.seed = options_.seed_value;
    so.tables = tables;
    so.allow_non_empty = true;  // a copy of a real database has rows
    STRATA_ASSIGN_OR_RETURN(SeedReport r, Seed(*db_, so));
    seeded->insert(seeded->end(), r.rows_per_table.begin(), r.rows_per_table.end());
    report_.seed_ms += MillisSince(started);
    return Status::OK();
  }

  /// When the statements act on tables this rehearsal filled with
  /// generated rows: a line saying so, for a failure that may come from a
  /// generated value rather than from the migration on real data.
  std::string SeededNote(const std::vector<sql::Statement>& statements) const {
    std::map<std::string, std::pair<std::string, int64_t>> seeded;  // by NameKey
    auto add = [&](const std::vector<std::pair<std::string, int64_t>>& tables) {
      for (const auto& [table, rows] : tables) seeded[sql::NameKey(table, dialect_)] = {table, rows};
    };
    add(report_.seeded);
    for (const MigrationRehearsal& done : report_.migrations) add(done.seeded);
    std::set<std::string> named;
    for (const sql::Statement& st : statements) {
      const sql::StatementInfo info = sql::Classify(st.text, dialect_);
      const std::string key = sql::NameKey(info.table.empty() ? info.object : info.table, dialect_);
      if (seeded.count(key)) named.insert(key);
    }
    if (named.empty()) return "";
    std::string tables;
    for (const std::string& key : named) {
      const auto& [table, rows] = seeded[key];
      tables += fmt::format("{}{} ({} generated rows)", tables.empty() ? "" : ", ", table, rows);
    }
    return fmt::format("\n(the sandbox's {} held rows that --seed generated: the failure may come "
                       "from one of them, a key the migration inserts too or an edge value put "
                       "there on purpose; judge whether real rows can hold it, or rehearse "
                       "without --seed on the copy's own rows)",
                       tables);
  }

  /// The file of each table a table-rewrite risk names as retyped
  /// (PostgreSQL's pg_relation_filenode; a rewrite gives the table a new
  /// one), by the risk's name for it; tables not read are left out.
  std::map<std::string, std::string> RetypedTablesFiles(const std::vector<Risk>& risks) {
    std::map<std::string, std::string> out;
    if (dialect_ != sql::Dialect::kPostgres) return out;
    for (const Risk& r : risks) {
      if (r.retyped.empty() || out.count(r.retyped)) continue;
      auto rows = db_->Query("SELECT pg_catalog.pg_relation_filenode(pg_catalog.to_regclass($1))",
                             {Value(db_->QuoteIdent(r.retyped))});
      if (rows.ok() && !rows->empty() && !rows->rows[0][0].is_null()) out[r.retyped] = rows->rows[0][0].ToString();
    }
    return out;
  }

  /// Rehearses `step`, which is pending and next. Returns whether the next
  /// migration can be rehearsed: the sandbox then holds `step` applied.
  Result<bool> RehearseOne(const PlanStep& step, MigrationRehearsal& m, bool more_follow) {
    const int64_t v = step.version;
    auto fail = [&](std::string why) { m.failures.push_back(std::move(why)); };
    STRATA_ASSIGN_OR_RETURN(std::vector<sql::Statement> statements,
                            sql::SplitStatements(step.script, dialect_));
    m.statements = step.statements;  // a BEGIN/COMMIT wrapper left out
    STRATA_ASSIGN_OR_RETURN(State before, ReadState(*db_));
    m.risks = AssessRisks(statements, RiskFacts{dialect_, before.Tables(), step.no_transaction,
                                                step.down_source == "none"});
    const std::map<std::string, std::string> files_before = RetypedTablesFiles(m.risks);

    Timed up = Up(v);
    m.up_ms = up.ms;
    if (!up.status.ok()) {
      fail("up failed: " + up.status.message() + SeededNote(statements));
      return false;
    }
    // A new type PostgreSQL converts without rewriting the table kept its
    // files: that risk was not one (temporal's VARCHAR(255) to VARCHAR(1000)).
    const std::map<std::string, std::string> files_after = RetypedTablesFiles(m.risks);
    std::erase_if(m.risks, [&](const Risk& r) {
      auto was = files_before.find(r.retyped), is = files_after.find(r.retyped);
      return was != files_before.end() && is != files_after.end() && was->second == is->second;
    });
    STRATA_ASSIGN_OR_RETURN(State applied, ReadState(*db_));
    // --allow-irreversible let a change run without its capture: history
    // records it with no way back, and down would refuse it.
    auto irreversible = db_->Query("SELECT irreversible FROM strata_history WHERE version = $1", {Value(v)});
    const bool uncaptured = step.down_source != "none" && irreversible.ok() && !irreversible->empty() &&
                            irreversible->rows[0][0].ToInt() != 0;
    if (uncaptured) {
      m.risks.push_back({"irreversible", "a change ran without its capture (--allow-irreversible): "
                                         "no way back, down not rehearsed"});
    }
    if (step.down_source != "none" && !uncaptured) {
      STRATA_ASSIGN_OR_RETURN(bool reapplied, RehearseWayBack(step, m, before, applied));
      if (!reapplied) return false;
    }
    if (more_follow && options_.seed_rows > 0) {
      std::vector<std::string> tables_before = before.Tables();
      std::set<std::string> old(tables_before.begin(), tables_before.end());
      // New, or made anew by the up script (zed's add_channels drops
      // channels and creates it again): empty either way.
      std::set<std::string> made;
      for (const sql::Statement& st : statements) {
        const sql::StatementInfo info = sql::Classify(st.text, dialect_);
        if (info.kind == sql::StatementKind::kCreateTable && !info.from_query && !info.if_not_exists) {
          made.insert(sql::NameKey(info.object, dialect_));
        }
      }
      std::vector<std::string> created;
      for (const auto& t : applied.Tables()) {
        if (!old.count(t) || made.count(sql::NameKey(t, dialect_))) created.push_back(t);
      }
      if (!created.empty()) {
        Status s = SeedTables(created, &m.seeded);
        if (!s.ok()) {
          report_.warnings.push_back(fmt::format(
              "could not seed the tables {} created: {}; later migrations ran on them empty", m.id,
              s.message()));
        }
      }
    }
    return true;
  }

  /// The keys of the tables migration `v`'s recorded checks cover; nullopt
  /// when its history row records none (every difference then counts).
  Result<std::optional<std::set<std::string>>> CheckedTables(int64_t v) {
    STRATA_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT checks FROM strata_history WHERE version = $1",
                                                  {Value(v)}));
    if (rows.empty()) return std::optional<std::set<std::string>>();
    const std::string checks = rows.rows[0][0].ToString();
    auto parsed = nlohmann::json::parse(checks, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object() || !parsed.contains("data")) return std::optional<std::set<std::string>>();
    std::set<std::string> out;
    for (const std::string& table : Migrator::TablesTouched(checks)) out.insert(sql::NameKey(table, dialect_));
    return std::optional<std::set<std::string>>(std::move(out));
  }

  /// Down, compare, failures injected, up again. Returns whether `step` is
  /// applied again at the end, so that later migrations can follow.
  Result<bool> RehearseWayBack(const PlanStep& step, MigrationRehearsal& m, const State& before,
                               const State& applied) {
    const int64_t v = step.version;
    auto fail = [&](std::string why) { m.failures.push_back(std::move(why)); };
    STRATA_ASSIGN_OR_RETURN(std::optional<std::set<std::string>> checked, CheckedTables(v));
    Timed down = Down(v);
    m.down_ms = down.ms;
    if (!down.status.ok()) {
      fail("down failed: " + down.status.message());
      // A failed rollback is undone: the migration should still be applied.
      STRATA_ASSIGN_OR_RETURN(State now, ReadState(*db_));
      STRATA_ASSIGN_OR_RETURN(bool pending, Pending(v));
      return !pending && Compare(applied, now, "", "").empty();
    }
    STRATA_ASSIGN_OR_RETURN(State rolled_back, ReadState(*db_));
    std::vector<std::string> appended;
    Values outside_checks{nullptr, checked ? &*checked : nullptr, &appended, dialect_};
    std::string diff = Compare(before, rolled_back, "before up", "after down", outside_checks);
    if (!diff.empty()) fail("down did not restore the state before up:\n" + Indent(diff));

    bool applied_now = false;
    if (options_.inject_failures && !step.no_transaction) {
      for (size_t i = 1; i <= m.statements; ++i) {
        ++m.injections;
        Timed t = Up(v, i);
        if (t.status.ok()) {
          fail(fmt::format("failure injected at statement {} of {}: up succeeded anyway", i, m.statements));
          applied_now = true;
          break;
        }
        std::string where = fmt::format("after the failure injected at statement {}", i);
        if (t.status.message().find("strata_injected_failure") == std::string::npos) {
          fail(fmt::format("{}: up failed for another reason: {}", where, t.status.message()));
        }
        STRATA_ASSIGN_OR_RETURN(State now, ReadState(*db_));
        STRATA_ASSIGN_OR_RETURN(bool pending, Pending(v));
        diff = Compare(rolled_back, now, "before up", where);
        if (!pending) diff += fmt::format("history lists {} {}\n", m.id, where);
        if (!diff.empty()) {
          fail(fmt::format("the failure injected at statement {} of {} left a trace:\n{}", i,
                           m.statements, Indent(diff)));
          applied_now = !pending;
          break;
        }
        ++m.injections_passed;
      }
    }
    if (!applied_now) {
      Timed again = Up(v);
      m.reapply_ms = again.ms;
      if (!again.status.ok()) {
        fail("up again after down failed: " + again.status.message());
        return false;
      }
    }
    STRATA_ASSIGN_OR_RETURN(State reapplied, ReadState(*db_));
    // The down put back the state before up exactly (else it failed above):
    // rows that differ in value alone come from what up generates anew each
    // time (serial and identity keys, now(), random()), not from the way
    // back, so they are a remark, not a failure.
    std::vector<std::string> other_values;
    outside_checks.other_values = &other_values;
    diff = Compare(applied, reapplied, "first up", "up again", outside_checks);
    if (!diff.empty()) fail("up again after down gave another state than the first up:\n" + Indent(diff));
    std::vector<std::string> notes;
    if (!other_values.empty()) {
      notes.push_back(fmt::format("up again wrote the same number of rows but other values into {} "
                                  "(generated keys, now() or random() differ from run to run)",
                                  fmt::join(other_values, ", ")));
    }
    std::sort(appended.begin(), appended.end());
    appended.erase(std::unique(appended.begin(), appended.end()), appended.end());
    if (!appended.empty()) {
      notes.push_back(fmt::format("{} gained rows that down left, as it leaves the rows a trigger "
                                  "only appends (an audit trail)",
                                  fmt::join(appended, ", ")));
    }
    if (!notes.empty()) m.note = fmt::format("{}", fmt::join(notes, "; "));
    return true;
  }

  const RehearseOptions& options_;
  const RehearsalHandler& on_event_;
  RehearsalReport& report_;
  std::unique_ptr<Sandbox> sandbox_;    // outlives migrator_, declared first
  std::unique_ptr<Migrator> migrator_;
  Database* db_ = nullptr;  // the migrator's connection to the sandbox
  sql::Dialect dialect_ = sql::Dialect::kSqlite;
};

}  // namespace

const char* RehearsalResultName(RehearsalResult result) {
  switch (result) {
    case RehearsalResult::kPass: return "pass";
    case RehearsalResult::kFail: return "fail";
    case RehearsalResult::kNotRehearsed: return "not-rehearsed";
  }
  return "unknown";
}

int RehearsalReport::Count(RehearsalResult result) const {
  return static_cast<int>(std::count_if(migrations.begin(), migrations.end(),
                                        [&](const auto& m) { return m.result == result; }));
}

Result<RehearsalReport> Rehearse(const RehearseOptions& options, const RehearsalHandler& on_event) {
  RehearsalReport report;
  Rehearser rehearser(options, on_event, report);
  STRATA_RETURN_IF_ERROR(rehearser.Run());
  return report;
}

}  // namespace strata
