// ReaderProbe: the reader's metrics (Prometheus, common/include/even/common/metrics.h), counted by
// the reader's broker thread (ReaderService::run), which sees every request and every reply:
//
//   even_reader_requests_total{kind}         readStream | readAll | readProjection | streamInfo |
//                                            head | malformed
//   even_reader_replies_total                replies (pages, infos, errors) sent to clients
//   even_reader_reply_bytes_total            their bytes
//   even_reader_replies_dropped_total        replies to clients that were gone or not reading
//   even_reader_request_duration_seconds     histogram: from handing a request to a worker to its
//                                            reply (the store read and the page's encoding)
//   even_reader_workers_busy                 workers with a request
//   even_reader_workers                      workers
//
// Rows per page are not counted here: the broker forwards pages without decoding them.
#pragma once

#include "even/common/metrics.h"
#include "even/schemas/reader.capnp.h"

namespace even::reader {

class ReaderProbe {
 public:
  explicit ReaderProbe(metrics::Registry& registry);

  // The kind of the request in `frame` (a ReaderRequest), counted; reads the union's tag only.
  void request(const void* data, std::size_t size);
  void reply(std::size_t bytes, double seconds) {
    replies.inc();
    reply_bytes.inc(bytes);
    duration_.observe(seconds);
  }

  metrics::Counter& replies;
  metrics::Counter& reply_bytes;
  metrics::Counter& dropped;
  metrics::Gauge& workers_busy;
  metrics::Gauge& workers;

 private:
  metrics::Counter* by_kind_[6];  // the union's tags 0..4, then malformed
  metrics::Histogram& duration_;
};

}  // namespace even::reader
