// FeedPublisher: encodes events and heartbeats for the PUB socket (schemas/feed.capnp, topics in
// even/common/feed.h and schemas/README.md "Feed"): the previous published event, the previous
// one of the same category, and per heartbeat the categories that moved since the previous one.
//
// Uses (does not own) the dispatcher's PUB socket; called on the dispatcher's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>

#include <spdlog/logger.h>
#include <zmq.hpp>

#include "dispatcher/gap_store.h"
#include "even/common/event.h"
#include "even/common/types.h"

namespace even::dispatcher {

struct PublisherOptions {
  std::size_t max_category_heads = 1000;   // per heartbeat; more: categoryHeadsComplete = false
  std::size_t max_known_categories = 100000;  // cache of each category's last event; re-read when evicted
  std::uint64_t test_drop_every = 0;       // test switch: do not send every Nth event (0: off)
};

struct PublisherStats {
  std::uint64_t events = 0;
  std::uint64_t heartbeats = 0;
  std::uint64_t dropped = 0;       // PUB refused (cannot happen with PUB; kept for XPUB/other sockets)
  std::uint64_t test_dropped = 0;  // dropped on purpose by test_drop_every
};

class FeedPublisher {
 public:
  // `pub` and `store` must outlive the publisher.
  FeedPublisher(zmq::socket_t& pub, GapStore& store, PublisherOptions options);

  // Everything <= `head` is published (the dispatcher resumed there).
  void reset(GlobalSeq head);
  // Publishes `e`, the next event in global order. May throw a store error (before sending)
  // while it looks up the category's previous event.
  void publish(const RecordedEvent& e);
  // Publishes a heartbeat saying everything up to the last published event is out.
  void heartbeat();

  GlobalSeq head() const { return GlobalSeq(last_); }
  std::uint64_t epoch() const { return epoch_; }
  const PublisherStats& stats() const { return stats_; }

 private:
  zmq::socket_t& pub_;
  GapStore& store_;
  PublisherOptions options_;
  std::uint64_t last_ = 0;  // the last published global seq
  std::uint64_t epoch_;
  std::uint64_t heartbeat_seq_ = 0;
  std::unordered_map<std::string, std::uint64_t> last_in_category_;
  std::unordered_map<std::string, std::uint64_t> moved_since_heartbeat_;
  bool moved_overflow_ = false;
  PublisherStats stats_;
};

}  // namespace even::dispatcher
