#include "snapshot/chunker.h"

#include <algorithm>
#include <array>
#include <bit>

namespace strata::snapshot {
namespace {

/// 256 fixed pseudo-random words (splitmix64): the gear hash's table. They
/// must never change, or new snapshots would stop sharing chunks with old ones.
const std::array<uint64_t, 256>& GearTable() {
  static const std::array<uint64_t, 256> table = [] {
    std::array<uint64_t, 256> t{};
    uint64_t x = 0x5354524154413031ULL;  // "STRATA01"
    for (auto& v : t) {
      x += 0x9e3779b97f4a7c15ULL;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      v = z ^ (z >> 31);
    }
    return t;
  }();
  return table;
}

}  // namespace

int DefaultThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 1u, 4u));
}

ContentChunker::ContentChunker(size_t min, size_t avg, size_t max)
    : min_(min), max_(max), mask_(std::bit_ceil(avg) - 1) {
  // The mask's bits sit high in the word: the gear hash mixes them best.
  mask_ <<= (64 - std::bit_width(mask_));
}

Status ContentChunker::Add(std::string_view data, const Emit& emit) {
  const auto& gear = GearTable();
  while (!data.empty()) {
    size_t cut = std::string_view::npos;
    size_t i = 0;
    size_t have = buf_.size();
    for (; i < data.size(); ++i) {
      hash_ = (hash_ << 1) + gear[static_cast<unsigned char>(data[i])];
      size_t len = have + i + 1;
      if (len >= max_ || (len >= min_ && (hash_ & mask_) == 0)) {
        cut = i + 1;
        break;
      }
    }
    if (cut == std::string_view::npos) {
      buf_.append(data);
      return Status::OK();
    }
    buf_.append(data.substr(0, cut));
    data.remove_prefix(cut);
    hash_ = 0;
    std::string chunk;
    chunk.swap(buf_);
    STRATA_RETURN_IF_ERROR(emit(std::move(chunk)));
  }
  return Status::OK();
}

Status ContentChunker::Finish(const Emit& emit) {
  hash_ = 0;
  if (buf_.empty()) return Status::OK();
  std::string chunk;
  chunk.swap(buf_);
  return emit(std::move(chunk));
}

ChunkPipeline::ChunkPipeline(SnapshotStore& store, int threads)
    : store_(store), max_queued_(2 * std::max(threads, 1)) {
  for (int i = 0; i < std::max(threads, 1); ++i) workers_.emplace_back([this] { Work(); });
}

ChunkPipeline::~ChunkPipeline() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

std::string ChunkPipeline::Buffer(size_t size) {
  std::string buf;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!spare_.empty()) {
      buf = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  buf.resize(size);  // zero-fills only what the buffer did not have
  return buf;
}

Status ChunkPipeline::Add(std::string data) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return queue_.size() < max_queued_ || !error_.ok(); });
  if (!error_.ok()) return error_;
  results_.emplace_back();
  queue_.emplace_back(next_index_++, std::move(data));
  cv_.notify_all();
  return Status::OK();
}

void ChunkPipeline::Work() {
  for (;;) {
    std::pair<size_t, std::string> item;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;
      item = std::move(queue_.front());
      queue_.pop_front();
      ++in_flight_;
    }
    cv_.notify_all();
    auto put = store_.PutChunk(item.second);
    std::lock_guard<std::mutex> l(mu_);
    if (spare_.size() < max_queued_) spare_.push_back(std::move(item.second));
    if (put.ok()) {
      results_[item.first] = std::move(put).value();
    } else if (error_.ok()) {
      error_ = put.status();
      queue_.clear();
    }
    --in_flight_;
    cv_.notify_all();
  }
}

Result<std::vector<PutResult>> ChunkPipeline::Finish() {
  std::unique_lock<std::mutex> l(mu_);
  // After a failure the queue is dropped; the chunks in flight are waited
  // for, so none is written after Finish returns.
  cv_.wait(l, [&] { return queue_.empty() && in_flight_ == 0; });
  if (!error_.ok()) return error_;
  return std::move(results_);
}

}  // namespace strata::snapshot
