// Seed: reads the schema through a SeedSchemaReader, orders the tables
// parents first, and fills each with rows from SeedValues, checking unique
// keys as it goes and taking foreign key values from the parents' rows.
// Rows go in as multi-row INSERTs, a chunk per statement; a chunk the
// database rejects is halved until the rejected rows are found, and those
// are made again with new values.
#include "safety/seed.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

#include <fmt/format.h>

#include "safety/seed_schema.h"
#include "safety/seed_values.h"

namespace strata {
namespace {

constexpr int kUniqueTries = 24;   // fresh values for one row before giving up on a unique key
constexpr int kInsertTries = 5;    // regenerations of a row the database rejects
constexpr size_t kMaxParams = 30000;
constexpr size_t kMaxChunkRows = 500;

using Row = std::vector<Value>;
using FkSet = std::set<std::pair<std::string, size_t>>;  // (table, index of foreign key)

std::string Join(const std::vector<std::string>& parts, std::string_view sep = ", ") {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

/// The PRNG seed of one table: the same for a table however many others are seeded.
uint64_t TableSeed(uint64_t seed, std::string_view table) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : table) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  uint64_t z = seed + h + 0x9E3779B97F4A7C15ULL;  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Fill order, parents first. A cycle of foreign keys is broken at a key whose
/// columns are all nullable (it is added to `nulled` and filled with NULL).
Result<std::vector<std::string>> FillOrder(const std::map<std::string, SeedTable>& tables, FkSet& nulled) {
  std::vector<std::string> order;
  std::set<std::string> done;
  auto pending = [&](const std::string& table, size_t i) {
    const SeedForeignKey& fk = tables.at(table).foreign_keys[i];
    return fk.parent != table && tables.count(fk.parent) && !done.count(fk.parent) &&
           !nulled.count({table, i});
  };
  // Whether `to` is reachable from `from` along pending foreign keys (child -> parent).
  std::function<bool(const std::string&, const std::string&, std::set<std::string>&)> reaches =
      [&](const std::string& from, const std::string& to, std::set<std::string>& seen) {
        if (!seen.insert(from).second) return false;
        const SeedTable& t = tables.at(from);
        for (size_t i = 0; i < t.foreign_keys.size(); ++i) {
          if (!pending(from, i)) continue;
          if (t.foreign_keys[i].parent == to || reaches(t.foreign_keys[i].parent, to, seen)) return true;
        }
        return false;
      };
  while (done.size() < tables.size()) {
    bool progress = false;
    for (const auto& [name, t] : tables) {
      if (done.count(name)) continue;
      bool ready = true;
      for (size_t i = 0; i < t.foreign_keys.size() && ready; ++i) ready = !pending(name, i);
      if (ready) {
        order.push_back(name);
        done.insert(name);
        progress = true;
      }
    }
    if (progress) continue;
    std::vector<std::string> stuck, cycle;
    bool broken = false;
    for (const auto& [name, t] : tables) {
      if (done.count(name)) continue;
      for (size_t i = 0; i < t.foreign_keys.size() && !broken; ++i) {
        std::set<std::string> seen;
        if (!pending(name, i) || !reaches(t.foreign_keys[i].parent, name, seen)) continue;
        const SeedForeignKey& fk = t.foreign_keys[i];
        bool nullable = std::all_of(fk.columns.begin(), fk.columns.end(),
                                    [&](const std::string& c) { return !t.Find(c) || !t.Find(c)->not_null; });
        if (nullable) {
          nulled.insert({name, i});
          broken = true;
        } else {
          stuck.push_back(fmt::format("{}({}) -> {}", name, Join(fk.columns), fk.parent));
          if (cycle.empty() || cycle.back() != name) cycle.push_back(name);
        }
      }
      if (broken) break;
    }
    if (!broken) {
      return Status(Code::kInvalidArgument,
                    fmt::format("cannot seed tables {}: they reference each other through NOT NULL "
                                "foreign keys [{}], so none of them can be filled first; make one "
                                "of those columns nullable, or fill one table yourself and seed "
                                "the others with --table",
                                Join(cycle), Join(stuck, "; ")));
    }
  }
  return order;
}

/// How `a` compares with `b`, two values generated for columns of `kind`:
/// below 0, 0 or above 0; 0 too when it cannot tell (a NULL, a blob).
int OrderOf(const Value& a, const Value& b, SeedKind kind) {
  using T = Value::Type;
  auto number = [](const Value& v) {
    return v.type() == T::kInteger ? static_cast<double>(v.integer())
           : v.type() == T::kReal  ? v.real()
                                   : std::strtod(v.text().c_str(), nullptr);
  };
  if (a.is_null() || b.is_null() || a.type() == T::kBlob || b.type() == T::kBlob) return 0;
  if (a.type() == T::kInteger && b.type() == T::kInteger) {
    return a.integer() < b.integer() ? -1 : a.integer() > b.integer() ? 1 : 0;
  }
  const bool textual = a.type() == T::kText && b.type() == T::kText;
  if (!textual || kind == SeedKind::kNumeric || kind == SeedKind::kReal || kind == SeedKind::kInteger) {
    const double x = number(a), y = number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a.text().compare(b.text());
}

/// Fills one table; see Seed().
class TableFiller {
 public:
  TableFiller(Database& db, const SeedTable& table, const SeedOptions& options, const FkSet& nulled)
      : db_(db), table_(table), options_(options), nulled_(nulled),
        values_(TableSeed(options.seed, table.name), options.rows_per_table) {}

  Result<int64_t> Run();

 private:
  struct ForeignKey {
    const SeedForeignKey* def;
    std::vector<int> cols;         // positions in the insert list
    std::vector<int> parent_cols;  // self-references: the referenced positions
    bool nulled = false, self = false, one_to_one = false, nullable = false;
    // Positions k (in cols) of columns an earlier key of fks_ also sets, as
    // tenant_id is in (tenant_id) -> tenants and (tenant_id, manager_id) ->
    // users: the parent must agree with what the earlier key chose there.
    std::vector<size_t> shared;
    bool rest_nullable = false;    // the columns not shared are all nullable
    std::vector<Row> pool;         // parent key values
    size_t cursor = 0;
    // One-to-one: parents the table's rows held before seeding began, left
    // out of pool, since a new row pointing at one would break the unique key.
    size_t held = 0;
  };
  struct UniqueKey {
    std::vector<int> cols;
    std::unordered_set<std::string> taken;
  };
  struct Order {  // a SeedOrder, by positions in the insert list
    int low = 0, high = 0;
    SeedKind kind = SeedKind::kText;
    bool strict = false;
  };

  Status Prepare();
  Status PrepareForeignKey(const SeedForeignKey& def, size_t index);
  Result<Row> MakeRow(int64_t r, int first_attempt);
  /// Orders fks_ and finds their shared columns; see ForeignKey::shared.
  void ShareColumns();
  /// A parent of `fk` whose values agree with `row` at fk.shared, among
  /// those `fk` may take now (one-to-one: the unused ones); null if none.
  const Row* MatchingParent(ForeignKey& fk, const Row& row);
  Status Flush();
  /// Inserts chunk_[begin, end) in one statement; when the database rejects
  /// it, halves the range, and makes a rejected single row again.
  Status InsertRange(size_t begin, size_t end);
  /// The key other rows of the table reference `row` by (the columns its
  /// first self-reference names), or nullopt when none does.
  std::optional<Row> SelfKeyOf(const Row& row) const;
  /// Takes a rejected row's key back out of the rows later ones may reference.
  void ForgetSelfKey(const Row& row);
  /// Makes chunk_[at] again after the database rejected it (`tries` times).
  Status MakeAgain(size_t at, int tries);
  Status InsertRows(const std::vector<Row>& rows, size_t begin, size_t end);
  Status Rejected(const Status& last) const;
  int Position(const std::string& column) const;
  static std::string KeyOf(const Row& row, const std::vector<int>& cols);

  Database& db_;
  const SeedTable& table_;
  const SeedOptions& options_;
  const FkSet& nulled_;
  SeedValues values_;
  std::vector<const SeedColumn*> columns_;  // the insert list
  std::vector<bool> distinct_;
  std::vector<ForeignKey> fks_;
  std::vector<UniqueKey> unique_;
  std::vector<Row> self_keys_;
  std::vector<int> tied_;  // its own key (as self-references name it) and every foreign key's columns
  std::vector<Order> orders_;
  std::vector<Row> chunk_;
  std::vector<int64_t> chunk_rows_;  // row number of each row in chunk_
  int64_t rows_before_ = 0;  // rows in the table when its filling began
  size_t chunk_size_ = 1;  // rows per statement at most
  size_t target_ = 1;      // rows per statement now
  int64_t statements_ = 0;
  std::string chunk_sql_;
};

int TableFiller::Position(const std::string& column) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i]->name == column) return static_cast<int>(i);
  }
  return -1;
}

