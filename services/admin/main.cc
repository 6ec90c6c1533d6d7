// even-admin: the admin web UI of an Even cluster (dashboard, streams, live tail, projections),
// a client of even-reader and a reader of the services' /metrics. See services/admin/README.md.
#include <algorithm>

#include "admin/admin_api.h"
#include "admin/admin_options.h"
#include "admin/dashboard_collector.h"
#include "even/client/client.h"
#include "even/common/config.h"
#include "even/common/metrics_http.h"
#include "even/common/net.h"
#include "even/common/service_notify.h"

namespace {

int admin_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions db, query_db;
  config::QueryDbFlags query_flags;
  config::LogOptions log_options;
  admin::AdminOptions a;
  client::ClientOptions co;
  int timeout_ms = 5000;

  po::options_description desc("even-admin: shared keys, at the top of the config file");
  desc.add_options()
      ("reader-endpoint", po::value(&co.reader_endpoint)->default_value(co.reader_endpoint),
       "even-reader's address: every event the UI shows is read there")
      ("timeout-ms", po::value(&timeout_ms)->default_value(timeout_ms), "how long a read may take");
  config::add_db_options(desc, db);
  config::add_query_db_options(desc, query_db, query_flags);
  config::add_log_options(desc, log_options);
  config::add_security_options(desc, co.security);
  admin::add_options(desc, a);
  auto parsed = config::parse_services(
      argc, argv, desc,
      "even-admin: a web UI for an Even cluster: each service's state and rates, streams and their events, a\n"
      "live tail, projections (read-only unless --admin.allow-admin-actions). Serves on 127.0.0.1 unless told;\n"
      "elsewhere only with --admin.password-file.\n"
      "Usage: even-admin [--config FILE] [options]",
      {config::kAdminSection});
  if (!parsed) return 0;
  const std::string config_file = parsed->vm.count("config") ? parsed->vm["config"].as<std::string>() : "";
  admin::finish_options(a, config_file);
  config::finish_query_db(query_db, db, query_flags);
  co.timeout = std::chrono::milliseconds(std::max(timeout_ms, 100));
  // The UI never appends: an in-process address that nothing binds stands in for the writer's,
  // so no writer key is needed (the client connects lazily and never sends there).
  co.writer_endpoint = "inproc://even-admin-appends-nothing";
  config::check_client_keys(co.security, co.reader_endpoint, config::Server::reader, "reader-endpoint");

  auto log = config::make_logger("admin", log_options);
  for (const auto& warning : parsed->warnings) log->warn("{}", warning);
  metrics::HttpServer::Options http;
  http.threads = a.http_threads;
  metrics::ProcessMetrics process(a.http_endpoint, true, http);
  notify::ServiceNotify notify(process.notifier, "admin");
  client::Client reader(co);
  admin::DashboardCollector dashboard(a.metrics_endpoints, a.scrape_interval, a.history_points);
  admin::AdminApi api(a, reader, db, query_db, dashboard, log);
  api.install(process.server->http());
  const std::string url = "http://" + process.server->endpoint() + "/";
  log->info("serving the admin UI on {} ({}; {}; {} services' metrics scraped)", url,
            a.password_file.empty() ? "no password: loopback only" : "HTTP basic authentication",
            a.allow_admin_actions ? "admin actions allowed" : "read-only", a.metrics_endpoints.size());
  notify.ready("serving the admin UI on " + url);

  const int shutdown = net::shutdown_fd();
  while (!net::shutdown_requested()) {
    zmq::pollitem_t item = {nullptr, shutdown, ZMQ_POLLIN, 0};
    net::poll(&item, 1, std::min(notify.max_wait(), std::chrono::milliseconds(1000)));
    notify.alive();
  }
  log->info("stopping");
  notify.stopping();
  process.server.reset();  // stops civetweb first: no request may run once the API's objects go
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-admin", admin_main, argc, argv); }
