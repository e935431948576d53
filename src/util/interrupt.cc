#include "util/interrupt.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

namespace strata {
namespace {

struct State {
  std::mutex mu;  // guards reason and hooks, and is held while hooks run
  std::atomic<bool> requested{false};
  std::string reason;
  std::vector<const std::function<void()>*> hooks;
};

State& TheState() {
  static State state;
  return state;
}

}  // namespace

void Interrupt::Request(std::string reason) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.requested.exchange(true)) return;
  s.reason = std::move(reason);
  for (const auto* cancel : s.hooks) (*cancel)();
}

bool Interrupt::Requested() { return TheState().requested.load(); }

std::string Interrupt::Describe() {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.requested ? "interrupted (" + s.reason + ")" : "";
}

Interrupt::Hook::Hook(std::function<void()> cancel) : cancel_(std::move(cancel)) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  s.hooks.push_back(&cancel_);
}

Interrupt::Hook::~Hook() {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  s.hooks.erase(std::remove(s.hooks.begin(), s.hooks.end(), &cancel_), s.hooks.end());
}

}  // namespace strata
