#include "snapshot/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "snapshot/store.h"

namespace strata::snapshot {
namespace {

using Clock = std::chrono::steady_clock;

class Bar : public Progress {
 public:
  explicit Bar(std::FILE* out) : out_(out) {}
  ~Bar() override { Done(); }

  void Start(std::string_view what, uint64_t total) override {
    Done();
    what_ = what;
    total_ = total;
    done_ = 0;
    start_ = Clock::now();
    last_ = Clock::time_point{};
    active_ = true;
    Draw(true);
  }
  void Advance(uint64_t bytes) override {
    done_ += bytes;
    Draw(false);
  }
  void Done() override {
    if (!active_) return;
    Draw(true);
    fmt::print(out_, "\n");
    std::fflush(out_);
    active_ = false;
  }

 private:
  void Draw(bool force) {
    auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    fmt::print(out_, "\r{}\x1b[K", RenderBar(what_, done_, total_, seconds));
    std::fflush(out_);
  }

  std::FILE* out_;
  std::string what_;
  uint64_t total_ = 0, done_ = 0;
  Clock::time_point start_, last_;
  bool active_ = false;
};

}  // namespace

std::string RenderBar(std::string_view what, uint64_t done, uint64_t total, double seconds,
                      int width) {
  std::string bar;
  if (total > 0) {
    int filled = static_cast<int>(std::min<uint64_t>(done, total) * width / total);
    bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]  ";
  }
  std::string rate = seconds > 0.05 ? FormatBytes(static_cast<uint64_t>(done / seconds)) + "/s"
                                    : "";
  std::string amount = total > 0 ? FormatBytes(done) + " / " + FormatBytes(total) : FormatBytes(done);
  return fmt::format("{:<9} {}{}  {}", what, bar, amount, rate);
}

std::unique_ptr<Progress> TerminalProgress(std::FILE* out) {
  if (!isatty(fileno(out))) return nullptr;
  return std::make_unique<Bar>(out);
}

}  // namespace strata::snapshot