std::string TableFiller::KeyOf(const Row& row, const std::vector<int>& cols) {
  std::string key;
  for (int c : cols) {
    if (row[c].is_null()) return {};  // NULLs never collide
    key += static_cast<char>('0' + static_cast<int>(row[c].type()));
    key += row[c].ToString();
    key += '\x1f';
  }
  return key;
}

Status TableFiller::Prepare() {
  for (const SeedColumn& c : table_.columns) {
    if (c.skip) continue;
    if (c.kind == SeedKind::kUnsupported || (c.kind == SeedKind::kEnum && c.allowed.empty())) {
      if (c.not_null && !c.has_default) {
        return Status(Code::kInvalidArgument,
                      fmt::format("table {}: column {} has type {}, which seed cannot generate, and "
                                  "is NOT NULL without a default",
                                  table_.name, c.name, c.type));
      }
      continue;  // the default or NULL
    }
    columns_.push_back(&c);
  }
  distinct_.assign(columns_.size(), false);
  for (const auto& key : table_.unique_keys) {
    UniqueKey u;
    for (const std::string& name : key) {
      int p = Position(name);
      if (p < 0) { u.cols.clear(); break; }  // a column the database fills
      u.cols.push_back(p);
      distinct_[p] = true;
    }
    if (!u.cols.empty()) unique_.push_back(std::move(u));
  }
  // Keys already taken by the rows there: with --allow-non-empty, and also
  // rows a trigger of a table filled before this one wrote (a comment
  // count kept per post), which the check that the tables are empty, made
  // before any was filled, could not see.
  STRATA_ASSIGN_OR_RETURN(Rows count,
                          db_.Query(fmt::format("SELECT count(*) FROM {}", db_.QuoteIdent(table_.name))));
  rows_before_ = count.empty() ? 0 : count.rows[0][0].ToInt();
  if (rows_before_ > 0) {
    for (UniqueKey& u : unique_) {
      std::vector<std::string> names;
      for (int c : u.cols) names.push_back(db_.QuoteIdent(columns_[c]->name));
      STRATA_ASSIGN_OR_RETURN(Rows rows, db_.Query(fmt::format("SELECT {} FROM {}", Join(names),
                                                               db_.QuoteIdent(table_.name))));
      std::vector<int> all(u.cols.size());
      for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
      for (const Row& r : rows.rows) u.taken.insert(KeyOf(r, all));
    }
  }
  for (size_t i = 0; i < table_.foreign_keys.size(); ++i) {
    STRATA_RETURN_IF_ERROR(PrepareForeignKey(table_.foreign_keys[i], i));
  }
  ShareColumns();
  std::vector<bool> tied(columns_.size(), false);
  for (const ForeignKey& fk : fks_) {
    for (int c : fk.cols) tied[c] = true;
    for (int c : fk.parent_cols) {
      if (c >= 0) tied[c] = true;
    }
  }
  for (size_t c = 0; c < tied.size(); ++c) {
    if (tied[c]) tied_.push_back(static_cast<int>(c));
  }
  // Two columns of one kind, neither a key's (a swap would break it).
  for (const SeedOrder& o : table_.orders) {
    const int low = Position(o.low), high = Position(o.high);
    if (low < 0 || high < 0 || tied[low] || tied[high] || columns_[low]->kind != columns_[high]->kind) {
      continue;
    }
    orders_.push_back(Order{low, high, columns_[low]->kind, o.strict});
  }
  chunk_size_ = std::clamp<size_t>(kMaxParams / std::max<size_t>(columns_.size(), 1), 1, kMaxChunkRows);
  target_ = chunk_size_;
  return Status::OK();
}

