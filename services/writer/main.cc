// even-writer: the single write master. See services/writer/README.md.
#include <iostream>

#include "even/common/config.h"
#include "even/common/metrics_http.h"
#include "even/common/store/schema.h"
#include "writer/writer_options.h"
#include "writer/writer_service.h"

namespace {

int writer_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions db;
  config::LogOptions log_options;
  writer::WriterOptions w;
  bool init_store = false;
  std::string metrics_endpoint, section_metrics_endpoint;
  curve::Options security;

  po::options_description desc("even-writer: shared keys, at the top of the config file");
  desc.add_options()
      ("writer-endpoint", po::value(&w.endpoint)->default_value(w.endpoint),
       "ROUTER address clients append to (ZeroMQ endpoint)")
      ("dispatcher-pull-endpoint", po::value(&w.dispatcher_endpoint)->default_value(w.dispatcher_endpoint),
       "the dispatcher's PULL address; committed events are pushed there (empty: no live feed)")
      ("init-store", po::bool_switch(&init_store), "create or upgrade the store's tables, then continue");
  config::add_db_options(desc, db);
  config::add_log_options(desc, log_options);
  config::add_security_options(desc, security);
  writer::add_options(desc, w);
  config::add_metrics_options(desc, config::kWriterSection, metrics_endpoint, section_metrics_endpoint);
  auto parsed = config::parse_services(argc, argv, desc,
                                       "even-writer: the single write master of an Even event store.\n"
                                       "Usage: even-writer [--config FILE] [options]",
                                       {config::kWriterSection});
  if (!parsed) return 0;
  writer::finish_options(w);
  config::check_server_keys(security, w.endpoint, "writer-endpoint");
  config::check_client_keys(security, w.dispatcher_endpoint, config::Server::dispatcher, "dispatcher-pull-endpoint");

  auto log = config::make_logger("writer", log_options);
  for (const auto& warning : parsed->warnings) log->warn("{}", warning);
  // Every reason to exit goes to the log (with --log-file, stderr may be seen by nobody).
  try {
    if (init_store) {
      auto r = store::init_store(db);
      log->info("store '{}' at schema version {} (was {})", db.name, r.to_version, r.from_version);
    } else if (int v = store::schema_version(db); v != store::latest_schema_version()) {
      log->error("store '{}' has schema version {}, this writer needs {}; run `evenctl store init` or --init-store; "
                 "exiting with code 2",
                 db.name, v, store::latest_schema_version());
      return 2;
    }
    // Before the lock: a standby answers /health/ready with 503 "standby" while it waits.
    metrics::ProcessMetrics process(metrics_endpoint.empty() ? section_metrics_endpoint : metrics_endpoint, true);
    if (process.server) log->info("metrics on http://{}/metrics", process.server->endpoint());
    w.metrics = process.registry;
    w.notifier = process.notifier;
    zmq::context_t ctx(1);
    // Before any socket binds: without its ZAP handler, a CURVE server lets every client in.
    const auto keys = curve::load(security);
    w.auth = zap::start_for(ctx, security, keys, {w.endpoint}, log, process.registry);
    w.feed_curve = curve::client_keys(keys, w.dispatcher_endpoint, keys.dispatcher);
    writer::WriterService service(ctx, db, w, log);
    return service.run();
  } catch (const sql::SQLException& e) {
    log->critical("exiting with code 1: {}", store::describe(e));
    throw;
  } catch (const std::exception& e) {
    log->critical("exiting with code 1: {}", e.what());
    throw;
  }
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-writer", writer_main, argc, argv); }
