// even-admin's own options: the keys of [admin] in the config file (--admin.KEY flags). The
// reader's endpoint, the CURVE keys and the db-* / query-db-* keys are the shared ones at the top
// of the file, registered by main.cc as every program does.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "even/common/config.h"

namespace even::admin {

struct AdminOptions {
  // Where the UI (and the process's own /metrics, /health) is served: HOST:PORT.
  std::string http_endpoint = "127.0.0.1:5570";
  // HTTP basic authentication: the password is the file's first line (mode 0600, as every
  // password file of Even), any user name. Required when http_endpoint is not a loopback
  // address; optional on loopback.
  std::string password_file;
  // The rebuild button (and POST /api/projections/rebuild). Off: the UI only reads.
  bool allow_admin_actions = false;
  // The services to scrape for the dashboard (HOST:PORT of their /metrics); empty: every
  // metrics-endpoint of the --config file.
  std::vector<std::string> metrics_endpoints;
  std::chrono::milliseconds scrape_interval{1000};
  std::size_t history_points = 300;    // the dashboard's charts: this many scrapes back
  std::size_t tail_max_events = 200;   // the live tail page holds at most this many events
  std::size_t page_events = 25;        // a stream page: events per page
  std::size_t stream_list_max = 100;   // the streams page: names per search
  int http_threads = 4;                // requests served at once
};

// Adds the [admin] keys to `desc`, bound to `options` (which must outlive the parse).
void add_options(config::po::options_description& desc, AdminOptions& options);

// Checks `options`; fills metrics_endpoints from `config_file` when none were given. Throws
// po::error naming the option: a non-loopback http-endpoint without password-file, a password
// file readable by others, values out of range.
void finish_options(AdminOptions& options, const std::string& config_file);

// True for 127.0.0.0/8, ::1 and localhost (the host part of HOST:PORT).
bool is_loopback_host(const std::string& host_port);

}  // namespace even::admin
