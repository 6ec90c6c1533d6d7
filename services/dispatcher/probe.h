// DispatcherProbe: the dispatcher's metrics (Prometheus, common/include/even/common/metrics.h):
//
//   even_dispatcher_published_events_total     events published on the feed, in global order
//   even_dispatcher_published_position         global sequence of the last event published
//   even_dispatcher_store_head_position        highest global sequence known committed in the store
//   even_dispatcher_lag_events                 head - published position
//   even_dispatcher_events_from_store_total    events read from the store (not pushed by the writer)
//   even_dispatcher_gaps_total                 gaps that needed a store read
//   even_dispatcher_holes_total                ids proven absent and skipped
//   even_dispatcher_duplicates_total           feed events already published (dropped)
//   even_dispatcher_gap_wait_seconds           histogram: how long each gap stayed open (events
//                                              held back); its _sum is the time spent waiting
//   even_dispatcher_heartbeats_total           heartbeats published
//   even_dispatcher_feed_refused_total         feed events the store does not hold
//   even_dispatcher_feed_malformed_total       feed messages that are not one CommittedBatch
//   even_dispatcher_store_errors_total         store errors (retried)
//   even_dispatcher_subscribers                connections to the PUB socket
//
// Counted by the dispatcher's thread; the Registry must outlive the probe.
#pragma once

#include <optional>

#include "dispatcher/feed_publisher.h"
#include "dispatcher/gap_tracker.h"
#include "even/common/metrics.h"

namespace even::dispatcher {

class DispatcherProbe {
 public:
  explicit DispatcherProbe(metrics::Registry& registry);

  // After each event published.
  void published(GlobalSeq position) {
    published_total_.inc();
    published_position_.set(double(position.value()));
  }
  // Once per turn of the loop: the counts kept by the tracker and the publisher, the head and
  // the time with a gap open since the last turn.
  void sync(const GapStats& gaps, const PublisherStats& publisher, GlobalSeq published, bool in_gap,
            std::chrono::steady_clock::time_point now);
  void store_head(GlobalSeq head) {
    if (double(head.value()) > head_.value()) head_.set(double(head.value()));
  }

  metrics::Counter& feed_refused;
  metrics::Counter& feed_malformed;
  metrics::Counter& store_errors;
  metrics::Gauge& subscribers;

 private:
  metrics::Counter& published_total_;
  metrics::Gauge& published_position_;
  metrics::Gauge& head_;
  metrics::Gauge& lag_;
  metrics::Counter& from_store_;
  metrics::Counter& gaps_;
  metrics::Counter& holes_;
  metrics::Counter& duplicates_;
  metrics::Counter& heartbeats_;
  metrics::Histogram& gap_wait_;
  GapStats last_gaps_;
  std::uint64_t last_heartbeats_ = 0;
  std::optional<std::chrono::steady_clock::time_point> gap_since_;
};

}  // namespace even::dispatcher
