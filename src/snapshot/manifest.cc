#include "snapshot/manifest.h"

#include <chrono>
#include <ctime>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "migration/checksum.h"
#include "util/json_text.h"

namespace strata::snapshot {

using nlohmann::json;

const Part* Manifest::FindPart(const std::string& name) const {
  for (const auto& p : parts) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string ToJson(const Manifest& m) {
  json tables = json::array();
  for (const auto& t : m.data.tables) {
    tables.push_back({{"table", t.table}, {"rows", t.rows}, {"hash", t.hash}});
  }
  json parts = json::array();
  for (const auto& p : m.parts) {
    json chunks = json::array();
    for (const auto& c : p.chunks) chunks.push_back(json::array({c.hash, c.size}));
    json part = {{"name", p.name}, {"kind", p.kind}, {"bytes", p.bytes}, {"chunks", chunks}};
    if (!p.columns.empty()) part["columns"] = p.columns;
    parts.push_back(std::move(part));
  }
  json out = {
      {"format", m.format},
      {"id", m.id},
      {"label", m.label},
      {"reason", m.reason},
      {"engine", EngineName(m.engine)},
      {"database", m.database},
      {"schema_version", m.schema_version},
      {"created_at", m.created_at},
      {"completed_at", m.completed_at},
      {"schema_fingerprint", m.schema.hash},
      {"schema_fingerprint_any_order", m.schema.any_order_hash},
      {"columns_in_any_order", m.columns_in_any_order},
      {"data_fingerprint", {{"hash", m.data.hash}, {"tables", tables}}},
      {"logical_bytes", m.logical_bytes},
      {"stored_bytes", m.stored_bytes},
      {"added_bytes", m.added_bytes},
      {"chunk_count", m.chunk_count},
      {"new_chunks", m.new_chunks},
  };
  if (m.engine == Engine::kSqlite) {
    out["sqlite"] = {{"page_size", m.page_size}, {"page_count", m.page_count}};
  } else {
    json seqs = json::array();
    for (const auto& s : m.sequences) {
      seqs.push_back({{"name", s.name}, {"last_value", s.last_value}, {"is_called", s.is_called}});
    }
    json outside = json::array();
    for (const auto& e : m.pg_outside_extensions) {
      outside.push_back({{"name", e.name}, {"schema", e.schema}});
    }
    out["postgres"] = {{"schema", m.pg_schema},
                       {"server_version", m.pg_server_version},
                       {"encoding", m.pg_encoding},
                       {"collate", m.pg_collate},
                       {"ctype", m.pg_ctype},
                       {"extensions", m.pg_extensions},
                       {"outside_extensions", outside},
                       {"extension_versions", m.pg_extension_versions},
                       {"unpopulated_matviews", m.pg_unpopulated_matviews},
                       {"privileges", m.pg_privileges},
                       {"sequences", seqs}};
  }
  out["parts"] = std::move(parts);
  if (!m.notes.empty()) out["notes"] = m.notes;
  // Over the rest, so that a manifest changed since it was written (a
  // sequence's value, which no chunk or fingerprint covers) is damage.
  out["checksum"] = Sha256Hex(JsonText(out));
  return JsonText(out, 1) + "\n";
}

namespace {

/// Whether `time` starts with a date as NowUtc writes it ("2025-01-14"):
/// list orders by it and prune counts days with it.
bool StartsWithIsoDate(const std::string& time) {
  if (time.size() < 10 || time[4] != '-' || time[7] != '-') return false;
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (time[i] < '0' || time[i] > '9') return false;
  }
  return true;
}

}  // namespace

Result<Manifest> ManifestFromJson(const std::string& text) {
  Manifest m;
  try {
    json j = json::parse(text);
    if (j.is_object() && j.contains("checksum")) {  // (older manifests have none)
      json rest = j;
      rest.erase("checksum");
      if (!j["checksum"].is_string() || Sha256Hex(JsonText(rest)) != j["checksum"].get<std::string>()) {
        return Status(Code::kParse, "it does not match its checksum: changed or damaged since it was written");
      }
    }
    m.format = j.at("format").get<int>();
    if (m.format != kManifestFormat) {
      return Status(Code::kParse, fmt::format("manifest format {} is not supported by this "
                                              "strata (it reads format {})",
                                              m.format, kManifestFormat));
    }
    m.id = j.at("id").get<std::string>();
    m.label = j.value("label", "");
    m.reason = j.value("reason", "");
    std::string engine = j.at("engine").get<std::string>();
    if (engine == "sqlite") {
      m.engine = Engine::kSqlite;
    } else if (engine == "postgres") {
      m.engine = Engine::kPostgres;
    } else {
      return Status(Code::kParse, "unknown engine '" + engine + "'");
    }
    m.database = j.at("database").get<std::string>();
    m.schema_version = j.value("schema_version", "");
    m.created_at = j.at("created_at").get<std::string>();
    if (!StartsWithIsoDate(m.created_at)) {
      return Status(Code::kParse, fmt::format("created_at '{}' is not a UTC time "
                                              "(YYYY-MM-DDTHH:MM:SS.mmmZ)",
                                              m.created_at));
    }
    m.completed_at = j.at("completed_at").get<std::string>();
    m.notes = j.value("notes", std::vector<std::string>());
    m.schema.hash = j.at("schema_fingerprint").get<std::string>();
    m.schema.any_order_hash = j.value("schema_fingerprint_any_order", "");
    m.columns_in_any_order = j.value("columns_in_any_order", false);
    const json& data = j.at("data_fingerprint");
    m.data.hash = data.at("hash").get<std::string>();
    for (const auto& t : data.at("tables")) {
      m.data.tables.push_back(TableFingerprint{t.at("table").get<std::string>(),
                                               t.at("rows").get<int64_t>(),
                                               t.at("hash").get<std::string>()});
    }
    m.logical_bytes = j.at("logical_bytes").get<uint64_t>();
    m.stored_bytes = j.at("stored_bytes").get<uint64_t>();
    m.added_bytes = j.at("added_bytes").get<uint64_t>();
    m.chunk_count = j.at("chunk_count").get<uint64_t>();
    m.new_chunks = j.at("new_chunks").get<uint64_t>();
    if (m.engine == Engine::kSqlite) {
      m.page_size = j.at("sqlite").at("page_size").get<uint32_t>();
      m.page_count = j.at("sqlite").at("page_count").get<uint64_t>();
    } else {
      const json& pg = j.at("postgres");
      m.pg_schema = pg.at("schema").get<std::string>();
      m.pg_server_version = pg.at("server_version").get<int>();
      m.pg_encoding = pg.value("encoding", "");
      m.pg_collate = pg.value("collate", "");
      m.pg_ctype = pg.value("ctype", "");
      m.pg_extensions = pg.at("extensions").get<std::vector<std::string>>();
      // Not recorded by older versions: a restore then relies on the target.
      for (const auto& e : pg.value("outside_extensions", json::array())) {
        m.pg_outside_extensions.push_back(
            OutsideExtension{e.at("name").get<std::string>(), e.at("schema").get<std::string>()});
      }
      m.pg_extension_versions = pg.value("extension_versions", std::map<std::string, std::string>());
      m.pg_unpopulated_matviews = pg.value("unpopulated_matviews", std::vector<std::string>());
      m.pg_privileges = pg.value("privileges", false);
      for (const auto& s : pg.at("sequences")) {
        m.sequences.push_back(SequenceValue{s.at("name").get<std::string>(),
                                            s.at("last_value").get<int64_t>(),
                                            s.at("is_called").get<bool>()});
      }
    }
    for (const auto& p : j.at("parts")) {
      Part part;
      part.name = p.at("name").get<std::string>();
      part.kind = p.at("kind").get<std::string>();
      part.bytes = p.at("bytes").get<uint64_t>();
      part.columns = p.value("columns", std::vector<std::string>());
      uint64_t sum = 0;
      for (const auto& c : p.at("chunks")) {
        ChunkRef ref{c.at(0).get<std::string>(), c.at(1).get<uint64_t>()};
        if (ref.hash.size() != 64 || ref.hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
          return Status(Code::kParse, fmt::format("part '{}' names a chunk '{}' that is not a "
                                                  "SHA-256",
                                                  part.name, ref.hash));
        }
        sum += ref.size;
        part.chunks.push_back(std::move(ref));
      }
      if (sum != part.bytes) {
        return Status(Code::kParse, fmt::format("part '{}' lists chunks of {} bytes in all but "
                                                "says it has {}",
                                                part.name, sum, part.bytes));
      }
      m.parts.push_back(std::move(part));
    }
  } catch (const json::exception& e) {
    return Status(Code::kParse, e.what());
  }
  return m;
}

std::string NewSnapshotId() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
  std::random_device rd;
  return fmt::format("{}-{:06x}", stamp, rd() & 0xffffff);
}

}  // namespace strata::snapshot
