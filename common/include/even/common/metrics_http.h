// MetricsServer: the HTTP endpoint of a process (civetweb, Debian's libcivetweb-dev):
//
//   GET /metrics       the Registry in the Prometheus text format 0.0.4
//   GET /health/live   200 while every service's main loop goes round (ServiceNotify::alive),
//                      503 when one has not for `live_timeout`
//   GET /health/ready  200 when every service can serve; 503 when one cannot (starting, a
//                      standby writer, store unreachable), the body saying which and why
//
// Health bodies are JSON: {"status":"ready","services":[{"name":"writer","state":"standby",
// "ready":false,"status":"...","since_loop_seconds":0.2}]}.
//
// Owns civetweb's listening and worker threads (two workers: scrapes are rare); they read the
// registry and the notifier, which must outlive the server. Only services link this (the client
// library does not).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "even/common/metrics.h"
#include "even/common/service_notify.h"

struct mg_context;
struct mg_connection;

namespace even::metrics {

class MetricsServer {
 public:
  // Listens on `endpoint`: "HOST:PORT" (e.g. 127.0.0.1:9101) or a tcp://HOST:PORT ZeroMQ-style
  // address. Throws std::runtime_error when it cannot listen (port in use, bad address).
  MetricsServer(std::string endpoint, std::shared_ptr<Registry> registry,
                std::shared_ptr<notify::ServiceNotifier> notifier,
                std::chrono::seconds live_timeout = std::chrono::seconds(15));
  ~MetricsServer();  // stops listening and joins civetweb's threads
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  const std::string& endpoint() const { return endpoint_; }

  // The bodies, for tests and for anyone without HTTP. `*ready` / `*live`: the verdict.
  std::string ready_json(bool* ready) const;
  std::string live_json(bool* live) const;

 private:
  static int handle_metrics(mg_connection* conn, void* self);
  static int handle_live(mg_connection* conn, void* self);
  static int handle_ready(mg_connection* conn, void* self);

  std::string endpoint_;
  std::shared_ptr<Registry> registry_;
  std::shared_ptr<notify::ServiceNotifier> notifier_;
  std::chrono::seconds live_timeout_;
  mg_context* ctx_ = nullptr;
};

// What a service process's main builds: the process's registry (with add_process_metrics), its
// notifier, and the HTTP endpoint when one is configured. even-writer, even-reader, ... make one
// with one_service; even-server one for all of its services.
struct ProcessMetrics {
  // `endpoint` empty: no HTTP server (the metrics are still counted, for nobody).
  ProcessMetrics(const std::string& endpoint, bool one_service);
  std::shared_ptr<Registry> registry;
  std::shared_ptr<notify::ServiceNotifier> notifier;
  std::unique_ptr<MetricsServer> server;
};

// "HOST:PORT" from "tcp://HOST:PORT" or "HOST:PORT"; throws std::invalid_argument otherwise.
std::string http_listen_address(const std::string& endpoint);

// A GET with civetweb's client, for evenctl stats and the tests. `status` is 0 when no answer
// came (connection refused, timeout), with the reason in `error`.
struct HttpResponse {
  int status = 0;
  std::string body;
  std::string error;
};
// `endpoint` as for MetricsServer (HOST:PORT), `path` e.g. "/metrics".
HttpResponse http_get(const std::string& endpoint, const std::string& path,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

}  // namespace even::metrics
