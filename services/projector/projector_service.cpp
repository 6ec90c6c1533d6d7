#include "projector/projector_service.h"

#include <zmq.hpp>

#include <algorithm>
#include <map>
#include <optional>

#include "projector/projection_stream.h"
#include "projector/query_db.h"

namespace even::projector {

ProjectorService::ProjectorService(ProjectorOptions options, std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)),
      log_(std::move(log)),
      client_(options_.client),
      notify_(options_.notifier, "projector"),
      registry_(options_.metrics ? options_.metrics : std::make_shared<metrics::Registry>()),
      probe_(*registry_) {}

ProjectorService::~ProjectorService() {
  for (auto& r : runners_) r->stop();
}

void ProjectorService::add_runner(std::shared_ptr<Projection> p, const config::DbOptions& db, RunnerOptions ro) {
  for (const auto& r : runners_)
    if (r->name() == p->name()) throw std::invalid_argument("projection '" + p->name() + "' is added twice");
  ro.rebuild_at_start = options_.rebuild.count(p->name()) > 0;
  // Called on the runner's thread, which ~ProjectorService joins (stop()) before the registry
  // that holds the histogram goes.
  ro.on_batch = [&h = probe_.batch_duration(p->name())](std::chrono::duration<double> d) { h.observe(d.count()); };
  runners_.push_back(std::make_unique<ProjectionRunner>(client_, std::move(p), db, ro, log_));
}

void ProjectorService::add(std::shared_ptr<Projection> projection) { add(std::move(projection), options_.query_db); }

void ProjectorService::add(std::shared_ptr<Projection> projection, const config::DbOptions& query_db) {
  bool known = false;
  for (const auto& d : query_dbs_) known = known || (d.url == query_db.url && d.name == query_db.name);
  if (!known) query_dbs_.push_back(query_db);
  RunnerOptions ro = options_.runner;
  ro.checkpoint_table = kQueryCheckpointTable;
  add_runner(std::move(projection), query_db, ro);
}

void ProjectorService::add_projection_stream(const ProjectionStreamDef& def) {
  RunnerOptions ro = options_.runner;
  ro.checkpoint_table = kStreamCheckpointTable;
  add_runner(std::make_shared<ProjectionStreamIndexer>(def), options_.store_db, ro);
}

void ProjectorService::add_config(const ProjectorConfig& config) {
  for (const auto& d : config.projections) {
    auto db = options_.query_db;
    if (!d.database.empty()) db.name = d.database;
    add(std::make_shared<SqlProjection>(d), db);
  }
  for (const auto& s : config.projection_streams) add_projection_stream(s);
}

int ProjectorService::run() {
  for (const auto& n : options_.rebuild) {
    bool found = false;
    for (const auto& r : runners_) found = found || r->name() == n;
    if (!found) log_->warn("--rebuild {}: no such projection here", n);
  }
  for (const auto& db : query_dbs_) {
    const auto& dialect = query_dialect(db.url);
    try {
      dialect.create_database(db);
    } catch (const std::invalid_argument& e) {
      log_->error("query database '{}' at {}: {}", db.name, db.url, e.what());
    } catch (const std::exception& e) {
      log_->warn("cannot create {} query database '{}' yet ({}); its projections retry", dialect.name(), db.name,
                 dialect.describe(e));
    }
  }
  if (runners_.empty()) {
    log_->error("no projections configured (--projections FILE, or add C++ projections)");
    notify_.stopping();
    return 1;
  }
  for (const auto& n : options_.stopped) {
    bool found = false;
    for (const auto& r : runners_) found = found || r->name() == n;
    if (!found) log_->warn("--projector.stopped {}: no such projection here", n);
  }
  for (auto& r : runners_) {
    if (std::find(options_.stopped.begin(), options_.stopped.end(), r->name()) != options_.stopped.end()) {
      log_->warn("projection {} left stopped on purpose (--projector.stopped): its lag grows", r->name());
      continue;
    }
    r->start();
  }
  log_->info("projector running {} projection(s) from {} / {}", runners_.size(), options_.client.reader_endpoint,
             options_.client.feed_endpoint);
  const int sig_fd = net::shutdown_fd();
  int code = 0;
  while (!net::shutdown_requested()) {
    report(std::chrono::steady_clock::now());
    zmq::pollitem_t items[] = {{nullptr, sig_fd, ZMQ_POLLIN, 0}, {nullptr, wakeup_.fd(), ZMQ_POLLIN, 0}};
    net::poll(items, 2, std::min(std::chrono::milliseconds(ready_ ? 500 : 100), notify_.max_wait()));
    if (items[1].revents & ZMQ_POLLIN) break;
    bool all_failed = true;
    for (const auto& r : runners_) all_failed = all_failed && r->finished() && r->failed();
    if (all_failed) {
      log_->error("every projection failed; exiting");
      code = 1;
      break;
    }
  }
  log_->info("stopping");
  notify_.stopping();
  for (auto& r : runners_) r->stop();
  log_->info("stopped");
  return code;
}

void ProjectorService::stop() { wakeup_.notify(); }

RunnerStatus ProjectorService::status_of(const ProjectionRunner& r) const {
  auto st = r.status();
  if (st.state == "starting" && std::find(options_.stopped.begin(), options_.stopped.end(), r.name()) != options_.stopped.end())
    st.state = "stopped";  // never started (--projector.stopped)
  return st;
}

void ProjectorService::report(std::chrono::steady_clock::time_point now) {
  notify_.looped();
  if (now >= next_head_) {
    next_head_ = now + std::chrono::seconds(1);
    try {
      head_ = client_.head();
    } catch (const std::exception& e) {
      log_->debug("head for the metrics: {}", e.what());
    }
  }
  for (const auto& r : runners_) probe_.update(r->name(), status_of(*r), head_, now);
  if (notify_.watchdog_due()) {
    const auto stall_limit = notify_.max_wait() * 2;
    bool alive = true;
    for (const auto& r : runners_) {
      if (r->finished() || status_of(*r).state == "stopped") continue;
      if (now - r->last_alive() > stall_limit) alive = false;
    }
    if (alive) notify_.ping();
  }
  if (ready_ && now - last_report_ < std::chrono::seconds(2)) return;
  last_report_ = now;
  std::map<std::string, int> states;
  std::optional<GlobalSeq> lowest;
  GlobalSeq head;
  for (const auto& r : runners_) {
    const auto st = status_of(*r);
    ++states[st.state];
    if (st.state == "running" || st.state == "rebuilding")
      lowest = lowest ? std::min(*lowest, st.position) : st.position;
    head = std::max(head, st.head);
  }
  std::string text = std::to_string(runners_.size()) + " projection(s):";
  bool first = true;
  for (const auto& [state, n] : states) {
    text += (first ? " " : ", ") + std::to_string(n) + " " + state;
    first = false;
  }
  if (lowest) text += "; lowest position " + std::to_string(lowest->value()) + ", head " + std::to_string(head.value());
  if (!ready_ && states.count("starting") == 0) {
    notify_.ready(text);
    ready_ = true;
  } else {
    notify_.status(text);
  }
}

std::vector<RunnerStatus> ProjectorService::statuses() const {
  std::vector<RunnerStatus> out;
  for (const auto& r : runners_) out.push_back(status_of(*r));
  return out;
}

}  // namespace even::projector