Status TableFiller::PrepareForeignKey(const SeedForeignKey& def, size_t index) {
  ForeignKey fk;
  fk.def = &def;
  for (const std::string& name : def.columns) {
    int p = Position(name);
    if (p < 0) return Status::OK();  // the database fills it: nothing to choose
    fk.cols.push_back(p);
  }
  fk.nullable = std::all_of(fk.cols.begin(), fk.cols.end(), [&](int p) { return !columns_[p]->not_null; });
  fk.nulled = nulled_.count({table_.name, index}) > 0;
  fk.self = def.parent == table_.name;
  for (const auto& key : table_.unique_keys) {
    fk.one_to_one |= std::all_of(key.begin(), key.end(), [&](const std::string& c) {
      return std::find(def.columns.begin(), def.columns.end(), c) != def.columns.end();
    });
  }
  if (fk.self) {
    for (const std::string& name : def.parent_columns) fk.parent_cols.push_back(Position(name));
    if (std::count(fk.parent_cols.begin(), fk.parent_cols.end(), -1)) {
      if (!fk.nullable) {
        return Status(Code::kInvalidArgument,
                      fmt::format("table {}: foreign key {} references the table's own {}, which the "
                                  "database fills in, and is NOT NULL: seed cannot point a row at "
                                  "an existing one",
                                  table_.name, def.name, Join(def.parent_columns)));
      }
      fk.nulled = true;
    }
  }
  if (!fk.self && !fk.nulled) {
    // SQLite lets a key name a table created later, and then refuses every
    // row (even with NULL there) while foreign keys are enforced.
    STRATA_ASSIGN_OR_RETURN(bool parent_exists, db_.TableExists(def.parent));
    if (!parent_exists) {
      return Status(Code::kInvalidArgument,
                    fmt::format("table {}: foreign key {} references table {}, which does not "
                                "exist yet, so the database refuses every row of {} until it is "
                                "created; seed {} after that",
                                table_.name, def.name, def.parent, table_.name, table_.name));
    }

    std::vector<std::string> cols, not_null;
    for (const std::string& c : def.parent_columns) {
      cols.push_back(db_.QuoteIdent(c));
      not_null.push_back(db_.QuoteIdent(c) + " IS NOT NULL");
    }
    STRATA_ASSIGN_OR_RETURN(Rows rows, db_.Query(fmt::format(
        "SELECT DISTINCT {0} FROM {1} WHERE {2} ORDER BY {0}", Join(cols),
        db_.QuoteIdent(def.parent), Join(not_null, " AND "))));
    fk.pool = std::move(rows.rows);
    const bool parentless = fk.pool.empty();
    if (fk.one_to_one) {
      // Only the parents no row of the table holds yet can be taken (those
      // just seeded into the parent among them): a held one would be taken,
      // clash with the unique key and be lost, so the pool ran out while
      // parents were still free.
      std::vector<const UniqueKey*> within;
      for (const UniqueKey& u : unique_) {
        if (std::all_of(u.cols.begin(), u.cols.end(), [&](int c) {
              return std::find(fk.cols.begin(), fk.cols.end(), c) != fk.cols.end();
            })) {
          within.push_back(&u);
        }
      }
      Row child(columns_.size());
      const size_t before = fk.pool.size();
      std::erase_if(fk.pool, [&](const Row& parent) {
        for (size_t k = 0; k < fk.cols.size(); ++k) child[fk.cols[k]] = parent[k];
        return std::any_of(within.begin(), within.end(),
                           [&](const UniqueKey* u) { return u->taken.count(KeyOf(child, u->cols)) > 0; });
      });
      fk.held = before - fk.pool.size();
      // A fixed shuffle, so each child takes its own parent.
      for (size_t i = fk.pool.size(); i > 1; --i) std::swap(fk.pool[i - 1], fk.pool[values_.Below(i)]);
    }
    if (parentless && !fk.nullable && options_.rows_per_table > 0) {
      return Status(Code::kInvalidArgument,
                    fmt::format("table {}: foreign key {} needs rows in {}, which is empty and "
                                "not among the tables seeded; seed {} too",
                                table_.name, def.name, def.parent, def.parent));
    }
  }
  fks_.push_back(std::move(fk));
  return Status::OK();
}

