// Progress of long snapshot, verify and restore steps, by bytes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace strata::snapshot {

/// Receives progress. Called from one thread at a time.
class Progress {
 public:
  virtual ~Progress() = default;
  /// A new step of about `total` bytes (0: unknown).
  virtual void Start(std::string_view what, uint64_t total) = 0;
  virtual void Advance(uint64_t bytes) = 0;
  /// The step is over (whether it succeeded or not).
  virtual void Done() = 0;
};

/// A bar redrawn in place on `out` at most ten times a second:
///   snapshot  [#########.........]  312.0 MiB / 1.0 GiB  410.2 MiB/s
/// It draws nothing when `out` is not a terminal: scripts and logs see no
/// escape codes and no extra lines. Returns null in that case.
std::unique_ptr<Progress> TerminalProgress(std::FILE* out);

/// The bar's text for `done` of `total` bytes after `seconds`.
std::string RenderBar(std::string_view what, uint64_t done, uint64_t total, double seconds,
                      int width = 24);

}  // namespace strata::snapshot
