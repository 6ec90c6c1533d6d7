// Server: writer, dispatcher, reader (and optionally a projector) in one process (the "single app" mode of the brief), for
// small deployments and the demo. The very same service classes as even-writer, even-dispatcher
// and even-reader, on one ZeroMQ context: the writer pushes committed events to the dispatcher
// over inproc://, clients reach the writer, the reader and the feed on their usual endpoints.
// With a projections file, an even-projector ProjectorService runs too; its Client connects to
// the reader and the feed of this process over their (loopback) endpoints.
//
// Owns one thread per service (each service owns its sockets and store connections); run() is
// called on one thread and returns after SIGTERM/SIGINT, request_stop(), or when a service ends
// on its own (then the others are stopped too).
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include <spdlog/logger.h>
#include <zmq.hpp>

#include "dispatcher/dispatcher_service.h"
#include "even/common/config.h"
#include "even/common/metrics_http.h"
#include "even/common/net.h"
#include "even/common/service_notify.h"
#include "even/common/zap.h"
#include "projector/projector_service.h"
#include "reader/reader_service.h"
#include "writer/writer_service.h"

namespace even::server {

// The writer -> dispatcher link inside the process.
inline constexpr const char* kFeedEndpoint = "inproc://even-server-feed";

struct ServerOptions {
  config::DbOptions db;
  writer::WriterOptions writer;          // endpoint: where clients append
  dispatcher::DispatcherOptions dispatcher;  // pub_endpoint: the feed subscribers connect to
  reader::ReaderOptions reader;          // endpoint: where clients read
  config::LogOptions log;                // one logger per service ("writer", "dispatcher", "reader")
  std::string projections_file;          // SQL-config projections (services/projector); empty: none
  projector::ProjectorOptions projector; // its query database; client endpoints are set from the above
  // HOST:PORT of the process's /metrics and /health, every hosted service's metrics in one page
  // (empty: off). --metrics-endpoint, else the first [writer]/[dispatcher]/[reader]/[projector]
  // metrics-endpoint of the file (server_options.h).
  std::string metrics_endpoint;
  std::array<std::string, 4> section_metrics_endpoints;  // as read; finish_options picks one
  // CURVE (README "Security"): one key for the process's writer, reader and PUB sockets; the
  // projector connects with it too (the server's ZAP handler lets its own key in).
  SecurityOptions security;
};

class Server {
 public:
  // Sets writer.dispatcher_endpoint and dispatcher.pull_endpoint to kFeedEndpoint.
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Runs the services until stopped. Returns 0 after a clean stop, else the first non-zero exit
  // code of a service (e.g. 3: the writer lost mastership).
  int run();
  // Thread-safe; run() returns soon after.
  void request_stop();

 private:
  ServerOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  // One voice towards systemd for the whole process: READY=1 when every service is ready,
  // WATCHDOG=1 only while every service's loop goes round, STOPPING=1 from run().
  // The process's metrics registry and HTTP endpoint share that notifier (health).
  metrics::ProcessMetrics metrics_;
  std::shared_ptr<notify::ServiceNotifier> notifier_;
  zmq::context_t ctx_;
  std::shared_ptr<zap::Authenticator> auth_;  // bound before any socket; null when plain
  std::unique_ptr<dispatcher::DispatcherService> dispatcher_;
  std::unique_ptr<writer::WriterService> writer_;
  std::unique_ptr<reader::ReaderService> reader_;
  std::unique_ptr<projector::ProjectorService> projector_;  // only with a projections file
  net::Wakeup wakeup_;
  std::atomic<bool> stop_{false};
};

}  // namespace even::server
