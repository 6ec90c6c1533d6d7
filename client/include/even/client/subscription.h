// CatchUpSubscription: every event from a position on, each exactly once, in global order, first
// from history (even-reader) and then live (even-dispatcher's PUB feed), with no gap and no
// duplicate in between (the zguide's Clone pattern; the feed protocol is in schemas/README.md).
//
//   auto sub = client.subscribe(GlobalSeq(checkpoint + 1), {{"account"}, {}},
//                               [&](const RecordedEvent& e) { apply(e); save_checkpoint(e.global_seq); });
//
// How it works: it subscribes to the feed first, and takes the first feed message as the point
// up to which the dispatcher has published; it reads history up to that point through the reader
// (Client::read_all, page by page: a slow handler slows the reads, nothing piles up), then goes on
// with the live events it has buffered meanwhile, dropping those it already handled. Whenever the
// feed shows a gap (a prev pointer above what it handled, a heartbeat head above it, a missed
// heartbeat for a category subscription) or falls silent, it catches up again from the reader,
// from the last position it handled. A filter with exactly one category is applied at the socket
// (topic "ev|<category>|"); other filters take the whole feed and filter here.
//
// Owns one thread and the SUB socket it alone uses; the handler runs on that thread, one event
// at a time. The Client must outlive the subscription.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "even/client/events.h"
#include "even/common/net.h"
#include "even/common/types.h"

namespace even::client {

class Client;

struct SubscriptionOptions {
  // No feed message (event or heartbeat) for this long: reconnect the feed and catch up.
  std::chrono::milliseconds feed_timeout{3000};
  // Live messages buffered while history is read; beyond, the feed drops them and the
  // subscription catches up from the reader instead.
  int receive_hwm = 100000;
  // Wait after a failed history read (reader down) before trying again.
  std::chrono::milliseconds retry_after{200};
};

struct SubscriptionStats {
  std::uint64_t handled = 0;      // events given to the handler
  std::uint64_t from_history = 0; // of which read from the reader
  std::uint64_t catch_ups = 0;    // history reads (the first one included)
  std::uint64_t reconnects = 0;   // feed reconnections after silence
};

class CatchUpSubscription {
 public:
  // Called for each event, in global order, on the subscription's thread. If it throws, the
  // subscription stops (error() tells why); position() is then the last event it handled.
  using Handler = std::function<void(const RecordedEvent&)>;

  // Starts at once: events with global_seq >= from that match `filter`.
  CatchUpSubscription(Client& client, GlobalSeq from, Filter filter, Handler handler, SubscriptionOptions options = {});
  // Stops and joins the thread.
  ~CatchUpSubscription();
  CatchUpSubscription(const CatchUpSubscription&) = delete;
  CatchUpSubscription& operator=(const CatchUpSubscription&) = delete;

  // Thread-safe. Returns when the handler is no longer running.
  void stop();
  // Every event <= position() that matches the filter was handled (thread-safe).
  GlobalSeq position() const { return GlobalSeq(position_.load()); }
  // True once the first catch-up is done and events come from the feed.
  bool live() const { return live_.load(); }
  // Set when the subscription stopped because the handler threw.
  std::exception_ptr error() const;
  SubscriptionStats stats() const;

 private:
  void run();
  bool matches(const RecordedEvent& e) const;
  void handle(const RecordedEvent& e);
  // Reads history (position, upto] and hands it over; position() is upto afterwards.
  // Returns false when stopped first.
  bool catch_up(std::uint64_t upto);

  Client& client_;
  Filter filter_;
  Handler handler_;
  SubscriptionOptions options_;
  std::atomic<std::uint64_t> position_;
  std::atomic<bool> live_{false};
  std::atomic<bool> stop_{false};
  net::Wakeup wakeup_;
  mutable std::mutex mu_;
  std::exception_ptr error_;     // guarded by mu_
  SubscriptionStats stats_;      // guarded by mu_
  std::thread thread_;
};

}  // namespace even::client