void TableFiller::ShareColumns() {
  auto overlap = [](const ForeignKey& a, const ForeignKey& b) {
    return std::any_of(a.cols.begin(), a.cols.end(),
                       [&](int c) { return std::find(b.cols.begin(), b.cols.end(), c) != b.cols.end(); });
  };
  bool any = false;
  for (size_t i = 0; i < fks_.size() && !any; ++i) {
    for (size_t j = i + 1; j < fks_.size() && !any; ++j) any = overlap(fks_[i], fks_[j]);
  }
  if (!any) return;  // keys independent: the order they were declared in
  // A wider key first: a parent row of (tenant_id, project_id) -> projects
  // gives a tenant_id that (tenant_id) -> tenants then finds. A
  // self-reference last: it looks for an earlier row of the same tenant, or
  // leaves its other columns NULL, instead of pinning every row's tenant to
  // the first row's.
  std::stable_sort(fks_.begin(), fks_.end(), [](const ForeignKey& a, const ForeignKey& b) {
    if (a.self != b.self) return b.self;
    return a.cols.size() > b.cols.size();
  });
  std::vector<bool> set(columns_.size(), false);
  for (ForeignKey& fk : fks_) {
    fk.rest_nullable = true;
    for (size_t k = 0; k < fk.cols.size(); ++k) {
      if (set[fk.cols[k]]) {
        fk.shared.push_back(k);
      } else {
        fk.rest_nullable &= !columns_[fk.cols[k]]->not_null;
      }
    }
    for (int c : fk.cols) set[c] = true;
  }
}

