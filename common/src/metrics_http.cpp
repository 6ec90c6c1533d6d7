#include "even/common/metrics_http.h"

#include <civetweb.h>

#include <nlohmann/json.hpp>
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace even::metrics {

namespace {

void reply(mg_connection* conn, int status, const char* content_type, const std::string& body) {
  mg_response_header_start(conn, status);
  mg_response_header_add(conn, "Content-Type", content_type, -1);
  mg_response_header_add(conn, "Content-Length", std::to_string(body.size()).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  mg_response_header_send(conn);
  const auto* info = mg_get_request_info(conn);
  if (info && info->request_method && std::string_view(info->request_method) == "HEAD") return;
  mg_write(conn, body.data(), body.size());
}

bool method_allowed(mg_connection* conn) {
  const auto* info = mg_get_request_info(conn);
  const std::string_view m = info && info->request_method ? info->request_method : "";
  if (m == "GET" || m == "HEAD") return true;
  reply(conn, 405, "text/plain; charset=utf-8", "only GET and HEAD\n");
  return false;
}

nlohmann::json part_json(const notify::PartHealth& h) {
  return {{"name", h.name}, {"state", h.state}, {"ready", h.ready}, {"status", h.status},
          {"since_loop_seconds", h.since_loop_seconds}};
}

}  // namespace

std::string http_listen_address(const std::string& endpoint) {
  std::string a = endpoint;
  if (a.rfind("tcp://", 0) == 0) a = a.substr(6);
  if (a.rfind("http://", 0) == 0) a = a.substr(7);
  const auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size() ||
      a.find_first_not_of("0123456789", colon + 1) != std::string::npos)
    throw std::invalid_argument("metrics endpoint '" + endpoint + "' is not HOST:PORT (e.g. 127.0.0.1:9101)");
  return a;
}

MetricsServer::MetricsServer(std::string endpoint, std::shared_ptr<Registry> registry,
                             std::shared_ptr<notify::ServiceNotifier> notifier, std::chrono::seconds live_timeout)
    : endpoint_(http_listen_address(endpoint)),
      registry_(std::move(registry)),
      notifier_(std::move(notifier)),
      live_timeout_(live_timeout) {
  mg_init_library(0);
  const char* options[] = {"listening_ports", endpoint_.c_str(), "num_threads", "2", "request_timeout_ms", "10000",
                           nullptr};
  mg_callbacks callbacks{};
  // civetweb logs to stderr by default; a failed listen is reported by the exception below.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  ctx_ = mg_start(&callbacks, this, options);
  if (!ctx_) {
    mg_exit_library();
    throw std::runtime_error("cannot serve metrics on " + endpoint_ + " (address in use or invalid)");
  }
  mg_set_request_handler(ctx_, "/metrics$", &MetricsServer::handle_metrics, this);
  mg_set_request_handler(ctx_, "/health/live$", &MetricsServer::handle_live, this);
  mg_set_request_handler(ctx_, "/health/ready$", &MetricsServer::handle_ready, this);
}

MetricsServer::~MetricsServer() {
  // civetweb's listening thread polls with a 2 s quantum before it sees the stop flag; connecting
  // to it wakes the poll at once, so a service stops in milliseconds (repeated until mg_stop
  // returns: a connection before the flag is set is served and the thread polls again).
  std::atomic<bool> stopped{false};
  std::thread waker([this, &stopped] {
    const auto address = endpoint_;
    const auto colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
    const int port = std::atoi(address.c_str() + colon + 1);
    while (!stopped.load()) {
      char ebuf[64];
      if (auto* c = mg_connect_client(host.c_str(), port, 0, ebuf, sizeof ebuf)) mg_close_connection(c);
      for (int i = 0; i < 10 && !stopped.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  mg_stop(ctx_);
  stopped = true;
  waker.join();
  mg_exit_library();
}

std::string MetricsServer::ready_json(bool* ready) const {
  auto parts = notifier_->health();
  bool all = !parts.empty();
  nlohmann::json services = nlohmann::json::array();
  for (const auto& p : parts) {
    all = all && p.ready;
    services.push_back(part_json(p));
  }
  if (ready) *ready = all;
  nlohmann::json body = {{"status", all ? "ready" : "not ready"}, {"services", services}};
  if (parts.empty()) body["reason"] = "no service is running";
  return body.dump() + "\n";
}

std::string MetricsServer::live_json(bool* live) const {
  auto parts = notifier_->health();
  bool all = true;
  nlohmann::json services = nlohmann::json::array();
  for (const auto& p : parts) {
    auto j = part_json(p);
    const bool ok = p.since_loop_seconds < double(live_timeout_.count());
    j["live"] = ok;
    all = all && ok;
    services.push_back(std::move(j));
  }
  if (live) *live = all;
  return nlohmann::json{{"status", all ? "live" : "stalled"}, {"services", services}}.dump() + "\n";
}

ProcessMetrics::ProcessMetrics(const std::string& endpoint, bool one_service)
    : registry(std::make_shared<Registry>()), notifier(std::make_shared<notify::ServiceNotifier>(one_service)) {
  add_process_metrics(*registry);
  if (!endpoint.empty()) server = std::make_unique<MetricsServer>(endpoint, registry, notifier);
}

HttpResponse http_get(const std::string& endpoint, const std::string& path, std::chrono::milliseconds timeout) {
  HttpResponse out;
  std::string address;
  try {
    address = http_listen_address(endpoint);
  } catch (const std::invalid_argument& e) {
    out.error = e.what();
    return out;
  }
  const auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const int port = std::stoi(address.substr(colon + 1));
  mg_init_library(0);
  char ebuf[256] = "";
  mg_connection* conn = mg_connect_client(host.c_str(), port, 0, ebuf, sizeof ebuf);
  if (!conn) {
    out.error = ebuf[0] ? ebuf : "cannot connect";
    mg_exit_library();
    return out;
  }
  mg_printf(conn, "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n", path.c_str(), address.c_str());
  if (mg_get_response(conn, ebuf, sizeof ebuf, static_cast<int>(timeout.count())) < 0) {
    out.error = ebuf[0] ? ebuf : "no response";
  } else {
    out.status = mg_get_response_info(conn)->status_code;
    char buf[8192];
    for (int n; (n = mg_read(conn, buf, sizeof buf)) > 0;) out.body.append(buf, static_cast<std::size_t>(n));
  }
  mg_close_connection(conn);
  mg_exit_library();
  return out;
}

int MetricsServer::handle_metrics(mg_connection* conn, void* self) {
  if (!method_allowed(conn)) return 405;
  auto* s = static_cast<MetricsServer*>(self);
  reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", s->registry_->render());
  return 200;
}

int MetricsServer::handle_live(mg_connection* conn, void* self) {
  if (!method_allowed(conn)) return 405;
  bool live = false;
  auto body = static_cast<MetricsServer*>(self)->live_json(&live);
  reply(conn, live ? 200 : 503, "application/json", body);
  return live ? 200 : 503;
}

int MetricsServer::handle_ready(mg_connection* conn, void* self) {
  if (!method_allowed(conn)) return 405;
  bool ready = false;
  auto body = static_cast<MetricsServer*>(self)->ready_json(&ready);
  reply(conn, ready ? 200 : 503, "application/json", body);
  return ready ? 200 : 503;
}

}  // namespace even::metrics
