// ProjectorService: hosts several projections in one process, each on its own ProjectionRunner
// (its own thread, query-database connection and subscription), sharing one Client. A failing
// projection stops alone; the others go on.
//
//   projector::ProjectorService service(options, log);
//   service.add(std::make_shared<MyProjection>());          // C++ projections, linked in
//   service.add_config(projector::load_projector_config(path));  // SQL ones, projection streams
//   return service.run();                                    // until SIGTERM / SIGINT
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "even/client/client.h"
#include "even/common/config.h"
#include "even/common/metrics.h"
#include "even/common/net.h"
#include "even/common/service_notify.h"
#include "even/projector/projection_runner.h"
#include "projector/probe.h"
#include "projector/projector_config.h"

namespace even::projector {

struct ProjectorOptions {
  client::ClientOptions client;  // reader and dispatcher endpoints
  config::DbOptions query_db;    // the default query database (created if missing)
  config::DbOptions store_db;    // the event store (projection streams live there)
  RunnerOptions runner;
  std::set<std::string> rebuild; // projections / projection streams to rebuild at start
  // Projections left stopped on purpose (not started): their checkpoints stay, their lag grows.
  std::vector<std::string> stopped;
  // Where READY/STATUS/WATCHDOG go (systemd); null: this service is the process (one from the
  // environment, a no-op without NOTIFY_SOCKET). even-server shares one with its other services.
  std::shared_ptr<notify::ServiceNotifier> notifier;
  // Where the projections' metrics go (projector/probe.h); null: a registry of its own that
  // nobody serves.
  std::shared_ptr<metrics::Registry> metrics;
};

class ProjectorService {
 public:
  ProjectorService(ProjectorOptions options, std::shared_ptr<spdlog::logger> log);
  ~ProjectorService();  // stops every runner

  // Before run(). A projection writing into the default query database / into `query_db`.
  void add(std::shared_ptr<Projection> projection);
  void add(std::shared_ptr<Projection> projection, const config::DbOptions& query_db);
  // A projection stream, indexed into the event store.
  void add_projection_stream(const ProjectionStreamDef& def);
  // Everything in a projector config file.
  void add_config(const ProjectorConfig& config);

  // Starts the runners and waits for SIGTERM/SIGINT (net::shutdown_fd) or stop(). Returns 0 on a
  // clean stop, 1 when every projection failed (or none was configured).
  int run();
  // Thread-safe: makes run() return.
  void stop();

  std::vector<RunnerStatus> statuses() const;
  client::Client& client() { return client_; }

 private:
  void add_runner(std::shared_ptr<Projection> p, const config::DbOptions& db, RunnerOptions ro);
  // systemd: READY=1 once no runner is still starting (each reached its query database and
  // holds its lock or stands by); STATUS= what they do; WATCHDOG=1 only while every runner that
  // still runs has gone round its loop within half the watchdog time (a stuck runner stops the
  // pings, not only a stuck run() loop). Called from run()'s loop.
  void report(std::chrono::steady_clock::time_point now);
  // The runner's status; "stopped" for one left stopped on purpose.
  RunnerStatus status_of(const ProjectionRunner& r) const;

  ProjectorOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  client::Client client_;
  std::vector<std::unique_ptr<ProjectionRunner>> runners_;
  std::vector<config::DbOptions> query_dbs_;  // created if missing at run()
  net::Wakeup wakeup_;
  notify::ServiceNotify notify_;  // used by run()'s thread
  std::shared_ptr<metrics::Registry> registry_;
  ProjectorProbe probe_;                 // used by run()'s thread
  GlobalSeq head_;                       // the store's head, asked of the reader every second
  std::chrono::steady_clock::time_point next_head_{};
  bool ready_ = false;
  std::chrono::steady_clock::time_point last_report_{};
};

}  // namespace even::projector