const Row* TableFiller::MatchingParent(ForeignKey& fk, const Row& row) {
  auto matches = [&](const Row& parent) {
    for (size_t k : fk.shared) {
      if (!(parent[k] == row[fk.cols[k]])) return false;
    }
    return true;
  };
  if (fk.self || !fk.one_to_one) {
    std::vector<Row>& rows = fk.self ? self_keys_ : fk.pool;
    if (rows.empty()) return nullptr;
    const size_t start = values_.Below(rows.size());  // a random one of those that match
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& parent = rows[(start + i) % rows.size()];
      if (matches(parent)) return &parent;
    }
    return nullptr;
  }
  for (size_t i = fk.cursor; i < fk.pool.size(); ++i) {
    if (!matches(fk.pool[i])) continue;
    std::swap(fk.pool[i], fk.pool[fk.cursor]);
    return &fk.pool[fk.cursor++];
  }
  return nullptr;
}

Result<Row> TableFiller::MakeRow(int64_t r, int first_attempt) {
  const UniqueKey* clash = nullptr;
  const ForeignKey* unmet = nullptr;
  for (int attempt = first_attempt; attempt < first_attempt + kUniqueTries; ++attempt) {
    Row row(columns_.size());
    for (size_t i = 0; i < columns_.size(); ++i) row[i] = values_.Make(*columns_[i], r, attempt, distinct_[i]);
    unmet = nullptr;
    std::vector<ForeignKey*> took;  // one-to-one keys that took a parent from their pool
    for (ForeignKey& fk : fks_) {
      const Row* parent = nullptr;
      Row own;
      // What an earlier key set in this row stays; a NULL there already
      // satisfies this key (MATCH SIMPLE), whatever the other columns hold.
      const bool constrained = !fk.shared.empty() && std::none_of(fk.shared.begin(), fk.shared.end(), [&](size_t k) {
        return row[fk.cols[k]].is_null();
      });
      bool null = fk.nulled || (fk.nullable && ((attempt == 0 && r == 0) || values_.Below(10) == 0));
      if (constrained && !null) {
        parent = MatchingParent(fk, row);
        if (!parent && fk.self && !fk.rest_nullable) {  // the row points at itself, if it agrees
          for (int p : fk.parent_cols) own.push_back(row[p]);
          bool agrees = true;
          for (size_t k : fk.shared) agrees &= own[k] == row[fk.cols[k]];
          if (agrees) parent = &own;
        }
        if (!parent && !fk.rest_nullable) {
          unmet = &fk;
          break;
        }
        if (parent && fk.one_to_one && !fk.self) took.push_back(&fk);
      } else if (null) {
      } else if (fk.self) {
        if (!self_keys_.empty()) {
          parent = &self_keys_[values_.Below(self_keys_.size())];
        } else if (!fk.nullable) {  // the first row points at itself
          for (int p : fk.parent_cols) own.push_back(row[p]);
          parent = &own;
        }
      } else if (fk.one_to_one) {
        if (fk.cursor >= fk.pool.size()) {
          if (!fk.nullable) {
            std::string held = fmt::format(" for {} new rows", options_.rows_per_table);
            std::string advice = "seed fewer rows";
            if (rows_before_ > 0) {
              held = fmt::format(" and {} already had {} rows", table_.name, rows_before_);
              if (!options_.allow_non_empty) {
                held += " (written by a trigger while other tables were seeded)";
                advice = fmt::format("seed {} first with --table, then the others, or fewer rows",
                                     table_.name);
              }
              held += fmt::format(", which hold {} of them: {} free for {} new rows", fk.held,
                                  fk.pool.size(), options_.rows_per_table);
            }
            return Status(Code::kInvalidArgument,
                          fmt::format("table {}: each row needs a row of {} of its own (foreign key {} "
                                      "is also a unique key), but {} has only {} rows{}; {}",
                                      table_.name, fk.def->parent, fk.def->name, fk.def->parent,
                                      fk.pool.size() + fk.held, held, advice));
          }
        } else {
          parent = &fk.pool[fk.cursor++];
          took.push_back(&fk);
        }
      } else if (!fk.pool.empty()) {
        parent = &fk.pool[values_.Below(fk.pool.size())];
      }
      for (size_t k = 0; k < fk.cols.size(); ++k) {
        if (std::find(fk.shared.begin(), fk.shared.end(), k) != fk.shared.end()) continue;
        row[fk.cols[k]] = parent ? (*parent)[k] : Value();
      }
    }
    if (unmet) {  // the row is dropped: the parents it took are free again
      for (ForeignKey* fk : took) --fk->cursor;
      continue;
    }
    for (const Order& o : orders_) {
      const int order = OrderOf(row[o.low], row[o.high], o.kind);
      if (order > 0) std::swap(row[o.low], row[o.high]);
      // Equal where they must differ (both in a unique key, each made from
      // the row's number): an integer goes one up, if its bounds allow.
      Value& high = row[o.high];
      if (order == 0 && o.strict && high.type() == Value::Type::kInteger &&
          high.integer() < columns_[o.high]->max && row[o.low] == high) {
        high = Value(high.integer() + 1);
      }
    }
    std::vector<std::string> keys(unique_.size());
    clash = nullptr;
    for (size_t u = 0; u < unique_.size() && !clash; ++u) {
      keys[u] = KeyOf(row, unique_[u].cols);
      if (!keys[u].empty() && unique_[u].taken.count(keys[u])) clash = &unique_[u];
    }
    if (clash) {
      // The row is made again: a parent it took stays free for it or a later
      // row, unless the clash is on that parent itself (another row holds it).
      for (ForeignKey* fk : took) {
        const bool held = std::all_of(clash->cols.begin(), clash->cols.end(), [&](int c) {
          return std::find(fk->cols.begin(), fk->cols.end(), c) != fk->cols.end();
        });
        if (!held) --fk->cursor;
      }
      continue;
    }
    for (size_t u = 0; u < unique_.size(); ++u) {
      if (!keys[u].empty()) unique_[u].taken.insert(std::move(keys[u]));
    }
    if (auto key = SelfKeyOf(row)) self_keys_.push_back(std::move(*key));
    return row;
  }
  if (unmet) {
    std::vector<std::string> shared;
    for (size_t k : unmet->shared) shared.push_back(unmet->def->columns[k]);
    return Status(Code::kInvalidArgument,
                  fmt::format("table {}: foreign key {} needs a row of {} with the same {} as the row's "
                              "other foreign keys chose, and found none in {} tries; seed {} with "
                              "more rows",
                              table_.name, unmet->def->name, unmet->def->parent, Join(shared),
                              kUniqueTries, unmet->def->parent));
  }
  std::vector<std::string> names;
  for (int c : clash->cols) names.push_back(columns_[c]->name);
  return Status(Code::kInvalidArgument,
                fmt::format("table {}: found no value for unique key ({}) that was not taken after "
                            "{} tries; its type or CHECKs leave too few distinct values for {} rows",
                            table_.name, Join(names), kUniqueTries, options_.rows_per_table));
}

