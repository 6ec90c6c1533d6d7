// What the metrics tests share: scraping a service's /metrics, summing a metric's samples, and
// `promtool check metrics` on a page (promtool from the Debian package prometheus; without it
// the check fails, it does not skip).
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include "even/common/metrics.h"
#include "even/common/metrics_http.h"

namespace even::test {

// GET http://ENDPOINT/metrics; empty when the service does not answer 200.
std::string scrape(const std::string& endpoint);
// The sum of the samples named `name` whose labels include `match` (all of it), or -1 when there
// is none.
double metric_value(const std::string& page, const std::string& name, const metrics::Labels& match = {});
// Waits until the metric, as scraped, satisfies `pred`; returns the last value seen.
template <typename Pred>
double wait_metric(const std::string& endpoint, const std::string& name, Pred pred,
                   std::chrono::milliseconds timeout = std::chrono::seconds(20), const metrics::Labels& match = {});
// `promtool check metrics` on `page`: "" when it passes, else promtool's output (or why it could
// not run).
std::string promtool_check(const std::string& page);

template <typename Pred>
double wait_metric(const std::string& endpoint, const std::string& name, Pred pred, std::chrono::milliseconds timeout,
                   const metrics::Labels& match) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  double v = -1;
  for (;;) {
    v = metric_value(scrape(endpoint), name, match);
    if (pred(v) || std::chrono::steady_clock::now() > deadline) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace even::test
