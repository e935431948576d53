// SeedValues: one generated value for a column, from a seeded PRNG.
//
// The first rows of a table walk through each column's edge values (NULL,
// '', unicode, very long text, large blobs, extreme integers and reals, the
// ends of date ranges); later cells take an edge value one time in 32, and
// ordinary values otherwise. Everything follows from the PRNG's seed.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "safety/seed_schema.h"
#include "strata/value.h"

namespace strata {

class SeedValues {
 public:
  /// `rows` is how many rows this run makes for the table: distinct values
  /// for row r on attempt a are built from r + a * rows.
  SeedValues(uint64_t seed, int64_t rows) : rng_(seed), rows_(rows > 0 ? rows : 1) {}

  /// A value for `column` in row `row`. `distinct` asks for a value no other
  /// (row, attempt) gets (the column is part of a unique key); `attempt` > 0
  /// is a retry after a collision or a rejected insert, and takes no edges.
  Value Make(const SeedColumn& column, int64_t row, int attempt, bool distinct);

  /// Uniform in [0, n).
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  std::mt19937_64& rng() { return rng_; }

 private:
  Value Integer(const SeedColumn& c, int64_t key, bool distinct, int edge);
  Value Real(const SeedColumn& c, int edge);
  Value Numeric(const SeedColumn& c, int64_t key, bool distinct, int edge);
  Value Text(const SeedColumn& c, int64_t key, bool distinct, int edge);
  Value Bytes(int64_t key, bool distinct, int edge);
  Value Temporal(const SeedColumn& c, int64_t key, bool distinct, int edge);
  Value Uuid(int64_t key, bool distinct, int edge);
  Value Json(int64_t key, bool distinct, int edge);
  /// How many edge values `c` has besides NULL.
  static int EdgeCount(const SeedColumn& c);

  std::mt19937_64 rng_;
  int64_t rows_;
};

}  // namespace strata
