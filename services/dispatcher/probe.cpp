#include "dispatcher/probe.h"

namespace even::dispatcher {

DispatcherProbe::DispatcherProbe(metrics::Registry& r)
    : feed_refused(r.counter("even_dispatcher_feed_refused_total", "Feed events refused: the store does not hold them")),
      feed_malformed(r.counter("even_dispatcher_feed_malformed_total",
                               "Feed messages dropped for not being one well-formed CommittedBatch")),
      store_errors(r.counter("even_dispatcher_store_errors_total", "Store errors of the dispatcher (retried)")),
      subscribers(r.gauge("even_dispatcher_subscribers", "Connections to the dispatcher's PUB socket")),
      published_total_(r.counter("even_dispatcher_published_events_total", "Events published on the feed")),
      published_position_(
          r.gauge("even_dispatcher_published_position", "Global sequence of the last event published")),
      head_(r.gauge("even_dispatcher_store_head_position",
                    "Highest global sequence the dispatcher knows committed in the store")),
      lag_(r.gauge("even_dispatcher_lag_events", "Store head minus the last published position")),
      from_store_(r.counter("even_dispatcher_events_from_store_total",
                            "Events published from store reads rather than the writer's feed")),
      gaps_(r.counter("even_dispatcher_gaps_total", "Gaps in the feed that needed a store read")),
      holes_(r.counter("even_dispatcher_holes_total", "Global sequences proven absent (holes) and skipped")),
      duplicates_(r.counter("even_dispatcher_duplicates_total", "Feed events already published, dropped")),
      heartbeats_(r.counter("even_dispatcher_heartbeats_total", "Heartbeats published")),
      gap_wait_(r.histogram("even_dispatcher_gap_wait_seconds",
                            "How long each gap held events back before it was filled or proven a hole",
                            metrics::duration_buckets())) {}

void DispatcherProbe::sync(const GapStats& g, const PublisherStats& p, GlobalSeq published, bool in_gap,
                           std::chrono::steady_clock::time_point now) {
  from_store_.inc(g.from_store - last_gaps_.from_store);
  gaps_.inc(g.gaps - last_gaps_.gaps);
  holes_.inc(g.holes - last_gaps_.holes);
  duplicates_.inc(g.duplicates - last_gaps_.duplicates);
  last_gaps_ = g;
  heartbeats_.inc(p.heartbeats - last_heartbeats_);
  last_heartbeats_ = p.heartbeats;
  store_head(published);
  lag_.set(head_.value() - double(published.value()));
  if (in_gap && !gap_since_) gap_since_ = now;
  if (!in_gap && gap_since_) {
    gap_wait_.observe(std::chrono::duration<double>(now - *gap_since_).count());
    gap_since_.reset();
  }
}

}  // namespace even::dispatcher
