#include "admin/dashboard_collector.h"

#include <set>

namespace even::admin {

namespace {

using json = nlohmann::json;

double ms(double seconds) { return seconds * 1000.0; }

}  // namespace

DashboardCollector::DashboardCollector(std::vector<std::string> endpoints, std::chrono::milliseconds interval,
                                       std::size_t history_points)
    : endpoints_(std::move(endpoints)), interval_(interval), history_points_(history_points), thread_([this] { run(); }) {}

DashboardCollector::~DashboardCollector() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

json DashboardCollector::snapshot() const {
  std::lock_guard lock(mu_);
  json history = json::array();
  for (const auto& p : history_) history.push_back(p);
  return {{"services", services_}, {"history", std::move(history)}, {"interval_ms", interval_.count()}};
}

json DashboardCollector::describe(const metrics::Scrape& now, const metrics::Scrape& before) {
  json out = {{"endpoint", now.endpoint}, {"up", now.up}, {"services", json::array()}};
  if (!now.up) {
    out["error"] = now.error;
    return out;
  }
  auto& list = out["services"];
  auto status_of = [&](const std::string& name) -> std::string {
    if (now.health.is_object() && now.health.contains("services") && now.health["services"].is_array())
      for (const auto& p : now.health["services"])
        if (p.value("name", "") == name) return p.value("status", "");
    return "";
  };
  if (now.has_prefix("even_writer_")) {
    const std::string state = now.state_of("writer");
    list.push_back({{"kind", "writer"},
                    {"state", state},
                    {"role", state == "standby" ? "standby" : state == "ready" ? "master" : state},
                    {"status", status_of("writer")},
                    {"appends_per_s", now.rate(before, "even_writer_appends_total")},
                    {"events_per_s", now.rate(before, "even_writer_events_committed_total")},
                    {"commit_p99_ms", ms(now.quantile(before, "even_writer_commit_duration_seconds", 0.99))},
                    {"queue", now.sum("even_writer_queue_depth")},
                    {"events_committed", now.sum("even_writer_events_committed_total")}});
  }
  if (now.has_prefix("even_dispatcher_")) {
    const double lag = now.sum("even_dispatcher_lag_events");
    list.push_back({{"kind", "dispatcher"},
                    {"state", now.state_of("dispatcher")},
                    {"role", lag > 0 ? "catching up" : "live"},
                    {"status", status_of("dispatcher")},
                    {"events_per_s", now.rate(before, "even_dispatcher_published_events_total")},
                    {"position", now.sum("even_dispatcher_published_position")},
                    {"store_head", now.sum("even_dispatcher_store_head_position")},
                    {"lag", lag},
                    {"subscribers", now.sum("even_dispatcher_subscribers")}});
  }
  if (now.has_prefix("even_reader_")) {
    list.push_back({{"kind", "reader"},
                    {"state", now.state_of("reader")},
                    {"status", status_of("reader")},
                    {"requests_per_s", now.rate(before, "even_reader_requests_total")},
                    {"p99_ms", ms(now.quantile(before, "even_reader_request_duration_seconds", 0.99))},
                    {"workers_busy", now.sum("even_reader_workers_busy")},
                    {"workers", now.sum("even_reader_workers")}});
  }
  if (now.has_prefix("even_projector_")) {
    json projections = json::array();
    for (const auto& n : now.label_values("even_projector_position", "projection")) {
      const std::string state = now.projection_state(n);
      const metrics::Labels l = {{"projection", n}};
      projections.push_back({{"name", n},
                             {"state", state},
                             {"position", now.sum("even_projector_position", l)},
                             {"lag", now.sum("even_projector_lag_events", l)},
                             {"lag_seconds", now.sum("even_projector_lag_seconds", l)},
                             {"events_per_s", now.rate(before, "even_projector_events_applied_total", l)}});
    }
    list.push_back({{"kind", "projector"},
                    {"state", now.state_of("projector")},
                    {"status", status_of("projector")},
                    {"head", now.sum("even_projector_head_position")},
                    {"projections", std::move(projections)}});
  }
  return out;
}

json DashboardCollector::point(const std::vector<metrics::Scrape>& now, const std::vector<metrics::Scrape>& before) {
  json p = {{"t", std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count()},
            {"lags", json::object()}};
  for (std::size_t i = 0; i < now.size(); ++i) {
    const auto& n = now[i];
    const auto& b = before[i];
    if (!n.up) continue;
    if (n.has_prefix("even_writer_")) {
      p["append_rate"] = n.rate(b, "even_writer_events_committed_total");
      p["commit_p99_ms"] = ms(n.quantile(b, "even_writer_commit_duration_seconds", 0.99));
    }
    if (n.has_prefix("even_dispatcher_")) {
      p["dispatcher_position"] = n.sum("even_dispatcher_published_position");
      p["store_head"] = n.sum("even_dispatcher_store_head_position");
    }
    for (const auto& s : n.samples)
      if (s.name == "even_projector_lag_events") p["lags"][s.label("projection")] = s.value;
  }
  return p;
}

void DashboardCollector::run() {
  std::vector<metrics::Scrape> before;
  for (const auto& e : endpoints_) {
    metrics::Scrape s;
    s.endpoint = e;
    before.push_back(std::move(s));
  }
  for (;;) {
    std::vector<metrics::Scrape> now;
    for (const auto& e : endpoints_) now.push_back(metrics::scrape(e, std::chrono::milliseconds(1000)));
    json services = json::array();
    for (std::size_t i = 0; i < now.size(); ++i) services.push_back(describe(now[i], before[i]));
    auto p = point(now, before);
    std::unique_lock lock(mu_);
    services_ = std::move(services);
    history_.push_back(std::move(p));
    while (history_.size() > history_points_) history_.pop_front();
    before = std::move(now);
    if (wake_.wait_for(lock, interval_, [this] { return stop_; })) return;
  }
}

}  // namespace even::admin
