#include "reader/probe.h"

#include <capnp/serialize.h>

#include <cstring>

namespace even::reader {

ReaderProbe::ReaderProbe(metrics::Registry& r)
    : replies(r.counter("even_reader_replies_total", "Replies sent to clients (pages, infos, errors)")),
      reply_bytes(r.counter("even_reader_reply_bytes_total", "Bytes of the replies sent to clients")),
      dropped(r.counter("even_reader_replies_dropped_total", "Replies dropped: the client was gone or not reading")),
      workers_busy(r.gauge("even_reader_workers_busy", "Read workers with a request")),
      workers(r.gauge("even_reader_workers", "Read workers")),
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

void ReaderProbe::request(const void* data, std::size_t size) {
  int kind = 5;
  if (size >= 8 && size % 8 == 0) {
    // The frame's words, copied only when unaligned (requests are small); a bad message is
    // "malformed" here and answered as such by the worker.
    std::unique_ptr<capnp::word[]> copy;
    const capnp::word* words = static_cast<const capnp::word*>(data);
    if (reinterpret_cast<std::uintptr_t>(data) % alignof(capnp::word) != 0) {
      copy = std::make_unique<capnp::word[]>(size / 8);
      std::memcpy(copy.get(), data, size);
      words = copy.get();
    }
    try {
      capnp::ReaderOptions options;
      options.traversalLimitInWords = 1 << 16;
      capnp::FlatArrayMessageReader reader(kj::arrayPtr(words, size / 8), options);
      const auto which = static_cast<int>(reader.getRoot<schema::ReaderRequest>().which());
      if (which >= 0 && which < 5) kind = which;
    } catch (const kj::Exception&) {
    }
  }
  by_kind_[kind]->inc();
}

}  // namespace even::reader
