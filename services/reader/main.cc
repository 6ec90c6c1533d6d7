// even-reader: serves reads from the event store (or a replica of it). See services/reader/README.md.
#include <malloc.h>

#include <algorithm>

#include "even/common/config.h"
#include "even/common/metrics_http.h"
#include "even/common/store/schema.h"
#include "reader/reader_options.h"
#include "reader/reader_service.h"

namespace {

int reader_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions db;
  config::LogOptions log_options;
  reader::ReaderOptions r;
  std::string metrics_endpoint, section_metrics_endpoint;
  curve::Options security;

  po::options_description desc("even-reader: shared keys, at the top of the config file");
  desc.add_options()
      ("reader-endpoint", po::value(&r.endpoint)->default_value(r.endpoint),
       "ROUTER address clients read from (ZeroMQ endpoint)");
  config::add_db_options(desc, db);
  config::add_log_options(desc, log_options);
  config::add_security_options(desc, security);
  reader::add_options(desc, r);
  config::add_metrics_options(desc, config::kReaderSection, metrics_endpoint, section_metrics_endpoint);
  auto parsed = config::parse_services(
      argc, argv, desc,
      "even-reader: serves reads of an Even event store (it only reads: it may use a replica).\n"
      "Usage: even-reader [--config FILE] [options]",
      {config::kReaderSection});
  if (!parsed) return 0;
  reader::finish_options(r);
  config::check_server_keys(security, r.endpoint, "reader-endpoint");

  // Every page is encoded into a fresh frame of up to --reader.page-max-bytes that ZeroMQ frees after
  // sending: keep such blocks on the heap instead of mmap/munmap (and page faults) per page.
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<std::size_t>(r.worker.page.max_bytes * 4 + (1u << 20), 1u << 30)));
  ::mallopt(M_TRIM_THRESHOLD, 256 << 20);

  auto log = config::make_logger("reader", log_options);
  for (const auto& warning : parsed->warnings) log->warn("{}", warning);
  metrics::ProcessMetrics process(metrics_endpoint.empty() ? section_metrics_endpoint : metrics_endpoint, true);
  if (process.server) log->info("metrics on http://{}/metrics", process.server->endpoint());
  r.metrics = process.registry;
  r.notifier = process.notifier;
  zmq::context_t ctx(1);
  // Before any socket binds: without its ZAP handler, a CURVE server lets every client in.
  r.auth = zap::start_for(ctx, security, curve::load(security), {r.endpoint}, log, process.registry);
  reader::ReaderService service(ctx, db, r, log);
  return service.run();
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-reader", reader_main, argc, argv); }