std::optional<Row> TableFiller::SelfKeyOf(const Row& row) const {
  for (const ForeignKey& fk : fks_) {
    if (!fk.self || fk.nulled) continue;
    Row key;
    for (int p : fk.parent_cols) key.push_back(row[p]);
    return key;
  }
  return std::nullopt;
}

void TableFiller::ForgetSelfKey(const Row& row) {
  std::optional<Row> key = SelfKeyOf(row);
  if (!key) return;
  auto it = std::find(self_keys_.rbegin(), self_keys_.rend(), *key);
  if (it != self_keys_.rend()) self_keys_.erase(std::next(it).base());
}

Status TableFiller::MakeAgain(size_t at, int tries) {
  const Row old = chunk_[at];
  ForgetSelfKey(old);
  STRATA_ASSIGN_OR_RETURN(Row row, MakeRow(chunk_rows_[at], tries * kUniqueTries));
  if (tries + 1 < kInsertTries) {
    // Rows made after it may point at its key already (SQLite, as Strata
    // connects, does not check that they do), and its own keys point at
    // rows inserted before it: those columns stay, the others are made anew.
    ForgetSelfKey(row);
    for (int c : tied_) row[c] = old[c];
    if (auto key = SelfKeyOf(row)) self_keys_.push_back(std::move(*key));
  } else if (std::optional<Row> old_key = SelfKeyOf(old), new_key = SelfKeyOf(row); old_key) {
    // The last try: those columns may be what the database rejects, so the
    // row has a new key; the rows after it that pointed at the old one
    // point at the new one (or at none, where the key allows it).
    for (const ForeignKey& fk : fks_) {
      if (!fk.self || fk.nulled) continue;
      for (size_t i = at + 1; i < chunk_.size(); ++i) {
        Row& later = chunk_[i];
        bool points = true, agrees = true;
        for (size_t k = 0; k < fk.cols.size(); ++k) {
          points &= later[fk.cols[k]] == (*old_key)[k];
          const bool shared = std::find(fk.shared.begin(), fk.shared.end(), k) != fk.shared.end();
          if (shared) agrees &= later[fk.cols[k]] == (*new_key)[k];
        }
        if (!points || (!agrees && !fk.rest_nullable)) continue;
        for (size_t k = 0; k < fk.cols.size(); ++k) {
          if (std::find(fk.shared.begin(), fk.shared.end(), k) != fk.shared.end()) continue;
          later[fk.cols[k]] = agrees ? (*new_key)[k] : Value();
        }
      }
    }
  }
  chunk_[at] = std::move(row);
  return Status::OK();
}

