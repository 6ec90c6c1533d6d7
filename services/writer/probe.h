// WriterProbe: the writer's metrics (Prometheus, common/include/even/common/metrics.h), resolved
// once so that counting is a relaxed atomic add. Names and labels:
//
//   even_writer_appends_total{path,result}         path: buffered (expected version any) | serial;
//                                                  result: ok | duplicate (idempotent resend) |
//                                                  conflict (wrong expected version) |
//                                                  bad_request (refused, path "unknown" when the
//                                                  request did not say) | unavailable
//   even_writer_events_committed_total{path}       events written (duplicates are not)
//   even_writer_batch_events                       histogram: events per committed batch
//   even_writer_batch_appends                      histogram: appends per committed batch
//   even_writer_commit_duration_seconds            histogram: one batch's transaction
//   even_writer_queue_depth                        appends accepted and not yet answered
//   even_writer_master                             1 while this writer is master, else 0
//   even_writer_standby                            1 while it waits for the master lock
//   even_writer_store_reconnects_total             store connections lost and made again
//   even_writer_unknown_outcome_replays_total      batches whose commit outcome was unknown
//                                                  (connection lost) and asked of the store again
//   even_writer_semisync                           1 while commits wait for a replica's ack
//                                                  (semi-sync on), 0 when off or fallen back to async
//   even_writer_feed_dropped_total                 feed messages dropped (dispatcher queue full)
//
// Any thread may count; the Registry must outlive the probe.
#pragma once

#include "even/common/metrics.h"

namespace even::writer {

enum class AppendResult { ok, duplicate, conflict, bad_request, unavailable };
inline constexpr int kAppendResults = 5;
enum class AppendPath { buffered, serial, unknown };
inline constexpr int kAppendPaths = 3;

class WriterProbe {
 public:
  explicit WriterProbe(metrics::Registry& registry);

  void append(AppendPath path, AppendResult result) { appends_[int(path)][int(result)]->inc(); }
  // `path` is buffered or serial.
  void committed(AppendPath path, std::uint64_t events) { events_[int(path)]->inc(events); }
  void batch(std::size_t appends, std::size_t events, double seconds) {
    batch_appends_.observe(double(appends));
    batch_events_.observe(double(events));
    commit_seconds_.observe(seconds);
  }

  metrics::Gauge& queue_depth;
  metrics::Gauge& master;
  metrics::Gauge& standby;
  metrics::Counter& store_reconnects;
  metrics::Counter& unknown_outcome_replays;
  metrics::Gauge& semisync;
  metrics::Counter& feed_dropped;

 private:
  metrics::Counter* appends_[kAppendPaths][kAppendResults];
  metrics::Counter* events_[kAppendPaths];
  metrics::Histogram& batch_appends_;
  metrics::Histogram& batch_events_;
  metrics::Histogram& commit_seconds_;
};

}  // namespace even::writer
