#include "writer/probe.h"

namespace even::writer {

namespace {

const char* const kPaths[kAppendPaths] = {"buffered", "serial", "unknown"};
const char* const kResults[kAppendResults] = {"ok", "duplicate", "conflict", "bad_request", "unavailable"};

std::vector<double> size_buckets() { return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}; }

}  // namespace

WriterProbe::WriterProbe(metrics::Registry& r)
    : queue_depth(r.gauge("even_writer_queue_depth", "Appends accepted by the writer and not yet answered")),
      master(r.gauge("even_writer_master", "1 while this writer holds the master lock and serves appends")),
      standby(r.gauge("even_writer_standby", "1 while this writer waits for the master lock as a standby")),
      store_reconnects(
          r.counter("even_writer_store_reconnects_total", "Store connections lost while master and made again")),
      unknown_outcome_replays(r.counter("even_writer_unknown_outcome_replays_total",
                                        "Batches whose commit outcome was unknown (connection lost), replayed with "
                                        "the idempotency check")),
      semisync(r.gauge("even_writer_semisync",
                       "1 while the store's commits wait for a replica (Rpl_semi_sync_master_status ON), else 0")),
      feed_dropped(r.counter("even_writer_feed_dropped_total",
                             "Feed messages to the dispatcher dropped on a full queue (it reads the store)")),
      batch_appends_(r.histogram("even_writer_batch_appends", "Appends per committed batch", size_buckets())),
      batch_events_(r.histogram("even_writer_batch_events", "Events per committed batch", size_buckets())),
      commit_seconds_(r.histogram("even_writer_commit_duration_seconds",
                                  "Duration of one batch's transaction, retries included", metrics::duration_buckets())) {
  for (int p = 0; p < kAppendPaths; ++p) {
    for (int res = 0; res < kAppendResults; ++res)
      appends_[p][res] = &r.counter("even_writer_appends_total", "Appends answered, by path and result",
                                    {{"path", kPaths[p]}, {"result", kResults[res]}});
    // An append that did not say its path was refused: it never commits events.
    events_[p] = p == int(AppendPath::unknown)
                     ? nullptr
                     : &r.counter("even_writer_events_committed_total", "Events committed (written) by the writer",
                                  {{"path", kPaths[p]}});
  }
}

}  // namespace even::writer
