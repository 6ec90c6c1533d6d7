// DashboardCollector: what the dashboard shows, scraped from the services' /metrics and
// /health/ready (common/include/even/common/service_scrape.h) every interval by one thread of its
// own, so that any number of open dashboards cost the services one scrape per interval.
//
// It keeps the last scrape of each endpoint and `history_points` points of the charts' series
// (append rate, p99 commit time, dispatcher position and store head, each projection's lag).
// snapshot() may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "even/common/service_scrape.h"

namespace even::admin {

class DashboardCollector {
 public:
  // Starts the thread; the first scrape happens at once.
  DashboardCollector(std::vector<std::string> endpoints, std::chrono::milliseconds interval, std::size_t history_points);
  ~DashboardCollector();  // stops and joins the thread
  DashboardCollector(const DashboardCollector&) = delete;
  DashboardCollector& operator=(const DashboardCollector&) = delete;

  // {"services": [...each endpoint and the services it hosts, with their state...],
  //  "history": [{"t": unix ms, "append_rate": ..., "commit_p99_ms": ..., "dispatcher_position": ...,
  //               "store_head": ..., "lags": {"projection": events}}, ...] (oldest first),
  //  "interval_ms": N}
  nlohmann::json snapshot() const;

  // The services of one scrape and the one before (for rates): what snapshot() lists.
  static nlohmann::json describe(const metrics::Scrape& now, const metrics::Scrape& before);
  // The charts' point of one round of scrapes.
  static nlohmann::json point(const std::vector<metrics::Scrape>& now, const std::vector<metrics::Scrape>& before);

 private:
  void run();

  const std::vector<std::string> endpoints_;
  const std::chrono::milliseconds interval_;
  const std::size_t history_points_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                       // guarded by mu_
  nlohmann::json services_ = nlohmann::json::array();  // guarded by mu_
  std::deque<nlohmann::json> history_;      // guarded by mu_
  std::thread thread_;                      // last: starts once the fields exist
};

}  // namespace even::admin
