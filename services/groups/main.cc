// even-groups: persistent subscription groups (competing consumers). See services/groups/README.md.
#include "even/common/config.h"
#include "even/common/metrics_http.h"
#include "groups/groups_options.h"
#include "groups/groups_service.h"

namespace {

int groups_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions db;
  config::LogOptions log_options;
  groups::GroupsOptions g;
  std::string metrics_endpoint, section_metrics_endpoint;

  po::options_description desc("even-groups: shared keys, at the top of the config file");
  desc.add_options()
      ("groups-endpoint", po::value(&g.endpoint)->default_value(g.endpoint),
       "ROUTER address consumers and clients connect to (ZeroMQ endpoint)")
      ("writer-endpoint", po::value(&g.writer_endpoint)->default_value(g.writer_endpoint),
       "even-writer's address: parked events are appended through it");
  config::add_db_options(desc, db);
  config::add_log_options(desc, log_options);
  config::add_security_options(desc, g.security);
  groups::add_options(desc, g);
  config::add_metrics_options(desc, config::kGroupsSection, metrics_endpoint, section_metrics_endpoint);
  auto parsed = config::parse_services(
      argc, argv, desc,
      "even-groups: persistent subscription groups (competing consumers with acks, retries and parking).\n"
      "Usage: even-groups [--config FILE] [options]",
      {config::kGroupsSection});
  if (!parsed) return 0;
  groups::finish_options(g);
  config::check_server_keys(g.security, g.endpoint, "groups-endpoint");
  config::check_client_keys(g.security, g.writer_endpoint, config::Server::writer, "writer-endpoint");

  auto log = config::make_logger("groups", log_options);
  for (const auto& warning : parsed->warnings) log->warn("{}", warning);
  metrics::ProcessMetrics process(metrics_endpoint.empty() ? section_metrics_endpoint : metrics_endpoint, true);
  if (process.server) log->info("metrics on http://{}/metrics", process.server->endpoint());
  g.metrics = process.registry;
  g.notifier = process.notifier;
  zmq::context_t ctx(1);
  // Before any socket binds: without its ZAP handler, a CURVE server lets every client in.
  g.auth = zap::start_for(ctx, g.security, curve::load(g.security), {g.endpoint}, log, process.registry);
  groups::GroupsService service(ctx, db, g, log);
  return service.run();
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-groups", groups_main, argc, argv); }
