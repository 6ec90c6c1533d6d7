#include "reader/probe.h"

namespace even::reader {

ReaderProbe::ReaderProbe(metrics::Registry& r)
    : replies(r.counter("even_reader_replies_total", "Replies sent to clients (pages, infos, errors)")),
      reply_bytes(r.counter("even_reader_reply_bytes_total", "Bytes of the replies sent to clients")),
      dropped(r.counter("even_reader_replies_dropped_total", "Replies dropped: the client was gone or not reading")),
      refused(r.counter("even_reader_requests_refused_total",
                        "Requests refused busy at once: their client had max-requests-in-flight-per-client "
                        "requests in flight")),
      workers_busy(r.gauge("even_reader_workers_busy", "Read workers with a request")),
      workers(r.gauge("even_reader_workers", "Read workers")),
      replica_waits(r.counter("even_reader_replica_waits_total",
                              "Reads that waited for their replica to apply the position the client needs")),
      primary_fallbacks(r.counter("even_reader_primary_fallbacks_total",
                                  "Reads served by the primary: the replica had not applied the client's position "
                                  "in time")),
      registry_(r),
      duration_(r.histogram("even_reader_request_duration_seconds",
                            "From handing a request to a worker to its reply", metrics::duration_buckets())),
      pages_(r.counter("even_reader_pages_total", "Pages of events served")),
      rows_(r.counter("even_reader_rows_total", "Events (rows) in the pages served")),
      page_bytes_(r.counter("even_reader_page_bytes_total", "Approximate bytes of the events in the pages served")),
      page_rows_(r.histogram("even_reader_page_rows", "Events per page served",
                             {0, 1, 10, 100, 1000, 10000, 100000})) {
  const char* kinds[] = {"readStream", "readAll", "readProjection", "streamInfo", "head", "malformed"};
  for (int i = 0; i < 6; ++i)
    by_kind_[i] = &r.counter("even_reader_requests_total", "Read requests by kind", {{"kind", kinds[i]}});
}

void ReaderProbe::request(int kind) { by_kind_[kind >= 0 && kind < 5 ? kind : 5]->inc(); }

}  // namespace even::reader
