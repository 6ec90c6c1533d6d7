// ReaderProbe: the reader's metrics (Prometheus, common/include/even/common/metrics.h), counted by
// the reader's broker thread (ReaderService::run), which sees every request and every reply:
//
//   even_reader_requests_total{kind}         readStream | readAll | readProjection | streamInfo |
//                                            head | malformed
//   even_reader_replies_total                replies (pages, infos, errors) sent to clients
//   even_reader_reply_bytes_total            their bytes
//   even_reader_replies_dropped_total        replies to clients that were gone or not reading
//   even_reader_requests_refused_total       requests refused `busy` at once, without a read: their
//                                            client (connection) had --reader.max-requests-in-
//                                            flight-per-client requests in flight (also counted
//                                            in requests_total and replies_total)
//   even_reader_request_duration_seconds     histogram: from handing a request to a worker to its
//                                            reply (the store read and the page's encoding)
//   even_reader_workers_busy                 workers with a request
//   even_reader_workers                      workers
//
// and, counted by the workers (ReadWorker::handle) where they build a page, since the broker
// forwards pages without decoding them:
//
//   even_reader_pages_total                  pages served (stream, $all, category, event type
//                                            and projection-stream reads)
//   even_reader_rows_total                   events (rows) in those pages
//   even_reader_page_rows                    histogram: events per page
//   even_reader_page_bytes_total             the events' approximate bytes in those pages
//
// and, with replicas in --db-url (read_worker.h, "Replicas"):
//
//   even_reader_replica_lag_seconds{replica} Seconds_Behind_Master of each replica read from,
//                                            sampled every second by idle workers (-1: stopped)
//   even_reader_replica_waits_total          reads that waited for their replica to apply the
//                                            client's position (read-your-writes)
//   even_reader_primary_fallbacks_total      reads served by the primary: the replica had not
//                                            applied the position within --reader.replica-wait-ms
#pragma once

#include "even/common/metrics.h"
#include "even/schemas/reader.capnp.h"

namespace even::reader {

// Thread-safe: the broker counts requests and replies, the workers count pages.
class ReaderProbe {
 public:
  explicit ReaderProbe(metrics::Registry& registry);

  // A request of `kind` (RequestHead::kind, read_request.h: the union's tag, -1 = malformed).
  void request(int kind);
  void reply(std::size_t bytes, double seconds) {
    replies.inc();
    reply_bytes.inc(bytes);
    duration_.observe(seconds);
  }
  // The busy reply to a request refused at once: a reply, but not in the duration histogram (no
  // worker had it).
  void refused_reply(std::size_t bytes) {
    refused.inc();
    replies.inc();
    reply_bytes.inc(bytes);
  }
  // A page of `rows` events of about `bytes` bytes was built. Any worker thread.
  void page(std::size_t rows, std::size_t bytes) {
    pages_.inc();
    rows_.inc(rows);
    page_bytes_.inc(bytes);
    page_rows_.observe(double(rows));
  }

  metrics::Counter& replies;
  metrics::Counter& reply_bytes;
  metrics::Counter& dropped;
  metrics::Counter& refused;
  metrics::Gauge& workers_busy;
  metrics::Gauge& workers;
  metrics::Counter& replica_waits;
  metrics::Counter& primary_fallbacks;
  // The lag gauge of the replica at `url`. Any worker thread.
  metrics::Gauge& replica_lag(const std::string& url) {
    return registry_.gauge("even_reader_replica_lag_seconds",
                           "Seconds_Behind_Master of a replica the workers read from (-1: not replicating)",
                           {{"replica", url}});
  }

 private:
  metrics::Registry& registry_;
  metrics::Counter* by_kind_[6];  // the union's tags 0..4, then malformed
  metrics::Histogram& duration_;
  metrics::Counter& pages_;
  metrics::Counter& rows_;
  metrics::Counter& page_bytes_;
  metrics::Histogram& page_rows_;
};

}  // namespace even::reader
