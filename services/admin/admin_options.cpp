#include "admin/admin_options.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "even/common/store/db_options.h"

#include "even/common/metrics_http.h"

namespace even::admin {

namespace po = config::po;

void add_options(po::options_description& desc, AdminOptions& a) {
  po::options_description section("even-admin: [admin] in the config file, --admin.KEY as flags");
  section.add_options()
      ("admin.http-endpoint", po::value(&a.http_endpoint)->default_value(a.http_endpoint),
       "HOST:PORT the UI is served on (with the process's /metrics and /health); anything but a loopback "
       "address needs --admin.password-file")
      ("admin.password-file", po::value(&a.password_file),
       "file holding the UI's password (first line, mode 0600): HTTP basic authentication, any user name")
      ("admin.allow-admin-actions", po::bool_switch(&a.allow_admin_actions),
       "show the projections' rebuild button (it asks to confirm); without it the UI only reads")
      ("admin.metrics-endpoint", po::value(&a.metrics_endpoints)->composing(),
       "a service's metrics HOST:PORT to show on the dashboard; repeatable (default: every metrics-endpoint "
       "of the --config file)")
      ("admin.scrape-interval-ms", config::milliseconds(a.scrape_interval), "how often the services are scraped")
      ("admin.history-points", po::value(&a.history_points)->default_value(a.history_points),
       "scrapes the dashboard's charts go back")
      ("admin.tail-max-events", po::value(&a.tail_max_events)->default_value(a.tail_max_events),
       "events the live tail page holds at most (older ones are dropped from the page)")
      ("admin.page-events", po::value(&a.page_events)->default_value(a.page_events), "events per stream page")
      ("admin.http-threads", po::value(&a.http_threads)->default_value(a.http_threads), "requests served at once");
  desc.add(section);
}

bool is_loopback_host(const std::string& host_port) {
  std::string host = metrics::http_listen_address(host_port);
  host = host.substr(0, host.rfind(':'));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};  // a literal 127.x.y.z only: "127.example.com" is a name, not a loopback address
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

void finish_options(AdminOptions& a, const std::string& config_file) {
  try {
    (void)metrics::http_listen_address(a.http_endpoint);
  } catch (const std::invalid_argument& e) {
    throw po::error(std::string("--admin.http-endpoint: ") + e.what());
  }
  // One address: civetweb would also listen on every further one of a list ("127.0.0.1:80,0.0.0.0:81").
  if (a.http_endpoint.find_first_of(", \t") != std::string::npos)
    throw po::error("--admin.http-endpoint " + a.http_endpoint + ": one HOST:PORT, without commas or spaces");
  if (!a.password_file.empty()) {
    config::check_password_file(a.password_file);
    if (store::read_password_file(a.password_file).empty())
      throw po::error("--admin.password-file " + a.password_file + " holds no password (its first line is empty)");
  }
  if (a.password_file.empty() && !is_loopback_host(a.http_endpoint))
    throw po::error("--admin.http-endpoint " + a.http_endpoint +
                    " is not a loopback address: set --admin.password-file (a file holding the password, mode 0600), "
                    "or serve on 127.0.0.1 and reach it through an SSH tunnel");
  if (a.metrics_endpoints.empty() && !config_file.empty())
    a.metrics_endpoints = config::metrics_endpoints_in_file(config_file);
  if (a.scrape_interval < std::chrono::milliseconds(100)) throw po::error("--admin.scrape-interval-ms must be >= 100");
  if (a.history_points < 2 || a.history_points > 100000) throw po::error("--admin.history-points must be 2..100000");
  if (a.tail_max_events < 1 || a.tail_max_events > 10000) throw po::error("--admin.tail-max-events must be 1..10000");
  if (a.page_events < 1 || a.page_events > 1000) throw po::error("--admin.page-events must be 1..1000");
  if (a.http_threads < 1 || a.http_threads > 64) throw po::error("--admin.http-threads must be 1..64");
}

}  // namespace even::admin
