#include "engine/postgres/libpq.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace strata {

Result<const LibPq*> LoadLibPq() {
  static LibPq table;
  static Status status;
  static std::once_flag once;
  std::call_once(once, [] {
    void* handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      status = Status(Code::kUnavailable,
                      std::string("PostgreSQL support needs libpq (libpq.so.5), which did not "
                                  "load: ") +
                          (why ? why : "unknown error") + "; install the libpq5 package");
      return;
    }
#define STRATA_LIBPQ_RESOLVE(name)                                                          \
  table.name = reinterpret_cast<decltype(table.name)>(dlsym(handle, #name));                \
  if (table.name == nullptr) {                                                              \
    status = Status(Code::kUnavailable, "libpq.so.5 lacks " #name "; PostgreSQL 14 or newer " \
                                        "client libraries are needed");                      \
    return;                                                                                 \
  }
    STRATA_LIBPQ_FUNCTIONS(STRATA_LIBPQ_RESOLVE)
#undef STRATA_LIBPQ_RESOLVE
  });
  if (!status.ok()) return status;
  return &table;
}

}  // namespace strata
