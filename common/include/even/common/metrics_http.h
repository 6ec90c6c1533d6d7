// The HTTP side of a process (civetweb, Debian's libcivetweb-dev): HttpServer serves routes of
// handlers; MetricsServer is the one every service runs on it:
//
//   GET /metrics       the Registry in the Prometheus text format 0.0.4
//   GET /health/live   200 while every service's main loop goes round (ServiceNotify::alive),
//                      503 when one has not for `live_timeout`
//   GET /health/ready  200 when every service can serve; 503 when one cannot (starting, a
//                      standby writer, store unreachable), the body saying which and why
//
// Health bodies are JSON: {"status":"ready","services":[{"name":"writer","state":"standby",
// "ready":false,"status":"...","since_loop_seconds":0.2}]}. even-admin adds its pages and its
// JSON API to the same server (services/admin/).
//
// Only services link this (the client library does not).
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "even/common/metrics.h"
#include "even/common/service_notify.h"

struct mg_context;
struct mg_connection;

namespace even::metrics {

// A request as a handler sees it: civetweb's fields, copied. `path` is the URI without the query
// string, `query` what follows '?' (still %-encoded: query_param decodes), `authorization` the
// Authorization header ("" when absent), `body` read whole for POST (at most HttpServer's
// max_body_bytes; a larger body is refused with 413 before the handler runs).
struct HttpRequest {
  std::string method;
  std::string path;
  std::string query;
  std::string authorization;
  std::string host;  // the Host header (even-admin refuses foreign names: DNS rebinding)
  std::string csrf_header;  // X-Even-Admin, which only a script of the same origin can send
  std::string remote_address;
  std::string body;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type, -Length
};

// The value of `name` in a query string (a=1&b=x%20y), %-decoded; nullopt when absent.
std::optional<std::string> query_param(const std::string& query, const std::string& name);

// An HTTP server: owns civetweb's listening and worker threads (`threads` workers, so that many
// requests at once; a request waits for a free worker). Handlers run on those threads, any number
// at once, and must outlive the server. Routes match the whole path (civetweb's pattern syntax:
// "/api/streams$"); each answers GET and HEAD, and POST only when registered with allow_post.
class HttpServer {
 public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;
  struct Options {
    int threads = 2;
    std::size_t max_body_bytes = 64 * 1024;
    int request_timeout_ms = 10000;
  };
  // Listens on `endpoint`: "HOST:PORT" (e.g. 127.0.0.1:9101) or a tcp://HOST:PORT ZeroMQ-style
  // address. Throws std::runtime_error when it cannot listen (port in use, bad address).
  explicit HttpServer(std::string endpoint, Options options);
  HttpServer(std::string endpoint) : HttpServer(std::move(endpoint), Options{}) {}
  ~HttpServer();  // stops listening and joins civetweb's threads
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Adds a route; may be called while serving (civetweb locks its table).
  void route(const std::string& pattern, Handler handler, bool allow_post = false);
  const std::string& endpoint() const { return endpoint_; }

 private:
  struct Route {
    HttpServer* server;
    Handler handler;
    bool allow_post;
  };
  static int dispatch(mg_connection* conn, void* route);

  std::string endpoint_;
  Options options_;
  std::list<Route> routes_;  // stable addresses: civetweb holds pointers to them
  mg_context* ctx_ = nullptr;
};

// GET /metrics, /health/live and /health/ready of a process on its HttpServer.
class MetricsServer {
 public:
  // Listens on `endpoint` as HttpServer does (and throws as it does). `http` its options.
  MetricsServer(std::string endpoint, std::shared_ptr<Registry> registry,
                std::shared_ptr<notify::ServiceNotifier> notifier,
                std::chrono::seconds live_timeout = std::chrono::seconds(15), HttpServer::Options http = {});
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  const std::string& endpoint() const { return http_.endpoint(); }
  // The server, for a process that serves more than its metrics (even-admin's pages).
  HttpServer& http() { return http_; }

  // The bodies, for tests and for anyone without HTTP. `*ready` / `*live`: the verdict.
  std::string ready_json(bool* ready) const;
  std::string live_json(bool* live) const;

 private:
  std::shared_ptr<Registry> registry_;
  std::shared_ptr<notify::ServiceNotifier> notifier_;
  std::chrono::seconds live_timeout_;
  HttpServer http_;  // last: its handlers use the fields above
};

// What a service process's main builds: the process's registry (with add_process_metrics), its
// notifier, and the HTTP endpoint when one is configured. even-writer, even-reader, ... make one
// with one_service; even-server one for all of its services.
struct ProcessMetrics {
  // `endpoint` empty: no HTTP server (the metrics are still counted, for nobody).
  ProcessMetrics(const std::string& endpoint, bool one_service, HttpServer::Options http = {});
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
  std::string headers;  // the response's headers, one "Name: value" a line
};
// `endpoint` as for MetricsServer (HOST:PORT), `path` e.g. "/metrics"; `headers` are sent with the
// request (e.g. Authorization), names and values as given (no CR or LF in them).
HttpResponse http_get(const std::string& endpoint, const std::string& path,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(2000),
                      const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace even::metrics