Status TableFiller::InsertRows(const std::vector<Row>& rows, size_t begin, size_t end) {
  const std::string table = db_.QuoteIdent(table_.name);
  if (columns_.empty()) {
    for (size_t i = begin; i < end; ++i) {
      STRATA_RETURN_IF_ERROR(db_.Exec(fmt::format("INSERT INTO {} DEFAULT VALUES", table)));
    }
    return Status::OK();
  }
  const size_t n = end - begin;
  std::string single;
  std::string* sql = n == chunk_size_ ? &chunk_sql_ : &single;  // full chunks reuse their text
  if (sql->empty()) {
    std::vector<std::string> names;
    for (const SeedColumn* c : columns_) names.push_back(db_.QuoteIdent(c->name));
    *sql = fmt::format("INSERT INTO {} ({}) VALUES ", table, Join(names));
    int param = 1;
    for (size_t r = 0; r < n; ++r) {
      *sql += r ? ", (" : "(";
      for (size_t c = 0; c < columns_.size(); ++c) *sql += fmt::format("{}${}", c ? ", " : "", param++);
      *sql += ')';
    }
  }
  std::vector<Value> params;
  params.reserve(n * columns_.size());
  for (size_t i = begin; i < end; ++i) params.insert(params.end(), rows[i].begin(), rows[i].end());
  return db_.Query(*sql, params).status();
}

Status TableFiller::Rejected(const Status& last) const {
  // The database refusing every try means the schema cannot be satisfied by
  // the generator (exit 2); a lost connection stays what it is.
  const Code code = last.code() == Code::kDatabase ? Code::kInvalidArgument : last.code();
  for (const SeedCheck& check : table_.checks) {
    bool named = !check.name.empty() && last.message().find(check.name) != std::string::npos;
    if (named || last.message().find(check.expr) != std::string::npos) {
      return Status(code,
                    fmt::format("table {}: no generated row satisfied CHECK constraint {}({}) in {} "
                                "tries: {}",
                                table_.name, check.name.empty() ? "" : check.name + " ", check.expr,
                                kInsertTries, last.message()));
    }
  }
  return Status(code, fmt::format("table {}: the database rejected a generated row {} times: {}",
                                         table_.name, kInsertTries, last.message()));
}

Status TableFiller::InsertRange(size_t begin, size_t end) {
  constexpr std::string_view kSavepoint = "strata_seed_part";
  for (int tries = 1;; ++tries) {
    STRATA_RETURN_IF_ERROR(db_.Savepoint(kSavepoint));
    ++statements_;
    Status s = InsertRows(chunk_, begin, end);
    if (s.ok()) return db_.ReleaseSavepoint(kSavepoint);
    STRATA_RETURN_IF_ERROR(db_.RollbackToSavepoint(kSavepoint));
    STRATA_RETURN_IF_ERROR(db_.ReleaseSavepoint(kSavepoint));
    if (end - begin > 1) {  // halve until the rejected rows are found
      size_t mid = begin + (end - begin) / 2;
      STRATA_RETURN_IF_ERROR(InsertRange(begin, mid));
      return InsertRange(mid, end);
    }
    if (tries == kInsertTries) return Rejected(s);
    STRATA_RETURN_IF_ERROR(MakeAgain(begin, tries));
  }
}

