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
#include "even/common/net.h"
#include "even/projector/projection_runner.h"
#include "projector/projector_config.h"

namespace even::projector {

struct ProjectorOptions {
  client::ClientOptions client;  // reader and dispatcher endpoints
  config::DbOptions query_db;    // the default query database (created if missing)
  config::DbOptions store_db;    // the event store (projection streams live there)
  RunnerOptions runner;
  std::set<std::string> rebuild; // projections / projection streams to rebuild at start
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

  ProjectorOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  client::Client client_;
  std::vector<std::unique_ptr<ProjectionRunner>> runners_;
  std::vector<config::DbOptions> query_dbs_;  // created if missing at run()
  net::Wakeup wakeup_;
};

}  // namespace even::projector
