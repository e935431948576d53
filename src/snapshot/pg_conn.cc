#include "snapshot/pg_conn.h"

#include <fmt/format.h>

#include "engine/postgres/libpq.h"
#include "engine/postgres/postgres_database.h"
#include "engine/url.h"

namespace strata::snapshot {
namespace {

const LibPq* pq = nullptr;

std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return RedactSecrets(text);
}

/// Takes ownership of `r`; ok when its status is one of the good ones.
Status Check(PGresult* r, std::string_view what) {
  ExecStatusType st = pq->PQresultStatus(r);
  Status s;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY &&
      st != PGRES_COPY_OUT && st != PGRES_COPY_IN) {
    // 55P03: lock_timeout ran out waiting for another session's lock.
    const char* state = pq->PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const bool locked = state != nullptr && std::string_view(state) == "55P03";
    s = Status(locked ? Code::kLocked : Code::kDatabase, fmt::format("{}: {}", what, DescribeError(r, nullptr)));
  }
  pq->PQclear(r);
  return s;
}

std::string ShortSql(std::string_view sql) {
  std::string s(sql.substr(0, 80));
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return sql.size() > 80 ? s + "..." : s;
}

}  // namespace

Result<std::unique_ptr<PgConn>> PgConn::Open(const std::string& given_url) {
  STRATA_RETURN_IF_ERROR(CheckPostgresUrl(given_url));
  STRATA_ASSIGN_OR_RETURN(pq, LoadLibPq());
  const std::string url = EncodeCredentials(given_url);
  const char* const keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* const values[] = {"10", "strata snapshot", url.c_str(), nullptr};
  PGconn* conn = pq->PQconnectdbParams(keywords, values, 1);
  if (conn == nullptr) return Status(Code::kUnavailable, "out of memory connecting to PostgreSQL");
  if (pq->PQstatus(conn) != CONNECTION_OK) {
    std::string why = OneLine(pq->PQerrorMessage(conn));
    pq->PQfinish(conn);
    return Status(Code::kUnavailable,
                  fmt::format("cannot connect to {}: {}", RedactUrl(url), why));
  }
  pq->PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  std::unique_ptr<PgConn> out(new PgConn(conn));
  // COPY writes and reads values as text in the forms the session's
  // settings choose, which a role, a database, PGOPTIONS or PGDATESTYLE may
  // set otherwise: extra_float_digits = 0 rounds 0.30000000000000004 to 0.3,
  // 'SQL, DMY' reads 2024-03-10 back as October, 'SQL' writes a time zone
  // abbreviation (IST) that reads back as another zone. They are pinned on
  // every snapshot connection, copying out and in alike, as pg_dump does.
  // So are its timeouts off, as pg_dump's: a role's statement_timeout would
  // stop the COPY of a large table, and an idle_in_transaction_session_timeout
  // end the transaction whose snapshot pg_dump is reading meanwhile.
  STRATA_RETURN_IF_ERROR(out->Exec(
      "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; "
      "SET TimeZone = 'UTC'; SET bytea_output = 'hex'; SET lc_monetary = 'C'; "
      "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0",
      "pinning the session's settings"));
  return out;
}

PgConn::PgConn(PGconn* conn) : conn_(conn), cancel_(pq->PQgetCancel(conn)) {
  if (cancel_ != nullptr) {
    interrupt_.emplace([this] {
      char why[256];
      pq->PQcancel(cancel_, why, sizeof(why));  // one that has ended ignores it
    });
  }
}

PgConn::~PgConn() {
  interrupt_.reset();  // before what it uses goes
  if (cancel_ != nullptr) pq->PQfreeCancel(cancel_);
  borrowed_.reset();
  pq->PQfinish(conn_);
}

Status PgConn::LastError(std::string_view what) const {
  return Status(Code::kDatabase, fmt::format("{}: {}", what, OneLine(pq->PQerrorMessage(conn_))));
}

Status PgConn::Exec(std::string_view sql, std::string_view what) {
  std::string text(sql);
  std::string context = what.empty() ? ShortSql(sql) : std::string(what);
  PGresult* r = pq->PQexec(conn_, text.c_str());
  if (r == nullptr) return LastError(context);
  Status s = Check(r, context);
  // A multi-statement string returns the last result; drain any others.
  while (PGresult* more = pq->PQgetResult(conn_)) {
    Status t = Check(more, context);
    if (s.ok()) s = t;
  }
  return s;
}

