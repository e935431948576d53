// libpq, loaded on first use.
//
// Most strata runs target SQLite, and libpq brings some twenty shared
// libraries with it (Kerberos, LDAP, GnuTLS, ...): loading them costs more
// than a whole `strata status`. So the PostgreSQL engine reaches libpq
// through this table, filled by dlopen("libpq.so.5") the first time a
// postgres:// URL is opened.
#pragma once

#include <libpq-fe.h>

#include "strata/status.h"

namespace strata {

#define STRATA_LIBPQ_FUNCTIONS(X)                                                       \
  X(PQclear) X(PQcmdStatus) X(PQconnectdbParams) X(PQconninfoFree) X(PQconninfoParse)   \
  X(PQerrorMessage) X(PQexec) X(PQexecParams) X(PQfinish) X(PQfname) X(PQfreemem)       \
  X(PQftype) X(PQgetCopyData) X(PQgetResult) X(PQgetisnull) X(PQgetlength) X(PQgetvalue) \
  X(PQnfields) X(PQntuples) X(PQputCopyEnd) X(PQputCopyData) X(PQresultErrorField)      \
  X(PQresultErrorMessage) X(PQresultStatus) X(PQsetNoticeProcessor) X(PQstatus)         \
  X(PQtransactionStatus) X(PQunescapeBytea) X(PQsendQueryParams) X(PQsetSingleRowMode)  \
  X(PQenterPipelineMode) X(PQexitPipelineMode) X(PQpipelineSync) X(PQconsumeInput)     \
  X(PQisBusy) X(PQflush) X(PQserverVersion) X(PQsendQuery) X(PQescapeLiteral)          \
  X(PQescapeByteaConn) X(PQprepare) X(PQexecPrepared) X(PQsendQueryPrepared)             \
  X(PQgetCancel) X(PQcancel) X(PQfreeCancel) X(PQparameterStatus)

struct LibPq {
#define STRATA_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  STRATA_LIBPQ_FUNCTIONS(STRATA_LIBPQ_MEMBER)
#undef STRATA_LIBPQ_MEMBER
};

/// Loads libpq once (thread-safe); fails with kUnavailable saying what to install.
Result<const LibPq*> LoadLibPq();

}  // namespace strata
