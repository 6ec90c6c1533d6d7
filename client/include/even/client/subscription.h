// CatchUpSubscription: every event from a position on, each exactly once, in global order, first
// from history (even-reader) and then live (even-dispatcher's PUB feed), with no gap and no
// duplicate in between (the zguide's Clone pattern; the feed protocol is in schemas/README.md).
//
//   auto sub = client.subscribe(GlobalSeq(checkpoint + 1), {{"account"}, {}},
//                               [&](const RecordedEvent& e) { apply(e); save_checkpoint(e.global_seq); });
//
// How it works: it subscribes to the feed first and, at once, reads history through the reader
// (Client::read_all, page by page: a slow handler slows the reads, nothing piles up) up to the
// store's head; then it goes on with the live events the feed buffered meanwhile, dropping those
// it already handled. Whenever the feed shows a gap (a prev pointer above what it handled, a
// heartbeat head above it, a missed heartbeat for a category subscription) it catches up from
// the reader, from the last position it handled, up to the position the feed vouched for.
//
// While the feed says nothing (at start until its first message; after `feed_timeout` without
// one: the dispatcher is down or `feed_endpoint` is wrong) the subscription follows the store
// through the reader instead: every `store_poll_interval` it reads the head and, once that head
// is `store_settle` old, delivers everything up to it. After `feed_timeout` of silence the state
// becomes feed_unreachable (state(), `on_state_change`); when the feed speaks
// again its prev pointers and heartbeats take over from the position reached, so the switch
// loses nothing and repeats nothing. Reading up to a head taken from the store relies on the
// single writer of the brief (an event visible at n means every id below n is committed or a
// hole for good; services/dispatcher/README.md, "The hole rule", has the limit); the settle time
// adds the dispatcher's margin for the instant between an id being taken and its row inserted.
//
// A filter with exactly one category is applied at the socket (topic "ev|<category>|"); other
// filters take the whole feed and filter here.
//
// Owns one thread and the SUB socket it alone uses; the handler and on_state_change run on that
// thread, one call at a time. The Client must outlive the subscription.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "even/client/events.h"

namespace even::client {

class Client;

// What a subscription is doing (CatchUpSubscription::state(), SubscriptionOptions::on_state_change).
enum class SubscriptionState {
  catching_up,       // reading history from the reader; the feed has not spoken yet (the start)
  live,              // following the feed (gaps it shows are filled from the reader)
  feed_unreachable,  // no feed message for feed_timeout: following the store through the reader
  stopped,           // stop() was called or the handler threw (error())
};
const char* to_string(SubscriptionState state);

struct SubscriptionOptions {
  // No feed message (event or heartbeat; the dispatcher sends one every --dispatcher.heartbeat-ms) for this
  // long: the feed is unreachable. The SUB socket is then reconnected every feed_timeout.
  std::chrono::milliseconds feed_timeout{3000};
  // While the feed is silent, how often the reader is asked for the store's head.
  std::chrono::milliseconds store_poll_interval{500};
  // A head read from the store is caught up to once it is this old (the dispatcher's
  // --dispatcher.hole-settle-ms): ids are taken at INSERT, rows appear an instant later.
  std::chrono::milliseconds store_settle{100};
  // Live messages buffered while history is read; beyond, the feed drops them and the
  // subscription catches up from the reader instead.
  int receive_hwm = 100000;
  // Wait after a failed history read (reader down) before trying again.
  std::chrono::milliseconds retry_after{200};
  // Called at each change of state() (not for the first state, catching_up) with the new state
  // and why (e.g. which endpoint is silent), on the subscription's thread; it must not block for
  // long nor destroy the subscription. This is where an application logs them (evenctl tail
  // prints them on stderr).
  std::function<void(SubscriptionState state, const std::string& detail)> on_state_change;
};

struct SubscriptionStats {
  std::uint64_t handled = 0;      // events given to the handler
  std::uint64_t from_history = 0; // of which read from the reader
  std::uint64_t catch_ups = 0;    // history reads (the first one included)
  std::uint64_t reconnects = 0;   // feed reconnections after silence
  std::uint64_t store_polls = 0;  // heads read from the store while the feed was silent
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
  GlobalSeq position() const;
  // What it is doing now (thread-safe).
  SubscriptionState state() const;
  // state() == live: history is caught up and events come from the feed.
  bool live() const { return state() == SubscriptionState::live; }
  // Set when the subscription stopped because the handler threw.
  std::exception_ptr error() const;
  SubscriptionStats stats() const;

 private:
  class Impl;  // the thread, the SUB socket and the catch-up logic (client/src/subscription.cpp)
  std::unique_ptr<Impl> impl_;
};

}  // namespace even::client