Result<std::vector<std::vector<std::optional<std::string>>>> PgConn::Query(
    const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* r = pq->PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0);
  if (r == nullptr) return LastError(ShortSql(sql));
  if (pq->PQresultStatus(r) != PGRES_TUPLES_OK) return Check(r, ShortSql(sql));
  std::vector<std::vector<std::optional<std::string>>> rows(pq->PQntuples(r));
  int cols = pq->PQnfields(r);
  for (size_t i = 0; i < rows.size(); ++i) {
    for (int c = 0; c < cols; ++c) {
      if (pq->PQgetisnull(r, static_cast<int>(i), c)) {
        rows[i].emplace_back(std::nullopt);
      } else {
        rows[i].emplace_back(std::string(pq->PQgetvalue(r, static_cast<int>(i), c),
                                         pq->PQgetlength(r, static_cast<int>(i), c)));
      }
    }
  }
  pq->PQclear(r);
  return rows;
}

Status PgConn::CopyOut(const std::string& sql,
                       const std::function<Status(std::string_view)>& on_data) {
  PGresult* r = pq->PQexec(conn_, sql.c_str());
  if (r == nullptr) return LastError(ShortSql(sql));
  if (pq->PQresultStatus(r) != PGRES_COPY_OUT) return Check(r, ShortSql(sql));
  pq->PQclear(r);
  Status s;
  for (;;) {
    char* buf = nullptr;
    int n = pq->PQgetCopyData(conn_, &buf, 0);
    if (n > 0) {
      if (s.ok()) s = on_data(std::string_view(buf, n));
      pq->PQfreemem(buf);
      continue;
    }
    if (n == -2) return LastError(ShortSql(sql));
    break;  // -1: the COPY is over
  }
  while (PGresult* end = pq->PQgetResult(conn_)) {
    Status t = Check(end, ShortSql(sql));
    if (s.ok()) s = t;
  }
  return s;
}

Status PgConn::CopyIn(const std::string& sql, const std::function<Result<std::string>()>& next) {
  PGresult* r = pq->PQexec(conn_, sql.c_str());
  if (r == nullptr) return LastError(ShortSql(sql));
  if (pq->PQresultStatus(r) != PGRES_COPY_IN) return Check(r, ShortSql(sql));
  pq->PQclear(r);
  Status failed;
  for (;;) {
    auto data = next();
    if (!data.ok()) {
      failed = data.status();
      break;
    }
    if (data->empty()) break;
    if (pq->PQputCopyData(conn_, data->data(), static_cast<int>(data->size())) != 1) {
      failed = LastError(ShortSql(sql));
      break;
    }
  }
  if (pq->PQputCopyEnd(conn_, failed.ok() ? nullptr : "aborted by strata") != 1) {
    if (failed.ok()) failed = LastError(ShortSql(sql));
  }
  Status s;
  while (PGresult* end = pq->PQgetResult(conn_)) {
    Status t = Check(end, ShortSql(sql));
    if (s.ok()) s = t;
  }
  return failed.ok() ? s : failed;
}

Result<std::vector<std::pair<std::string, std::string>>> UrlOptions(const std::string& url) {
  STRATA_RETURN_IF_ERROR(CheckPostgresUrl(url));
  STRATA_ASSIGN_OR_RETURN(pq, LoadLibPq());
  char* err = nullptr;
  PQconninfoOption* options = pq->PQconninfoParse(EncodeCredentials(url).c_str(), &err);
  if (options == nullptr) {
    if (err) pq->PQfreemem(err);
    return Status(Code::kInvalidArgument, "invalid PostgreSQL URL " + RedactUrl(url));
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (o->val != nullptr && *o->val != '\0') out.emplace_back(o->keyword, o->val);
  }
  pq->PQconninfoFree(options);
  return out;
}

Result<std::string> DatabaseName(const std::string& url) {
  STRATA_ASSIGN_OR_RETURN(auto options, UrlOptions(url));
  for (const auto& [keyword, value] : options) {
    if (keyword == "dbname") return value;
  }
  return std::string();
}

Result<Database*> PgConn::AsDatabase(std::string described) {
  if (!borrowed_) {
    STRATA_ASSIGN_OR_RETURN(borrowed_, BorrowPostgres(conn_, std::move(described)));
  }
  return borrowed_.get();
}

}  // namespace strata::snapshot
