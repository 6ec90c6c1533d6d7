// even-reader: serves reads from the event store (or a replica of it). See services/reader/README.md.
#include <malloc.h>

#include <algorithm>

#include "even/common/config.h"
#include "even/common/store/schema.h"
#include "reader/reader_service.h"

namespace {

int reader_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions db;
  config::LogOptions log_options;
  reader::ReaderOptions r;
  std::size_t max_message_bytes = 1u << 20;

  po::options_description desc("even-reader options");
  desc.add_options()
      ("reader-endpoint", po::value(&r.endpoint)->default_value(r.endpoint),
       "ROUTER address clients read from (ZeroMQ endpoint)")
      ("workers", po::value(&r.workers)->default_value(r.workers),
       "worker threads, each with its own store connection")
      ("page-max-events", po::value(&r.worker.page.max_events)->default_value(r.worker.page.max_events),
       "events one page may hold, at most")
      ("page-max-bytes", po::value(&r.worker.page.max_bytes)->default_value(r.worker.page.max_bytes),
       "bytes one page may hold, about (a single larger event still goes out alone)")
      ("max-request-bytes", po::value(&max_message_bytes)->default_value(max_message_bytes),
       "largest request accepted; larger ones get a tooLarge error")
      ("recv-hwm", po::value(&r.recv_hwm)->default_value(r.recv_hwm),
       "requests queued per client connection while every worker is busy")
      ("send-hwm", po::value(&r.send_hwm)->default_value(r.send_hwm),
       "pages queued per client connection before further ones are dropped");
  config::add_db_options(desc, db);
  config::add_log_options(desc, log_options);
  auto vm = config::parse(argc, argv, desc,
                          "even-reader: serves reads of an Even event store (it only reads: it may use a replica).\n"
                          "Usage: even-reader [--config FILE] [options]");
  if (!vm) return 0;
  if (r.workers < 1 || r.workers > 256) throw po::error("--workers must be 1..256");
  if (r.worker.page.max_events < 1 || r.worker.page.max_events > 1000000)
    throw po::error("--page-max-events must be 1..1000000");
  if (r.worker.page.max_bytes < 1024) throw po::error("--page-max-bytes must be at least 1024");
  r.worker.limits.max_message_bytes = max_message_bytes;

  // Every page is encoded into a fresh frame of up to --page-max-bytes that ZeroMQ frees after
  // sending: keep such blocks on the heap instead of mmap/munmap (and page faults) per page.
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<std::size_t>(r.worker.page.max_bytes * 4 + (1u << 20), 1u << 30)));
  ::mallopt(M_TRIM_THRESHOLD, 256 << 20);

  auto log = config::make_logger("reader", log_options);
  zmq::context_t ctx(1);
  reader::ReaderService service(ctx, db, r, log);
  return service.run();
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-reader", reader_main, argc, argv); }
