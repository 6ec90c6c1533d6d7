// LogThrottle: at most one log line per period about one kind of bad input, so that a flood of
// it (malformed frames, forged events) cannot flood the log, while the first one is always logged
// and every line says how many occurrences it stands for. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

namespace even::dispatcher {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogThrottle(std::chrono::milliseconds period) : period_(period) {}

  // Counts one occurrence at `now`. Returns how many occurrences a line logged now must report
  // (this one and those not logged since the last line), or 0 when no line may be logged now.
  std::uint64_t note(Clock::time_point now) {
    ++unlogged_;
    if (logged_ && now - last_ < period_) return 0;
    logged_ = true;
    last_ = now;
    return std::exchange(unlogged_, 0);
  }

 private:
  std::chrono::milliseconds period_;
  bool logged_ = false;
  Clock::time_point last_{};
  std::uint64_t unlogged_ = 0;
};

}  // namespace even::dispatcher
