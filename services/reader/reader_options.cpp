#include "reader/reader_options.h"

namespace even::reader {

namespace po = config::po;

void add_options(po::options_description& desc, ReaderOptions& r) {
  po::options_description section("even-reader: [reader] in the config file, --reader.KEY as flags");
  section.add_options()
      ("reader.workers", po::value(&r.workers)->default_value(r.workers),
       "worker threads, each with its own store connection")
      ("reader.page-max-events", po::value(&r.worker.page.max_events)->default_value(r.worker.page.max_events),
       "events one page may hold, at most")
      ("reader.page-max-bytes", po::value(&r.worker.page.max_bytes)->default_value(r.worker.page.max_bytes),
       "bytes one page may hold, about (a single larger event still goes out alone)")
      ("reader.max-request-bytes", po::value(&r.worker.limits.max_message_bytes)->default_value(std::size_t{1} << 20),
       "largest request accepted; larger ones get a tooLarge error")
      ("reader.recv-hwm", po::value(&r.recv_hwm)->default_value(r.recv_hwm),
       "requests queued in ZeroMQ per client connection until the broker takes them (at once; "
       "see max-requests-in-flight-per-client)")
      ("reader.send-hwm", po::value(&r.send_hwm)->default_value(r.send_hwm),
       "pages queued per client connection before further ones are dropped")
      ("reader.max-requests-in-flight-per-client",
       po::value(&r.max_in_flight_per_client)->default_value(r.max_in_flight_per_client),
       "requests one client connection may have in the reader at once (waiting or being read); one more "
       "is refused 'busy' at once, without a read (the client library retries it after 50 ms)")
      ("reader.replica-wait-ms", po::value(&r.worker.replica_wait_ms)->default_value(r.worker.replica_wait_ms),
       "with replicas in --db-url: how long a read waits for its replica to apply the position the client "
       "needs (read-your-writes) before it reads from the primary instead");
  desc.add(section);
}

void finish_options(const ReaderOptions& r) {
  if (r.workers < 1 || r.workers > 256) throw po::error("--reader.workers must be 1..256");
  if (r.worker.page.max_events < 1 || r.worker.page.max_events > 1000000)
    throw po::error("--reader.page-max-events must be 1..1000000");
  if (r.worker.page.max_bytes < 1024) throw po::error("--reader.page-max-bytes must be at least 1024");
  if (r.worker.limits.max_message_bytes < 1024) throw po::error("--reader.max-request-bytes must be at least 1024");
  if (r.max_in_flight_per_client < 1 || r.max_in_flight_per_client > 1000000)
    throw po::error("--reader.max-requests-in-flight-per-client must be 1..1000000");
  if (r.worker.replica_wait_ms < 0 || r.worker.replica_wait_ms > 60000)
    throw po::error("--reader.replica-wait-ms must be 0..60000");
  if (r.recv_hwm < 0 || r.send_hwm < 0) throw po::error("--reader.recv-hwm and --reader.send-hwm must not be negative");
}

}  // namespace even::reader
