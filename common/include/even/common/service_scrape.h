// Reading the services' metrics from outside: one scrape of a service's /metrics and
// /health/ready (metrics_http.h), with the sums, rates and histogram quantiles that evenctl stats
// prints and even-admin charts. The bodies are parsed with metrics::parse_text.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "even/common/metrics.h"

namespace even::metrics {

// What one service's endpoint said at one moment.
struct Scrape {
  std::string endpoint;
  bool up = false;      // /metrics answered 200 with a page that parses
  std::string error;    // why not, when !up
  std::vector<Sample> samples;
  nlohmann::json health;  // /health/ready's body (null when it did not parse)
  std::chrono::steady_clock::time_point at;

  // The sum of the samples named `name` whose labels include `match`.
  double sum(const std::string& name, const Labels& match = {}) const;
  // Whether any sample's name starts with `prefix` (e.g. "even_writer_": the process hosts a writer).
  bool has_prefix(const std::string& prefix) const;
  // The smallest bucket bound below which `q` of the observations fall (a histogram's quantile,
  // rounded up to a bound), from the buckets' growth between `before` and this scrape; 0 when
  // nothing was observed in between.
  double quantile(const Scrape& before, const std::string& name, double q) const;
  // (sum(name) now - in `before`) per second between the two scrapes; 0 when `before` was down.
  double rate(const Scrape& before, const std::string& name, const Labels& match = {}) const;
  // The state /health/ready gives `service` ("ready", "standby", ...); "down" when the endpoint
  // did not answer, "?" when it does not list the service.
  std::string state_of(const std::string& service) const;
  // The values label `label` takes in the samples named `name`, sorted (e.g. the projections of a
  // projector: label_values("even_projector_position", "projection")).
  std::set<std::string> label_values(const std::string& name, const std::string& label) const;
  // The state of projection `projection` (the label of its even_projector_state sample at 1), "?"
  // when none is.
  std::string projection_state(const std::string& projection) const;
};

// GET /metrics and /health/ready of `endpoint` (HOST:PORT), each within `timeout`.
Scrape scrape(const std::string& endpoint, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

}  // namespace even::metrics
