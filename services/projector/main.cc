// even-projector: runs projections into query databases. See services/projector/README.md.
#include "even/common/config.h"
#include "even/common/metrics_http.h"
#include "projector/projector_options.h"
#include "projector/projector_service.h"

namespace {

int projector_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions store_db;
  config::LogOptions log_options;
  projector::ProjectorOptions p;
  std::string projections_file;
  std::string metrics_endpoint, section_metrics_endpoint;

  po::options_description desc("even-projector: shared keys, at the top of the config file");
  desc.add_options()
      ("reader-endpoint", po::value(&p.client.reader_endpoint)->default_value(p.client.reader_endpoint),
       "even-reader's address (history)")
      ("dispatcher-pub-endpoint", po::value(&p.client.feed_endpoint)->default_value(p.client.feed_endpoint),
       "even-dispatcher's PUB address (live events)");
  projector::add_shared_options(desc, p, projections_file);
  config::add_db_options(desc, store_db);
  config::add_log_options(desc, log_options);
  config::add_security_options(desc, p.client.security);
  projector::add_options(desc, p);
  config::add_metrics_options(desc, config::kProjectorSection, metrics_endpoint, section_metrics_endpoint);
  auto parsed = config::parse_services(argc, argv, desc,
                                       "even-projector: runs projections into query databases.\n"
                                       "Usage: even-projector [--config FILE] --projections FILE [options]",
                                       {config::kProjectorSection});
  if (!parsed) return 0;
  projector::finish_options(parsed->vm, store_db, p);
  config::check_client_keys(p.client.security, p.client.reader_endpoint, config::Server::reader, "reader-endpoint");
  config::check_client_keys(p.client.security, p.client.feed_endpoint, config::Server::dispatcher,
                            "dispatcher-pub-endpoint");

  auto log = config::make_logger("projector", log_options);
  for (const auto& warning : parsed->warnings) log->warn("{}", warning);
  if (p.client.security.insecure)
    log->warn("--insecure: plain TCP to the reader and the dispatcher, no encryption and no authentication");
  metrics::ProcessMetrics process(metrics_endpoint.empty() ? section_metrics_endpoint : metrics_endpoint, true);
  if (process.server) log->info("metrics on http://{}/metrics", process.server->endpoint());
  p.metrics = process.registry;
  p.notifier = process.notifier;
  projector::ProjectorService service(p, log);
  if (!projections_file.empty()) service.add_config(projector::load_projector_config(projections_file));
  return service.run();
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-projector", projector_main, argc, argv); }
