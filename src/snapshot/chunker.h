// Cutting streams into chunks and storing them in order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "snapshot/store.h"
#include "strata/status.h"

namespace strata::snapshot {

/// Cuts a byte stream where its content says: a boundary falls after a byte
/// where a gear rolling hash of the preceding bytes has its low bits zero, so
/// a row inserted into a table stream moves only the chunk around it; every
/// other chunk keeps its bytes and deduplicates. Chunks are between `min`
/// and `max` bytes, `avg` (a power of two) on average.
class ContentChunker {
 public:
  using Emit = std::function<Status(std::string&&)>;
  ContentChunker(size_t min = 64 << 10, size_t avg = 256 << 10, size_t max = 1 << 20);

  /// Appends `data`, calling `emit` with each chunk it completes.
  Status Add(std::string_view data, const Emit& emit);
  /// Emits what is left (nothing for an empty stream).
  Status Finish(const Emit& emit);

 private:
  size_t min_, max_;
  uint64_t mask_;
  uint64_t hash_ = 0;
  std::string buf_;
};

/// Stores chunks on worker threads (hash, compress, write) while the caller
/// reads the next one; results keep the order the chunks were added in.
/// Memory is bounded: Add() waits while 2 chunks per worker are queued.
class ChunkPipeline {
 public:
  ChunkPipeline(SnapshotStore& store, int threads);
  ~ChunkPipeline();
  ChunkPipeline(const ChunkPipeline&) = delete;
  ChunkPipeline& operator=(const ChunkPipeline&) = delete;

  /// A buffer of `size` bytes to fill and Add(): one a worker is done with
  /// when there is one, so its bytes are not allocated and zeroed again.
  std::string Buffer(size_t size);
  /// Queues a chunk. Returns the first failure of any worker so far.
  Status Add(std::string data);
  /// How many chunks were added so far.
  size_t count() const { return next_index_; }
  /// Waits for every queued chunk; the results, in order, or the first failure.
  Result<std::vector<PutResult>> Finish();

 private:
  void Work();

  SnapshotStore& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<size_t, std::string>> queue_;
  std::vector<PutResult> results_;
  std::vector<std::string> spare_;  // buffers workers are done with
  size_t next_index_ = 0;
  size_t in_flight_ = 0;
  size_t max_queued_;
  bool closing_ = false;
  Status error_;
  std::vector<std::thread> workers_;
};

/// Worker threads to use: the machine's cores, at most 4.
int DefaultThreads();

}  // namespace strata::snapshot
