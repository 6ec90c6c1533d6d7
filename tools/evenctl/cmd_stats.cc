// evenctl stats [--endpoint HOST:PORT]... [--config FILE] [--interval-ms N] [--watch] [--json]:
// one screen for a person, built from the services' /metrics and /health/ready (the endpoints of
// common/include/even/common/metrics_http.h): each service's state, rates and lags. The
// endpoints are the --endpoint flags, else every `metrics-endpoint` of the config file's sections
// ([writer], [dispatcher], [reader], [projector]), as ops/even writes them. --watch clears the
// screen and prints again every --interval-ms until SIGINT or SIGTERM, then exits 0.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include "evenctl/commands.h"
#include "even/common/service_scrape.h"
#include "even/common/net.h"

namespace even::ctl {

namespace {

namespace po = config::po;

using metrics::Scrape;
using metrics::scrape;

std::string num(double v) { return fmt::format("{:.0f}", v); }

// The lines of one endpoint: a line per service it hosts, then one per projection.
void describe(const Scrape& now, const Scrape& before, std::vector<std::vector<std::string>>& rows) {
  auto rate = [&](const std::string& name, const metrics::Labels& m = {}) { return now.rate(before, name, m); };
  if (!now.up) {
    rows.push_back({"?", now.endpoint, "down", "", now.error});
    return;
  }
  if (now.has_prefix("even_writer_")) {
    rows.push_back({"writer", now.endpoint, now.state_of("writer"),
                    fmt::format("{:.0f} appends/s, {:.0f} events/s", rate("even_writer_appends_total"),
                                rate("even_writer_events_committed_total")),
                    fmt::format("commit p99 <= {:.1f} ms; queue {}; {} events committed; {} conflicts",
                                now.quantile(before, "even_writer_commit_duration_seconds", 0.99) * 1000,
                                num(now.sum("even_writer_queue_depth")), num(now.sum("even_writer_events_committed_total")),
                                num(now.sum("even_writer_appends_total", {{"result", "conflict"}})))});
  }
  if (now.has_prefix("even_dispatcher_")) {
    rows.push_back({"dispatcher", now.endpoint, now.state_of("dispatcher"),
                    fmt::format("{:.0f} events/s", rate("even_dispatcher_published_events_total")),
                    fmt::format("position {}, head {}, lag {}; gaps {}, holes {}, from store {}; {} subscribers",
                                num(now.sum("even_dispatcher_published_position")),
                                num(now.sum("even_dispatcher_store_head_position")),
                                num(now.sum("even_dispatcher_lag_events")), num(now.sum("even_dispatcher_gaps_total")),
                                num(now.sum("even_dispatcher_holes_total")),
                                num(now.sum("even_dispatcher_events_from_store_total")),
                                num(now.sum("even_dispatcher_subscribers")))});
  }
  if (now.has_prefix("even_reader_")) {
    rows.push_back({"reader", now.endpoint, now.state_of("reader"),
                    fmt::format("{:.0f} requests/s", rate("even_reader_requests_total")),
                    fmt::format("workers busy {} of {}; p99 <= {:.1f} ms; {:.1f} MB/s",
                                num(now.sum("even_reader_workers_busy")), num(now.sum("even_reader_workers")),
                                now.quantile(before, "even_reader_request_duration_seconds", 0.99) * 1000,
                                rate("even_reader_reply_bytes_total") / 1e6)});
  }
  if (now.has_prefix("even_groups_")) {
    rows.push_back({"groups", now.endpoint, now.state_of("groups"),
                    fmt::format("{:.0f} deliveries/s, {:.0f} acks/s", rate("even_groups_delivered_total"),
                                rate("even_groups_acked_total")),
                    fmt::format("{} groups, {} consumers, {} in flight; {} redelivered, {} parked",
                                num(now.sum("even_groups_groups")), num(now.sum("even_groups_consumers")),
                                num(now.sum("even_groups_in_flight")), num(now.sum("even_groups_redelivered_total")),
                                num(now.sum("even_groups_parked_total")))});
  }
  if (now.has_prefix("even_projector_")) {
    rows.push_back({"projector", now.endpoint, now.state_of("projector"), "",
                    "head " + num(now.sum("even_projector_head_position"))});
    for (const auto& n : now.label_values("even_projector_position", "projection")) {
      const std::string state = now.projection_state(n);
      const metrics::Labels l = {{"projection", n}};
      rows.push_back({"  " + n, "", state, fmt::format("{:.0f} events/s", rate("even_projector_events_applied_total", l)),
                      fmt::format("position {}, lag {} events, {:.1f} s", num(now.sum("even_projector_position", l)),
                                  num(now.sum("even_projector_lag_events", l)), now.sum("even_projector_lag_seconds", l))});
    }
  }
}

void print(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(5, 0);
  const std::vector<std::string> head = {"SERVICE", "ENDPOINT", "STATE", "RATE", "DETAILS"};
  for (std::size_t i = 0; i < 5; ++i) width[i] = head[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < 5; ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (std::size_t i = 0; i < 5; ++i) out += r[i] + (i < 4 ? std::string(width[i] - r[i].size() + 2, ' ') : "");
    std::cout << out << "\n";
  };
  line(head);
  for (const auto& r : rows) line(r);
}

// Sleeps for `d`; with a shutdown fd (net::shutdown_fd), returns false as soon as a stop was
// asked instead.
bool wait_unless_stopped(int shutdown, std::chrono::milliseconds d) {
  if (shutdown < 0) {
    std::this_thread::sleep_for(d);
    return true;
  }
  const auto deadline = std::chrono::steady_clock::now() + d;
  while (!net::shutdown_requested()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    zmq::pollitem_t item = {nullptr, shutdown, ZMQ_POLLIN, 0};
    net::poll(&item, 1, left);
  }
  return false;
}

}  // namespace

int cmd_stats(int argc, char** argv) {
  std::vector<std::string> endpoints;
  std::string config_file;
  int interval_ms = 1000;
  bool watch = false, as_json = false;
  po::options_description desc("evenctl stats options");
  desc.add_options()
      ("endpoint", po::value(&endpoints)->composing(), "a service's metrics endpoint HOST:PORT; repeatable")
      ("config", po::value(&config_file), "read the endpoints from this file's [section] metrics-endpoint keys")
      ("interval-ms", po::value(&interval_ms)->default_value(interval_ms), "rates over this interval")
      ("watch", po::bool_switch(&watch), "refresh in place every interval until interrupted")
      ("json", po::bool_switch(&as_json), "one JSON object per endpoint: its samples' sums by name, and health")
      ("help,h", "show this help");
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << "Usage: evenctl stats [--endpoint HOST:PORT]... [--config FILE] [--watch]\n" << desc;
    return 0;
  }
  po::notify(vm);
  if (endpoints.empty() && !config_file.empty()) endpoints = config::metrics_endpoints_in_file(config_file);
  if (endpoints.empty()) throw po::error("no endpoints: give --endpoint HOST:PORT or --config FILE with metrics-endpoint keys");
  if (interval_ms < 1) throw po::error("--interval-ms must be positive");

  // --watch runs until SIGINT or SIGTERM, which end the wait for the next refresh: exit 0.
  const int shutdown = watch ? net::shutdown_fd() : -1;
  std::vector<Scrape> before;
  for (const auto& e : endpoints) before.push_back(scrape(e));
  for (;;) {
    if (!wait_unless_stopped(shutdown, std::chrono::milliseconds(interval_ms))) break;
    std::vector<Scrape> now;
    for (const auto& e : endpoints) now.push_back(scrape(e));
    if (as_json) {
      for (const auto& s : now) {
        nlohmann::json j = {{"endpoint", s.endpoint}, {"up", s.up}, {"health", s.health}};
        std::map<std::string, double> sums;
        for (const auto& x : s.samples) sums[x.name] += x.value;
        j["metrics"] = sums;
        std::cout << j.dump() << "\n";
      }
    } else {
      std::vector<std::vector<std::string>> rows;
      for (std::size_t i = 0; i < now.size(); ++i)
        describe(now[i], before[i], rows);
      if (watch) std::cout << "\033[H\033[2J";
      print(rows);
    }
    std::cout.flush();
    if (!watch) break;
    before = std::move(now);
  }
  return 0;
}

}  // namespace even::ctl
