// even-dispatcher: publishes committed events in global order. See services/dispatcher/README.md.
#include "dispatcher/dispatcher_options.h"
#include "dispatcher/dispatcher_service.h"
#include "even/common/config.h"
#include "even/common/metrics_http.h"

namespace {

int dispatcher_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions db;
  config::LogOptions log_options;
  dispatcher::DispatcherOptions d;
  std::string metrics_endpoint, section_metrics_endpoint;
  curve::Options security;

  po::options_description desc("even-dispatcher: shared keys, at the top of the config file");
  desc.add_options()
      ("dispatcher-pull-endpoint", po::value(&d.pull_endpoint)->default_value(d.pull_endpoint),
       "PULL address the writer pushes committed events to (bind)")
      ("dispatcher-pub-endpoint", po::value(&d.pub_endpoint)->default_value(d.pub_endpoint),
       "PUB address subscribers connect to (bind)");
  config::add_db_options(desc, db);
  config::add_log_options(desc, log_options);
  config::add_security_options(desc, security);
  dispatcher::add_options(desc, d);
  config::add_metrics_options(desc, config::kDispatcherSection, metrics_endpoint, section_metrics_endpoint);
  auto parsed = config::parse_services(argc, argv, desc,
                                       "even-dispatcher: publishes committed events in global order.\n"
                                       "Usage: even-dispatcher [--config FILE] [options]",
                                       {config::kDispatcherSection});
  if (!parsed) return 0;
  dispatcher::finish_options(d);
  config::check_server_keys(security, d.pull_endpoint, "dispatcher-pull-endpoint");
  config::check_server_keys(security, d.pub_endpoint, "dispatcher-pub-endpoint");

  auto log = config::make_logger("dispatcher", log_options);
  for (const auto& warning : parsed->warnings) log->warn("{}", warning);
  if (d.publisher.test_drop_every > 0)
    log->warn("TEST SWITCH --dispatcher.test-drop-every {}: every {}th event is not sent", d.publisher.test_drop_every,
              d.publisher.test_drop_every);
  metrics::ProcessMetrics process(metrics_endpoint.empty() ? section_metrics_endpoint : metrics_endpoint, true);
  if (process.server) log->info("metrics on http://{}/metrics", process.server->endpoint());
  d.metrics = process.registry;
  d.notifier = process.notifier;
  zmq::context_t ctx(1);
  // Before any socket binds: without its ZAP handler, a CURVE server lets every client in.
  d.auth = zap::start_for(ctx, security, curve::load(security), {d.pull_endpoint, d.pub_endpoint}, log,
                          process.registry);
  dispatcher::DispatcherService service(ctx, db, d, log);
  return service.run();
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-dispatcher", dispatcher_main, argc, argv); }