Status TableFiller::Flush() {
  if (chunk_.empty()) return Status::OK();
  const int64_t statements = statements_;
  STRATA_RETURN_IF_ERROR(InsertRange(0, chunk_.size()));
  // Rows the database rejects (say a trigger overflows) cost a halving each:
  // after a chunk with some, try smaller chunks; after a clean one, larger.
  target_ = statements_ - statements > 1 ? std::max<size_t>(target_ / 2, 16)
                                         : std::min(target_ * 2, chunk_size_);
  chunk_.clear();
  chunk_rows_.clear();
  return Status::OK();
}

Result<int64_t> TableFiller::Run() {
  STRATA_RETURN_IF_ERROR(Prepare());
  for (int64_t r = 0; r < options_.rows_per_table; ++r) {
    STRATA_ASSIGN_OR_RETURN(Row row, MakeRow(r, 0));
    chunk_.push_back(std::move(row));
    chunk_rows_.push_back(r);
    if (chunk_.size() >= target_) STRATA_RETURN_IF_ERROR(Flush());
  }
  STRATA_RETURN_IF_ERROR(Flush());
  return options_.rows_per_table;
}

}  // namespace

Result<SeedReport> Seed(Database& db, const SeedOptions& options) {
  if (options.rows_per_table < 0) {
    return Status(Code::kInvalidArgument, "the number of rows per table cannot be negative");
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> all, db.ListTables());
  std::vector<std::string> names = options.tables.empty() ? all : options.tables;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::unique_ptr<SeedSchemaReader> reader = NewSeedSchemaReader(db);
  std::map<std::string, SeedTable> tables;
  SeedReport report;
  for (const std::string& name : names) {
    if (!std::binary_search(all.begin(), all.end(), name)) {
      return Status(Code::kNotFound, fmt::format("there is no table {} to seed (tables: {})", name,
                                                 all.empty() ? "none" : Join(all)));
    }
    STRATA_ASSIGN_OR_RETURN(SeedTable table, reader->ReadTable(name));
    if (!table.partition_of.empty() && options.tables.empty()) {
      // Its rows come through the partitioned table, within its bounds.
      report.skipped.emplace_back(name, "a partition of " + table.partition_of + ", filled through it");
      continue;
    }
    if (!table.module.empty()) {
      if (options.tables.empty()) {
        report.skipped.emplace_back(name, fmt::format("a virtual table ({}), kept by its module", table.module));
        continue;
      }
      return Status(Code::kInvalidArgument,
                    fmt::format("table {} is a virtual table ({}): its module keeps its rows; "
                                "seed the tables it is built from instead", name, table.module));
    }
    STRATA_ASSIGN_OR_RETURN(
        Rows any, db.Query(fmt::format("SELECT 1 FROM {} LIMIT 1", db.QuoteIdent(name))));
    if (!any.empty() && !options.allow_non_empty) {
      return Status(Code::kInvalidArgument,
                    fmt::format("table {} already has rows; seed fills empty tables (pass "
                                "--allow-non-empty to add rows to it anyway)", name));
    }
    tables.emplace(name, std::move(table));
  }
  FkSet nulled;
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> order, FillOrder(tables, nulled));
  auto fill = [&]() -> Status {
    for (const std::string& name : order) {
      TableFiller filler(db, tables.at(name), options, nulled);
      STRATA_ASSIGN_OR_RETURN(int64_t rows, filler.Run());
      STRATA_RETURN_IF_ERROR(reader->AfterFill(tables.at(name)));
      report.rows_per_table.emplace_back(name, rows);
    }
    return Status::OK();
  };
  if (!db.InTransaction()) {
    STRATA_RETURN_IF_ERROR(InTransaction(db, fill));
    return report;
  }
  // Inside the caller's transaction: all or nothing through a savepoint.
  STRATA_RETURN_IF_ERROR(db.Savepoint("strata_seed"));
  Status s = fill();
  if (!s.ok()) {
    db.RollbackToSavepoint("strata_seed").IgnoreError();
    db.ReleaseSavepoint("strata_seed").IgnoreError();
    return s;
  }
  STRATA_RETURN_IF_ERROR(db.ReleaseSavepoint("strata_seed"));
  return report;
}

}  // namespace strata
